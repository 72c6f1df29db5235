//! Capacity and change context: is the variant (or the inference component's copies) registered
//! with Application Auto Scaling, is it at its maximum, did scaling try and fail, and what changed
//! shortly before the alarm.
//!
//! Fetch: DescribeScalableTargets, DescribeScalingPolicies and DescribeScalingActivities, all at
//! once. Each is keyed by the resource id, which the alarm's own dimensions give
//! (`endpoint/<E>/variant/<V>`, `inference-component/<IC>`), so none waits for another or for
//! DescribeEndpoint: the capacity branch is one call long and never the critical path. The price
//! is two calls that find nothing when the variant is not autoscaled, cheaper than a round trip.
//! Analysis ([`analyse`], [`changes`]): pure, after the branches end, joined with the endpoint's
//! counts and the metrics already fetched (the tracked metric's current value costs no call).

use super::endpoint::EndpointInfo;
use super::metrics::{Series, INVOCATIONS_NS};
use super::{Chain, Ctx, Window};
use crate::aws::time;
use crate::model::text::{one_line, truncate};
use crate::model::units::sig;
use crate::model::{alarm_name_of, EndpointStatus};
use crate::subject::SageMakerTarget;
use aws_sdk_applicationautoscaling::types::{ScalingActivityStatusCode, ServiceNamespace};
use aws_sdk_applicationautoscaling::Client;
use chrono::{DateTime, Duration, Utc};
use regex::Regex;
use serde::Serialize;
use std::sync::LazyLock;

/// Activities asked for per resource (newest first): enough for the hour before an alarm.
const MAX_ACTIVITIES: i32 = 20;
/// Activities shown per resource.
pub const SHOWN_ACTIVITIES: usize = 3;
/// How far before the state change a change still counts as "recent".
pub const CHANGE_LOOKBACK: Duration = Duration::hours(6);
/// Changes after the state change count too (autoscaling reacting, sagealarm acting, a late
/// delivery): up to this long after.
const CHANGE_AFTER: Duration = Duration::hours(1);
/// At most this many recent changes are listed (the newest).
const MAX_CHANGES: usize = 6;
/// Untrusted or verbose text (alarm names in causes, AWS messages) is cut to this.
const TEXT_MAX: usize = 240;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Variant,
    Component,
}

/// What can be registered with Application Auto Scaling, as the alarm names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Resource {
    kind: ResourceKind,
    name: String,
    id: String,
}

/// The variant (when the alarm names endpoint and variant) and the inference component.
pub(super) fn resources(sm: &SageMakerTarget) -> Vec<Resource> {
    let mut out = vec![];
    if let (Some(e), Some(v)) = (&sm.endpoint, &sm.variant) {
        out.push(Resource { kind: ResourceKind::Variant, name: v.clone(), id: format!("endpoint/{e}/variant/{v}") });
    }
    if let Some(ic) = &sm.inference_component {
        out.push(Resource { kind: ResourceKind::Component, name: ic.clone(), id: format!("inference-component/{ic}") });
    }
    out
}

/// A scalable target as registered: one per resource and scalable dimension.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RawTarget {
    resource_id: String,
    dimension: String,
    min: i32,
    max: i32,
    suspended: Vec<&'static str>,
}

/// What the three calls returned, in our types. `targets: None`: DescribeScalableTargets failed
/// (noted), so whether anything is autoscaled is unknown and nothing is claimed.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Fetched {
    resources: Vec<Resource>,
    targets: Option<Vec<RawTarget>>,
    policies: Vec<(String, String, Policy)>,
    activities: Vec<(String, String, Activity)>,
}

pub(super) async fn fetch(ctx: &Ctx, chain: &Chain, client: &Client, resources: Vec<Resource>) -> Fetched {
    if resources.is_empty() {
        return Fetched::default();
    }
    let ids: Vec<String> = resources.iter().map(|r| r.id.clone()).collect();
    let targets_chain = Chain::default();
    let targets = async {
        let req = client.describe_scalable_targets().service_namespace(ServiceNamespace::Sagemaker).set_resource_ids(Some(ids.clone()));
        match ctx.call(&targets_chain, req.send()).await {
            Ok(out) => Some(out.scalable_targets().iter().map(raw_target).collect::<Vec<_>>()),
            Err(f) => {
                ctx.fail("DescribeScalableTargets", f);
                None
            }
        }
    };
    let policy_chains: Vec<Chain> = ids.iter().map(|_| Chain::default()).collect();
    let policies = futures::future::join_all(ids.iter().zip(&policy_chains).map(|(id, c)| async move {
        let req = client.describe_scaling_policies().service_namespace(ServiceNamespace::Sagemaker).resource_id(id);
        match ctx.call(c, req.send()).await {
            Ok(out) => out
                .scaling_policies()
                .iter()
                .map(|p| (p.resource_id().to_string(), p.scalable_dimension().as_str().to_string(), policy(p)))
                .collect(),
            Err(f) => {
                ctx.fail("DescribeScalingPolicies", f);
                vec![]
            }
        }
    }));
    let activity_chains: Vec<Chain> = ids.iter().map(|_| Chain::default()).collect();
    let activities = futures::future::join_all(ids.iter().zip(&activity_chains).map(|(id, c)| async move {
        let req =
            client.describe_scaling_activities().service_namespace(ServiceNamespace::Sagemaker).resource_id(id).max_results(MAX_ACTIVITIES);
        match ctx.call(c, req.send()).await {
            Ok(out) => out
                .scaling_activities()
                .iter()
                .filter_map(|a| Some((a.resource_id().to_string(), a.scalable_dimension().as_str().to_string(), activity(a)?)))
                .collect(),
            Err(f) => {
                ctx.fail("DescribeScalingActivities", f);
                vec![]
            }
        }
    }));
    let (targets, policies, activities): (_, Vec<Vec<_>>, Vec<Vec<_>>) = futures::join!(targets, policies, activities);
    chain.then_longest(std::iter::once(&targets_chain).chain(&policy_chains).chain(&activity_chains));
    Fetched {
        resources,
        targets,
        policies: policies.into_iter().flatten().collect(),
        activities: activities.into_iter().flatten().collect(),
    }
}

fn raw_target(t: &aws_sdk_applicationautoscaling::types::ScalableTarget) -> RawTarget {
    let s = t.suspended_state();
    let mut suspended = vec![];
    if s.and_then(|s| s.dynamic_scaling_out_suspended()) == Some(true) {
        suspended.push("scale-out");
    }
    if s.and_then(|s| s.dynamic_scaling_in_suspended()) == Some(true) {
        suspended.push("scale-in");
    }
    if s.and_then(|s| s.scheduled_scaling_suspended()) == Some(true) {
        suspended.push("scheduled scaling");
    }
    RawTarget {
        resource_id: t.resource_id().to_string(),
        dimension: t.scalable_dimension().as_str().to_string(),
        min: t.min_capacity(),
        max: t.max_capacity(),
        suspended,
    }
}

fn policy(p: &aws_sdk_applicationautoscaling::types::ScalingPolicy) -> Policy {
    let name = truncate(&one_line(p.policy_name()), TEXT_MAX);
    let rule = if let Some(t) = p.target_tracking_scaling_policy_configuration() {
        let metric = match (t.predefined_metric_specification(), t.customized_metric_specification()) {
            (Some(pre), _) => Tracked::Predefined { metric_type: pre.predefined_metric_type().as_str().to_string() },
            (None, Some(c)) if c.metric_name().is_some() => Tracked::Custom {
                namespace: c.namespace().unwrap_or_default().to_string(),
                name: c.metric_name().unwrap_or_default().to_string(),
                statistic: c.statistic().map(|s| s.as_str().to_string()),
            },
            _ => Tracked::MetricMath,
        };
        Rule::TargetTracking {
            metric,
            target: t.target_value(),
            current: None,
            scale_out_cooldown_s: t.scale_out_cooldown(),
            scale_in_cooldown_s: t.scale_in_cooldown(),
            scale_in_disabled: t.disable_scale_in().unwrap_or(false),
        }
    } else if let Some(s) = p.step_scaling_policy_configuration() {
        Rule::StepScaling {
            alarms: p.alarms().iter().map(|a| truncate(&one_line(a.alarm_name()), TEXT_MAX)).collect(),
            cooldown_s: s.cooldown(),
        }
    } else {
        Rule::Other { policy_type: p.policy_type().as_str().to_string() }
    };
    Policy { name, rule }
}

/// `Setting desired instance count to 5.`, `Failed to set desired copy count to 3. Reason: …`
static TO_COUNT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\bcount to (\d+)").expect("static regex"));

fn activity(a: &aws_sdk_applicationautoscaling::types::ScalingActivity) -> Option<Activity> {
    let to =
        [a.description(), a.status_message().unwrap_or_default()].iter().find_map(|t| TO_COUNT.captures(t).and_then(|c| c[1].parse().ok()));
    Some(Activity {
        start: time(Some(a.start_time()))?,
        end: time(a.end_time()),
        status: a.status_code().as_str().to_string(),
        failed: matches!(a.status_code(), ScalingActivityStatusCode::Failed | ScalingActivityStatusCode::Unfulfilled),
        from: None,
        to,
        cause: truncate(&one_line(a.cause()), TEXT_MAX),
        message: a.status_message().map(|m| truncate(&one_line(m), 600)),
        failure: None,
    })
}

// ------------------------------------------------------------------------------------------------
// What is shown

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Capacity {
    /// One per resource the alarm names (and per scalable dimension registered for it).
    pub scaled: Vec<Scaled>,
    /// When capacity explains the alarm: a failed scale-out, at the maximum, scale-out suspended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead: Option<Lead>,
}

impl Capacity {
    /// The sentence of [`Capacity::lead`].
    pub fn headline(&self) -> Option<&str> {
        self.lead.as_ref().map(Lead::text)
    }
}

/// What capacity says about the alarm, most decisive first, with its sentence.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
pub enum Lead {
    /// A scale-out failed (or could not complete) near the alarm.
    ScaleOutFailed(String),
    /// At the maximum while its metric is over target (or with no way to tell).
    AtMaximum(String),
    /// Scale-out suspended on a resource with scaling policies.
    Suspended(String),
}

impl Lead {
    pub fn text(&self) -> &str {
        match self {
            Lead::ScaleOutFailed(t) | Lead::AtMaximum(t) | Lead::Suspended(t) => t,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scaled {
    pub kind: ResourceKind,
    pub name: String,
    pub resource_id: String,
    /// `instances`, `copies`, `provisioned concurrency`.
    pub unit: String,
    /// `(min, max)`; `None`: not registered with Application Auto Scaling.
    pub range: Option<(i32, i32)>,
    /// From DescribeEndpoint / DescribeInferenceComponent.
    pub current: Option<i32>,
    pub desired: Option<i32>,
    /// Desired (or current) count has reached the registered maximum: it cannot grow.
    pub at_max: bool,
    /// `scale-out`, `scale-in`, `scheduled scaling`.
    pub suspended: Vec<String>,
    pub policies: Vec<Policy>,
    /// Newest first.
    pub activities: Vec<Activity>,
    /// SageMaker's own managed instance scaling (min, max), for a variant that has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed: Option<(i32, i32)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    pub name: String,
    #[serde(flatten)]
    pub rule: Rule,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Rule {
    TargetTracking {
        metric: Tracked,
        target: f64,
        /// The metric's value over the alarm window, when it is one enrichment fetched.
        current: Option<f64>,
        scale_out_cooldown_s: Option<i32>,
        scale_in_cooldown_s: Option<i32>,
        scale_in_disabled: bool,
    },
    StepScaling {
        /// The CloudWatch alarms that trigger it.
        alarms: Vec<String>,
        cooldown_s: Option<i32>,
    },
    Other {
        policy_type: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Tracked {
    Predefined {
        metric_type: String,
    },
    Custom {
        namespace: String,
        name: String,
        statistic: Option<String>,
    },
    /// A customized metric defined by metric math: not recomputed here.
    MetricMath,
}

impl Tracked {
    /// How people say it: `invocations per instance`.
    pub fn label(&self) -> String {
        match self {
            Tracked::Predefined { metric_type } => match metric_type.as_str() {
                "SageMakerVariantInvocationsPerInstance" => "invocations per instance".into(),
                "SageMakerVariantConcurrentRequestsPerModelHighResolution" => "concurrent requests per model".into(),
                "SageMakerVariantProvisionedConcurrencyUtilization" => "provisioned concurrency utilization".into(),
                "SageMakerInferenceComponentInvocationsPerCopy" => "invocations per copy".into(),
                "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution" => "concurrent requests per copy".into(),
                other => other.to_string(),
            },
            Tracked::Custom { name, statistic, .. } => match statistic {
                Some(s) => format!("{name} ({s})"),
                None => name.clone(),
            },
            Tracked::MetricMath => "a metric-math expression".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Activity {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    /// `Successful`, `Failed`, `InProgress`, `Unfulfilled`, …
    pub status: String,
    pub failed: bool,
    /// The count before: the previous successful activity's target, when there is one.
    pub from: Option<i32>,
    pub to: Option<i32>,
    pub cause: String,
    pub message: Option<String>,
    /// Why it failed, said plainly (insufficient capacity, quota), for failed activities.
    pub failure: Option<String>,
}

impl Activity {
    /// `Scale-out`, `Scale-in` or `Scaling`, against `from` or else the current count.
    pub fn direction(&self, current: Option<i32>) -> &'static str {
        match (self.to, self.from.or(current)) {
            (Some(to), Some(base)) if to > base => "Scale-out",
            (Some(to), Some(base)) if to < base => "Scale-in",
            _ => "Scaling",
        }
    }

    /// `3 → 4`, `→ 5`.
    pub fn counts(&self) -> String {
        match (self.from, self.to) {
            (Some(f), Some(t)) => format!("{f} → {t}"),
            (None, Some(t)) => format!("→ {t}"),
            _ => "count unknown".into(),
        }
    }
}

/// A change near the alarm, `offset_s` seconds from the state change (negative: before).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub at: DateTime<Utc>,
    pub offset_s: i64,
    pub what: String,
}

/// `4 min before the alarm`, `2 min after the alarm`, `1 h 20 min before the alarm`.
pub fn relative(offset_s: i64) -> String {
    let m = offset_s.abs() / 60;
    if m == 0 {
        return "at the state change".into();
    }
    let span = if m < 60 {
        format!("{m} min")
    } else if m < 48 * 60 {
        match m % 60 {
            0 => format!("{} h", m / 60),
            r => format!("{} h {r} min", m / 60),
        }
    } else {
        format!("{} d", m / (24 * 60))
    };
    format!("{span} {} the alarm", if offset_s < 0 { "before" } else { "after" })
}

fn unit(dimension: &str, kind: ResourceKind) -> &'static str {
    match dimension {
        "sagemaker:variant:DesiredProvisionedConcurrency" => "provisioned concurrency",
        "sagemaker:inference-component:DesiredCopyCount" => "copies",
        "sagemaker:variant:DesiredInstanceCount" => "instances",
        _ if kind == ResourceKind::Component => "copies",
        _ => "instances",
    }
}

/// Joins what the calls returned with the endpoint's counts and the fetched metrics. `None`
/// when nothing was looked up or DescribeScalableTargets failed (its note says so).
pub(super) fn analyse(f: Fetched, info: Option<&EndpointInfo>, series: &[Series], levels: &[Series], w: &Window) -> Option<Capacity> {
    let targets = f.targets?;
    if f.resources.is_empty() {
        return None;
    }
    let instance_type = |variant: &str| info.and_then(|i| i.variants.iter().find(|v| v.name == variant)?.instance_type.clone());
    let mut scaled = vec![];
    for r in &f.resources {
        let (current, desired, managed) = counts(info, r);
        let registered: Vec<&RawTarget> = targets.iter().filter(|t| t.resource_id == r.id).collect();
        // Not registered: one entry that says so; its activities (a recent deregistration) still count.
        let shapes: Vec<(Option<&RawTarget>, String)> = if registered.is_empty() {
            vec![(None, String::new())]
        } else {
            registered.iter().map(|t| (Some(*t), t.dimension.clone())).collect()
        };
        for (target, dimension) in shapes {
            let same = |rid: &str, dim: &str| rid == r.id && (dimension.is_empty() || dim == dimension);
            let unit = unit(&dimension, r.kind);
            // Provisioned concurrency is not an instance count: the endpoint's counts do not apply.
            let (current, desired) = if unit == "provisioned concurrency" { (None, None) } else { (current, desired) };
            let mut policies: Vec<Policy> = f.policies.iter().filter(|(rid, dim, _)| same(rid, dim)).map(|(_, _, p)| p.clone()).collect();
            for p in &mut policies {
                if let Rule::TargetTracking { metric, current, .. } = &mut p.rule {
                    *current = tracked_now(metric, series, levels, w);
                }
            }
            let mut activities: Vec<Activity> =
                f.activities.iter().filter(|(rid, dim, _)| same(rid, dim)).map(|(_, _, a)| a.clone()).collect();
            activities.sort_by_key(|a| std::cmp::Reverse(a.start));
            let itype = if r.kind == ResourceKind::Variant { instance_type(&r.name) } else { None };
            // Newest first: an activity started from the count the next older successful one reached.
            let froms: Vec<Option<i32>> =
                (0..activities.len()).map(|i| activities[i + 1..].iter().find(|a| a.status == "Successful").and_then(|a| a.to)).collect();
            for (a, from) in activities.iter_mut().zip(froms) {
                a.from = from;
                if a.failed {
                    a.failure = a.message.as_deref().map(|m| failure_cause(m, itype.as_deref()));
                }
            }
            let range = target.map(|t| (t.min, t.max));
            let at_max = match (range, desired.or(current)) {
                (Some((_, max)), Some(n)) => n >= max,
                _ => false,
            };
            scaled.push(Scaled {
                kind: r.kind,
                name: r.name.clone(),
                resource_id: r.id.clone(),
                unit: unit.to_string(),
                range,
                current,
                desired,
                at_max,
                suspended: target.map(|t| t.suspended.iter().map(|s| s.to_string()).collect()).unwrap_or_default(),
                policies,
                activities,
                managed: if target.is_none() { managed } else { None },
            });
        }
    }
    let lead = lead(&scaled, w);
    Some(Capacity { scaled, lead })
}

/// Current, desired, managed scaling range of a resource, from the endpoint branch.
fn counts(info: Option<&EndpointInfo>, r: &Resource) -> (Option<i32>, Option<i32>, Option<(i32, i32)>) {
    let Some(info) = info else { return (None, None, None) };
    match r.kind {
        ResourceKind::Variant => match info.variants.iter().find(|v| v.name == r.name) {
            Some(v) => (v.current_instances, v.desired_instances, v.managed_scaling),
            None => (None, None, None),
        },
        ResourceKind::Component => match info.components.iter().find(|c| c.name == r.name) {
            Some(c) => (c.current_copies, c.desired_copies, None),
            None => (None, None, None),
        },
    }
}

/// A failed activity's message, said plainly: what the on-call can act on.
fn failure_cause(message: &str, instance_type: Option<&str>) -> String {
    let low = message.to_ascii_lowercase();
    if low.contains("insufficient") && low.contains("capacity") || low.contains("unable to provision") {
        return match instance_type {
            Some(t) => format!("insufficient capacity for {t}"),
            None => "insufficient capacity for the instance type".into(),
        };
    }
    if low.contains("resourcelimitexceeded") || low.contains("service limit") || low.contains("quota") {
        return "account quota reached (ResourceLimitExceeded): request an increase in Service Quotas".into();
    }
    let reason = message.split_once("Reason:").map(|(_, r)| r.trim()).unwrap_or(message);
    truncate(&one_line(reason), TEXT_MAX)
}

/// The tracked metric's value over the alarm window, from the per-instance series enrichment
/// fetched; `None` when it fetched no equivalent (a different statistic would be a different number).
fn tracked_now(m: &Tracked, series: &[Series], levels: &[Series], w: &Window) -> Option<f64> {
    let from = w.alarm_start - Duration::seconds(i64::from(w.period_s));
    // The alarm window, as the fleet analysis reads it; for sparse metrics the latest point before.
    let in_window = |s: &Series| -> Vec<f64> {
        let v: Vec<f64> = s.points.iter().filter(|(t, _)| *t >= from && *t <= w.anchor).map(|(_, v)| *v).collect();
        if v.is_empty() {
            s.points.iter().rev().find(|(t, _)| *t <= w.anchor).map(|(_, v)| *v).into_iter().collect()
        } else {
            v
        }
    };
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    // A variant- or component-level series of the tracked metric (fetched for the policies).
    let level = |metric: &str| levels.iter().find(|s| s.namespace == INVOCATIONS_NS && s.metric == metric);
    let per_minute = |s: &Series| mean(&in_window(s)).map(|v| v * 60.0 / f64::from(w.period_s.max(1)));
    let peak = |s: &Series| in_window(s).into_iter().reduce(f64::max);
    match m {
        Tracked::Predefined { metric_type } => {
            let found = match metric_type.as_str() {
                "SageMakerVariantInvocationsPerInstance" => level("InvocationsPerInstance").and_then(per_minute),
                "SageMakerInferenceComponentInvocationsPerCopy" => level("InvocationsPerCopy").and_then(per_minute),
                "SageMakerVariantConcurrentRequestsPerModelHighResolution" => level("ConcurrentRequestsPerModel").and_then(peak),
                "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution" => level("ConcurrentRequestsPerCopy").and_then(peak),
                _ => None,
            };
            found.or_else(|| per_instance_invocations(m, series, w))
        }
        // A customized metric we fetched per member with the same statistic: combined the same way.
        Tracked::Custom { namespace, name, statistic: Some(stat) } => {
            let values: Vec<f64> = series
                .iter()
                .filter(|s| &s.namespace == namespace && &s.metric == name && s.stat.as_str() == stat)
                .flat_map(in_window)
                .collect();
            match stat.as_str() {
                "Average" => mean(&values),
                "Maximum" => values.iter().cloned().reduce(f64::max),
                "Minimum" => values.iter().cloned().reduce(f64::min),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Invocations per minute per instance from the per-instance `Invocations` Sum (each instance's
/// Sum per period, per minute, averaged), when the variant-level series did not come back.
fn per_instance_invocations(m: &Tracked, series: &[Series], w: &Window) -> Option<f64> {
    let Tracked::Predefined { metric_type } = m else { return None };
    if metric_type != "SageMakerVariantInvocationsPerInstance" {
        return None;
    }
    let from = w.alarm_start - Duration::seconds(i64::from(w.period_s));
    let per_instance: Vec<f64> = series
        .iter()
        .filter(|s| s.namespace == INVOCATIONS_NS && s.metric == "Invocations" && s.stat.as_str() == "Sum")
        .filter(|s| s.member.instance.is_some() && s.member.gpu.is_none() && s.member.container.is_none())
        .filter_map(|s| {
            let v: Vec<f64> = s.points.iter().filter(|(t, _)| *t >= from && *t <= w.anchor).map(|(_, v)| *v).collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        })
        .map(|v| v * 60.0 / f64::from(w.period_s.max(1)))
        .collect();
    (!per_instance.is_empty()).then(|| per_instance.iter().sum::<f64>() / per_instance.len() as f64)
}

/// The one sentence when capacity explains the alarm, most decisive first: a scale-out that
/// failed near the alarm, a fleet at its maximum while its metric is over target, scale-out
/// suspended.
fn lead(scaled: &[Scaled], w: &Window) -> Option<Lead> {
    let near = |a: &Activity| a.start >= w.start && a.start <= w.end;
    for s in scaled {
        if let Some(a) = s.activities.iter().find(|a| a.failed && near(a) && a.direction(s.current) != "Scale-in") {
            let to = a.to.map(|t| format!(" to {t}")).unwrap_or_default();
            let why = a.failure.as_deref().map(|f| format!(": {f}")).unwrap_or_default();
            let verb = if a.status == "Unfulfilled" { "could not complete" } else { "failed" };
            return Some(Lead::ScaleOutFailed(format!(
                "{}{to} {verb} {}{why}",
                a.direction(s.current),
                relative((a.start - w.anchor).num_seconds())
            )));
        }
    }
    for s in scaled.iter().filter(|s| s.at_max) {
        let (Some((_, max)), Some(n)) = (s.range, s.current.or(s.desired)) else { continue };
        let tracking = s.policies.iter().find_map(|p| match &p.rule {
            Rule::TargetTracking { metric, target, current, .. } => Some((metric.label(), *target, *current)),
            _ => None,
        });
        let what = format!("{n} of {max} {}", s.unit);
        match tracking {
            // Under its target the fleet would not scale anyway: the maximum is not the story.
            Some((_, target, Some(now))) if now <= target => continue,
            Some((label, target, Some(now))) => {
                return Some(Lead::AtMaximum(format!(
                    "At its autoscaling maximum: {what}, {label} {} against a target of {} — raise MaxCapacity",
                    sig(now.round()),
                    sig(target)
                )))
            }
            Some((label, target, None)) => {
                return Some(Lead::AtMaximum(format!(
                    "At its autoscaling maximum: {what} ({label} target {}) — it cannot scale out; raise MaxCapacity",
                    sig(target)
                )))
            }
            None => return Some(Lead::AtMaximum(format!("At its autoscaling maximum: {what} — it cannot scale out; raise MaxCapacity"))),
        }
    }
    scaled
        .iter()
        .find(|s| s.suspended.iter().any(|x| x == "scale-out") && !s.policies.is_empty())
        .map(|s| Lead::Suspended(format!("Scale-out is suspended on {}: its scaling policies will not add {}", s.name, s.unit)))
}

/// What changed shortly before the alarm (and since): endpoint updates, scaling activities,
/// sagealarm's own last action (the `sagealarm:last-action` tag). Oldest first.
pub(super) fn changes(info: Option<&EndpointInfo>, capacity: Option<&Capacity>, w: &Window) -> Vec<Change> {
    let mut out = vec![];
    let mut push = |at: DateTime<Utc>, what: String| {
        if at >= w.anchor - CHANGE_LOOKBACK && at <= w.anchor + CHANGE_AFTER {
            out.push(Change { at, offset_s: (at - w.anchor).num_seconds(), what });
        }
    };
    if let Some(i) = info {
        if let Some(t) = i.last_modified {
            let what = if i.created == Some(t) {
                "endpoint created".to_string()
            } else if matches!(i.status, EndpointStatus::Updating | EndpointStatus::SystemUpdating) {
                format!("endpoint update started (still {})", i.status)
            } else {
                "endpoint updated".to_string()
            };
            push(t, what);
        }
        if let Some((t, key)) = i.last_action.as_deref().and_then(parse_last_action) {
            let alarm = key.split('@').next().map(alarm_name_of).unwrap_or_default();
            push(t, if alarm.is_empty() { "sagealarm remediation".into() } else { format!("sagealarm remediation (alarm {alarm})") });
        }
    }
    for s in capacity.map(|c| c.scaled.as_slice()).unwrap_or_default() {
        let who = match s.kind {
            ResourceKind::Variant => s.name.clone(),
            ResourceKind::Component => format!("component {}", s.name),
        };
        for a in &s.activities {
            let what = match a.status.as_str() {
                "Successful" => format!("{who} scaled {}", a.counts()),
                "InProgress" | "Pending" => format!("{who} scaling {} in progress", a.counts()),
                status => format!("{who} {} {} {}", a.direction(s.current).to_lowercase(), a.counts(), status.to_lowercase()),
            };
            push(a.start, what);
        }
    }
    out.sort_by_key(|c| c.at);
    let skip = out.len().saturating_sub(MAX_CHANGES);
    out.drain(..skip);
    out
}

/// `<RFC3339 time> <alarm key>`, as remediation writes it.
fn parse_last_action(v: &str) -> Option<(DateTime<Utc>, &str)> {
    let (t, key) = v.split_once(' ').unwrap_or((v, ""));
    Some((DateTime::parse_from_rfc3339(t).ok()?.with_timezone(&Utc), key.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::endpoint::{ComponentInfo, VariantInfo};
    use crate::enrich::metrics::Member;

    fn window() -> Window {
        let anchor = DateTime::parse_from_rfc3339("2026-11-20T14:07:00Z").unwrap().with_timezone(&Utc);
        Window {
            start: anchor - Duration::minutes(45),
            alarm_start: anchor - Duration::minutes(5),
            anchor,
            end: anchor + Duration::minutes(2),
            period_s: 60,
        }
    }

    fn info(current: i32, desired: i32) -> EndpointInfo {
        EndpointInfo {
            name: "e".into(),
            status: EndpointStatus::InService,
            failure_reason: None,
            config_name: Some("e-cfg".into()),
            created: None,
            last_modified: None,
            variants: vec![VariantInfo {
                name: "AllTraffic".into(),
                instance_type: Some("ml.g5.12xlarge".into()),
                current_instances: Some(current),
                desired_instances: Some(desired),
                serverless: None,
                managed_scaling: None,
            }],
            enhanced_metrics: None,
            components: vec![],
            remediate: None,
            last_action: None,
        }
    }

    const ID: &str = "endpoint/e/variant/AllTraffic";
    const DIM: &str = "sagemaker:variant:DesiredInstanceCount";

    fn variant() -> Vec<Resource> {
        resources(&SageMakerTarget { endpoint: Some("e".into()), variant: Some("AllTraffic".into()), ..SageMakerTarget::default() })
    }

    fn invocations_policy(target: f64) -> (String, String, Policy) {
        (
            ID.into(),
            DIM.into(),
            Policy {
                name: "invocations".into(),
                rule: Rule::TargetTracking {
                    metric: Tracked::Predefined { metric_type: "SageMakerVariantInvocationsPerInstance".into() },
                    target,
                    current: None,
                    scale_out_cooldown_s: Some(300),
                    scale_in_cooldown_s: Some(600),
                    scale_in_disabled: false,
                },
            },
        )
    }

    /// Per-instance Invocations (Sum per minute) at `per_minute` each, over the last 30 minutes.
    fn invocations(n: usize, per_minute: f64, w: &Window) -> Vec<Series> {
        (0..n)
            .map(|i| Series {
                namespace: INVOCATIONS_NS.into(),
                metric: "Invocations".into(),
                stat: "Sum".into(),
                member: Member { instance: Some(format!("i-{i}")), gpu: None, container: None },
                points: (0..30).map(|m| (w.anchor - Duration::minutes(m), per_minute + i as f64 * 2.0 - 3.0)).collect(),
            })
            .collect()
    }

    fn activity(minutes: i64, status: &str, to: i32, message: Option<&str>) -> (String, String, Activity) {
        (
            ID.into(),
            DIM.into(),
            Activity {
                start: window().anchor + Duration::minutes(minutes),
                end: None,
                status: status.into(),
                failed: status == "Failed",
                from: None,
                to: Some(to),
                cause: "monitor alarm TargetTracking-x in state ALARM triggered policy invocations".into(),
                message: message.map(str::to_string),
                failure: None,
            },
        )
    }

    fn target(min: i32, max: i32) -> RawTarget {
        RawTarget { resource_id: ID.into(), dimension: DIM.into(), min, max, suspended: vec![] }
    }

    #[test]
    fn at_maximum_over_target_says_raise_max_capacity_with_the_fetched_value() {
        let w = window();
        let f = Fetched {
            resources: variant(),
            targets: Some(vec![target(2, 4)]),
            policies: vec![invocations_policy(70.0)],
            activities: vec![activity(-40, "Successful", 4, None)],
        };
        // 4 instances at 139, 141, 143, 145 per minute: 142 per instance.
        let c = analyse(f, Some(&info(4, 4)), &invocations(4, 142.0, &w), &[], &w).unwrap();
        let s = &c.scaled[0];
        assert!(s.at_max);
        assert_eq!((s.range, s.current), (Some((2, 4)), Some(4)));
        let Rule::TargetTracking { current, .. } = &s.policies[0].rule else { panic!() };
        assert_eq!(*current, Some(142.0));
        assert_eq!(
            c.headline(),
            Some("At its autoscaling maximum: 4 of 4 instances, invocations per instance 142 against a target of 70 — raise MaxCapacity")
        );
    }

    #[test]
    fn at_maximum_but_under_target_is_no_headline() {
        let w = window();
        let f = Fetched {
            resources: variant(),
            targets: Some(vec![target(2, 4)]),
            policies: vec![invocations_policy(200.0)],
            activities: vec![],
        };
        let c = analyse(f, Some(&info(4, 4)), &invocations(4, 142.0, &w), &[], &w).unwrap();
        assert!(c.scaled[0].at_max);
        assert_eq!(c.headline(), None);
    }

    #[test]
    fn a_failed_scale_out_leads_with_its_plain_cause_and_time_from_the_state_change() {
        let w = window();
        let f = Fetched {
            resources: variant(),
            targets: Some(vec![target(2, 8)]),
            policies: vec![invocations_policy(70.0)],
            activities: vec![
                activity(-4, "Failed", 5, Some("Failed to set desired instance count to 5. Reason: We currently do not have sufficient capacity (InsufficientCapacity) for ml.g5.12xlarge in the Availability Zone you requested.")),
                activity(-20, "Successful", 4, None),
                activity(-60, "Successful", 3, None),
            ],
        };
        let c = analyse(f, Some(&info(4, 4)), &invocations(4, 142.0, &w), &[], &w).unwrap();
        assert_eq!(c.headline(), Some("Scale-out to 5 failed 4 min before the alarm: insufficient capacity for ml.g5.12xlarge"));
        let acts = &c.scaled[0].activities;
        assert_eq!((acts[0].counts(), acts[1].counts(), acts[2].counts()), ("4 → 5".into(), "3 → 4".into(), "→ 3".into()));
        // The endpoint's own change, sagealarm's tag and the activities, oldest first, in the lookback.
        let mut i = info(4, 4);
        i.last_modified = Some(w.anchor - Duration::minutes(90));
        i.created = Some(w.anchor - Duration::days(30));
        i.last_action = Some(format!(
            "{} arn:aws:cloudwatch:us-east-1:1:alarm:p99@2026-11-20T13:50:00+00:00",
            (w.anchor - Duration::minutes(15)).to_rfc3339()
        ));
        let ch: Vec<String> = changes(Some(&i), Some(&c), &w).iter().map(|c| format!("{}: {}", relative(c.offset_s), c.what)).collect();
        assert_eq!(
            ch,
            vec![
                "1 h 30 min before the alarm: endpoint updated",
                "1 h before the alarm: AllTraffic scaled → 3",
                "20 min before the alarm: AllTraffic scaled 3 → 4",
                "15 min before the alarm: sagealarm remediation (alarm p99)",
                "4 min before the alarm: AllTraffic scale-out 4 → 5 failed",
            ]
        );
    }

    #[test]
    fn quota_and_other_failures_are_named() {
        assert_eq!(
            failure_cause("Failed to set desired instance count to 110. Reason: The account-level service limit 'ml.g5.12xlarge for endpoint usage' is 4 Instances (Error Code: ResourceLimitExceeded)", None),
            "account quota reached (ResourceLimitExceeded): request an increase in Service Quotas"
        );
        assert_eq!(failure_cause("Failed to set desired instance count to 5. Reason: endpoint is Updating", None), "endpoint is Updating");
    }

    #[test]
    fn not_registered_is_one_entry_without_range_and_no_headline() {
        let w = window();
        let f = Fetched { resources: variant(), targets: Some(vec![]), policies: vec![], activities: vec![] };
        let c = analyse(f, Some(&info(3, 3)), &[], &[], &w).unwrap();
        assert_eq!(c.scaled.len(), 1);
        assert_eq!((c.scaled[0].range, c.scaled[0].at_max, c.scaled[0].current), (None, false, Some(3)));
        assert_eq!(c.headline(), None);
        // Unknown whether it is autoscaled: nothing is claimed.
        let f = Fetched { resources: variant(), targets: None, policies: vec![], activities: vec![] };
        assert_eq!(analyse(f, Some(&info(3, 3)), &[], &[], &w), None);
    }

    #[test]
    fn component_copies_are_counted_from_the_component() {
        let w = window();
        let sm = SageMakerTarget { inference_component: Some("ic".into()), ..SageMakerTarget::default() };
        let mut i = info(2, 2);
        i.components.push(ComponentInfo {
            name: "ic".into(),
            status: None,
            endpoint: Some("e".into()),
            variant: Some("AllTraffic".into()),
            current_copies: Some(3),
            desired_copies: Some(3),
        });
        let t = RawTarget {
            resource_id: "inference-component/ic".into(),
            dimension: "sagemaker:inference-component:DesiredCopyCount".into(),
            min: 1,
            max: 3,
            suspended: vec![],
        };
        let f = Fetched { resources: resources(&sm), targets: Some(vec![t]), policies: vec![], activities: vec![] };
        let c = analyse(f, Some(&i), &[], &[], &w).unwrap();
        assert_eq!((c.scaled[0].unit.as_str(), c.scaled[0].at_max), ("copies", true));
        assert_eq!(c.headline(), Some("At its autoscaling maximum: 3 of 3 copies — it cannot scale out; raise MaxCapacity"));
    }

    #[test]
    fn relative_times_read_naturally() {
        assert_eq!(relative(-240), "4 min before the alarm");
        assert_eq!(relative(130), "2 min after the alarm");
        assert_eq!(relative(-4800), "1 h 20 min before the alarm");
        assert_eq!(relative(-3 * 86400), "3 d before the alarm");
        assert_eq!(relative(10), "at the state change");
    }
}
