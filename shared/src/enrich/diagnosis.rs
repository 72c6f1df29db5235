//! One diagnosis, ranked in one place. Each finding of the enrichment (a failed or blocked
//! scale-out, a fleet at its maximum, a saturated KV cache, queueing in the engine, GPU memory
//! pressure, one instance or GPU standing out, a serverless variant's pressure, uneven traffic, the
//! whole fleet in one Availability Zone, slow provisioning) becomes a [`Cause`] with a score from
//! the evidence; the highest leads the message, the others support it. Pure: it reads what was
//! fetched, and the renderers word each cause (`cause_sentence` in the render stage).
//!
//! Why this order: what stopped the endpoint from healing itself (no capacity, a failed
//! scale-out) comes before what saturated it; a saturated KV cache with requests waiting explains
//! latency better than an instance that stands out; an outlier on the alarm's own metric is
//! stronger than one on another metric. Placement facts (one zone, slow cold starts) never lead
//! alone: they support.

use super::capacity::{Capacity, Lead};
use super::llm::{ColdStart, Llm, LlmRow};
use super::serverless::Finding;
use super::Enrichment;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// KV cache usage at which the engine cannot admit more sequences (vLLM preempts or queues).
pub const KV_FULL: f64 = 0.95;
/// Waiting requests that mean the engine is queueing, not just busy.
pub const QUEUEING: f64 = 5.0;
/// A score that may lead the message; lower ones only support.
const LEADS: u8 = 50;
/// Supporting lines shown at most.
pub const MAX_SUPPORTING: usize = 4;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum Cause {
    /// Insufficient-capacity errors for the instance type (PromQL), with the zones tried.
    CapacityErrors { instance_type: Option<String>, count: f64, zones: Vec<String>, since: Option<DateTime<Utc>> },
    /// The capacity analysis's own finding (a failed scale-out, the maximum, scale-out suspended).
    Capacity { lead: Lead },
    /// KV cache full on one component/instance, with requests waiting or preempted.
    KvCacheFull { row: LlmRow, others_ttft_p99: Option<f64> },
    /// Requests waiting in the engine while its KV cache has room: the batch is full.
    EngineQueueing { row: LlmRow },
    /// GPU memory is the limit: out-of-memory lines, preemptions, or a full frame buffer on an
    /// engine that does not preallocate.
    GpuMemory { row: Option<LlmRow>, oom_lines: usize, engine_preallocates: bool },
    /// One instance, GPU or container stands out (the fleet analysis).
    FleetOutlier { on_own_metric: bool },
    /// A serverless variant's pressure (the serverless analysis).
    Serverless,
    /// One instance carries much more than the others (LLM engines' running requests).
    Imbalance { busiest: String, running: f64, median: f64 },
    /// Every instance in one Availability Zone (or one zone serving nothing).
    Zones { hosts_per_zone: Vec<(String, u32)>, idle_zone: Option<String> },
    /// A new copy or instance took long to serve, and which phase dominated.
    ColdStart { cold: ColdStart },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranked {
    pub score: u8,
    #[serde(flatten)]
    pub cause: Cause,
}

/// The lead and what supports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Explanation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead: Option<Ranked>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub supporting: Vec<Ranked>,
}

impl Explanation {
    pub fn is_empty(&self) -> bool {
        self.lead.is_none() && self.supporting.is_empty()
    }

    /// The lead and the supporting causes, in order.
    pub fn all(&self) -> impl Iterator<Item = &Ranked> {
        self.lead.iter().chain(&self.supporting)
    }

    pub fn mentions(&self, f: impl Fn(&Cause) -> bool) -> bool {
        self.all().any(|r| f(&r.cause))
    }

    /// What to do about the causes found, the lead's first: the fallbacks when capacity ran out,
    /// more zones when every instance sits in one, room in the KV cache.
    pub fn advice(&self) -> Vec<String> {
        self.all()
            .filter_map(|r| match &r.cause {
                Cause::CapacityErrors { instance_type, .. } => {
                    let t = instance_type.as_deref().unwrap_or("this instance type");
                    Some(format!(
                        "SageMaker has no {t} capacity to add in the zones it tried. Fallbacks: a second production variant on \
                            another instance type of the same GPU generation or the next size (traffic follows the variant weights, \
                            `aws sagemaker update-endpoint-weights-and-capacities`), or the same type later — capacity returns per \
                            zone; an endpoint in a VPC can only use the zones of its subnets."
                    ))
                }
                Cause::Zones { hosts_per_zone, idle_zone: None } if hosts_per_zone.len() == 1 => Some(format!(
                    "Every instance is in {}: one zone's capacity or outage is the whole endpoint's. With a VpcConfig, give the \
                        endpoint subnets in more zones (SageMaker spreads instances over them).",
                    hosts_per_zone[0].0
                )),
                Cause::KvCacheFull { row, .. } => Some(format!(
                    "The KV cache of {} is full: add copies of the component (its scaling policy, or MinCopies) so requests spread, or give each sequence less room (a shorter max model length, fewer concurrent sequences).",
                    row.component.as_deref().unwrap_or("the component")
                )),
                _ => None,
            })
            .collect()
    }
}

/// Ranks every cause the enrichment found. `own_metric`: the alarm's own metric's name.
pub fn rank(e: &Enrichment, own_metric: Option<&str>) -> Explanation {
    let mut causes: Vec<Ranked> = vec![];
    // A macro, not a closure: a closure would hold `causes` borrowed while later causes look at it.
    macro_rules! push {
        ($score:expr, $cause:expr $(,)?) => {
            causes.push(Ranked { score: $score, cause: $cause })
        };
    }

    let llm = e.llm.as_ref();
    let placement = llm.and_then(|l| l.placement.as_ref());
    // Capacity: what kept the fleet from growing.
    let instance_types: Vec<&str> = e.endpoint.iter().flat_map(|i| i.variants.iter().filter_map(|v| v.instance_type.as_deref())).collect();
    if let Some(p) = placement {
        let relevant: Vec<_> = p
            .ice
            .iter()
            .filter(|i| i.count > 0.0)
            .filter(|i| instance_types.is_empty() || i.instance_type.as_deref().is_none_or(|t| instance_types.contains(&t)))
            .collect();
        if !relevant.is_empty() {
            let instance_type =
                relevant.iter().find_map(|i| i.instance_type.clone()).or_else(|| instance_types.first().map(|t| t.to_string()));
            let mut zones: Vec<String> = relevant.iter().map(|i| i.zone.clone()).collect();
            zones.sort();
            zones.dedup();
            push!(
                95,
                Cause::CapacityErrors {
                    instance_type,
                    count: relevant.iter().map(|i| i.count).sum(),
                    zones,
                    since: relevant.iter().filter_map(|i| i.since).min(),
                },
            );
        }
    }
    if let Some(lead) = e.capacity.as_ref().and_then(|c: &Capacity| c.lead.clone()) {
        let score = match &lead {
            // With the errors counted, the failed activity is their consequence: it supports.
            Lead::ScaleOutFailed(_) if causes.iter().any(|c| matches!(c.cause, Cause::CapacityErrors { .. })) => 45,
            Lead::ScaleOutFailed(_) => 90,
            Lead::AtMaximum(_) => 70,
            Lead::Suspended(_) => 65,
        };
        push!(score, Cause::Capacity { lead });
    }

    // The engine: KV cache, queueing, GPU memory.
    let rows: &[LlmRow] = llm.map(|l| l.rows.as_slice()).unwrap_or_default();
    let preallocates = llm.is_some_and(|l| l.engine.is_some());
    if let Some(row) = rows
        .iter()
        .filter(|r| r.kv_peak.is_some_and(|k| k >= KV_FULL))
        .find(|r| r.waiting.unwrap_or(0.0) >= 1.0 || r.preemptions.unwrap_or(0.0) > 0.0)
    {
        let others: Vec<f64> = rows.iter().filter(|r| !same(r, row)).filter_map(|r| r.ttft_p99).filter(|v| v.is_finite()).collect();
        push!(88, Cause::KvCacheFull { row: row.clone(), others_ttft_p99: median(others) });
    } else if let Some(row) = rows
        .iter()
        .filter(|r| r.waiting.unwrap_or(0.0) >= QUEUEING)
        .max_by(|a, b| a.waiting.unwrap_or(0.0).total_cmp(&b.waiting.unwrap_or(0.0)))
    {
        push!(80, Cause::EngineQueueing { row: row.clone() });
    }
    let oom_lines: usize =
        e.logs.iter().flat_map(|l| &l.streams).flat_map(|s| &s.lines).filter(|l| l.signature == "oom").map(|l| l.count as usize).sum();
    let full_memory = rows.iter().find(|r| !preallocates && r.gpu_mem_share().is_some_and(|s| s >= 0.97));
    let preempting = rows.iter().find(|r| r.preemptions.unwrap_or(0.0) > 0.0 && r.kv_peak.is_none_or(|k| k < KV_FULL));
    if oom_lines > 0 || full_memory.is_some() || preempting.is_some() {
        push!(78, Cause::GpuMemory { row: full_memory.or(preempting).cloned(), oom_lines, engine_preallocates: preallocates });
    }

    // The fleet and serverless analyses.
    if let Some(o) = e.fleet.as_ref().and_then(|f| f.outlier.as_ref()) {
        let on_own = own_metric.is_some_and(|m| m == o.metric || o.metric.starts_with(m) || m.starts_with(&o.metric));
        push!(if on_own { 85 } else { 60 }, Cause::FleetOutlier { on_own_metric: on_own });
    }
    if let Some(d) = &e.serverless {
        if !matches!(d.finding, Finding::NoPressure | Finding::NoData) {
            push!(85, Cause::Serverless);
        }
    }

    // Traffic across instances and zones.
    if let Some(c) = imbalance(rows) {
        push!(52, c);
    }
    if let Some(p) = placement {
        let hosts: Vec<(String, u32)> = p.hosts_per_zone.iter().map(|(z, n)| (z.clone(), *n)).collect();
        let total: u32 = hosts.iter().map(|(_, n)| n).sum();
        let idle_zone = idle_zone(rows);
        if (hosts.len() == 1 && total >= 2) || idle_zone.is_some() {
            push!(30, Cause::Zones { hosts_per_zone: hosts, idle_zone });
        }
        if let Some(cold) = p.cold_starts.iter().find(|c| c.total_s() >= 60.0) {
            push!(35, Cause::ColdStart { cold: cold.clone() });
        }
    }

    causes.sort_by_key(|c| std::cmp::Reverse(c.score));
    let mut it = causes.into_iter();
    let lead = it.next();
    let (lead, mut supporting): (Option<Ranked>, Vec<Ranked>) = match lead {
        Some(l) if l.score >= LEADS => (Some(l), it.collect()),
        Some(l) => (None, std::iter::once(l).chain(it).collect()),
        None => (None, vec![]),
    };
    supporting.truncate(MAX_SUPPORTING);
    Explanation { lead, supporting }
}

fn same(a: &LlmRow, b: &LlmRow) -> bool {
    a.component == b.component && a.host == b.host
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// One instance runs at least twice the median of running requests across three or more
/// instances (summed over its components).
fn imbalance(rows: &[LlmRow]) -> Option<Cause> {
    let mut per_host: std::collections::BTreeMap<&str, f64> = Default::default();
    for r in rows {
        if let (Some(h), Some(n)) = (r.host.as_deref(), r.running) {
            *per_host.entry(h).or_default() += n;
        }
    }
    if per_host.len() < 3 {
        return None;
    }
    let (busiest, running) = per_host.iter().max_by(|a, b| a.1.total_cmp(b.1)).map(|(h, n)| (h.to_string(), *n))?;
    let m = median(per_host.values().copied().collect())?;
    (m > 0.0 && running >= 2.0 * m).then_some(Cause::Imbalance { busiest, running, median: m })
}

/// A zone whose instances run nothing while another's do.
fn idle_zone(rows: &[LlmRow]) -> Option<String> {
    let mut per_zone: std::collections::BTreeMap<&str, f64> = Default::default();
    for r in rows {
        if let Some(z) = r.zone.as_deref() {
            *per_zone.entry(z).or_default() += r.running.or(r.tokens_per_s).unwrap_or(0.0);
        }
    }
    if per_zone.len() < 2 || per_zone.values().all(|v| *v <= 0.0) {
        return None;
    }
    per_zone.iter().find(|(_, v)| **v <= 0.0).map(|(z, _)| z.to_string())
}

/// The trend the chart should draw for an LLM endpoint: KV cache when the KV cache (or GPU memory)
/// explains the alarm, TTFT p99 when queueing does.
pub fn chart_signal(x: &Explanation, llm: &Llm) -> Option<ChartSignal> {
    match x.lead.as_ref().map(|r| &r.cause) {
        Some(Cause::KvCacheFull { .. } | Cause::GpuMemory { .. }) if !llm.kv_trends.is_empty() => Some(ChartSignal::KvCache),
        Some(Cause::EngineQueueing { .. } | Cause::CapacityErrors { .. }) if !llm.ttft_trends.is_empty() => Some(ChartSignal::TtftP99),
        Some(Cause::KvCacheFull { .. } | Cause::EngineQueueing { .. }) if !llm.ttft_trends.is_empty() => Some(ChartSignal::TtftP99),
        Some(Cause::CapacityErrors { .. }) if !llm.kv_trends.is_empty() => Some(ChartSignal::KvCache),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartSignal {
    KvCache,
    TtftP99,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::llm::Placement;

    fn row(c: &str, h: &str, kv: f64, waiting: f64, ttft: f64) -> LlmRow {
        LlmRow {
            component: Some(c.into()),
            host: Some(h.into()),
            kv_peak: Some(kv),
            waiting: Some(waiting),
            ttft_p99: Some(ttft),
            running: Some(8.0),
            ..LlmRow::default()
        }
    }

    fn with_llm(rows: Vec<LlmRow>, placement: Option<Placement>) -> Enrichment {
        Enrichment { llm: Some(Llm { engine: Some("vLLM".into()), rows, placement, ..Llm::default() }), ..Enrichment::default() }
    }

    #[test]
    fn a_full_kv_cache_with_requests_waiting_leads_and_names_its_component() {
        let e = with_llm(
            vec![row("ic-a", "i-2", 0.99, 38.0, 8.1), row("ic-a", "i-1", 0.4, 0.0, 0.3), row("ic-b", "i-1", 0.35, 0.0, 0.25)],
            None,
        );
        let x = rank(&e, Some("TimeToFirstToken"));
        let Some(Ranked { cause: Cause::KvCacheFull { row, others_ttft_p99 }, .. }) = &x.lead else { panic!("{x:?}") };
        assert_eq!((row.component.as_deref(), row.host.as_deref()), (Some("ic-a"), Some("i-2")));
        assert_eq!(*others_ttft_p99, Some(0.3));
        assert!(x.supporting.is_empty(), "{x:?}");
    }

    #[test]
    fn preallocated_gpu_memory_alone_is_not_pressure_but_preemptions_are() {
        let mut r = row("ic-a", "i-1", 0.6, 0.0, 0.3);
        r.gpu_mem_used_mib = Some(41_460.0);
        r.gpu_mem_total_mib = Some(46_068.0);
        assert_eq!(rank(&with_llm(vec![r.clone()], None), None), Explanation::default(), "vLLM preallocates 90 %");
        r.preemptions = Some(12.0);
        let x = rank(&with_llm(vec![r], None), None);
        assert!(matches!(x.lead.map(|l| l.cause), Some(Cause::GpuMemory { engine_preallocates: true, .. })));
    }

    #[test]
    fn queueing_with_room_in_the_kv_cache_is_the_batch() {
        let x = rank(&with_llm(vec![row("ic-a", "i-1", 0.62, 24.0, 4.0), row("ic-a", "i-2", 0.6, 2.0, 0.5)], None), None);
        let Some(Ranked { cause: Cause::EngineQueueing { row }, score }) = x.lead else { panic!("{x:?}") };
        assert_eq!((row.host.as_deref(), score), (Some("i-1"), 80));
    }

    #[test]
    fn capacity_errors_lead_and_one_zone_supports() {
        let mut hosts = std::collections::BTreeMap::new();
        hosts.insert("us-east-1a".to_string(), 2);
        let placement = Placement {
            hosts_per_zone: hosts,
            ice: vec![
                crate::enrich::llm::CapacityErrors {
                    zone: "us-east-1b".into(),
                    instance_type: Some("ml.p5.48xlarge".into()),
                    count: 3.0,
                    since: None,
                },
                crate::enrich::llm::CapacityErrors {
                    zone: "us-east-1a".into(),
                    instance_type: Some("ml.p5.48xlarge".into()),
                    count: 4.0,
                    since: None,
                },
            ],
            ..Placement::default()
        };
        let x = rank(&with_llm(vec![row("ic", "i-1", 0.9, 12.0, 3.0), row("ic", "i-2", 0.9, 14.0, 3.2)], Some(placement)), None);
        let Some(Ranked { cause: Cause::CapacityErrors { count, zones, instance_type, .. }, .. }) = &x.lead else { panic!("{x:?}") };
        assert_eq!(
            (*count, zones.as_slice(), instance_type.as_deref()),
            (7.0, &["us-east-1a".to_string(), "us-east-1b".to_string()][..], Some("ml.p5.48xlarge"))
        );
        assert!(x.mentions(|c| matches!(c, Cause::EngineQueueing { .. })), "{x:?}");
        assert!(x.mentions(|c| matches!(c, Cause::Zones { .. })), "{x:?}");
    }

    #[test]
    fn facts_that_only_support_never_lead() {
        let mut hosts = std::collections::BTreeMap::new();
        hosts.insert("us-east-1a".to_string(), 3);
        let x = rank(&with_llm(vec![], Some(Placement { hosts_per_zone: hosts, ..Placement::default() })), None);
        assert!(x.lead.is_none());
        assert!(matches!(x.supporting[0].cause, Cause::Zones { .. }));
    }
}
