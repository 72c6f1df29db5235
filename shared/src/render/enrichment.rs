//! Enrichment as plain text, shared by the Slack and PagerDuty renderers: the endpoint line, the
//! outlier sentence, the per-instance table, the serverless diagnosis, the capacity lines and
//! recent changes, the log lines. Not escaped: each renderer escapes for its destination.

use crate::enrich::capacity::{relative, Capacity, Change, ResourceKind, Rule, Scaled, CHANGE_LOOKBACK, SHOWN_ACTIVITIES};
use crate::enrich::diagnosis::Cause;
use crate::enrich::endpoint::{EndpointInfo, VariantInfo};
use crate::enrich::fleet::{Fleet, Level, Outlier, Over, Verdict};
use crate::enrich::llm::{ColdStart, Llm, Placement};
use crate::enrich::logs::{LogLine, StreamExcerpt};
use crate::enrich::serverless::{Diagnosis, Finding};
use crate::enrich::Enrichment;
use crate::model::text::truncate;
use crate::model::units::{self, sig, Unit};

/// `InService · config deepgram-prod-cfg · modified 2026-11-20 13:02 UTC`, then one line per variant.
pub fn endpoint_lines(e: &EndpointInfo) -> Vec<String> {
    let mut head = vec![e.status.to_string()];
    if let Some(c) = &e.config_name {
        head.push(format!("config {c}"));
    }
    if let Some(t) = e.last_modified {
        head.push(format!("modified {}", t.format("%Y-%m-%d %H:%M UTC")));
    }
    // Enhanced metrics are per instance: a serverless endpoint has none to turn on.
    head.extend((!e.is_serverless()).then(|| match e.enhanced_metrics {
        Some(m) if m.inferred => "enhanced metrics on (per-instance metrics are published)".into(),
        Some(m) if m.enabled => format!(
            "enhanced metrics on{}",
            m.frequency_s.map(|f| format!(", every {}", units::period(f.max(0) as u32))).unwrap_or_default()
        ),
        Some(_) => "enhanced metrics OFF".into(),
        None => "enhanced metrics not configured".into(),
    }));
    let mut lines = vec![head.join(" · ")];
    lines.extend(e.variants.iter().map(variant_line));
    lines.extend(e.components.iter().map(|c| {
        let copies = match (c.current_copies, c.desired_copies) {
            (Some(cur), Some(want)) => format!("{cur} of {want} copies"),
            (Some(cur), None) => format!("{cur} copies"),
            _ => "copies unknown".into(),
        };
        format!("component {}: {copies}{}", c.name, c.status.as_deref().map(|s| format!(" ({s})")).unwrap_or_default())
    }));
    lines
}

fn variant_line(v: &VariantInfo) -> String {
    if let Some(s) = v.serverless {
        return format!(
            "{}: serverless, {} MB, max concurrency {}{}",
            v.name,
            s.memory_mb.map(|m| m.to_string()).unwrap_or_else(|| "?".into()),
            s.max_concurrency.map(|m| m.to_string()).unwrap_or_else(|| "?".into()),
            s.provisioned_concurrency.map(|p| format!(", provisioned {p}")).unwrap_or_default()
        );
    }
    let count = match (v.current_instances, v.desired_instances) {
        (Some(c), Some(d)) if c != d => format!("{c} (desired {d})"),
        (Some(c), _) => c.to_string(),
        (None, Some(d)) => format!("? (desired {d})"),
        (None, None) => "?".into(),
    };
    let mut s = format!("{}: {count} × {}", v.name, v.instance_type.as_deref().unwrap_or("unknown type"));
    if let Some((min, max)) = v.managed_scaling {
        s.push_str(&format!(", managed scaling {min}–{max}"));
    }
    s
}

fn members(level: Level, n: usize) -> String {
    let noun = match level {
        Level::Instance => "instance",
        Level::Gpu => "GPU",
        Level::Container => "container",
    };
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// Whole percents read faster in a table and a sentence (`99%` vs `34%`); other units as usual.
fn fmt(metric: &str, v: f64) -> String {
    match Unit::of(metric, None) {
        Unit::Percent if v.is_finite() && v.abs() >= 1.0 => format!("{v:.0}%"),
        u => u.format(v),
    }
}

/// The headline: who stands out and by how much, or that nothing does.
pub fn headline(f: &Fleet) -> Option<String> {
    if let Some(o) = &f.outlier {
        return Some(outlier_sentence(o));
    }
    Some(match f.verdict.as_ref()? {
        Verdict::Even { metric, min, max, members: n, level } => {
            format!(
                "Load is even across {}: {metric} {}–{} over the alarm window. No single instance stands out.",
                members(*level, *n),
                fmt(metric, *min),
                fmt(metric, *max)
            )
        }
        Verdict::Uneven { metric, min, max, members: n, level } => {
            format!("No single outlier: {metric} ranges {}–{} across {}.", fmt(metric, *min), fmt(metric, *max), members(*level, *n))
        }
        Verdict::Single { name } => format!("Only {name} reports per-instance metrics: nothing to compare it with."),
    })
}

pub fn outlier_sentence(o: &Outlier) -> String {
    let who = o.member.label();
    match o.share {
        Some(share) => format!(
            "{who} stands out: it carries {:.0}% of the fleet's {} ({}, {}), the median of the other {} is {}.",
            share * 100.0,
            o.metric,
            fmt(&o.metric, o.value),
            o.figure,
            members(o.level, o.others),
            fmt(&o.metric, o.others_median)
        ),
        None => format!(
            "{who} stands out: {} {} ({}) vs a median of {} on the other {}.",
            o.metric,
            fmt(&o.metric, o.value),
            o.figure,
            fmt(&o.metric, o.others_median),
            members(o.level, o.others)
        ),
    }
}

/// A PromQL alarm's own query over the window: this contributor against the others.
pub fn own_query_lines(q: &crate::enrich::promql_alarm::OwnQuery) -> Vec<String> {
    let v = |x: Option<f64>| x.map(sig).unwrap_or_else(|| "–".into());
    let mut out = vec![];
    match &q.contributor {
        Some(c) => out.push(format!("This series, {}: peak {}, now {}", c.name(), v(c.peak), v(c.last))),
        None => out.push("This notification's series is not among what the query returns now".into()),
    }
    let others = q.series - usize::from(q.contributor.is_some());
    if others == 0 {
        out.push("No other series: it is alone".into());
    } else {
        let top: Vec<String> = q.others.iter().take(3).map(|o| format!("{} {}", o.name(), v(o.peak))).collect();
        out.push(format!("{others} other series: median peak {}; highest {}", v(q.others_median_peak), top.join(", ")));
    }
    out
}

/// The lead cause's sentence: what notifications and summaries append to the title.
pub fn lead_sentence(e: &Enrichment) -> Option<String> {
    e.explanation.lead.as_ref().and_then(|l| cause_sentence(&l.cause, e))
}

/// The icon a cause is shown with.
pub fn cause_icon(c: &Cause) -> &'static str {
    match c {
        Cause::CapacityErrors { .. } | Cause::Capacity { .. } => "🚧",
        Cause::KvCacheFull { .. } => "🧠",
        Cause::EngineQueueing { .. } => "⏳",
        Cause::GpuMemory { .. } => "💥",
        Cause::FleetOutlier { .. } => "🔥",
        Cause::Serverless => "⚡",
        Cause::Imbalance { .. } => "⚖️",
        Cause::Zones { .. } => "🗺️",
        Cause::ColdStart { .. } => "🐢",
    }
}

/// One cause in one sentence, with the numbers that prove it; `None` when what it refers to is
/// not in `e` (a fleet outlier without a fleet).
pub fn cause_sentence(c: &Cause, e: &Enrichment) -> Option<String> {
    Some(match c {
        Cause::CapacityErrors { instance_type, count, zones, since } => {
            let what =
                instance_type.as_deref().map(|t| format!("no {t} capacity")).unwrap_or_else(|| "no capacity for the instance type".into());
            let since = since.map(|t| format!(" since {}", t.format("%H:%M"))).unwrap_or_default();
            format!(
                "Scale-out blocked: {what} — {} insufficient-capacity error{} in {}{since}",
                sig(*count),
                if *count == 1.0 { "" } else { "s" },
                zone_list(zones)
            )
        }
        Cause::Capacity { lead } => lead.text().to_string(),
        Cause::KvCacheFull { row, others_ttft_p99 } => {
            let mut s = format!("KV cache full on {}: {} used", row.name(), percent(row.kv_peak?));
            if let Some(w) = row.waiting.filter(|w| *w >= 1.0) {
                s.push_str(&format!(", {} request{} waiting", sig(w.round()), if w.round() == 1.0 { "" } else { "s" }));
            }
            if let Some(p) = row.preemptions.filter(|p| *p > 0.0) {
                s.push_str(&format!(", {} preempted", sig(p.round())));
            }
            if let Some(t) = row.ttft_p99 {
                s.push_str(&format!(" — TTFT p99 {}", seconds(t)));
                if let Some(o) = others_ttft_p99 {
                    s.push_str(&format!(" (others {})", seconds(*o)));
                }
            }
            s
        }
        Cause::EngineQueueing { row } => {
            let mut s = format!("Requests queue in the engine on {}: {} waiting", row.name(), sig(row.waiting?.round()));
            if let Some(r) = row.running {
                s.push_str(&format!(" behind {} running", sig(r.round())));
            }
            if let Some(k) = row.kv_peak {
                s.push_str(&format!(" with the KV cache at {}", percent(k)));
            }
            s.push_str(": the batch is full");
            if let (Some(t), Some(i)) = (row.ttft_p99, row.itl_p99) {
                s.push_str(&format!(" — TTFT p99 {} while inter-token latency p99 stays {}", seconds(t), seconds(i)));
            }
            s
        }
        Cause::GpuMemory { row, oom_lines, engine_preallocates } => {
            let mut parts = vec![];
            if *oom_lines > 0 {
                parts.push(format!("{oom_lines} out-of-memory line{} in the logs", if *oom_lines == 1 { "" } else { "s" }));
            }
            if let Some(r) = row {
                if let Some(p) = r.preemptions.filter(|p| *p > 0.0) {
                    parts.push(format!("{} requests preempted on {}", sig(p.round()), r.name()));
                }
                if let (false, Some(share)) = (*engine_preallocates, r.gpu_mem_share()) {
                    parts.push(format!("GPU memory {} used on {}", percent(share), r.name()));
                }
            }
            format!("GPU memory is the limit: {}", parts.join(", "))
        }
        Cause::FleetOutlier { .. } => outlier_sentence(e.fleet.as_ref()?.outlier.as_ref()?),
        Cause::Serverless => serverless_headline(e.serverless.as_ref()?),
        Cause::Imbalance { busiest, running, median } => {
            format!(
                "Traffic is uneven: {busiest} runs {} requests against a median of {} per instance",
                sig(running.round()),
                sig(median.round())
            )
        }
        Cause::Zones { hosts_per_zone, idle_zone } => match idle_zone {
            Some(z) => format!("{z} serves no traffic: {}", zones_line(hosts_per_zone)),
            None => {
                let (zone, n) = hosts_per_zone.first()?;
                format!("Every instance sits in one Availability Zone: {n} in {zone}")
            }
        },
        Cause::ColdStart { cold } => cold_start_sentence(cold),
    })
}

/// `us-east-1a, b, c and d`: zones of one region share their prefix.
pub fn zone_list(zones: &[String]) -> String {
    let Some(first) = zones.first() else { return "no zone".into() };
    let prefix_len = first.len().saturating_sub(1);
    let same_region = zones.iter().all(|z| z.len() == first.len() && z[..prefix_len] == first[..prefix_len]);
    let names: Vec<String> =
        zones.iter().enumerate().map(|(i, z)| if i == 0 || !same_region { z.clone() } else { z[prefix_len..].to_string() }).collect();
    match names.as_slice() {
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        [] => unreachable!("zones is not empty"),
    }
}

fn zones_line(hosts: &[(String, u32)]) -> String {
    hosts.iter().map(|(z, n)| format!("{n} instance{} in {z}", if *n == 1 { "" } else { "s" })).collect::<Vec<_>>().join(", ")
}

/// `copy of ic-a on i-2 took 272 s to serve, 95 min before the alarm: model download 212 s (78%), GPU load 42 s, container start 18 s`.
pub fn cold_start_sentence(c: &ColdStart) -> String {
    let who = match (&c.component, &c.host) {
        (Some(ic), Some(h)) => format!("A new copy of {ic} on {h}"),
        (Some(ic), None) => format!("A new copy of {ic}"),
        (None, Some(h)) => format!("Instance {h}"),
        (None, None) => "A new copy".into(),
    };
    let total = c.total_s();
    let phases: Vec<String> = c
        .phases()
        .iter()
        .enumerate()
        .map(|(i, (name, s))| {
            if i == 0 && total > 0.0 {
                format!("{name} {} ({:.0}%)", seconds(*s), s / total * 100.0)
            } else {
                format!("{name} {}", seconds(*s))
            }
        })
        .collect();
    format!("{who} took {} to serve: {}", seconds(total), phases.join(", "))
}

/// `0.99` → `99%`.
pub fn percent(fraction: f64) -> String {
    format!("{:.0}%", fraction * 100.0)
}

/// Seconds as people read them: `8.1 s`, `250 ms`, `4 min 32 s`.
pub fn seconds(s: f64) -> String {
    Unit::Seconds.format(s)
}

/// The LLM rows as a fixed-width table, worst first: component, instance, KV cache (peak and
/// trend), running, waiting, TTFT p50/p99, ITL p99, tokens/s, GPU memory.
pub fn llm_table(l: &Llm, max_rows: usize) -> String {
    let head = ["component · instance", "KV cache", "trend", "run", "wait", "TTFT p50/p99", "ITL p99", "tok/s", "GPU mem"];
    let dash = || "–".to_string();
    let mut rows: Vec<Vec<String>> = vec![head.iter().map(|h| h.to_string()).collect()];
    for r in l.rows.iter().take(max_rows) {
        let name = match (&r.component, &r.host) {
            (Some(c), Some(h)) => format!("{}{c} · {h}", if r.own { "▶ " } else { "" }),
            _ => format!("{}{}", if r.own { "▶ " } else { "" }, r.name()),
        };
        rows.push(vec![
            name,
            r.kv_peak.map(percent).unwrap_or_else(dash),
            spark(&r.kv_trend, 12),
            r.running.map(|v| sig(v.round())).unwrap_or_else(dash),
            r.waiting.map(|v| sig(v.round())).unwrap_or_else(dash),
            match (r.ttft_p50, r.ttft_p99) {
                (Some(a), Some(b)) => format!("{}/{}", seconds(a), seconds(b)),
                (None, Some(b)) => format!("–/{}", seconds(b)),
                _ => dash(),
            },
            r.itl_p99.map(seconds).unwrap_or_else(dash),
            r.tokens_per_s.map(|v| sig(v.round())).unwrap_or_else(dash),
            match (r.gpu_mem_used_mib, r.gpu_mem_total_mib) {
                (Some(u), Some(t)) if t > 0.0 => format!("{:.0}/{:.0} GiB", u / 1024.0, t / 1024.0),
                (Some(u), None) => format!("{:.0} GiB", u / 1024.0),
                _ => dash(),
            },
        ]);
    }
    columns(&rows)
}

/// `engine vLLM · 4 component-instance pairs · values over the alarm window · from CloudWatch PromQL`.
pub fn llm_caption(l: &Llm) -> String {
    let mut parts = vec![];
    if let Some(e) = &l.engine {
        parts.push(format!("engine {e}"));
    }
    parts.push(format!("{} pair{} of component and instance", l.pairs, if l.pairs == 1 { "" } else { "s" }));
    if l.rows.len() < l.pairs {
        parts.push(format!("worst {} shown", l.rows.len()));
    }
    parts.push(format!("values over the alarm window, from {}", l.source));
    let mut s = parts.join(" · ");
    if !l.missing.is_empty() {
        s.push_str(&format!(" · not published: {}", l.missing.join(", ")));
    }
    s
}

/// Placement as lines: instances per zone, capacity errors, provisioning phases.
pub fn placement_lines(p: &Placement) -> Vec<String> {
    let mut out = vec![];
    if !p.hosts_per_zone.is_empty() {
        let hosts: Vec<(String, u32)> = p.hosts_per_zone.iter().map(|(z, n)| (z.clone(), *n)).collect();
        let mut line = format!("Availability Zones: {}", zones_line(&hosts));
        let copies: Vec<String> =
            p.copies_per_zone.iter().flat_map(|(z, per)| per.iter().map(move |(c, n)| format!("{c} {n} in {z}"))).collect();
        if !copies.is_empty() {
            line.push_str(&format!(" · copies: {}", copies.join(", ")));
        }
        out.push(line);
    }
    if !p.ice.is_empty() {
        let per: Vec<String> = p.ice.iter().map(|i| format!("{} {}", i.zone, sig(i.count))).collect();
        let types: Vec<&str> =
            p.ice.iter().filter_map(|i| i.instance_type.as_deref()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        out.push(format!(
            "Insufficient-capacity errors{}: {}",
            if types.is_empty() { String::new() } else { format!(" for {}", types.join(", ")) },
            per.join(", ")
        ));
    }
    for c in p.cold_starts.iter().take(3) {
        let when = c.at.map(|t| format!(" (at {})", t.format("%H:%M"))).unwrap_or_default();
        out.push(format!("{}{when}", cold_start_sentence(c)));
    }
    out
}

/// Left-aligned columns, two spaces apart.
fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n).map(|i| rows.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).max().unwrap_or(0)).collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, c)| format!("{c}{}", " ".repeat(widths[i].saturating_sub(c.chars().count()))))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A sparkline of at most `width` characters over 0–1 values.
fn spark(values: &[f64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if v.is_empty() {
        return String::new();
    }
    let step = v.len().div_ceil(width).max(1);
    v.chunks(step)
        .map(|c| {
            let x = c.iter().cloned().fold(f64::MIN, f64::max).clamp(0.0, 1.0);
            BARS[((x * 7.0).round() as usize).min(7)]
        })
        .collect()
}

/// `3 reporting; 3 more listed with no data since 04:10 — scaled in or replaced`.
pub fn reporting(f: &Fleet) -> String {
    let mut out = format!("{} reporting", f.size);
    if let Some(g) = &f.gone {
        let since = g.last_seen.map(|t| format!("since {}", t.format("%H:%M"))).unwrap_or_else(|| "in the window".into());
        out.push_str(&format!("; {} more listed with no data {since} — scaled in or replaced", g.count));
    }
    out
}

/// For an alarm on a summed utilisation: what the number means.
/// `GPUUtilization is summed over 4 GPUs per instance (0–400%): i-0b… is at 212% of 400%; the
/// outlier is judged on GPUUtilizationNormalized (0–100%).`
pub fn summed_line(f: &Fleet) -> Option<String> {
    let s = f.summed.as_ref()?;
    let range = match (s.per_instance, s.range_max()) {
        (Some(n), Some(max)) => format!(" over {} per instance (0–{max:.0}%)", s.over.noun(n)),
        _ => format!(" over each instance's {}", if s.over == Over::Gpus { "GPUs" } else { "vCPUs" }),
    };
    let busiest = match (&s.busiest, s.range_max()) {
        (Some((who, v)), Some(max)) => format!(": {who} is at {v:.0}% of {max:.0}%"),
        (Some((who, v)), None) => format!(": {who} is at {v:.0}%"),
        _ => String::new(),
    };
    Some(format!("{} is summed{range}, not a percentage of 100{busiest}; the outlier is judged on {} (0–100%).", s.metric, s.normalized))
}

fn short(metric: &str) -> String {
    match metric {
        "GPUUtilizationNormalized" | "GPUUtilization" => "GPU".into(),
        "GPUMemoryUtilizationNormalized" | "GPUMemoryUtilization" => "GPU mem".into(),
        "CPUUtilizationNormalized" | "CPUUtilization" => "CPU".into(),
        "MemoryUtilization" => "Mem".into(),
        "ConcurrentRequestsPerModel" => "Concurrent".into(),
        "Invocations" => "Invocations".into(),
        "Invocation5XXErrors" => "5xx".into(),
        other => truncate(other, 14),
    }
}

/// A fixed-width table (for a code block), at most `max_rows` instances, outlier first.
pub fn fleet_table(f: &Fleet, max_rows: usize) -> String {
    let name_w = f.rows.iter().take(max_rows).map(|r| r.name.chars().count()).max().unwrap_or(8).clamp(8, 24) + 2;
    let cols: Vec<(String, Vec<String>)> = f
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let vals = f
                .rows
                .iter()
                .take(max_rows)
                .map(|r| match r.cells.get(i) {
                    Some(cell) => match (cell.value, &cell.gpu) {
                        (Some(v), Some(g)) => format!("{} g{g}", fmt(c, v)),
                        (Some(v), None) => fmt(c, v),
                        (None, _) => "–".into(),
                    },
                    None => "–".into(),
                })
                .collect();
            // A summed column is marked: its values run to 100 × GPUs (or vCPUs).
            let summed = f.summed.as_ref().is_some_and(|s| &s.metric == c);
            (if summed { format!("{} Σ", short(c)) } else { short(c) }, vals)
        })
        .collect();
    let widths: Vec<usize> =
        cols.iter().map(|(h, v)| v.iter().map(|s| s.chars().count()).chain([h.chars().count()]).max().unwrap_or(4) + 2).collect();
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let mut out = pad("instance", name_w);
    for ((h, _), w) in cols.iter().zip(&widths) {
        out.push_str(&pad(h, *w));
    }
    if let Some(t) = &f.trend_metric {
        out.push_str(&format!("trend ({})", short(t)));
    }
    for (ri, r) in f.rows.iter().take(max_rows).enumerate() {
        out.push('\n');
        let name = format!("{}{}", if r.outlier { "▶" } else { " " }, truncate(&r.name, 23));
        out.push_str(&pad(&name, name_w));
        for ((_, vals), w) in cols.iter().zip(&widths) {
            out.push_str(&pad(&vals[ri], *w));
        }
        out.push_str(&r.trend);
    }
    if f.rows.len() > max_rows {
        out.push_str(&format!("\n… and {} more", f.rows.len() - max_rows));
    }
    out
}

/// `14:05:02 ×12 [oom] torch.OutOfMemoryError: CUDA out of memory…`
pub fn log_line(l: &LogLine, max: usize) -> String {
    let count = if l.count > 1 { format!("×{} ", l.count) } else { String::new() };
    truncate(&format!("{} {count}[{}] {}", l.first.format("%H:%M:%S"), l.signature, l.text), max)
}

/// `AllTraffic/i-0b… (outlier) — 37 matching lines`
pub fn stream_title(s: &StreamExcerpt, outlier: Option<&str>) -> String {
    let tag = if s.instance.is_some() && s.instance.as_deref() == outlier { " (outlier)" } else { "" };
    format!("{}{tag}: {} matching line{}", s.stream, s.matched, if s.matched == 1 { "" } else { "s" })
}

fn us(v: f64) -> String {
    Unit::Microseconds.format(v)
}

fn ratio(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

/// The serverless headline, where the instance outlier goes: the lead finding, then the cold
/// starts and overhead that explain the latency, in human units.
pub fn serverless_headline(d: &Diagnosis) -> String {
    let p = d.provisioned.as_ref();
    let pc = d.provisioned_concurrency().map(|c| c.to_string()).unwrap_or_else(|| "?".into());
    let peak = d.needed_concurrency().map(|n| n.to_string()).unwrap_or_else(|| "?".into());
    let max = d.max_concurrency().map(|m| m.to_string()).unwrap_or_else(|| "?".into());
    let mut lead = match d.finding {
        Finding::MaxConcurrencyReached => format!(
            "Max concurrency {max} is nearly used up: concurrency peaked at {peak} ({}), requests beyond it are throttled",
            d.peak_utilization.map(ratio).unwrap_or_default()
        ),
        Finding::ProvisionedSaturated => match p.filter(|p| p.spillover > 0.0) {
            Some(p) => {
                format!("Provisioned concurrency {pc} is saturated: {} invocations/min spilled to on-demand", sig(p.spillover_peak_per_min))
            }
            None => format!("Provisioned concurrency {pc} is fully used, nothing spilled yet"),
        },
        Finding::ColdStarts => {
            let n = d.cold_starts.as_ref().map(|c| c.count).unwrap_or(0.0);
            format!("{} cold start{} in the {} min before the alarm", sig(n), if n == 1.0 { "" } else { "s" }, d.span_minutes)
        }
        Finding::MemoryHigh => format!(
            "Memory peaked at {}%{}",
            sig(d.memory_peak_pct.unwrap_or_default().round()),
            d.config.and_then(|c| c.memory_mb).map(|m| format!(" of {m} MB")).unwrap_or_default()
        ),
        Finding::Errors => format!("{} 5XX errors in the {} min before the alarm", sig(d.errors_5xx.unwrap_or_default()), d.span_minutes),
        Finding::NoPressure => format!("No serverless pressure: concurrency peaked at {peak} of max {max}, no spillover, no cold starts"),
        Finding::NoData => {
            return format!("No serverless metrics for variant {} in the window: no traffic, or not published yet.", d.variant)
        }
    };
    let mut more = vec![];
    if let Some(c) = &d.cold_starts {
        more.push(match (d.finding, c.avg_us) {
            (Finding::ColdStarts, Some(a)) => format!("~{} each", us(a)),
            (_, Some(a)) => format!("cold starts ~{}", us(a)),
            _ => String::new(),
        });
    }
    // Overhead under half a second is normal routing; above it, it is the story.
    if let Some(o) = d.latency.as_ref().and_then(|l| l.overhead_max_us).filter(|o| *o >= 500_000.0) {
        more.push(format!("overhead latency up to {}", us(o)));
    }
    if d.finding != Finding::MemoryHigh {
        if let Some(m) = d.memory_peak_pct.filter(|m| *m >= 90.0) {
            more.push(format!("memory at {}%", sig(m.round())));
        }
    }
    if d.finding != Finding::Errors {
        if let Some(e) = d.errors_5xx.filter(|e| *e > 0.0) {
            more.push(format!("{} 5XX errors", sig(e)));
        }
    }
    more.retain(|m| !m.is_empty());
    if !more.is_empty() {
        lead.push_str(", ");
        lead.push_str(&more.join(", "));
    }
    lead
}

/// The diagnosis as label/value lines (for a code block): concurrency, provisioned concurrency,
/// cold starts, latency, memory, traffic and errors — each only when its metrics had data.
pub fn serverless_lines(d: &Diagnosis) -> Vec<(&'static str, String)> {
    let mut out = vec![];
    let max = d.max_concurrency();
    match (d.needed_concurrency(), d.peak_utilization) {
        (Some(n), Some(u)) => out.push((
            "Concurrency",
            format!(
                "peak {n} of max {} ({}){}",
                max.map(|m| m.to_string()).unwrap_or_else(|| "?".into()),
                ratio(u),
                max.map(|m| format!(", {} left", (m - n as i32).max(0))).unwrap_or_default()
            ),
        )),
        (None, Some(u)) => out.push(("Concurrency", format!("peak {} of max concurrency", ratio(u)))),
        (Some(n), None) => out.push(("Concurrency", format!("peak ~{n} (estimated)"))),
        (None, None) => {}
    }
    if let Some(p) = &d.provisioned {
        let mut parts = vec![d.provisioned_concurrency().map(|c| c.to_string()).unwrap_or_else(|| "?".into())];
        if let Some(u) = p.peak_utilization {
            parts.push(format!("{} used at peak", ratio(u)));
        }
        if let Some(i) = p.invocations {
            parts.push(format!("{} invocations served", sig(i)));
        }
        parts.push(if p.spillover > 0.0 {
            format!("{} spilled to on-demand (peak {}/min)", sig(p.spillover), sig(p.spillover_peak_per_min))
        } else {
            "no spillover".into()
        });
        out.push(("Provisioned", parts.join(", ")));
    }
    match &d.cold_starts {
        Some(c) => out.push((
            "Cold starts",
            format!(
                "{}, ~{} each{}",
                sig(c.count),
                c.avg_us.map(us).unwrap_or_else(|| "?".into()),
                c.max_us.map(|m| format!(" (longest {})", us(m))).unwrap_or_default()
            ),
        )),
        None if d.metrics.iter().any(|m| m == "ModelSetupTime") || d.finding != Finding::NoData => out.push(("Cold starts", "none".into())),
        None => {}
    }
    if let Some(l) = &d.latency {
        let mut parts = vec![];
        if let (Some(o), Some(m)) = (l.overhead_avg_us, l.model_avg_us) {
            let share = l.overhead_share.map(|s| format!(" (overhead {})", ratio(s))).unwrap_or_default();
            parts.push(format!("avg overhead {} + model {}{share}", us(o), us(m)));
        }
        if let Some(o) = l.overhead_max_us {
            parts.push(format!("max overhead {}", us(o)));
        }
        if let Some(m) = l.model_max_us {
            parts.push(format!("max model {}", us(m)));
        }
        out.push(("Latency", parts.join(", ")));
    }
    if let Some(m) = d.memory_peak_pct {
        let of = d.config.and_then(|c| c.memory_mb).map(|mb| format!(" of {mb} MB")).unwrap_or_default();
        out.push(("Memory", format!("peak {}%{of}", sig(m.round()))));
    }
    if d.invocations.is_some() || d.errors_4xx.is_some() || d.errors_5xx.is_some() {
        let n = |v: Option<f64>| v.map(sig).unwrap_or_else(|| "–".into());
        out.push(("Traffic", format!("{} invocations, 4XX {}, 5XX {}", n(d.invocations), n(d.errors_4xx), n(d.errors_5xx))));
    }
    out
}

/// [`serverless_lines`] aligned for a code block.
pub fn serverless_table(d: &Diagnosis) -> String {
    serverless_lines(d).iter().map(|(k, v)| format!("{k:<12} {v}")).collect::<Vec<_>>().join("\n")
}

/// One line per resource, then its policies and newest activities, indented. A resource that is
/// not autoscaled is one line that says so.
pub fn capacity_lines(c: &Capacity, anchor: chrono::DateTime<chrono::Utc>) -> Vec<String> {
    let mut out = vec![];
    for s in &c.scaled {
        out.push(scaled_line(s));
        for p in &s.policies {
            out.push(format!("  {}", policy_line(&p.name, &p.rule)));
        }
        for a in s.activities.iter().take(SHOWN_ACTIVITIES) {
            let why = a.failure.as_deref().map(|f| format!(": {f}")).unwrap_or_default();
            out.push(format!(
                "  {} ({}): {} {}{why}",
                a.start.format("%H:%M UTC"),
                relative((a.start - anchor).num_seconds()),
                a.counts(),
                a.status
            ));
        }
    }
    out
}

fn scaled_line(s: &Scaled) -> String {
    let who = match s.kind {
        ResourceKind::Variant => format!("Variant {}", s.name),
        ResourceKind::Component => format!("Inference component {}", s.name),
    };
    let Some((min, max)) = s.range else {
        if let Some((min, max)) = s.managed {
            return format!("{who}: not registered with Application Auto Scaling; SageMaker managed instance scaling keeps it within {min}–{max} instances.");
        }
        let fixed = s.current.or(s.desired).map(|n| format!(": it stays at {n} {} until someone changes it", s.unit)).unwrap_or_default();
        return format!("{who} is not autoscaled (not registered with Application Auto Scaling){fixed}.");
    };
    let count = match (s.current, s.desired) {
        (Some(c), Some(d)) if c != d => format!("{c} {} (desired {d})", s.unit),
        (Some(n), _) | (None, Some(n)) => format!("{n} {}", s.unit),
        (None, None) => format!("? {}", s.unit),
    };
    let mut line = format!("{who}: {count}, autoscaling {min}–{max}");
    if s.at_max {
        line.push_str(" — AT MAXIMUM");
    }
    if !s.suspended.is_empty() {
        line.push_str(&format!(" · suspended: {}", s.suspended.join(", ")));
    }
    if s.policies.is_empty() {
        line.push_str(" · no scaling policy");
    }
    line
}

fn cooldown(s: Option<i32>) -> String {
    s.map(|s| units::period(s.max(0) as u32)).unwrap_or_else(|| "default".into())
}

fn policy_line(name: &str, rule: &Rule) -> String {
    match rule {
        Rule::TargetTracking { metric, target, current, scale_out_cooldown_s, scale_in_cooldown_s, scale_in_disabled } => {
            let now = current.map(|v| format!(", now {}", sig(if v.abs() >= 10.0 { v.round() } else { v }))).unwrap_or_default();
            format!(
                "target tracking {name}: {} target {}{now} · cooldown out {}, in {}{}",
                metric.label(),
                sig(*target),
                cooldown(*scale_out_cooldown_s),
                cooldown(*scale_in_cooldown_s),
                if *scale_in_disabled { " · scale-in disabled" } else { "" }
            )
        }
        Rule::StepScaling { alarms, cooldown_s } => {
            let alarms = if alarms.is_empty() { "no alarm attached".to_string() } else { format!("alarm {}", alarms.join(", ")) };
            format!("step scaling {name}: {alarms} · cooldown {}", cooldown(*cooldown_s))
        }
        Rule::Other { policy_type } => format!("{policy_type} {name}"),
    }
}

/// `Recent changes: 18 min before the alarm: AllTraffic scaled 3 → 4 · …`; `None` when nothing is
/// known (no endpoint and no capacity); "none" said when they are known and nothing changed.
pub fn changes_line(changes: &[Change], known: bool) -> Option<String> {
    if changes.is_empty() {
        let hours = CHANGE_LOOKBACK.num_hours();
        return known.then(|| format!("Recent changes: none in the {hours} h before the alarm (endpoint updates, scaling, sagealarm)."));
    }
    let items: Vec<String> = changes.iter().map(|c| format!("{}: {}", relative(c.offset_s), c.what)).collect();
    Some(format!("Recent changes: {}", items.join(" · ")))
}

/// For a multi-time-series alarm: who else is in ALARM now. `GPU 3 on i-0123… and 2 more in
/// ALARM now: GPU 1 on i-0123…, GPU 0 on i-0456…`; `None` when CloudWatch was not asked.
pub fn contributors_line(c: &crate::enrich::alarms::Contributors, this: Option<&crate::model::Contributor>) -> Option<String> {
    const SHOWN: usize = 6;
    let others: Vec<String> = c.others(this.map(|t| t.id.as_str())).map(|o| crate::report::contributor_label(&o.contributor)).collect();
    let extra = others.len() + c.more;
    let listed = |v: &[String]| {
        let mut s = v.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
        if extra > SHOWN {
            s.push_str(&format!(" and {} more", extra - SHOWN));
        }
        s
    };
    Some(match this {
        Some(t) if extra == 0 => format!("{} is the only time series of this alarm in ALARM now.", crate::report::contributor_label(t)),
        Some(t) => format!("{} and {extra} more in ALARM now: {}", crate::report::contributor_label(t), listed(&others)),
        None if extra == 0 => "No time series of this alarm is in ALARM now.".to_string(),
        None => format!("{extra} time series in ALARM now: {}", listed(&others)),
    })
}
