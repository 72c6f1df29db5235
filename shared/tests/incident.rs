//! Incident state end to end: the real DynamoDB client against moto's server on loopback (its
//! conditional writes work; its TTL never deletes, so expiry is in our conditions), a Slack Web
//! API stand-in (testkit) and PagerDuty on wiremock, through separate `App`s as separate Lambda
//! instances would be. `scripts/test.sh` starts the emulators; without them these tests say so and
//! pass, unless `SAGEALARM_REQUIRE_EMULATORS=1`.

use sagealarm::app::{App, EnrichMode, HandleError, Summary};
use sagealarm::deliver::Routing;
use sagealarm::secrets::SecretResolver;
use sagealarm::state::delivery::Claim;
use sagealarm::state::StateTable;
use sagealarm_testkit::slack_api::{Call, SlackApi};
use sagealarm_testkit::{emulators, fresh_state_table, quick_retry, unique};
use serde_json::Value;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A fresh table on moto, as template.yaml declares it.
async fn table() -> StateTable {
    fresh_state_table("sagealarm-state").await.unwrap()
}

/// One Lambda instance: a Slack app receiver and a PagerDuty receiver.
fn instance(slack: &SlackApi, pd: &MockServer, state: Option<StateTable>) -> App {
    std::env::set_var("SAGEALARM_TEST_BOT_TOKEN", "xoxb-1-2-TESTTOKEN");
    let doc = format!(
        "receivers:\n  - {{name: sre-app, slack_app: {{token: \"env:SAGEALARM_TEST_BOT_TOKEN\", channel: C0SRE12345, api_url: \"{}\"}}}}\n  - {{name: pager, pagerduty: {{routing_key: \"0123456789abcdef0123456789abcdef\", events_url: \"{}/pd\"}}}}\nroute: {{receivers: [sre-app, pager]}}",
        slack.url(),
        pd.uri()
    );
    let app =
        App::new(Routing::parse(&doc).unwrap(), SecretResolver::new(None, true), EnrichMode::Off("test".into()), quick_retry()).unwrap();
    match state {
        Some(s) => app.with_state(s),
        None => app,
    }
}

async fn pagerduty() -> MockServer {
    let pd = MockServer::start().await;
    Mock::given(method("POST")).and(path("/pd")).respond_with(ResponseTemplate::new(202)).mount(&pd).await;
    pd
}

/// The sample event for `alarm` (its name and ARN replaced), in `state` at `at` (HH:MM:SS).
fn event(fixture: &str, alarm: &str, at: &str) -> Value {
    let raw = std::fs::read_to_string(format!("{}/../events/{fixture}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let raw = raw.replace("deepgram-high-concurrency", alarm).replace("14:07:31.512", at).replace("14:31:02.004", at);
    serde_json::from_str(&raw).unwrap()
}

fn posts(calls: &[Call]) -> Vec<&Call> {
    calls.iter().filter(|c| c.method == "chat.postMessage").collect()
}

async fn pd_events(pd: &MockServer) -> Vec<Value> {
    pd.received_requests().await.unwrap().iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect()
}

fn skipped(s: &Summary) -> usize {
    s.deliveries.iter().filter(|d| d.ok && d.already_delivered).count()
}

#[tokio::test]
async fn one_parent_per_alarm_never_posted_twice_updated_in_place_on_resolve() {
    if !emulators() {
        return;
    }
    let (slack, pd, state) = (SlackApi::start().await, pagerduty().await, table().await);
    let (a, b) = (instance(&slack, &pd, Some(state.clone())), instance(&slack, &pd, Some(state.clone())));
    let name = unique("gpu-hot");
    let alarm = event("sns-high-concurrency-alarm.json", &name, "14:07:31.512");

    // The same ALARM on two instances at the same moment (SNS redelivery, or SNS + EventBridge).
    let (ra, rb) = futures::join!(a.handle(&alarm), b.handle(&alarm));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let calls = slack.calls().await;
    assert_eq!(posts(&calls).len(), 1, "one parent: {calls:#?}");
    assert_eq!(pd_events(&pd).await.len(), 1, "PagerDuty had it once too");
    assert_eq!(skipped(&ra) + skipped(&rb), 2, "the other instance posted nothing: {ra:?} {rb:?}");
    let parent = &posts(&calls)[0];
    assert!(parent.body.get("thread_ts").is_none());
    assert_eq!(parent.bearer.as_deref(), Some("xoxb-1-2-TESTTOKEN"));
    assert!(!parent.body.to_string().contains("TESTTOKEN"), "the token is only in the header");

    // Again later (a Lambda retry on yet another instance): still one parent.
    let later = instance(&slack, &pd, Some(state.clone())).handle(&alarm).await.unwrap();
    assert_eq!(skipped(&later), 2, "{later:?}");
    assert_eq!(slack.calls().await.len(), 1);

    // OK: the parent is updated and the thread gets a reply; PagerDuty gets its resolve.
    let ok = event("sns-high-concurrency-ok.json", &name, "14:31:02.004");
    let r = b.handle(&ok).await.unwrap();
    assert!(r.deliveries.iter().all(|d| d.ok && !d.already_delivered && d.note.is_none()), "{r:?}");
    let calls = slack.calls().await;
    // The stand-in's first `ts`.
    let parent_ts = "1790000001.000001";
    let update = calls.iter().find(|c| c.method == "chat.update").expect("the parent is updated");
    assert_eq!((update.body["channel"].as_str(), update.body["ts"].as_str()), (Some("C0SRE12345"), Some(parent_ts)));
    assert!(update.text().contains("resolved after 23 min"), "{}", update.text());
    let reply = posts(&calls).into_iter().find(|c| c.body.get("thread_ts").is_some()).expect("a reply in the thread");
    assert_eq!(reply.body["thread_ts"].as_str(), Some(parent_ts));
    assert!(reply.text().contains("✅ OK at 14:31 UTC (was 🔴 ALARM since 14:07 UTC)"), "{}", reply.text());
    let events = pd_events(&pd).await;
    assert_eq!(events.iter().map(|e| e["event_action"].as_str().unwrap()).collect::<Vec<_>>(), ["trigger", "resolve"]);

    // Another alarm: its own parent.
    let other = event("sns-high-concurrency-alarm.json", &unique("latency"), "14:09:00.000");
    a.handle(&other).await.unwrap();
    let calls = slack.calls().await;
    let tops: Vec<_> = posts(&calls).into_iter().filter(|c| c.body.get("thread_ts").is_none()).collect();
    assert_eq!(tops.len(), 2, "{calls:#?}");
    assert_eq!(calls.len(), 4, "parent, update, reply, second parent; nothing repeated: {calls:#?}");
}

#[tokio::test]
async fn a_failed_post_releases_the_claim_so_a_retry_on_another_instance_delivers() {
    if !emulators() {
        return;
    }
    let (slack, state) = (SlackApi::start().await, table().await);
    // PagerDuty is down for the first attempt (both tries), then back.
    let pd = MockServer::start().await;
    Mock::given(method("POST")).and(path("/pd")).respond_with(ResponseTemplate::new(502)).up_to_n_times(2).mount(&pd).await;
    Mock::given(method("POST")).and(path("/pd")).respond_with(ResponseTemplate::new(202)).mount(&pd).await;
    let alarm = event("sns-high-concurrency-alarm.json", &unique("errors"), "14:07:31.512");

    let first = instance(&slack, &pd, Some(state.clone())).handle(&alarm).await.unwrap_err();
    assert!(matches!(first, HandleError::RetryableFailures { .. }), "{first}");
    // Lambda's retry lands on another instance: PagerDuty gets it, Slack is not posted again.
    let retry = instance(&slack, &pd, Some(state)).handle(&alarm).await.unwrap();
    let by = |n: &str| retry.deliveries.iter().find(|d| d.receiver == n).unwrap().clone();
    assert!(by("pager").ok && !by("pager").already_delivered, "{retry:?}");
    assert!(by("sre-app").already_delivered, "{retry:?}");
    assert_eq!(slack.calls().await.len(), 1);
    assert_eq!(pd.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn without_the_table_alarms_still_go_out_saying_state_was_unavailable() {
    if !emulators() {
        return;
    }
    let sdk = sagealarm_testkit::sdk().await;
    let (slack, pd) = (SlackApi::start().await, pagerduty().await);
    // Missing (not created), then unreachable (nothing listens on port 9).
    let missing = StateTable::new(&sdk, unique("no-such-table"));
    let nowhere = aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url("http://127.0.0.1:9").build();
    let unreachable = StateTable::from_client(aws_sdk_dynamodb::Client::from_conf(nowhere), "sagealarm-state");
    for (state, why) in [(missing, "ResourceNotFoundException"), (unreachable, "could not reach the service")] {
        let before = slack.calls().await.len();
        let summary = instance(&slack, &pd, Some(state))
            .handle(&event("sns-high-concurrency-alarm.json", &unique("x"), "14:07:31.512"))
            .await
            .unwrap();
        assert!(summary.deliveries.iter().all(|d| d.ok && !d.already_delivered), "{summary:?}");
        let note = summary.deliveries[0].note.as_deref().unwrap_or_default();
        assert!(note.contains("Incident state unavailable") && note.contains(why), "{note}");
        let calls = slack.calls().await;
        assert_eq!(calls.len(), before + 1, "posted as a new message");
        assert!(
            calls.last().unwrap().text().contains("Incident state unavailable (state table"),
            "the message says so: {}",
            calls.last().unwrap().text()
        );
    }
    let events = pd_events(&pd).await;
    assert!(events[0]["payload"]["custom_details"]["sagealarm_note"].as_str().unwrap().contains("Incident state unavailable"));
}

#[tokio::test]
async fn claims_leases_and_locks_hold_across_clients() {
    if !emulators() {
        return;
    }
    let state = table().await;
    let other = StateTable::new(&sagealarm_testkit::sdk().await, state.name());
    let lease = Duration::from_secs(30);

    // Ten claims at once: exactly one wins.
    let claims = futures::future::join_all((0..10).map(|i| {
        let s = if i % 2 == 0 { &state } else { &other };
        s.claim("r", "n1", lease)
    }))
    .await;
    let mine: Vec<_> = claims.iter().filter(|c| matches!(c, Ok(Claim::Mine(_)))).collect();
    assert_eq!(mine.len(), 1, "{claims:?}");
    assert!(claims.iter().all(|c| matches!(c, Ok(Claim::Mine(_) | Claim::InProgress))), "{claims:?}");

    // Released → claimable; completed → delivered; another receiver is its own record.
    let Ok(Claim::Mine(t)) = state.claim("r", "n2", lease).await else { panic!() };
    state.release(&t).await.unwrap();
    let Ok(Claim::Mine(t)) = other.claim("r", "n2", lease).await else { panic!("released, so claimable") };
    other.complete(&t).await.unwrap();
    assert_eq!(state.claim("r", "n2", lease).await.unwrap(), Claim::Delivered);
    assert!(matches!(state.claim("r2", "n2", lease).await.unwrap(), Claim::Mine(_)));

    // A crashed invocation's claim frees itself when its lease passes.
    assert!(matches!(state.claim("r", "n3", Duration::from_millis(1)).await.unwrap(), Claim::Mine(_)));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(matches!(other.claim("r", "n3", lease).await.unwrap(), Claim::Mine(_)), "abandoned claims are taken over");

    // Seen once; locks exclude and are given back.
    assert!(state.first_time("sig-1", Duration::from_secs(600)).await.unwrap());
    assert!(!other.first_time("sig-1", Duration::from_secs(600)).await.unwrap());
    let lock = state.lock("remediate#ep", "routing rule route", Duration::from_secs(60)).await.unwrap().unwrap();
    let held = other.lock("remediate#ep", "Slack user alice", Duration::from_secs(60)).await.unwrap().unwrap_err();
    assert!(held.starts_with("routing rule route ("), "{held}");
    state.unlock(&lock).await.unwrap();
    assert!(other.lock("remediate#ep", "Slack user alice", Duration::from_secs(60)).await.unwrap().is_ok());
}

#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<sagealarm::remediate::Request>>);
impl sagealarm::remediate::dispatch::Dispatch for Recorder {
    fn dispatch<'a>(&'a self, req: &'a sagealarm::remediate::Request) -> futures::future::BoxFuture<'a, Result<(), String>> {
        self.0.lock().unwrap().push(req.clone());
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn a_replayed_slack_click_on_another_instance_is_refused() {
    if !emulators() {
        return;
    }
    use sagealarm::slack_actions::{signature, SlackActions};
    let state = table().await;
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let rec = std::sync::Arc::new(Recorder::default());
    let instance = || {
        SlackActions::new(sagealarm::secrets::Secret::new(secret), vec!["U1".into()], vec![])
            .unwrap()
            .with_remediation(rec.clone())
            .with_state(state.clone())
    };
    let request = serde_json::json!({
        "action": "scale-out",
        "alarm": { "alarm_name": "a", "alarm_key": "arn:x@2026-11-20T14:07:31+00:00", "state": "ALARM", "endpoint": "ep" },
        "requested_by": "", "receivers": []
    });
    let payload = serde_json::json!({
        "type": "block_actions", "user": { "id": "U1", "username": "alice" }, "channel": { "id": "C1" },
        "actions": [{ "action_id": "sagealarm-remediate-scale-out", "value": request.to_string() }]
    });
    let body = format!("payload={}", percent_encoding::utf8_percent_encode(&payload.to_string(), percent_encoding::NON_ALPHANUMERIC));
    let now = chrono::Utc::now().timestamp();
    let ts = now.to_string();
    let sig = signature::sign(secret.as_bytes(), &ts, body.as_bytes());
    let first = instance().handle(Some(&ts), Some(&sig), body.as_bytes(), now).await;
    assert_eq!(first.status, 200, "{first:?}");
    let replay = instance().handle(Some(&ts), Some(&sig), body.as_bytes(), now).await;
    assert_eq!((replay.status, replay.body.as_str()), (401, "invalid request: this exact request was already received (replay)"));
    assert_eq!(rec.0.lock().unwrap().len(), 1, "only the first click was handed over");
}

#[tokio::test]
async fn a_second_remediation_of_the_same_endpoint_at_the_same_moment_is_refused() {
    if !emulators() {
        return;
    }
    let (slack, pd, state) = (SlackApi::start().await, pagerduty().await, table().await);
    let app = instance(&slack, &pd, Some(state.clone()));
    let sdk = sagealarm_testkit::sdk().await;
    let remediator = sagealarm::remediate::aws::Remediator::new(&sdk, sagealarm::remediate::Policy::default());
    let endpoint = unique("ep");
    // A rule's request holds the endpoint's lock (its decision under way on another instance).
    let held = state.lock(&format!("remediate#{endpoint}"), "routing rule route", Duration::from_secs(60)).await.unwrap().unwrap();
    let req: sagealarm::remediate::Request = serde_json::from_value(serde_json::json!({
        "action": "scale-out",
        "alarm": { "alarm_name": "a", "alarm_key": "arn:x@2026-11-20T14:07:31+00:00", "state": "ALARM", "endpoint": endpoint },
        "requested_by": "Slack user alice (U1) in C1", "receivers": ["sre-app"]
    }))
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let carried = sagealarm::app::carry_out(&req, &remediator, &app, chrono::Utc::now(), deadline).await;
    assert_eq!(carried.outcome.decision, sagealarm::remediate::Decision::Refused);
    assert!(
        carried.outcome.reason.starts_with(&format!("another remediation of {endpoint} is in progress (requested by routing rule route (")),
        "{}",
        carried.outcome.reason
    );
    assert!(carried.follow_ups.iter().all(|f| f.ok), "{:?}", carried.follow_ups);
    assert!(slack.calls().await[0].text().contains("another remediation of"));
    state.unlock(&held).await.unwrap();
}
