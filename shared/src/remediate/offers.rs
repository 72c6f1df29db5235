//! Which actions an alarm's Slack message offers as buttons: those the endpoint opted in to, on
//! ALARM only, labelled with what would happen. The buttons are a convenience; the remediation
//! function decides again from fresh facts when one is clicked.

use super::{Action, AlarmRef, Policy, Request, OPT_IN_TAG};
use crate::model::AlarmState;
use crate::report::AlarmReport;
use serde::Serialize;

/// One approvable action, ready for a button.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Offer {
    /// `Scale out to 4 instances`.
    pub label: String,
    /// `sagealarm-remediate-scale-out`.
    pub action_id: String,
    /// The confirmation dialog's text.
    pub confirm: String,
    /// JSON of [`Request`] without the requester, which Slack adds.
    pub value: String,
}

pub fn offers(r: &AlarmReport, receivers: &[String], policy: &Policy, frequency_s: i32) -> Vec<Offer> {
    let Some(info) = r.enrichment.endpoint.as_ref() else { return vec![] };
    let Some(tag) = info.remediate.as_deref() else { return vec![] };
    if r.alarm.state != AlarmState::Alarm {
        return vec![];
    }
    let Ok(alarm) = AlarmRef::of(&r.alarm, &r.target) else { return vec![] };
    let variant = match alarm.variant.as_deref() {
        Some(v) => info.variants.iter().find(|x| x.name == v),
        None => info.variants.first(),
    };
    let mut out = vec![];
    for allowed in tag.split(',').map(str::trim) {
        let Some(action) = Action::from_name(allowed, frequency_s) else { continue };
        let label = match action {
            Action::ScaleOut => {
                let Some(v) = variant.filter(|v| v.serverless.is_none()) else { continue };
                let Some(n) = v.current_instances.filter(|n| *n < policy.max_instances) else { continue };
                format!("Scale out {} to {}", v.name, (n + policy.step.max(1)).min(policy.max_instances))
            }
            Action::EnableEnhancedMetrics { .. } => {
                if info.enhanced_metrics.is_some_and(|m| m.enabled && m.frequency_s == Some(frequency_s)) {
                    continue;
                }
                format!("Enable enhanced metrics ({frequency_s} s)")
            }
        };
        let req = Request { action, alarm: alarm.clone(), dry_run: false, requested_by: String::new(), receivers: receivers.to_vec() };
        let Ok(value) = serde_json::to_string(&req) else { continue };
        out.push(Offer {
            confirm: format!("{label} on endpoint {}? Every guardrail is checked again when you confirm (opt-in tag {OPT_IN_TAG}, InService, cooldown, cap).", alarm.endpoint),
            action_id: format!("sagealarm-remediate-{}", action.name()),
            label,
            value,
        });
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::enrich::endpoint::{EndpointInfo, VariantInfo};
    use crate::enrich::Enrichment;
    use crate::model::Notification;

    pub(crate) fn report(state: &str, tag: Option<&str>) -> AlarmReport {
        let raw = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/sns-high-concurrency-alarm.json")).unwrap();
        let raw = if state == "OK" { raw.replace("\\\"NewStateValue\\\":\\\"ALARM\\\"", "\\\"NewStateValue\\\":\\\"OK\\\"") } else { raw };
        let Notification::Alarm(a) = crate::intake::parse_bytes(raw.as_bytes()).unwrap().remove(0) else { panic!() };
        let info = EndpointInfo {
            name: "deepgram-prod".into(),
            status: crate::model::EndpointStatus::InService,
            failure_reason: None,
            config_name: None,
            created: None,
            last_modified: None,
            variants: vec![VariantInfo {
                name: "AllTraffic".into(),
                instance_type: None,
                current_instances: Some(3),
                desired_instances: Some(3),
                serverless: None,
                managed_scaling: None,
            }],
            enhanced_metrics: None,
            components: vec![],
            remediate: tag.map(str::to_string),
            last_action: None,
        };
        let target = crate::subject::resolve(&a);
        crate::report::build_alarm(*a, target, Enrichment { endpoint: Some(info), ..Enrichment::default() })
    }

    #[test]
    fn an_opted_in_endpoint_in_alarm_offers_its_actions_with_what_they_would_do() {
        let o = offers(&report("ALARM", Some("scale-out,enable-enhanced-metrics")), &["sre".into()], &Policy::default(), 10);
        let labels: Vec<&str> = o.iter().map(|o| o.label.as_str()).collect();
        assert_eq!(labels, ["Scale out AllTraffic to 4", "Enable enhanced metrics (10 s)"]);
        let req: Request = serde_json::from_str(&o[0].value).unwrap();
        assert_eq!(
            (req.action, req.alarm.endpoint.as_str(), req.receivers.as_slice()),
            (Action::ScaleOut, "deepgram-prod", &["sre".to_string()][..])
        );
        assert!(o[0].value.len() <= 2000);
    }

    #[test]
    fn nothing_is_offered_without_opt_in_on_ok_or_at_the_cap() {
        assert!(offers(&report("ALARM", None), &[], &Policy::default(), 10).is_empty());
        assert!(offers(&report("OK", Some("scale-out")), &[], &Policy::default(), 10).is_empty());
        let capped = Policy { max_instances: 3, ..Policy::default() };
        assert!(offers(&report("ALARM", Some("scale-out")), &[], &capped, 10).is_empty());
    }
}
