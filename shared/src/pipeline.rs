//! The whole flow for one Lambda invocation: intake → target → enrich → report → route → render →
//! deliver. Built once per cold start ([`App::new`]); [`App::handle_until`] per event, under the
//! invocation's deadline.

use crate::enrich::{Enricher, Enrichment};
use crate::intake::{self, IntakeError};
use crate::model::Notification;
use crate::notify::delivered::{self, Delivered};
use crate::notify::http::{self, RetryPolicy};
use crate::notify::pagerduty::PagerDutyNotifier;
use crate::notify::slack::SlackNotifier;
use crate::notify::{Failure, Notifier};
use crate::remediate::dispatch::Dispatch;
use crate::remediate::follow_up::FollowUp;
use crate::remediate::{AlarmRef, Request};
use crate::report::{self, Report};
use crate::settings::RemediationSettings;
use crate::route::{Facts, ReceiverKind, ReceiverSpec, Routes};
use crate::secrets::SecretResolver;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio::time::Instant;

/// The deadline [`App::handle`] gives an event when there is no Lambda deadline (the CLI): as long
/// as the function's timeout in template.yaml, time for a storm to one Slack channel to drain.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(300);

/// A Lambda context deadline (milliseconds since the Unix epoch) as a tokio instant.
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Instant {
    let deadline = std::time::UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let left = deadline.duration_since(std::time::SystemTime::now()).unwrap_or_default();
    Instant::now() + left
}

/// How (and whether) alarms are enriched.
#[derive(Clone)]
pub enum EnrichMode {
    /// Enrichment is not run; the message says why.
    Off(String),
    /// SageMaker, CloudWatch and Logs lookups under the enricher's deadline.
    Aws(Arc<Enricher>),
}

impl EnrichMode {
    async fn enrich(&self, alarm: &crate::model::Alarm) -> Enrichment {
        let target = crate::target::resolve(alarm);
        if target.sagemaker().is_none() {
            return Enrichment::skipped("not a SageMaker alarm: no endpoint lookups");
        }
        match self {
            EnrichMode::Off(why) => Enrichment::skipped(why.clone()),
            EnrichMode::Aws(e) => e.enrich(alarm, &target).await,
        }
    }
}

/// Turns an intake result into reports (one per distinct notification).
pub async fn reports(notifications: Vec<Notification>, enrich: &EnrichMode) -> Vec<Report> {
    let mut seen = HashSet::new();
    let mut out = vec![];
    for n in notifications {
        // SNS can put the same message twice in one batch (see the runtime's own fixture).
        let id = match &n {
            Notification::Alarm(a) => a.delivery_key(),
            Notification::Plain(p) => p.origin.delivery_id().map(str::to_string),
        };
        if let Some(id) = id {
            if !seen.insert(id.clone()) {
                tracing::info!(delivery_id = %id, "duplicate notification in the same event, delivered once");
                continue;
            }
        }
        out.push(match n {
            Notification::Alarm(a) => {
                let e = enrich.enrich(&a).await;
                Report::Alarm(Box::new(report::build_alarm(*a, e)))
            }
            Notification::Plain(p) => Report::Plain(p),
        });
    }
    out
}

struct Receiver {
    spec: ReceiverSpec,
    /// Resolved once per cold start; a failed resolution is retried on the next invocation.
    notifier: OnceCell<Arc<dyn Notifier>>,
}

pub struct App {
    routes: Routes,
    receivers: Vec<Receiver>,
    secrets: SecretResolver,
    enrich: EnrichMode,
    http: reqwest::Client,
    retry: RetryPolicy,
    remediation: Option<Remediation>,
    /// Receivers that already had a notification: a retried event does not post to them again.
    delivered: Delivered,
}

/// Endpoint updates, when deployed: rules hand requests to the remediation function, and
/// opted-in endpoints get Slack buttons.
pub struct Remediation {
    /// `None`: rules that ask for an action are logged and reported as not dispatched.
    pub dispatch: Option<Arc<dyn Dispatch>>,
    pub buttons: bool,
    pub settings: RemediationSettings,
}

/// A rule's request handed (or not) to the remediation function.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Dispatched {
    pub action: &'static str,
    pub endpoint: String,
    pub rule: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeliveryResult {
    pub receiver: String,
    pub kind: &'static str,
    pub alarm: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Not posted again: this instance delivered it in an earlier attempt of the same event.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub already_delivered: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub notifications: usize,
    pub deliveries: Vec<DeliveryResult>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remediations: Vec<Dispatched>,
}

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error(transparent)]
    Intake(#[from] IntakeError),
    /// Lambda retries the event, then the failure destination keeps it.
    #[error("every receiver failed for {alarm:?}: {}", .failures.join("; "))]
    AllReceiversFailed { alarm: String, failures: Vec<String> },
    /// Some receivers got it, others failed in a way a later attempt can fix (rate limited past the
    /// deadline, 5xx, network): the event is retried rather than the message dropped. A retry on
    /// this instance skips the receivers that already have it ([`Delivered`]); on another it
    /// repeats, and PagerDuty collapses it by `dedup_key`.
    #[error("not delivered to every receiver for {alarm:?}, a retry can: {} (delivered: {})", .failures.join("; "), .delivered.join(", "))]
    RetryableFailures { alarm: String, failures: Vec<String>, delivered: Vec<String> },
}

impl App {
    pub fn new(routes: Routes, secrets: SecretResolver, enrich: EnrichMode, retry: RetryPolicy) -> Self {
        let receivers = routes.receivers().iter().cloned().map(|spec| Receiver { spec, notifier: OnceCell::new() }).collect();
        Self { http: http::client(&retry), routes, receivers, secrets, enrich, retry, remediation: None, delivered: Delivered::default() }
    }

    pub fn with_remediation(mut self, r: Remediation) -> Self {
        self.remediation = Some(r);
        self
    }

    async fn notifier(&self, r: &Receiver) -> Result<Arc<dyn Notifier>, String> {
        r.notifier
            .get_or_try_init(|| async {
                let n: Arc<dyn Notifier> = match &r.spec.kind {
                    ReceiverKind::Slack { webhook_url } => Arc::new(SlackNotifier {
                        name: r.spec.name.clone(),
                        webhook_url: self.secrets.resolve(webhook_url).await.map_err(|e| e.to_string())?,
                    }),
                    ReceiverKind::PagerDuty { routing_key, events_url } => Arc::new(PagerDutyNotifier {
                        name: r.spec.name.clone(),
                        routing_key: self.secrets.resolve(routing_key).await.map_err(|e| e.to_string())?,
                        events_url: events_url.clone(),
                    }),
                };
                Ok(n)
            })
            .await
            .cloned()
    }

    /// Posts to the receiver named `name` what `message` makes (URL and body) from its notifier:
    /// the one path for alarms and follow-ups. An unknown receiver or unresolvable secret is a
    /// permanent failure.
    async fn post(&self, name: &str, deadline: Instant, message: impl FnOnce(&dyn Notifier) -> (String, Value)) -> Result<(), Failure> {
        let r = self.receivers.iter().find(|r| r.spec.name == name).ok_or_else(|| Failure::permanent(format!("receiver {name:?} is not configured")))?;
        let n = self.notifier(r).await.map_err(|e| Failure::permanent(format!("secret: {e}")))?;
        let (url, body) = message(n.as_ref());
        http::deliver(&self.http, n.as_ref(), &url, &body, &self.retry, deadline).await
    }

    /// Runs the whole flow for one event with [`DEFAULT_BUDGET`].
    pub async fn handle(&self, event: &Value) -> Result<Summary, HandleError> {
        self.handle_until(event, Instant::now() + DEFAULT_BUDGET).await
    }

    /// Runs the whole flow for one event; delivery retries stop in time for `deadline` (the
    /// invocation's).
    pub async fn handle_until(&self, event: &Value, deadline: Instant) -> Result<Summary, HandleError> {
        let started = std::time::Instant::now();
        let notifications = intake::parse_event(event)?;
        let count = notifications.len();
        let mut deliveries = vec![];
        let mut all_failed: Option<HandleError> = None;
        let mut remediations = vec![];
        for mut report in reports(notifications, &self.enrich).await {
            self.add_offers(&mut report);
            let (results, retryable) = self.deliver(&report, deadline).await;
            remediations.extend(self.request_remediation(&report, &results).await);
            let name = alarm_name(&report);
            let failures = || -> Vec<String> {
                results.iter().filter(|r| !r.ok).map(|r| format!("{}: {}", r.receiver, r.error.as_deref().unwrap_or("failed"))).collect()
            };
            if results.iter().all(|r| !r.ok) {
                let failures = failures();
                tracing::error!(alarm = %name, failures = ?failures, "every receiver failed");
                all_failed.get_or_insert(HandleError::AllReceiversFailed { alarm: name, failures });
            } else if retryable {
                let (failures, delivered) = (failures(), results.iter().filter(|r| r.ok).map(|r| r.receiver.clone()).collect());
                tracing::error!(alarm = %name, failures = ?failures, "a receiver failed retryably; the event will be retried");
                all_failed.get_or_insert(HandleError::RetryableFailures { alarm: name, failures, delivered });
            } else if let Some(bad) = results.iter().find(|r| !r.ok) {
                tracing::warn!(alarm = %name, receiver = %bad.receiver, error = bad.error.as_deref().unwrap_or(""), "partial delivery");
            }
            deliveries.extend(results);
        }
        tracing::info!(notifications = count, deliveries = deliveries.len(), elapsed_ms = started.elapsed().as_millis() as u64, "handled");
        match all_failed {
            Some(e) => Err(e),
            None => Ok(Summary { notifications: count, deliveries, remediations }),
        }
    }

    /// Every routed receiver concurrently; one failing never blocks another. The flag: some
    /// delivery failed retryably.
    async fn deliver(&self, report: &Report, deadline: Instant) -> (Vec<DeliveryResult>, bool) {
        let facts = Facts::of(report);
        let name = alarm_name(report);
        let key = delivered::key(report);
        let jobs = self.routes.route(&facts).into_iter().map(|d| {
            let (name, key) = (name.clone(), key.clone());
            async move {
                let kind = d.receiver.kind.name();
                let receiver = d.receiver.name.clone();
                if key.as_deref().is_some_and(|k| self.delivered.contains(k, &receiver)) {
                    tracing::info!(alarm = %name, receiver = %receiver, kind, "already delivered by an earlier attempt of this event; not posted again");
                    return (DeliveryResult { receiver, kind, alarm: name, ok: true, error: None, already_delivered: true }, false);
                }
                let result = self.post(&receiver, deadline, |n| (n.url().to_string(), n.body(report, d.severity))).await;
                match &result {
                    Ok(()) => {
                        tracing::info!(alarm = %name, receiver = %receiver, kind, severity = d.severity.as_str(), "delivered");
                        if let Some(k) = &key {
                            self.delivered.insert(k, &receiver);
                        }
                    }
                    Err(f) => tracing::error!(alarm = %name, receiver = %receiver, kind, error = %f.message, "delivery failed"),
                }
                let retryable = result.as_ref().is_err_and(|f| f.retryable);
                (DeliveryResult { receiver, kind, alarm: name, ok: result.is_ok(), error: result.err().map(|f| f.message), already_delivered: false }, retryable)
            }
        });
        let results = futures::future::join_all(jobs).await;
        let retryable = results.iter().any(|(_, r)| *r);
        (results.into_iter().map(|(d, _)| d).collect(), retryable)
    }
}

impl App {
    /// Slack buttons for the actions an opted-in endpoint allows.
    fn add_offers(&self, report: &mut Report) {
        let Some(rem) = self.remediation.as_ref().filter(|r| r.buttons) else { return };
        let receivers: Vec<String> = self.routes.route(&Facts::of(report)).iter().map(|d| d.receiver.name.clone()).collect();
        if let Report::Alarm(a) = report {
            a.offers = crate::remediate::offers::offers(a, &receivers, &rem.settings.policy, rem.settings.frequency_s);
        }
    }

    /// The actions matching rules ask for, handed to the remediation function after delivery
    /// (its follow-up then lands after the alarm). Never fails the invocation: the alarm is out.
    async fn request_remediation(&self, report: &Report, results: &[DeliveryResult]) -> Vec<Dispatched> {
        let Report::Alarm(a) = report else { return vec![] };
        if a.alarm.state != crate::model::AlarmState::Alarm {
            return vec![];
        }
        let actions = self.routes.actions(&Facts::of(report));
        if actions.is_empty() {
            return vec![];
        }
        let alarm = match AlarmRef::of(&a.alarm) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(alarm = %a.alarm.name, error = %e, "a rule asks for remediation but the alarm names no endpoint");
                return vec![];
            }
        };
        let receivers: Vec<String> = results.iter().map(|r| r.receiver.clone()).collect();
        let mut out = vec![];
        for ra in actions {
            let req = Request { action: ra.action, alarm: alarm.clone(), dry_run: ra.dry_run, requested_by: format!("routing rule {}", ra.rule), receivers: receivers.clone() };
            let result = match self.remediation.as_ref().and_then(|r| r.dispatch.as_ref()) {
                Some(d) => d.dispatch(&req).await,
                None => Err("SAGEALARM_REMEDIATE_FUNCTION is not set: the remediation function is not deployed".into()),
            };
            match &result {
                Ok(()) => tracing::info!(alarm = %a.alarm.name, action = ra.action.name(), endpoint = %alarm.endpoint, rule = %ra.rule, dry_run = ra.dry_run, "remediation requested"),
                Err(e) => tracing::error!(alarm = %a.alarm.name, action = ra.action.name(), endpoint = %alarm.endpoint, rule = %ra.rule, error = %e, "remediation not requested"),
            }
            out.push(Dispatched { action: ra.action.name(), endpoint: alarm.endpoint.clone(), rule: ra.rule, ok: result.is_ok(), error: result.err() });
        }
        out
    }

    /// Tells the named receivers about a remediation decision. Unknown names are reported, not
    /// skipped silently.
    pub async fn follow_up(&self, receivers: &[String], f: &FollowUp, deadline: Instant) -> Vec<DeliveryResult> {
        let jobs = receivers.iter().map(|name| async move {
            let result = self.post(name, deadline, |n| n.follow_up(f)).await.map_err(|f| f.message);
            if let Err(e) = &result {
                tracing::error!(receiver = %name, error = %e, "follow-up not delivered");
            }
            DeliveryResult { receiver: name.clone(), kind: "follow-up", alarm: f.alarm_name.clone(), ok: result.is_ok(), error: result.err(), already_delivered: false }
        });
        futures::future::join_all(jobs).await
    }
}

fn alarm_name(r: &Report) -> String {
    match r {
        Report::Alarm(a) => a.alarm.name.clone(),
        Report::Plain(p) => p.subject.clone().unwrap_or_else(|| "SNS notification".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{body_string_contains, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn app(server: &MockServer) -> App {
        let doc = format!(
            r#"
receivers:
  - name: slack-sre
    slack: {{ webhook_url: "{u}/slack" }}
  - name: pager
    pagerduty: {{ routing_key: "0123456789abcdef0123456789abcdef", events_url: "{u}/pd" }}
route:
  receivers: [slack-sre, pager]
  severity: critical
"#,
            u = server.uri()
        );
        let retry = RetryPolicy {
            max_retries: 1,
            min_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(5),
            retry_after_jitter: Duration::from_millis(5),
            deadline_margin: Duration::from_millis(100),
            request_timeout: Duration::from_secs(2),
        };
        App::new(Routes::parse(&doc).unwrap(), SecretResolver::new(None, true), EnrichMode::Off("test".into()), retry)
    }

    fn event(name: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn delivers_to_every_routed_receiver() {
        let s = MockServer::start().await;
        Mock::given(method("POST")).and(path("/slack")).and(body_string_contains("deepgram-high-gpu")).respond_with(ResponseTemplate::new(200).set_body_string("ok")).expect(1).mount(&s).await;
        Mock::given(method("POST")).and(path("/pd")).and(body_string_contains("\"trigger\"")).respond_with(ResponseTemplate::new(202)).expect(1).mount(&s).await;
        let summary = app(&s).handle(&event("sns-gpu-utilization-alarm.json")).await.unwrap();
        assert_eq!(summary.deliveries.iter().filter(|d| d.ok).count(), 2);
    }

    #[tokio::test]
    async fn one_receiver_down_does_not_stop_the_other() {
        let s = MockServer::start().await;
        Mock::given(method("POST")).and(path("/slack")).respond_with(ResponseTemplate::new(404).set_body_string("channel_not_found")).expect(1).mount(&s).await;
        Mock::given(method("POST")).and(path("/pd")).respond_with(ResponseTemplate::new(202)).expect(1).mount(&s).await;
        let summary = app(&s).handle(&event("sns-5xx-errors-alarm.json")).await.unwrap();
        let slack = summary.deliveries.iter().find(|d| d.receiver == "slack-sre").unwrap();
        assert!(!slack.ok && slack.error.as_deref().unwrap().contains("channel_not_found"));
        assert!(summary.deliveries.iter().any(|d| d.receiver == "pager" && d.ok));
    }

    #[tokio::test]
    async fn all_receivers_down_fails_the_invocation_naming_each() {
        let s = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(503)).mount(&s).await;
        let e = app(&s).handle(&event("sns-5xx-errors-alarm.json")).await.unwrap_err().to_string();
        assert!(e.starts_with("every receiver failed for \"deepgram-invocation-errors\""), "{e}");
        assert!(e.contains("slack-sre: Slack answered HTTP 503") && e.contains("pager: PagerDuty answered HTTP 503"), "{e}");
    }

    #[tokio::test]
    async fn a_receiver_rate_limited_past_the_deadline_fails_the_invocation_for_a_retry() {
        let s = MockServer::start().await;
        Mock::given(method("POST")).and(path("/slack")).respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "30").set_body_string("rate_limited")).mount(&s).await;
        Mock::given(method("POST")).and(path("/pd")).respond_with(ResponseTemplate::new(202)).expect(1).mount(&s).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        let e = app(&s).handle_until(&event("sns-gpu-utilization-alarm.json"), deadline).await.unwrap_err();
        assert!(matches!(e, HandleError::RetryableFailures { .. }), "{e:?}");
        let e = e.to_string();
        assert!(e.starts_with("not delivered to every receiver for \"deepgram-high-gpu"), "{e}");
        assert!(e.contains("slack-sre: Slack answered HTTP 429: rate_limited (attempt 1); gave up: waiting 30.") && e.contains("deadline"), "{e}");
        assert!(e.ends_with("(delivered: pager)"), "{e}");
    }

    #[tokio::test]
    async fn a_retried_event_posts_again_only_to_the_receiver_that_failed() {
        let s = MockServer::start().await;
        // Slack: once for the ALARM (not again on the retry), once for the OK below.
        Mock::given(method("POST")).and(path("/slack")).respond_with(ResponseTemplate::new(200).set_body_string("ok")).expect(2).mount(&s).await;
        // PagerDuty is down for the first attempt (both tries) and back for Lambda's retry and the OK.
        Mock::given(method("POST")).and(path("/pd")).respond_with(ResponseTemplate::new(502)).up_to_n_times(2).expect(2).mount(&s).await;
        Mock::given(method("POST")).and(path("/pd")).respond_with(ResponseTemplate::new(202)).expect(2).mount(&s).await;
        let app = app(&s);
        let e = app.handle(&event("sns-gpu-utilization-alarm.json")).await.unwrap_err();
        assert!(matches!(e, HandleError::RetryableFailures { .. }), "{e:?}");
        let summary = app.handle(&event("sns-gpu-utilization-alarm.json")).await.unwrap();
        let slack = summary.deliveries.iter().find(|d| d.receiver == "slack-sre").unwrap();
        assert!(slack.ok && slack.already_delivered, "{slack:?}");
        let pager = summary.deliveries.iter().find(|d| d.receiver == "pager").unwrap();
        assert!(pager.ok && !pager.already_delivered, "{pager:?}");
        // The same alarm's next state change is a new notification: delivered to both.
        let mut ok = event("sns-gpu-utilization-alarm.json");
        let msg = ok["Records"][0]["Sns"]["Message"].as_str().unwrap().replace("\"NewStateValue\":\"ALARM\"", "\"NewStateValue\":\"OK\"").replace("14:07:31.512", "14:31:02.004");
        ok["Records"][0]["Sns"]["Message"] = Value::String(msg);
        let summary = app.handle(&ok).await.unwrap();
        assert!(summary.deliveries.iter().all(|d| d.ok && !d.already_delivered), "{:?}", summary.deliveries);
    }

    #[test]
    fn lambda_deadline_in_epoch_ms_becomes_an_instant() {
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
        let left = deadline_from_epoch_ms(now_ms + 120_000).saturating_duration_since(Instant::now());
        assert!(left > Duration::from_secs(119) && left <= Duration::from_secs(120), "{left:?}");
        assert!(deadline_from_epoch_ms(now_ms - 5_000) <= Instant::now(), "a passed deadline is now");
    }

    #[tokio::test]
    async fn duplicate_records_deliver_once_and_bad_input_is_an_error() {
        let s = MockServer::start().await;
        Mock::given(method("POST")).and(path("/slack")).respond_with(ResponseTemplate::new(200).set_body_string("ok")).expect(1).mount(&s).await;
        Mock::given(method("POST")).and(path("/pd")).respond_with(ResponseTemplate::new(202)).expect(1).mount(&s).await;
        let summary = app(&s).handle(&event("real/sns-metricmath-rust-fixture-2records-2015.json")).await.unwrap();
        assert_eq!((summary.notifications, summary.deliveries.len()), (2, 2));
        let e = app(&s).handle(&serde_json::json!({"hello": "world"})).await.unwrap_err();
        assert!(matches!(e, HandleError::Intake(_)));
    }

    #[tokio::test]
    async fn a_missing_secret_fails_only_that_receiver() {
        let s = MockServer::start().await;
        Mock::given(method("POST")).and(path("/pd")).respond_with(ResponseTemplate::new(202)).expect(1).mount(&s).await;
        let doc = format!(
            "receivers:\n  - {{name: a, slack: {{webhook_url: \"env:SAGEALARM_TEST_UNSET\"}}}}\n  - {{name: b, pagerduty: {{routing_key: k, events_url: \"{}/pd\"}}}}\nroute: {{receivers: [a, b]}}",
            s.uri()
        );
        let app = App::new(Routes::parse(&doc).unwrap(), SecretResolver::new(None, true), EnrichMode::Off("t".into()), RetryPolicy::default());
        let summary = app.handle(&event("sns-5xx-errors-alarm.json")).await.unwrap();
        let a = summary.deliveries.iter().find(|d| d.receiver == "a").unwrap();
        assert_eq!(a.error.as_deref(), Some("secret: env:SAGEALARM_TEST_UNSET: environment variable is not set"));
    }

    #[derive(Default)]
    struct Recorder(std::sync::Mutex<Vec<Request>>);
    impl Dispatch for Recorder {
        fn dispatch<'a>(&'a self, req: &'a Request) -> futures::future::BoxFuture<'a, Result<(), String>> {
            self.0.lock().unwrap().push(req.clone());
            Box::pin(async { Ok(()) })
        }
    }

    fn remediating_app(server: &MockServer, dispatch: Option<Arc<dyn Dispatch>>) -> App {
        let doc = format!(
            "receivers:\n  - {{name: slack-sre, slack: {{webhook_url: \"{u}/slack\"}}}}\n  - {{name: pager, pagerduty: {{routing_key: k, events_url: \"{u}/pd\"}}}}\nroute:\n  receivers: [slack-sre, pager]\n  remediate: {{actions: scale-out, dry_run: true}}",
            u = server.uri()
        );
        let settings = RemediationSettings { policy: crate::remediate::Policy::default(), frequency_s: 10 };
        App::new(Routes::parse(&doc).unwrap(), SecretResolver::new(None, true), EnrichMode::Off("t".into()), RetryPolicy::default())
            .with_remediation(Remediation { dispatch, buttons: false, settings })
    }

    #[tokio::test]
    async fn a_rules_action_is_handed_over_after_delivery_on_alarm_only() {
        let s = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_string("ok")).mount(&s).await;
        let rec = Arc::new(Recorder::default());
        let app = remediating_app(&s, Some(rec.clone()));
        let summary = app.handle(&event("sns-high-concurrency-alarm.json")).await.unwrap();
        assert_eq!(summary.remediations, vec![Dispatched { action: "scale-out", endpoint: "deepgram-prod".into(), rule: "route".into(), ok: true, error: None }]);
        let got = rec.0.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].requested_by.as_str(), got[0].dry_run, got[0].receivers.clone()), ("routing rule route", true, vec!["slack-sre".to_string(), "pager".to_string()]));
        let ok = app.handle(&event("sns-high-concurrency-ok.json")).await.unwrap();
        assert!(ok.remediations.is_empty(), "nothing is asked on OK");
        assert_eq!(rec.0.lock().unwrap().len(), 1);

        // Not deployed: the alarm is still delivered, and the summary says what was not asked.
        let app = remediating_app(&s, None);
        let summary = app.handle(&event("sns-high-concurrency-alarm.json")).await.unwrap();
        assert!(summary.deliveries.iter().all(|d| d.ok));
        assert!(!summary.remediations[0].ok && summary.remediations[0].error.as_deref().unwrap().starts_with("SAGEALARM_REMEDIATE_FUNCTION is not set"));
    }

    #[tokio::test]
    async fn follow_ups_go_to_slack_and_to_pagerduty_change_events() {
        let s = MockServer::start().await;
        Mock::given(method("POST")).and(path("/slack")).and(body_string_contains("sagealarm scale-out on deepgram-prod: refused")).respond_with(ResponseTemplate::new(200).set_body_string("ok")).expect(1).mount(&s).await;
        Mock::given(method("POST")).and(path("/pd/change/enqueue")).and(body_string_contains("\"requested_by\":\"Slack user alice (U1) in C1\"")).respond_with(ResponseTemplate::new(202)).expect(1).mount(&s).await;
        let app = remediating_app(&s, None);
        let f = FollowUp {
            headline: "sagealarm scale-out on deepgram-prod: refused".into(),
            reason: "cooldown: the endpoint changed 4 min ago (less than 15 min)".into(),
            requested_by: "Slack user alice (U1) in C1".into(),
            alarm_name: "deepgram-high-concurrency".into(),
            endpoint: "deepgram-prod".into(),
            decision: "refused",
            before: Value::Null,
            after: Value::Null,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let results = app.follow_up(&["slack-sre".into(), "pager".into(), "ghost".into()], &f, deadline).await;
        assert!(results[0].ok && results[1].ok, "{results:?}");
        assert_eq!(results[2].error.as_deref(), Some("receiver \"ghost\" is not configured"));
        crate::render::slack::check_limits(&crate::render::slack::follow_up(&f)).unwrap();
    }
}
