//! The receivers at run time: each resolved once per cold start (a failed resolution is tried
//! again on the next invocation), posted to under the invocation's deadline.
//!
//! With a state table, each delivery is claimed first (at most once per receiver across
//! instances: [`crate::state::delivery`]) and the alarm's thread is looked up for destinations
//! that keep one — both in one round trip, before the post. A table that cannot be used never
//! stops a delivery: the message goes out as a new one and says why.

use super::delivered::{self, Delivered};
use super::http::{self, RetryPolicy};
use super::{Configured, Connect, Control, Destination, Extras, Failure, Incident, Message, Outbox};
use crate::remediate::follow_up::FollowUp;
use crate::remediate::offers::Offer;
use crate::report::Report;
use crate::route::Delivery;
use crate::secrets::SecretResolver;
use crate::state::delivery::Claim;
use crate::state::incident::IncidentState;
use crate::state::StateTable;
use crate::state::Ticket;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio::time::Instant;

/// What became of one message to one receiver.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeliveryResult {
    pub receiver: String,
    pub kind: &'static str,
    pub alarm: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Not posted again: already delivered (an earlier attempt, another instance, the other
    /// topic), or being delivered by another invocation right now.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub already_delivered: bool,
    /// Something to know beside the outcome (state unavailable, thread not kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl DeliveryResult {
    fn new(receiver: &str, kind: &'static str, alarm: &str, result: Result<(), String>) -> Self {
        let (ok, error) = match result {
            Ok(()) => (true, None),
            Err(e) => (false, Some(e)),
        };
        Self { receiver: receiver.to_string(), kind, alarm: alarm.to_string(), ok, error, already_delivered: false, note: None }
    }
}

struct Slot {
    configured: Configured,
    ready: OnceCell<Arc<dyn Destination>>,
}

pub struct Receivers {
    slots: Vec<Slot>,
    secrets: SecretResolver,
    http: reqwest::Client,
    retry: RetryPolicy,
    /// Receivers that already had a notification: a retried event does not post to them again
    /// (this instance; the state table, when there is one, covers every instance).
    delivered: Delivered,
    state: Option<StateTable>,
    /// See [`Connect::buttons`].
    buttons: bool,
}

/// The in-progress claim outlives the invocation's deadline by this much: a crashed invocation's
/// claim frees itself before Lambda's first retry (about a minute later).
const LEASE_MARGIN: Duration = Duration::from_secs(5);

impl Receivers {
    pub fn new(receivers: Vec<Configured>, secrets: SecretResolver, retry: RetryPolicy) -> Result<Self, http::ClientError> {
        let slots = receivers.into_iter().map(|configured| Slot { configured, ready: OnceCell::new() }).collect();
        Ok(Self { slots, secrets, http: http::client(&retry)?, retry, delivered: Delivered::default(), state: None, buttons: false })
    }

    /// Shares delivery records and threads with every instance through `state`.
    pub fn with_state(mut self, state: StateTable) -> Self {
        self.state = Some(state);
        self
    }

    pub fn state(&self) -> Option<&StateTable> {
        self.state.as_ref()
    }

    /// Clicks reach the Slack actions function: destinations offer their buttons.
    pub fn with_buttons(mut self, on: bool) -> Self {
        self.buttons = on;
        self
    }

    async fn destination(&self, name: &str) -> Result<Arc<dyn Destination>, Failure> {
        let slot = self.slot(name).ok_or_else(|| Failure::permanent(format!("receiver {name:?} is not configured")))?;
        slot.ready
            .get_or_try_init(|| async {
                let c = &slot.configured;
                let secret = match c.settings.secret() {
                    Some(r) => Some(self.secrets.resolve(r).await.map_err(|e| Failure::permanent(format!("secret: {e}")))?),
                    None => None,
                };
                Ok(c.settings.connect(&c.name, secret, &Connect { aws: self.secrets.aws().cloned(), buttons: self.buttons }))
            })
            .await
            .cloned()
    }

    fn outbox(&self, deadline: Instant) -> Outbox<'_> {
        Outbox { client: &self.http, retry: &self.retry, deadline, state: self.state.as_ref() }
    }

    /// One report to every routed receiver concurrently; one failing never blocks another. The
    /// flag: some delivery failed retryably.
    pub async fn deliver(
        &self,
        report: &Report,
        deliveries: &[Delivery<'_>],
        offers: &[Offer],
        deadline: Instant,
    ) -> (Vec<DeliveryResult>, bool) {
        let notice = Notice::of(report);
        let acted = self.acted(&notice).await;
        let now = chrono::Utc::now();
        // Snoozed: the thread is updated, nobody is paged or mentioned, until the snooze ends.
        let snooze = acted.snoozed_at(now).filter(|_| report.state() != Some(crate::model::AlarmState::Ok)).cloned();
        let receivers: Vec<String> = deliveries.iter().map(|d| d.receiver.name.clone()).collect();
        let jobs = deliveries.iter().map(|d| {
            let extras = Extras { links: d.links.clone(), mention: d.mention.clone(), receivers: receivers.clone() };
            let (acted, snooze) = (acted.clone(), snooze.clone());
            let notice = &notice;
            async move {
                let receiver = d.receiver.name.as_str();
                if let (Some(s), true) = (&snooze, self.pages(receiver)) {
                    let until = s.until.map(|u| format!("until {} UTC", u.format("%H:%M"))).unwrap_or_else(|| "until OK".into());
                    let note = format!("not paged: snoozed by {} {until}", s.by);
                    tracing::info!(alarm = %notice.name, receiver, "{note}");
                    let kind = self.kind_of(receiver);
                    return (DeliveryResult { note: Some(note), ..DeliveryResult::new(receiver, kind, &notice.name, Ok(())) }, false);
                }
                self.deliver_one(report, notice, d, offers, deadline, &extras, acted, snooze.is_some()).await
            }
        });
        let results = futures::future::join_all(jobs).await;
        // Resolved: its acknowledgement and snooze end; the next ALARM is a new incident.
        if let (Some(state), Some(id), Some(crate::model::AlarmState::Ok)) = (&self.state, &notice.identity, report.state()) {
            if acted != IncidentState::default() {
                if let Err(e) = state.resolve_incident(id).await {
                    tracing::warn!(error = %e, "the resolved alarm's acknowledgement and snooze were not cleared; they expire");
                }
            }
        }
        let retryable = results.iter().any(|(_, r)| *r);
        (results.into_iter().map(|(d, _)| d).collect(), retryable)
    }

    /// What people did about the alarm (state table); nothing without a table or when it fails.
    async fn acted(&self, notice: &Notice) -> IncidentState {
        let (Some(state), Some(id)) = (&self.state, &notice.identity) else { return IncidentState::default() };
        match state.incident(id).await {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, "acknowledgement and snooze unavailable; delivering as if none");
                IncidentState::default()
            }
        }
    }

    /// A click on an alarm's control, told to the receivers it concerns (the Slack app updates its
    /// parent, PagerDuty acknowledges). Unknown names are reported, not skipped.
    pub async fn control(&self, receivers: &[String], control: &Control, deadline: Instant) -> Vec<DeliveryResult> {
        let jobs = receivers.iter().map(|name| async move {
            let kind = self.kind_of(name);
            let result = async {
                let d = self.destination(name).await?;
                let mut incident = Incident { acted: control.state.clone(), ..Incident::default() };
                if let (Some(state), true) = (&self.state, d.threads()) {
                    incident.thread =
                        state.thread(name, &control.target.alarm).await.map_err(|e| Failure::retryable(e.to_string(), None))?;
                }
                d.send(self.outbox(deadline), Message::Control { control, incident: &incident }).await.map(|_| ())
            }
            .await
            .map_err(|f| f.message);
            if let Err(e) = &result {
                tracing::error!(receiver = %name, error = %e, "control not told");
            }
            DeliveryResult { kind: "control", ..DeliveryResult::new(name, kind, &control.target.name, result) }
        });
        futures::future::join_all(jobs).await
    }

    #[allow(clippy::too_many_arguments)] // one per independent input of one delivery
    async fn deliver_one(
        &self,
        report: &Report,
        notice: &Notice,
        d: &Delivery<'_>,
        offers: &[Offer],
        deadline: Instant,
        extras: &Extras,
        acted: IncidentState,
        snoozed: bool,
    ) -> (DeliveryResult, bool) {
        let name = &notice.name;
        let receiver = d.receiver.name.as_str();
        let kind = self.kind_of(receiver);
        let done =
            |note: Option<String>| DeliveryResult { already_delivered: true, note, ..DeliveryResult::new(receiver, kind, name, Ok(())) };
        if notice.key.as_deref().is_some_and(|k| self.delivered.contains(k, receiver)) {
            tracing::info!(alarm = %name, receiver, kind, "already delivered by an earlier attempt of this event; not posted again");
            return (done(None), false);
        }
        let destination = match self.destination(receiver).await {
            Ok(dest) => dest,
            Err(f) => return self.failed(name, receiver, kind, f),
        };
        // A grouped alarm's thread is its group's, looked up by the destination.
        let own_thread = destination.threads() && d.group.is_none();
        let (ticket, incident) = match self.prepare(notice, receiver, own_thread, deadline).await {
            Prepared::Send(ticket, incident) => (ticket, Incident { acted, snoozed, ..*incident }),
            Prepared::Skip(note) => {
                tracing::info!(alarm = %name, receiver, kind, why = note, "not posted: {note}");
                return (done(Some(note.to_string())), false);
            }
        };
        let message = Message::Alarm { report, severity: d.severity, offers, incident: &incident, group: d.group.as_ref(), extras };
        match destination.send(self.outbox(deadline), message).await {
            Ok(sent) => {
                tracing::info!(alarm = %name, receiver, kind, severity = d.severity.as_str(), "delivered");
                if let Some(k) = &notice.key {
                    self.delivered.insert(k, receiver);
                }
                // With the table unavailable before the post, keeping the thread would fail too.
                let thread = sent.thread.as_ref().filter(|_| incident.unavailable.is_none());
                let recorded = self.record(notice, receiver, ticket.as_ref(), thread).await;
                let note = [incident.note(), sent.note.clone(), recorded].into_iter().flatten().collect::<Vec<_>>().join(" ");
                let note = (!note.is_empty()).then_some(note);
                (DeliveryResult { note, ..DeliveryResult::new(receiver, kind, name, Ok(())) }, false)
            }
            Err(f) => {
                if let (Some(state), Some(t)) = (&self.state, &ticket) {
                    // Released so that the retry delivers; if this fails too, the lease expires.
                    if let Err(e) = state.release(t).await {
                        tracing::warn!(receiver, error = %e, "could not release the delivery claim; it frees itself at its lease's end");
                    }
                }
                self.failed(name, receiver, kind, f)
            }
        }
    }

    fn failed(&self, name: &str, receiver: &str, kind: &'static str, f: Failure) -> (DeliveryResult, bool) {
        tracing::error!(alarm = %name, receiver, kind, error = %f.message, "delivery failed");
        (DeliveryResult::new(receiver, kind, name, Err(f.message)), f.retryable)
    }

    /// The claim and (for threads) the alarm's thread, asked together: one round trip.
    async fn prepare(&self, notice: &Notice, receiver: &str, threads: bool, deadline: Instant) -> Prepared {
        let Some(state) = &self.state else { return Prepared::Send(None, Box::default()) };
        let lease = deadline.saturating_duration_since(Instant::now()) + LEASE_MARGIN;
        let claim = async {
            match &notice.key {
                Some(n) => state.claim(receiver, n, lease).await.map(Some),
                None => Ok(None),
            }
        };
        let thread = async {
            match (&notice.identity, threads) {
                (Some(id), true) => state.thread(receiver, id).await,
                _ => Ok(None),
            }
        };
        let (claim, thread) = futures::join!(claim, thread);
        let mut incident = Incident::default();
        let ticket = match claim {
            Ok(Some(Claim::Mine(t))) => Some(t),
            Ok(Some(Claim::Delivered)) => return Prepared::Skip("already delivered (state table)"),
            Ok(Some(Claim::InProgress)) => return Prepared::Skip("being delivered by another invocation right now"),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(receiver, error = %e, "state table unavailable; delivering without it");
                incident.unavailable = Some(e.to_string());
                None
            }
        };
        match thread {
            Ok(t) => incident.thread = t,
            Err(e) => {
                tracing::warn!(receiver, error = %e, "alarm thread unavailable; posting a new message");
                incident.unavailable.get_or_insert(e.to_string());
            }
        }
        Prepared::Send(ticket, Box::new(incident))
    }

    /// After a post: the claim becomes delivered and the thread is kept (concurrently). A failure
    /// here is a note: the message is out.
    async fn record(
        &self,
        notice: &Notice,
        receiver: &str,
        ticket: Option<&Ticket>,
        thread: Option<&crate::state::thread::Thread>,
    ) -> Option<String> {
        let state = self.state.as_ref()?;
        let complete = async {
            match ticket {
                Some(t) => state.complete(t).await.err().map(|e| format!("delivered, but not recorded as delivered ({e})")),
                None => None,
            }
        };
        let keep = async {
            match (thread, &notice.identity) {
                (Some(t), Some(id)) => match state.save_thread(receiver, id, t).await {
                    Ok(true) => None,
                    Ok(false) => Some("a newer state of this alarm was recorded meanwhile; its thread is kept".to_string()),
                    Err(e) => Some(format!("delivered, but its thread was not kept: the next state change posts anew ({e})")),
                },
                _ => None,
            }
        };
        let (a, b) = futures::join!(complete, keep);
        let note = [a, b].into_iter().flatten().collect::<Vec<_>>().join("; ");
        if !note.is_empty() {
            tracing::warn!(receiver, note, "state not recorded");
        }
        (!note.is_empty()).then_some(note)
    }

    /// Tells the named receivers about a remediation decision, in the alarm's thread where one is
    /// kept. Unknown names are reported, not skipped silently.
    pub async fn follow_up(&self, receivers: &[String], f: &FollowUp, deadline: Instant) -> Vec<DeliveryResult> {
        let jobs = receivers.iter().map(|name| async move {
            let kind = self.kind_of(name);
            let result = async {
                let d = self.destination(name).await?;
                let mut incident = Incident::default();
                if let (Some(state), true) = (&self.state, d.threads()) {
                    match state.thread(name, &f.alarm_identity).await {
                        Ok(t) => incident.thread = t,
                        Err(e) => incident.unavailable = Some(e.to_string()),
                    }
                }
                let message = Message::FollowUp { follow_up: f, incident: &incident };
                d.send(self.outbox(deadline), message).await.map(|_| ())
            }
            .await
            .map_err(|f| f.message);
            if let Err(e) = &result {
                tracing::error!(receiver = %name, error = %e, "follow-up not delivered");
            }
            DeliveryResult { kind: "follow-up", ..DeliveryResult::new(name, kind, &f.alarm_name, result) }
        });
        futures::future::join_all(jobs).await
    }

    /// Whether the receiver named `name` pages people (a muted alarm never goes there).
    pub fn pages(&self, name: &str) -> bool {
        self.slot(name).is_some_and(|s| super::pages(s.configured.kind))
    }

    fn slot(&self, name: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.configured.name == name)
    }

    fn kind_of(&self, name: &str) -> &'static str {
        self.slot(name).map(|s| s.configured.kind).unwrap_or("unknown")
    }
}

enum Prepared {
    /// Send, holding this claim (none without a table or a stable key), knowing this.
    Send(Option<Ticket>, Box<Incident>),
    /// Not sent, and why.
    Skip(&'static str),
}

/// What every receiver of one report is told about it, worked out once.
struct Notice {
    /// For logs and results.
    name: String,
    /// The notification ([`delivered::key`]): this instance's memo and the state table's claims.
    key: Option<String>,
    /// The alarm identity: its thread's key.
    identity: Option<String>,
}

impl Notice {
    fn of(report: &Report) -> Self {
        let identity = match report {
            Report::Alarm(a) => Some(a.alarm.identity()),
            Report::Plain(_) => None,
        };
        Self { name: report.title(), key: delivered::key(report), identity }
    }
}
