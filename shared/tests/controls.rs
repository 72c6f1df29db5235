//! Acting from the message, end to end: an ALARM's Slack parent carries Acknowledge and Snooze; a
//! signed click by an allowed user is recorded in the state table (moto's DynamoDB), updates the
//! parent (the Slack Web API stand-in) and acknowledges PagerDuty's incident with the same
//! dedup_key (a PagerDuty stand-in); a snooze holds the next ALARM back from PagerDuty and from
//! mentions; an unlisted user changes nothing; a snooze can also put a CloudWatch alarm mute rule
//! (the SDK's mock layer: no emulator serves PutAlarmMuteRule).
//!
//! Without the emulators these tests say so and pass, unless `SAGEALARM_REQUIRE_EMULATORS=1`.

use sagealarm::app::{App, EnrichMode};
use sagealarm::deliver::{Receivers, Routing};
use sagealarm::model::controls;
use sagealarm::secrets::{Secret, SecretResolver};
use sagealarm::slack_actions::{signature, SlackActions};
use sagealarm::state::StateTable;
use sagealarm_testkit::slack_api::{Call, SlackApi};
use sagealarm_testkit::{emulators, fresh_state_table, quick_retry, unique};
use serde_json::{json, Value};
use std::sync::Arc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
async fn table() -> StateTable {
    fresh_state_table("sagealarm-controls").await.unwrap()
}

fn routing(slack: &SlackApi, pd: &MockServer) -> Routing {
    routing_with(slack, pd, "")
}

/// The test's routing document, `extra` added to its route (e.g. a `group`).
fn routing_with(slack: &SlackApi, pd: &MockServer, extra: &str) -> Routing {
    std::env::set_var("SAGEALARM_TEST_BOT_TOKEN", "xoxb-1-2-TESTTOKEN");
    let doc = format!(
        "receivers:\n  - {{name: sre-app, slack_app: {{token: \"env:SAGEALARM_TEST_BOT_TOKEN\", channel: C0SRE12345, api_url: \"{}\"}}}}\n  - {{name: pager, pagerduty: {{routing_key: \"0123456789abcdef0123456789abcdef\", events_url: \"{}/pd\"}}}}\nroute:\n  receivers: [sre-app, pager]\n  mention: [U0ONCALL1]\n  links: [{{text: Runbook, url: \"https://runbooks.example.com/{{endpoint}}\"}}]\n{extra}",
        slack.url(),
        pd.uri()
    );
    Routing::parse(&doc).unwrap()
}

fn app(slack: &SlackApi, pd: &MockServer, state: &StateTable) -> App {
    app_with(routing(slack, pd), state)
}

fn app_with(routing: Routing, state: &StateTable) -> App {
    App::new(routing, SecretResolver::new(None, true), EnrichMode::Off("test".into()), quick_retry())
        .unwrap()
        .with_state(state.clone())
        .with_buttons(true)
}

fn actions(slack: &SlackApi, pd: &MockServer, state: &StateTable) -> SlackActions {
    let receivers = Receivers::new(routing(slack, pd).receivers, SecretResolver::new(None, true), quick_retry())
        .unwrap()
        .with_state(state.clone())
        .with_buttons(true);
    SlackActions::new(Secret::new(SECRET), vec!["U0ALICE".into(), "U0BOB".into()], vec![])
        .unwrap()
        .with_receivers(Arc::new(receivers))
        .with_state(state.clone())
}

fn event(fixture: &str, alarm: &str, at: &str) -> Value {
    let raw = std::fs::read_to_string(format!("{}/../events/{fixture}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_json::from_str(&raw.replace("deepgram-high-concurrency", alarm).replace("14:07:31.512", at).replace("14:31:02.004", at)).unwrap()
}

async fn pagerduty() -> MockServer {
    let pd = MockServer::start().await;
    Mock::given(method("POST")).and(path("/pd")).respond_with(ResponseTemplate::new(202)).mount(&pd).await;
    pd
}

async fn pd_events(pd: &MockServer) -> Vec<Value> {
    pd.received_requests().await.unwrap().iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect()
}

/// The parent's control of `action_id` (prefix), as Slack would send it back in a click.
fn control(parent: &Call, action_prefix: &str) -> Value {
    parent.body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["block_id"] == "sagealarm_controls")
        .flat_map(|b| b["elements"].as_array().unwrap().clone())
        .find(|e| e["action_id"].as_str().is_some_and(|id| id.starts_with(action_prefix)))
        .unwrap_or_else(|| panic!("no {action_prefix} on the parent: {}", parent.body))
}

/// A signed `block_actions` request for a click on `element` of `parent` by `user`.
async fn click(a: &SlackActions, parent: &Call, element: &Value, user: &str) -> sagealarm::slack_actions::Response {
    let payload = json!({
        "type": "block_actions",
        "user": { "id": user, "username": user.to_lowercase() },
        "channel": { "id": "C0SRE12345" },
        "message": { "ts": parent.ts, "text": parent.body["text"], "blocks": parent.body["blocks"] },
        "actions": [{ "action_id": element["action_id"], "value": element["value"] }]
    });
    let body = format!("payload={}", percent_encoding::utf8_percent_encode(&payload.to_string(), percent_encoding::NON_ALPHANUMERIC));
    let now = chrono::Utc::now().timestamp();
    let sig = signature::sign(SECRET.as_bytes(), &now.to_string(), body.as_bytes());
    a.handle(Some(&now.to_string()), Some(&sig), body.as_bytes(), now).await
}

#[tokio::test]
async fn acknowledge_updates_the_parent_and_pagerduty_and_a_second_click_is_harmless() {
    if !emulators() {
        return;
    }
    let (slack, pd, state) = (SlackApi::start().await, pagerduty().await, table().await);
    let alarm = unique("ack");
    app(&slack, &pd, &state).handle(&event("sns-high-concurrency-alarm.json", &alarm, "14:07:31.512")).await.unwrap();
    let calls = slack.calls().await;
    let parent = calls.iter().find(|c| c.method == "chat.postMessage").unwrap().clone();
    let text = parent.text();
    assert!(text.contains("cc <@U0ONCALL1>"), "the ALARM mentions the route's owner: {text}");
    // The route's link, as a button (its URL with the endpoint filled in).
    assert!(parent.body.to_string().contains(r#""url":"https://runbooks.example.com/deepgram-prod""#), "the route's link: {}", parent.body);
    for id in [controls::ACK, controls::SNOOZE] {
        control(&parent, id);
    }

    let a = actions(&slack, &pd, &state);
    let ack = control(&parent, controls::ACK);
    assert_eq!(click(&a, &parent, &ack, "U0ALICE").await.status, 200);
    let update = slack.calls().await.into_iter().rfind(|c| c.method == "chat.update").expect("the parent was updated");
    assert!(update.text().contains("👀 acknowledged by <@U0ALICE>"), "{}", update.text());
    assert!(!update.text().contains(controls::ACK), "no Acknowledge left: {}", update.text());
    let events = pd_events(&pd).await;
    let trigger = events.iter().find(|e| e["event_action"] == "trigger").unwrap();
    let acks: Vec<&Value> = events.iter().filter(|e| e["event_action"] == "acknowledge").collect();
    assert_eq!(acks.len(), 1, "{events:#?}");
    assert_eq!(acks[0]["dedup_key"], trigger["dedup_key"]);

    // A second click (another allowed user, on the stale message) changes nothing. (The same
    // user's identical request in the same second is refused earlier, as a replay.)
    let before = (slack.calls().await.len(), pd_events(&pd).await.len());
    assert_eq!(click(&a, &parent, &ack, "U0BOB").await.status, 200);
    assert_eq!((slack.calls().await.len(), pd_events(&pd).await.len()), before);
}

#[tokio::test]
async fn a_snoozed_alarm_updates_its_thread_without_paging_or_mentioning() {
    if !emulators() {
        return;
    }
    let (slack, pd, state) = (SlackApi::start().await, pagerduty().await, table().await);
    let alarm = unique("snooze");
    let app = app(&slack, &pd, &state);
    app.handle(&event("sns-high-concurrency-alarm.json", &alarm, "14:07:31.512")).await.unwrap();
    let parent = slack.calls().await.into_iter().find(|c| c.method == "chat.postMessage").unwrap();
    let a = actions(&slack, &pd, &state);
    assert_eq!(click(&a, &parent, &control(&parent, "sagealarm_snooze_1h"), "U0ALICE").await.status, 200);
    let update = slack.calls().await.into_iter().rfind(|c| c.method == "chat.update").unwrap();
    assert!(update.text().contains("🔕 snoozed by <@U0ALICE> until "), "{}", update.text());
    assert!(update.text().contains(controls::UNSNOOZE), "Unsnooze while snoozed: {}", update.text());

    // A new notification of the alarm while it is snoozed (ALARM again a minute later): the thread
    // is told, PagerDuty is not, nobody is mentioned. (An OK would end the snooze.)
    let triggers_before = pd_events(&pd).await.iter().filter(|e| e["event_action"] == "trigger").count();
    let again = event("sns-high-concurrency-alarm.json", &alarm, "14:08:31.512");
    let mut again = again;
    again["Records"][0]["Sns"]["MessageId"] = "another-message".into();
    let summary = app.handle(&again).await.unwrap();
    assert!(
        summary
            .deliveries
            .iter()
            .any(|d| d.receiver == "pager" && d.note.as_deref().is_some_and(|n| n.starts_with("not paged: snoozed by U0ALICE"))),
        "{summary:?}"
    );
    let triggers_after = pd_events(&pd).await.iter().filter(|e| e["event_action"] == "trigger").count();
    assert_eq!(triggers_after, triggers_before, "nobody paged while snoozed");
    let calls = slack.calls().await;
    let reply = calls.iter().rfind(|c| c.method == "chat.postMessage" && c.body["thread_ts"].is_string()).expect("the thread was told");
    assert!(!reply.text().contains("<@U0ONCALL1>"), "no mention while snoozed: {}", reply.text());
}

/// A grouped alarm's detail, a reply in its group's thread, carries the alarm's own controls and
/// the route's links (the group's summary parent none); Acknowledge updates that reply, not the
/// summary, and acknowledges the alarm's PagerDuty incident.
#[tokio::test]
async fn a_grouped_alarm_is_acknowledged_on_its_reply_in_the_groups_thread() {
    if !emulators() {
        return;
    }
    let (slack, pd, state) = (SlackApi::start().await, pagerduty().await, table().await);
    let alarm = unique("grouped-ack");
    let app = app_with(routing_with(&slack, &pd, "  group: { by: [alarm] }\n"), &state);
    app.handle(&event("sns-high-concurrency-alarm.json", &alarm, "14:07:31.512")).await.unwrap();
    let accepted: Vec<Call> = slack.accepted().into_iter().map(|(_, c)| c).collect();
    let summary = accepted.iter().find(|c| c.method == "chat.postMessage" && c.body["thread_ts"].is_null()).expect("the group's parent");
    assert!(
        !summary.text().contains(controls::ACK) && !summary.text().contains("<@U0ONCALL1>"),
        "the summary: no controls, no mention: {}",
        summary.text()
    );
    let reply = accepted
        .iter()
        .find(|c| c.method == "chat.postMessage" && c.body["thread_ts"].as_str() == summary.ts.as_deref())
        .expect("the reply");
    assert!(reply.text().contains("https://runbooks.example.com/deepgram-prod"), "the route's link: {}", reply.text());
    assert!(!reply.text().contains("<@U0ONCALL1>"), "a thread reply mentions nobody: {}", reply.text());

    let a = actions(&slack, &pd, &state);
    assert_eq!(click(&a, reply, &control(reply, controls::ACK), "U0ALICE").await.status, 200);
    let update = slack.calls().await.into_iter().rfind(|c| c.method == "chat.update").expect("an update");
    assert_eq!(update.body["ts"].as_str(), reply.ts.as_deref(), "the reply is updated, not the summary");
    assert!(update.text().contains("👀 acknowledged by <@U0ALICE>"), "{}", update.text());
    let events = pd_events(&pd).await;
    let trigger = events.iter().find(|e| e["event_action"] == "trigger").unwrap();
    let ack = events.iter().find(|e| e["event_action"] == "acknowledge").expect("PagerDuty acknowledged");
    assert_eq!(ack["dedup_key"], trigger["dedup_key"]);
}

#[tokio::test]
async fn a_user_off_the_allowlist_changes_nothing() {
    if !emulators() {
        return;
    }
    let (slack, pd, state) = (SlackApi::start().await, pagerduty().await, table().await);
    let alarm = unique("mallory");
    app(&slack, &pd, &state).handle(&event("sns-high-concurrency-alarm.json", &alarm, "14:07:31.512")).await.unwrap();
    let parent = slack.calls().await.into_iter().find(|c| c.method == "chat.postMessage").unwrap();
    let before = (slack.calls().await.len(), pd_events(&pd).await.len());
    let a = actions(&slack, &pd, &state);
    assert_eq!(click(&a, &parent, &control(&parent, controls::ACK), "U0MALLORY").await.status, 200);
    assert_eq!((slack.calls().await.len(), pd_events(&pd).await.len()), before);
    let target: controls::ControlTarget = serde_json::from_str(control(&parent, controls::ACK)["value"].as_str().unwrap()).unwrap();
    assert_eq!(state.incident(&target.alarm).await.unwrap(), Default::default(), "nothing recorded");
}

/// With `SAGEALARM_SNOOZE_MUTE_RULES`, a timed snooze also puts a CloudWatch alarm mute rule over
/// its window (`at(…)` + its length, on this alarm only), and an unsnooze deletes it.
#[tokio::test]
async fn a_snooze_can_mute_the_alarms_other_actions_with_a_mute_rule() {
    if !emulators() {
        return;
    }
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    let put = mock!(aws_sdk_cloudwatch::Client::put_alarm_mute_rule)
        .match_requests(|r| {
            let s = r.rule().and_then(|r| r.schedule());
            s.and_then(|s| s.expression()).is_some_and(|e| e.starts_with("at("))
                && s.and_then(|s| s.duration()) == Some("PT240M")
                && r.mute_targets().is_some_and(|t| t.alarm_names().len() == 1)
        })
        .then_output(|| aws_sdk_cloudwatch::operation::put_alarm_mute_rule::PutAlarmMuteRuleOutput::builder().build());
    let delete = mock!(aws_sdk_cloudwatch::Client::delete_alarm_mute_rule)
        .then_output(|| aws_sdk_cloudwatch::operation::delete_alarm_mute_rule::DeleteAlarmMuteRuleOutput::builder().build());
    let cw = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&put, &delete]);
    let (slack, pd, state) = (SlackApi::start().await, pagerduty().await, table().await);
    let alarm = unique("mute");
    app(&slack, &pd, &state).handle(&event("sns-high-concurrency-alarm.json", &alarm, "14:07:31.512")).await.unwrap();
    let parent = slack.calls().await.into_iter().find(|c| c.method == "chat.postMessage").unwrap();
    let a = actions(&slack, &pd, &state).with_mute_rules_client(cw);
    assert_eq!(click(&a, &parent, &control(&parent, "sagealarm_snooze_4h"), "U0ALICE").await.status, 200);
    assert_eq!(put.num_calls(), 1);
    let target: controls::ControlTarget = serde_json::from_str(control(&parent, controls::ACK)["value"].as_str().unwrap()).unwrap();
    let snooze = state.incident(&target.alarm).await.unwrap().snooze.expect("snoozed");
    assert!(snooze.mute_rule.as_deref().is_some_and(|n| n.starts_with("sagealarm-snooze-")), "{snooze:?}");
    let updated = slack.calls().await.into_iter().rfind(|c| c.method == "chat.update").unwrap();
    assert_eq!(click(&a, &updated, &control(&updated, controls::UNSNOOZE), "U0ALICE").await.status, 200);
    assert_eq!(delete.num_calls(), 1);
    assert_eq!(state.incident(&target.alarm).await.unwrap().snooze, None);
}
