//! Every sample alarm to a valid custom notification; ALARM and OK of one alarm share a thread;
//! hostile text stays inert. Publishing to SNS is tested against moto (`shared/tests/q_developer.rs`).

use super::render::{check, render, thread_id};
use crate::model::Severity;
use crate::render::test_support::{all_reports, fixture, hostile_report, reports_from_str};
use crate::report::Report;

#[test]
fn every_sample_alarm_is_a_valid_notification() {
    for (name, r) in all_reports() {
        let n = render(&r, Severity::Critical, None);
        check(&n).unwrap_or_else(|e| panic!("{name}: {e}: {n}"));
    }
}

#[test]
fn alarm_and_ok_share_a_thread_and_contributors_have_their_own() {
    let thread = |f: &str| render(&reports_from_str(&fixture(f)).remove(0), Severity::Error, None)["metadata"]["threadId"].clone();
    assert_eq!(thread("sns-high-concurrency-alarm.json"), thread("sns-high-concurrency-ok.json"));
    assert_eq!(thread("sns-contributor-gpu-alarm.json"), thread("sns-contributor-gpu-ok.json"));
    assert_ne!(thread("sns-contributor-gpu-alarm.json"), thread("sns-high-concurrency-alarm.json"));
    assert!(thread_id("x").len() <= 64);
}

#[test]
fn hostile_text_cannot_format_link_or_mention() {
    for len in [200, 20_000] {
        let n = render(&hostile_report(len), Severity::Critical, Some("⚠️ note".into()));
        check(&n).unwrap();
        let title = n["content"]["title"].as_str().unwrap();
        assert!(!title.contains('<') && !title.contains('`') && !title.contains('*') && !title.contains('@'), "{title}");
    }
}

#[test]
fn the_endpoint_and_alarm_are_related_resources() {
    let Report::Alarm(_) = &reports_from_str(&fixture("sns-gpu-utilization-alarm.json"))[0] else { panic!() };
    let n = render(&reports_from_str(&fixture("sns-gpu-utilization-alarm.json")).remove(0), Severity::Critical, None);
    let related: Vec<&str> = n["metadata"]["relatedResources"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(related.iter().any(|r| r.starts_with("arn:aws:sagemaker:us-east-1:") && r.ends_with(":endpoint/deepgram-prod")), "{related:?}");
    assert!(related.iter().any(|r| r.starts_with("arn:aws:cloudwatch:")), "{related:?}");
}

#[test]
fn a_muted_alarm_says_so_and_by_which_rule() {
    let r = reports_from_str(&fixture("eventbridge-promql-kv-cache-muted-alarm.json")).remove(0);
    let n = render(&r, Severity::Critical, None);
    check(&n).unwrap();
    let d = n["content"]["description"].as_str().unwrap();
    assert!(d.contains("🔕 Muted by `") && d.contains("nobody was paged"), "{d}");
}
