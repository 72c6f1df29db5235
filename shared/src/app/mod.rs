//! The app: the one layer that knows every stage and wires them for the Lambda functions and the
//! CLI. Built once per cold start ([`App::new`]); [`App::handle_until`] per event, under the
//! invocation's deadline:
//!
//! intake → subject → enrich → report → route → render → deliver, then the rules' remediation
//! requests ([`remediation`]).
//!
//! Nothing imports this module; [`settings`] reads the environment into plain data, and the
//! functions here build the runtime objects from it.

pub mod deferred;
pub mod remediation;
pub mod settings;

pub use remediation::{carry_out, Carried, Dispatched, Remediation};

use crate::deliver::http::{ClientError, RetryPolicy};
use crate::deliver::{DeliveryResult, Receivers, Routing};
use crate::enrich::{Enricher, Enrichment};
use crate::intake::{self, IntakeError};
use crate::model::{Alarm, Notification};
use crate::report::{self, Report};
use crate::route::{Facts, Routes};
use crate::secrets::SecretResolver;
use crate::subject::{self, Target};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
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

/// The routing document from the environment (`SAGEALARM_ROUTES`, `_FILE`, `_SSM`), validated
/// whole: a bad one fails loudly (the alarm function's events, [`deferred`]; the remediation
/// function's cold start) rather than dropping alarms later.
pub async fn load_routing(sdk: Option<&aws_config::SdkConfig>) -> Result<Routing, settings::SettingsError> {
    Ok(Routing::parse(&settings::routes_text(sdk).await?)?)
}

/// A routing document from a file, validated whole.
pub fn routing_from_file(path: &str) -> Result<Routing, settings::SettingsError> {
    Ok(Routing::parse(&settings::routes_file(path)?)?)
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
    /// From the environment ([`settings::enrichment`]); the SDK clients are built here, once.
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, settings::SettingsError> {
        Ok(match settings::enrichment()? {
            Ok(s) => EnrichMode::Aws(Arc::new(Enricher::new(sdk, s))),
            Err(why) => EnrichMode::Off(why),
        })
    }

    /// Shares the evidence of a storm's alarms through the state table (`enrich::shared`).
    pub fn with_state(self, state: crate::state::StateTable) -> Self {
        match self {
            EnrichMode::Aws(e) => EnrichMode::Aws(Arc::new(Enricher::clone(&e).with_state(state))),
            off => off,
        }
    }

    /// The enrichment, with the alarm's tags looked up beside it when the notification had none
    /// (any alarm: routes match tags).
    async fn enrich(&self, alarm: &Alarm, target: &Target) -> Enrichment {
        let e = match self {
            EnrichMode::Off(why) => return Enrichment::not_applicable(alarm, target).unwrap_or_else(|| Enrichment::skipped(why.clone())),
            EnrichMode::Aws(e) => e,
        };
        let enrichment = async {
            match Enrichment::not_applicable(alarm, target) {
                Some(skipped) => skipped,
                None => e.enrich(alarm, target).await,
            }
        };
        let (mut enrichment, (tags, note, calls)) = tokio::join!(enrichment, e.alarm_tags(alarm));
        enrichment.tags = tags;
        enrichment.notes.extend(note);
        // The message's "Enriched with N AWS calls" counts the tag lookup too.
        if let Some(stats) = enrichment.stats.as_mut() {
            stats.calls += calls;
        }
        enrichment
    }
}

/// Turns an intake result into reports (one per distinct notification): the target is resolved
/// once here and kept in the report.
pub async fn reports(notifications: Vec<Notification>, enrich: &EnrichMode) -> Vec<Report> {
    let mut seen = HashSet::new();
    let mut alarms = vec![];
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
        alarms.push(n);
    }
    let jobs = alarms.into_iter().map(|n| async move {
        match n {
            Notification::Alarm(a) => {
                let mut target = subject::resolve(&a);
                let e = enrich.enrich(&a, &target).await;
                // DescribeAlarms said what a PromQL or log alarm evaluates: it is about what that names.
                if let Some(kind) = &e.described {
                    target = subject::resolve(&Alarm { kind: kind.clone(), ..(*a).clone() });
                }
                // A composite's children told enrichment what it is about: routing, links and
                // the message use it too.
                if let Some(about) = e.composite_about.clone() {
                    target.adopt_children(about);
                }
                Report::Alarm(Box::new(report::build_alarm(*a, target, e)))
            }
            Notification::Plain(p) => Report::Plain(p),
        }
    });
    futures::future::join_all(jobs).await
}

pub struct App {
    routes: Routes,
    receivers: Receivers,
    enrich: EnrichMode,
    remediation: Option<Remediation>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub notifications: usize,
    pub deliveries: Vec<DeliveryResult>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remediations: Vec<Dispatched>,
    /// Alarms an alarm mute rule silenced: paged nobody, remediated nothing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub muted: Vec<Muted>,
}

/// An alarm that was muted, by which rule, until when, and which chat receivers still got it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Muted {
    pub alarm: String,
    pub rule: Option<String>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// Chat receivers whose route says `deliver_muted: true`.
    pub posted_to: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error(transparent)]
    Intake(#[from] IntakeError),
    /// The routing document could not be fetched or is invalid ([`deferred::Deferred`]): Lambda
    /// retries the event, and the next one fetches again.
    #[error("not delivered, the app is not ready: {0}")]
    NotReady(String),
    /// Lambda retries the event, then the failure destination keeps it.
    #[error("every receiver failed for {alarm:?}: {}", .failures.join("; "))]
    AllReceiversFailed { alarm: String, failures: Vec<String> },
    /// Some receivers got it, others failed in a way a later attempt can fix (rate limited past the
    /// deadline, 5xx, network): the event is retried rather than the message dropped. A retry on
    /// this instance skips the receivers that already have it (`deliver::delivered`); on another it
    /// repeats, and PagerDuty collapses it by `dedup_key`.
    #[error("not delivered to every receiver for {alarm:?}, a retry can: {} (delivered: {})", .failures.join("; "), .delivered.join(", "))]
    RetryableFailures { alarm: String, failures: Vec<String>, delivered: Vec<String> },
}

impl App {
    /// Fails only when the HTTP client cannot be built: the cold start says so.
    pub fn new(routing: Routing, secrets: SecretResolver, enrich: EnrichMode, retry: RetryPolicy) -> Result<Self, ClientError> {
        let receivers = Receivers::new(routing.receivers, secrets, retry)?;
        Ok(Self { routes: routing.routes, receivers, enrich, remediation: None })
    }

    /// Delivery records, threads and locks shared by every instance (`SAGEALARM_STATE_TABLE`),
    /// and the evidence the alarms of a storm share (`enrich::shared`).
    pub fn with_state(mut self, state: crate::state::StateTable) -> Self {
        self.enrich = self.enrich.with_state(state.clone());
        self.receivers = self.receivers.with_state(state);
        self
    }

    /// The state table, when there is one.
    pub fn state(&self) -> Option<&crate::state::StateTable> {
        self.receivers.state()
    }

    pub fn with_remediation(mut self, r: Remediation) -> Self {
        self.remediation = Some(r);
        self
    }

    /// Clicks reach the Slack actions function (`SAGEALARM_SLACK_BUTTONS`): Slack app messages
    /// carry Acknowledge / Snooze. Off, they carry no buttons nobody would answer.
    pub fn with_buttons(mut self, on: bool) -> Self {
        self.receivers = self.receivers.with_buttons(on);
        self
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
        let reports = reports(notifications, &self.enrich).await;
        self.deliver_reports(count, reports, deadline, started).await
    }

    /// Route, deliver and remediate the reports of one event (`count` notifications, handled since
    /// `started`).
    async fn deliver_reports(
        &self,
        count: usize,
        reports: Vec<Report>,
        deadline: Instant,
        started: std::time::Instant,
    ) -> Result<Summary, HandleError> {
        let mut deliveries = vec![];
        let mut all_failed: Option<HandleError> = None;
        let mut remediations = vec![];
        let mut muted = vec![];
        for report in reports {
            // One walk of the routing tree: receivers and the rules' actions together.
            let mut routed = self.routes.evaluate(&Facts::of(&report));
            let name = report.title();
            // Muted (an alarm mute rule, e.g. a maintenance window): nobody is paged and nothing is
            // remediated; chat receivers whose route asks for it still get it, marked as muted.
            if let Some(m) = report.mute() {
                routed.deliveries.retain(|d| d.deliver_muted && !self.receivers.pages(&d.receiver.name));
                routed.actions.clear();
                let posted_to = routed.receiver_names();
                tracing::info!(alarm = %name, rule = m.rule.as_deref().unwrap_or(""), until = ?m.end, posted_to = ?posted_to, "muted: paged nobody");
                muted.push(Muted { alarm: name.clone(), rule: m.rule.clone(), until: m.end, posted_to });
                if routed.deliveries.is_empty() {
                    continue;
                }
            }
            let offers = remediation::offers(self.remediation.as_ref(), &report, &routed);
            let (results, retryable) = self.receivers.deliver(&report, &routed.deliveries, &offers, deadline).await;
            remediations.extend(remediation::request(self.remediation.as_ref(), &report, &routed.actions, &results).await);
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
            None => Ok(Summary { notifications: count, deliveries, remediations, muted }),
        }
    }

    /// Tells the named receivers about a remediation decision.
    pub async fn follow_up(
        &self,
        receivers: &[String],
        f: &crate::remediate::follow_up::FollowUp,
        deadline: Instant,
    ) -> Vec<DeliveryResult> {
        self.receivers.follow_up(receivers, f, deadline).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediate::dispatch::Dispatch;
    use crate::remediate::follow_up::FollowUp;
    use crate::remediate::Request;
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
        App::new(Routing::parse(&doc).unwrap(), SecretResolver::new(None, true), EnrichMode::Off("test".into()), retry).unwrap()
    }

    fn event(name: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn delivers_to_every_routed_receiver() {
        let s = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/slack"))
            .and(body_string_contains("deepgram-high-gpu"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .expect(1)
            .mount(&s)
            .await;
        Mock::given(method("POST"))
            .and(path("/pd"))
            .and(body_string_contains("\"trigger\""))
            .respond_with(ResponseTemplate::new(202))
            .expect(1)
            .mount(&s)
            .await;
        let summary = app(&s).handle(&event("sns-gpu-utilization-alarm.json")).await.unwrap();
        assert_eq!(summary.deliveries.iter().filter(|d| d.ok).count(), 2);
    }

    #[tokio::test]
    async fn one_receiver_down_does_not_stop_the_other() {
        let s = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/slack"))
            .respond_with(ResponseTemplate::new(404).set_body_string("channel_not_found"))
            .expect(1)
            .mount(&s)
            .await;
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
        Mock::given(method("POST"))
            .and(path("/slack"))
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "30").set_body_string("rate_limited"))
            .mount(&s)
            .await;
        Mock::given(method("POST")).and(path("/pd")).respond_with(ResponseTemplate::new(202)).expect(1).mount(&s).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        let e = app(&s).handle_until(&event("sns-gpu-utilization-alarm.json"), deadline).await.unwrap_err();
        assert!(matches!(e, HandleError::RetryableFailures { .. }), "{e:?}");
        let e = e.to_string();
        assert!(e.starts_with("not delivered to every receiver for \"deepgram-high-gpu"), "{e}");
        assert!(
            e.contains("slack-sre: Slack answered HTTP 429: rate_limited (attempt 1); gave up: waiting 30.") && e.contains("deadline"),
            "{e}"
        );
        assert!(e.ends_with("(delivered: pager)"), "{e}");
    }

    #[tokio::test]
    async fn a_retried_event_posts_again_only_to_the_receiver_that_failed() {
        let s = MockServer::start().await;
        // Slack: once for the ALARM (not again on the retry), once for the OK below.
        Mock::given(method("POST"))
            .and(path("/slack"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .expect(2)
            .mount(&s)
            .await;
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
        let msg = ok["Records"][0]["Sns"]["Message"]
            .as_str()
            .unwrap()
            .replace("\"NewStateValue\":\"ALARM\"", "\"NewStateValue\":\"OK\"")
            .replace("14:07:31.512", "14:31:02.004");
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
        Mock::given(method("POST"))
            .and(path("/slack"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .expect(1)
            .mount(&s)
            .await;
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
        let app =
            App::new(Routing::parse(&doc).unwrap(), SecretResolver::new(None, true), EnrichMode::Off("t".into()), RetryPolicy::default())
                .unwrap();
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
        let settings = remediation::RemediationSettings { policy: crate::remediate::Policy::default(), frequency_s: 10 };
        App::new(Routing::parse(&doc).unwrap(), SecretResolver::new(None, true), EnrichMode::Off("t".into()), RetryPolicy::default())
            .unwrap()
            .with_remediation(Remediation { dispatch, buttons: false, settings })
    }

    #[tokio::test]
    async fn a_rules_action_is_handed_over_after_delivery_on_alarm_only() {
        let s = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_string("ok")).mount(&s).await;
        let rec = Arc::new(Recorder::default());
        let app = remediating_app(&s, Some(rec.clone()));
        let summary = app.handle(&event("sns-high-concurrency-alarm.json")).await.unwrap();
        assert_eq!(
            summary.remediations,
            vec![Dispatched { action: "scale-out", endpoint: "deepgram-prod".into(), rule: "route".into(), ok: true, error: None }]
        );
        let got = rec.0.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].requested_by.as_str(), got[0].dry_run, got[0].receivers.clone()),
            ("routing rule route", true, vec!["slack-sre".to_string(), "pager".to_string()])
        );
        let ok = app.handle(&event("sns-high-concurrency-ok.json")).await.unwrap();
        assert!(ok.remediations.is_empty(), "nothing is asked on OK");
        assert_eq!(rec.0.lock().unwrap().len(), 1);

        // Not deployed: the alarm is still delivered, and the summary says what was not asked.
        let app = remediating_app(&s, None);
        let summary = app.handle(&event("sns-high-concurrency-alarm.json")).await.unwrap();
        assert!(summary.deliveries.iter().all(|d| d.ok));
        assert!(
            !summary.remediations[0].ok
                && summary.remediations[0].error.as_deref().unwrap().starts_with("SAGEALARM_REMEDIATE_FUNCTION is not set")
        );
    }

    #[tokio::test]
    async fn follow_ups_go_to_slack_and_to_pagerduty_change_events() {
        let s = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/slack"))
            .and(body_string_contains("sagealarm scale-out on deepgram-prod: refused"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .expect(1)
            .mount(&s)
            .await;
        Mock::given(method("POST"))
            .and(path("/pd/change/enqueue"))
            .and(body_string_contains("\"requested_by\":\"Slack user alice (U1) in C1\""))
            .respond_with(ResponseTemplate::new(202))
            .expect(1)
            .mount(&s)
            .await;
        let app = remediating_app(&s, None);
        let f = FollowUp {
            headline: "sagealarm scale-out on deepgram-prod: refused".into(),
            reason: "cooldown: the endpoint changed 4 min ago (less than 15 min)".into(),
            requested_by: "Slack user alice (U1) in C1".into(),
            alarm_name: "deepgram-high-concurrency".into(),
            alarm_identity: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:deepgram-high-concurrency".into(),
            endpoint: "deepgram-prod".into(),
            decision: crate::remediate::Decision::Refused,
            before: Value::Null,
            after: Value::Null,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let results = app.follow_up(&["slack-sre".into(), "pager".into(), "ghost".into()], &f, deadline).await;
        assert!(results[0].ok && results[1].ok, "{results:?}");
        assert_eq!(results[2].error.as_deref(), Some("receiver \"ghost\" is not configured"));
        crate::deliver::slack::render::check_limits(&crate::deliver::slack::render::follow_up(&f)).unwrap();
    }

    /// Two alarms in one SNS event are enriched side by side: each waits out its AWS calls (here
    /// a service slower than the enrichment deadline) at the same time as the other.
    #[tokio::test]
    async fn the_alarms_of_one_event_are_enriched_concurrently() {
        let aws = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(6))).mount(&aws).await;
        // Long enough that a busy machine (the test command runs binaries side by side) cannot
        // push two concurrent enrichments past two deadlines; short enough to keep the test quick.
        let deadline = Duration::from_millis(2000);
        let sdk =
            aws_config::SdkConfig::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_sagemaker::config::SharedCredentialsProvider::new(
                    aws_sdk_sagemaker::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"),
                ))
                .endpoint_url(aws.uri())
                .build();
        let enricher = Enricher::new(&sdk, crate::enrich::EnrichSettings { deadline, ..Default::default() });
        let other = event("sns-5xx-errors-alarm.json");
        let mut event = event("sns-gpu-utilization-alarm.json");
        event["Records"].as_array_mut().unwrap().push(other["Records"][0].clone());
        let started = std::time::Instant::now();
        let reports = reports(intake::parse_event(&event).unwrap(), &EnrichMode::Aws(Arc::new(enricher))).await;
        let took = started.elapsed();
        assert_eq!(reports.len(), 2);
        for r in &reports {
            let Report::Alarm(a) = r else { panic!("an alarm") };
            assert!(a.enrichment.notes.iter().any(|n| n.message.contains("enrichment deadline")), "{:?}", a.enrichment.notes);
        }
        // One after the other would take two deadlines.
        assert!(took >= deadline && took < deadline * 2 - Duration::from_millis(500), "took {took:?}");
    }

    fn app_with(server: &MockServer, routes: &str) -> App {
        let doc = format!(
            r#"
receivers:
  - name: slack-sre
    slack: {{ webhook_url: "{u}/slack" }}
  - name: pager
    pagerduty: {{ routing_key: "0123456789abcdef0123456789abcdef", events_url: "{u}/pd" }}
{routes}"#,
            u = server.uri()
        );
        let retry = RetryPolicy {
            max_retries: 0,
            request_timeout: Duration::from_secs(2),
            deadline_margin: Duration::from_millis(100),
            ..RetryPolicy::default()
        };
        App::new(Routing::parse(&doc).unwrap(), SecretResolver::new(None, true), EnrichMode::Off("test".into()), retry).unwrap()
    }

    /// A muted alarm (an alarm mute rule's window) pages nobody and says so; with
    /// `deliver_muted: true` its chat receivers still get it, marked as muted — never PagerDuty.
    #[tokio::test]
    async fn a_muted_alarm_pages_nobody_and_deliver_muted_posts_it_to_chat_only() {
        let s = MockServer::start().await;
        Mock::given(method("POST")).and(path("/pd")).respond_with(ResponseTemplate::new(202)).expect(0).mount(&s).await;
        Mock::given(method("POST"))
            .and(path("/slack"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .expect(0)
            .mount(&s)
            .await;
        let quiet = app_with(&s, "route:\n  receivers: [slack-sre, pager]\n  severity: critical\n");
        let summary = quiet.handle(&event("eventbridge-promql-kv-cache-muted-alarm.json")).await.expect("muted is not a failure");
        assert!(summary.deliveries.is_empty(), "{summary:?}");
        assert_eq!(summary.muted.len(), 1);
        assert_eq!(
            summary.muted[0].rule.as_deref(),
            Some("arn:aws:cloudwatch:us-east-1:123456789012:alarm-mute-rule:llm-prod-maintenance")
        );
        assert!(summary.muted[0].until.is_some() && summary.muted[0].posted_to.is_empty());

        let s = MockServer::start().await;
        Mock::given(method("POST")).and(path("/pd")).respond_with(ResponseTemplate::new(202)).expect(0).mount(&s).await;
        Mock::given(method("POST"))
            .and(path("/slack"))
            .and(body_string_contains("Muted by"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .expect(1)
            .mount(&s)
            .await;
        let told = app_with(&s, "route:\n  receivers: [slack-sre, pager]\n  deliver_muted: true\n");
        let summary = told.handle(&event("eventbridge-promql-kv-cache-muted-alarm.json")).await.unwrap();
        assert_eq!(summary.muted[0].posted_to, ["slack-sre"]);
        assert_eq!(summary.deliveries.len(), 1);
    }

    /// Routes match the alarm's tags (a glob per key, every key given).
    #[tokio::test]
    async fn a_route_matches_on_alarm_tags() {
        let s = MockServer::start().await;
        Mock::given(method("POST")).and(path("/pd")).respond_with(ResponseTemplate::new(202)).expect(1).mount(&s).await;
        Mock::given(method("POST"))
            .and(path("/slack"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .expect(1)
            .mount(&s)
            .await;
        let app = app_with(
            &s,
            "route:\n  receivers: [slack-sre]\n  routes:\n    - match: {tags: {team: \"llm-*\", owner: \"llm-oncall\"}}\n      receivers: [pager]\n",
        );
        let tagged = app.handle(&event("sns-promql-kv-cache-contributor-alarm.json")).await.unwrap();
        assert_eq!(tagged.deliveries.iter().map(|d| d.receiver.as_str()).collect::<Vec<_>>(), ["pager"]);
        let untagged = app.handle(&event("sns-5xx-errors-alarm.json")).await.unwrap();
        assert_eq!(untagged.deliveries.iter().map(|d| d.receiver.as_str()).collect::<Vec<_>>(), ["slack-sre"]);
    }
}
