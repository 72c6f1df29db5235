//! The alarm's relatives in CloudWatch. For a composite alarm, its children (DescribeAlarms):
//! their metrics name the endpoint, so a composite over SageMaker alarms is enriched like them.
//! For one contributor of a multi-time-series alarm, the others in ALARM now
//! (DescribeAlarmContributors): one hot GPU, or the whole fleet. For a PromQL or log alarm whose
//! notification left its query out, DescribeAlarms; for any alarm without tags in its
//! notification, ListTagsForResource.

use super::{Chain, Ctx};
use crate::model::{Alarm, AlarmKind, Comparison, Contributor, Dimension, LogQuery, Metric, PromQlCriteria};
use aws_sdk_cloudwatch::types::{AlarmType, EvaluationCriteria};
use aws_sdk_cloudwatch::Client;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// DescribeAlarms takes at most 100 names a call; a composite rarely has more than a handful.
const MAX_CHILDREN: usize = 100;
/// Contributors listed at most (one page is 100); the count says how many more.
const MAX_CONTRIBUTORS: usize = 100;

/// Every metric the children named in the composite's rule read (metric alarms' own metric and
/// their metric-math entries). Composite children of composites are not followed.
pub(super) async fn children_metrics(ctx: &Ctx, chain: &Chain, client: &Client, children: &[String]) -> Vec<Metric> {
    if children.is_empty() {
        return vec![];
    }
    let names: Vec<String> = children.iter().take(MAX_CHILDREN).cloned().collect();
    let req = client.describe_alarms().set_alarm_names(Some(names)).alarm_types(AlarmType::MetricAlarm);
    let out = match ctx.call(chain, req.send()).await {
        Ok(o) => o,
        Err(f) => {
            ctx.fail("DescribeAlarms", f);
            return vec![];
        }
    };
    let dims = |d: &[aws_sdk_cloudwatch::types::Dimension]| {
        d.iter().filter_map(|d| Some(Dimension { name: d.name()?.to_string(), value: d.value()?.to_string() })).collect::<Vec<_>>()
    };
    let mut metrics = vec![];
    for a in out.metric_alarms() {
        if let (Some(ns), Some(name)) = (a.namespace(), a.metric_name()) {
            metrics.push(Metric { namespace: ns.to_string(), name: name.to_string(), dimensions: dims(a.dimensions()) });
        }
        for q in a.metrics() {
            if let Some(m) = q.metric_stat().and_then(|s| s.metric()) {
                if let (Some(ns), Some(name)) = (m.namespace(), m.metric_name()) {
                    metrics.push(Metric { namespace: ns.to_string(), name: name.to_string(), dimensions: dims(m.dimensions()) });
                }
            }
        }
    }
    if metrics.is_empty() {
        ctx.note("DescribeAlarms", format!("none of the children ({}) is a metric alarm CloudWatch knows", children.join(", ")));
    }
    metrics
}

/// The contributors of a multi-time-series alarm in ALARM now, as CloudWatch lists them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contributors {
    pub in_alarm: Vec<InAlarm>,
    /// Listed beyond [`MAX_CONTRIBUTORS`].
    pub more: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InAlarm {
    pub contributor: Contributor,
    pub since: Option<DateTime<Utc>>,
}

impl Contributors {
    /// The others in ALARM besides the one this notification is about.
    pub fn others<'a>(&'a self, this: Option<&'a str>) -> impl Iterator<Item = &'a InAlarm> + 'a {
        self.in_alarm.iter().filter(move |c| Some(c.contributor.id.as_str()) != this)
    }
}

pub(super) async fn contributors(ctx: &Ctx, chain: &Chain, client: &Client, alarm_name: &str) -> Option<Contributors> {
    let mut out = Contributors { in_alarm: vec![], more: 0 };
    let mut token: Option<String> = None;
    // Two pages at most: the first hundred name the problem; the rest are counted.
    for _ in 0..2 {
        let req = client.describe_alarm_contributors().alarm_name(alarm_name).set_next_token(token.take());
        let page = match ctx.call(chain, req.send()).await {
            Ok(p) => p,
            Err(f) => {
                ctx.fail("DescribeAlarmContributors", f);
                return (!out.in_alarm.is_empty()).then_some(out);
            }
        };
        for c in page.alarm_contributors() {
            if out.in_alarm.len() >= MAX_CONTRIBUTORS {
                out.more += 1;
                continue;
            }
            let Some(id) = c.contributor_id() else { continue };
            let mut attributes: Vec<(String, String)> =
                c.contributor_attributes().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
            attributes.sort();
            let since = crate::aws::time(c.state_transitioned_timestamp());
            out.in_alarm.push(InAlarm { contributor: Contributor { id: id.to_string(), attributes }, since });
        }
        match page.next_token().filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    Some(out)
}

/// Whether a notification left out what a PromQL or log alarm evaluates (no sample of their
/// notifications is published: the query may well be absent).
pub fn needs_description(alarm: &Alarm) -> bool {
    match &alarm.kind {
        AlarmKind::PromQl(p) => p.query.is_none(),
        AlarmKind::Log(l) => l.query.is_none() || l.log_groups.is_empty(),
        _ => false,
    }
}

/// What DescribeAlarms says the alarm evaluates (`EvaluationCriteria.PromQLCriteria`, a log alarm's
/// scheduled query), with what the notification did say kept.
pub(super) async fn describe_kind(ctx: &Ctx, chain: &Chain, client: &Client, alarm: &Alarm) -> Option<AlarmKind> {
    let req = client.describe_alarms().alarm_names(&alarm.name).alarm_types(AlarmType::MetricAlarm).alarm_types(AlarmType::LogAlarm);
    let out = match ctx.call(chain, req.send()).await {
        Ok(o) => o,
        Err(f) => {
            ctx.fail("DescribeAlarms", f);
            return None;
        }
    };
    match &alarm.kind {
        AlarmKind::PromQl(have) => {
            let a = out.metric_alarms().first()?;
            let Some(EvaluationCriteria::PromQlCriteria(c)) = a.evaluation_criteria() else {
                ctx.note("DescribeAlarms", format!("{} has no PromQL criteria", alarm.name));
                return None;
            };
            let secs = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok());
            Some(AlarmKind::PromQl(PromQlCriteria {
                query: have.query.clone().or_else(|| c.query().map(str::to_string)),
                pending_s: have.pending_s.or(secs(c.pending_period())),
                recovery_s: have.recovery_s.or(secs(c.recovery_period())),
                interval_s: have.interval_s.or(secs(a.evaluation_interval())),
            }))
        }
        AlarmKind::Log(have) => {
            let a = out.log_alarms().first()?;
            let q = a.scheduled_query_configuration();
            let groups = if have.log_groups.is_empty() {
                q.map(|q| q.log_group_identifiers().to_vec()).unwrap_or_default()
            } else {
                have.log_groups.clone()
            };
            Some(AlarmKind::Log(LogQuery {
                query: have.query.clone().or_else(|| q.and_then(|q| q.query_string()).map(str::to_string)),
                log_groups: groups,
                comparison: have.comparison.or_else(|| a.comparison_operator().and_then(|c| Comparison::parse(c.as_str()))),
                threshold: have.threshold.or(a.threshold()),
            }))
        }
        _ => None,
    }
}

/// Alarm tags per alarm ARN, for the life of the instance: they change rarely, and
/// ListTagsForResource is one more call per alarm otherwise.
#[derive(Debug, Default)]
pub struct TagCache(std::sync::Mutex<std::collections::HashMap<String, Vec<(String, String)>>>);

/// The alarm's tags (ListTagsForResource on its ARN), cached.
pub(super) async fn tags(ctx: &Ctx, chain: &Chain, client: &Client, arn: &str, cache: &TagCache) -> Vec<(String, String)> {
    if let Some(t) = cache.0.lock().ok().and_then(|c| c.get(arn).cloned()) {
        return t;
    }
    match ctx.call(chain, client.list_tags_for_resource().resource_arn(arn).send()).await {
        Ok(out) => {
            let tags: Vec<(String, String)> =
                out.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string()))).collect();
            if let Ok(mut c) = cache.0.lock() {
                c.insert(arn.to_string(), tags.clone());
            }
            tags
        }
        Err(f) => {
            ctx.fail("ListTagsForResource", f);
            vec![]
        }
    }
}
