//! AWS console deep links (formats in the README's design section).

use crate::model::{Alarm, MetricStat};
use crate::subject::Target;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;

/// JavaScript's `encodeURIComponent` set.
const COMPONENT: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'!').remove(b'~').remove(b'*').remove(b'\'').remove(b'(').remove(b')');

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    pub text: String,
    pub url: String,
}

/// A value for a URL's path or query, as `encodeURIComponent` writes it (`-`, `.`, `_` stay).
pub fn enc(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

/// The console host per partition; `None` for a region we cannot name (placeholder ARNs).
pub fn console_host(partition: &str, region: &str) -> String {
    match partition {
        "aws-cn" => format!("https://{region}.console.amazonaws.cn"),
        "aws-us-gov" => format!("https://{region}.console.amazonaws-us-gov.com"),
        _ => format!("https://{region}.console.aws.amazon.com"),
    }
}

/// The alarm's `runbook` and `dashboard` tags as links, when they are http(s) URLs (tag values are
/// untrusted: anything else is not made a link).
pub fn from_tags(tags: &[(String, String)]) -> Vec<Link> {
    const LINKED: [(&str, &str); 2] = [("runbook", "Runbook"), ("dashboard", "Dashboard")];
    LINKED
        .iter()
        .filter_map(|(key, text)| {
            let url = tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.trim())?;
            let ok = (url.starts_with("https://") || url.starts_with("http://")) && !url.contains(char::is_whitespace) && url.len() <= 2000;
            ok.then(|| Link { text: text.to_string(), url: url.to_string() })
        })
        .collect()
}

pub fn alarm(partition: &str, region: &str, name: &str) -> Link {
    Link {
        text: "Alarm".into(),
        url: format!("{}/cloudwatch/deeplink.js?region={region}#alarmsV2:alarm/{}", console_host(partition, region), enc(name)),
    }
}

/// A metrics graph of the alarm's metrics around the state change, with the threshold drawn.
pub fn metric(partition: &str, region: &str, stats: &[&MetricStat], at: DateTime<Utc>, span: Duration, threshold: Option<f64>) -> Link {
    let metrics: Vec<serde_json::Value> = stats
        .iter()
        .take(10)
        .map(|s| {
            let mut row = vec![serde_json::Value::from(s.metric.namespace.clone()), s.metric.name.clone().into()];
            for d in &s.metric.dimensions {
                row.push(d.name.clone().into());
                row.push(d.value.clone().into());
            }
            let mut opts = serde_json::json!({ "stat": s.stat.as_str() });
            if let Some(p) = s.period_s {
                opts["period"] = p.into();
            }
            row.push(opts);
            serde_json::Value::Array(row)
        })
        .collect();
    let mut graph = serde_json::json!({
        "view": "timeSeries",
        "stacked": false,
        "region": region,
        "start": (at - span).to_rfc3339_opts(SecondsFormat::Secs, true),
        "end": (at + Duration::minutes(15)).to_rfc3339_opts(SecondsFormat::Secs, true),
        "metrics": metrics,
    });
    if let Some(t) = threshold {
        graph["annotations"] = serde_json::json!({ "horizontal": [{ "label": "threshold", "value": t }] });
    }
    Link {
        text: "Metric".into(),
        url: format!(
            "{}/cloudwatch/deeplink.js?region={region}#metricsV2:graph={}",
            console_host(partition, region),
            enc(&graph.to_string())
        ),
    }
}

pub fn endpoint(partition: &str, region: &str, name: &str) -> Link {
    Link {
        text: "Endpoint".into(),
        url: format!("{}/sagemaker/home?region={region}#/endpoints/{}", console_host(partition, region), enc(name)),
    }
}

pub fn inference_component(partition: &str, region: &str, name: &str) -> Link {
    Link {
        text: "Inference component".into(),
        url: format!("{}/sagemaker/home?region={region}#/inference-components/{}", console_host(partition, region), enc(name)),
    }
}

/// The console's log-group fragment encodes names twice and writes `%` as `$`.
fn console_fragment(s: &str) -> String {
    enc(&enc(s)).replace('%', "$")
}

/// The endpoint's log group, or one instance's stream, between `start` and `end`.
pub fn logs(partition: &str, region: &str, group: &str, stream: Option<&str>, start: DateTime<Utc>, end: DateTime<Utc>) -> Link {
    let mut url = format!(
        "{}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{}",
        console_host(partition, region),
        console_fragment(group)
    );
    if let Some(s) = stream {
        url.push_str("/log-events/");
        url.push_str(&console_fragment(s));
    } else {
        url.push_str("/log-events");
    }
    url.push_str(&format!("$3Fstart$3D{}$26end$3D{}", start.timestamp_millis(), end.timestamp_millis()));
    Link { text: if stream.is_some() { "Instance logs".into() } else { "Logs".into() }, url }
}

/// The links for an alarm, when its region is known.
pub fn for_alarm(alarm: &Alarm, target: &Target) -> Vec<Link> {
    let Some(region) = alarm.region.as_deref() else { return vec![] };
    let p = alarm.partition.as_str();
    let at = alarm.anchor_time();
    let mut out = vec![alarm_link(p, region, alarm)];
    let stats = alarm.kind.metric_stats();
    if !stats.is_empty() {
        let window = alarm.window_span();
        let threshold = alarm.kind.evaluation().and_then(|e| e.threshold);
        out.push(metric(p, region, &stats, at, window * 3, threshold));
    }
    if let Some(sm) = target.sagemaker() {
        if let Some(ep) = sm.endpoint.as_deref() {
            out.push(endpoint(p, region, ep));
            let group = format!("/aws/sagemaker/Endpoints/{ep}");
            let window = alarm.window_span();
            let stream = match (&sm.variant, &sm.instance) {
                (Some(v), Some(i)) => Some(format!("{v}/{i}")),
                _ => None,
            };
            out.push(logs(p, region, &group, stream.as_deref(), at - window * 2, at + Duration::minutes(5)));
        } else if let Some(ic) = sm.inference_component.as_deref() {
            out.push(inference_component(p, region, ic));
        }
    }
    out
}

fn alarm_link(p: &str, region: &str, a: &Alarm) -> Link {
    alarm(p, region, &a.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarm_link_matches_cloudwatch_email_format() {
        let l = alarm("aws", "us-east-1", "Dummy composite alarm");
        assert_eq!(
            l.url,
            "https://us-east-1.console.aws.amazon.com/cloudwatch/deeplink.js?region=us-east-1#alarmsV2:alarm/Dummy%20composite%20alarm"
        );
        assert!(alarm("aws-cn", "cn-north-1", "x").url.starts_with("https://cn-north-1.console.amazonaws.cn/"));
        assert!(alarm("aws-us-gov", "us-gov-west-1", "x").url.starts_with("https://us-gov-west-1.console.amazonaws-us-gov.com/"));
    }

    #[test]
    fn log_stream_link_double_encodes_with_dollar() {
        let t = DateTime::parse_from_rfc3339("2026-11-20T14:00:00Z").unwrap().with_timezone(&Utc);
        let l = logs("aws", "us-east-1", "/aws/sagemaker/Endpoints/ep", Some("AllTraffic/i-0abc"), t, t + Duration::minutes(10));
        assert_eq!(
            l.url,
            "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/$252Faws$252Fsagemaker$252FEndpoints$252Fep/log-events/AllTraffic$252Fi-0abc$3Fstart$3D1795183200000$26end$3D1795183800000"
        );
    }
}
