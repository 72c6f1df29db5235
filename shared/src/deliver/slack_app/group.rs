//! A grouped alarm at the Slack app (a route's `group`): one parent per group, each alarm's
//! detail as a reply in its thread, the parent updated to a summary of the group at most once per
//! [`crate::state::group::UPDATE_EVERY`]. Every step is a conditional write of [`crate::state::group`], so alarms of
//! one group arriving together on different Lambda instances make one parent and all show in it.

use super::{posted, render, SlackApp};
use crate::deliver::{Extras, Failure, Incident, Outbox, Sent};
use crate::model::Severity;
use crate::remediate::offers::Offer;
use crate::report::{AlarmReport, Report};
use crate::route::Group;
use crate::state::group::{member_id, GroupThread, Joined, Member};
use crate::state::thread::Thread;
use crate::state::{StateError, StateTable};
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

/// How often a waiting invocation looks again for the parent another one is posting.
const POLL: Duration = Duration::from_millis(250);

/// A posting lease outlives the poster's deadline by this much, as a delivery claim does.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// How long replies at most wait for one pending parent: an opener that crashed must not hold
/// the channel's replies until its whole lease passes.
const PARENT_FIRST: Duration = Duration::from_secs(60);

/// Where this alarm landed in its group.
enum Place {
    /// It opened the group: its post is the parent.
    Opened(GroupThread),
    /// It joined at this version.
    Joined(i64, GroupThread),
    /// A newer state of it is already in the group: told in the thread, the summary unchanged.
    Late(GroupThread),
}

/// What the conversation needs, named once.
pub(super) struct Ctx<'a> {
    app: &'a SlackApp,
    out: Outbox<'a>,
    state: &'a StateTable,
    key: String,
    group: &'a Group,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(app: &'a SlackApp, out: Outbox<'a>, state: &'a StateTable, group: &'a Group) -> Self {
        Self { app, out, state, key: group.key(), group }
    }

    /// Delivers `a` (the alarm of `report`) into its group. `Err(Ok(e))`: the state table failed
    /// before anything was posted (the caller posts the alarm on its own, saying why);
    /// `Err(Err(f))`: Slack failed.
    pub(super) async fn alarm(
        &self,
        report: &Report,
        a: &AlarmReport,
        severity: Severity,
        offers: &[Offer],
        incident: &Incident,
        extras: &Extras,
    ) -> Result<Sent, Result<StateError, Failure>> {
        let at = a.alarm.state_change_time.unwrap_or_else(chrono::Utc::now);
        let id = member_id(&a.alarm.identity());
        let me = Member::new(&a.alarm.name, a.alarm.state, at, severity);
        let place = self.place(&id, &me).await.map_err(Ok)?;
        let (g, version) = match place {
            Place::Opened(g) => (self.post_parent(g).await.map_err(Err)?, None),
            Place::Joined(v, g) => (self.parent(g).await.map_err(Err)?, Some(v)),
            Place::Late(g) => (self.parent(g).await.map_err(Err)?, None),
        };
        let ts = g.ts.clone().unwrap_or_default();
        // The summary first (updates are not paced per channel): in a storm the channel shows
        // every alarm within seconds, while the detail replies take their turn at one a second.
        if let Some(v) = version {
            self.show(v, g.clone()).await;
        }
        self.parents_first().await;
        // The alarm's own message, its controls and the route's links with it (the summary has
        // none: each click acts on one alarm).
        let detail = self.app.message(report, offers, incident, extras, false);
        self.out.post(self.app, &self.app.post_message(detail, Some(&ts))).await.map_err(Err)?;
        let note = super::upload::chart(self.app, self.out, a, &g.channel, &ts).await;
        // The alarm's own thread is its group's: a remediation decision replies there.
        Ok(Sent { thread: Some(Thread::start(g.channel, ts, a.alarm.state, at)), note })
    }
}

impl Ctx<'_> {
    fn receiver(&self) -> &str {
        &self.app.name
    }

    fn lease(&self) -> Duration {
        self.out.deadline.saturating_duration_since(Instant::now()) + LEASE_MARGIN
    }

    /// When waiting must stop: the retry policy's margin before the invocation's deadline.
    fn give_up_at(&self) -> Instant {
        self.out.deadline.checked_sub(self.out.retry.deadline_margin).unwrap_or(self.out.deadline)
    }

    /// Joins the open group, or opens one. A few rounds at most: each lost race means another
    /// invocation made progress (opened or replaced the group).
    async fn place(&self, id: &str, me: &Member) -> Result<Place, StateError> {
        let (receiver, key) = (self.receiver(), self.key.as_str());
        for _ in 0..5 {
            match self.state.group(receiver, key).await? {
                Some(g) if g.takes_new_alarms(self.group.window) => {
                    match self.state.join_group(receiver, key, &g.incarnation, id, me).await? {
                        Joined::In(v, g) => return Ok(Place::Joined(v, g)),
                        Joined::Older(g) => return Ok(Place::Late(g)),
                        Joined::Gone => continue,
                    }
                }
                old => {
                    let fresh = GroupThread::open(&self.app.channel, &self.group.title(), id, me.clone(), self.lease());
                    if self.state.open_group(receiver, key, &fresh, old.as_ref()).await? {
                        return Ok(Place::Opened(fresh));
                    }
                }
            }
        }
        Err(StateError { table: self.state.name().to_string(), message: format!("group {key} kept changing; gave up joining it") })
    }

    /// Posts `g`'s parent (its summary as it is) and keeps its `ts`; on failure the posting lease
    /// is given back so that another alarm of the group posts it at once.
    async fn post_parent(&self, mut g: GroupThread) -> Result<GroupThread, Failure> {
        let (receiver, key) = (self.receiver(), self.key.as_str());
        let msg = render::summary(&g, self.group);
        // Parents go first in the channel: replies wait while this mark is there.
        let marked = self.state.parent_pending(receiver, &g.incarnation, self.lease().min(PARENT_FIRST)).await;
        if let Err(e) = &marked {
            tracing::warn!(receiver, group = key, error = %e, "parent not marked pending; replies may go first");
        }
        let answer = self.out.post(self.app, &self.app.post_message(msg, None)).await;
        if marked.is_ok() {
            if let Err(e) = self.state.parent_done(receiver, &g.incarnation).await {
                tracing::warn!(receiver, group = key, error = %e, "pending mark not removed; it passes at its end");
            }
        }
        let answer = match answer {
            Ok(a) => a,
            Err(f) => {
                if let Err(e) = self.state.posting_lease(receiver, key, &g.incarnation, Duration::ZERO, true).await {
                    tracing::warn!(receiver, group = key, error = %e, "could not give back the posting lease; it passes at its end");
                }
                return Err(f);
            }
        };
        let Some((channel, ts)) = posted(&answer) else {
            return Err(Failure::permanent("Slack chat.postMessage answered ok without a channel and ts"));
        };
        if let Err(e) = self.state.parent_posted(receiver, key, &g.incarnation, &ts).await {
            // The alarms waiting for it post their own after the lease: two parents, none lost.
            tracing::warn!(receiver, group = key, error = %e, "the group's parent was posted but not kept");
        }
        g.channel = channel;
        g.ts = Some(ts);
        Ok(g)
    }

    /// Waits while other groups' parents are being posted at this receiver (bounded by the
    /// deadline): the channel shows every group before the details fill it.
    async fn parents_first(&self) {
        loop {
            match self.state.parents_pending(self.receiver()).await {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) => return tracing::warn!(receiver = self.receiver(), error = %e, "pending parents unknown; replying now"),
            }
            // Twice a second or so: a storm's waiting replies read one small item, well within
            // DynamoDB's per-key read capacity.
            let wait = Duration::from_millis(500 + fastrand::u64(0..500));
            // Keep time for the reply itself: the retry policy's request timeout and margin.
            if Instant::now() + wait + self.out.retry.request_timeout > self.give_up_at() {
                return;
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// The group's parent, once posted: the opener's, or ours when the opener's lease passed
    /// without one (it crashed or gave up).
    async fn parent(&self, mut g: GroupThread) -> Result<GroupThread, Failure> {
        let (receiver, key) = (self.receiver(), self.key.as_str());
        loop {
            if g.ts.is_some() {
                return Ok(g);
            }
            if g.posting_lapsed() {
                match self.state.posting_lease(receiver, key, &g.incarnation, self.lease(), false).await {
                    Ok(true) => return self.post_parent(self.state.group(receiver, key).await.ok().flatten().unwrap_or(g)).await,
                    Ok(false) => {}
                    Err(e) => return Err(Failure::retryable(format!("group {key}: its parent is not posted yet and {e}"), None)),
                }
            }
            if Instant::now() + POLL > self.give_up_at() {
                return Err(Failure::retryable(format!("group {key}: its parent was not posted before the deadline"), None));
            }
            tokio::time::sleep(POLL).await;
            g = match self.state.group(receiver, key).await {
                Ok(Some(next)) if next.incarnation == g.incarnation => next,
                Ok(_) => return Err(Failure::retryable(format!("group {key} was replaced while waiting for its parent"), None)),
                Err(e) => return Err(Failure::retryable(format!("group {key}: {e}"), None)),
            };
        }
    }

    /// Sees the parent updated to a version that includes `version` (ours): by us when the next
    /// slot is ours, else by whoever takes it. Best effort: the detail reply is already out.
    async fn show(&self, version: i64, mut g: GroupThread) {
        let (receiver, key) = (self.receiver(), self.key.as_str());
        let incarnation = g.incarnation.clone();
        loop {
            if g.incarnation != incarnation || g.shown >= version {
                return;
            }
            let wait = g.until_next_update();
            if wait.is_zero() {
                match self.state.claim_update(receiver, key, &incarnation, version).await {
                    Ok(Some(now)) => return self.update(&now).await,
                    Ok(None) => {}
                    Err(e) => return tracing::warn!(receiver, group = key, error = %e, "group summary not updated"),
                }
            }
            // Spread the waiters a little: one takes the slot, the others see it shown.
            let jitter = Duration::from_millis(fastrand::u64(20..200));
            if Instant::now() + wait + jitter > self.give_up_at() {
                return tracing::warn!(receiver, group = key, version, "deadline: the group summary may not show this alarm yet");
            }
            tokio::time::sleep(wait + jitter).await;
            g = match self.state.group(receiver, key).await {
                Ok(Some(next)) => next,
                Ok(None) => return,
                Err(e) => return tracing::warn!(receiver, group = key, error = %e, "group summary not updated"),
            };
        }
    }

    /// `chat.update` of the parent to the summary of `g`.
    async fn update(&self, g: &GroupThread) {
        let Some(ts) = &g.ts else { return };
        let mut body = json!({ "channel": g.channel, "ts": ts });
        super::merge(&mut body, render::summary(g, self.group));
        if let Err(f) = self.out.post(self.app, &self.app.call("chat.update", body)).await {
            tracing::warn!(receiver = %self.app.name, group = %self.key, error = %f.message, "group summary not updated");
        }
    }
}
