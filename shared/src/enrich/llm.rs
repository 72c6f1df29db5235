//! LLM signals: what SageMaker's detailed observability publishes for vLLM and SGLang endpoints
//! (KV cache, requests running and waiting, time to first token, inter-token latency, tokens per
//! second, preemptions) and DCGM's GPU memory, per inference component and instance, read with
//! PromQL ([`crate::promql`]). Also the placement facts the same source has: instances and
//! copies per Availability Zone, insufficient-capacity errors, the provisioning phases of new
//! copies ([`Placement`]).
//!
//! AWS documents the same signal under several names and histograms as native or classic, so
//! nothing is hard-coded: [`discover`] asks which metric names exist for the endpoint (once per
//! endpoint per cold start, [`Catalog`]) and the queries are built from what exists. A signal that
//! does not exist is listed in [`Llm::missing`], not an error.
//!
//! Requests per alarm, all under the enrichment deadline and beside the CloudWatch and Logs calls,
//! in two round trips — as many as the CloudWatch metrics take (ListMetrics, then GetMetricData):
//! discovery (only for the first alarm of an endpoint: the metric names and, on CloudWatch, the
//! temporality of counters and histograms, side by side), then four side by side — the KV cache
//! per component and instance over the window (the ranking and the trend), TTFT p99 per component
//! over the window (the chart), placement, and every pair's details at the alarm. Six requests;
//! at most eight when the source refuses a label-only matcher for the names (asked again without)
//! or the details are cut at its series limit (asked again for the rows shown).

use super::{Chain, Ctx, Window};
use crate::model::text::{one_line, truncate};
use crate::promql::{Answer, Dialect, Label, PromQl, PromQlError, Series};
use crate::subject::SageMakerTarget;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Rows shown with their details: the worst pairs of inference component and instance.
pub const MAX_ROWS: usize = 8;
/// How long a discovered catalog is trusted (metrics appear when detailed observability is turned on).
const CATALOG_TTL: std::time::Duration = std::time::Duration::from_secs(3600);
/// The source named in notes.
pub const SOURCE: &str = "PromQL";

/// What the detailed-observability metrics say.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Llm {
    /// `CloudWatch PromQL`, `Prometheus at …`.
    pub source: String,
    /// `vLLM`, `SGLang`, from the metric names found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Worst first (KV cache peak, then waiting requests), at most [`MAX_ROWS`] (plus the alarm's own).
    pub rows: Vec<LlmRow>,
    /// How many (component, instance) pairs published the ranking signal.
    pub pairs: usize,
    /// KV cache usage per inference component (the worst instance's), over the window: the chart.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kv_trends: Vec<Trend>,
    /// TTFT p99 per inference component over the window.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ttft_trends: Vec<Trend>,
    /// Signals the endpoint does not publish under any known name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// The step of the trends, seconds.
    pub step_s: i64,
}

/// One inference component on one instance (or one instance, for a single-model endpoint).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The row the alarm is about (its component or instance).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub own: bool,
    /// KV cache usage, 0–1: the peak over the alarm window, and the latest value.
    pub kv_peak: Option<f64>,
    pub kv_now: Option<f64>,
    /// KV cache usage over the whole window, for a sparkline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kv_trend: Vec<f64>,
    /// Requests in the running batch (mean over the alarm window) and waiting (its peak).
    pub running: Option<f64>,
    pub waiting: Option<f64>,
    /// Seconds, over the alarm window.
    pub ttft_p50: Option<f64>,
    pub ttft_p99: Option<f64>,
    pub itl_p99: Option<f64>,
    /// Output tokens per second.
    pub tokens_per_s: Option<f64>,
    /// Requests preempted (KV cache evicted) during the alarm window.
    pub preemptions: Option<f64>,
    /// DCGM frame buffer, MiB: used (peak) and total (used + free) over the component's GPUs.
    pub gpu_mem_used_mib: Option<f64>,
    pub gpu_mem_total_mib: Option<f64>,
    /// DCGM GPU utilisation, percent, mean over the alarm window.
    pub gpu_util: Option<f64>,
}

impl LlmRow {
    /// `ic-llama-3-8b on i-0a1…`, `i-0a1…`, `ic-llama-3-8b`.
    pub fn name(&self) -> String {
        match (&self.component, &self.host) {
            (Some(c), Some(h)) => format!("{c} on {h}"),
            (Some(c), None) => c.clone(),
            (None, Some(h)) => h.clone(),
            (None, None) => "the endpoint".into(),
        }
    }

    pub fn gpu_mem_share(&self) -> Option<f64> {
        match (self.gpu_mem_used_mib, self.gpu_mem_total_mib) {
            (Some(u), Some(t)) if t > 0.0 => Some(u / t),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    pub name: String,
    pub points: Vec<(DateTime<Utc>, f64)>,
}

/// Where the fleet runs and why it did not grow, from the event-driven metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// Instances per Availability Zone (those publishing in the window).
    pub hosts_per_zone: BTreeMap<String, u32>,
    /// Inference-component copies per zone: zone → component → copies.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub copies_per_zone: BTreeMap<String, BTreeMap<String, u32>>,
    /// Insufficient-capacity errors in the window, per zone and instance type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ice: Vec<CapacityErrors>,
    /// The newest provisioning of each copy or instance in the hours before the alarm.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cold_starts: Vec<ColdStart>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityErrors {
    pub zone: String,
    pub instance_type: Option<String>,
    pub count: f64,
    /// The first error in the window.
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColdStart {
    pub component: Option<String>,
    pub host: Option<String>,
    pub at: Option<DateTime<Utc>>,
    pub model_download_s: Option<f64>,
    pub gpu_load_s: Option<f64>,
    pub container_start_s: Option<f64>,
}

impl ColdStart {
    /// The phases with their seconds, longest first.
    pub fn phases(&self) -> Vec<(&'static str, f64)> {
        let mut p: Vec<(&'static str, f64)> =
            [("model download", self.model_download_s), ("GPU load", self.gpu_load_s), ("container start", self.container_start_s)]
                .into_iter()
                .filter_map(|(n, v)| Some((n, v?)))
                .collect();
        p.sort_by(|a, b| b.1.total_cmp(&a.1));
        p
    }

    pub fn total_s(&self) -> f64 {
        self.phases().iter().map(|(_, s)| s).sum()
    }
}

// ------------------------------------------------------------------------------------------------
// Discovery

/// What sagealarm reads, by meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signal {
    KvCache,
    Running,
    Waiting,
    Ttft,
    Itl,
    OutputTokens,
    Preemptions,
    GpuMemUsed,
    GpuMemFree,
    GpuUtil,
    CapacityErrors,
    ModelDownload,
    GpuLoad,
    ContainerStart,
}

/// How a metric is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Gauge,
    /// A counter; `delta`: each sample is the increase since the last (OpenTelemetry delta temporality).
    Counter {
        delta: bool,
    },
    /// Classic buckets: `<name>_bucket{le=…}`.
    Classic {
        delta: bool,
    },
    /// A native histogram.
    Native {
        delta: bool,
    },
}

/// The names each signal is published under (AWS documents several), preferred first.
const NAMES: &[(Signal, &[&str])] = &[
    (
        Signal::KvCache,
        &[
            "vllm:kv_cache_usage_perc",
            "vllm_kv_cache_usage_perc",
            "vllm:gpu_cache_usage_perc",
            "vllm_gpu_cache_usage_perc",
            "sglang:token_usage",
            "sglang_token_usage",
            "KVCacheUtilization",
        ],
    ),
    (
        Signal::Running,
        &["vllm:num_requests_running", "vllm_num_requests_running", "sglang:num_running_reqs", "sglang_num_running_reqs", "BatchSize"],
    ),
    (
        Signal::Waiting,
        &["vllm:num_requests_waiting", "vllm_num_requests_waiting", "sglang:num_queue_reqs", "sglang_num_queue_reqs", "QueueDepth"],
    ),
    (
        Signal::Ttft,
        &[
            "vllm:time_to_first_token_seconds",
            "vllm_time_to_first_token_seconds",
            "sglang:time_to_first_token_seconds",
            "sglang_time_to_first_token_seconds",
        ],
    ),
    (
        Signal::Itl,
        &[
            "vllm:inter_token_latency_seconds",
            "vllm_inter_token_latency_seconds",
            "vllm:time_per_output_token_seconds",
            "vllm_time_per_output_token_seconds",
            "sglang:inter_token_latency_seconds",
            "sglang_inter_token_latency_seconds",
        ],
    ),
    (
        Signal::OutputTokens,
        &[
            "vllm:generation_tokens_total",
            "vllm_generation_tokens_total",
            "vllm:generation_tokens",
            "sglang:generation_tokens_total",
            "sglang_generation_tokens_total",
            "sglang:generation_tokens",
        ],
    ),
    (Signal::Preemptions, &["vllm:num_preemptions_total", "vllm_num_preemptions_total", "vllm:num_preemptions"]),
    (Signal::GpuMemUsed, &["DCGM_FI_DEV_FB_USED"]),
    (Signal::GpuMemFree, &["DCGM_FI_DEV_FB_FREE"]),
    (Signal::GpuUtil, &["DCGM_FI_DEV_GPU_UTIL"]),
    (Signal::CapacityErrors, &["ice_count", "ICECount"]),
    (Signal::ModelDownload, &["model_download_time", "ModelDownloadTime"]),
    (Signal::GpuLoad, &["gpu_load_time", "GPULoadTime"]),
    (Signal::ContainerStart, &["container_start_time", "ContainerStartDuration"]),
];

/// Histogram signals (read as classic buckets or native histograms).
fn is_histogram(s: Signal) -> bool {
    matches!(s, Signal::Ttft | Signal::Itl)
}

fn is_counter(s: Signal) -> bool {
    matches!(s, Signal::OutputTokens | Signal::Preemptions)
}

/// The signals an LLM endpoint's message is about (the rest are placement facts).
const ENGINE_SIGNALS: [(Signal, &str); 7] = [
    (Signal::KvCache, "KV cache usage"),
    (Signal::Running, "requests running"),
    (Signal::Waiting, "requests waiting"),
    (Signal::Ttft, "time to first token"),
    (Signal::Itl, "inter-token latency"),
    (Signal::OutputTokens, "output tokens"),
    (Signal::GpuMemUsed, "GPU memory (DCGM)"),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub name: String,
    pub shape: Shape,
}

/// Which signals an endpoint publishes, under which names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    pub found: BTreeMap<Signal, Found>,
    /// Discovery's answer was cut short (10,000 names).
    pub truncated: bool,
}

impl Catalog {
    /// From the metric names that exist (and, for CloudWatch, the temporality of those that have one).
    pub fn of(names: &BTreeSet<String>, delta: &BTreeSet<String>) -> Self {
        let mut found = BTreeMap::new();
        for (signal, candidates) in NAMES {
            for name in *candidates {
                let is_delta = delta.contains(*name);
                let shape = if is_histogram(*signal) {
                    if names.contains(&format!("{name}_bucket")) {
                        Some(Shape::Classic { delta: is_delta })
                    } else if names.contains(*name) {
                        Some(Shape::Native { delta: is_delta })
                    } else {
                        None
                    }
                } else if names.contains(*name) {
                    Some(if is_counter(*signal) { Shape::Counter { delta: is_delta } } else { Shape::Gauge })
                } else {
                    None
                };
                if let Some(shape) = shape {
                    found.insert(*signal, Found { name: name.to_string(), shape });
                    break;
                }
            }
        }
        Self { found, truncated: false }
    }

    pub fn get(&self, s: Signal) -> Option<&Found> {
        self.found.get(&s)
    }

    /// Any engine signal at all: the endpoint serves an LLM through vLLM or SGLang.
    pub fn is_llm(&self) -> bool {
        ENGINE_SIGNALS.iter().any(|(s, _)| *s != Signal::GpuMemUsed && self.found.contains_key(s))
    }

    pub fn engine(&self) -> Option<String> {
        let names: Vec<&str> = self.found.values().map(|f| f.name.as_str()).collect();
        if names.iter().any(|n| n.starts_with("vllm")) {
            Some("vLLM".into())
        } else if names.iter().any(|n| n.starts_with("sglang")) {
            Some("SGLang".into())
        } else {
            None
        }
    }

    /// The engine signals not found, as people say them.
    pub fn missing(&self) -> Vec<String> {
        ENGINE_SIGNALS.iter().filter(|(s, _)| !self.found.contains_key(s)).map(|(_, what)| what.to_string()).collect()
    }
}

/// Discovered catalogs, per endpoint, for the life of the instance (with [`CATALOG_TTL`]).
#[derive(Debug, Default)]
pub struct Catalogs(Mutex<BTreeMap<String, (std::time::Instant, Arc<Catalog>)>>);

impl Catalogs {
    fn get(&self, endpoint: &str) -> Option<Arc<Catalog>> {
        let map = self.0.lock().ok()?;
        map.get(endpoint).filter(|(at, _)| at.elapsed() < CATALOG_TTL).map(|(_, c)| c.clone())
    }

    fn put(&self, endpoint: &str, c: Arc<Catalog>) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(endpoint.to_string(), (std::time::Instant::now(), c));
        }
    }
}

/// The endpoint's catalog: cached, or discovered with `label/__name__/values` (the names among the
/// endpoint's series; all the account's when the source refuses a label-only matcher) and, on
/// CloudWatch, beside it, `series` of every name whose temporality matters (counters, native
/// histograms) for that temporality: one round trip, not two in a row.
async fn discover(ctx: &Ctx, chain: &Chain, q: &PromQl, cache: &Catalogs, endpoint: &str, w: &Window) -> Option<Arc<Catalog>> {
    if let Some(c) = cache.get(endpoint) {
        return Some(c);
    }
    let d = q.dialect();
    let of_endpoint = format!("{{{}={}}}", quoted_label(d, Label::Endpoint), crate::promql::dialect::string(endpoint));
    let (start, end) = (w.start, w.end);
    let (names_chain, series_chain) = (Chain::default(), Chain::default());
    let names = async {
        match ctx.promql(&names_chain, q.label_values("__name__", std::slice::from_ref(&of_endpoint), start, end, ctx.deadline)).await {
            Ok(a) => Some(a),
            // Some sources want a metric name in every matcher: ask for every name instead.
            Err(PromQlError::Status { status: 400 | 422, .. }) => {
                match ctx.promql(&names_chain, q.label_values("__name__", &[], start, end, ctx.deadline)).await {
                    Ok(a) => Some(a),
                    Err(e) => failed(ctx, "metric names", e),
                }
            }
            Err(e) => failed(ctx, "metric names", e),
        }
    };
    let temporality = async {
        if d != Dialect::CloudWatch {
            return BTreeSet::new();
        }
        let matchers: Vec<String> = temporal_candidates().iter().map(|n| d.selector(n, &[(Label::Endpoint, "=", endpoint)])).collect();
        match ctx.promql(&series_chain, q.series(&matchers, start, end, ctx.deadline)).await {
            Ok(a) => a
                .series
                .iter()
                .filter(|s| s.label("__temporality__").is_some_and(|t| t.eq_ignore_ascii_case("delta")))
                .filter_map(|s| s.label("__name__").map(str::to_string))
                .collect(),
            Err(e) => {
                ctx.note(SOURCE, format!("series (temporality, read as cumulative): {e}"));
                BTreeSet::new()
            }
        }
    };
    let (names, delta) = tokio::join!(names, temporality);
    chain.then_longest([&names_chain, &series_chain]);
    let names = names?;
    let set: BTreeSet<String> = names.names.iter().cloned().collect();
    let mut catalog = Catalog::of(&set, &delta);
    catalog.truncated = names.truncated();
    let catalog = Arc::new(catalog);
    cache.put(endpoint, catalog.clone());
    Some(catalog)
}

/// Every name whose temporality (cumulative or delta) changes how it is read: counters, histograms
/// (native ones carry it), capacity errors.
fn temporal_candidates() -> Vec<&'static str> {
    NAMES
        .iter()
        .filter(|(s, _)| is_counter(*s) || is_histogram(*s) || *s == Signal::CapacityErrors)
        .flat_map(|(_, names)| names.iter().copied())
        .collect()
}

fn failed<T>(ctx: &Ctx, what: &str, e: PromQlError) -> Option<T> {
    ctx.note(SOURCE, format!("{what}: {e}"));
    None
}

fn quoted_label(d: Dialect, l: Label) -> String {
    let name = d.label(l);
    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        name.to_string()
    } else {
        crate::promql::dialect::string(name)
    }
}

// ------------------------------------------------------------------------------------------------
// Queries

/// The queries of one alarm, in one dialect, over one window.
struct Queries<'a> {
    d: Dialect,
    c: &'a Catalog,
    endpoint: &'a str,
    /// The alarm window as a PromQL range (`600s`), at least five minutes.
    range: String,
    range_s: i64,
    /// How far back provisioning and capacity errors are read.
    lookback: String,
}

const SIGNAL_LABEL: &str = "sagealarm_signal";

impl Queries<'_> {
    fn sel(&self, name: &str, extra: &[(Label, &str, &str)]) -> String {
        let mut m: Vec<(Label, &str, &str)> = vec![(Label::Endpoint, "=", self.endpoint)];
        m.extend_from_slice(extra);
        self.d.selector(name, &m)
    }

    fn by(&self, labels: &[Label]) -> String {
        self.d.by(labels, &[])
    }

    /// `histogram_quantile(q, …)` of a histogram signal per `by`, over `range`.
    fn quantile(&self, q: f64, f: &Found, by: &[Label], extra: &[(Label, &str, &str)], range: &str) -> String {
        let (name, le, delta) = match f.shape {
            Shape::Classic { delta } => (format!("{}_bucket", f.name), true, delta),
            Shape::Native { delta } => (f.name.clone(), false, delta),
            _ => (f.name.clone(), false, false),
        };
        let inner = if delta {
            format!("sum_over_time({}[{range}])", self.sel(&name, extra))
        } else {
            format!("rate({}[{range}])", self.sel(&name, extra))
        };
        let by = if le { self.d.by(by, &["le"]) } else { self.d.by(by, &[]) };
        format!("histogram_quantile({q}, sum {by} ({inner}))")
    }

    /// A counter's increase (`per_second`: its rate) per `by` over the alarm window.
    fn counter(&self, f: &Found, by: &[Label], extra: &[(Label, &str, &str)], per_second: bool) -> String {
        let sel = self.sel(&f.name, extra);
        let r = &self.range;
        match (f.shape, per_second) {
            (Shape::Counter { delta: true }, true) => format!("sum {} (sum_over_time({sel}[{r}])) / {}", self.by(by), self.range_s),
            (Shape::Counter { delta: true }, false) => format!("sum {} (sum_over_time({sel}[{r}]))", self.by(by)),
            (_, true) => format!("sum {} (rate({sel}[{r}]))", self.by(by)),
            (_, false) => format!("sum {} (increase({sel}[{r}]))", self.by(by)),
        }
    }

    /// The ranking signal per (component, instance) over the window: KV cache, else waiting requests.
    fn ranking(&self) -> Option<(Signal, String)> {
        let s = [Signal::KvCache, Signal::Waiting, Signal::Running].into_iter().find(|s| self.c.get(*s).is_some())?;
        let f = self.c.get(s)?;
        Some((s, format!("max {} ({})", self.by(&[Label::Component, Label::Host, Label::Zone]), self.sel(&f.name, &[]))))
    }

    fn ttft_p99_by_component(&self) -> Option<String> {
        let f = self.c.get(Signal::Ttft)?;
        Some(self.quantile(0.99, f, &[Label::Component], &[], "5m"))
    }

    /// Every detail of the chosen rows, one labelled sub-query each, in one request.
    fn details(&self, components: &[String], hosts: &[String]) -> Option<String> {
        let mut extra: Vec<(Label, &str, String)> = vec![];
        if !components.is_empty() {
            extra.push((Label::Component, "=~", alternatives(components)));
        }
        if !hosts.is_empty() {
            extra.push((Label::Host, "=~", alternatives(hosts)));
        }
        let extra: Vec<(Label, &str, &str)> = extra.iter().map(|(l, op, v)| (*l, *op, v.as_str())).collect();
        let g = [Label::Component, Label::Host];
        let r = &self.range;
        let mut parts: Vec<(&str, String)> = vec![];
        if let Some(f) = self.c.get(Signal::Running) {
            parts.push(("running", format!("max {} (avg_over_time({}[{r}]))", self.by(&g), self.sel(&f.name, &extra))));
        }
        if let Some(f) = self.c.get(Signal::Waiting) {
            parts.push(("waiting", format!("max {} (max_over_time({}[{r}]))", self.by(&g), self.sel(&f.name, &extra))));
        }
        if let Some(f) = self.c.get(Signal::Ttft) {
            parts.push(("ttft_p50", self.quantile(0.5, f, &g, &extra, r)));
            parts.push(("ttft_p99", self.quantile(0.99, f, &g, &extra, r)));
        }
        if let Some(f) = self.c.get(Signal::Itl) {
            parts.push(("itl_p99", self.quantile(0.99, f, &g, &extra, r)));
        }
        if let Some(f) = self.c.get(Signal::OutputTokens) {
            parts.push(("tokens_per_s", self.counter(f, &g, &extra, true)));
        }
        if let Some(f) = self.c.get(Signal::Preemptions) {
            parts.push(("preemptions", self.counter(f, &g, &extra, false)));
        }
        // DCGM may or may not carry the component: grouped by both, read by instance when it does not.
        let hosts_only: Vec<(Label, &str, &str)> = extra.iter().filter(|(l, _, _)| *l == Label::Host).copied().collect();
        if let Some(used) = self.c.get(Signal::GpuMemUsed) {
            parts.push(("gpu_mem_used", format!("sum {} (max_over_time({}[{r}]))", self.by(&g), self.sel(&used.name, &hosts_only))));
            if let Some(free) = self.c.get(Signal::GpuMemFree) {
                parts.push((
                    "gpu_mem_total",
                    format!(
                        "sum {} ({}) + sum {} ({})",
                        self.by(&g),
                        self.sel(&used.name, &hosts_only),
                        self.by(&g),
                        self.sel(&free.name, &hosts_only)
                    ),
                ));
            }
        }
        if let Some(f) = self.c.get(Signal::GpuUtil) {
            parts.push(("gpu_util", format!("avg {} (avg_over_time({}[{r}]))", self.by(&g), self.sel(&f.name, &hosts_only))));
        }
        combine(&parts)
    }

    /// Placement: instances and copies per zone, capacity errors, provisioning phases.
    fn placement(&self) -> Option<String> {
        let any = [Signal::GpuUtil, Signal::KvCache, Signal::Running, Signal::GpuMemUsed].into_iter().find_map(|s| self.c.get(s));
        let mut parts: Vec<(&str, String)> = vec![];
        if let Some(f) = any {
            let sel = self.sel(&f.name, &[]);
            parts.push(("hosts", format!("count {} (count {} ({sel}))", self.by(&[Label::Zone]), self.by(&[Label::Zone, Label::Host]))));
        }
        if let Some(f) = [Signal::KvCache, Signal::Running].into_iter().find_map(|s| self.c.get(s)) {
            let sel = self.sel(&f.name, &[]);
            parts.push((
                "copies",
                format!(
                    "count {} (count {} ({sel}))",
                    self.by(&[Label::Zone, Label::Component]),
                    self.by(&[Label::Zone, Label::Component, Label::Host])
                ),
            ));
        }
        let lb = &self.lookback;
        if let Some(f) = self.c.get(Signal::CapacityErrors) {
            let sel = self.sel(&f.name, &[]);
            let g = [Label::Zone, Label::InstanceType];
            let count = match f.shape {
                Shape::Counter { delta: false } => format!("sum {} (increase({sel}[{lb}]))", self.by(&g)),
                _ => format!("sum {} (sum_over_time({sel}[{lb}]))", self.by(&g)),
            };
            parts.push(("ice", count));
            parts.push(("ice_since", format!("min {} (min_over_time(timestamp({sel})[{lb}:1m]))", self.by(&g))));
        }
        let g = [Label::Component, Label::Host];
        for (signal, key) in
            [(Signal::ModelDownload, "model_download"), (Signal::GpuLoad, "gpu_load"), (Signal::ContainerStart, "container_start")]
        {
            if let Some(f) = self.c.get(signal) {
                let sel = self.sel(&f.name, &[]);
                parts.push((key, format!("max {} (last_over_time({sel}[{lb}]))", self.by(&g))));
                if signal == Signal::ModelDownload || self.c.get(Signal::ModelDownload).is_none() && signal == Signal::GpuLoad {
                    parts.push(("provisioned_at", format!("max {} (max_over_time(timestamp({sel})[{lb}:1m]))", self.by(&g))));
                }
            }
        }
        combine(&parts)
    }
}

/// `a|b|c`, each literal.
fn alternatives(values: &[String]) -> String {
    values.iter().map(|v| crate::promql::dialect::regex_literal(v)).collect::<Vec<_>>().join("|")
}

/// One query of labelled parts: `label_replace(a, "sagealarm_signal", "running", "", "") or …`.
fn combine(parts: &[(&str, String)]) -> Option<String> {
    let q: Vec<String> = parts.iter().map(|(k, e)| format!("label_replace({e}, \"{SIGNAL_LABEL}\", \"{k}\", \"\", \"\")")).collect();
    (!q.is_empty()).then(|| q.join(" or "))
}

/// `300s`, at least five minutes (a rate needs samples), whole seconds.
fn range(span: Duration) -> (String, i64) {
    let s = span.num_seconds().max(300);
    (format!("{s}s"), s)
}

// ------------------------------------------------------------------------------------------------
// Fetch and analyse

/// The LLM signals of the endpoint `sm` names around `w`, `None` when the endpoint publishes none
/// (or PromQL is off). Notes say what could not be read.
pub(super) async fn fetch(ctx: &Ctx, chain: &Chain, q: &PromQl, cache: &Catalogs, sm: &SageMakerTarget, w: &Window) -> Option<Llm> {
    // On the heap: six requests' futures (each signing, retrying, reading) side by side are large,
    // and debug builds give every poll frame room for all of them.
    Box::pin(fetch_here(ctx, chain, q, cache, sm, w)).await
}

async fn fetch_here(ctx: &Ctx, chain: &Chain, q: &PromQl, cache: &Catalogs, sm: &SageMakerTarget, w: &Window) -> Option<Llm> {
    let endpoint = sm.endpoint.as_deref()?;
    let discovery = Chain::default();
    let catalog = discover(ctx, &discovery, q, cache, endpoint, w).await;
    chain.then_longest([&discovery]);
    let catalog = catalog?;
    if catalog.truncated {
        ctx.note(SOURCE, "the metric-name list was cut at the source's limit: some signals may be missing");
    }
    let has_placement =
        [Signal::CapacityErrors, Signal::ModelDownload, Signal::GpuLoad, Signal::ContainerStart].iter().any(|s| catalog.get(*s).is_some());
    if !catalog.is_llm() && !has_placement {
        return None;
    }
    let (range, range_s) = range(w.anchor - w.alarm_start);
    let qs = Queries {
        d: q.dialect(),
        c: &catalog,
        endpoint,
        range,
        range_s,
        lookback: format!("{}s", super::capacity::CHANGE_LOOKBACK.num_seconds()),
    };
    let step = i64::from(w.period_s).max(60);
    let (kv_chain, ttft_chain, place_chain, details_chain) = (Chain::default(), Chain::default(), Chain::default(), Chain::default());
    let ranking = qs.ranking();
    // The details of every (component, instance) pair, beside the ranking rather than after it:
    // one round trip for the whole section. Only a fleet too large for one answer (truncated)
    // asks again, for the rows shown.
    let (ranked, ttft, placement, all_details) = tokio::join!(
        async {
            let (signal, query) = ranking.as_ref()?;
            answer(ctx, &kv_chain, "ranking", q.query_range(query, w.start, w.end, step, ctx.deadline)).await.map(|a| (*signal, a))
        },
        async {
            answer(ctx, &ttft_chain, "TTFT p99", q.query_range(&qs.ttft_p99_by_component()?, w.start, w.end, step, ctx.deadline)).await
        },
        async { answer(ctx, &place_chain, "placement", q.query(&qs.placement()?, w.anchor, ctx.deadline)).await },
        async { quiet_answer(ctx, &details_chain, q.query(&qs.details(&[], &[])?, w.anchor, ctx.deadline)).await },
    );
    chain.then_longest([&kv_chain, &ttft_chain, &place_chain, &details_chain]);

    let d = q.dialect();
    let mut llm =
        Llm { source: q.source().describe(), engine: catalog.engine(), missing: catalog.missing(), step_s: step, ..Llm::default() };
    llm.placement = placement.as_ref().map(|a| read_placement(d, a)).filter(|p| *p != Placement::default());
    if let Some(a) = &ttft {
        llm.ttft_trends = trends(d, a, Label::Component);
    }
    let Some((signal, ranked)) = ranked else {
        return Some(llm);
    };
    let mut rows = rank(d, signal, &ranked, w);
    llm.pairs = rows.len();
    if signal == Signal::KvCache {
        llm.kv_trends = per_component_worst(&rows, &ranked, d);
    }
    // The alarm's own component or instance is always among the rows shown.
    let own = |r: &LlmRow| {
        let comp = sm.inference_component.as_deref().is_some_and(|c| r.component.as_deref() == Some(c));
        let host = sm.instance.as_deref().is_some_and(|h| r.host.as_deref() == Some(h));
        (comp && (sm.instance.is_none() || host)) || (host && sm.inference_component.is_none())
    };
    for r in &mut rows {
        r.own = own(r);
    }
    let mut shown: Vec<LlmRow> = rows.iter().take(MAX_ROWS).cloned().collect();
    shown.extend(rows.iter().skip(MAX_ROWS).filter(|r| r.own).cloned());
    match all_details {
        Some(a) if !a.truncated() => fill(d, &a, &mut shown),
        // Cut at the source's series limit (or failed): the rows shown, by name.
        _ => {
            let components: Vec<String> = shown.iter().filter_map(|r| r.component.clone()).collect::<BTreeSet<_>>().into_iter().collect();
            let hosts: Vec<String> = shown.iter().filter_map(|r| r.host.clone()).collect::<BTreeSet<_>>().into_iter().collect();
            let again = Chain::default();
            if let Some(query) = qs.details(&components, &hosts) {
                if let Some(a) = answer(ctx, &again, "details", q.query(&query, w.anchor, ctx.deadline)).await {
                    fill(d, &a, &mut shown);
                }
            }
            chain.then_longest([&again]);
        }
    }
    llm.rows = shown;
    Some(llm)
}

/// An answer without notes: a failed or truncated one is asked again, narrower, and that one says.
async fn quiet_answer(ctx: &Ctx, chain: &Chain, fut: impl std::future::Future<Output = Result<Answer, PromQlError>>) -> Option<Answer> {
    ctx.promql(chain, fut).await.ok()
}

/// An answer, or a note saying why not (and when it was cut short).
async fn answer(
    ctx: &Ctx,
    chain: &Chain,
    what: &str,
    fut: impl std::future::Future<Output = Result<Answer, PromQlError>>,
) -> Option<Answer> {
    match ctx.promql(chain, fut).await {
        Ok(a) => {
            if a.truncated() {
                ctx.note(
                    SOURCE,
                    format!(
                        "{what}: the answer was truncated at the source's series limit ({}); rows may be missing",
                        truncate(&one_line(&a.warnings.join("; ")), 160)
                    ),
                );
            }
            Some(a)
        }
        Err(e) => failed(ctx, what, e),
    }
}

/// Rows from the ranking signal's range answer: peak over the alarm window, latest value, trend;
/// worst first.
fn rank(d: Dialect, signal: Signal, a: &Answer, w: &Window) -> Vec<LlmRow> {
    let from = w.alarm_start - Duration::seconds(i64::from(w.period_s).max(60));
    let mut rows: Vec<LlmRow> = a
        .series
        .iter()
        .map(|s| {
            let scale = |v: f64| if signal == Signal::KvCache { kv_fraction(v) } else { v };
            let in_window: Vec<f64> =
                s.points.iter().filter(|(t, _)| *t >= from && *t <= w.anchor).map(|(_, v)| scale(*v)).filter(|v| v.is_finite()).collect();
            let peak = in_window.iter().cloned().reduce(f64::max);
            let now = s.points.iter().rev().find(|(t, v)| *t <= w.anchor && v.is_finite()).map(|(_, v)| scale(*v));
            let mut row = LlmRow {
                component: d.read(s, Label::Component),
                host: d.read(s, Label::Host),
                zone: d.read(s, Label::Zone),
                ..LlmRow::default()
            };
            match signal {
                Signal::KvCache => {
                    row.kv_peak = peak;
                    row.kv_now = now;
                    row.kv_trend = s.points.iter().map(|(_, v)| scale(*v)).collect();
                }
                Signal::Waiting => row.waiting = peak,
                _ => row.running = peak,
            }
            row
        })
        .collect();
    let key = |r: &LlmRow| (r.kv_peak.unwrap_or(0.0), r.waiting.unwrap_or(0.0), r.running.unwrap_or(0.0));
    rows.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        kb.0.total_cmp(&ka.0).then(kb.1.total_cmp(&ka.1)).then(kb.2.total_cmp(&ka.2)).then_with(|| a.name().cmp(&b.name()))
    });
    rows
}

/// KV cache as a fraction: the engines publish 0–1; a dashboard-style 0–100 is scaled down.
fn kv_fraction(v: f64) -> f64 {
    if v > 1.5 {
        v / 100.0
    } else {
        v
    }
}

/// Each component's worst instance's KV cache trend (the rows are worst first).
fn per_component_worst(rows: &[LlmRow], a: &Answer, d: Dialect) -> Vec<Trend> {
    let mut seen = BTreeSet::new();
    let mut out = vec![];
    for r in rows {
        let name = r.component.clone().or_else(|| r.host.clone()).unwrap_or_else(|| "endpoint".into());
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(s) = a.series.iter().find(|s| d.read(s, Label::Component) == r.component && d.read(s, Label::Host) == r.host) {
            let label = match (&r.component, &r.host) {
                (Some(c), Some(h)) => format!("{c} ({h})"),
                _ => name,
            };
            out.push(Trend { name: label, points: s.points.iter().map(|(t, v)| (*t, kv_fraction(*v) * 100.0)).collect() });
        }
    }
    out
}

/// One trend per value of `by`.
fn trends(d: Dialect, a: &Answer, by: Label) -> Vec<Trend> {
    a.series
        .iter()
        .filter(|s| s.points.iter().any(|(_, v)| v.is_finite()))
        .map(|s| Trend {
            name: d.read(s, by).unwrap_or_else(|| "endpoint".into()),
            points: s.points.iter().filter(|(_, v)| v.is_finite()).cloned().collect(),
        })
        .collect()
}

fn signal_of(s: &Series) -> Option<&str> {
    s.label(SIGNAL_LABEL)
}

/// The details answer into the rows: matched on component and instance, or on the instance alone
/// (DCGM series without the component).
fn fill(d: Dialect, a: &Answer, rows: &mut [LlmRow]) {
    for s in &a.series {
        let (Some(what), Some(v)) = (signal_of(s), s.last().filter(|v| v.is_finite())) else { continue };
        let (comp, host) = (d.read(s, Label::Component), d.read(s, Label::Host));
        for r in rows.iter_mut() {
            let same_host = host.is_none() || r.host == host;
            let same_comp = comp.is_none() || comp.as_deref() == Some("") || r.component == comp;
            if !(same_host && same_comp) {
                continue;
            }
            let slot = match what {
                "running" => &mut r.running,
                "waiting" => &mut r.waiting,
                "ttft_p50" => &mut r.ttft_p50,
                "ttft_p99" => &mut r.ttft_p99,
                "itl_p99" => &mut r.itl_p99,
                "tokens_per_s" => &mut r.tokens_per_s,
                "preemptions" => &mut r.preemptions,
                "gpu_mem_used" => &mut r.gpu_mem_used_mib,
                "gpu_mem_total" => &mut r.gpu_mem_total_mib,
                "gpu_util" => &mut r.gpu_util,
                _ => continue,
            };
            *slot = Some(v);
        }
    }
}

fn read_placement(d: Dialect, a: &Answer) -> Placement {
    let mut p = Placement::default();
    let mut since: BTreeMap<(String, Option<String>), DateTime<Utc>> = BTreeMap::new();
    let mut phases: BTreeMap<(Option<String>, Option<String>), ColdStart> = BTreeMap::new();
    for s in &a.series {
        let (Some(what), Some(v)) = (signal_of(s), s.last().filter(|v| v.is_finite())) else { continue };
        let zone = d.read(s, Label::Zone);
        match what {
            "hosts" => {
                p.hosts_per_zone.insert(zone.unwrap_or_else(|| "unknown zone".into()), v as u32);
            }
            "copies" => {
                if let Some(c) = d.read(s, Label::Component) {
                    p.copies_per_zone.entry(zone.unwrap_or_else(|| "unknown zone".into())).or_default().insert(c, v as u32);
                }
            }
            "ice" if v > 0.0 => p.ice.push(CapacityErrors {
                zone: zone.unwrap_or_else(|| "unknown zone".into()),
                instance_type: d.read(s, Label::InstanceType),
                count: v,
                since: None,
            }),
            "ice_since" => {
                if let Some(t) = DateTime::from_timestamp_millis((v * 1000.0) as i64) {
                    since.insert((zone.unwrap_or_else(|| "unknown zone".into()), d.read(s, Label::InstanceType)), t);
                }
            }
            "model_download" | "gpu_load" | "container_start" | "provisioned_at" => {
                let key = (d.read(s, Label::Component), d.read(s, Label::Host));
                let c = phases.entry(key.clone()).or_insert(ColdStart {
                    component: key.0,
                    host: key.1,
                    at: None,
                    model_download_s: None,
                    gpu_load_s: None,
                    container_start_s: None,
                });
                match what {
                    "model_download" => c.model_download_s = Some(v),
                    "gpu_load" => c.gpu_load_s = Some(v),
                    "container_start" => c.container_start_s = Some(v),
                    _ => c.at = DateTime::from_timestamp_millis((v * 1000.0) as i64),
                }
            }
            _ => {}
        }
    }
    for e in &mut p.ice {
        e.since = since.get(&(e.zone.clone(), e.instance_type.clone())).copied();
    }
    p.ice.sort_by(|a, b| a.zone.cmp(&b.zone));
    p.cold_starts = phases.into_values().filter(|c| !c.phases().is_empty()).collect();
    p.cold_starts.sort_by_key(|c| std::cmp::Reverse(c.at));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> BTreeSet<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_catalog_takes_what_exists_classic_or_native() {
        let c = Catalog::of(
            &names(&[
                "vllm:kv_cache_usage_perc",
                "vllm:time_to_first_token_seconds_bucket",
                "vllm:time_to_first_token_seconds_sum",
                "DCGM_FI_DEV_FB_USED",
            ]),
            &BTreeSet::new(),
        );
        assert_eq!(c.get(Signal::KvCache).unwrap().name, "vllm:kv_cache_usage_perc");
        assert_eq!(c.get(Signal::Ttft).unwrap().shape, Shape::Classic { delta: false });
        assert_eq!(c.engine().as_deref(), Some("vLLM"));
        assert!(c.is_llm());
        assert_eq!(c.missing(), ["requests running", "requests waiting", "inter-token latency", "output tokens"]);

        let native = Catalog::of(
            &names(&["vllm_kv_cache_usage_perc", "vllm:time_to_first_token_seconds", "vllm:generation_tokens"]),
            &names(&["vllm:generation_tokens"]),
        );
        assert_eq!(native.get(Signal::KvCache).unwrap().name, "vllm_kv_cache_usage_perc");
        assert_eq!(native.get(Signal::Ttft).unwrap().shape, Shape::Native { delta: false });
        assert_eq!(native.get(Signal::OutputTokens).unwrap().shape, Shape::Counter { delta: true });

        let sglang = Catalog::of(&names(&["sglang:token_usage", "sglang:num_queue_reqs"]), &BTreeSet::new());
        assert_eq!(
            (sglang.get(Signal::KvCache).unwrap().name.as_str(), sglang.engine().as_deref()),
            ("sglang:token_usage", Some("SGLang"))
        );

        let none = Catalog::of(&names(&["DCGM_FI_DEV_GPU_UTIL", "node_cpu_seconds_total"]), &BTreeSet::new());
        assert!(!none.is_llm());
    }

    #[test]
    fn queries_follow_the_dialect_and_the_histogram_form() {
        let c = Catalog::of(
            &names(&["vllm:kv_cache_usage_perc", "vllm:time_to_first_token_seconds_bucket", "vllm:num_requests_waiting"]),
            &BTreeSet::new(),
        );
        let q = Queries { d: Dialect::Legacy, c: &c, endpoint: "llm-prod", range: "600s".into(), range_s: 600, lookback: "21600s".into() };
        assert_eq!(
            q.ttft_p99_by_component().unwrap(),
            r#"histogram_quantile(0.99, sum by (aws_sagemaker_inference_component_name, le) (rate(vllm:time_to_first_token_seconds_bucket{aws_sagemaker_endpoint_name="llm-prod"}[5m])))"#
        );
        let native = Catalog::of(&names(&["vllm:time_to_first_token_seconds"]), &names(&["vllm:time_to_first_token_seconds"]));
        let q = Queries {
            d: Dialect::CloudWatch,
            c: &native,
            endpoint: "llm-prod",
            range: "600s".into(),
            range_s: 600,
            lookback: "21600s".into(),
        };
        assert_eq!(
            q.ttft_p99_by_component().unwrap(),
            r#"histogram_quantile(0.99, sum by ("aws.sagemaker.inference_component.name") (sum_over_time(vllm:time_to_first_token_seconds{"aws.sagemaker.endpoint.name"="llm-prod"}[5m])))"#
        );
        let details =
            Queries { d: Dialect::Legacy, c: &c, endpoint: "llm-prod", range: "600s".into(), range_s: 600, lookback: "1h".into() }
                .details(&["ic-a".into()], &["i-1".into(), "i-2".into()])
                .unwrap();
        // Regex-quoted, then escaped for a PromQL string literal (`\\-` is a regex's `\-`).
        assert!(details.contains(r#"aws_sagemaker_inference_component_name=~"ic\\-a""#), "{details}");
        assert!(details.contains(r#"host_id=~"i\\-1|i\\-2""#), "{details}");
        assert!(
            details.contains(
                r#"label_replace(max by (aws_sagemaker_inference_component_name, host_id) (max_over_time(vllm:num_requests_waiting"#
            ),
            "{details}"
        );
    }

    #[test]
    fn cold_start_phases_are_ordered_by_length() {
        let c = ColdStart {
            component: None,
            host: None,
            at: None,
            model_download_s: Some(212.4),
            gpu_load_s: Some(41.8),
            container_start_s: Some(18.3),
        };
        assert_eq!(c.phases()[0], ("model download", 212.4));
        assert!((c.total_s() - 272.5).abs() < 1e-9);
    }
}
