//! An alarm storm: 200 different alarms, each handled as its own Lambda invocation would be (its
//! own `App`, HTTP client and deadline = the function's Timeout in template.yaml), all at once,
//! all routed to one Slack channel and to PagerDuty, against local stand-ins. Slack's stand-in
//! keeps Slack's pace: one message per second per channel (the webhook path), otherwise 429 with
//! `Retry-After: 1`. Every alarm must arrive exactly once at each, no invocation may fail, and the
//! pace must have been enforced (429s answered) and kept (never two accepted within a second).
//!
//! By nature this takes about 200 s of wall time (200 messages at one per second); the tasks sleep
//! between retries, no core is kept busy.

use sagealarm::app::{App, EnrichMode};
use sagealarm::deliver::http::RetryPolicy;
use sagealarm::deliver::Routing;
use sagealarm::secrets::SecretResolver;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const ALARMS: usize = 200;
const CHANNEL: &str = "/services/T0STORM/B0STORM/ml-platform";
const BASES: &[&str] = &[
    "sns-gpu-utilization-alarm.json",
    "sns-5xx-errors-alarm.json",
    "sns-anomaly-detection-alarm.json",
    "sns-first-chunk-latency-p99-alarm.json",
    "sns-high-concurrency-alarm.json",
    "sns-instance-gpu-normalized-alarm.json",
    "sns-metric-math-error-rate-alarm.json",
    "sns-model-latency-p99-alarm.json",
];

fn repo_file(rel: &str) -> String {
    std::fs::read_to_string(format!("{}/../{rel}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The enrich function's `Timeout` in template.yaml: each invocation's deadline.
fn lambda_timeout() -> Duration {
    let t = repo_file("template.yaml");
    let f = &t[t.find("\n  EnrichAlarmFunction:").expect("EnrichAlarmFunction in template.yaml")..];
    let line = f.lines().find(|l| l.trim_start().starts_with("Timeout:")).expect("its Timeout");
    Duration::from_secs(line.trim_start()["Timeout:".len()..].trim().parse().unwrap())
}

/// Alarm `i`: a sample event with its own alarm name (`storm123-…`), ARN, endpoint and message id.
fn alarm_event(i: usize) -> (String, Value) {
    let base_file = BASES[i % BASES.len()];
    let mut ev: Value = serde_json::from_str(&repo_file(&format!("events/{base_file}"))).unwrap();
    let sns = &mut ev["Records"][0]["Sns"];
    let base_name = serde_json::from_str::<Value>(sns["Message"].as_str().unwrap()).unwrap()["AlarmName"].as_str().unwrap().to_string();
    let name = format!("storm{i:03}-{base_name}");
    let endpoint = format!("ep{:02}-prod", i % 25);
    let swap = |s: &str| s.replace(&base_name, &name).replace("deepgram-prod", &endpoint);
    sns["Message"] = swap(sns["Message"].as_str().unwrap()).into();
    if let Some(subject) = sns["Subject"].as_str().map(swap) {
        sns["Subject"] = subject.into();
    }
    sns["MessageId"] = format!("5707a9e1-0000-4000-8000-{i:012}").into();
    (name, ev)
}

/// The storm index in a delivered body (alarm names are `storm<3 digits>-…`).
fn storm_index(body: &[u8]) -> Option<usize> {
    let s = std::str::from_utf8(body).ok()?;
    let at = s.find("storm")? + "storm".len();
    s.get(at..at + 3)?.parse().ok()
}

#[derive(Default)]
struct SlackState {
    /// Per channel: when the last message was accepted.
    last: BTreeMap<String, Instant>,
    /// (channel, when, alarm index) of every accepted message.
    accepted: Vec<(String, Instant, usize)>,
    rate_limited: usize,
}

/// Slack's incoming webhook at Slack's pace: one message per second per channel.
#[derive(Clone, Default)]
struct Slack(Arc<Mutex<SlackState>>);

impl Respond for Slack {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let Some(i) = storm_index(&req.body) else { return ResponseTemplate::new(400).set_body_string("invalid_payload") };
        let channel = req.url.path().to_string();
        let now = Instant::now();
        let mut s = self.0.lock().unwrap();
        if s.last.get(&channel).is_some_and(|t| now.duration_since(*t) < Duration::from_secs(1)) {
            s.rate_limited += 1;
            return ResponseTemplate::new(429).insert_header("Retry-After", "1").set_body_string("rate_limited");
        }
        s.last.insert(channel.clone(), now);
        s.accepted.push((channel, now, i));
        ResponseTemplate::new(200).set_body_string("ok")
    }
}

#[derive(Default)]
struct PagerDutyState {
    accepted: Vec<usize>,
    throttled: HashSet<usize>,
}

/// PagerDuty's Events API: 202, except a first 429 (no Retry-After) for every 10th alarm.
#[derive(Clone, Default)]
struct PagerDuty(Arc<Mutex<PagerDutyState>>);

impl Respond for PagerDuty {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let Some(i) = storm_index(&req.body) else { return ResponseTemplate::new(400) };
        let mut s = self.0.lock().unwrap();
        if i % 10 == 0 && s.throttled.insert(i) {
            return ResponseTemplate::new(429).set_body_string(r#"{"status":"throttle event"}"#);
        }
        s.accepted.push(i);
        ResponseTemplate::new(202).set_body_string(r#"{"status":"success","message":"Event processed"}"#)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_storm_of_200_reaches_one_slack_channel_at_its_pace_and_pagerduty_once_each() {
    let server = MockServer::builder().disable_request_recording().start().await;
    let (slack, pd) = (Slack::default(), PagerDuty::default());
    Mock::given(method("POST")).and(path(CHANNEL)).respond_with(slack.clone()).mount(&server).await;
    Mock::given(method("POST")).and(path("/v2/enqueue")).respond_with(pd.clone()).mount(&server).await;
    let routes = format!(
        r#"
receivers:
  - name: ml-platform-slack
    slack: {{ webhook_url: "{u}{CHANNEL}" }}
  - name: sre-pagerduty
    pagerduty: {{ routing_key: "0123456789abcdef0123456789abcdef", events_url: "{u}/v2/enqueue" }}
route:
  receivers: [ml-platform-slack, sre-pagerduty]
  severity: critical
"#,
        u = server.uri()
    );
    let timeout = lambda_timeout();
    let events: Vec<(String, Value)> = (0..ALARMS).map(alarm_event).collect();
    assert_eq!(events.iter().map(|(n, _)| n).collect::<HashSet<_>>().len(), ALARMS);

    let started = Instant::now();
    let invocations = events.into_iter().map(|(name, event)| {
        // One execution environment per invocation, as 200 concurrent SNS → Lambda invokes get.
        let app = App::new(
            Routing::parse(&routes).unwrap(),
            SecretResolver::new(None, true),
            EnrichMode::Off("storm test".into()),
            RetryPolicy::default(),
        )
        .unwrap();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            let result = app.handle_until(&event, deadline).await;
            (name, result.map(|s| s.deliveries.len()).map_err(|e| e.to_string()), started.elapsed())
        })
    });
    let results = futures::future::join_all(invocations).await;
    let elapsed = started.elapsed();

    let failed: Vec<String> =
        results.iter().map(|r| r.as_ref().unwrap()).filter(|r| r.1 != Ok(2)).map(|r| format!("{}: {:?}", r.0, r.1)).collect();
    let slowest = results.iter().map(|r| r.as_ref().unwrap().2).max().unwrap();
    let s = slack.0.lock().unwrap();
    let p = pd.0.lock().unwrap();
    eprintln!(
        "storm: {ALARMS} alarms in {:.1} s (slowest invocation {:.1} s of its {} s); Slack accepted {}, answered {} × 429; PagerDuty accepted {}, throttled {}",
        elapsed.as_secs_f64(),
        slowest.as_secs_f64(),
        timeout.as_secs(),
        s.accepted.len(),
        s.rate_limited,
        p.accepted.len(),
        p.throttled.len()
    );
    assert!(failed.is_empty(), "{} invocations failed: {failed:#?}", failed.len());

    let exactly_once = |got: Vec<usize>, who: &str| {
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..ALARMS).collect::<Vec<_>>(), "{who}: not every alarm exactly once ({} deliveries)", got.len());
    };
    exactly_once(s.accepted.iter().map(|a| a.2).collect(), "Slack");
    exactly_once(p.accepted.clone(), "PagerDuty");

    for pair in s.accepted.windows(2) {
        let gap = pair[1].1.duration_since(pair[0].1);
        assert!(gap >= Duration::from_secs(1), "two messages on {} within {gap:?}", pair[0].0);
    }
    assert!(s.rate_limited > 0, "the pace was never enforced");
    assert_eq!(p.throttled.len(), ALARMS / 10);
}

/// The same 200 alarms (25 endpoints, 8 alarms each) to a Slack app receiver whose route groups by
/// endpoint, with moto's DynamoDB and the Slack Web API stand-in at Slack's pace. For the figures in
/// the README (about four minutes: every alarm's detail reply still takes its turn in the channel):
/// `cargo test -p sagealarm --test storm -- --ignored --nocapture` with the emulators' environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "figures, about four minutes: run by hand (see its doc)"]
async fn grouped_storm_of_200_figures() {
    if !sagealarm_testkit::emulators() {
        return;
    }
    let sdk = sagealarm_testkit::sdk().await;
    let table = format!("sagealarm-storm-{}", std::process::id());
    sagealarm_testkit::create_state_table(&sdk, &table).await.unwrap();
    let state = sagealarm::state::StateTable::new(&sdk, table);
    let slack = sagealarm_testkit::slack_api::SlackApi::paced().await;
    std::env::set_var("SAGEALARM_STORM_BOT_TOKEN", "xoxb-1-2-STORM");
    let routes = format!(
        "receivers:\n  - {{name: app, slack_app: {{token: \"env:SAGEALARM_STORM_BOT_TOKEN\", channel: C0STORM123, api_url: \"{}\"}}}}\nroute: {{receivers: [app], group: {{by: [endpoint]}}}}",
        slack.url()
    );
    let timeout = lambda_timeout();
    let events: Vec<(String, Value)> = (0..ALARMS).map(alarm_event).collect();
    let started = Instant::now();
    let invocations = events.into_iter().map(|(name, event)| {
        let app = App::new(
            Routing::parse(&routes).unwrap(),
            SecretResolver::new(None, true),
            EnrichMode::Off("storm".into()),
            RetryPolicy::default(),
        )
        .unwrap()
        .with_state(state.clone());
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            (name, app.handle_until(&event, deadline).await.map(|_| ()).map_err(|e| e.to_string()))
        })
    });
    let results = futures::future::join_all(invocations).await;
    let elapsed = started.elapsed();
    let failed: Vec<String> =
        results.iter().map(|r| r.as_ref().unwrap()).filter(|r| r.1.is_err()).map(|r| format!("{}: {:?}", r.0, r.1)).collect();
    assert!(failed.is_empty(), "{} invocations failed: {failed:#?}", failed.len());

    // When the channel's top-level messages first named every alarm (a parent post or update).
    let accepted = slack.accepted();
    let mut named: HashSet<usize> = HashSet::new();
    let mut all_named = None;
    for (at, c) in &accepted {
        let top = c.method == "chat.update" || c.body.get("thread_ts").is_none();
        if top {
            let text = c.text();
            for i in 0..ALARMS {
                if text.contains(&format!("storm{i:03}-")) {
                    named.insert(i);
                }
            }
            if named.len() == ALARMS && all_named.is_none() {
                all_named = Some(at.duration_since(started));
            }
        }
    }
    let count = |f: &dyn Fn(&sagealarm_testkit::slack_api::Call) -> bool| accepted.iter().filter(|(_, c)| f(c)).count();
    let parents = count(&|c| c.method == "chat.postMessage" && c.body.get("thread_ts").is_none());
    let replies = count(&|c| c.method == "chat.postMessage" && c.body.get("thread_ts").is_some());
    let updates = count(&|c| c.method == "chat.update");
    eprintln!(
        "grouped storm: {ALARMS} alarms, 25 endpoints: the channel's parents named all {ALARMS} after {:.1} s; last invocation done after {:.1} s; \
         Slack calls accepted {} ({parents} parents, {replies} replies, {updates} updates), answered {} × 429",
        all_named.map(|d| d.as_secs_f64()).unwrap_or(f64::NAN),
        elapsed.as_secs_f64(),
        accepted.len(),
        slack.rate_limited()
    );
    assert_eq!(parents, 25);
    assert_eq!(replies, ALARMS);
    assert!(all_named.is_some(), "the parents never named every alarm ({} of {ALARMS})", named.len());
}
