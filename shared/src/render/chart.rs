//! The chart: a PNG of the metric that best explains the alarm, one line per instance or GPU,
//! drawn in-process from the points enrichment already fetched ([`Lines`]): no
//! GetMetricWidgetImage, so no extra AWS call, no cost, and it works on the emulators.
//!
//! `plotters` draws into an RGB buffer; text comes from a subset of DejaVu Sans embedded in the
//! binary (Lambda's `provided.al2023` has no fonts, and `ab_glyph` needs no fontconfig); `png`
//! encodes the buffer. What the chart shows is decided in [`Plan::of`], which is pure and tested
//! on its own; [`paint`] only draws a plan.

use crate::enrich::diagnosis::{self, Cause, ChartSignal};
use crate::enrich::fleet::{summed, Fleet, Level, Lines};
use crate::enrich::metrics::Member;
use crate::enrich::own_metric;
use crate::enrich::{Llm, Window};
use crate::model::units::Unit;
use crate::model::AlarmKind;
use crate::report::AlarmReport;
use chrono::{DateTime, Utc};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::sync::OnceLock;

/// 2:1, large enough that Slack's preview (about 360 px high) keeps the text readable.
pub const WIDTH: u32 = 1000;
pub const HEIGHT: u32 = 500;
/// The outlier's line: a warm orange-red, unlike anything else on the chart.
const OUTLIER: RGBColor = RGBColor(230, 85, 13);
const OTHERS: RGBColor = RGBColor(140, 140, 140);
const THRESHOLD: RGBColor = RGBColor(200, 30, 30);
const STATE_CHANGE: RGBColor = RGBColor(40, 40, 40);
const EVALUATED: RGBColor = RGBColor(255, 241, 230);
const GRID: RGBColor = RGBColor(225, 225, 225);
const MUTED: RGBColor = RGBColor(90, 90, 90);

/// The embedded font's family name for plotters' registry.
const FAMILY: &str = "sagealarm-sans";
/// DejaVu Sans, Latin, Greek and punctuation only (29 KB): see `shared/assets/fonts/README.md`.
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf");

/// A drawn chart: the PNG, a title for the upload and a text alternative for screen readers.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub png: Vec<u8>,
    pub title: String,
    pub alt: String,
}

/// Why there is no chart, in one line (`enrichment did not run: disabled (--no-enrich)`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("nothing to draw: {0}")]
pub struct NothingToDraw(pub String);

/// The chart of an enriched alarm, or why there is none.
pub fn draw(report: &AlarmReport) -> Result<Chart, NothingToDraw> {
    let plan = Plan::of(report)?;
    let rgb = paint(&plan).map_err(|e| NothingToDraw(format!("drawing failed: {e}")))?;
    let png = encode(&rgb, WIDTH, HEIGHT).map_err(|e| NothingToDraw(format!("PNG encoding failed: {e}")))?;
    Ok(Chart { png, title: plan.title, alt: plan.alt })
}

/// What one chart shows, decided from the report before anything is drawn.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    title: String,
    /// Under the title: where, how many, when.
    subtitle: String,
    /// Under that: a threshold left out, and why.
    note: Option<String>,
    alt: String,
    unit: Unit,
    y_desc: String,
    /// Unix seconds: the fetched window, the alarm's evaluation window and its state change.
    x: (f64, f64),
    evaluated: (f64, f64),
    state_change: f64,
    state: String,
    y: (f64, f64),
    /// Each member's line; `highlight` is the one drawn warm and labelled.
    lines: Vec<Vec<(f64, f64)>>,
    highlight: Option<Highlight>,
    others_label: String,
    /// The alarm's threshold, when it is on the chart's scale: value and `≥ 80%`.
    threshold: Option<(f64, String)>,
}

#[derive(Debug, Clone, PartialEq)]
struct Highlight {
    index: usize,
    /// `i-0b… GPU 2`.
    name: String,
    /// `i-0b… GPU 2 (outlier)`.
    label: String,
}

impl Plan {
    fn of(report: &AlarmReport) -> Result<Self, NothingToDraw> {
        let e = &report.enrichment;
        if let Some(why) = &e.skipped {
            return Err(NothingToDraw(format!("enrichment did not run: {why}")));
        }
        if e.serverless.is_some() {
            return Err(NothingToDraw("a serverless variant has no instances to compare".into()));
        }
        // An LLM endpoint whose engine explains the alarm: the signal that explains it.
        if let Some((llm, signal)) = e.llm.as_ref().and_then(|l| Some((l, diagnosis::chart_signal(&e.explanation, l)?))) {
            if let Some(plan) = Self::llm(report, llm, signal) {
                return Ok(plan);
            }
        }
        let none = || NothingToDraw("no per-instance or per-GPU metrics came back".into());
        let fleet = e.fleet.as_ref().ok_or_else(none)?;
        let lines = fleet.lines.as_ref().ok_or_else(none)?;
        let window = e.window.as_ref().ok_or_else(|| NothingToDraw("no time window".into()))?;
        let sm = report.target.sagemaker();

        // The unit the alarm declares for its metric, when the chart is of that metric.
        let declared = match &report.alarm.kind {
            AlarmKind::Metric { stat, .. } => stat.unit.as_deref(),
            _ => None,
        };
        let own_charted = own_metric(&report.alarm).is_some_and(|o| o.name == lines.metric);
        let unit = Unit::of(&lines.metric, declared.filter(|_| own_charted));
        let highlight = highlight(fleet, lines, sm.and_then(|s| s.instance.as_deref()), sm.and_then(|s| s.gpu.as_deref()));

        // The threshold is the alarm's: drawn only over the alarm's own metric and statistic on
        // the alarm's scale. A summed utilisation's alarm compares sums; per-GPU lines are 0–100.
        let evaluation = report.alarm.kind.evaluation();
        let limit = evaluation.and_then(|ev| ev.threshold.map(|t| (t, ev.comparison.map(|c| c.symbol()).unwrap_or("vs"))));
        let about_one_gpu = sm.is_some_and(|s| s.gpu.is_some());
        let (threshold, left_out) = match (limit, own_metric(&report.alarm)) {
            (Some((t, sym)), Some(o)) => {
                let text = format!("{sym} {}", Unit::of(&o.name, declared).format(t));
                if o.name != lines.metric || o.stat != lines.stat {
                    (None, Some(format!("The alarm's threshold ({text}) is on {}, not on this metric: not drawn.", o.name)))
                } else if summed(&o.namespace, &o.name).is_some() && lines.summed == about_one_gpu {
                    (None, Some(format!("The alarm's threshold ({text}) is on {} summed per instance, not per GPU: not drawn.", o.name)))
                } else {
                    (Some((t, text)), None)
                }
            }
            _ => (None, None),
        };

        let points: Vec<Vec<(f64, f64)>> = lines.members.iter().map(|(_, p)| p.iter().map(|(t, v)| (secs(*t), *v)).collect()).collect();
        let y = y_range(&points, unit, lines.summed, threshold.as_ref().map(|t| t.0));
        let (n, noun) = (lines.members.len(), noun(lines.level));
        let instances = {
            let mut ids: Vec<&str> = lines.members.iter().filter_map(|(m, _)| m.instance.as_deref()).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.len()
        };
        let others = n - usize::from(highlight.is_some());
        let others_label = format!("{} {}", if highlight.is_some() { "other" } else { "all" }, plural(others, noun));

        let title = format!("{}: {} ({}) per {noun}", report.alarm.name, lines.metric, lines.stat);
        let mut where_ = vec![];
        if let Some(endpoint) = sm.and_then(|s| s.endpoint.as_deref()) {
            where_.push(format!("endpoint {endpoint}"));
        }
        let on = if lines.level == Level::Gpu && instances > 0 { format!(" on {}", plural(instances, "instance")) } else { String::new() };
        where_.push(format!("{}{on}", plural(n, noun)));
        where_.push(format!("{}–{} UTC", hhmm(window.start), hhmm(window.end)));
        let subtitle = where_.join(" · ");

        let headline = crate::render::enrichment::headline(fleet).unwrap_or_default();
        let drawn = format!("{} ({}) per {noun}, {}", lines.metric, lines.stat, plural(n, noun));
        let mut alt = alt_opening(&drawn, window, report, highlight.as_ref());
        if let Some((_, t)) = &threshold {
            alt.push_str(&format!(" Dashed: the threshold {t}."));
        }
        if !headline.is_empty() {
            alt.push(' ');
            alt.push_str(&headline);
        }

        Ok(Plan {
            title,
            subtitle,
            note: left_out,
            alt,
            unit,
            y_desc: format!("{} ({})", lines.metric, lines.stat),
            x: (secs(window.start), secs(window.end).max(secs(window.start) + 60.0)),
            evaluated: (secs(window.alarm_start), secs(window.anchor)),
            state_change: secs(window.anchor),
            state: report.alarm.state.to_string(),
            y,
            lines: points,
            highlight,
            others_label,
            threshold,
        })
    }
}

impl Plan {
    /// KV cache per inference component (its worst instance), or TTFT p99 per component, over the
    /// window; the component the diagnosis names is highlighted.
    fn llm(report: &AlarmReport, llm: &Llm, signal: ChartSignal) -> Option<Self> {
        let e = &report.enrichment;
        let window = e.window.as_ref()?;
        let (trends, unit, what, threshold) = match signal {
            ChartSignal::KvCache => {
                (&llm.kv_trends, Unit::Percent, "KV cache usage", Some((diagnosis::KV_FULL * 100.0, "full at ≥ 95%".to_string())))
            }
            ChartSignal::TtftP99 => (&llm.ttft_trends, Unit::Seconds, "time to first token p99", None),
        };
        if trends.is_empty() {
            return None;
        }
        let named = match e.explanation.lead.as_ref().map(|l| &l.cause) {
            Some(Cause::KvCacheFull { row, .. } | Cause::EngineQueueing { row }) => row.component.clone(),
            _ => None,
        };
        let index = named.as_deref().and_then(|c| trends.iter().position(|t| t.name == c || t.name.starts_with(&format!("{c} ("))));
        let highlight = index.map(|index| Highlight {
            index,
            name: trends[index].name.clone(),
            label: format!("{} (explains the alarm)", trends[index].name),
        });
        let lines: Vec<Vec<(f64, f64)>> = trends.iter().map(|t| t.points.iter().map(|(at, v)| (secs(*at), *v)).collect()).collect();
        let y = y_range(&lines, unit, false, threshold.as_ref().map(|t| t.0));
        let n = trends.len();
        let others = n - usize::from(highlight.is_some());
        let endpoint = report.target.endpoint().map(|e| format!("endpoint {e} · ")).unwrap_or_default();
        let drawn = format!("{what} per inference component, {}", plural(n, "component"));
        let mut alt = alt_opening(&drawn, window, report, highlight.as_ref());
        if let Some(lead) = crate::render::enrichment::lead_sentence(e) {
            alt.push(' ');
            alt.push_str(&lead);
        }
        Some(Plan {
            title: format!("{}: {what} per inference component", report.alarm.name),
            subtitle: format!("{endpoint}{} · {}–{} UTC · {}", plural(n, "component"), hhmm(window.start), hhmm(window.end), llm.source),
            note: None,
            alt,
            unit,
            y_desc: what.to_string(),
            x: (secs(window.start), secs(window.end).max(secs(window.start) + 60.0)),
            evaluated: (secs(window.alarm_start), secs(window.anchor)),
            state_change: secs(window.anchor),
            state: report.alarm.state.to_string(),
            y,
            lines,
            highlight,
            others_label: format!("{} {}", if index.is_some() { "other" } else { "all" }, plural(others, "component")),
            threshold,
        })
    }
}

/// The outlier's line (its instance's, when the lines are per instance); without an outlier, the
/// line of the instance or GPU the alarm is about.
fn highlight(fleet: &Fleet, lines: &Lines, instance: Option<&str>, gpu: Option<&str>) -> Option<Highlight> {
    let find = |want: &dyn Fn(&Member) -> bool| lines.members.iter().position(|(m, _)| want(m));
    if let Some(o) = &fleet.outlier {
        let index = find(&|m| *m == o.member)
            .or_else(|| find(&|m| lines.level == Level::Instance && m.instance.is_some() && m.instance == o.member.instance));
        if let Some(index) = index {
            let name = lines.members[index].0.label();
            return Some(Highlight { index, label: format!("{name} (outlier)"), name });
        }
    }
    let instance = instance?;
    let index = find(&|m| m.instance.as_deref() == Some(instance) && (gpu.is_none() || m.gpu.as_deref() == gpu))?;
    let name = lines.members[index].0.label();
    Some(Highlight { index, label: format!("{name} (this alarm)"), name })
}

/// From zero (or the lowest point) to a little above the highest point or threshold; a 0–100
/// percentage keeps its whole range, so 99% looks full.
fn y_range(lines: &[Vec<(f64, f64)>], unit: Unit, summed: bool, threshold: Option<f64>) -> (f64, f64) {
    let values = lines.iter().flatten().map(|(_, v)| *v).filter(|v| v.is_finite()).chain(threshold);
    let (lo, hi) = values.fold((0.0f64, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let hi = if unit == Unit::Percent && !summed { hi.max(100.0) } else { hi * 1.1 };
    if hi > lo {
        (lo, hi)
    } else {
        (lo, lo + 1.0)
    }
}

fn noun(level: Level) -> &'static str {
    match level {
        Level::Gpu => "GPU",
        Level::Container => "container",
        Level::Instance => "instance",
    }
}

fn plural(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn secs(t: DateTime<Utc>) -> f64 {
    t.timestamp() as f64
}

/// The alt text's first sentences, the same for every chart: what is drawn, over which window,
/// where the alarm changed state, and the highlighted line.
fn alt_opening(drawn: &str, window: &Window, report: &AlarmReport, highlight: Option<&Highlight>) -> String {
    let mut alt = format!(
        "Line chart of {drawn}, {}–{} UTC, shaded where the alarm evaluated, a vertical line at the change to {} at {}.",
        hhmm(window.start),
        hhmm(window.end),
        report.alarm.state,
        hhmm(window.anchor)
    );
    if let Some(h) = highlight {
        alt.push_str(&format!(" Highlighted: {}.", h.label));
    }
    alt
}

fn hhmm(t: DateTime<Utc>) -> String {
    t.format("%H:%M").to_string()
}

fn font(size: u32) -> TextStyle<'static> {
    FontDesc::new(FontFamily::Name(FAMILY), f64::from(size), FontStyle::Normal).into()
}

/// Registers the embedded font with plotters once per process.
fn register_font() -> Result<(), String> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    ok.then_some(()).ok_or_else(|| "the embedded font is unreadable".to_string())
}

/// Draws `plan` into a [`WIDTH`] × [`HEIGHT`] RGB buffer.
fn paint(plan: &Plan) -> Result<Vec<u8>, String> {
    register_font()?;
    let mut rgb = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    draw_into(plan, &mut rgb).map_err(|e| e.to_string())?;
    Ok(rgb)
}

fn draw_into(plan: &Plan, rgb: &mut [u8]) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(rgb, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let (head, body) = root.split_vertically(if plan.note.is_some() { 100 } else { 76 });
    head.draw(&Text::new(crate::model::text::truncate(&plan.title, 80), (20, 12), font(26).color(&BLACK)))?;
    head.draw(&Text::new(crate::model::text::truncate(&plan.subtitle, 105), (20, 46), font(17).color(&MUTED)))?;
    if let Some(note) = &plan.note {
        head.draw(&Text::new(crate::model::text::truncate(note, 105), (20, 70), font(17).color(&MUTED)))?;
    }

    // x in minutes since the hour before the window: plotters puts its ticks on round numbers
    // of the axis, which are then whole minutes (…, :35, :40, :45) and read as clock times.
    let origin = (plan.x.0 / 3600.0).floor() * 3600.0;
    let minutes = |t: f64| (t - origin) / 60.0;
    let clock = move |m: &f64| DateTime::from_timestamp((origin + m * 60.0).round() as i64, 0).map(hhmm).unwrap_or_default();
    let (x0, x1) = (minutes(plan.x.0), minutes(plan.x.1));
    let (y0, y1) = plan.y;
    let unit = plan.unit;
    let mut chart = ChartBuilder::on(&body)
        .margin_left(16)
        .margin_right(28)
        .margin_bottom(12)
        .x_label_area_size(36)
        .y_label_area_size(84)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let line = |points: &[(f64, f64)]| points.iter().map(|(t, v)| (minutes(*t), *v)).collect::<Vec<_>>();

    // The alarm's evaluation window, shaded under everything else.
    let (e0, e1) = (minutes(plan.evaluated.0).max(x0), minutes(plan.evaluated.1).min(x1));
    if e1 > e0 {
        chart.draw_series(std::iter::once(Rectangle::new([(e0, y0), (e1, y1)], EVALUATED.filled())))?;
    }
    chart
        .configure_mesh()
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .y_labels(6)
        .x_labels(8)
        .x_label_formatter(&clock)
        .y_label_formatter(&|y| unit.format(*y))
        .label_style(font(17).color(&MUTED))
        .axis_desc_style(font(16).color(&MUTED))
        .y_desc(crate::model::text::truncate(&plan.y_desc, 40))
        .draw()?;

    let highlighted = plan.highlight.as_ref().map(|h| h.index);
    let grey = OTHERS.mix(0.55).stroke_width(1);
    let mut labelled = false;
    for (_, points) in plan.lines.iter().enumerate().filter(|(i, _)| Some(*i) != highlighted) {
        let series = chart.draw_series(LineSeries::new(line(points), grey))?;
        if !labelled {
            series.label(plan.others_label.clone()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], grey));
            labelled = true;
        }
    }
    if let Some((t, text)) = &plan.threshold {
        let style = THRESHOLD.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(vec![(x0, *t), (x1, *t)], 10, 6, style))?
            .label(format!("threshold {text}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
    }
    // The state change: a vertical line, named at its foot (lines crowd the top of the chart).
    let s = minutes(plan.state_change);
    if (x0..=x1).contains(&s) {
        chart.draw_series(std::iter::once(PathElement::new(vec![(s, y0), (s, y1)], STATE_CHANGE.stroke_width(2))))?;
        let label = format!("{} {}", plan.state, clock(&s));
        // Named on the side with room: left of a change near the right edge.
        let left = s > (x0 + x1) / 2.0;
        let pad = if left { -6.0 } else { 6.0 } * (x1 - x0) / f64::from(WIDTH);
        let anchor = if left { HPos::Right } else { HPos::Left };
        chart.draw_series(std::iter::once(Text::new(
            label,
            (s + pad, y0),
            font(17).color(&STATE_CHANGE).pos(Pos::new(anchor, VPos::Bottom)),
        )))?;
    }
    // The outlier last, on top, thick.
    if let Some(h) = &plan.highlight {
        let points = line(&plan.lines[h.index]);
        let style = OUTLIER.stroke_width(3);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), style))?
            .label(h.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        // Named where it matters: its last point up to the state change, clear of its own line.
        let named = points.iter().rev().find(|(x, _)| *x <= s).or(points.last());
        if let Some(&(x, y)) = named {
            let text = format!("{} {}", h.name, unit.format(y));
            let upper = y > (y0 + y1) / 2.0;
            let dy = if upper { -1.0 } else { 1.0 } * 10.0 * (y1 - y0) / f64::from(HEIGHT);
            let at = Pos::new(HPos::Right, if upper { VPos::Top } else { VPos::Bottom });
            chart.draw_series(std::iter::once(Text::new(text, (x, y + dy), font(18).color(&OUTLIER).pos(at))))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(font(16).color(&BLACK))
        .background_style(WHITE.mix(0.85))
        .border_style(GRID)
        .draw()?;
    root.present()?;
    Ok(())
}

/// RGB → PNG. `Balanced` compression: a flat chart of a few colours stays well under 400 KB.
fn encode(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = vec![];
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Balanced);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::metrics::{ENDPOINTS_NS, INVOCATIONS_NS};
    use crate::enrich::Enrichment;
    use crate::render::test_support::{fleet_series, with_fleet};

    /// Decodes the PNG: its size and how many pixels are exactly `colour`.
    fn decode(png_bytes: &[u8], colour: RGBColor) -> (u32, u32, usize) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        let hits = buf[..info.buffer_size()].chunks(3).filter(|p| p == &[colour.0, colour.1, colour.2]).count();
        (info.width, info.height, hits)
    }

    fn assert_limits(chart: &Chart) -> usize {
        assert!(chart.png.len() <= 400 * 1024, "{} bytes", chart.png.len());
        let (w, h, hot) = decode(&chart.png, OUTLIER);
        assert!(w >= 600 && h >= 300, "{w} × {h}");
        hot
    }

    /// GPU 2 of instance 1 climbs to 99% for the last half of the window (the alarm's own
    /// evaluation window is its last quarter); the rest idle near 40%.
    fn hot_gpu(i: usize, g: usize, k: i64, at: f64) -> f64 {
        if i == 1 && g == 2 && at > 0.5 {
            99.0
        } else {
            38.0 + ((i + g + k as usize) % 5) as f64
        }
    }

    #[test]
    fn the_gpu_alarm_draws_a_png_within_limits_with_the_outlier_warm_and_named() {
        let report = with_fleet("sns-gpu-utilization-alarm.json", |w| {
            fleet_series(w, (ENDPOINTS_NS, "GPUUtilizationNormalized", "Average"), 3, 4, hot_gpu)
        });
        let plan = Plan::of(&report).unwrap();
        assert_eq!(plan.lines.len(), 12);
        let h = plan.highlight.as_ref().unwrap();
        assert_eq!(h.label, "i-0000000005a9e0001 GPU 2 (outlier)");
        // The alarm is on GPUUtilization: its threshold is not this chart's to draw, and it says so.
        assert_eq!(plan.threshold, None);
        assert_eq!(plan.note.as_deref(), Some("The alarm's threshold (≥ 80%) is on GPUUtilization, not on this metric: not drawn."));
        assert_eq!(plan.subtitle, "endpoint deepgram-prod · 12 GPUs on 3 instances · 13:07–14:12 UTC");
        assert_eq!((plan.unit, plan.y), (Unit::Percent, (0.0, 100.0)));
        assert_eq!(plan.state, "ALARM");
        assert!(plan.alt.contains("i-0000000005a9e0001 GPU 2 stands out"), "{}", plan.alt);

        let chart = draw(&report).unwrap();
        assert_eq!(chart.title, "deepgram-high-gpu: GPUUtilizationNormalized (Average) per GPU");
        assert!(assert_limits(&chart) > 500, "the outlier's line is drawn in its colour");
    }

    #[test]
    fn the_alarms_own_metric_per_instance_gets_its_threshold_in_its_units() {
        let report = with_fleet("sns-model-latency-p99-alarm.json", |w| {
            fleet_series(w, (INVOCATIONS_NS, "ModelLatency", "p99"), 3, 0, |i, _, _, at| if i == 2 && at > 0.5 { 2.6e6 } else { 4.0e5 })
        });
        let plan = Plan::of(&report).unwrap();
        assert_eq!(plan.threshold, Some((2e6, "≥ 2 s".to_string())));
        assert_eq!(plan.unit, Unit::Microseconds);
        assert!(plan.y.1 >= 2.6e6, "{:?}", plan.y);
        assert_eq!(plan.highlight.as_ref().unwrap().label, "i-0000000005a9e0002 (outlier)");
        assert!(plan.alt.contains("Dashed: the threshold ≥ 2 s."), "{}", plan.alt);
        let chart = draw(&report).unwrap();
        assert!(assert_limits(&chart) > 0);
        assert!(decode(&chart.png, THRESHOLD).2 > 100, "the threshold is drawn");
    }

    #[test]
    fn per_gpu_lines_do_not_take_a_summed_alarms_threshold() {
        // GPUUtilization per instance is a sum over its GPUs; per GPU it is 0–100.
        let report =
            with_fleet("sns-gpu-utilization-alarm.json", |w| fleet_series(w, (ENDPOINTS_NS, "GPUUtilization", "Average"), 3, 4, hot_gpu));
        let plan = Plan::of(&report).unwrap();
        assert_eq!(plan.threshold, None);
        assert_eq!(
            plan.note.as_deref(),
            Some("The alarm's threshold (≥ 80%) is on GPUUtilization summed per instance, not per GPU: not drawn.")
        );
    }

    #[test]
    fn without_an_outlier_the_gpu_the_alarm_names_is_highlighted() {
        let report = with_fleet("sns-instance-gpu-normalized-alarm.json", |w| {
            let mut s = fleet_series(w, (ENDPOINTS_NS, "GPUUtilizationNormalized", "Maximum"), 3, 4, |_, g, _, _| 90.0 + g as f64);
            for x in &mut s {
                x.member.instance = x.member.instance.as_ref().map(|i| i.replace("i-0000000005a9e0000", "i-0a1b2c3d4e5f60718"));
            }
            s
        });
        let plan = Plan::of(&report).unwrap();
        assert!(report.enrichment.fleet.as_ref().unwrap().outlier.is_none());
        assert_eq!(plan.highlight.as_ref().unwrap().label, "i-0a1b2c3d4e5f60718 GPU 0 (this alarm)");
        assert_eq!(plan.threshold, Some((95.0, "≥ 95%".to_string())));
        assert!(draw(&report).is_ok());
    }

    #[test]
    fn a_64_by_4_gpu_fleet_renders_within_limits() {
        let report = with_fleet("sns-gpu-utilization-alarm.json", |w| {
            fleet_series(w, (ENDPOINTS_NS, "GPUUtilizationNormalized", "Average"), 64, 4, hot_gpu)
        });
        let chart = draw(&report).unwrap();
        assert!(chart.alt.contains("256 GPUs"), "{}", chart.alt);
        assert!(assert_limits(&chart) > 500);
    }

    #[test]
    fn nothing_to_draw_says_why_in_one_line() {
        let mut report = with_fleet("sns-gpu-utilization-alarm.json", |_| vec![]);
        assert_eq!(draw(&report).unwrap_err().to_string(), "nothing to draw: no per-instance or per-GPU metrics came back");
        report.enrichment = Enrichment::skipped("disabled (--no-enrich)");
        assert_eq!(draw(&report).unwrap_err().to_string(), "nothing to draw: enrichment did not run: disabled (--no-enrich)");
    }
}
