//! What the Prometheus HTTP API answers, in our types: the standard envelope
//! (`{"status", "data", "warnings"}`), vectors and matrices of floats (`value` / `values`) and of
//! native histograms (`histogram` / `histograms`, which CloudWatch returns for OpenTelemetry
//! histograms), label sets (`series`) and strings (`labels`, label values); and errors, classified
//! as worth retrying or not.

use super::PromQlError;
use crate::model::text::{one_line, truncate};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;

/// One answer. Which fields are filled depends on the call: `series` for queries and `series`,
/// `names` for `labels` and label values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    pub series: Vec<Series>,
    pub names: Vec<String>,
    /// A query that evaluated to a scalar.
    pub scalar: Option<f64>,
    /// What the API warned about: CloudWatch says here when it cut a result at 500 series.
    pub warnings: Vec<String>,
}

impl Answer {
    /// CloudWatch and Prometheus answer 200 with a warning when they cut a result short.
    pub fn truncated(&self) -> bool {
        self.warnings.iter().any(|w| {
            let w = w.to_ascii_lowercase();
            w.contains("truncat") || w.contains("limit")
        })
    }
}

/// One time series: its labels and its samples (floats, native histograms, or both).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub points: Vec<(DateTime<Utc>, f64)>,
    pub histograms: Vec<(DateTime<Utc>, Histogram)>,
}

impl Series {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }

    /// The latest float sample.
    pub fn last(&self) -> Option<f64> {
        self.points.last().map(|(_, v)| *v)
    }

    /// The largest float sample.
    pub fn peak(&self) -> Option<f64> {
        self.points.iter().map(|(_, v)| *v).filter(|v| v.is_finite()).reduce(f64::max)
    }
}

/// A native histogram sample: `{count, sum, buckets: [[boundary_rule, lower, upper, count]…]}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    pub count: f64,
    pub sum: f64,
    /// `(lower, upper, count)`, in the order given (ascending).
    pub buckets: Vec<(f64, f64, f64)>,
}

impl Histogram {
    /// The mean observation (`sum / count`).
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0.0).then(|| self.sum / self.count)
    }

    /// The `q` quantile, interpolated linearly inside its bucket as `histogram_quantile` does.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total: f64 = self.buckets.iter().map(|b| b.2).sum();
        if total <= 0.0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = q * total;
        let mut seen = 0.0;
        for &(lower, upper, count) in &self.buckets {
            if seen + count >= rank && count > 0.0 {
                return Some(lower + (upper - lower) * ((rank - seen) / count));
            }
            seen += count;
        }
        self.buckets.last().map(|b| b.1)
    }
}

/// Reads an HTTP answer of the API.
pub fn parse(status: u16, text: &str) -> Result<Answer, PromQlError> {
    let json: Option<Value> = serde_json::from_str(text).ok();
    let envelope_error = json.as_ref().filter(|j| j["status"] == "error");
    if !(200..300).contains(&status) || envelope_error.is_some() {
        let message = match json.as_ref() {
            Some(j) => {
                let kind = j["errorType"].as_str().or(j["__type"].as_str()).unwrap_or("");
                let what = j["error"].as_str().or(j["message"].as_str()).or(j["Message"].as_str()).unwrap_or("");
                match (kind.is_empty(), what.is_empty()) {
                    (false, false) => format!("{kind}: {what}"),
                    (false, true) => kind.to_string(),
                    (true, false) => what.to_string(),
                    (true, true) => String::new(),
                }
            }
            None => text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").to_string(),
        };
        let message = truncate(&one_line(&message), 300);
        let message = if message.is_empty() { "no error message".to_string() } else { message };
        return Err(PromQlError::Status { status, retryable: retryable(status, &message), message });
    }
    let json = json.ok_or_else(|| PromQlError::Decode("not JSON".into()))?;
    let warnings =
        json["warnings"].as_array().map(|w| w.iter().filter_map(|x| x.as_str()).map(str::to_string).collect()).unwrap_or_default();
    let data = &json["data"];
    let mut answer = Answer { warnings, ..Answer::default() };
    match data {
        // `labels`, label values: strings. `series`: label sets.
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(s) => answer.names.push(s.clone()),
                    Value::Object(_) => answer.series.push(Series { labels: labels(item), ..Series::default() }),
                    _ => return Err(PromQlError::Decode("an item that is neither a name nor a label set".into())),
                }
            }
        }
        Value::Object(d) => match d.get("resultType").and_then(Value::as_str) {
            Some("vector") | Some("matrix") => {
                for r in d.get("result").and_then(Value::as_array).into_iter().flatten() {
                    answer.series.push(series(r)?);
                }
            }
            Some("scalar") => answer.scalar = d.get("result").and_then(sample).map(|(_, v)| v),
            Some("string") => {}
            other => return Err(PromQlError::Decode(format!("resultType {other:?}"))),
        },
        Value::Null => return Err(PromQlError::Decode("no `data`".into())),
        _ => return Err(PromQlError::Decode("`data` is neither an object nor a list".into())),
    }
    Ok(answer)
}

/// 429 and 5xx are worth another attempt; of CloudWatch's 422s only the rate limits ("TPS",
/// "rate exceeded"), not a query that is too expensive; 4xx otherwise never.
fn retryable(status: u16, message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    match status {
        429 | 500 | 502 | 503 | 504 => true,
        422 => m.contains("tps") || m.contains("rate exceeded") || m.contains("throttl") || m.contains("too many requests"),
        _ => m.contains("throttl"),
    }
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object().into_iter().flatten().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect()
}

fn series(r: &Value) -> Result<Series, PromQlError> {
    let mut s = Series { labels: labels(&r["metric"]), ..Series::default() };
    if let Some(p) = r.get("value").and_then(sample) {
        s.points.push(p);
    }
    for p in r.get("values").and_then(Value::as_array).into_iter().flatten() {
        s.points.push(sample(p).ok_or_else(|| PromQlError::Decode("a sample that is not [time, \"value\"]".into()))?);
    }
    if let Some(h) = r.get("histogram") {
        s.histograms.push(histogram_sample(h)?);
    }
    for h in r.get("histograms").and_then(Value::as_array).into_iter().flatten() {
        s.histograms.push(histogram_sample(h)?);
    }
    Ok(s)
}

/// `[1732111651.512, "0.98"]`; `NaN` and `±Inf` are kept as such, as Prometheus sends them.
fn sample(v: &Value) -> Option<(DateTime<Utc>, f64)> {
    let pair = v.as_array()?;
    Some((time(pair.first()?)?, number(pair.get(1)?)?))
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    let secs = v.as_f64()?;
    DateTime::from_timestamp_millis((secs * 1000.0).round() as i64)
}

/// Prometheus writes numbers as strings (`"0.98"`, `"NaN"`, `"+Inf"`); be lenient with plain numbers.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => match s.as_str() {
            "+Inf" | "Inf" => Some(f64::INFINITY),
            "-Inf" => Some(f64::NEG_INFINITY),
            s => s.parse().ok(),
        },
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn histogram_sample(v: &Value) -> Result<(DateTime<Utc>, Histogram), PromQlError> {
    let bad = || PromQlError::Decode("a histogram sample that is not [time, {count, sum, buckets}]".into());
    let pair = v.as_array().ok_or_else(bad)?;
    let at = pair.first().and_then(time).ok_or_else(bad)?;
    let h = pair.get(1).ok_or_else(bad)?;
    let buckets = h["buckets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| {
            let b = b.as_array()?;
            Some((number(b.get(1)?)?, number(b.get(2)?)?, number(b.get(3)?)?))
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    Ok((at, Histogram { count: number(&h["count"]).unwrap_or(0.0), sum: number(&h["sum"]).unwrap_or(0.0), buckets }))
}
