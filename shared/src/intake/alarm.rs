//! Lenient alarm parsing: the PascalCase message inside SNS, and the camelCase `detail`/`alarmData`
//! of EventBridge events and direct alarm actions. Both land in [`Alarm`].

use super::json::{array, boolean, embedded_object, get, number, object, string, uint};
use super::time::parse_timestamp;
use crate::model::{
    alarm_name_of, Alarm, AlarmKind, AlarmState, ArnParts, Comparison, CompositeChild, Contributor, Dimension, Evaluation, LogQuery,
    Metric, MetricQuery, MetricStat, Mute, Origin, PromQlCriteria, Statistic, TreatMissingData,
};
use serde_json::{Map, Value};

/// Is this JSON object a CloudWatch alarm message (as SNS carries it)?
pub fn looks_like_sns_alarm(obj: &Map<String, Value>) -> bool {
    obj.contains_key("AlarmName") && obj.contains_key("NewStateValue")
}

/// Parses the SNS `Message` of an alarm. `None` when the state is unreadable: the caller then
/// delivers it as a plain message rather than guessing.
pub fn from_sns_message(m: &Map<String, Value>, origin: Origin) -> Option<Alarm> {
    let state = AlarmState::parse(&string(m, &["NewStateValue"])?)?;
    let arn = string(m, &["AlarmArn"]).map(|a| a.trim().to_string());
    let arn_parts = arn.as_deref().and_then(ArnParts::parse);
    let trigger = object(m, &["Trigger"]);
    // The trigger's own keys first: `AlarmType: LogAlarm` at the top says less than the query.
    let kind = match (trigger, trigger.and_then(special_kind).or_else(|| special_kind(m))) {
        (_, Some(kind)) => kind,
        (Some(t), None) => sns_trigger(t),
        (None, None) if m.contains_key("AlarmRule") => AlarmKind::Composite {
            rule: string(m, &["AlarmRule"]).unwrap_or_default(),
            triggering_children: array(m, &["TriggeringChildren"]).iter().filter_map(sns_child).collect(),
        },
        (None, None) => AlarmKind::Unknown,
    };
    Some(Alarm {
        name: string(m, &["AlarmName"]).unwrap_or_else(|| "(unnamed alarm)".into()),
        description: string(m, &["AlarmDescription"]),
        account: string(m, &["AWSAccountId"]).or_else(|| arn_parts.as_ref().map(|a| a.account.clone())),
        region: region_code(arn_parts.as_ref(), None),
        partition: arn_parts.as_ref().map(|a| a.partition.clone()).unwrap_or_else(|| "aws".into()),
        state,
        previous_state: string(m, &["OldStateValue"]).and_then(|s| AlarmState::parse(&s)),
        reason: string(m, &["NewStateReason"]).unwrap_or_default(),
        state_change_time: string(m, &["StateChangeTime"]).and_then(|s| parse_timestamp(&s)),
        kind,
        origin,
        actions_suppressed_by: None,
        contributor: contributor(get(m, &["AlarmContributorId"]), get(m, &["AlarmContributorAttributes"])),
        tags: tags(get(m, &["AlarmTags", "alarmTags"])),
        mute: mute(object(m, &["MuteDetail", "muteDetail"])),
        arn,
    })
}

/// A PromQL or log alarm, from the keys they carry at this level.
fn special_kind(m: &Map<String, Value>) -> Option<AlarmKind> {
    promql(m).map(AlarmKind::PromQl).or_else(|| log_query(m).map(AlarmKind::Log))
}

/// `EvaluationCriteria.PromQLCriteria{Query, PendingPeriod, RecoveryPeriod}` and
/// `EvaluationInterval`, in either case and at the level given (no sample of a PromQL alarm's
/// notification is published: every spelling seen in the API is accepted).
fn promql(m: &Map<String, Value>) -> Option<PromQlCriteria> {
    let criteria = object(m, &["EvaluationCriteria", "evaluationCriteria"])?;
    let p = object(criteria, &["PromQLCriteria", "promQLCriteria", "PromQlCriteria", "promqlCriteria", "PromqlCriteria"])?;
    Some(PromQlCriteria {
        query: string(p, &["Query", "query"]),
        pending_s: uint(p, &["PendingPeriod", "pendingPeriod"]),
        recovery_s: uint(p, &["RecoveryPeriod", "recoveryPeriod"]),
        interval_s: uint(m, &["EvaluationInterval", "evaluationInterval"]),
    })
}

/// A log alarm: `ScheduledQueryConfiguration{QueryString, LogGroupIdentifiers}` (DescribeAlarms'
/// spelling), or the same keys at the level given, or `AlarmType: LogAlarm`.
fn log_query(m: &Map<String, Value>) -> Option<LogQuery> {
    let q = object(m, &["ScheduledQueryConfiguration", "scheduledQueryConfiguration"]);
    let at = q.unwrap_or(m);
    let query = string(at, &["QueryString", "queryString"]);
    let groups: Vec<String> = array(at, &["LogGroupIdentifiers", "logGroupIdentifiers", "LogGroupNames", "logGroupNames"])
        .iter()
        .filter_map(|g| g.as_str().map(str::to_string))
        .collect();
    let typed = string(m, &["AlarmType", "alarmType"]).is_some_and(|t| t.eq_ignore_ascii_case("LogAlarm"));
    if q.is_none() && query.is_none() && groups.is_empty() && !typed {
        return None;
    }
    Some(LogQuery {
        query,
        log_groups: groups,
        comparison: string(m, &["ComparisonOperator", "comparisonOperator"]).and_then(|s| Comparison::parse(&s)),
        threshold: number(m, &["Threshold", "threshold"]),
    })
}

/// Alarm tags as a map (`{"team": "search"}`), or leniently as `[{Key, Value}]`.
fn tags(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        Some(Value::Object(map)) => map.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_object)
            .filter_map(|t| Some((string(t, &["Key", "key"])?, string(t, &["Value", "value"]).unwrap_or_default())))
            .collect(),
        _ => vec![],
    }
}

/// `muteDetail{mutedByArn, muteWindowStart, muteWindowEnd}`.
fn mute(m: Option<&Map<String, Value>>) -> Option<Mute> {
    let m = m?;
    let mute = Mute {
        rule: string(m, &["mutedByArn", "MutedByArn"]),
        start: string(m, &["muteWindowStart", "MuteWindowStart"]).and_then(|s| parse_timestamp(&s)),
        end: string(m, &["muteWindowEnd", "MuteWindowEnd"]).and_then(|s| parse_timestamp(&s)),
    };
    (mute != Mute::default()).then_some(mute)
}

/// A multi-time-series alarm's contributor: SNS `AlarmContributorId` + `AlarmContributorAttributes`,
/// EventBridge / alarm action `alarmContributor {id, attributes}`. Attributes come as a map
/// (documented) or, leniently, as `[{Name, Value}]`; without an id there is no contributor.
fn contributor(id: Option<&Value>, attributes: Option<&Value>) -> Option<Contributor> {
    let id = match id? {
        Value::String(s) if !s.trim().is_empty() => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let attributes = dimensions(attributes).into_iter().map(|d| (d.name, d.value)).collect();
    Some(Contributor { id, attributes })
}

/// Only a real region code (`us-east-1`) counts; placeholder ARNs say `REGION`.
fn region_code(arn: Option<&ArnParts>, fallback: Option<&str>) -> Option<String> {
    let valid = |r: &str| {
        let r = r.trim();
        r.len() >= 9 && r.contains('-') && r.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    arn.map(|a| a.region.as_str()).filter(|r| valid(r)).or(fallback.filter(|r| valid(r))).map(|r| r.trim().to_string())
}

fn sns_trigger(t: &Map<String, Value>) -> AlarmKind {
    let evaluation = Evaluation {
        period_s: uint(t, &["Period"]),
        evaluation_periods: uint(t, &["EvaluationPeriods"]),
        datapoints_to_alarm: uint(t, &["DatapointsToAlarm"]),
        comparison: string(t, &["ComparisonOperator"]).and_then(|s| Comparison::parse(&s)),
        threshold: number(t, &["Threshold"]),
        threshold_metric_id: string(t, &["ThresholdMetricId"]),
        treat_missing_data: string(t, &["TreatMissingData"]).and_then(|s| TreatMissingData::parse(&s)),
    };
    let metrics = array(t, &["Metrics"]);
    if !metrics.is_empty() {
        let queries: Vec<MetricQuery> = metrics.iter().filter_map(Value::as_object).map(query).collect();
        return math_kind(queries, evaluation);
    }
    let Some(name) = string(t, &["MetricName"]) else { return AlarmKind::Unknown };
    // `ExtendedStatistic` holds the percentile; `Statistic` the plain one. Prefer what StatisticType says.
    let extended = string(t, &["StatisticType"]).is_some_and(|s| s.eq_ignore_ascii_case("ExtendedStatistic"));
    let stat_raw = if extended { string(t, &["ExtendedStatistic", "Statistic"]) } else { string(t, &["Statistic", "ExtendedStatistic"]) };
    AlarmKind::Metric {
        stat: MetricStat {
            metric: Metric {
                namespace: string(t, &["Namespace"]).unwrap_or_default(),
                name,
                dimensions: dimensions(get(t, &["Dimensions"])),
            },
            stat: Statistic::normalize(stat_raw.as_deref().unwrap_or("Average")),
            period_s: evaluation.period_s,
            unit: unit(t),
        },
        evaluation,
    }
}

/// `"None"` is CloudWatch's way of saying no unit.
fn unit(m: &Map<String, Value>) -> Option<String> {
    string(m, &["Unit", "unit"]).filter(|u| u != "None")
}

fn math_kind(queries: Vec<MetricQuery>, evaluation: Evaluation) -> AlarmKind {
    let anomaly = evaluation.threshold_metric_id.is_some()
        || queries.iter().any(|q| q.expression.as_deref().is_some_and(|e| e.contains("ANOMALY_DETECTION_BAND")));
    if anomaly {
        AlarmKind::AnomalyDetection { queries, evaluation }
    } else {
        AlarmKind::MetricMath { queries, evaluation }
    }
}

/// One `Metrics[]` entry, PascalCase (SNS) or camelCase (EventBridge, alarm action).
fn query(q: &Map<String, Value>) -> MetricQuery {
    let metric_stat = object(q, &["MetricStat", "metricStat"]).and_then(|ms| {
        let metric = object(ms, &["Metric", "metric"])?;
        Some(MetricStat {
            metric: Metric {
                namespace: string(metric, &["Namespace", "namespace"]).unwrap_or_default(),
                name: string(metric, &["MetricName", "name", "metricName"])?,
                dimensions: dimensions(get(metric, &["Dimensions", "dimensions"])),
            },
            stat: Statistic::normalize(&string(ms, &["Stat", "stat"]).unwrap_or_else(|| "Average".into())),
            period_s: uint(ms, &["Period", "period"]),
            unit: unit(ms),
        })
    });
    MetricQuery {
        id: string(q, &["Id", "id"]).unwrap_or_default(),
        label: string(q, &["Label", "label"]),
        expression: string(q, &["Expression", "expression"]),
        metric_stat,
        return_data: boolean(q, &["ReturnData", "returnData"]).unwrap_or(true),
    }
}

/// Dimensions come as `[{"value","name"}]` (SNS), `[{"Name","Value"}]` (API) or `{"Name": "value"}` (EventBridge).
fn dimensions(v: Option<&Value>) -> Vec<Dimension> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_object)
            .filter_map(|d| Some(Dimension { name: string(d, &["name", "Name"])?, value: string(d, &["value", "Value"])? }))
            .collect(),
        Some(Value::Object(map)) => map
            .iter()
            .filter_map(|(k, v)| {
                let value = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return None,
                };
                Some(Dimension { name: k.clone(), value })
            })
            .collect(),
        _ => vec![],
    }
}

fn sns_child(v: &Value) -> Option<CompositeChild> {
    let c = v.as_object()?;
    let arn = string(c, &["Arn", "arn"])?;
    let state = object(c, &["State", "state"]);
    Some(CompositeChild {
        name: alarm_name_of(&arn),
        state: state.and_then(|s| string(s, &["Value", "value"])).and_then(|s| AlarmState::parse(&s)),
        timestamp: state.and_then(|s| string(s, &["Timestamp", "timestamp"])).and_then(|s| parse_timestamp(&s)),
        arn,
    })
}

/// Envelope facts that EventBridge and alarm-action events carry outside the alarm detail.
pub struct DetailContext<'a> {
    pub arn: Option<&'a str>,
    pub account: Option<&'a str>,
    pub region: Option<&'a str>,
    /// A direct alarm action carries `alarmTags` beside `alarmData`.
    pub tags: Option<&'a Value>,
    pub mute: Option<&'a Map<String, Value>>,
}

/// Parses the camelCase `detail` (EventBridge) or `alarmData` (alarm action).
pub fn from_alarm_detail(d: &Map<String, Value>, ctx: DetailContext<'_>, origin: Origin) -> Result<Alarm, String> {
    let state_obj = object(d, &["state"]).ok_or("the alarm detail has no `state` object")?;
    let state_raw = string(state_obj, &["value"]).ok_or("`state.value` is missing")?;
    let state =
        AlarmState::parse(&state_raw).ok_or_else(|| format!("`state.value` is {state_raw:?}, expected ALARM, OK or INSUFFICIENT_DATA"))?;
    let arn = ctx.arn.map(|a| a.trim().to_string());
    let arn_parts = arn.as_deref().and_then(ArnParts::parse);
    let config = object(d, &["configuration"]);
    let reason_data = embedded_object(get(state_obj, &["reasonData"]));
    let reason = string(state_obj, &["reason"]).unwrap_or_default();
    let kind = match (config, config.and_then(special_kind)) {
        (_, Some(kind)) => kind,
        (Some(c), None) if c.contains_key("alarmRule") => AlarmKind::Composite {
            rule: string(c, &["alarmRule"]).unwrap_or_default(),
            triggering_children: reason_data
                .as_ref()
                .map(|r| array(r, &["triggeringAlarms"]).iter().filter_map(sns_child).collect())
                .unwrap_or_default(),
        },
        (Some(c), None) => detail_metrics(c, reason_data.as_ref(), &reason),
        (None, None) => AlarmKind::Unknown,
    };
    Ok(Alarm {
        name: string(d, &["alarmName"]).ok_or("the alarm detail has no `alarmName`")?,
        description: config.and_then(|c| string(c, &["description"])),
        account: ctx.account.map(|a| a.trim().to_string()).or_else(|| arn_parts.as_ref().map(|a| a.account.clone())),
        region: region_code(arn_parts.as_ref(), ctx.region),
        partition: arn_parts.as_ref().map(|a| a.partition.clone()).unwrap_or_else(|| "aws".into()),
        state,
        previous_state: object(d, &["previousState"]).and_then(|p| string(p, &["value"])).and_then(|s| AlarmState::parse(&s)),
        reason,
        state_change_time: string(state_obj, &["timestamp"]).and_then(|s| parse_timestamp(&s)),
        kind,
        origin,
        actions_suppressed_by: string(state_obj, &["actionsSuppressedBy"]),
        contributor: object(d, &["alarmContributor", "AlarmContributor"]).and_then(|c| {
            contributor(
                get(c, &["id", "Id", "contributorId", "ContributorId"]),
                get(c, &["attributes", "Attributes", "contributorAttributes", "ContributorAttributes"]),
            )
        }),
        tags: tags(get(d, &["alarmTags", "AlarmTags"]).or(ctx.tags)),
        mute: mute(object(d, &["muteDetail", "MuteDetail"]).or(ctx.mute)),
        arn,
    })
}

/// EventBridge carries no evaluation settings except what `reasonData` repeats.
fn detail_metrics(c: &Map<String, Value>, reason: Option<&Map<String, Value>>, reason_text: &str) -> AlarmKind {
    let queries: Vec<MetricQuery> = array(c, &["metrics"]).iter().filter_map(Value::as_object).map(query).collect();
    let evaluation = Evaluation {
        period_s: reason.and_then(|r| uint(r, &["period"])),
        evaluation_periods: reason.map(|r| array(r, &["recentDatapoints"]).len() as u32).filter(|n| *n > 0),
        datapoints_to_alarm: None,
        comparison: comparison_from_reason(reason_text),
        threshold: reason.and_then(|r| number(r, &["threshold"])).or_else(|| threshold_from_reason(reason_text)),
        threshold_metric_id: string(c, &["thresholdMetricId"]),
        treat_missing_data: None,
    };
    let plain: Vec<&MetricQuery> = queries.iter().filter(|q| q.metric_stat.is_some()).collect();
    if queries.len() == 1 && plain.len() == 1 {
        let Some(stat) = queries.into_iter().next().and_then(|q| q.metric_stat) else { return AlarmKind::Unknown };
        let period_s = evaluation.period_s.or(stat.period_s);
        return AlarmKind::Metric { stat, evaluation: Evaluation { period_s, ..evaluation } };
    }
    if queries.is_empty() {
        return AlarmKind::Unknown;
    }
    math_kind(queries, evaluation)
}

/// Contributor events carry no `reasonData`; the reason says "…the threshold (95.0)…".
fn threshold_from_reason(reason: &str) -> Option<f64> {
    let (_, rest) = reason.split_once("the threshold (")?;
    let (n, _) = rest.split_once(')')?;
    n.trim().parse().ok().filter(|t: &f64| t.is_finite())
}

/// EventBridge and alarm-action events carry no `ComparisonOperator`; CloudWatch's reason text
/// says it in words ("was greater than or equal to the threshold", "was not less than…").
fn comparison_from_reason(reason: &str) -> Option<Comparison> {
    const PHRASES: [(&str, Comparison); 4] = [
        ("greater than or equal to the threshold", Comparison::GreaterThanOrEqualToThreshold),
        ("less than or equal to the threshold", Comparison::LessThanOrEqualToThreshold),
        ("greater than the threshold", Comparison::GreaterThanThreshold),
        ("less than the threshold", Comparison::LessThanThreshold),
    ];
    PHRASES.iter().find(|(p, _)| reason.contains(p)).map(|(_, c)| *c)
}
