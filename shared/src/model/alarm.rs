//! The alarm: the strict internal model every stage after intake works on.
//!
//! Intake turns three envelope shapes and four alarm shapes into these types; nothing downstream
//! looks at raw JSON again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The three states CloudWatch alarms have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Alarm,
    Ok,
    InsufficientData,
}

impl AlarmState {
    pub const ALL: [AlarmState; 3] = [Self::Alarm, Self::Ok, Self::InsufficientData];

    /// Lenient: accepts any case and `INSUFFICIENT DATA`/`insufficient-data` spellings.
    pub fn parse(s: &str) -> Option<Self> {
        let norm: String = s.trim().chars().map(|c| if c == ' ' || c == '-' { '_' } else { c.to_ascii_uppercase() }).collect();
        match norm.as_str() {
            "ALARM" => Some(Self::Alarm),
            "OK" => Some(Self::Ok),
            "INSUFFICIENT_DATA" => Some(Self::InsufficientData),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alarm => "ALARM",
            Self::Ok => "OK",
            Self::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

impl std::fmt::Display for AlarmState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the notification came from; kept for logs, idempotency keys and the message footer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    Sns { message_id: String, topic_arn: String },
    EventBridge { id: String },
    AlarmAction,
}

impl Origin {
    /// A stable id for the delivery of this one notification (SNS may deliver twice).
    pub fn delivery_id(&self) -> Option<&str> {
        match self {
            Origin::Sns { message_id, .. } => Some(message_id),
            Origin::EventBridge { id } => Some(id),
            Origin::AlarmAction => None,
        }
    }
}

/// A CloudWatch metric dimension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

/// One metric as CloudWatch identifies it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    pub namespace: String,
    pub name: String,
    pub dimensions: Vec<Dimension>,
}

impl Metric {
    pub fn dimension(&self, name: &str) -> Option<&str> {
        self.dimensions.iter().find(|d| d.name == name).map(|d| d.value.as_str())
    }
}

/// A statistic in the case GetMetricData expects (`Average`, `p99`, `TM(10%:90%)`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Statistic(pub String);

impl From<&str> for Statistic {
    fn from(raw: &str) -> Self {
        Self::normalize(raw)
    }
}

impl std::fmt::Display for Statistic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Statistic {
    /// SNS messages carry `AVERAGE`/`SUM`…; percentiles and trimmed stats keep their case.
    pub fn normalize(raw: &str) -> Self {
        let t = raw.trim();
        let canonical = match t.to_ascii_lowercase().as_str() {
            "average" => "Average",
            "sum" => "Sum",
            "maximum" => "Maximum",
            "minimum" => "Minimum",
            "samplecount" => "SampleCount",
            "iqm" => "IQM",
            _ => return Self(normalize_extended(t)),
        };
        Self(canonical.to_string())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `P99` → `p99`, `TM(10%:90%)` stays; only the family prefix is lower-cased.
fn normalize_extended(t: &str) -> String {
    let prefix_len = t.chars().take_while(|c| c.is_ascii_alphabetic()).count();
    let (prefix, rest) = t.split_at(prefix_len);
    match prefix.to_ascii_lowercase().as_str() {
        "p" | "tm" | "wm" | "tc" | "ts" | "pr" => {
            let p = if prefix.len() == 1 { prefix.to_ascii_lowercase() } else { prefix.to_ascii_uppercase() };
            format!("{p}{rest}")
        }
        _ => t.to_string(),
    }
}

/// A metric with the statistic and period the alarm evaluates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricStat {
    pub metric: Metric,
    pub stat: Statistic,
    pub period_s: Option<u32>,
    pub unit: Option<String>,
}

/// One entry of a metric-math or anomaly-detection alarm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricQuery {
    pub id: String,
    pub label: Option<String>,
    pub expression: Option<String>,
    pub metric_stat: Option<MetricStat>,
    pub return_data: bool,
}

/// How an alarm compares; `Threshold` is absent for anomaly detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Comparison {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
    LessThanLowerOrGreaterThanUpperThreshold,
    LessThanLowerThreshold,
    GreaterThanUpperThreshold,
}

impl Comparison {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim() {
            "GreaterThanOrEqualToThreshold" => Self::GreaterThanOrEqualToThreshold,
            "GreaterThanThreshold" => Self::GreaterThanThreshold,
            "LessThanThreshold" => Self::LessThanThreshold,
            "LessThanOrEqualToThreshold" => Self::LessThanOrEqualToThreshold,
            "LessThanLowerOrGreaterThanUpperThreshold" => Self::LessThanLowerOrGreaterThanUpperThreshold,
            "LessThanLowerThreshold" => Self::LessThanLowerThreshold,
            "GreaterThanUpperThreshold" => Self::GreaterThanUpperThreshold,
            _ => return None,
        })
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Self::GreaterThanOrEqualToThreshold => "≥",
            Self::GreaterThanThreshold => ">",
            Self::LessThanThreshold => "<",
            Self::LessThanOrEqualToThreshold => "≤",
            Self::LessThanLowerOrGreaterThanUpperThreshold => "outside band",
            Self::LessThanLowerThreshold => "below band",
            Self::GreaterThanUpperThreshold => "above band",
        }
    }
}

/// `TreatMissingData`, with the pre-2022 `"- TreatMissingData:   missing"` spelling folded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TreatMissingData {
    Missing,
    Breaching,
    NotBreaching,
    Ignore,
}

impl TreatMissingData {
    pub fn parse(s: &str) -> Option<Self> {
        let word = s.rsplit([':', ' ']).find(|w| !w.is_empty())?;
        Some(match word {
            "missing" => Self::Missing,
            "breaching" => Self::Breaching,
            "notBreaching" => Self::NotBreaching,
            "ignore" => Self::Ignore,
            _ => return None,
        })
    }
}

/// The evaluation settings of a metric alarm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub period_s: Option<u32>,
    pub evaluation_periods: Option<u32>,
    pub datapoints_to_alarm: Option<u32>,
    pub comparison: Option<Comparison>,
    pub threshold: Option<f64>,
    pub threshold_metric_id: Option<String>,
    pub treat_missing_data: Option<TreatMissingData>,
}

/// The four alarm shapes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum AlarmKind {
    /// Single metric, `Statistic` or `ExtendedStatistic`.
    Metric { stat: MetricStat, evaluation: Evaluation },
    /// `Trigger.Metrics[]` with expressions.
    MetricMath { queries: Vec<MetricQuery>, evaluation: Evaluation },
    /// Metric math whose threshold is an `ANOMALY_DETECTION_BAND` (`ThresholdMetricId`, no `Threshold`).
    AnomalyDetection { queries: Vec<MetricQuery>, evaluation: Evaluation },
    /// `AlarmRule` over other alarms.
    Composite { rule: String, triggering_children: Vec<CompositeChild> },
    /// `EvaluationCriteria.PromQLCriteria`: each series of an instant query is a contributor.
    PromQl(PromQlCriteria),
    /// A log alarm: a scheduled CloudWatch Logs Insights query over log groups, compared to a threshold.
    Log(LogQuery),
    /// The payload had no trigger we could read; still delivered.
    Unknown,
}

/// What a PromQL alarm evaluates; any part may be missing from a notification (enrichment fills
/// it in from DescribeAlarms).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PromQlCriteria {
    pub query: Option<String>,
    /// How long a series must breach before it goes to ALARM (Prometheus' `for`).
    pub pending_s: Option<u32>,
    /// How long a series must be gone before it goes back to OK (`keep_firing_for`).
    pub recovery_s: Option<u32>,
    pub interval_s: Option<u32>,
}

/// What a log alarm evaluates.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LogQuery {
    /// The Logs Insights query (`fields @message | filter @message like /CUDA out of memory/`).
    pub query: Option<String>,
    /// Log group names or ARNs the query reads.
    pub log_groups: Vec<String>,
    pub comparison: Option<Comparison>,
    pub threshold: Option<f64>,
}

/// An alarm mute rule silencing the alarm's actions now (`muteDetail`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Mute {
    /// The mute rule's ARN.
    pub rule: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

impl Mute {
    /// `alarm-mute-rule/maintenance-window` from the ARN; the ARN itself otherwise.
    pub fn rule_name(&self) -> Option<&str> {
        let arn = self.rule.as_deref()?;
        Some(arn.rsplit(':').next().unwrap_or(arn))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompositeChild {
    pub arn: String,
    pub name: String,
    pub state: Option<AlarmState>,
    pub timestamp: Option<DateTime<Utc>>,
}

impl AlarmKind {
    pub fn evaluation(&self) -> Option<&Evaluation> {
        match self {
            AlarmKind::Metric { evaluation, .. }
            | AlarmKind::MetricMath { evaluation, .. }
            | AlarmKind::AnomalyDetection { evaluation, .. } => Some(evaluation),
            _ => None,
        }
    }

    /// Every concrete metric the alarm reads (one for single-metric alarms).
    pub fn metric_stats(&self) -> Vec<&MetricStat> {
        match self {
            AlarmKind::Metric { stat, .. } => vec![stat],
            AlarmKind::MetricMath { queries, .. } | AlarmKind::AnomalyDetection { queries, .. } => {
                queries.iter().filter_map(|q| q.metric_stat.as_ref()).collect()
            }
            _ => vec![],
        }
    }

    pub fn shape_name(&self) -> &'static str {
        match self {
            AlarmKind::Metric { .. } => "metric",
            AlarmKind::MetricMath { .. } => "metric math",
            AlarmKind::AnomalyDetection { .. } => "anomaly detection",
            AlarmKind::Composite { .. } => "composite",
            AlarmKind::PromQl(_) => "PromQL",
            AlarmKind::Log(_) => "log",
            AlarmKind::Unknown => "unknown",
        }
    }
}

/// Where an ARN points: partition, region, account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArnParts {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub resource: String,
}

impl ArnParts {
    /// Lenient: tolerates the stray spaces seen in published fixtures (`us-east-1: 4444…`).
    pub fn parse(arn: &str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':').map(str::trim);
        if parts.next()? != "arn" {
            return None;
        }
        let partition = parts.next()?.to_string();
        let _service = parts.next()?;
        let region = parts.next()?.to_string();
        let account = parts.next()?.to_string();
        let resource = parts.next()?.to_string();
        if partition.is_empty() {
            return None;
        }
        Some(Self { partition, region, account, resource })
    }
}

/// `arn:…:alarm:NAME` → `NAME` (names may themselves contain colons); a bare name stays.
pub fn alarm_name_of(arn_or_name: &str) -> String {
    match ArnParts::parse(arn_or_name) {
        Some(p) => p.resource.strip_prefix("alarm:").unwrap_or(&p.resource).to_string(),
        None => arn_or_name.trim().to_string(),
    }
}

/// An alarm notification, whatever envelope it came in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alarm {
    pub name: String,
    pub arn: Option<String>,
    pub description: Option<String>,
    pub account: Option<String>,
    /// Region code (`us-east-1`), from the ARN when the payload only has a display name.
    pub region: Option<String>,
    pub partition: String,
    pub state: AlarmState,
    pub previous_state: Option<AlarmState>,
    pub reason: String,
    pub state_change_time: Option<DateTime<Utc>>,
    pub kind: AlarmKind,
    pub origin: Origin,
    /// Actions suppressed by a composite's suppressor (`WaitPeriod`…): say so, but still deliver.
    pub actions_suppressed_by: Option<String>,
    /// The one time series of a multi-time-series (Metrics Insights GROUP BY, PromQL, log) alarm
    /// this notification is about; `None` for ordinary alarms and alarm-level notifications.
    pub contributor: Option<Contributor>,
    /// The alarm's tags, when CloudWatch put them in the notification (`AlarmTags`, `alarmTags`).
    /// Untrusted text. Enrichment looks them up (ListTagsForResource) when they are absent.
    pub tags: Vec<(String, String)>,
    /// A mute rule silences this alarm's actions right now: nobody is paged.
    pub mute: Option<Mute>,
}

/// One contributor (time series) of a multi-time-series alarm: CloudWatch's id and the
/// GROUP BY keys with their values, in the order the payload gave them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contributor {
    pub id: String,
    pub attributes: Vec<(String, String)>,
}

impl Contributor {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl Alarm {
    /// When the alarm changed state; `now` only when the payload had no readable time.
    pub fn anchor_time(&self) -> DateTime<Utc> {
        self.state_change_time.unwrap_or_else(Utc::now)
    }

    /// How long the alarm looked at before changing state: period × evaluation periods.
    pub fn window_span(&self) -> chrono::Duration {
        let e = self.kind.evaluation();
        let period = e.and_then(|e| e.period_s).or_else(|| self.kind.metric_stats().first().and_then(|s| s.period_s)).unwrap_or(300);
        let n = e.and_then(|e| e.evaluation_periods).unwrap_or(1).max(1);
        chrono::Duration::seconds(i64::from(period) * i64::from(n))
    }

    /// One state change of this alarm, the same however often or by whichever route it is
    /// delivered: `<identity>@<state change time>`. `None` without a state change time.
    pub fn state_change_key(&self) -> Option<String> {
        self.state_change_time.map(|t| format!("{}@{}", self.identity(), t.to_rfc3339()))
    }

    /// This alarm in one delivery (SNS message, EventBridge event): `<delivery id>/<identity>`.
    pub fn delivery_key(&self) -> Option<String> {
        self.origin.delivery_id().map(|id| format!("{id}/{}", self.identity()))
    }

    /// The key that ties ALARM and OK of the same alarm together (PagerDuty dedup, delivered
    /// memo, remediation keys). A contributor of a multi-time-series alarm is its own incident:
    /// `<alarm>#contributor/<id>`, the same whichever route delivered it.
    pub fn identity(&self) -> String {
        let alarm = match &self.arn {
            Some(arn) => arn.clone(),
            None => format!(
                "{}:{}:{}",
                self.account.as_deref().unwrap_or("unknown-account"),
                self.region.as_deref().unwrap_or("unknown-region"),
                self.name
            ),
        };
        match &self.contributor {
            Some(c) => format!("{alarm}#contributor/{}", c.id),
            None => alarm,
        }
    }
}

/// An SNS message that is not an alarm: delivered as-is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlainMessage {
    pub subject: Option<String>,
    pub body: String,
    pub origin: Origin,
    pub timestamp: Option<DateTime<Utc>>,
}

/// What intake produces: one per SNS record / event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Notification {
    Alarm(Box<Alarm>),
    Plain(PlainMessage),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_are_normalised_for_get_metric_data() {
        assert_eq!(Statistic::normalize("AVERAGE").as_str(), "Average");
        assert_eq!(Statistic::normalize("SampleCount").as_str(), "SampleCount");
        assert_eq!(Statistic::normalize("P99").as_str(), "p99");
        assert_eq!(Statistic::normalize("p99.9").as_str(), "p99.9");
        assert_eq!(Statistic::normalize("tm(10%:90%)").as_str(), "TM(10%:90%)");
    }

    #[test]
    fn treat_missing_data_both_spellings() {
        assert_eq!(TreatMissingData::parse("- TreatMissingData:                    missing"), Some(TreatMissingData::Missing));
        assert_eq!(TreatMissingData::parse("notBreaching"), Some(TreatMissingData::NotBreaching));
        assert_eq!(TreatMissingData::parse(""), None);
    }

    #[test]
    fn arn_parts_including_other_partitions_and_stray_spaces() {
        let a = ArnParts::parse("arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:x:y").unwrap();
        assert_eq!((a.partition.as_str(), a.region.as_str(), a.resource.as_str()), ("aws-cn", "cn-north-1", "alarm:x:y"));
        let b = ArnParts::parse("arn:aws:cloudwatch:us-east-1: 444455556666:alarm:demo").unwrap();
        assert_eq!(b.account, "444455556666");
        assert!(ArnParts::parse("not an arn").is_none());
    }

    #[test]
    fn states_parse_leniently() {
        assert_eq!(AlarmState::parse("insufficient_data"), Some(AlarmState::InsufficientData));
        assert_eq!(AlarmState::parse(" OK "), Some(AlarmState::Ok));
        assert_eq!(AlarmState::parse("PENDING"), None);
    }
}
