//! Subject: what an alarm is about — endpoint, variant, inference component, container, instance,
//! GPU — as one [`Target`], resolved once per alarm and passed to every later stage. (The stage is
//! not called `target/`: that is cargo's build folder, which tools and `.gitignore` patterns skip.)
//!
//! A Metrics Insights alarm (`SELECT … FROM SCHEMA(…) WHERE … GROUP BY …`) is read by [`insights`]:
//! its equality filters and, for one contributor, the contributor's GROUP BY values are its
//! dimensions, so a per-GPU alarm's contributor is a SageMaker alarm about that one GPU.

pub mod insights;

use crate::model::{alarm_name_of, Alarm, AlarmKind, Contributor, Dimension, Metric, MetricQuery};
use crate::promql::Label;
use serde::Serialize;

/// The namespaces whose metrics describe SageMaker endpoints.
pub const SAGEMAKER_NAMESPACES: [&str; 3] = ["AWS/SageMaker", "/aws/sagemaker/Endpoints", "/aws/sagemaker/InferenceComponents"];

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SageMakerTarget {
    pub endpoint: Option<String>,
    pub variant: Option<String>,
    pub inference_component: Option<String>,
    pub container: Option<String>,
    pub instance: Option<String>,
    /// `GpuId` or `AcceleratorId`.
    pub gpu: Option<String>,
    /// The namespace and metric that tripped (the first one, for metric math).
    pub namespace: String,
    pub metric_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    #[serde(rename = "sagemaker")]
    SageMaker(SageMakerTarget),
    /// A composite alarm: what it is about is its children.
    Composite {
        children: Vec<String>,
        /// What the children are about, when they are SageMaker alarms: found by enrichment
        /// (DescribeAlarms on the children), then kept here for routing, links and rendering.
        #[serde(skip_serializing_if = "Option::is_none")]
        about: Option<SageMakerTarget>,
    },
    /// Any other alarm: delivered without SageMaker enrichment.
    Generic { namespace: Option<String>, metric_name: Option<String> },
}

/// Where the alarm lives plus what it is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    pub account: Option<String>,
    pub region: Option<String>,
    pub partition: String,
    pub subject: Subject,
}

impl Target {
    pub fn sagemaker(&self) -> Option<&SageMakerTarget> {
        match &self.subject {
            Subject::SageMaker(t) | Subject::Composite { about: Some(t), .. } => Some(t),
            _ => None,
        }
    }

    /// A composite over SageMaker alarms is about what its children are about.
    pub fn adopt_children(&mut self, about: SageMakerTarget) {
        if let Subject::Composite { about: slot, .. } = &mut self.subject {
            *slot = Some(about);
        }
    }

    pub fn namespace(&self) -> Option<&str> {
        match &self.subject {
            Subject::SageMaker(t) => Some(&t.namespace),
            Subject::Generic { namespace, .. } => namespace.as_deref(),
            Subject::Composite { about, .. } => about.as_ref().map(|t| t.namespace.as_str()),
        }
    }

    pub fn endpoint(&self) -> Option<&str> {
        self.sagemaker().and_then(|t| t.endpoint.as_deref())
    }
}

pub fn resolve(alarm: &Alarm) -> Target {
    let subject = match &alarm.kind {
        AlarmKind::Composite { rule, triggering_children } => {
            let mut children: Vec<String> = triggering_children.iter().map(|c| c.name.clone()).collect();
            for name in rule_children(rule) {
                if !children.contains(&name) {
                    children.push(name);
                }
            }
            Subject::Composite { children, about: None }
        }
        AlarmKind::PromQl(p) => promql_subject(p.query.as_deref(), alarm.contributor.as_ref()),
        AlarmKind::Log(l) => log_subject(&l.log_groups, alarm.contributor.as_ref()),
        kind => {
            let mut metrics: Vec<Metric> = kind.metric_stats().iter().map(|s| s.metric.clone()).collect();
            if let AlarmKind::MetricMath { queries, .. } | AlarmKind::AnomalyDetection { queries, .. } = kind {
                metrics.extend(insights_metrics(queries, alarm.contributor.as_ref()));
            }
            from_metrics(&metrics.iter().collect::<Vec<_>>())
        }
    };
    Target { account: alarm.account.clone(), region: alarm.region.clone(), partition: alarm.partition.clone(), subject }
}

/// The metrics that the Metrics Insights queries among `queries` select, as far as they are known:
/// the namespace, the metric, the equality filters and the contributor's GROUP BY values.
/// Expressions that are not Metrics Insights (`m1 / m2`) are skipped.
fn insights_metrics(queries: &[MetricQuery], contributor: Option<&Contributor>) -> Vec<Metric> {
    queries
        .iter()
        .filter_map(|q| q.expression.as_deref())
        .filter_map(|e| insights::parse(e).ok())
        .map(|q| {
            let mut dimensions: Vec<Dimension> = q.filters.into_iter().map(|(name, value)| Dimension { name, value }).collect();
            for (name, value) in contributor.map(|c| c.attributes.as_slice()).unwrap_or_default() {
                match dimensions.iter_mut().find(|d| &d.name == name) {
                    Some(d) => d.value = value.clone(),
                    None => dimensions.push(Dimension { name: name.clone(), value: value.clone() }),
                }
            }
            Metric { namespace: q.namespace, name: q.metric, dimensions }
        })
        .collect()
}

/// Every SageMaker metric contributes the dimensions it has; the first one names the metric.
pub fn from_metrics(metrics: &[&Metric]) -> Subject {
    let sm: Vec<&&Metric> = metrics.iter().filter(|m| SAGEMAKER_NAMESPACES.contains(&m.namespace.as_str())).collect();
    let Some(first) = sm.first() else {
        let first = metrics.first();
        return Subject::Generic { namespace: first.map(|m| m.namespace.clone()), metric_name: first.map(|m| m.name.clone()) };
    };
    let pick = |names: &[&str]| sm.iter().find_map(|m| names.iter().find_map(|n| m.dimension(n))).map(str::to_string);
    Subject::SageMaker(SageMakerTarget {
        endpoint: pick(&["EndpointName"]),
        variant: pick(&["VariantName"]),
        inference_component: pick(&["InferenceComponentName"]),
        container: pick(&["ContainerId"]),
        instance: pick(&["InstanceId"]),
        gpu: pick(&["GpuId", "AcceleratorId"]),
        namespace: first.namespace.clone(),
        metric_name: first.name.clone(),
    })
}

/// Where a PromQL alarm names a SageMaker label: the contributor's labels (one series), then the
/// query's own equality matchers (`"aws.sagemaker.endpoint.name"="llm-prod"`), in either dialect.
fn promql_subject(query: Option<&str>, contributor: Option<&Contributor>) -> Subject {
    let mut labels: Vec<(Label, String)> = vec![];
    for (k, v) in contributor.map(|c| c.attributes.as_slice()).unwrap_or_default() {
        if let Some(l) = Label::from_name(k) {
            labels.push((l, v.clone()));
        }
    }
    for (k, v) in query.map(equality_matchers).unwrap_or_default() {
        if let Some(l) = Label::from_name(&k) {
            if !labels.iter().any(|(have, _)| *have == l) {
                labels.push((l, v));
            }
        }
    }
    let get = |l: Label| labels.iter().find(|(have, _)| *have == l).map(|(_, v)| v.clone());
    let metric = query.and_then(first_metric_name).unwrap_or_else(|| "PromQL query".into());
    if get(Label::Endpoint).is_none() && get(Label::Component).is_none() {
        return Subject::Generic { namespace: Some(PROMQL_NAMESPACE.into()), metric_name: Some(metric) };
    }
    Subject::SageMaker(SageMakerTarget {
        endpoint: get(Label::Endpoint),
        variant: get(Label::Variant),
        inference_component: get(Label::Component),
        container: None,
        instance: get(Label::Host),
        gpu: get(Label::Gpu),
        namespace: PROMQL_NAMESPACE.into(),
        metric_name: metric,
    })
}

/// How a PromQL alarm's namespace reads in routes and messages.
pub const PROMQL_NAMESPACE: &str = "PromQL";

/// `name="value"` and `"quoted.name"="value"` pairs of a PromQL query (not `!=`, `=~`, `!~`).
pub fn equality_matchers(q: &str) -> Vec<(String, String)> {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"(?:"([^"]+)"|'([^']+)'|([A-Za-z_@][A-Za-z0-9_.@]*))\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')"#)
            .expect("static regex")
    });
    RE.captures_iter(q)
        .filter(|c| {
            // `!=`, `=~`, `==`: not an equality matcher.
            let end = c.get(0).map(|m| m.start()).unwrap_or(0);
            let before = q[..end].chars().next_back();
            let text = c.get(0).map(|m| m.as_str()).unwrap_or("");
            before != Some('!') && !text.contains("=~") && !text.contains("==")
        })
        .filter_map(|c| {
            let name = c.get(1).or(c.get(2)).or(c.get(3))?.as_str().to_string();
            let value = c.get(4).or(c.get(5))?.as_str().replace("\\\"", "\"").replace("\\\\", "\\");
            Some((name, value))
        })
        .collect()
}

/// The first metric name a query selects: `vllm:kv_cache_usage_perc{…}` or `{"http.server.requests", …}`.
pub fn first_metric_name(q: &str) -> Option<String> {
    static RE: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r#"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{|\{\s*"([^"]+)"\s*[,}]"#).expect("static regex"));
    const FUNCTIONS: [&str; 2] = ["by", "without"];
    RE.captures_iter(q).filter_map(|c| c.get(1).or(c.get(2)).map(|m| m.as_str().to_string())).find(|n| !FUNCTIONS.contains(&n.as_str()))
}

/// A log alarm on an endpoint's log group (`/aws/sagemaker/Endpoints/<endpoint>`) is about that
/// endpoint; the contributor's log stream (`<variant>/<instance-id>`) names variant and instance.
fn log_subject(groups: &[String], contributor: Option<&Contributor>) -> Subject {
    let endpoint = groups.iter().find_map(|g| {
        let name = g.rsplit(":log-group:").next().unwrap_or(g).trim_end_matches(":*");
        name.strip_prefix("/aws/sagemaker/Endpoints/").map(str::to_string)
    });
    let Some(endpoint) = endpoint else {
        return Subject::Generic { namespace: Some(LOGS_NAMESPACE.into()), metric_name: groups.first().cloned() };
    };
    let stream = contributor.and_then(|c| {
        c.attributes.iter().find(|(k, _)| k.trim_start_matches('@').eq_ignore_ascii_case("logStream")).map(|(_, v)| v.clone())
    });
    let (variant, instance) = match stream.as_deref().and_then(|s| s.split_once('/')) {
        Some((v, rest)) => (Some(v.to_string()), rest.split('/').next().filter(|i| i.starts_with("i-")).map(str::to_string)),
        None => (None, None),
    };
    Subject::SageMaker(SageMakerTarget {
        endpoint: Some(endpoint),
        variant,
        inference_component: None,
        container: None,
        instance,
        gpu: None,
        namespace: LOGS_NAMESPACE.into(),
        metric_name: "log alarm".into(),
    })
}

/// How a log alarm's namespace reads in routes and messages.
pub const LOGS_NAMESPACE: &str = "CloudWatch Logs";

/// Child alarm names in an `AlarmRule`: `ALARM("name")`, `OK(name)`, `ALARM(arn:…:alarm:name)`.
fn rule_children(rule: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = rule;
    while let Some(open) = rest.find('(') {
        let fun = rest[..open].trim_end();
        let fun = fun.rsplit(|c: char| !c.is_ascii_alphabetic() && c != '_').next().unwrap_or("");
        rest = &rest[open + 1..];
        if !matches!(fun, "ALARM" | "OK" | "INSUFFICIENT_DATA") {
            continue;
        }
        let arg = rest.trim_start();
        let (name, consumed) = if let Some(q) = arg.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (q[..end].to_string(), end + 2),
                None => continue,
            }
        } else {
            match arg.find(')') {
                Some(end) => (arg[..end].trim().to_string(), end + 1),
                None => continue,
            }
        };
        let name = alarm_name_of(&name);
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
        rest = &arg[consumed.min(arg.len())..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::parse_bytes;
    use crate::model::Notification;

    fn target_of(bytes: &[u8]) -> Target {
        match parse_bytes(bytes).unwrap().remove(0) {
            Notification::Alarm(a) => resolve(&a),
            other => panic!("not an alarm: {other:?}"),
        }
    }

    #[test]
    fn instance_and_gpu_from_enhanced_metric() {
        let t = target_of(include_bytes!("../../../events/sns-instance-gpu-normalized-alarm.json"));
        let sm = t.sagemaker().unwrap();
        assert_eq!(sm.endpoint.as_deref(), Some("deepgram-prod"));
        assert_eq!(sm.variant.as_deref(), Some("AllTraffic"));
        assert_eq!(sm.instance.as_deref(), Some("i-0a1b2c3d4e5f60718"));
        assert_eq!(sm.gpu.as_deref(), Some("0"));
        assert_eq!((t.region.as_deref(), t.partition.as_str()), (Some("us-east-1"), "aws"));
    }

    #[test]
    fn inference_component_without_endpoint() {
        let t = target_of(include_bytes!("../../../events/sns-inference-component-gpu-memory-alarm.json"));
        let sm = t.sagemaker().unwrap();
        assert_eq!(sm.endpoint, None);
        assert_eq!(sm.inference_component.as_deref(), Some("IC-qwen3-4b"));
        assert_eq!(sm.container.as_deref(), Some("c-7f3e2a"));
        assert_eq!(sm.namespace, "/aws/sagemaker/InferenceComponents");
    }

    #[test]
    fn metric_math_takes_dimensions_from_each_metric_stat() {
        let t = target_of(include_bytes!("../../../events/sns-metric-math-error-rate-alarm.json"));
        let sm = t.sagemaker().unwrap();
        assert_eq!(sm.endpoint.as_deref(), Some("deepgram-prod"));
        assert_eq!(sm.metric_name, "Invocation5XXErrors");
    }

    #[test]
    fn composite_children_from_triggering_children_and_rule() {
        let t = target_of(include_bytes!("../../../events/sns-composite-alarm.json"));
        assert_eq!(
            t.subject,
            Subject::Composite { children: vec!["deepgram-invocation-errors".into(), "deepgram-high-concurrency".into()], about: None }
        );
        assert_eq!(
            rule_children("ALARM(a.b) OR (OK(\"c d\") AND NOT ALARM(arn:aws:cloudwatch:us-east-1:1:alarm:e))"),
            vec!["a.b", "c d", "e"]
        );
        assert!(rule_children("TRUE").is_empty());
    }

    #[test]
    fn non_sagemaker_is_generic() {
        let t = target_of(include_bytes!("../../../events/sns-non-sagemaker-alarm.json"));
        assert_eq!(t.subject, Subject::Generic { namespace: Some("AWS/Lambda".into()), metric_name: Some("Errors".into()) });
    }

    #[test]
    fn accelerator_id_is_a_gpu() {
        let ev = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/sns-instance-gpu-normalized-alarm.json"))
            .unwrap()
            .replace(r#"\"name\":\"GpuId\""#, r#"\"name\":\"AcceleratorId\""#);
        let t = target_of(ev.as_bytes());
        assert_eq!(t.sagemaker().unwrap().gpu.as_deref(), Some("0"));
    }
}

#[cfg(test)]
mod contributor_tests {
    use super::*;
    use crate::intake::parse_bytes;
    use crate::model::Notification;

    fn target_of(name: &str) -> Target {
        let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
        match parse_bytes(&std::fs::read(&path).unwrap()).unwrap().remove(0) {
            Notification::Alarm(a) => resolve(&a),
            other => panic!("not an alarm: {other:?}"),
        }
    }

    #[test]
    fn a_contributor_is_a_sagemaker_alarm_about_its_gpu() {
        for name in ["sns-contributor-gpu-alarm.json", "eventbridge-contributor-gpu-alarm.json", "lambda-action-contributor-gpu-alarm.json"]
        {
            let t = target_of(name);
            let sm = t.sagemaker().unwrap_or_else(|| panic!("{name}: {:?}", t.subject));
            assert_eq!(sm.endpoint.as_deref(), Some("llm-prod"), "{name}");
            assert_eq!(sm.instance.as_deref(), Some("i-0123456789abcdef0"), "{name}");
            assert_eq!(sm.gpu.as_deref(), Some("3"), "{name}");
            assert_eq!((sm.namespace.as_str(), sm.metric_name.as_str()), ("/aws/sagemaker/Endpoints", "GPUUtilizationNormalized"));
            assert_eq!((t.region.as_deref(), t.account.as_deref()), (Some("us-east-1"), Some("123456789012")));
        }
    }

    #[test]
    fn the_alarm_level_is_about_the_endpoint() {
        let t = target_of("sns-multi-time-series-alarm-level.json");
        let sm = t.sagemaker().unwrap();
        assert_eq!((sm.endpoint.as_deref(), sm.instance.as_deref(), sm.gpu.as_deref()), (Some("llm-prod"), None, None));
    }

    #[test]
    fn filters_and_contributor_attributes_become_dimensions() {
        let q = |e: &str| MetricQuery { id: "q1".into(), label: None, expression: Some(e.into()), metric_stat: None, return_data: true };
        let c = Contributor {
            id: "c1".into(),
            attributes: vec![
                ("InferenceComponentName".into(), "ic-b".into()),
                ("ContainerId".into(), "c-9".into()),
                ("AcceleratorId".into(), "1".into()),
            ],
        };
        let m = insights_metrics(
            &[
                q("m1 / m2"),
                q("SELECT AVG(GPUMemoryUtilization) FROM \"/aws/sagemaker/InferenceComponents\" WHERE InferenceComponentName = 'ic-a' AND VariantName = 'AllTraffic' GROUP BY InferenceComponentName, ContainerId, AcceleratorId"),
            ],
            Some(&c),
        );
        assert_eq!(m.len(), 1, "metric math is not a Metrics Insights query");
        let Subject::SageMaker(sm) = from_metrics(&m.iter().collect::<Vec<_>>()) else { panic!() };
        // The contributor's value wins over the filter's: it is the series that changed state.
        assert_eq!(sm.inference_component.as_deref(), Some("ic-b"));
        assert_eq!((sm.variant.as_deref(), sm.container.as_deref(), sm.gpu.as_deref()), (Some("AllTraffic"), Some("c-9"), Some("1")));
        assert_eq!(sm.namespace, "/aws/sagemaker/InferenceComponents");
    }

    #[test]
    fn a_non_sagemaker_insights_alarm_stays_generic() {
        let raw = std::fs::read_to_string(format!("{}/../events/eventbridge-contributor-gpu-alarm.json", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .replace(
                r#"SELECT MAX(GPUUtilizationNormalized) FROM SCHEMA(\"/aws/sagemaker/Endpoints\", EndpointName, InstanceId, GpuId) WHERE EndpointName = 'llm-prod' GROUP BY InstanceId, GpuId ORDER BY MAX() DESC"#,
                r#"SELECT AVG(ConsumedWriteCapacityUnits) FROM \"AWS/DynamoDB\" GROUP BY TableName ORDER BY MAX() DESC"#,
            );
        let Notification::Alarm(a) = parse_bytes(raw.as_bytes()).unwrap().remove(0) else { panic!() };
        assert_eq!(
            resolve(&a).subject,
            Subject::Generic { namespace: Some("AWS/DynamoDB".into()), metric_name: Some("ConsumedWriteCapacityUnits".into()) }
        );
    }
}
