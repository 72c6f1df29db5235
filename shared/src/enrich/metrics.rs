//! Per-instance, per-GPU and per-container metrics. ListMetrics discovers the streams that exist
//! (the dimensions differ per endpoint kind); GetMetricData fetches them in as few calls as
//! possible (≤ 500 queries each, NextToken followed). No SEARCH or metric math: plain MetricStat.

use super::{Chain, Ctx, OwnMetric, Window};
use crate::model::Statistic;
use crate::subject::SageMakerTarget;
use aws_sdk_cloudwatch::primitives::DateTime as AwsTime;
use aws_sdk_cloudwatch::types::{Dimension, DimensionFilter, Metric, MetricDataQuery, MetricStat, RecentlyActive, ScanBy, StatusCode};
use aws_sdk_cloudwatch::Client;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

pub const ENDPOINTS_NS: &str = "/aws/sagemaker/Endpoints";
pub const COMPONENTS_NS: &str = "/aws/sagemaker/InferenceComponents";
pub const INVOCATIONS_NS: &str = "AWS/SageMaker";

/// GetMetricData's hard limit ("This quota cannot be changed").
pub const MAX_QUERIES_PER_CALL: usize = 500;
/// Bounds on pagination; each page is a call under the deadline anyway.
const MAX_LIST_PAGES: usize = 20;
const MAX_DATA_PAGES: usize = 10;

/// Metrics worth comparing across a fleet, with the statistic that summarises each. The alarm's
/// own metric is fetched too, with the alarm's statistic.
pub const WANTED: [(&str, &str); 14] = [
    ("GPUUtilizationNormalized", "Average"),
    ("GPUMemoryUtilizationNormalized", "Average"),
    ("CPUUtilizationNormalized", "Average"),
    ("MemoryUtilization", "Average"),
    ("GPUUtilization", "Average"),
    ("GPUMemoryUtilization", "Average"),
    ("CPUUtilization", "Average"),
    ("DiskUtilization", "Average"),
    ("ConcurrentRequestsPerModel", "Maximum"),
    ("Invocations", "Sum"),
    ("Invocation5XXErrors", "Sum"),
    ("Invocation4XXErrors", "Sum"),
    ("InvocationModelErrors", "Sum"),
    ("ModelLatency", "Average"),
];

/// Which part of the fleet a stream describes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Member {
    pub instance: Option<String>,
    /// `GpuId` or `AcceleratorId`.
    pub gpu: Option<String>,
    pub container: Option<String>,
}

/// The dimensions that name a member of the fleet, by part; a stream with none of them is the
/// variant's or the endpoint's own.
const INSTANCE_DIMENSIONS: &[&str] = &["InstanceId"];
const GPU_DIMENSIONS: &[&str] = &["GpuId", "AcceleratorId"];
const CONTAINER_DIMENSIONS: &[&str] = &["ContainerId"];

impl Member {
    fn of(dims: &[(String, String)]) -> Self {
        let get = |names: &[&str]| dims.iter().find(|(n, _)| names.contains(&n.as_str())).map(|(_, v)| v.clone());
        Self { instance: get(INSTANCE_DIMENSIONS), gpu: get(GPU_DIMENSIONS), container: get(CONTAINER_DIMENSIONS) }
    }

    /// Whether `dims` name a member (`!Member::of(dims).is_empty()`), without copying them.
    fn named_in(dims: &[(String, String)]) -> bool {
        let names = [INSTANCE_DIMENSIONS, GPU_DIMENSIONS, CONTAINER_DIMENSIONS];
        dims.iter().any(|(n, _)| names.iter().any(|part| part.contains(&n.as_str())))
    }

    pub fn is_empty(&self) -> bool {
        self.instance.is_none() && self.gpu.is_none() && self.container.is_none()
    }

    /// `i-0a1b… GPU 2`, `container c-7f3e2a`.
    pub fn label(&self) -> String {
        let mut parts = vec![];
        if let Some(i) = &self.instance {
            parts.push(i.clone());
        }
        if let Some(c) = &self.container {
            parts.push(format!("container {c}"));
        }
        if let Some(g) = &self.gpu {
            parts.push(format!("GPU {g}"));
        }
        parts.join(" ")
    }
}

/// One fetched metric stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub namespace: String,
    pub metric: String,
    pub stat: Statistic,
    pub member: Member,
    pub points: Vec<(DateTime<Utc>, f64)>,
}

/// A stream ListMetrics reported, and the statistic we will ask for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Stream {
    pub namespace: String,
    pub metric: String,
    pub dims: Vec<(String, String)>,
    pub stat: Statistic,
}

#[allow(clippy::too_many_arguments)] // one per independent input; a struct would only rename them
pub(super) async fn fetch(
    ctx: &Ctx,
    chain: &Chain,
    client: &Client,
    sm: &SageMakerTarget,
    endpoint: Option<&str>,
    own: Option<&OwnMetric>,
    window: &Window,
    max_series: usize,
) -> Vec<Series> {
    let mut lookups = vec![];
    if let Some(endpoint) = endpoint {
        let mut by_endpoint = vec![("EndpointName".to_string(), endpoint.to_string())];
        if let Some(v) = &sm.variant {
            by_endpoint.push(("VariantName".to_string(), v.clone()));
        }
        lookups.push((ENDPOINTS_NS, by_endpoint.clone()));
        lookups.push((INVOCATIONS_NS, by_endpoint));
    }
    if let Some(ic) = &sm.inference_component {
        lookups.push((COMPONENTS_NS, vec![("InferenceComponentName".to_string(), ic.clone())]));
    }
    // The namespaces are listed concurrently, then the batches fetched concurrently: the second
    // group waits for the first.
    let listing: Vec<Chain> = lookups.iter().map(|_| Chain::default()).collect();
    let listed = futures::future::join_all(lookups.iter().zip(&listing).map(|((ns, f), c)| list(ctx, c, client, ns, f))).await;
    chain.then_longest(&listing);
    let (mut streams, dropped) = select(listed.into_iter().flatten().collect(), own, max_series);
    // The metrics target-tracking policies track, riding in the same batch (never a call of
    // their own): the capacity section shows each policy's target against its metric's value
    // now, whatever the alarm is on. Without per-instance streams there is no batch to ride, and
    // the capacity section falls back to what the policy alone says.
    if !streams.is_empty() {
        streams.extend(tracked(sm, endpoint, own));
    }
    if dropped > 0 {
        ctx.note(
            "GetMetricData",
            format!("fetched {} metric streams; {dropped} more were left out to stay within the deadline", streams.len()),
        );
    }
    let chunks: Vec<&[Stream]> = streams.chunks(MAX_QUERIES_PER_CALL).collect();
    let fetching: Vec<Chain> = chunks.iter().map(|_| Chain::default()).collect();
    let series = futures::future::join_all(chunks.iter().zip(&fetching).map(|(c, ch)| get(ctx, ch, client, c, window))).await;
    chain.then_longest(&fetching);
    series.into_iter().flatten().collect()
}

async fn list(ctx: &Ctx, chain: &Chain, client: &Client, namespace: &str, filter: &[(String, String)]) -> Vec<Stream> {
    let filters: Vec<DimensionFilter> = filter.iter().map(|(n, v)| DimensionFilter::builder().name(n).value(v).build()).collect();
    let mut out = vec![];
    let mut token: Option<String> = None;
    for _ in 0..MAX_LIST_PAGES {
        // Streams keep their names for two weeks; with data in the last three hours only, the
        // series budget goes to instances that may still be there (the rest are sorted out by
        // their data, `fleet::analyse`).
        let req = client
            .list_metrics()
            .namespace(namespace)
            .set_dimensions(Some(filters.clone()))
            .recently_active(RecentlyActive::Pt3H)
            .set_next_token(token.take());
        match ctx.call(chain, req.send()).await {
            Ok(page) => {
                out.extend(page.metrics().iter().filter_map(|m| {
                    Some(Stream {
                        namespace: m.namespace().unwrap_or(namespace).to_string(),
                        metric: m.metric_name()?.to_string(),
                        dims: m.dimensions().iter().filter_map(|d| Some((d.name()?.to_string(), d.value()?.to_string()))).collect(),
                        stat: Statistic::default(),
                    })
                }));
                match page.next_token() {
                    Some(t) if !t.is_empty() => token = Some(t.to_string()),
                    _ => break,
                }
            }
            Err(f) => {
                ctx.note("ListMetrics", format!("{namespace}: {}", f.line));
                break;
            }
        }
    }
    out
}

/// The variant- and component-level metrics SageMaker's predefined target-tracking policies track
/// (`SageMakerVariantInvocationsPerInstance` → `InvocationsPerInstance`, …), with the statistic
/// the policy uses; not the alarm's own metric (fetched already). Their series have no member:
/// the fleet analysis leaves them out.
pub(crate) fn tracked(sm: &SageMakerTarget, endpoint: Option<&str>, own: Option<&OwnMetric>) -> Vec<Stream> {
    let mut out = vec![];
    let mut push = |metric: &str, stat: &str, dims: Vec<(String, String)>| {
        let is_own = own.is_some_and(|o| o.namespace == INVOCATIONS_NS && o.name == metric);
        if !is_own {
            out.push(Stream { namespace: INVOCATIONS_NS.into(), metric: metric.into(), dims, stat: Statistic::from(stat) });
        }
    };
    if let (Some(e), Some(v)) = (endpoint, &sm.variant) {
        let dims = vec![("EndpointName".to_string(), e.to_string()), ("VariantName".to_string(), v.clone())];
        for (metric, stat) in TRACKED_VARIANT {
            push(metric, stat, dims.clone());
        }
    }
    if let Some(ic) = &sm.inference_component {
        let dims = vec![("InferenceComponentName".to_string(), ic.clone())];
        for (metric, stat) in TRACKED_COMPONENT {
            push(metric, stat, dims.clone());
        }
    }
    out
}

/// What the predefined target-tracking metrics read, per variant and per inference component.
pub const TRACKED_VARIANT: [(&str, &str); 2] = [("InvocationsPerInstance", "Sum"), ("ConcurrentRequestsPerModel", "Maximum")];
pub const TRACKED_COMPONENT: [(&str, &str); 2] = [("InvocationsPerCopy", "Sum"), ("ConcurrentRequestsPerCopy", "Maximum")];

/// Keeps the per-instance/GPU/container streams worth fetching, each with its statistic; the
/// alarm's own metric first, then [`WANTED`] order. Returns how many were cut by `max`.
pub(crate) fn select(listed: Vec<Stream>, own: Option<&OwnMetric>, max: usize) -> (Vec<Stream>, usize) {
    // On the critical path of a big fleet's alarm (a thousand streams between the last ListMetrics
    // page and GetMetricData): names are ranked before anything is copied, and duplicates (a
    // stream listed twice) are dropped after sorting, where equal streams sit side by side.
    let mut keep: Vec<(usize, Stream)> = listed
        .into_iter()
        .filter_map(|mut s| {
            let is_own = own.is_some_and(|o| o.name == s.metric && o.namespace == s.namespace);
            let (rank, stat) = match (is_own, WANTED.iter().position(|(m, _)| *m == s.metric)) {
                (true, _) => (0, own.map(|o| o.stat.clone()).unwrap_or_default()),
                (false, Some(r)) => (r + 1, Statistic::from(WANTED[r].1)),
                (false, None) => return None,
            };
            if !Member::named_in(&s.dims) {
                return None;
            }
            s.dims.sort();
            s.stat = stat;
            Some((rank, s))
        })
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let dropped = keep.len().saturating_sub(max);
    keep.truncate(max);
    (keep.into_iter().map(|(_, s)| s).collect(), dropped)
}

/// GetMetricData over the window for `queries` (ids `<prefix><index>`), NextToken followed for up
/// to [`MAX_DATA_PAGES`] pages: each query's points, epoch ms → value, by index. What came back
/// forbidden, failed or partial is noted once per kind.
pub(super) async fn get_points(
    ctx: &Ctx,
    chain: &Chain,
    client: &Client,
    queries: Vec<MetricDataQuery>,
    prefix: char,
    window: &Window,
) -> Vec<BTreeMap<i64, f64>> {
    let mut points: Vec<BTreeMap<i64, f64>> = vec![BTreeMap::new(); queries.len()];
    let mut trouble: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let req = client
            .get_metric_data()
            .set_metric_data_queries(Some(queries.clone()))
            .start_time(AwsTime::from_millis(window.start_ms()))
            .end_time(AwsTime::from_millis(window.end_ms()))
            .scan_by(ScanBy::TimestampAscending)
            .set_next_token(token.take());
        let page = match ctx.call(chain, req.send()).await {
            Ok(p) => p,
            Err(f) => {
                ctx.fail("GetMetricData", f);
                break;
            }
        };
        pages += 1;
        let more = page.next_token().filter(|t| !t.is_empty()).map(str::to_string);
        for r in page.metric_data_results() {
            let Some(i) = r.id().and_then(|id| id.strip_prefix(prefix)).and_then(|n| n.parse::<usize>().ok()).filter(|i| *i < points.len())
            else {
                continue;
            };
            for (t, v) in r.timestamps().iter().zip(r.values()) {
                points[i].insert(t.to_millis().unwrap_or_default(), *v);
            }
            match r.status_code() {
                Some(StatusCode::Forbidden) => *trouble.entry("forbidden").or_default() += 1,
                Some(StatusCode::InternalError) => *trouble.entry("an internal error").or_default() += 1,
                // PartialData with a NextToken is simply the next page; without one it is final.
                Some(StatusCode::PartialData) if more.is_none() => *trouble.entry("partial data").or_default() += 1,
                _ => {}
            }
        }
        match more {
            Some(t) if pages < MAX_DATA_PAGES => token = Some(t),
            Some(_) => {
                ctx.note("GetMetricData", format!("stopped after {pages} pages; the trend may be incomplete"));
                break;
            }
            None => break,
        }
    }
    for (what, n) in trouble {
        ctx.note("GetMetricData", format!("{n} metric stream(s) came back with {what}"));
    }
    points
}

async fn get(ctx: &Ctx, chain: &Chain, client: &Client, chunk: &[Stream], window: &Window) -> Vec<Series> {
    let queries: Vec<MetricDataQuery> = chunk
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let metric = Metric::builder()
                .namespace(&s.namespace)
                .metric_name(&s.metric)
                .set_dimensions(Some(s.dims.iter().map(|(n, v)| Dimension::builder().name(n).value(v).build()).collect()))
                .build();
            MetricDataQuery::builder()
                .id(format!("m{i}"))
                .metric_stat(MetricStat::builder().metric(metric).period(window.period_s).stat(s.stat.as_str()).build())
                .return_data(true)
                .build()
        })
        .collect();
    let points = get_points(ctx, chain, client, queries, 'm', window).await;
    chunk
        .iter()
        .zip(points)
        .map(|(s, pts)| Series {
            namespace: s.namespace.clone(),
            metric: s.metric.clone(),
            stat: s.stat.clone(),
            member: Member::of(&s.dims),
            points: pts.into_iter().filter_map(|(ms, v)| Some((DateTime::from_timestamp_millis(ms)?, v))).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(ns: &str, metric: &str, dims: &[(&str, &str)]) -> Stream {
        Stream {
            namespace: ns.into(),
            metric: metric.into(),
            dims: dims.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            stat: Statistic::default(),
        }
    }

    #[test]
    fn select_keeps_per_instance_streams_with_their_statistic_own_metric_first() {
        let own = OwnMetric { namespace: INVOCATIONS_NS.into(), name: "ConcurrentRequestsPerModel".into(), stat: "p99".into() };
        let listed = vec![
            stream(ENDPOINTS_NS, "CPUUtilizationNormalized", &[("EndpointName", "e"), ("InstanceId", "i-1")]),
            // Variant-level: nothing to compare across the fleet.
            stream(INVOCATIONS_NS, "Invocations", &[("EndpointName", "e"), ("VariantName", "v")]),
            stream(INVOCATIONS_NS, "ConcurrentRequestsPerModel", &[("EndpointName", "e"), ("InstanceId", "i-1")]),
            stream(ENDPOINTS_NS, "SomethingElse", &[("EndpointName", "e"), ("InstanceId", "i-1")]),
            stream(ENDPOINTS_NS, "CPUUtilizationNormalized", &[("InstanceId", "i-1"), ("EndpointName", "e")]),
        ];
        let (kept, dropped) = select(listed, Some(&own), 10);
        assert_eq!(dropped, 0);
        let names: Vec<(&str, &str)> = kept.iter().map(|s| (s.metric.as_str(), s.stat.as_str())).collect();
        assert_eq!(names, vec![("ConcurrentRequestsPerModel", "p99"), ("CPUUtilizationNormalized", "Average")]);
    }

    #[test]
    fn select_caps_and_reports_what_it_cut() {
        let listed: Vec<Stream> = (0..30)
            .map(|i| stream(ENDPOINTS_NS, "GPUUtilizationNormalized", &[("InstanceId", &format!("i-{i}")), ("GpuId", "0")]))
            .collect();
        let (kept, dropped) = select(listed, None, 25);
        assert_eq!((kept.len(), dropped), (25, 5));
    }

    #[test]
    fn a_member_is_named_exactly_when_member_of_finds_one() {
        for dims in [
            vec![("EndpointName", "e"), ("VariantName", "v")],
            vec![("EndpointName", "e"), ("InstanceId", "i-1")],
            vec![("AcceleratorId", "0")],
            vec![("ContainerId", "c-1"), ("VariantName", "v")],
        ] {
            let dims: Vec<(String, String)> = dims.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
            assert_eq!(Member::named_in(&dims), !Member::of(&dims).is_empty(), "{dims:?}");
        }
    }

    #[test]
    fn member_reads_gpu_from_either_dimension_name() {
        let m = Member::of(&[("AcceleratorId".into(), "3".into()), ("InstanceId".into(), "i-9".into())]);
        assert_eq!(m.label(), "i-9 GPU 3");
    }
}
