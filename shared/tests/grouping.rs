//! Alarm storms grouped per endpoint (a route's `group`), end to end: separate `App`s as separate
//! Lambda instances, moto's DynamoDB on loopback (conditional writes), and the Slack Web API
//! stand-in keeping Slack's pace (one message per second per channel, `chat.update` 50 a minute).
//! `scripts/test.sh` starts the emulators; without them these tests say so and pass, unless
//! `SAGEALARM_REQUIRE_EMULATORS=1`.

use sagealarm::app::{App, EnrichMode};
use sagealarm::deliver::http::RetryPolicy;
use sagealarm::deliver::Routing;
use sagealarm::secrets::SecretResolver;
use sagealarm::state::StateTable;
use sagealarm_testkit::slack_api::{Call, SlackApi};
use sagealarm_testkit::{emulators, fresh_state_table, unique};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Instant;

async fn table() -> StateTable {
    fresh_state_table("sagealarm-groups").await.unwrap()
}

/// One Lambda instance with a Slack app receiver whose route groups by endpoint.
fn instance(slack: &SlackApi, state: &StateTable) -> App {
    std::env::set_var("SAGEALARM_TEST_BOT_TOKEN", "xoxb-1-2-TESTTOKEN");
    let doc = format!(
        "receivers:\n  - {{name: sre-app, slack_app: {{token: \"env:SAGEALARM_TEST_BOT_TOKEN\", channel: C0SRE12345, api_url: \"{}\"}}}}\nroute: {{receivers: [sre-app], group: {{by: [endpoint], window_s: 600}}}}",
        slack.url()
    );
    let app =
        App::new(Routing::parse(&doc).unwrap(), SecretResolver::new(None, true), EnrichMode::Off("test".into()), RetryPolicy::default());
    app.unwrap().with_state(state.clone())
}

/// The sample concurrency alarm renamed `alarm`, about `endpoint`, in `fixture`'s state.
fn event(fixture: &str, alarm: &str, endpoint: &str) -> Value {
    let raw = std::fs::read_to_string(format!("{}/../events/{fixture}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_json::from_str(&raw.replace("deepgram-high-concurrency", alarm).replace("deepgram-prod", endpoint)).unwrap()
}

fn replies(accepted: &[(Instant, Call)]) -> Vec<&Call> {
    accepted.iter().map(|(_, c)| c).filter(|c| c.method == "chat.postMessage" && c.body.get("thread_ts").is_some()).collect()
}

#[tokio::test]
async fn thirty_alarms_of_three_endpoints_make_three_parents_that_name_all_their_alarms() {
    if !emulators() {
        return;
    }
    let (slack, state) = (SlackApi::paced().await, table().await);
    let run = unique("g");
    let alarms: Vec<(String, String)> = (0..30).map(|i| (format!("{run}-ep{}", i % 3), format!("{run}-alarm{i:02}-ep{}", i % 3))).collect();
    let started = Instant::now();
    let jobs = alarms.iter().map(|(endpoint, name)| {
        let app = instance(&slack, &state);
        let ev = event("sns-high-concurrency-alarm.json", name, endpoint);
        async move { app.handle(&ev).await }
    });
    let results = futures::future::join_all(jobs).await;
    let took = started.elapsed();
    for (r, (_, name)) in results.iter().zip(&alarms) {
        let s = r.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(s.deliveries.iter().all(|d| d.ok && d.note.is_none()), "{name}: {:?}", s.deliveries);
    }
    let accepted = slack.accepted();
    let tops: Vec<&Call> =
        accepted.iter().map(|(_, c)| c).filter(|c| c.method == "chat.postMessage" && c.body.get("thread_ts").is_none()).collect();
    assert_eq!(tops.len(), 3, "one parent per endpoint: {:#?}", tops.iter().map(|c| c.text()).collect::<Vec<_>>());
    // Each alarm's detail is one reply in its own endpoint's thread.
    let replies = replies(&accepted);
    assert_eq!(replies.len(), 30);
    let mut thread_of_endpoint: BTreeMap<String, String> = BTreeMap::new();
    for (endpoint, name) in &alarms {
        let mine: Vec<&&Call> = replies.iter().filter(|c| c.text().contains(name.as_str())).collect();
        assert_eq!(mine.len(), 1, "{name}: one reply");
        let ts = mine[0].body["thread_ts"].as_str().unwrap().to_string();
        let kept = thread_of_endpoint.entry(endpoint.clone()).or_insert_with(|| ts.clone());
        assert_eq!(kept, &ts, "{name}: replied in its endpoint's thread");
    }
    // The final version of each parent names all ten of its alarms, and only those.
    let mut finals: BTreeMap<String, String> = BTreeMap::new();
    for (_, c) in accepted.iter().filter(|(_, c)| c.method == "chat.update") {
        finals.insert(c.body["ts"].as_str().unwrap().to_string(), c.text());
    }
    for (endpoint, ts) in &thread_of_endpoint {
        let parent_post = tops.iter().find(|c| c.text().contains(&format!("{endpoint}:"))).expect("a parent for the endpoint");
        let last = finals.get(ts).cloned().unwrap_or_else(|| parent_post.text());
        for (e, name) in &alarms {
            assert_eq!(last.contains(name.as_str()), e == endpoint, "{endpoint}'s parent and {name}: {last}");
        }
        assert!(last.contains("10 of 10 alarms in ALARM"), "{last}");
    }
    let updates = accepted.iter().filter(|(_, c)| c.method == "chat.update").count();
    eprintln!(
        "30 grouped alarms: {:.1} s, {} Slack calls accepted ({} parents, {} replies, {updates} updates), {} answered 429",
        took.as_secs_f64(),
        accepted.len(),
        tops.len(),
        replies.len(),
        slack.rate_limited()
    );
    assert!(updates <= 12, "parent updates coalesced: {updates}");
}

#[tokio::test]
async fn a_group_resolves_in_place_when_all_its_alarms_are_ok() {
    if !emulators() {
        return;
    }
    let (slack, state) = (SlackApi::start().await, table().await);
    let run = unique("r");
    let endpoint = format!("{run}-ep");
    let names: Vec<String> = (0..3).map(|i| format!("{run}-alarm{i}")).collect();
    for fixture in ["sns-high-concurrency-alarm.json", "sns-high-concurrency-ok.json"] {
        let jobs = names.iter().map(|n| {
            let app = instance(&slack, &state);
            let ev = event(fixture, n, &endpoint);
            async move { app.handle(&ev).await }
        });
        for r in futures::future::join_all(jobs).await {
            r.unwrap();
        }
    }
    let accepted = slack.accepted();
    let tops = accepted.iter().filter(|(_, c)| c.method == "chat.postMessage" && c.body.get("thread_ts").is_none()).count();
    assert_eq!(tops, 1, "one parent for the whole incident");
    assert_eq!(replies(&accepted).len(), 6, "each notification's detail in the thread");
    let last = accepted.iter().rev().find(|(_, c)| c.method == "chat.update").map(|(_, c)| c.text()).expect("the parent was updated");
    assert!(last.contains("all 3 alarms OK") && last.contains("resolved after"), "{last}");
    for n in &names {
        assert!(last.contains(n.as_str()), "{n} in {last}");
    }
}
