//! Enrichment as plain text, shared by the Slack and PagerDuty renderers: the endpoint line, the
//! outlier sentence, the per-instance table, the capacity lines and recent changes, the log lines.
//! Not escaped: each renderer escapes for its destination.

use crate::enrich::capacity::{relative, Capacity, Change, ResourceKind, Rule, Scaled, CHANGE_LOOKBACK, SHOWN_ACTIVITIES};
use crate::enrich::endpoint::{EndpointInfo, VariantInfo};
use crate::enrich::fleet::{Fleet, Level, Outlier, Verdict};
use crate::enrich::logs::{LogLine, StreamExcerpt};
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
    head.push(match e.enhanced_metrics {
        Some(m) if m.inferred => "enhanced metrics on (per-instance metrics are published)".into(),
        Some(m) if m.enabled => format!(
            "enhanced metrics on{}",
            m.frequency_s.map(|f| format!(", every {}", units::period(f.max(0) as u32))).unwrap_or_default()
        ),
        Some(_) => "enhanced metrics OFF".into(),
        None => "enhanced metrics not configured".into(),
    });
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
            "{who} stands out: it carries {:.0}% of the fleet's {} ({} {}), the median of the other {} is {}.",
            share * 100.0,
            o.metric,
            fmt(&o.metric, o.value),
            o.stat,
            members(o.level, o.others),
            fmt(&o.metric, o.others_median)
        ),
        None => format!(
            "{who} stands out: {} {} ({}) vs a median of {} on the other {}.",
            o.metric,
            fmt(&o.metric, o.value),
            o.stat,
            fmt(&o.metric, o.others_median),
            members(o.level, o.others)
        ),
    }
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
            (short(c), vals)
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
