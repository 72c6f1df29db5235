//! Deliver: a report (or a remediation follow-up) to the receivers the routing tree chose.
//!
//! Each destination is one folder — its settings, its rendering (`render.rs`), its delivery and
//! its tests — registered by one line in [`DESTINATIONS`], like Alertmanager's
//! `notify/<receiver>/` packages and Vector's `src/sinks/<name>/`. A destination says whether a
//! failed attempt is worth retrying ([`Destination::classify`]); one shared policy ([`http`])
//! does the retrying. [`Receivers`] resolves each receiver's secret once per cold start and posts;
//! [`delivered`] remembers what this instance already delivered, and with a state table
//! ([`crate::state`]) every instance agrees on what was delivered and where each alarm's thread is.

pub mod delivered;
pub mod http;
pub mod pagerduty;
pub mod q_developer;
mod receivers;
pub mod schema;
pub mod slack;
pub mod slack_app;
pub mod teams;

pub use receivers::{DeliveryResult, Receivers};

use http::RetryPolicy;

use crate::model::text::{one_line, truncate};
use crate::model::Severity;
use crate::remediate::follow_up::FollowUp;
use crate::remediate::offers::Offer;
use crate::report::Report;
use crate::route::{invalid, ConfigError, Faults, Group, ReceiverSpec, Routes};
use crate::secrets::{Secret, SecretRef};
use crate::state::thread::Thread;
use crate::state::StateTable;
use futures::future::BoxFuture;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Every destination kind, by its key in the routing document. Adding a destination: its folder
/// and one line here.
pub const DESTINATIONS: &[Registration] =
    &[slack::REGISTRATION, slack_app::REGISTRATION, pagerduty::REGISTRATION, teams::REGISTRATION, q_developer::REGISTRATION];

/// Reads and checks a destination's settings; `path` (`receivers[0].slack`) is for errors.
pub type Configure = fn(settings: &serde_yaml_ng::Value, path: &str) -> Result<Box<dyn Settings>, ConfigError>;

/// How the routing document's `<kind>: {…}` becomes a destination's settings.
pub struct Registration {
    /// The receiver's key in the routing document (`slack`).
    pub kind: &'static str,
    /// Reads and checks the settings under that key.
    pub configure: Configure,
    /// The JSON Schema of the settings under that key ([`schema_of`] of the settings type).
    pub schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
    /// It pages people (PagerDuty): a muted alarm never goes there.
    pub pages: bool,
}

/// A destination's settings schema, from the type its `configure` parses.
pub fn schema_of<T: schemars::JsonSchema>(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    g.subschema_for::<T>()
}

/// A destination's checked settings, with its credential still a reference.
pub trait Settings: Send + Sync + std::fmt::Debug {
    /// The credential to resolve before the first post (webhook URL, routing key); `None` for a
    /// destination that needs none (an SNS topic, reached with the function's own role).
    fn secret(&self) -> Option<&SecretRef>;
    /// The ready destination, once the credential (if any) is resolved.
    fn connect(&self, name: &str, secret: Option<Secret>, with: &Connect) -> Arc<dyn Destination>;
}

/// What a destination may need beyond its settings to connect: the AWS configuration (an AWS
/// service as the destination, such as SNS for Amazon Q Developer).
#[derive(Debug, Clone, Default)]
pub struct Connect {
    pub aws: Option<crate::aws::AwsConfig>,
    /// A click has somewhere to go (the Slack actions function is deployed and is the Slack
    /// app's interactivity URL): Acknowledge / Snooze are offered. Without it, no dead buttons.
    pub buttons: bool,
}

/// What a destination is asked to render.
#[derive(Debug, Clone, Copy)]
pub enum Message<'a> {
    /// An alarm (or plain SNS message), at the severity its route gave it, with the remediation
    /// buttons a person may press (empty: none), its group when its route groups, and what the
    /// route adds ([`Extras`]).
    Alarm {
        report: &'a Report,
        severity: Severity,
        offers: &'a [Offer],
        incident: &'a Incident,
        group: Option<&'a Group>,
        extras: &'a Extras,
    },
    /// A remediation decision, told to the alarm's receivers (in the alarm's thread when kept).
    FollowUp { follow_up: &'a FollowUp, incident: &'a Incident },
    /// Someone acknowledged, snoozed or unsnoozed the alarm from its message: the Slack app
    /// updates the parent, PagerDuty acknowledges; the others have nothing to do.
    Control { control: &'a Control, incident: &'a Incident },
}

/// What a route adds to its messages, and what the Slack app's controls need to know.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extras {
    /// The route's links (`links:`), after the alarm's own.
    pub links: Vec<crate::report::links::Link>,
    /// Who to mention on ALARM (`<@U…>`, `<!subteam^…>`).
    pub mention: Vec<String>,
    /// Every receiver this alarm goes to (the controls acknowledge its PagerDuty ones).
    pub receivers: Vec<String>,
}

/// A click on an alarm's control, recorded, told to the alarm's receivers.
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    pub target: crate::model::controls::ControlTarget,
    pub action: ControlAction,
    /// The parent message as Slack showed it to the person who clicked (its blocks): the Slack app
    /// updates it in place.
    pub message: Option<Value>,
    /// The incident after the click (acknowledgement, snooze).
    pub state: crate::state::incident::IncidentState,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ControlAction {
    Acknowledge,
    Snooze,
    Unsnooze,
}

/// What the state table knows of the alarm at this receiver, looked up before sending.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Incident {
    /// The alarm's thread here (destinations that [`Destination::threads`]).
    pub thread: Option<Thread>,
    /// What people did about it (acknowledged, snoozed), for every receiver.
    pub acted: crate::state::incident::IncidentState,
    /// Snoozed now: the message updates the thread and pages or mentions nobody.
    pub snoozed: bool,
    /// Why incident state could not be used (table missing, throttled, unreachable): the
    /// message still goes out, as a new message, saying so.
    pub unavailable: Option<String>,
}

impl Incident {
    /// The line a message carries when state was unavailable.
    pub fn note(&self) -> Option<String> {
        self.unavailable.as_ref().map(|why| {
            format!("⚠️ Incident state unavailable ({why}): sent as a new message; a repeat of this notification may be sent again.")
        })
    }
}

/// Where to POST and what. The URL may itself be a secret (a Slack webhook): never log it.
pub struct Post {
    pub url: String,
    pub body: Value,
    /// Sent as `Authorization: Bearer …` (a Slack bot token), and nowhere else.
    pub bearer: Option<Secret>,
    pub encoding: Encoding,
}

/// How a [`Post`]'s body goes on the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Encoding {
    /// `body` as JSON: every message.
    Json,
    /// `body`'s fields (an object of strings) form-encoded: the Slack file methods accept only this.
    Form,
    /// These bytes, `body` unused: a file to Slack's upload URL.
    Bytes(Vec<u8>),
}

impl Post {
    pub fn json(url: impl Into<String>, body: Value) -> Self {
        Self { url: url.into(), body, bearer: None, encoding: Encoding::Json }
    }
}

/// What sending produced that the state table keeps: the alarm's thread after this message; and
/// what did not work beside the message (a chart that could not be uploaded).
#[derive(Debug, Default)]
pub struct Sent {
    pub thread: Option<Thread>,
    pub note: Option<String>,
}

/// What a destination sends with: the shared HTTP client, the one retry policy, the
/// invocation's deadline, and the state table when there is one (a group's conversation is kept
/// there step by step).
#[derive(Clone, Copy)]
pub struct Outbox<'a> {
    pub client: &'a reqwest::Client,
    pub retry: &'a RetryPolicy,
    pub deadline: Instant,
    pub state: Option<&'a StateTable>,
}

impl Outbox<'_> {
    /// One post under the retry policy; the answer's body when `d` calls it delivered.
    pub async fn post<D: Destination + ?Sized>(&self, d: &D, post: &Post) -> Result<String, Failure> {
        http::deliver(self.client, d, post, self.retry, self.deadline).await
    }
}

pub trait Destination: Send + Sync {
    fn name(&self) -> &str;
    /// The registration's `kind`, for logs and summaries.
    fn kind(&self) -> &'static str;
    /// Whether it keeps a thread per alarm in the state table (the Slack app).
    fn threads(&self) -> bool {
        false
    }
    fn render(&self, message: &Message<'_>) -> Post;
    /// Reads the HTTP answer: `Ok` when delivered; otherwise whether a retry could help.
    fn classify(&self, status: u16, retry_after: Option<Duration>, body: &str) -> Result<(), Failure>;
    /// Sends a message: one post of what [`Destination::render`] made, unless the destination
    /// holds a conversation (the Slack app: a parent, its updates and replies).
    ///
    /// A control (acknowledge, snooze) is nothing to most destinations: only the Slack app and
    /// PagerDuty act on it, overriding this.
    fn send<'a>(&'a self, out: Outbox<'a>, message: Message<'a>) -> BoxFuture<'a, Result<Sent, Failure>> {
        Box::pin(async move {
            if let Message::Control { .. } = message {
                return Ok(Sent::default());
            }
            out.post(self, &self.render(&message)).await.map(|_| Sent::default())
        })
    }
}

/// A failed attempt, and whether trying again could help.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub retryable: bool,
    /// From the `Retry-After` header of a 429/503.
    pub retry_after: Option<Duration>,
    /// One line, never containing a secret (webhook URL, routing key, token).
    pub message: String,
    /// The service's own error code when it sent one (Slack's `message_not_found`).
    pub code: Option<String>,
}

impl Failure {
    pub fn permanent(message: impl Into<String>) -> Self {
        Self { retryable: false, retry_after: None, message: message.into(), code: None }
    }
    pub fn retryable(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self { retryable: true, retry_after, message: message.into(), code: None }
    }
    pub fn with_code(self, code: impl Into<String>) -> Self {
        Self { code: Some(code.into()), ..self }
    }
}

/// What retrying generally does with a status code: 429 and 5xx retry, other 4xx do not.
pub fn classify_status(destination: &str, status: u16, retry_after: Option<Duration>, body: &str) -> Failure {
    let body = truncate(&one_line(body), 200);
    let msg = format!("{destination} answered HTTP {status}: {body}");
    if status == 429 || status >= 500 {
        // `Retry-After` is a pace to keep only on 429 and 503 (RFC 9110); other 5xx back off.
        Failure::retryable(msg, retry_after.filter(|_| matches!(status, 429 | 503)))
    } else {
        Failure::permanent(msg)
    }
}

/// One receiver of the routing document, its destination's settings checked.
#[derive(Debug)]
pub struct Configured {
    pub name: String,
    pub kind: &'static str,
    pub settings: Box<dyn Settings>,
}

/// The routing document, whole: the tree ([`Routes`]) and every receiver's destination settings,
/// validated together at cold start.
#[derive(Debug)]
pub struct Routing {
    pub routes: Routes,
    pub receivers: Vec<Configured>,
}

impl Routing {
    /// Parses and validates the whole document; every fault found is in the error.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let doc = crate::route::parse_doc(text)?;
        let mut faults = Faults::default();
        let routes = Routes::checked(doc, &mut faults);
        let receivers: Vec<Configured> = routes.receivers().iter().filter_map(|r| faults.check(configure(r))).collect();
        match ConfigError::of(faults.0) {
            Some(e) => Err(e),
            None => Ok(Self { routes, receivers }),
        }
    }

    /// Whether the receiver named `name` pages people.
    pub fn pages(&self, name: &str) -> bool {
        self.kind_of(name).is_some_and(pages)
    }

    /// The destination kind of the receiver named `name`.
    pub fn kind_of(&self, name: &str) -> Option<&'static str> {
        self.receivers.iter().find(|r| r.name == name).map(|r| r.kind)
    }
}

/// Whether a destination kind pages people.
pub fn pages(kind: &str) -> bool {
    DESTINATIONS.iter().any(|d| d.kind == kind && d.pages)
}

/// A receiver names exactly one registered destination.
fn configure(spec: &ReceiverSpec) -> Result<Configured, ConfigError> {
    let kinds = || DESTINATIONS.iter().map(|d| format!("`{}`", d.kind)).collect::<Vec<_>>().join(" or ");
    let mut keys = spec.destination.iter();
    let (key, value) = match (keys.next(), keys.next()) {
        (Some(one), None) => one,
        (None, _) => return Err(invalid(&spec.path, format!("receiver {:?} needs {}", spec.name, kinds()))),
        (Some((a, _)), Some((b, _))) => {
            let name = |k: &serde_yaml_ng::Value| k.as_str().unwrap_or("?").to_string();
            return Err(invalid(
                &spec.path,
                format!("receiver {:?} has both `{}` and `{}`; use two receivers", spec.name, name(a), name(b)),
            ));
        }
    };
    let kind = key.as_str().unwrap_or_default();
    let Some(reg) = DESTINATIONS.iter().find(|d| d.kind == kind) else {
        return Err(invalid(&spec.path, format!("receiver {:?}: unknown field `{kind}`, it needs {}", spec.name, kinds())));
    };
    let settings = (reg.configure)(value, &format!("{}.{kind}", spec.path))?;
    Ok(Configured { name: spec.name.clone(), kind: reg.kind, settings })
}

/// A destination's settings under its key, with the destination's serde checks (unknown fields,
/// secret references) said at `path`.
pub fn settings_at<T: serde::de::DeserializeOwned>(value: &serde_yaml_ng::Value, path: &str) -> Result<T, ConfigError> {
    serde_yaml_ng::from_value(value.clone()).map_err(|e| invalid(path, one_line(&e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(doc: &str) -> String {
        Routing::parse(doc).unwrap_err().to_string()
    }

    /// Moved from the routing tree's tests: receivers are checked by their destinations.
    #[test]
    fn receiver_settings_errors_name_the_place() {
        assert!(err("receivers: [{name: a}]\nroute: {receivers: [a]}").contains("needs `slack` or `slack_app` or `pagerduty`"));
        let e = err("receivers: [{name: a, slack: {webhook_url: \"vault:x\"}}]\nroute: {receivers: [a]}");
        assert!(e.contains("vault"), "{e}");
        let e = err("receivers: [{name: a, slack: {webhook_url: \"env:A\"}, pagerduty: {routing_key: k}}]\nroute: {receivers: [a]}");
        assert_eq!(e, "routing document: receivers[0]: receiver \"a\" has both `slack` and `pagerduty`; use two receivers");
        let e = err("receivers: [{name: a, pagerduty: {routing_key: k, events_url: \"ftp://x\"}}]\nroute: {receivers: [a]}");
        assert_eq!(e, "routing document: receivers[0].pagerduty.events_url: must be an http(s) URL");
        let e = err("receivers: [{name: a, slak: {webhook_url: x}}]\nroute: {receivers: [a]}");
        assert!(e.contains("unknown field `slak`") && e.contains("needs `slack` or `slack_app` or `pagerduty`"), "{e}");
        let e = err("receivers: [{name: a, slack: {webhook_url: x, channel: y}}]\nroute: {receivers: [a]}");
        assert!(e.starts_with("routing document: receivers[0].slack: unknown field `channel`"), "{e}");
    }

    #[test]
    fn every_receiver_gets_its_destination() {
        let r = Routing::parse("receivers: [{name: a, slack: {webhook_url: \"env:A\"}}, {name: b, pagerduty: {routing_key: \"ssm:/k\"}}]\nroute: {receivers: [a, b]}").unwrap();
        let got: Vec<(&str, &str, String)> =
            r.receivers.iter().map(|c| (c.name.as_str(), c.kind, c.settings.secret().map(|s| s.describe()).unwrap_or_default())).collect();
        assert_eq!(got, [("a", "slack", "env:A".to_string()), ("b", "pagerduty", "ssm:/k".to_string())]);
    }
}
