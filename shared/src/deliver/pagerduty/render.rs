//! PagerDuty Events API v2: `trigger` on ALARM (and INSUFFICIENT_DATA), `resolve` on OK, tied by a
//! `dedup_key` derived from the alarm ARN.

use crate::model::text::{one_line, truncate};
use crate::model::{AlarmState, Origin, Severity};
use crate::remediate::follow_up::FollowUp;
use crate::render::enrichment as enr;
use crate::report::{subject_line, AlarmReport, Report};
use serde_json::{json, Map, Value};

pub const SUMMARY_MAX: usize = 1024;
/// PagerDuty rejects an event over 512 KB (HTTP 400): kept a little under, for the envelope.
pub const EVENT_MAX_BYTES: usize = 512 * 1024 - 4 * 1024;
/// What `custom_details` gives up first when the event is too big, largest and least read first.
const TRIM_ORDER: [&str; 6] = ["endpoint", "logs", "fleet", "enrichment_notes", "description", "reason"];
pub const DEDUP_KEY_MAX: usize = 255;

/// Deterministic, ≤ 255 chars, the same for ALARM and OK of one alarm. ARNs longer than that
/// (alarm names may be 255 chars alone) keep their head and gain a hash of the whole.
pub fn dedup_key(identity: &str) -> String {
    if identity.chars().count() <= DEDUP_KEY_MAX {
        return identity.to_string();
    }
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(identity.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    let head: String = identity.chars().take(DEDUP_KEY_MAX - hex.len() - 1).collect();
    format!("{head}#{hex}")
}

/// A Change Event (`/v2/change/enqueue`) for a remediation decision: it appears on the
/// service's timeline and the open incident's "recent changes", without paging anyone.
pub fn change_event(f: &FollowUp, routing_key: &str) -> Value {
    json!({
        "routing_key": routing_key,
        "payload": {
            "summary": truncate(&one_line(&format!("{}: {}", f.headline, f.reason)), SUMMARY_MAX),
            "source": "sagealarm",
            "timestamp": chrono::Utc::now().to_rfc3339(),
            "custom_details": {
                "alarm": f.alarm_name,
                "endpoint": f.endpoint,
                "decision": f.decision,
                "reason": f.reason,
                "requested_by": f.requested_by,
                "before": f.before,
                "after": f.after,
            }
        }
    })
}

/// Where change events go, next to the events URL the receiver uses.
pub fn change_url(events_url: &str) -> String {
    let base = events_url.trim_end_matches('/');
    let base = base.strip_suffix("/enqueue").unwrap_or(base);
    format!("{base}/change/enqueue")
}

pub fn render(report: &Report, routing_key: &str, severity: Severity) -> Value {
    match report {
        Report::Alarm(a) => alarm(a, routing_key, severity),
        Report::Plain(p) => {
            let key = match &p.origin {
                Origin::Sns { message_id, .. } => format!("sagealarm:sns:{message_id}"),
                Origin::EventBridge { id } => format!("sagealarm:eventbridge:{id}"),
                Origin::AlarmAction => "sagealarm:plain".into(),
            };
            // PagerDuty rejects an empty summary: an SNS message may have no subject and no body.
            let summary = [p.subject.as_deref(), Some(p.body.as_str())]
                .into_iter()
                .flatten()
                .map(one_line)
                .find(|s| !s.trim().is_empty())
                .unwrap_or_else(|| "SNS notification with an empty message".into());
            json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": dedup_key(&key),
                "client": "sagealarm",
                "payload": {
                    "summary": truncate(&summary, SUMMARY_MAX),
                    "source": "sagealarm",
                    "severity": severity.as_str(),
                    "timestamp": p.timestamp.map(|t| t.to_rfc3339()),
                    "custom_details": { "message": truncate(&p.body, 16_000) },
                }
            })
        }
    }
}

fn alarm(r: &AlarmReport, routing_key: &str, severity: Severity) -> Value {
    let a = &r.alarm;
    let key = dedup_key(&a.identity());
    if a.state == AlarmState::Ok {
        return json!({ "routing_key": routing_key, "event_action": "resolve", "dedup_key": key });
    }
    // Missing data is a warning, never a page at the route's full severity.
    let severity = if a.state == AlarmState::InsufficientData { severity.min(Severity::Warning) } else { severity };

    let mut summary = match r.contributor.as_ref().or(r.series.as_ref()) {
        Some(c) => format!("{} {} ({c}): {}", a.state, a.name, r.metric_label),
        None => format!("{} {}: {}", a.state, a.name, r.metric_label),
    };
    if let Some(t) = &r.threshold {
        summary.push_str(&format!(" {t}"));
    }
    if let Some(s) = subject_line(&r.target) {
        summary.push_str(&format!(" on {s}"));
    }
    if let Some(lead) = enr::lead_sentence(&r.enrichment) {
        summary.push_str(&format!(" — {lead}"));
    }
    let sm = r.target.sagemaker();
    let source = sm
        .and_then(|s| s.endpoint.clone().or_else(|| s.inference_component.clone()))
        .or_else(|| a.region.clone().map(|reg| format!("cloudwatch.{reg}")))
        .unwrap_or_else(|| "cloudwatch".into());

    let mut payload = Map::new();
    payload.insert("summary".into(), truncate(&one_line(&summary), SUMMARY_MAX).into());
    payload.insert("source".into(), source.into());
    payload.insert("severity".into(), severity.as_str().into());
    if let Some(t) = a.state_change_time {
        payload.insert("timestamp".into(), t.to_rfc3339().into());
    }
    if let Some(c) = sm.and_then(|s| s.instance.clone().or_else(|| s.container.clone())) {
        payload.insert("component".into(), c.into());
    }
    if let Some(g) = sm.and_then(|s| s.variant.clone()) {
        payload.insert("group".into(), g.into());
    }
    payload.insert("class".into(), r.metric_label.clone().into());
    payload.insert("custom_details".into(), custom_details(r));
    fit(&mut payload);

    let links: Vec<Value> = r.links.iter().map(|l| json!({ "href": l.url, "text": l.text })).collect();
    let mut body = json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": key,
        "client": "sagealarm",
        "payload": payload,
        "links": links,
    });
    if let Some(first) = r.links.first() {
        body["client_url"] = first.url.clone().into();
    }
    body
}

/// An acknowledgement of the incident the alarm's trigger opened (same `dedup_key`).
pub fn acknowledge(identity: &str, routing_key: &str) -> Value {
    json!({ "routing_key": routing_key, "event_action": "acknowledge", "dedup_key": dedup_key(identity) })
}

/// The event with a route's links after the alarm's own.
pub fn with_links(mut event: Value, links: &[crate::report::links::Link]) -> Value {
    if let Some(l) = event["links"].as_array_mut() {
        l.extend(links.iter().map(|l| json!({ "href": l.url, "text": l.text })));
    }
    event
}

/// The event with `note` (state unavailable) first in its `custom_details`.
pub fn with_note(mut event: Value, note: Option<String>) -> Value {
    if let (Some(note), Some(details)) = (note, event["payload"]["custom_details"].as_object_mut()) {
        details.insert("sagealarm_note".into(), Value::String(note));
    }
    event
}

/// A grouped alarm stays one event (PagerDuty groups alerts into incidents on its side); its
/// group's key goes in `custom_details.sagealarm_group`, for PagerDuty's content-based grouping.
pub fn with_group(mut event: Value, group: Option<&crate::route::Group>) -> Value {
    if let (Some(g), Some(details)) = (group, event["payload"]["custom_details"].as_object_mut()) {
        details.insert("sagealarm_group".into(), Value::String(g.key()));
    }
    event
}

/// Keeps the event under PagerDuty's 512 KB by dropping whole `custom_details` entries, biggest
/// first in [`TRIM_ORDER`], and says which (as Alertmanager does): never a rejected page.
fn fit(payload: &mut Map<String, Value>) {
    let size = |p: &Map<String, Value>| serde_json::to_vec(p).map(|v| v.len()).unwrap_or(usize::MAX);
    if size(payload) <= EVENT_MAX_BYTES {
        return;
    }
    let Some(Value::Object(mut details)) = payload.remove("custom_details") else { return };
    let mut dropped = vec![];
    for key in TRIM_ORDER {
        if details.remove(key).is_some() {
            dropped.push(key);
        }
        let note = format!(
            "cut to fit PagerDuty's 512 KB event limit: {} left out; the Slack message and the links have them",
            dropped.join(", ")
        );
        details.insert("trimmed".into(), note.into());
        let without = size(payload);
        let with = serde_json::to_vec(&details).map(|v| v.len()).unwrap_or(usize::MAX);
        if without.saturating_add(with) <= EVENT_MAX_BYTES {
            payload.insert("custom_details".into(), Value::Object(details));
            return;
        }
    }
    // Still too big: only what identifies the alarm stays.
    let keep = ["alarm_name", "alarm_arn", "state", "state_change_time", "metric", "threshold", "trimmed"];
    details.retain(|k, _| keep.contains(&k.as_str()));
    payload.insert("custom_details".into(), Value::Object(details));
}

/// The structured facts, for PagerDuty's incident details and for automation reading them.
fn custom_details(r: &AlarmReport) -> Value {
    let a = &r.alarm;
    let mut d = json!({
        "alarm_name": a.name,
        "alarm_arn": a.arn,
        "state": a.state,
        "previous_state": a.previous_state,
        "state_change_time": a.state_change_time.map(|t| t.to_rfc3339()),
        "reason": truncate(&r.reason, 2000),
        "metric": r.metric_label,
        "threshold": r.threshold,
        "window": r.window,
        "description": a.description.as_deref().map(|d| truncate(d, 2000)),
        "account": a.account,
        "region": a.region,
        "alarm_shape": a.kind.shape_name(),
        "target": r.target.subject,
    });
    if let Some(s) = &a.actions_suppressed_by {
        d["actions_suppressed_by"] = s.clone().into();
    }
    if let Some(q) = &r.query {
        d["query"] = truncate(q, 4000).into();
    }
    if !r.tags.is_empty() {
        d["tags"] =
            r.tags.iter().take(50).map(|(k, v)| (truncate(k, 128), Value::from(truncate(v, 256)))).collect::<Map<String, Value>>().into();
    }
    if let Some(q) = &r.enrichment.own_query {
        d["own_query"] = json!({ "summary": enr::own_query_lines(q), "details": q });
    }
    if let Some(s) = &r.enrichment.skipped {
        d["enrichment_skipped"] = s.clone().into();
    }
    let e = &r.enrichment;
    if !e.notes.is_empty() {
        d["enrichment_notes"] = e.notes.iter().map(|n| format!("{}: {}", n.source, n.message)).collect::<Vec<_>>().into();
    }
    if let Some(lead) = &e.explanation.lead {
        d["diagnosis"] = json!({
            "headline": enr::cause_sentence(&lead.cause, e),
            "supporting": e.explanation.supporting.iter().filter_map(|s| enr::cause_sentence(&s.cause, e)).collect::<Vec<_>>(),
            "causes": e.explanation,
        });
    }
    if let Some(info) = &e.endpoint {
        d["endpoint"] = json!({ "summary": enr::endpoint_lines(info), "details": info });
    }
    if let Some(l) = &e.llm {
        d["llm"] = json!({
            "summary": enr::llm_caption(l),
            "table": enr::llm_table(l, 16),
            "placement": l.placement.as_ref().map(enr::placement_lines).unwrap_or_default(),
            "rows": l.rows,
        });
    }
    if let Some(c) = &e.contributors {
        d["contributors_in_alarm"] = json!({
            "summary": enr::contributors_line(c, r.alarm.contributor.as_ref()),
            "in_alarm": c.in_alarm,
            "more": c.more,
        });
    }
    if let Some(f) = &e.fleet {
        d["fleet"] = json!({
            "headline": enr::headline(f),
            "outlier": f.outlier,
            "table": enr::fleet_table(f, 64),
            "size": f.size,
            "reporting": enr::reporting(f),
            "summed": enr::summed_line(f),
            "period_s": f.period_s,
        });
    }
    if let Some(sv) = &e.serverless {
        d["serverless"] = json!({
            "headline": enr::serverless_headline(sv),
            "summary": enr::serverless_lines(sv).iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>(),
            "details": sv,
        });
    }
    if let Some(l) = &e.logs {
        let outlier = e.fleet.as_ref().and_then(|f| f.outlier.as_ref()).and_then(|o| o.member.instance.as_deref());
        let streams: Vec<Value> = l
            .streams
            .iter()
            .map(|s| json!({ "stream": enr::stream_title(s, outlier), "lines": s.lines.iter().map(|x| enr::log_line(x, 400)).collect::<Vec<_>>() }))
            .collect();
        d["logs"] = json!({ "group": l.group, "matched": l.matched, "scanned": l.scanned, "complete": l.complete, "streams": streams });
    }
    if let Some(c) = &e.capacity {
        let anchor = e.window.as_ref().map(|w| w.anchor).unwrap_or_else(|| a.anchor_time());
        d["capacity"] = json!({ "headline": c.headline(), "summary": enr::capacity_lines(c, anchor), "details": c });
    }
    if let Some(l) = enr::changes_line(&e.changes, e.endpoint.is_some() || e.capacity.is_some()) {
        d["recent_changes"] = json!({ "summary": l, "details": e.changes });
    }
    if !e.advice.is_empty() {
        d["what_to_check"] = e.advice.clone().into();
    }
    if let Some(st) = &e.stats {
        d["enrichment_stats"] = json!(st);
    }
    d
}

/// Checks an event against the Events API v2 schema rules this renderer relies on.
pub fn check_event(ev: &Value) -> Result<(), String> {
    let action = ev["event_action"].as_str().ok_or("event_action missing")?;
    if ev["routing_key"].as_str().is_none_or(str::is_empty) {
        return Err("routing_key missing".into());
    }
    let key = ev["dedup_key"].as_str().ok_or("dedup_key missing")?;
    if key.is_empty() || key.chars().count() > DEDUP_KEY_MAX {
        return Err(format!("dedup_key has {} chars", key.chars().count()));
    }
    let bytes = serde_json::to_vec(ev).map(|v| v.len()).unwrap_or(usize::MAX);
    if bytes > 512 * 1024 {
        return Err(format!("event is {bytes} bytes, over PagerDuty's 512 KB"));
    }
    match action {
        "resolve" | "acknowledge" => Ok(()),
        "trigger" => {
            let p = &ev["payload"];
            let summary = p["summary"].as_str().ok_or("payload.summary missing")?;
            if summary.is_empty() || summary.chars().count() > SUMMARY_MAX {
                return Err(format!("summary has {} chars", summary.chars().count()));
            }
            if p["source"].as_str().is_none_or(str::is_empty) {
                return Err("payload.source missing".into());
            }
            match p["severity"].as_str() {
                Some("critical" | "error" | "warning" | "info") => {}
                other => return Err(format!("payload.severity is {other:?}")),
            }
            for l in ev["links"].as_array().into_iter().flatten() {
                if l["href"].as_str().is_none_or(str::is_empty) {
                    return Err("a link without href".into());
                }
            }
            Ok(())
        }
        other => Err(format!("event_action {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_support::*;

    #[test]
    fn a_grouped_alarm_stays_one_event_carrying_its_group_key() {
        let report = reports_from_str(&fixture("sns-high-concurrency-alarm.json")).remove(0);
        let spec =
            crate::route::GroupSpec { by: vec![crate::route::group::GroupBy::Endpoint], window: std::time::Duration::from_secs(600) };
        let group = spec.group_of(&crate::route::Facts::of(&report)).unwrap();
        let event = with_group(render(&report, KEY, Severity::Critical), Some(&group));
        assert_eq!(event["payload"]["custom_details"]["sagealarm_group"], "endpoint=deepgram-prod");
        assert_eq!(event["event_action"], "trigger");
        let plain = with_group(render(&report, KEY, Severity::Critical), None);
        assert!(plain["payload"]["custom_details"].get("sagealarm_group").is_none());
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn every_sample_event_is_a_valid_event() {
        for (name, r) in all_reports() {
            check_event(&render(&r, KEY, Severity::Critical)).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn alarm_triggers_and_ok_resolves_with_the_same_dedup_key() {
        let alarm = render(&reports_from_str(&fixture("sns-high-concurrency-alarm.json")).remove(0), KEY, Severity::Critical);
        let ok = render(&reports_from_str(&fixture("sns-high-concurrency-ok.json")).remove(0), KEY, Severity::Critical);
        assert_eq!(alarm["event_action"], "trigger");
        assert_eq!(ok["event_action"], "resolve");
        assert_eq!(alarm["dedup_key"], ok["dedup_key"]);
        assert_eq!(alarm["dedup_key"], "arn:aws:cloudwatch:us-east-1:123456789012:alarm:deepgram-high-concurrency");
        assert_eq!(alarm["payload"]["severity"], "critical");
        assert_eq!(alarm["payload"]["source"], "deepgram-prod");
        assert_eq!(alarm["payload"]["group"], "AllTraffic");
        assert_eq!(alarm["payload"]["custom_details"]["target"]["endpoint"], "deepgram-prod");
        assert!(alarm["links"].as_array().unwrap().iter().any(|l| l["text"] == "Endpoint"));
        // The same alarm through EventBridge correlates with the SNS one.
        let eb = render(&reports_from_str(&fixture("eventbridge-high-concurrency-alarm.json")).remove(0), KEY, Severity::Critical);
        assert_eq!(eb["dedup_key"], alarm["dedup_key"]);
    }

    #[test]
    fn each_contributor_is_its_own_incident_on_every_route() {
        let pd = |name: &str| render(&reports_from_str(&fixture(name)).remove(0), KEY, Severity::Critical);
        let want = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:llm-prod-gpu-saturated#contributor/6d442278dba546f6";
        for name in ["sns-contributor-gpu-alarm.json", "eventbridge-contributor-gpu-alarm.json", "lambda-action-contributor-gpu-alarm.json"]
        {
            let e = pd(name);
            assert_eq!((e["event_action"].as_str(), e["dedup_key"].as_str()), (Some("trigger"), Some(want)), "{name}");
            let summary = e["payload"]["summary"].as_str().unwrap();
            assert!(
                summary.starts_with("ALARM llm-prod-gpu-saturated (GPU 3 on i-0123456789abcdef0): GPUUtilizationNormalized (Maximum)"),
                "{summary}"
            );
            assert_eq!(e["payload"]["source"], "llm-prod");
        }
        // GPU 3's OK resolves GPU 3's incident, never another GPU's or the alarm level's.
        let ok = pd("sns-contributor-gpu-ok.json");
        assert_eq!((ok["event_action"].as_str(), ok["dedup_key"].as_str()), (Some("resolve"), Some(want)));
        let other = fixture("sns-contributor-gpu-ok.json").replace("6d442278dba546f6", "a1b2c3d4e5f60718");
        assert_ne!(render(&reports_from_str(&other).remove(0), KEY, Severity::Critical)["dedup_key"], want);
        assert_eq!(
            pd("sns-multi-time-series-alarm-level.json")["dedup_key"],
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:llm-prod-gpu-saturated"
        );
    }

    #[test]
    fn insufficient_data_is_at_most_a_warning() {
        let raw =
            fixture("sns-5xx-errors-alarm.json").replace(r#"\"NewStateValue\":\"ALARM\""#, r#"\"NewStateValue\":\"INSUFFICIENT_DATA\""#);
        let ev = render(&reports_from_str(&raw).remove(0), KEY, Severity::Critical);
        assert_eq!((ev["event_action"].as_str(), ev["payload"]["severity"].as_str()), (Some("trigger"), Some("warning")));
    }

    #[test]
    fn limits_hold_for_huge_input() {
        let ev = render(&hostile_report(10_000), KEY, Severity::Error);
        check_event(&ev).unwrap();
        assert_eq!(ev["payload"]["summary"].as_str().unwrap().chars().count(), SUMMARY_MAX);
        let long = format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{}", "n".repeat(255));
        let k = dedup_key(&long);
        assert_eq!(k.chars().count(), DEDUP_KEY_MAX);
        assert_eq!(k, dedup_key(&long), "deterministic");
        assert_ne!(k, dedup_key(&format!("{long}x")));
    }

    #[test]
    fn an_event_too_big_for_pagerduty_is_trimmed_with_a_note() {
        use crate::enrich::endpoint::{ComponentInfo, EndpointInfo};
        let Report::Alarm(mut a) = reports_from_str(&fixture("sns-gpu-utilization-alarm.json")).remove(0) else { panic!() };
        let component = |i: usize| ComponentInfo {
            name: format!("component-{i}-{}", "x".repeat(200)),
            status: Some("InService".into()),
            endpoint: Some("deepgram-prod".into()),
            variant: Some("AllTraffic".into()),
            current_copies: Some(1),
            desired_copies: Some(1),
        };
        a.enrichment.endpoint = Some(EndpointInfo {
            name: "deepgram-prod".into(),
            status: crate::model::EndpointStatus::InService,
            failure_reason: None,
            config_name: None,
            created: None,
            last_modified: None,
            variants: vec![],
            enhanced_metrics: None,
            components: (0..4000).map(component).collect(),
            remediate: None,
            last_action: None,
        });
        let ev = render(&Report::Alarm(a), KEY, Severity::Critical);
        check_event(&ev).unwrap();
        let details = &ev["payload"]["custom_details"];
        assert!(details.get("endpoint").is_none());
        assert!(
            details["trimmed"].as_str().unwrap().starts_with("cut to fit PagerDuty's 512 KB event limit: endpoint left out"),
            "{details}"
        );
        assert_eq!(details["alarm_name"], "deepgram-high-gpu");
    }
}
