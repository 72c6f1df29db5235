//! Enrichment as plain text, shared by the Slack and PagerDuty renderers: the endpoint line, the
//! outlier sentence, the per-instance table, the serverless diagnosis, the capacity lines and
//! recent changes, the log lines. Not escaped: each renderer escapes for its destination.

use crate::enrich::capacity::{relative, Capacity, Change, ResourceKind, Rule, Scaled, CHANGE_LOOKBACK, SHOWN_ACTIVITIES};
use crate::enrich::endpoint::{EndpointInfo, VariantInfo};
use crate::enrich::fleet::{Fleet, Level, Outlier, Over, Verdict};
use crate::enrich::logs::{LogLine, StreamExcerpt};
use crate::enrich::serverless::{Diagnosis, Finding};
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
