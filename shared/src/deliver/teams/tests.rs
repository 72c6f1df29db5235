//! Every sample alarm to a valid card under the limit; hostile text stays inert; the webhook's
//! answers are read as Teams sends them (202, 429 with `Retry-After`, 400).

use super::render::{check, message, render};
use super::*;
use crate::deliver::http::RetryPolicy;
use crate::render::test_support::{all_reports, hostile_report};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[test]
fn every_sample_alarm_is_a_valid_card_under_the_limit() {
    let all = all_reports();
    assert!(all.len() >= 30);
    for (name, r) in all {
        let msg = message(render(&r, None));
        check(&msg).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn hostile_text_is_inert_and_a_huge_alarm_still_fits() {
    for len in [100, 10_000, 200_000] {
        let msg = message(render(&hostile_report(len), Some("⚠️ state unavailable".into())));
        check(&msg).unwrap_or_else(|e| panic!("{len}: {e}"));
        let s = msg.to_string();
        // Untrusted text only in TextRuns (never parsed as markdown); no TextBlock carries it.
        for b in msg["attachments"][0]["content"]["body"].as_array().unwrap() {
            if b["type"] == "TextBlock" {
                assert!(!b["text"].as_str().unwrap().contains("<!channel>"), "{b}");
            }
        }
        assert!(!s.contains("{{"), "no Adaptive Card function survives");
    }
}

#[test]
fn an_ok_names_the_alarm_it_resolves() {
    let r = crate::render::test_support::reports_from_str(&crate::render::test_support::fixture("sns-high-concurrency-ok.json")).remove(0);
    let s = message(render(&r, None)).to_string();
    assert!(s.contains("Resolves the earlier ALARM of "), "{s}");
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(10),
        retry_after_jitter: Duration::from_millis(5),
        deadline_margin: Duration::from_millis(100),
        request_timeout: Duration::from_secs(2),
    }
}

#[tokio::test]
async fn a_workflows_webhook_gets_the_card_and_429_is_retried_after_its_pause() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/workflows/hook"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/workflows/hook"))
        .and(body_string_contains("application/vnd.microsoft.card.adaptive"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    let teams = Teams { name: "teams".into(), webhook_url: Secret::new(format!("{}/workflows/hook", server.uri())) };
    let report = all_reports().into_iter().map(|(_, r)| r).next().unwrap();
    let incident = crate::deliver::Incident::default();
    let post = teams.render(&Message::Alarm {
        report: &report,
        severity: crate::model::Severity::Critical,
        offers: &[],
        incident: &incident,
        group: None,
        extras: &crate::deliver::Extras::default(),
    });
    let client = crate::deliver::http::client(&fast()).unwrap();
    let started = std::time::Instant::now();
    crate::deliver::http::deliver(&client, &teams, &post, &fast(), tokio::time::Instant::now() + Duration::from_secs(10)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was honoured");
}

#[test]
fn a_bad_card_is_not_retried_and_the_settings_are_checked() {
    let teams = Teams { name: "t".into(), webhook_url: Secret::new("https://x") };
    let f = teams.classify(400, None, "Bad Request: AdaptiveCard schema").unwrap_err();
    assert!(!f.retryable && f.message.contains("Teams answered HTTP 400"), "{f:?}");
    assert!(teams.classify(503, None, "").unwrap_err().retryable);
    let doc = |url: &str| format!("receivers: [{{name: t, teams: {{webhook_url: \"{url}\"}}}}]\nroute: {{receivers: [t]}}");
    assert!(crate::deliver::Routing::parse(&doc("ssm:/sagealarm/teams")).is_ok());
    let e = crate::deliver::Routing::parse(&doc("ftp://x")).unwrap_err().to_string();
    assert!(e.contains("unknown secret reference scheme") || e.contains("webhook_url"), "{e}");
}
