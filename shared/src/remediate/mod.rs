//! Endpoint updates behind guardrails: the decision, as a pure function of what is known about
//! the alarm and the endpoint. Every guardrail is enforced here, whoever asks (a routing rule, a
//! Slack button, the CLI). [`aws`] gathers the facts and carries out a plan.

pub mod aws;
pub mod dispatch;
pub mod follow_up;
pub mod offers;

pub use crate::model::{check_frequency, Action, FREQUENCIES_S, LAST_ACTION_TAG, OPT_IN_TAG};
use crate::model::{Alarm, AlarmState, EndpointStatus};
use crate::subject::Target;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What was decided about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    Done,
    DryRun,
    Refused,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Done => "done",
            Decision::DryRun => "dry-run",
            Decision::Refused => "refused",
        }
    }
}

/// Which alarm, state change and endpoint an action is about: small enough for a Slack button's
/// 2,000-character value, so a click carries it back without any state of ours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmRef {
    pub alarm_name: String,
    /// Alarm identity and state change time: the same delivery twice acts once.
    pub alarm_key: String,
    /// The state the notification announced. The remediation function also asks CloudWatch for
    /// the alarm's state now: a button clicked after recovery does nothing.
    pub state: AlarmState,
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl AlarmRef {
    /// The alarm identity (`alarm_key` without its state change time): its thread's key.
    pub fn identity(&self) -> &str {
        self.alarm_key.rsplit_once('@').map_or(self.alarm_key.as_str(), |(identity, _)| identity)
    }

    /// `target`: what [`crate::subject::resolve`] made of `alarm`.
    pub fn of(alarm: &Alarm, target: &Target) -> Result<Self, String> {
        let sm = target.sagemaker();
        let endpoint = sm.and_then(|s| s.endpoint.clone()).ok_or("the alarm names no SageMaker endpoint")?;
        Ok(Self {
            alarm_name: alarm.name.clone(),
            alarm_key: alarm.state_change_key().unwrap_or_else(|| format!("{}@", alarm.identity())),
            state: alarm.state,
            endpoint,
            variant: sm.and_then(|s| s.variant.clone()),
        })
    }
}

/// What the remediation function is asked to do: by a routing rule (asynchronous invoke from
/// the alarm function), by an approved Slack button, or by the CLI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    #[serde(flatten)]
    pub action: Action,
    pub alarm: AlarmRef,
    #[serde(default)]
    pub dry_run: bool,
    /// `routing rule route.routes[1]`, `Slack user U123 in C456`: said in every report.
    pub requested_by: String,
    /// Receivers (routing-document names) that get the follow-up; the alarm's own.
    #[serde(default)]
    pub receivers: Vec<String>,
}

/// Limits that hold whatever the tags say.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Since the endpoint's last modification and since our last action.
    pub cooldown: Duration,
    pub max_instances: i32,
    pub step: i32,
}

impl Default for Policy {
    fn default() -> Self {
        Self { cooldown: Duration::minutes(15), max_instances: 10, step: 1 }
    }
}

/// What the decision is made from.
#[derive(Debug, Clone)]
pub struct Facts {
    pub action: Action,
    /// The state the notification announced.
    pub alarm_state: AlarmState,
    /// The state CloudWatch reports now, or why it could not be read.
    pub current_state: Result<AlarmState, String>,
    /// Alarm identity and state change time: the same delivery twice acts once.
    pub alarm_key: String,
    pub endpoint: String,
    pub status: EndpointStatus,
    pub last_modified: Option<DateTime<Utc>>,
    pub tags: BTreeMap<String, String>,
    pub variant: String,
    pub current_instances: Option<i32>,
    pub serverless: bool,
    /// Min and max of an Application Auto Scaling target on the variant, if there is one.
    pub autoscaling: Option<(i32, i32)>,
    pub enhanced_metrics: Option<(bool, Option<i32>)>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "plan", rename_all = "kebab-case")]
pub enum Plan {
    ScaleOut { variant: String, from: i32, to: i32 },
    EnableEnhancedMetrics { from: Option<i32>, to: i32 },
}

/// `Err` is the refusal, said so that the reader knows what would make it pass.
pub fn decide(f: &Facts, p: &Policy) -> Result<Plan, String> {
    let allowed: Vec<&str> = f.tags.get(OPT_IN_TAG).map(|v| v.split(',').map(str::trim).collect()).unwrap_or_default();
    if allowed.is_empty() {
        return Err(format!("endpoint {} has not opted in: tag it {OPT_IN_TAG}={}", f.endpoint, f.action.name()));
    }
    if !allowed.contains(&f.action.name()) {
        return Err(format!("{} is not allowed for {} (its {OPT_IN_TAG} tag allows: {})", f.action.name(), f.endpoint, allowed.join(", ")));
    }
    // `<time> <alarm key>`, read once for the repeat check and the cooldown.
    let (last_when, last_key) = f.tags.get(LAST_ACTION_TAG).map(|l| l.split_once(' ').unwrap_or((l.as_str(), ""))).unzip();
    // Before any state check: a repeat delivery is answered as such, whatever happened since.
    if last_key == Some(f.alarm_key.as_str()) {
        return Err("already acted on this alarm state change (delivered twice)".into());
    }
    if f.alarm_state != AlarmState::Alarm {
        return Err(format!("the alarm is {}, not ALARM: nothing is changed on OK or INSUFFICIENT_DATA", f.alarm_state));
    }
    match &f.current_state {
        Err(e) => return Err(format!("could not confirm the alarm is still in ALARM: {e}")),
        Ok(AlarmState::Alarm) => {}
        Ok(now) => return Err(format!("the alarm is {now} now (it was ALARM when notified): nothing to do")),
    }
    if f.status != EndpointStatus::InService {
        return Err(format!("endpoint is {}: SageMaker rejects an update until it is InService", f.status));
    }
    if let Some(Ok(t)) = last_when.map(DateTime::parse_from_rfc3339) {
        let since = f.now - t.with_timezone(&Utc);
        if since < p.cooldown {
            return Err(format!("cooldown: sagealarm acted {} min ago (less than {} min)", since.num_minutes(), p.cooldown.num_minutes()));
        }
    }
    if let Some(m) = f.last_modified {
        let since = f.now - m;
        if since < p.cooldown {
            return Err(format!(
                "cooldown: the endpoint changed {} min ago (less than {} min)",
                since.num_minutes(),
                p.cooldown.num_minutes()
            ));
        }
    }
    match f.action {
        Action::ScaleOut => {
            if f.serverless {
                return Err("serverless endpoint: there are no instances to add (raise MaxConcurrency instead)".into());
            }
            if let Some((min, max)) = f.autoscaling {
                return Err(format!(
                    "variant {} is managed by Application Auto Scaling (min {min}, max {max}): sagealarm does not fight it; raise its minimum capacity instead",
                    f.variant
                ));
            }
            let from = f.current_instances.ok_or("the variant's current instance count is unknown")?;
            let cap = p.max_instances;
            if from >= cap {
                return Err(format!("variant {} already runs {from} instances, the cap is {cap}", f.variant));
            }
            Ok(Plan::ScaleOut { variant: f.variant.clone(), from, to: (from + p.step.max(1)).min(cap) })
        }
        Action::EnableEnhancedMetrics { frequency_s } => {
            if let Err(accepted) = check_frequency(frequency_s) {
                return Err(format!("publish frequency {frequency_s} s is not one SageMaker accepts ({accepted})"));
            }
            match f.enhanced_metrics {
                Some((true, Some(cur))) if cur == frequency_s => Err(format!("enhanced metrics are already on at {cur} s")),
                Some((true, cur)) => Ok(Plan::EnableEnhancedMetrics { from: cur, to: frequency_s }),
                _ => Ok(Plan::EnableEnhancedMetrics { from: None, to: frequency_s }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(action: Action) -> Facts {
        let now = Utc::now();
        Facts {
            action,
            alarm_state: AlarmState::Alarm,
            current_state: Ok(AlarmState::Alarm),
            alarm_key: "arn:aws:cloudwatch:us-east-1:1:alarm:gpu@2026-11-20T14:07:31Z".into(),
            endpoint: "deepgram-prod".into(),
            status: EndpointStatus::InService,
            last_modified: Some(now - Duration::hours(3)),
            tags: BTreeMap::from([(OPT_IN_TAG.to_string(), "scale-out, enable-enhanced-metrics".to_string())]),
            variant: "AllTraffic".into(),
            current_instances: Some(3),
            serverless: false,
            autoscaling: None,
            enhanced_metrics: Some((false, None)),
            now,
        }
    }

    #[test]
    fn an_opted_in_endpoint_in_service_scales_out_by_one_step() {
        assert_eq!(
            decide(&facts(Action::ScaleOut), &Policy::default()),
            Ok(Plan::ScaleOut { variant: "AllTraffic".into(), from: 3, to: 4 })
        );
        let p = Policy { step: 5, ..Policy::default() };
        assert_eq!(decide(&facts(Action::ScaleOut), &p), Ok(Plan::ScaleOut { variant: "AllTraffic".into(), from: 3, to: 8 }));
        let p = Policy { step: 50, ..Policy::default() };
        assert_eq!(decide(&facts(Action::ScaleOut), &p), Ok(Plan::ScaleOut { variant: "AllTraffic".into(), from: 3, to: 10 }), "capped");
    }

    #[test]
    fn every_guardrail_refuses_with_its_reason() {
        let p = Policy::default();
        let refuse = |f: Facts| decide(&f, &p).unwrap_err();

        let mut f = facts(Action::ScaleOut);
        f.tags.clear();
        assert_eq!(refuse(f), "endpoint deepgram-prod has not opted in: tag it sagealarm:remediate=scale-out");

        let mut f = facts(Action::ScaleOut);
        f.tags.insert(OPT_IN_TAG.into(), "enable-enhanced-metrics".into());
        assert!(refuse(f).starts_with("scale-out is not allowed for deepgram-prod"));

        let mut f = facts(Action::ScaleOut);
        f.alarm_state = AlarmState::Ok;
        assert!(refuse(f).starts_with("the alarm is OK, not ALARM"));

        let mut f = facts(Action::ScaleOut);
        f.current_state = Ok(AlarmState::Ok);
        assert_eq!(refuse(f), "the alarm is OK now (it was ALARM when notified): nothing to do");

        let mut f = facts(Action::ScaleOut);
        f.current_state = Err("alarm \"gpu\" no longer exists in CloudWatch".into());
        assert_eq!(refuse(f), "could not confirm the alarm is still in ALARM: alarm \"gpu\" no longer exists in CloudWatch");

        for status in ["Creating", "Updating", "SystemUpdating", "RollingBack", "Failed"] {
            let mut f = facts(Action::ScaleOut);
            f.status = EndpointStatus::parse(status);
            assert_eq!(refuse(f), format!("endpoint is {status}: SageMaker rejects an update until it is InService"));
        }

        let mut f = facts(Action::ScaleOut);
        f.last_modified = Some(f.now - Duration::minutes(4));
        assert_eq!(refuse(f), "cooldown: the endpoint changed 4 min ago (less than 15 min)");

        let mut f = facts(Action::ScaleOut);
        f.tags.insert(LAST_ACTION_TAG.into(), format!("{} other-alarm@t", (f.now - Duration::minutes(7)).to_rfc3339()));
        assert_eq!(refuse(f), "cooldown: sagealarm acted 7 min ago (less than 15 min)");

        let mut f = facts(Action::ScaleOut);
        f.tags.insert(LAST_ACTION_TAG.into(), format!("{} {}", (f.now - Duration::hours(2)).to_rfc3339(), f.alarm_key));
        assert_eq!(refuse(f), "already acted on this alarm state change (delivered twice)");
        let mut f = facts(Action::ScaleOut);
        f.tags.insert(LAST_ACTION_TAG.into(), format!("{} {}", f.now.to_rfc3339(), f.alarm_key));
        f.current_state = Ok(AlarmState::Ok);
        assert_eq!(
            refuse(f),
            "already acted on this alarm state change (delivered twice)",
            "a repeat is named as such whatever the state now"
        );

        let mut f = facts(Action::ScaleOut);
        f.current_instances = Some(10);
        assert_eq!(refuse(f), "variant AllTraffic already runs 10 instances, the cap is 10");

        let mut f = facts(Action::ScaleOut);
        f.autoscaling = Some((2, 6));
        assert!(refuse(f).contains("managed by Application Auto Scaling (min 2, max 6)"));

        let mut f = facts(Action::ScaleOut);
        f.serverless = true;
        assert!(refuse(f).starts_with("serverless endpoint"));

        assert!(refuse(facts(Action::EnableEnhancedMetrics { frequency_s: 15 })).starts_with("publish frequency 15 s"));
        let mut f = facts(Action::EnableEnhancedMetrics { frequency_s: 10 });
        f.enhanced_metrics = Some((true, Some(10)));
        assert_eq!(refuse(f), "enhanced metrics are already on at 10 s");
    }

    #[test]
    fn enhanced_metrics_plan_keeps_what_was_there() {
        assert_eq!(
            decide(&facts(Action::EnableEnhancedMetrics { frequency_s: 10 }), &Policy::default()),
            Ok(Plan::EnableEnhancedMetrics { from: None, to: 10 })
        );
        let mut f = facts(Action::EnableEnhancedMetrics { frequency_s: 10 });
        f.enhanced_metrics = Some((true, Some(60)));
        assert_eq!(decide(&f, &Policy::default()), Ok(Plan::EnableEnhancedMetrics { from: Some(60), to: 10 }));
    }
}

#[cfg(test)]
mod request_tests {
    use super::*;

    /// The sample event for `cargo lambda invoke remediate-endpoint` is a valid request.
    #[test]
    fn the_sample_request_parses() {
        let raw =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/requests/remediate-scale-out-dry-run.json")).unwrap();
        let r: Request = serde_json::from_str(&raw).unwrap();
        assert_eq!((r.action, r.dry_run, r.alarm.state), (Action::ScaleOut, true, AlarmState::Alarm));
        let back: Request = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}

#[cfg(test)]
mod contributor_tests {
    use super::*;
    use crate::model::Notification;

    fn alarm_ref(raw: &str) -> AlarmRef {
        let Notification::Alarm(a) = crate::intake::parse_bytes(raw.as_bytes()).unwrap().remove(0) else { panic!() };
        AlarmRef::of(&a, &crate::subject::resolve(&a)).unwrap()
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn remediation_keys_are_per_contributor_and_agree_across_routes() {
        let keys: Vec<AlarmRef> =
            ["sns-contributor-gpu-alarm.json", "eventbridge-contributor-gpu-alarm.json", "lambda-action-contributor-gpu-alarm.json"]
                .iter()
                .map(|n| alarm_ref(&fixture(n)))
                .collect();
        assert!(keys.iter().all(|k| k.alarm_key == keys[0].alarm_key && k.endpoint == "llm-prod"), "{keys:?}");
        assert!(keys[0].alarm_key.contains("#contributor/6d442278dba546f6@"), "{}", keys[0].alarm_key);
        let other = alarm_ref(&fixture("sns-contributor-gpu-alarm.json").replace("6d442278dba546f6", "a1b2c3d4e5f60718"));
        assert_ne!(other.alarm_key, keys[0].alarm_key);
    }
}
