//! Report: the one model of what we know about a notification, built once and rendered per
//! destination. Renderers never look back at raw input. [`links`]: the console links it carries.

pub mod links;

use crate::enrich::Enrichment;
use crate::model::units::{self, Unit};
use crate::model::{Alarm, AlarmKind, AlarmState, Contributor, MetricQuery, PlainMessage};
use crate::promql::Label;
use crate::subject::{insights, Subject, Target};
use links::Link;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmReport {
    pub alarm: Alarm,
    pub target: Target,
    /// `GPUUtilization (Average)`, `5xx error rate`, or the composite rule.
    pub metric_label: String,
    /// The one time series of a multi-time-series alarm this is about: `GPU 3 on i-0123…`.
    /// Titles name it, since every contributor is its own incident.
    pub contributor: Option<String>,
    /// For the alarm level of a multi-time-series alarm: `3 of 48 time series in ALARM`.
    pub series: Option<String>,
    /// NewStateReason with values in human units.
    pub reason: String,
    /// `≥ 80%`, `outside band ANOMALY_DETECTION_BAND(m1, 2)`.
    pub threshold: Option<String>,
    /// `3 of 3 datapoints × 5 min`; for a PromQL alarm `pending 5 min · recovery 10 min · every 1 min`.
    pub window: Option<String>,
    /// The query a PromQL or log alarm evaluates (from the notification, else DescribeAlarms).
    pub query: Option<String>,
    /// The alarm's tags (from the notification, else ListTagsForResource): routes match them,
    /// `runbook` / `dashboard` become links, `owner` is shown. Untrusted text.
    pub tags: Vec<(String, String)>,
    pub links: Vec<Link>,
    pub enrichment: Enrichment,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Report {
    Alarm(Box<AlarmReport>),
    Plain(PlainMessage),
}

impl Report {
    pub fn state(&self) -> Option<AlarmState> {
        match self {
            Report::Alarm(a) => Some(a.alarm.state),
            Report::Plain(_) => None,
        }
    }

    /// The mute rule silencing this alarm's actions now, if any.
    pub fn mute(&self) -> Option<&crate::model::Mute> {
        match self {
            Report::Alarm(a) => a.alarm.mute.as_ref(),
            Report::Plain(_) => None,
        }
    }

    /// How logs and summaries name it: the alarm's name, or the plain message's subject.
    pub fn title(&self) -> String {
        match self {
            Report::Alarm(a) => a.alarm.name.clone(),
            Report::Plain(p) => p.subject.clone().unwrap_or_else(|| "SNS notification".into()),
        }
    }
}

/// `target` is what [`crate::subject::resolve`] made of `alarm`, computed once and kept here for
/// every later stage.
pub fn build_alarm(mut alarm: Alarm, target: Target, enrichment: Enrichment) -> AlarmReport {
    // What the notification left out of a PromQL or log alarm, DescribeAlarms said.
    if let Some(kind) = enrichment.described.clone() {
        alarm.kind = kind;
    }
    let unit = primary_unit(&alarm);
    let tags = if alarm.tags.is_empty() { enrichment.tags.clone() } else { alarm.tags.clone() };
    let mut links = links::for_alarm(&alarm, &target);
    links.extend(links::from_tags(&tags));
    AlarmReport {
        metric_label: metric_label(&alarm),
        contributor: alarm.contributor.as_ref().map(contributor_label),
        series: if alarm.contributor.is_none() { series_count(&alarm.reason) } else { None },
        reason: units::humanize_reason(&alarm.reason, unit),
        threshold: threshold_text(&alarm, unit),
        window: window_text(&alarm),
        query: query_text(&alarm),
        tags,
        links,
        target,
        enrichment,
        alarm,
    }
}

impl AlarmReport {
    /// A tag's value (`owner`, `runbook`), by key, any case.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }
}

/// The PromQL or Logs Insights query.
fn query_text(alarm: &Alarm) -> Option<String> {
    match &alarm.kind {
        AlarmKind::PromQl(p) => p.query.clone(),
        AlarmKind::Log(l) => l.query.clone(),
        _ => None,
    }
}

/// The unit of the value the alarm compares: a single metric's, or none for expressions.
fn primary_unit(alarm: &Alarm) -> Unit {
    match &alarm.kind {
        AlarmKind::Metric { stat, .. } => Unit::of(&stat.metric.name, stat.unit.as_deref()),
        // The band is drawn around one metric: its unit is the band's.
        AlarmKind::AnomalyDetection { queries, .. } => {
            queries.iter().find_map(|q| q.metric_stat.as_ref()).map(|s| Unit::of(&s.metric.name, s.unit.as_deref())).unwrap_or(Unit::Plain)
        }
        // A Metrics Insights query selects one metric: its unit is the alarm's.
        AlarmKind::MetricMath { queries, .. } => match insights_query(queries) {
            Some(q) => Unit::of(&q.metric, None),
            None => Unit::Plain,
        },
        _ => Unit::Plain,
    }
}

/// The Metrics Insights query an alarm evaluates, when its one returned expression is one.
fn insights_query(queries: &[MetricQuery]) -> Option<insights::InsightsQuery> {
    let mut returned = queries.iter().filter(|q| q.return_data);
    let q = returned.next()?;
    if returned.next().is_some() {
        return None;
    }
    insights::parse(q.expression.as_deref()?).ok()
}

/// "3 out of 48 time series evaluated to ALARM" → `3 of 48 time series in ALARM`;
/// "100+ time series evaluated to ALARM" → `100+ time series in ALARM`.
pub fn series_count(reason: &str) -> Option<String> {
    let (before, after) = reason.split_once(" time series evaluated to ")?;
    let state: String = after.chars().take_while(|c| c.is_ascii_uppercase() || *c == '_').collect();
    let words: Vec<&str> = before.split_whitespace().rev().take(4).collect();
    let is_count = |w: &str| {
        let digits = w.strip_suffix('+').unwrap_or(w);
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
    };
    let total = *words.first().filter(|w| is_count(w))?;
    let count = match words.as_slice() {
        [_, "of", "out", n, ..] if is_count(n) => format!("{n} of {total}"),
        _ => total.to_string(),
    };
    Some(if state.is_empty() { format!("{count} time series") } else { format!("{count} time series in {state}") })
}

/// How a title names a contributor: `GPU 3 on i-0123…`, `instance i-0123…`, `TableName orders`;
/// its id when it has no attributes.
pub fn contributor_label(c: &Contributor) -> String {
    // A PromQL alarm's contributors carry its query's labels, in either dialect
    // (`aws.sagemaker.inference_component.name`, `@resource.host.id`, `host_id`, …).
    let labelled = |l: Label| c.attributes.iter().find(|(k, _)| Label::from_name(k) == Some(l)).map(|(_, v)| v.as_str());
    let gpu = c.attribute("GpuId").or_else(|| c.attribute("AcceleratorId")).or_else(|| labelled(Label::Gpu));
    let mut parts: Vec<String> = vec![];
    if let Some(g) = gpu {
        parts.push(format!("GPU {g}"));
    }
    if let Some(k) = c.attribute("ContainerId") {
        parts.push(format!("container {k}"));
    }
    if let Some(i) = c.attribute("InstanceId").or_else(|| labelled(Label::Host)) {
        match parts.last_mut() {
            Some(last) => last.push_str(&format!(" on {i}")),
            None => parts.push(format!("instance {i}")),
        }
    }
    const NAMED: [(&str, Label, &str); 3] = [
        ("InferenceComponentName", Label::Component, "component"),
        ("VariantName", Label::Variant, "variant"),
        ("EndpointName", Label::Endpoint, "endpoint"),
    ];
    for (key, label, word) in NAMED {
        if let Some(v) = c.attribute(key).or_else(|| labelled(label)) {
            parts.push(format!("{word} {v}"));
        }
    }
    if let Some(z) = labelled(Label::Zone) {
        parts.push(format!("zone {z}"));
    }
    const KNOWN: [&str; 7] =
        ["GpuId", "AcceleratorId", "ContainerId", "InstanceId", "InferenceComponentName", "VariantName", "EndpointName"];
    let shown = [Label::Gpu, Label::Host, Label::Component, Label::Variant, Label::Endpoint, Label::Zone];
    parts.extend(
        c.attributes
            .iter()
            .filter(|(k, _)| !KNOWN.contains(&k.as_str()) && !Label::from_name(k).is_some_and(|l| shown.contains(&l)))
            .map(|(k, v)| format!("{k} {v}")),
    );
    if parts.is_empty() {
        format!("contributor {}", c.id)
    } else {
        parts.join(", ")
    }
}

fn metric_label(alarm: &Alarm) -> String {
    match &alarm.kind {
        AlarmKind::Metric { stat, .. } => format!("{} ({})", stat.metric.name, stat.stat.as_str()),
        AlarmKind::MetricMath { queries, .. } | AlarmKind::AnomalyDetection { queries, .. } => {
            let shown =
                queries.iter().find(|q| q.return_data && q.metric_stat.is_some()).or_else(|| queries.iter().find(|q| q.return_data));
            match shown {
                Some(q) => match (&q.label, &q.expression, &q.metric_stat) {
                    (_, _, Some(ms)) => format!("{} ({})", ms.metric.name, ms.stat.as_str()),
                    (Some(l), _, _) => l.clone(),
                    (None, Some(e), _) => match insights::parse(e) {
                        Ok(q) => format!("{} ({})", q.metric, q.statistic.as_str()),
                        Err(_) => e.clone(),
                    },
                    _ => q.id.clone(),
                },
                None => "metric math".into(),
            }
        }
        AlarmKind::Composite { rule, .. } => rule.clone(),
        AlarmKind::PromQl(p) => match p.query.as_deref().and_then(crate::subject::first_metric_name) {
            Some(m) => format!("PromQL on {m}"),
            None => "PromQL query".into(),
        },
        AlarmKind::Log(l) => match l.log_groups.as_slice() {
            [] => "log alarm".into(),
            [one] => format!("log alarm on {one}"),
            [one, rest @ ..] => format!("log alarm on {one} and {} more", rest.len()),
        },
        AlarmKind::Unknown => "unknown trigger".into(),
    }
}

fn threshold_text(alarm: &Alarm, unit: Unit) -> Option<String> {
    if let AlarmKind::Log(l) = &alarm.kind {
        return Some(format!("{} {}", l.comparison.map(|c| c.symbol()).unwrap_or("vs"), units::sig(l.threshold?)));
    }
    let e = alarm.kind.evaluation()?;
    if let Some(id) = &e.threshold_metric_id {
        let band = match &alarm.kind {
            AlarmKind::AnomalyDetection { queries, .. } => queries.iter().find(|q| &q.id == id).and_then(|q| q.expression.clone()),
            _ => None,
        };
        let how = e.comparison.map(|c| c.symbol()).unwrap_or("outside band");
        return Some(format!("{how} {}", band.unwrap_or_else(|| id.clone())));
    }
    let t = e.threshold?;
    let sym = e.comparison.map(|c| c.symbol()).unwrap_or("vs");
    Some(format!("{sym} {}", unit.format(t)))
}

fn window_text(alarm: &Alarm) -> Option<String> {
    if let AlarmKind::PromQl(p) = &alarm.kind {
        let parts: Vec<String> = [("pending", p.pending_s), ("recovery", p.recovery_s), ("every", p.interval_s)]
            .into_iter()
            .filter_map(|(what, s)| Some(format!("{what} {}", units::period(s?))))
            .collect();
        return (!parts.is_empty()).then(|| parts.join(" · "));
    }
    let e = alarm.kind.evaluation()?;
    let period = e.period_s.or_else(|| alarm.kind.metric_stats().first().and_then(|s| s.period_s))?;
    let n = e.evaluation_periods.unwrap_or(1);
    let m = e.datapoints_to_alarm.unwrap_or(n);
    Some(format!("{m} of {n} datapoints × {}", units::period(period)))
}

/// A one-line description of the subject: `endpoint deepgram-prod / AllTraffic / i-0a1… / GPU 0`.
pub fn subject_line(target: &Target) -> Option<String> {
    match &target.subject {
        Subject::SageMaker(sm) => {
            let mut parts = vec![];
            if let Some(e) = &sm.endpoint {
                parts.push(format!("endpoint {e}"));
            }
            if let Some(v) = &sm.variant {
                parts.push(format!("variant {v}"));
            }
            if let Some(ic) = &sm.inference_component {
                parts.push(format!("component {ic}"));
            }
            if let Some(c) = &sm.container {
                parts.push(format!("container {c}"));
            }
            if let Some(i) = &sm.instance {
                parts.push(format!("instance {i}"));
            }
            if let Some(g) = &sm.gpu {
                parts.push(format!("GPU {g}"));
            }
            (!parts.is_empty()).then(|| parts.join(" / "))
        }
        Subject::Composite { children, about } if !children.is_empty() => {
            let on = about.as_ref().and_then(|t| t.endpoint.as_deref()).map(|e| format!("endpoint {e} / ")).unwrap_or_default();
            Some(format!("{on}children {}", children.join(", ")))
        }
        _ => None,
    }
}

#[cfg(test)]
mod contributor_tests {
    use super::*;

    fn c(attrs: &[(&str, &str)]) -> Contributor {
        Contributor { id: "6d442278dba546f6".into(), attributes: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }

    #[test]
    fn contributors_are_named_by_what_they_are() {
        assert_eq!(contributor_label(&c(&[("InstanceId", "i-1"), ("GpuId", "3")])), "GPU 3 on i-1");
        assert_eq!(contributor_label(&c(&[("AcceleratorId", "0")])), "GPU 0");
        assert_eq!(contributor_label(&c(&[("InstanceId", "i-1")])), "instance i-1");
        assert_eq!(contributor_label(&c(&[("ContainerId", "c-9"), ("InferenceComponentName", "ic")])), "container c-9, component ic");
        assert_eq!(contributor_label(&c(&[("EndpointName", "ep"), ("VariantName", "v")])), "variant v, endpoint ep");
        assert_eq!(contributor_label(&c(&[("TableName", "orders")])), "TableName orders");
        assert_eq!(contributor_label(&c(&[])), "contributor 6d442278dba546f6");
        // A PromQL alarm's labels, in CloudWatch's names and in Prometheus's.
        let promql = [
            ("aws.sagemaker.endpoint.name", "llm-prod"),
            ("aws.sagemaker.inference_component.name", "ic-llama"),
            ("@resource.host.id", "i-2"),
            ("@resource.cloud.availability_zone", "us-east-1b"),
        ];
        assert_eq!(contributor_label(&c(&promql)), "instance i-2, component ic-llama, endpoint llm-prod, zone us-east-1b");
        assert_eq!(
            contributor_label(&c(&[("host_id", "i-2"), ("aws_sagemaker_inference_component_name", "ic")])),
            "instance i-2, component ic"
        );
    }

    #[test]
    fn alarm_level_reasons_count_their_series() {
        assert_eq!(
            series_count("Threshold Crossed: 3 out of 48 time series evaluated to ALARM.").as_deref(),
            Some("3 of 48 time series in ALARM")
        );
        assert_eq!(series_count("6 out of 6 time series evaluated to ALARM").as_deref(), Some("6 of 6 time series in ALARM"));
        assert_eq!(series_count("100+ time series evaluated to ALARM").as_deref(), Some("100+ time series in ALARM"));
        assert_eq!(series_count("Threshold Crossed: 1 datapoint was greater than the threshold (1.0)."), None);
        assert_eq!(series_count("many time series evaluated to ALARM"), None);
        assert_eq!(series_count(" time series evaluated to "), None);
        assert_eq!(series_count("++ time series evaluated to ALARM"), None);
    }
}
