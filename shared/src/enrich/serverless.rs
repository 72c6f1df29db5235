//! Serverless variants: no instances to compare, so what explains an alarm is the variant's own
//! serverless metric set (`AWS/SageMaker`, EndpointName + VariantName). [`fetch`] asks for all of
//! it in one GetMetricData (no ListMetrics: the names are fixed, and a metric that was never
//! published simply comes back empty); [`analyse`] and [`advice`] are pure.

use super::endpoint::Serverless;
use super::metrics::{get_points, INVOCATIONS_NS};
use super::{Chain, Ctx, Window};
use crate::model::units::{sig, Unit};
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_sdk_cloudwatch::Client;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Every query, `(metric, statistic)`. Latencies are asked as Sum and SampleCount so averages
/// over the span are weighted by requests, not by datapoints; SampleCount of ModelSetupTime is the
/// number of cold starts.
pub const QUERIES: [(&str, &str); 18] = [
    ("ServerlessConcurrentExecutionsUtilization", "Maximum"),
    ("ServerlessProvisionedConcurrencyExecutions", "Maximum"),
    ("ServerlessProvisionedConcurrencyUtilization", "Maximum"),
    ("ServerlessProvisionedConcurrencyInvocations", "Sum"),
    ("ServerlessProvisionedConcurrencySpilloverInvocations", "Sum"),
    ("ModelSetupTime", "SampleCount"),
    ("ModelSetupTime", "Sum"),
    ("ModelSetupTime", "Maximum"),
    ("OverheadLatency", "Sum"),
    ("OverheadLatency", "SampleCount"),
    ("OverheadLatency", "Maximum"),
    ("ModelLatency", "Sum"),
    ("ModelLatency", "SampleCount"),
    ("ModelLatency", "Maximum"),
    ("Invocations", "Sum"),
    ("Invocation4XXErrors", "Sum"),
    ("Invocation5XXErrors", "Sum"),
    ("MemoryUtilization", "Maximum"),
];

/// A one-minute alarm fires at the end of the burst that caused it; the spillover and cold
/// starts are in the minutes before, so the diagnosis looks at least this far back.
const MIN_SPAN_MINUTES: i64 = 10;
/// SageMaker's per-endpoint MaxConcurrency limit.
const MAX_CONCURRENCY_LIMIT: u32 = 200;
/// Serverless memory sizes: 1024–6144 MB in 1 GB steps.
const MEMORY_STEP_MB: i32 = 1024;
const MEMORY_MAX_MB: i32 = 6144;

/// A metric's datapoints, oldest first.
pub type Points = Vec<(DateTime<Utc>, f64)>;

/// What the one GetMetricData returned: points per `(metric, statistic)`, only those with data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Readings {
    pub variant: String,
    pub period_s: i32,
    pub points: BTreeMap<(String, String), Points>,
}

impl Readings {
    fn get(&self, metric: &str, stat: &str) -> &[(DateTime<Utc>, f64)] {
        self.points.get(&(metric.to_string(), stat.to_string())).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// The lead finding, most pressing first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// Concurrency reached ≥ 90 % of MaxConcurrency: requests beyond it are throttled.
    MaxConcurrencyReached,
    /// Provisioned concurrency was full: requests spilled to on-demand capacity (cold starts).
    ProvisionedSaturated,
    ColdStarts,
    MemoryHigh,
    Errors,
    NoPressure,
    NoData,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provisioned {
    /// Configured ProvisionedConcurrency, when the endpoint said.
    pub configured: Option<i32>,
    pub peak_utilization: Option<f64>,
    pub peak_executions: Option<f64>,
    pub invocations: Option<f64>,
    pub spillover: f64,
    pub spillover_peak_per_min: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColdStarts {
    pub count: f64,
    pub avg_us: Option<f64>,
    pub max_us: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    pub overhead_avg_us: Option<f64>,
    pub overhead_max_us: Option<f64>,
    pub model_avg_us: Option<f64>,
    pub model_max_us: Option<f64>,
    /// Overhead's share of the average request's latency (overhead + model), 0–1.
    pub overhead_share: Option<f64>,
}

/// The serverless variant around the alarm, as a diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnosis {
    pub variant: String,
    pub config: Option<Serverless>,
    /// How far back from the alarm the figures go.
    pub span_minutes: i64,
    pub period_s: i32,
    pub finding: Finding,
    /// ServerlessConcurrentExecutionsUtilization's peak (0–1).
    pub peak_utilization: Option<f64>,
    /// Peak concurrent executions: utilisation × MaxConcurrency, or provisioned executions plus
    /// the spillover's concurrency (requests/s × latency) when utilisation is missing.
    pub peak_concurrency: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioned: Option<Provisioned>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_starts: Option<ColdStarts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    pub memory_peak_pct: Option<f64>,
    pub invocations: Option<f64>,
    pub errors_4xx: Option<f64>,
    pub errors_5xx: Option<f64>,
    /// The metrics that returned data.
    pub metrics: Vec<String>,
}

impl Diagnosis {
    /// Concurrent executions that would have covered the peak (whole executions).
    pub fn needed_concurrency(&self) -> Option<u32> {
        self.peak_concurrency.filter(|p| *p > 0.0).map(|p| (p - 1e-9).ceil() as u32)
    }

    pub fn max_concurrency(&self) -> Option<i32> {
        self.config.and_then(|c| c.max_concurrency)
    }

    pub fn provisioned_concurrency(&self) -> Option<i32> {
        self.config.and_then(|c| c.provisioned_concurrency).or(self.provisioned.as_ref().and_then(|p| p.configured))
    }
}

/// One GetMetricData for the whole set over the enrichment window (NextToken followed).
pub(super) async fn fetch(ctx: &Ctx, chain: &Chain, client: &Client, endpoint: &str, variant: &str, window: &Window) -> Readings {
    let dims = vec![
        Dimension::builder().name("EndpointName").value(endpoint).build(),
        Dimension::builder().name("VariantName").value(variant).build(),
    ];
    let queries: Vec<MetricDataQuery> = QUERIES
        .iter()
        .enumerate()
        .map(|(i, (metric, stat))| {
            let m = Metric::builder().namespace(INVOCATIONS_NS).metric_name(*metric).set_dimensions(Some(dims.clone())).build();
            MetricDataQuery::builder()
                .id(format!("s{i}"))
                .metric_stat(MetricStat::builder().metric(m).period(window.period_s).stat(*stat).build())
                .return_data(true)
                .build()
        })
        .collect();
    let mut out = Readings { variant: variant.to_string(), period_s: window.period_s, points: BTreeMap::new() };
    // 18 queries × ~40 points fit one page.
    let points = get_points(ctx, chain, client, queries, 's', window).await;
    for ((metric, stat), pts) in QUERIES.iter().zip(points) {
        let got: Vec<(DateTime<Utc>, f64)> =
            pts.into_iter().filter(|(_, v)| v.is_finite()).filter_map(|(ms, v)| Some((DateTime::from_timestamp_millis(ms)?, v))).collect();
        out.points.insert((metric.to_string(), stat.to_string()), got);
    }
    out.points.retain(|_, v| !v.is_empty());
    for v in out.points.values_mut() {
        v.sort_by_key(|(t, _)| *t);
    }
    out
}

fn max(v: &[f64]) -> Option<f64> {
    v.iter().cloned().reduce(f64::max)
}

fn sum(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum())
}

/// The diagnosis over the span before the alarm. `config`: the variant's ServerlessConfig, when
/// the endpoint could be described.
pub fn analyse(r: &Readings, w: &Window, config: Option<Serverless>) -> Diagnosis {
    let from = (w.alarm_start - Duration::seconds(i64::from(r.period_s))).min(w.anchor - Duration::minutes(MIN_SPAN_MINUTES));
    let vals = |metric: &str, stat: &str| -> Vec<f64> {
        r.get(metric, stat).iter().filter(|(t, _)| *t >= from && *t <= w.anchor).map(|(_, v)| *v).collect()
    };
    let per_min = f64::from(r.period_s.max(60)) / 60.0;

    let peak_utilization = max(&vals("ServerlessConcurrentExecutionsUtilization", "Maximum"));
    let spill = vals("ServerlessProvisionedConcurrencySpilloverInvocations", "Sum");
    let pc_util = max(&vals("ServerlessProvisionedConcurrencyUtilization", "Maximum"));
    let pc_exec = max(&vals("ServerlessProvisionedConcurrencyExecutions", "Maximum"));
    let pc_inv = sum(&vals("ServerlessProvisionedConcurrencyInvocations", "Sum"));
    let configured_pc = config.and_then(|c| c.provisioned_concurrency).filter(|p| *p > 0);
    let provisioned = (configured_pc.is_some() || pc_util.is_some() || pc_exec.is_some() || !spill.is_empty()).then(|| Provisioned {
        // Without the config, a full provisioned pool tells its size: executions ÷ utilisation.
        configured: configured_pc.or_else(|| match (pc_exec, pc_util) {
            (Some(e), Some(u)) if u >= 0.5 => Some((e / u).round() as i32),
            _ => None,
        }),
        peak_utilization: pc_util,
        peak_executions: pc_exec,
        invocations: pc_inv,
        spillover: spill.iter().sum(),
        spillover_peak_per_min: max(&spill).unwrap_or(0.0) / per_min,
    });

    let weighted_avg = |metric: &str| -> Option<f64> {
        let (s, n) = (sum(&vals(metric, "Sum"))?, sum(&vals(metric, "SampleCount"))?);
        (n > 0.0).then(|| s / n)
    };
    let cold_count = sum(&vals("ModelSetupTime", "SampleCount")).unwrap_or(0.0);
    let cold_starts = (cold_count > 0.0).then(|| ColdStarts {
        count: cold_count,
        avg_us: weighted_avg("ModelSetupTime"),
        max_us: max(&vals("ModelSetupTime", "Maximum")),
    });
    let (overhead_avg_us, model_avg_us) = (weighted_avg("OverheadLatency"), weighted_avg("ModelLatency"));
    let latency = Latency {
        overhead_avg_us,
        overhead_max_us: max(&vals("OverheadLatency", "Maximum")),
        model_avg_us,
        model_max_us: max(&vals("ModelLatency", "Maximum")),
        overhead_share: match (overhead_avg_us, model_avg_us) {
            (Some(o), Some(m)) if o + m > 0.0 => Some(o / (o + m)),
            _ => None,
        },
    };
    let latency = (latency.overhead_max_us.is_some() || latency.model_max_us.is_some()).then_some(latency);

    let max_conc = config.and_then(|c| c.max_concurrency).filter(|m| *m > 0);
    // Little's law for the spillover's own concurrency: arrivals per second × seconds each.
    let avg_latency_s = latency.as_ref().and_then(|l| Some((l.overhead_avg_us? + l.model_avg_us.unwrap_or(0.0)) / 1e6));
    let peak_concurrency = match (peak_utilization, max_conc) {
        (Some(u), Some(m)) => Some(u * f64::from(m)),
        _ => provisioned.as_ref().and_then(|p| {
            let spill_conc = p.spillover_peak_per_min / 60.0 * avg_latency_s.unwrap_or(0.0);
            Some(p.peak_executions? + spill_conc)
        }),
    };

    let memory_peak_pct = max(&vals("MemoryUtilization", "Maximum"));
    let invocations = sum(&vals("Invocations", "Sum"));
    let errors_4xx = sum(&vals("Invocation4XXErrors", "Sum"));
    let errors_5xx = sum(&vals("Invocation5XXErrors", "Sum"));

    let mut metrics: Vec<String> = r.points.keys().map(|(m, _)| m.clone()).collect();
    metrics.dedup();
    let pc_full = provisioned.as_ref().is_some_and(|p| p.spillover > 0.0 || p.peak_utilization.is_some_and(|u| u >= 0.95));
    let finding = if metrics.is_empty() {
        Finding::NoData
    } else if peak_utilization.is_some_and(|u| u >= 0.9) {
        Finding::MaxConcurrencyReached
    } else if pc_full {
        Finding::ProvisionedSaturated
    } else if cold_starts.is_some() {
        Finding::ColdStarts
    } else if memory_peak_pct.is_some_and(|m| m >= 90.0) {
        Finding::MemoryHigh
    } else if errors_5xx.is_some_and(|e| e > 0.0) {
        Finding::Errors
    } else {
        Finding::NoPressure
    };
    Diagnosis {
        variant: r.variant.clone(),
        config,
        span_minutes: (w.anchor - from).num_minutes(),
        period_s: r.period_s,
        finding,
        peak_utilization,
        peak_concurrency,
        provisioned,
        cold_starts,
        latency,
        memory_peak_pct,
        invocations,
        errors_4xx,
        errors_5xx,
        metrics,
    }
}

fn us(v: f64) -> String {
    Unit::Microseconds.format(v)
}

fn pct(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

/// What to change, with numbers from the diagnosis. Each item is one self-contained instruction.
pub fn advice(d: &Diagnosis) -> Vec<String> {
    let mut out = vec![];
    let needed = d.needed_concurrency();
    let max_c = d.max_concurrency();
    let pc = d.provisioned_concurrency();
    let how = "Set it in a copy of the endpoint config's ServerlessConfig, then run `aws sagemaker update-endpoint`.";

    if let (Some(p), Some(n)) = (d.provisioned.as_ref().filter(|_| d.finding != Finding::NoData), needed) {
        let covered = pc.is_some_and(|c| c >= n as i32);
        if p.spillover > 0.0 || (!covered && p.peak_utilization.is_some_and(|u| u >= 0.95)) {
            let raise_max = max_c.filter(|m| (*m as u32) < n).map(|_| format!(" and MaxConcurrency at least {n}")).unwrap_or_default();
            out.push(format!(
                "Provisioned concurrency {} was full: {} invocations went to on-demand capacity (up to {}/min), each a possible cold start. \
                 The peak needed {n} concurrent executions: ProvisionedConcurrency {n}{raise_max} would have covered it. {how} \
                 It is billed while idle; to follow the load instead, scale it with Application Auto Scaling \
                 (sagemaker:variant:DesiredProvisionedConcurrency, target SageMakerVariantProvisionedConcurrencyUtilization).",
                pc.map(|c| c.to_string()).unwrap_or_else(|| "?".into()),
                sig(p.spillover),
                sig(p.spillover_peak_per_min),
            ));
        }
    }

    if let (Some(m), Some(n), Some(u)) = (max_c, needed, d.peak_utilization) {
        let left = (m - n as i32).max(0);
        if u >= 0.9 {
            let suggest = ((f64::from(n) * 1.25).ceil() as u32).clamp(n + 1, MAX_CONCURRENCY_LIMIT);
            out.push(format!(
                "Max concurrency {m} is the limit: the peak used {n} ({}), {left} left; requests beyond it are throttled{}. \
                 Raise MaxConcurrency to {suggest} (the peak + 25%, at most {MAX_CONCURRENCY_LIMIT} per endpoint). {how}",
                pct(u),
                d.errors_4xx.filter(|e| *e > 0.0).map(|e| format!(" ({} 4XX errors in the window)", sig(e))).unwrap_or_default(),
            ));
        } else {
            out.push(format!("Max concurrency {m}: the peak used {n} ({}), {left} concurrent executions of headroom left.", pct(u)));
        }
    }

    if let Some(c) = d.cold_starts.as_ref().filter(|_| pc.is_none_or(|p| p <= 0)) {
        let keep_warm = needed.map(|n| format!(" ProvisionedConcurrency {n} (the peak) would keep them warm. {how}")).unwrap_or_default();
        out.push(format!(
            "{} cold start{} in the {} min before the alarm, ~{} each{}: with no provisioned concurrency every scale-up from idle pays it.{keep_warm}",
            sig(c.count),
            if c.count == 1.0 { "" } else { "s" },
            d.span_minutes,
            c.avg_us.map(us).unwrap_or_else(|| "?".into()),
            c.max_us.map(|m| format!(" (longest {})", us(m))).unwrap_or_default(),
        ));
    }

    if let Some(l) = &d.latency {
        if let (Some(share), Some(o), Some(m)) = (l.overhead_share.filter(|s| *s >= 0.5), l.overhead_avg_us, l.model_avg_us) {
            out.push(format!(
                "Overhead is {} of the average request's latency ({} overhead vs {} in the model, overhead up to {}): \
                 the time goes to cold starts and queueing outside the container, not to the model.",
                pct(share),
                us(o),
                us(m),
                l.overhead_max_us.map(us).unwrap_or_else(|| "?".into()),
            ));
        }
    }

    if let Some(p) = d.memory_peak_pct.filter(|p| *p >= 85.0) {
        let mb = d.config.and_then(|c| c.memory_mb);
        let next = mb.map(|m| ((m / MEMORY_STEP_MB) + 1) * MEMORY_STEP_MB).filter(|n| *n <= MEMORY_MAX_MB);
        out.push(match (mb, next) {
            (Some(m), Some(n)) => format!(
                "Memory peaked at {}% of {m} MB; running out restarts the container (a cold start, 5XX). MemorySizeInMB {n} is the next size. {how}",
                sig(p.round())
            ),
            (Some(m), None) => format!(
                "Memory peaked at {}% of {m} MB, the largest serverless size: a smaller model or an instance-based endpoint is next.",
                sig(p.round())
            ),
            _ => format!("Memory peaked at {}%.", sig(p.round())),
        });
    }

    if let Some(e) = d.errors_5xx.filter(|e| *e > 0.0) {
        let of = d.invocations.filter(|i| *i > 0.0).map(|i| format!(" of {} invocations ({})", sig(i), pct(e / i))).unwrap_or_default();
        out.push(format!("{} 5XX errors{of} in the {} min before the alarm: the container's logs say why.", sig(e), d.span_minutes));
    }
    if d.finding == Finding::NoData {
        out.push(format!(
            "CloudWatch had no serverless metrics for variant {} in the window: no traffic, or not published yet.",
            d.variant
        ));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(crate) fn window() -> Window {
        let anchor = Utc.with_ymd_and_hms(2026, 11, 20, 14, 7, 31).unwrap();
        Window {
            start: anchor - Duration::minutes(31),
            alarm_start: anchor - Duration::minutes(1),
            anchor,
            end: anchor + Duration::minutes(1),
            period_s: 60,
        }
    }

    /// `values[k]` at minute `k - len` before the alarm (the last one in the alarm's minute).
    fn readings(series: &[(&str, &str, &[f64])]) -> Readings {
        let anchor_min = Utc.with_ymd_and_hms(2026, 11, 20, 14, 7, 0).unwrap();
        let mut r = Readings { variant: "AllTraffic".into(), period_s: 60, points: BTreeMap::new() };
        for (m, s, vals) in series {
            let n = vals.len() as i64;
            let pts = vals.iter().enumerate().map(|(k, v)| (anchor_min - Duration::minutes(n - 1 - k as i64), *v)).collect();
            r.points.insert((m.to_string(), s.to_string()), pts);
        }
        r
    }

    pub(crate) fn config(max: i32, pc: Option<i32>) -> Option<Serverless> {
        Some(Serverless { memory_mb: Some(4096), max_concurrency: Some(max), provisioned_concurrency: pc })
    }

    /// The burst: max 20, provisioned 4 full, 40 invocations a minute spilling.
    pub(crate) fn burst() -> Readings {
        readings(&[
            ("ServerlessConcurrentExecutionsUtilization", "Maximum", &[0.1, 0.2, 0.4, 0.45, 0.45]),
            ("ServerlessProvisionedConcurrencyUtilization", "Maximum", &[0.5, 1.0, 1.0, 1.0, 1.0]),
            ("ServerlessProvisionedConcurrencyExecutions", "Maximum", &[2.0, 4.0, 4.0, 4.0, 4.0]),
            ("ServerlessProvisionedConcurrencyInvocations", "Sum", &[60.0, 120.0, 120.0, 120.0, 120.0]),
            ("ServerlessProvisionedConcurrencySpilloverInvocations", "Sum", &[0.0, 20.0, 40.0, 40.0, 30.0]),
            ("ModelSetupTime", "SampleCount", &[0.0, 2.0, 3.0, 1.0, 0.0]),
            ("ModelSetupTime", "Sum", &[0.0, 16.0e6, 24.9e6, 8.3e6, 0.0]),
            ("ModelSetupTime", "Maximum", &[0.0, 8.1e6, 8.4e6, 8.3e6, 0.0]),
            ("OverheadLatency", "Sum", &[6.0e6, 140.0e6, 160.0e6, 160.0e6, 150.0e6]),
            ("OverheadLatency", "SampleCount", &[60.0, 140.0, 160.0, 160.0, 150.0]),
            ("OverheadLatency", "Maximum", &[0.2e6, 2.9e6, 2.8e6, 2.7e6, 2.1e6]),
            ("ModelLatency", "Sum", &[24.0e6, 56.0e6, 64.0e6, 64.0e6, 60.0e6]),
            ("ModelLatency", "SampleCount", &[60.0, 140.0, 160.0, 160.0, 150.0]),
            ("Invocations", "Sum", &[60.0, 140.0, 160.0, 160.0, 150.0]),
            ("MemoryUtilization", "Maximum", &[55.0, 61.0, 62.0, 60.0, 58.0]),
        ])
    }

    #[test]
    fn full_provisioned_concurrency_with_spillover_is_the_finding_and_the_advice_sizes_it() {
        let d = analyse(&burst(), &window(), config(20, Some(4)));
        assert_eq!(d.finding, Finding::ProvisionedSaturated);
        let p = d.provisioned.as_ref().unwrap();
        assert_eq!((p.spillover, p.spillover_peak_per_min, p.configured), (130.0, 40.0, Some(4)));
        // 0.45 × 20 = 9 concurrent executions at the peak.
        assert_eq!(d.needed_concurrency(), Some(9));
        let c = d.cold_starts.as_ref().unwrap();
        assert_eq!(c.count, 6.0);
        assert!((c.avg_us.unwrap() - 8.2e6).abs() < 1.0, "{:?}", c.avg_us);
        let l = d.latency.as_ref().unwrap();
        assert_eq!(l.overhead_max_us, Some(2.9e6));
        // 616 s of overhead and 268 s in the model over 670 requests.
        assert!((l.overhead_share.unwrap() - 616.0 / 884.0).abs() < 1e-9);
        let a = advice(&d);
        assert!(a[0].starts_with("Provisioned concurrency 4 was full: 130 invocations went to on-demand capacity (up to 40/min)"), "{a:?}");
        assert!(a[0].contains("ProvisionedConcurrency 9 would have covered it"), "{}", a[0]);
        assert!(a[1].starts_with("Max concurrency 20: the peak used 9 (45%), 11 concurrent executions of headroom left."), "{a:?}");
        assert!(a[2].starts_with("Overhead is 70% of the average request's latency (919.4 ms overhead vs 400 ms in the model"), "{a:?}");
        assert_eq!(a.len(), 3, "no cold-start item when provisioned concurrency exists, memory is fine: {a:?}");
    }

    #[test]
    fn without_the_config_the_provisioned_size_and_peak_come_from_the_metrics() {
        let d = analyse(&burst(), &window(), None);
        let p = d.provisioned.as_ref().unwrap();
        assert_eq!(p.configured, Some(4), "4 executions at 100% utilisation");
        // 4 provisioned + 40/min × (919 ms + 400 ms) ≈ 4.88 → 5.
        assert_eq!(d.needed_concurrency(), Some(5));
    }

    #[test]
    fn near_max_concurrency_leads_and_the_advice_raises_it_by_a_quarter() {
        let r = readings(&[
            ("ServerlessConcurrentExecutionsUtilization", "Maximum", &[0.5, 0.95]),
            ("Invocation4XXErrors", "Sum", &[0.0, 12.0]),
        ]);
        let d = analyse(&r, &window(), config(20, None));
        assert_eq!(d.finding, Finding::MaxConcurrencyReached);
        assert_eq!(d.needed_concurrency(), Some(19));
        let a = advice(&d);
        assert_eq!(a.len(), 1, "{a:?}");
        assert!(a[0].starts_with("Max concurrency 20 is the limit: the peak used 19 (95%), 1 left; requests beyond it are throttled (12 4XX errors in the window)."), "{}", a[0]);
        // ceil(19 × 1.25) = 24.
        assert!(a[0].contains("Raise MaxConcurrency to 24"), "{}", a[0]);
        // The per-endpoint limit caps the suggestion.
        let d = analyse(&r, &window(), config(200, None));
        assert!(advice(&d)[0].contains("Raise MaxConcurrency to 200"), "{:?}", advice(&d));
    }

    #[test]
    fn cold_starts_without_provisioned_concurrency_suggest_the_peak_and_memory_the_next_size() {
        let r = readings(&[
            ("ServerlessConcurrentExecutionsUtilization", "Maximum", &[0.2, 0.3]),
            ("ModelSetupTime", "SampleCount", &[2.0, 1.0]),
            ("ModelSetupTime", "Sum", &[10.0e6, 6.0e6]),
            ("ModelSetupTime", "Maximum", &[5.5e6, 6.0e6]),
            ("MemoryUtilization", "Maximum", &[80.0, 91.0]),
            ("Invocation5XXErrors", "Sum", &[0.0, 3.0]),
            ("Invocations", "Sum", &[100.0, 50.0]),
        ]);
        let d = analyse(&r, &window(), config(10, None));
        assert_eq!(d.finding, Finding::ColdStarts);
        assert!(d.provisioned.is_none());
        let a = advice(&d).join("\n");
        assert!(a.contains("3 cold starts in the 10 min before the alarm, ~5.33 s each (longest 6 s)"), "{a}");
        assert!(a.contains("ProvisionedConcurrency 3 (the peak) would keep them warm"), "{a}");
        assert!(a.contains("Memory peaked at 91% of 4096 MB; running out restarts the container (a cold start, 5XX). MemorySizeInMB 5120 is the next size"), "{a}");
        assert!(a.contains("3 5XX errors of 150 invocations (2%)"), "{a}");
    }

    #[test]
    fn the_span_reaches_back_ten_minutes_and_no_further() {
        // 15 one-minute points up to 14:07; the alarm changed state at 14:07:31, so the span starts
        // at 13:57:31 and holds the ten points 13:58 … 14:07.
        let r = readings(&[("Invocations", "Sum", &[1.0; 15])]);
        let d = analyse(&r, &window(), config(5, None));
        assert_eq!((d.invocations, d.span_minutes), (Some(10.0), 10));
        assert_eq!(d.finding, Finding::NoPressure);
    }

    #[test]
    fn no_data_says_so() {
        let d = analyse(&Readings { variant: "AllTraffic".into(), period_s: 60, points: BTreeMap::new() }, &window(), config(5, None));
        assert_eq!(d.finding, Finding::NoData);
        assert_eq!(d.needed_concurrency(), None);
        assert_eq!(
            advice(&d),
            vec!["CloudWatch had no serverless metrics for variant AllTraffic in the window: no traffic, or not published yet."]
        );
    }
}
