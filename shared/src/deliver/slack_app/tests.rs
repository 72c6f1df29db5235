use super::*;
use crate::deliver::http::{client, RetryPolicy};
use crate::deliver::slack::render::check_limits;
use crate::model::AlarmState;
use crate::render::test_support::{fixture, hostile_report, reports_from_str};
use crate::state::thread::Thread;
use chrono::{DateTime, Utc};
use tokio::time::Instant;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "xoxb-123-456-SECRETTOKEN";

fn app(server: &MockServer) -> SlackApp {
    SlackApp {
        name: "sre".into(),
        token: Secret::new(TOKEN),
        channel: "C0123ABCDEF".into(),
        api_url: format!("{}/api", server.uri()),
        controls: true,
    }
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        max_retries: 1,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(5),
        retry_after_jitter: Duration::from_millis(5),
        deadline_margin: Duration::from_millis(50),
        request_timeout: Duration::from_secs(2),
    }
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

async fn send(a: &SlackApp, report: &Report, incident: &Incident) -> Result<Sent, Failure> {
    let (http, retry) = (client(&fast()).unwrap(), fast());
    let out = Outbox { client: &http, retry: &retry, deadline: Instant::now() + Duration::from_secs(20), state: None };
    a.send(
        out,
        Message::Alarm {
            report,
            severity: crate::model::Severity::Critical,
            offers: &[],
            incident,
            group: None,
            extras: &Extras::default(),
        },
    )
    .await
}

fn report(name: &str) -> Report {
    reports_from_str(&fixture(name)).remove(0)
}

fn changed_at(r: &Report) -> DateTime<Utc> {
    let Report::Alarm(a) = r else { panic!("an alarm") };
    a.alarm.state_change_time.unwrap()
}

async fn bodies(s: &MockServer, p: &str) -> Vec<(Value, Option<String>)> {
    let reqs = s.received_requests().await.unwrap();
    reqs.iter()
        .filter(|r| r.url.path() == p)
        .map(|r| (serde_json::from_slice(&r.body).unwrap(), r.headers.get("authorization").map(|h| h.to_str().unwrap().to_string())))
        .collect()
}

#[tokio::test]
async fn the_first_alarm_posts_a_parent_with_the_token_only_in_the_header() {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ok(json!({"ok": true, "channel": "C0123ABCDEF", "ts": "1790000000.000100"})))
        .expect(1)
        .mount(&s)
        .await;
    let r = report("sns-gpu-utilization-alarm.json");
    let sent = send(&app(&s), &r, &Incident::default()).await.unwrap();
    let t = sent.thread.unwrap();
    assert_eq!((t.channel.as_str(), t.ts.as_str(), t.state), ("C0123ABCDEF", "1790000000.000100", AlarmState::Alarm));
    let (body, _) = bodies(&s, "/api/chat.postMessage").await.remove(0);
    assert_eq!(body["channel"], "C0123ABCDEF");
    assert!(body.get("thread_ts").is_none());
    assert!(!body.to_string().contains("SECRETTOKEN"));
    check_limits(&body).unwrap();
}

#[tokio::test]
async fn a_resolve_updates_the_parent_and_replies_in_its_thread() {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.update"))
        .and(body_partial_json(json!({"channel": "C0123ABCDEF", "ts": "1790000000.000100"})))
        .respond_with(ok(json!({"ok": true, "channel": "C0123ABCDEF", "ts": "1790000000.000100"})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .and(body_partial_json(json!({"thread_ts": "1790000000.000100"})))
        .respond_with(ok(json!({"ok": true, "channel": "C0123ABCDEF", "ts": "1790000100.000200"})))
        .expect(1)
        .mount(&s)
        .await;
    let alarm = report("sns-high-concurrency-alarm.json");
    let ok_report = report("sns-high-concurrency-ok.json");
    let opened = changed_at(&alarm);
    let thread = Thread::start("C0123ABCDEF".into(), "1790000000.000100".into(), AlarmState::Alarm, opened);
    let sent = send(&app(&s), &ok_report, &Incident { thread: Some(thread), ..Incident::default() }).await.unwrap();
    let next = sent.thread.unwrap();
    assert_eq!((next.state, next.ts.as_str(), next.history.len()), (AlarmState::Ok, "1790000000.000100", 2));

    let (update, _) = bodies(&s, "/api/chat.update").await.remove(0);
    let lasted = render::lasted(changed_at(&ok_report) - opened);
    let history = update["blocks"][1]["elements"][0]["text"].as_str().unwrap();
    assert!(
        history.starts_with("🔴 ALARM ") && history.contains(" → ✅ OK ") && history.ends_with(&format!("resolved after {lasted}")),
        "{history}"
    );
    assert!(update["blocks"][0]["text"]["text"].as_str().unwrap().contains("OK"), "the parent shows the new state: {update}");
    check_limits(&update).unwrap();
    let (reply, _) = bodies(&s, "/api/chat.postMessage").await.remove(0);
    let text = reply["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(
        text.starts_with("*✅ OK at ") && text.contains("(was 🔴 ALARM since ") && text.contains(&format!("resolved after {lasted}")),
        "{text}"
    );
}

#[tokio::test]
async fn a_parent_that_cannot_be_edited_any_more_gets_a_new_one() {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.update"))
        .respond_with(ok(json!({"ok": false, "error": "message_not_found"})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ok(json!({"ok": true, "channel": "C0123ABCDEF", "ts": "1790000200.000300"})))
        .expect(1)
        .mount(&s)
        .await;
    let r = report("sns-high-concurrency-ok.json");
    let thread =
        Thread::start("C0123ABCDEF".into(), "1790000000.000100".into(), AlarmState::Alarm, changed_at(&r) - chrono::Duration::minutes(5));
    let sent = send(&app(&s), &r, &Incident { thread: Some(thread), ..Incident::default() }).await.unwrap();
    assert_eq!(sent.thread.unwrap().ts, "1790000200.000300");
    let (body, _) = bodies(&s, "/api/chat.postMessage").await.remove(0);
    assert!(body.get("thread_ts").is_none(), "a new parent, not a reply");
}

#[tokio::test]
async fn web_api_errors_say_what_to_fix_and_whether_to_retry() {
    let a = SlackApp {
        name: "sre".into(),
        token: Secret::new(TOKEN),
        channel: "C0123ABCDEF".into(),
        api_url: "http://x".into(),
        controls: true,
    };
    for (code, fix) in [
        ("not_in_channel", "invite the bot"),
        ("channel_not_found", "check the channel ID"),
        ("missing_scope", "add the missing bot scope"),
        ("invalid_auth", "check the bot token"),
    ] {
        let f = a.classify(200, None, &json!({"ok": false, "error": code}).to_string()).unwrap_err();
        assert!(!f.retryable && f.message.starts_with(&format!("Slack Web API error: {code} (")) && f.message.contains(fix), "{f:?}");
        assert_eq!(f.code.as_deref(), Some(code));
    }
    let f = a.classify(429, Some(Duration::from_secs(3)), "").unwrap_err();
    assert!(f.retryable && f.retry_after == Some(Duration::from_secs(3)), "{f:?}");
    let f = a.classify(200, Some(Duration::from_secs(1)), r#"{"ok":false,"error":"ratelimited"}"#).unwrap_err();
    assert!(f.retryable, "{f:?}");
    let f = a.classify(503, None, "").unwrap_err();
    assert!(f.retryable, "{f:?}");
    let f = a.classify(200, None, "<html>").unwrap_err();
    assert!(!f.retryable && f.message == "Slack Web API error: unreadable answer", "{f:?}");
    assert!(a.classify(200, None, r#"{"ok":true,"ts":"1.2"}"#).is_ok());
}

#[tokio::test]
async fn a_permanent_error_is_not_retried_and_never_shows_the_token() {
    let s = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ok(json!({"ok": false, "error": "not_in_channel"}))).expect(1).mount(&s).await;
    let f = send(&app(&s), &report("sns-5xx-errors-alarm.json"), &Incident::default()).await.unwrap_err();
    assert!(!f.retryable && f.message.contains("not_in_channel") && !f.message.contains("SECRETTOKEN"), "{f:?}");
}

#[tokio::test]
async fn hostile_text_stays_within_the_limits_in_parent_update_and_reply() {
    let r = hostile_report(10_000);
    let Report::Alarm(a) = &r else { panic!() };
    let at = a.alarm.state_change_time.unwrap();
    let mut t = Thread::start("C1".into(), "1.1".into(), AlarmState::Alarm, at - chrono::Duration::minutes(90));
    for i in 0..20 {
        t = t.told(if i % 2 == 0 { AlarmState::Ok } else { AlarmState::Alarm }, at - chrono::Duration::minutes(80 - i));
    }
    let parent = render::parent(crate::deliver::slack::render::render(&r, &[]), &t);
    check_limits(&parent).unwrap();
    assert!(render::history(&t).contains(" → … → "), "{}", render::history(&t));
    let reply = render::reply(a, &t, &t.told(a.alarm.state, at));
    check_limits(&reply).unwrap();
    assert!(!reply.to_string().contains("<!channel>"), "mentions are escaped");
}

#[test]
fn the_channel_must_be_an_id() {
    let doc =
        |ch: &str| format!("receivers: [{{name: a, slack_app: {{token: \"ssm:/t\", channel: \"{ch}\"}}}}]\nroute: {{receivers: [a]}}");
    let e = crate::deliver::Routing::parse(&doc("#alerts")).unwrap_err().to_string();
    assert!(e.starts_with("routing document: receivers[0].slack_app.channel: \"#alerts\" is not a channel ID"), "{e}");
    assert!(crate::deliver::Routing::parse(&doc("C0123ABCDEF")).is_ok());
    let e = crate::deliver::Routing::parse(
        "receivers: [{name: a, slack_app: {token: \"ssm:/t\", channel: C0123ABCDEF, webhook_url: x}}]\nroute: {receivers: [a]}",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("unknown field `webhook_url`"), "{e}");
}

#[test]
fn durations_read_as_people_say_them() {
    let m = chrono::Duration::minutes;
    assert_eq!(
        [render::lasted(m(0)), render::lasted(m(23)), render::lasted(m(125)), render::lasted(m(3 * 1440 + 250))],
        ["under 1 min", "23 min", "2 h 5 min", "3 d 4 h"]
    );
}

#[tokio::test]
async fn a_grouped_alarm_without_a_state_table_is_posted_on_its_own_saying_why() {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ok(json!({"ok": true, "channel": "C0123ABCDEF", "ts": "1.1"})))
        .expect(1)
        .mount(&s)
        .await;
    let r = report("sns-high-concurrency-alarm.json");
    let spec = crate::route::GroupSpec { by: vec![crate::route::group::GroupBy::Endpoint], window: Duration::from_secs(600) };
    let group = spec.group_of(&crate::route::Facts::of(&r)).unwrap();
    let (http, retry) = (client(&fast()).unwrap(), fast());
    let out = Outbox { client: &http, retry: &retry, deadline: Instant::now() + Duration::from_secs(20), state: None };
    let incident = Incident::default();
    let message = Message::Alarm {
        report: &r,
        severity: crate::model::Severity::Critical,
        offers: &[],
        incident: &incident,
        group: Some(&group),
        extras: &Extras::default(),
    };
    let sent = app(&s).send(out, message).await.unwrap();
    assert!(sent.thread.is_some(), "its own thread is kept");
    let (body, _) = bodies(&s, "/api/chat.postMessage").await.remove(0);
    assert!(body.get("thread_ts").is_none());
    assert!(
        body.to_string().contains("not grouped with endpoint=deepgram-prod: grouping needs the state table (SAGEALARM_STATE_TABLE)"),
        "{body}"
    );
}

#[test]
fn a_group_summary_puts_the_worst_first_and_stays_in_slacks_limits() {
    use crate::model::Severity;
    use crate::state::group::{member_id, GroupThread, Member};
    let at = |m: u32| DateTime::parse_from_rfc3339(&format!("2026-11-20T14:{m:02}:00Z")).unwrap().with_timezone(&Utc);
    let spec = crate::route::GroupSpec { by: vec![crate::route::group::GroupBy::Endpoint], window: Duration::from_secs(600) };
    let facts = crate::route::Facts { alarm_name: "x", endpoint: Some("ep1"), ..Default::default() };
    let group = spec.group_of(&facts).unwrap();
    let mut g = GroupThread::open(
        "C1",
        "ep1",
        &member_id("a"),
        Member::new("ep1-latency", AlarmState::Ok, at(7), Severity::Warning),
        Duration::ZERO,
    );
    g.members.insert(member_id("b"), Member::new("ep1-5xx <!channel>", AlarmState::Alarm, at(9), Severity::Critical));
    g.members.insert(member_id("c"), Member::new("ep1-gpu", AlarmState::Alarm, at(8), Severity::Warning));
    g.opened_at = at(7);
    let msg = render::summary(&g, &group);
    let text = msg.to_string();
    assert!(text.contains("🔴 ep1: 2 of 3 alarms in ALARM"), "{text}");
    let (x, y, z) = (text.find("ep1-5xx").unwrap(), text.find("ep1-gpu").unwrap(), text.find("ep1-latency").unwrap());
    assert!(x < y && y < z, "critical ALARM, then ALARM, then OK: {text}");
    assert!(!text.contains("<!channel>"), "untrusted names are escaped: {text}");
    assert!(text.contains("Grouped by endpoint=ep1 · since 14:07 UTC"), "{text}");
    check_limits(&msg).unwrap();
    // A big group: within Slack's limits, saying how many are not listed.
    for i in 0..600 {
        g.members.insert(
            member_id(&i.to_string()),
            Member::new(&format!("alarm-{i:03}-{}", "x".repeat(60)), AlarmState::Alarm, at(10), Severity::Error),
        );
    }
    let msg = render::summary(&g, &group);
    check_limits(&msg).unwrap();
    assert!(msg.to_string().contains("more: the thread has each one"), "{msg}");
    // Resolved: all OK.
    for m in g.members.values_mut() {
        m.state = AlarmState::Ok;
    }
    let text = render::summary(&g, &group).to_string();
    assert!(text.contains("✅ ep1: all 603 alarms OK") && text.contains("resolved after 3 min"), "{text}");
}

/// An enriched GPU alarm with one hot GPU: a report the chart can draw.
fn drawable() -> Report {
    use crate::enrich::metrics::ENDPOINTS_NS;
    use crate::render::test_support::{fleet_series, with_fleet};
    let hot = |i: usize, g: usize, _k: i64, at: f64| if i == 1 && g == 2 && at > 0.5 { 99.0 } else { 40.0 };
    Report::Alarm(Box::new(with_fleet("sns-gpu-utilization-alarm.json", |w| {
        fleet_series(w, (ENDPOINTS_NS, "GPUUtilizationNormalized", "Average"), 2, 4, hot)
    })))
}

async fn mount_upload(s: &MockServer, complete: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ok(json!({"ok": true, "channel": "C0123ABCDEF", "ts": "1700000000.000100"})))
        .mount(s)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/files.getUploadURLExternal"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ok(json!({"ok": true, "upload_url": format!("{}/upload/F0CHART", s.uri()), "file_id": "F0CHART"})))
        .expect(1)
        .mount(s)
        .await;
    Mock::given(method("POST"))
        .and(path("/upload/F0CHART"))
        .respond_with(ResponseTemplate::new(200).set_body_string("OK - 1234"))
        .expect(1)
        .mount(s)
        .await;
    Mock::given(method("POST")).and(path("/api/files.completeUploadExternal")).respond_with(complete).expect(1).mount(s).await;
}

fn form_of(r: &wiremock::Request) -> std::collections::HashMap<String, String> {
    form_urlencoded::parse(&r.body).into_owned().collect()
}

#[tokio::test]
async fn an_alarms_chart_is_uploaded_into_its_thread_without_the_token_leaving_slack() {
    let s = MockServer::start().await;
    mount_upload(&s, ok(json!({"ok": true, "files": [{"id": "F0CHART"}]}))).await;
    let r = drawable();
    let sent = send(&app(&s), &r, &Incident::default()).await.unwrap();
    assert_eq!(sent.note, None);
    let reqs = s.received_requests().await.unwrap();
    let order: Vec<&str> = reqs.iter().map(|r| r.url.path()).collect();
    assert_eq!(order, ["/api/chat.postMessage", "/api/files.getUploadURLExternal", "/upload/F0CHART", "/api/files.completeUploadExternal"]);
    let ask = form_of(&reqs[1]);
    assert_eq!(ask["filename"], "sagealarm-chart.png");
    let png = &reqs[2].body;
    assert_eq!(ask["length"], png.len().to_string());
    assert!(png.starts_with(b"\x89PNG"), "the bytes are the PNG");
    assert!(reqs[2].headers.get("authorization").is_none(), "the bot token does not go to the upload URL");
    let share = form_of(&reqs[3]);
    assert_eq!((share["channel_id"].as_str(), share["thread_ts"].as_str()), ("C0123ABCDEF", "1700000000.000100"));
    let files: Value = serde_json::from_str(&share["files"]).unwrap();
    assert_eq!(files[0]["id"], "F0CHART");
    assert!(files[0]["title"].as_str().unwrap().contains("GPUUtilizationNormalized"), "{files}");
    for r in &reqs {
        assert!(!String::from_utf8_lossy(&r.body).contains("SECRETTOKEN"), "token in a body: {}", r.url);
    }
}

#[tokio::test]
async fn a_chart_that_cannot_be_uploaded_is_a_note_not_a_failed_delivery() {
    let s = MockServer::start().await;
    mount_upload(&s, ok(json!({"ok": false, "error": "missing_scope"}))).await;
    let sent = send(&app(&s), &drawable(), &Incident::default()).await.unwrap();
    let note = sent.note.unwrap();
    assert!(note.starts_with("chart not uploaded: Slack Web API error: missing_scope"), "{note}");
    assert!(sent.thread.is_some(), "the alarm's thread is kept");
}

#[test]
fn the_controls_are_offered_only_where_a_click_has_somewhere_to_go() {
    let r = report("sns-high-concurrency-alarm.json");
    let app = |controls| SlackApp {
        name: "sre".into(),
        token: Secret::new(TOKEN),
        channel: "C0123ABCDEF".into(),
        api_url: "http://x".into(),
        controls,
    };
    let (with, without) = (app(true), app(false));
    let ids = |a: &SlackApp| a.message(&r, &[], &Incident::default(), &Extras::default(), true).to_string();
    assert!(ids(&with).contains(crate::model::controls::ACK), "{}", ids(&with));
    assert!(!ids(&without).contains(crate::model::controls::ACK) && !ids(&without).contains("sagealarm_snooze"), "{}", ids(&without));
}
