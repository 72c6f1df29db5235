//! The outlier: which instance, GPU or container stands out from its fleet, with the numbers,
//! and a small trend per instance. Pure: fed with fetched series, easy to test.

use super::hardware::Hardware;
use super::metrics::{Member, Series};
use super::Window;
use crate::model::Statistic;
use serde::Serialize;
use std::collections::BTreeMap;

/// The order in which metrics name the headline: the alarm's own metric comes before all.
const HEADLINE_ORDER: [&str; 11] = [
    "GPUUtilizationNormalized",
    "GPUUtilization",
    "ConcurrentRequestsPerModel",
    "Invocation5XXErrors",
    "InvocationModelErrors",
    "GPUMemoryUtilizationNormalized",
    "GPUMemoryUtilization",
    "CPUUtilizationNormalized",
    "CPUUtilization",
    "MemoryUtilization",
    "Invocations",
];

/// Table columns, in this order, when the metric exists (plus the alarm's own metric first).
const COLUMNS: [&str; 7] = [
    "GPUUtilizationNormalized",
    "GPUMemoryUtilizationNormalized",
    "CPUUtilizationNormalized",
    "MemoryUtilization",
    "ConcurrentRequestsPerModel",
    "Invocations",
    "Invocation5XXErrors",
];
const MAX_COLUMNS: usize = 5;
const SPARK_POINTS: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Instance,
    Gpu,
    Container,
}

/// How a metric's values are compared across members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// 0–100: a gap in points matters (99% vs 40%).
    Percent,
    /// Counts and concurrency: what share of the fleet's total one member carries.
    Share,
    /// Latency and the rest: a ratio to the others.
    Ratio,
}

/// What an instance-level utilisation is summed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Over {
    Gpus,
    Vcpus,
}

impl Over {
    pub fn noun(self, n: u32) -> String {
        let one = match self {
            Over::Gpus => "GPU",
            Over::Vcpus => "vCPU",
        };
        format!("{n} {one}{}", if n == 1 { "" } else { "s" })
    }
}

/// In `/aws/sagemaker/Endpoints` these are summed over an instance's GPUs or vCPUs (0 – 100 × n);
/// only their `*Normalized` twins, and per-GPU series, are 0 – 100.
const SUMMED: [(&str, &str, Over); 3] = [
    ("GPUUtilization", "GPUUtilizationNormalized", Over::Gpus),
    ("GPUMemoryUtilization", "GPUMemoryUtilizationNormalized", Over::Gpus),
    ("CPUUtilization", "CPUUtilizationNormalized", Over::Vcpus),
];

/// The normalized twin and what the sum runs over, for a summed metric.
pub fn summed(namespace: &str, metric: &str) -> Option<(&'static str, Over)> {
    if namespace != super::metrics::ENDPOINTS_NS {
        return None;
    }
    SUMMED.iter().find(|(m, _, _)| *m == metric).map(|(_, n, o)| (*n, *o))
}

/// A series whose values run past 100: summed, and not one GPU's own series.
fn is_summed(s: &Series) -> bool {
    s.member.gpu.is_none() && summed(&s.namespace, &s.metric).is_some()
}

fn kind(metric: &str, stat: &Statistic, summed: bool) -> Kind {
    if summed {
        // 0 – 100 × n: a gap in points means nothing without n; compare as a ratio.
        Kind::Ratio
    } else if metric.contains("Utilization") && !metric.starts_with("Serverless") {
        Kind::Percent
    } else if stat.as_str() == "Sum" || metric == "ConcurrentRequestsPerModel" {
        Kind::Share
    } else {
        Kind::Ratio
    }
}

/// How a figure over the alarm's evaluation window was made from the per-period points, said
/// with it: a mean of per-minute p99s is not a p99, so percentiles are their worst period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    pub how: Aggregate,
    pub stat: Statistic,
    pub period_s: i32,
    /// The evaluation window the points cover.
    pub over_s: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// Sum and SampleCount: the periods added up.
    Sum,
    /// Maximum and Minimum: the extreme of the periods' extremes.
    Max,
    Min,
    /// Average: the mean of the periods' averages.
    MeanOfPeriods,
    /// Percentiles and the rest: the worst period.
    MaxOfPeriods,
}

impl Figure {
    fn of(stat: &Statistic, w: &Window) -> Self {
        let how = match stat.as_str() {
            "Sum" | "SampleCount" => Aggregate::Sum,
            "Maximum" => Aggregate::Max,
            "Minimum" => Aggregate::Min,
            "Average" => Aggregate::MeanOfPeriods,
            _ => Aggregate::MaxOfPeriods,
        };
        Figure { how, stat: stat.clone(), period_s: w.period_s, over_s: (w.anchor - w.alarm_start).num_seconds() }
    }

    fn apply(&self, vals: &[f64]) -> f64 {
        match self.how {
            Aggregate::Sum => vals.iter().sum(),
            Aggregate::Max | Aggregate::MaxOfPeriods => vals.iter().cloned().fold(f64::MIN, f64::max),
            Aggregate::Min => vals.iter().cloned().fold(f64::MAX, f64::min),
            Aggregate::MeanOfPeriods => vals.iter().sum::<f64>() / vals.len() as f64,
        }
    }
}

impl std::fmt::Display for Figure {
    /// `sum over 15 min`, `max per-minute p99 over 15 min`, `mean of per-minute averages over 5 min`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let over = crate::model::units::period(self.over_s.max(0) as u32);
        let per = match self.period_s {
            60 => "per-minute".to_string(),
            3600 => "hourly".to_string(),
            p => format!("per-{}", crate::model::units::period(p.max(0) as u32).replace(' ', "-")),
        };
        match self.how {
            Aggregate::Sum => write!(f, "sum over {over}"),
            Aggregate::Max => write!(f, "max over {over}"),
            Aggregate::Min => write!(f, "min over {over}"),
            Aggregate::MeanOfPeriods => write!(f, "mean of {per} averages over {over}"),
            Aggregate::MaxOfPeriods => write!(f, "max {per} {} over {over}", self.stat),
        }
    }
}

/// One metric across the fleet, over the alarm's evaluation window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spread {
    pub metric: String,
    pub stat: Statistic,
    /// What each value is.
    pub figure: Figure,
    pub level: Level,
    /// Highest first.
    pub values: Vec<(Member, f64)>,
    pub outlier: Option<Outlier>,
    /// Every member within a narrow band of the others.
    pub even: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outlier {
    pub metric: String,
    pub stat: Statistic,
    pub figure: Figure,
    pub level: Level,
    pub member: Member,
    pub value: f64,
    /// Median of the other members.
    pub others_median: f64,
    pub others: usize,
    /// For counts and concurrency: the member's share of the fleet total (0–1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub metric: String,
    pub value: Option<f64>,
    /// For GPU metrics: the instance's busiest GPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceRow {
    /// Instance id (or container id for component metrics without one).
    pub name: String,
    pub outlier: bool,
    pub cells: Vec<Cell>,
    /// A text sparkline of [`Fleet::trend_metric`] over the whole window.
    pub trend: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fleet {
    pub period_s: i32,
    /// How many instances (or containers) report: have data in or after the alarm window.
    pub size: usize,
    /// Listed by CloudWatch (which keeps a stream's name for two weeks) but with no data in or
    /// after the alarm window: scaled in or replaced. Not counted, no row, no comparison.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gone: Option<Gone>,
    /// The alarm's own metric when it is a sum over GPUs or vCPUs, against its real range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summed: Option<Summed>,
    pub spreads: Vec<Spread>,
    /// The headline: what stands out most, by the alarm's own metric first.
    pub outlier: Option<Outlier>,
    /// Said plainly when there is no outlier: even load, or spread without a single standout.
    pub verdict: Option<Verdict>,
    pub columns: Vec<String>,
    /// The outlier's row first.
    pub rows: Vec<InstanceRow>,
    pub trend_metric: Option<String>,
    /// The per-period points the chart draws (`render::chart`); not serialised: no destination
    /// body carries them.
    #[serde(skip)]
    pub lines: Option<Lines>,
}

/// One metric's per-period points over the fetched window, one line per member: the alarm's own
/// metric where members publish it, else the outlier's, else the headline's. One metric only,
/// not every fetched series (a 64 × 4-GPU fleet has ~1,300): the chart needs no more.
#[derive(Debug, Clone, PartialEq)]
pub struct Lines {
    pub metric: String,
    pub stat: Statistic,
    pub level: Level,
    /// Summed over an instance's GPUs or vCPUs (0 – 100 × n), see [`summed`].
    pub summed: bool,
    pub members: Vec<(Member, Points)>,
}

/// A series' points: period start, value.
pub type Points = Vec<(chrono::DateTime<chrono::Utc>, f64)>;

/// Members listed with no data in or after the alarm window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gone {
    pub count: usize,
    /// Their latest point in the fetched window, when they had one.
    pub last_seen: Option<chrono::DateTime<chrono::Utc>>,
}

/// A summed utilisation (the alarm's own metric) and what it is summed over.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summed {
    pub metric: String,
    /// The 0 – 100 twin the outlier is judged on.
    pub normalized: String,
    pub over: Over,
    /// GPUs or vCPUs per instance: from the per-GPU streams or the instance type.
    pub per_instance: Option<u32>,
    /// The busiest instance's value of the summed metric over the alarm window.
    pub busiest: Option<(String, f64)>,
}

impl Summed {
    /// `0 – 400%`: one instance's range.
    pub fn range_max(&self) -> Option<f64> {
        self.per_instance.map(|n| 100.0 * f64::from(n))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    Even { metric: String, min: f64, max: f64, members: usize, level: Level },
    Uneven { metric: String, min: f64, max: f64, members: usize, level: Level },
    Single { name: String },
}

impl Fleet {
    /// Instances in the order their logs should be read: the outlier's first.
    pub fn priority_instances(&self) -> Vec<&str> {
        self.outlier.iter().filter_map(|o| o.member.instance.as_deref()).chain(self.rows.iter().map(|r| r.name.as_str())).collect()
    }
}

fn level(m: &Member) -> Level {
    if m.gpu.is_some() {
        Level::Gpu
    } else if m.instance.is_none() && m.container.is_some() {
        Level::Container
    } else {
        Level::Instance
    }
}

fn row_key(m: &Member) -> Option<&str> {
    m.instance.as_deref().or(m.container.as_deref())
}

/// The periods the alarm evaluated: those that ended inside its evaluation window (a point is
/// stamped with its period's start).
fn in_window(t: chrono::DateTime<chrono::Utc>, w: &Window) -> bool {
    let end = t + chrono::Duration::seconds(i64::from(w.period_s));
    end > w.alarm_start && end <= w.anchor
}

/// The value of a series over the alarm's evaluation window, as [`Figure`] says.
fn window_value(s: &Series, w: &Window) -> Option<f64> {
    let mut vals: Vec<f64> = s.points.iter().filter(|(t, _)| in_window(*t, w)).map(|(_, v)| *v).collect();
    if vals.is_empty() {
        // Sparse metrics: the latest point before the alarm stands in.
        vals = s.points.iter().rev().find(|(t, _)| *t <= w.anchor).map(|(_, v)| *v).into_iter().collect();
    }
    if vals.is_empty() {
        return None;
    }
    Some(Figure::of(&s.stat, w).apply(&vals))
}

/// Whether a member is still there: any point from the alarm window on.
fn reports(s: &Series, w: &Window) -> bool {
    s.points.iter().any(|(t, _)| *t + chrono::Duration::seconds(i64::from(w.period_s)) > w.alarm_start)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn spread(metric: &str, stat: &Statistic, summed: bool, w: &Window, lvl: Level, mut values: Vec<(Member, f64)>) -> Spread {
    values.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let figure = Figure::of(stat, w);
    let mut s =
        Spread { metric: metric.into(), stat: stat.clone(), figure: figure.clone(), level: lvl, values, outlier: None, even: false };
    let n = s.values.len();
    if n < 2 {
        return s;
    }
    let top = s.values[0].1;
    let second = s.values[1].1;
    let min = s.values[n - 1].1;
    let others: Vec<f64> = s.values[1..].iter().map(|(_, v)| *v).collect();
    let med = median(&others);
    let total: f64 = s.values.iter().map(|(_, v)| v.max(0.0)).sum();
    let share = (total > 0.0).then(|| top.max(0.0) / total);
    let k = kind(metric, stat, summed);
    let stands_out = match k {
        // Clear of the fleet's median and of the runner-up: two hot members are not "one outlier".
        Kind::Percent => top - med >= 20.0 && top >= med * 1.3 && top - second >= 10.0,
        Kind::Share => share.is_some_and(|sh| sh >= (1.5 / n as f64).max(0.5)) && top >= 2.0 * med && top >= 1.25 * second,
        Kind::Ratio => top > 0.0 && top >= 1.5 * med && top >= 1.25 * second,
    };
    if stands_out {
        s.outlier = Some(Outlier {
            metric: metric.into(),
            stat: stat.clone(),
            figure,
            level: lvl,
            member: s.values[0].0.clone(),
            value: top,
            others_median: med,
            others: n - 1,
            share: (k == Kind::Share).then_some(share).flatten(),
        });
    } else {
        s.even = match k {
            Kind::Percent => top - min <= 10.0,
            Kind::Share | Kind::Ratio => top <= min * 1.25 + f64::EPSILON,
        };
    }
    s
}

fn headline_rank(metric: &str, own: Option<&str>) -> usize {
    if Some(metric) == own {
        return 0;
    }
    HEADLINE_ORDER.iter().position(|m| *m == metric).map(|p| p + 1).unwrap_or(HEADLINE_ORDER.len() + 1)
}

/// `None` when no per-instance, per-GPU or per-container series came back. `hardware`: the
/// instance type's GPUs and vCPUs, for a summed metric when no per-GPU streams say.
pub fn analyse(series: &[Series], w: &Window, own: Option<&str>, target_instance: Option<&str>, hardware: Hardware) -> Option<Fleet> {
    // Members CloudWatch still lists but that report nothing from the alarm window on are gone.
    let mut live_keys: Vec<&str> = vec![];
    let mut listed_keys: Vec<&str> = vec![];
    for s in series {
        if let Some(k) = row_key(&s.member) {
            if !listed_keys.contains(&k) {
                listed_keys.push(k);
            }
            if reports(s, w) && !live_keys.contains(&k) {
                live_keys.push(k);
            }
        }
    }
    let live = |s: &Series| row_key(&s.member).is_none_or(|k| live_keys.contains(&k));
    let gone_keys: Vec<&str> = listed_keys.iter().copied().filter(|k| !live_keys.contains(k)).collect();
    let gone = (!gone_keys.is_empty()).then(|| Gone {
        count: gone_keys.len(),
        last_seen: series
            .iter()
            .filter(|s| row_key(&s.member).is_some_and(|k| gone_keys.contains(&k)))
            .filter_map(|s| s.points.last().map(|(t, _)| *t))
            .max(),
    });
    // Borrowed, not copied: a 64 × 4-GPU fleet has thousands of series.
    let series: Vec<&Series> = series.iter().filter(|s| live(s)).collect();
    let series = series.as_slice();

    // A summed own metric is shown against its range; the outlier is judged on its 0 – 100 twin.
    let own_summed = own.and_then(|o| series.iter().find(|s| s.metric == o && is_summed(s)));
    let judge_on = match own_summed.and_then(|s| summed(&s.namespace, &s.metric)) {
        Some((normalized, _)) if series.iter().any(|s| s.metric == normalized) => Some(normalized),
        _ => own,
    };

    // Group by (metric, stat, level, summed): each group is one comparison across the fleet.
    type Group = (String, Statistic, Level, bool);
    let mut groups: BTreeMap<Group, Vec<(Member, f64)>> = BTreeMap::new();
    let mut keys: Vec<String> = vec![];
    // Each series summarised once; the spreads and the table cells both read these.
    let values: Vec<Option<f64>> = series.iter().map(|s| window_value(s, w)).collect();
    for (s, value) in series.iter().zip(&values) {
        if let Some(k) = row_key(&s.member) {
            if !keys.iter().any(|x| x == k) {
                keys.push(k.to_string());
            }
        }
        if let Some(v) = *value {
            groups.entry((s.metric.clone(), s.stat.clone(), level(&s.member), is_summed(s))).or_default().push((s.member.clone(), v));
        }
    }
    if keys.is_empty() {
        return None;
    }
    let mut spreads: Vec<Spread> = groups.into_iter().map(|((m, st, l, sum), v)| spread(&m, &st, sum, w, l, v)).collect();
    spreads.sort_by_key(|s| (headline_rank(&s.metric, judge_on), s.level == Level::Instance));
    let summed_scale = own_summed.and_then(|s| {
        let (normalized, over) = summed(&s.namespace, &s.metric)?;
        let per_instance = match over {
            Over::Gpus => gpus_per_instance(series).or(hardware.gpus),
            Over::Vcpus => hardware.vcpus,
        };
        let busiest = spreads.iter().find(|sp| sp.metric == s.metric && sp.level == Level::Instance).and_then(|sp| {
            let (m, v) = sp.values.first()?;
            Some((row_key(m)?.to_string(), *v))
        });
        Some(Summed { metric: s.metric.clone(), normalized: normalized.to_string(), over, per_instance, busiest })
    });

    let outlier = spreads.iter().find_map(|s| s.outlier.clone());
    let verdict = if outlier.is_some() {
        None
    } else if keys.len() == 1 {
        Some(Verdict::Single { name: keys[0].clone() })
    } else {
        spreads.iter().find(|s| s.values.len() >= 2).map(|s| {
            let (max, min) = (s.values[0].1, s.values[s.values.len() - 1].1);
            let (metric, members, level) = (s.metric.clone(), s.values.len(), s.level);
            if s.even {
                Verdict::Even { metric, min, max, members, level }
            } else {
                Verdict::Uneven { metric, min, max, members, level }
            }
        })
    };

    let mut columns: Vec<String> = vec![];
    if let Some(o) = own.filter(|o| series.iter().any(|s| s.metric == *o)) {
        columns.push(o.to_string());
    }
    for c in COLUMNS {
        if columns.len() < MAX_COLUMNS && !columns.iter().any(|x| x == c) && series.iter().any(|s| s.metric == c) {
            columns.push(c.to_string());
        }
    }
    let trend_metric = columns.first().cloned();

    let outlier_row = outlier.as_ref().and_then(|o| row_key(&o.member)).map(str::to_string);
    let mut rows: Vec<InstanceRow> = keys
        .iter()
        .map(|k| InstanceRow {
            name: k.clone(),
            outlier: outlier_row.as_deref() == Some(k.as_str()),
            cells: columns.iter().map(|c| cell(series, &values, k, c)).collect(),
            trend: String::new(),
        })
        .collect();
    if let Some(tm) = &trend_metric {
        let sum = series.iter().any(|s| &s.metric == tm && is_summed(s));
        let percent = kind(tm, &Statistic::default(), sum) == Kind::Percent;
        let trends: Vec<Vec<f64>> = rows.iter().map(|r| trend_values(series, &r.name, tm)).collect();
        let (lo, hi) = if percent {
            (0.0, 100.0)
        } else {
            let all = trends.iter().flatten();
            (all.clone().cloned().fold(f64::MAX, f64::min), all.cloned().fold(f64::MIN, f64::max))
        };
        for (r, t) in rows.iter_mut().zip(trends) {
            r.trend = sparkline(&t, lo, hi);
        }
    }
    // The instance the alarm is about first (one GPU's alarm is about that GPU), then the outlier,
    // then by the first column, highest first.
    let first_value = |r: &InstanceRow| r.cells.first().and_then(|c| c.value).unwrap_or(f64::MIN);
    rows.sort_by(|a, b| {
        (Some(b.name.as_str()) == target_instance)
            .cmp(&(Some(a.name.as_str()) == target_instance))
            .then_with(|| b.outlier.cmp(&a.outlier))
            .then_with(|| first_value(b).total_cmp(&first_value(a)))
            .then_with(|| a.name.cmp(&b.name))
    });

    let lines = chart_lines(series, &spreads, own);

    Some(Fleet {
        period_s: w.period_s,
        size: keys.len(),
        gone,
        summed: summed_scale,
        spreads,
        outlier,
        verdict,
        columns,
        rows,
        trend_metric,
        lines,
    })
}

/// The series of the metric that best explains the alarm, at one level: the alarm's own metric
/// when members publish it, else the one the outlier (or the headline) was found on. At the
/// level of that metric's outlier when it has one; a summed own metric per instance (the scale
/// the alarm compares on); otherwise GPUs and containers before instances (the finer picture:
/// `spreads` come sorted so).
fn chart_lines(series: &[&Series], spreads: &[Spread], own: Option<&str>) -> Option<Lines> {
    // `spreads` are in headline order: the first outlier is the headline's.
    let headline = spreads.iter().find_map(|s| s.outlier.as_ref().map(|o| o.metric.as_str()));
    let metric =
        own.filter(|o| spreads.iter().any(|s| s.metric == *o)).or(headline).or_else(|| spreads.first().map(|s| s.metric.as_str()))?;
    let candidates: Vec<&Spread> = spreads.iter().filter(|s| s.metric == metric).collect();
    let own_is_summed = own == Some(metric) && series.iter().any(|s| s.metric == metric && is_summed(s));
    let chosen = candidates
        .iter()
        .find(|s| s.outlier.is_some())
        .or_else(|| candidates.iter().find(|s| own_is_summed && s.level == Level::Instance))
        .or_else(|| candidates.first())?;
    let of_it = |s: &&&Series| s.metric == chosen.metric && s.stat == chosen.stat && level(&s.member) == chosen.level;
    let members: Vec<(Member, Points)> =
        series.iter().filter(of_it).filter(|s| !s.points.is_empty()).map(|s| (s.member.clone(), s.points.clone())).collect();
    let summed = series.iter().filter(of_it).any(|s| is_summed(s));
    (!members.is_empty()).then(|| Lines { metric: chosen.metric.clone(), stat: chosen.stat.clone(), level: chosen.level, summed, members })
}

/// The most GPUs one instance has per-GPU streams for.
fn gpus_per_instance(series: &[&Series]) -> Option<u32> {
    let mut per: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for s in series {
        if let (Some(i), Some(g)) = (s.member.instance.as_deref(), s.member.gpu.as_deref()) {
            per.entry(i).or_default().insert(g);
        }
    }
    per.values().map(|g| g.len() as u32).max()
}

/// An instance's value for a column; for per-GPU metrics, its busiest GPU.
fn cell(series: &[&Series], values: &[Option<f64>], key: &str, metric: &str) -> Cell {
    let mut best: Option<(f64, Option<String>)> = None;
    for (s, v) in series.iter().zip(values).filter(|(s, _)| s.metric == metric && row_key(&s.member) == Some(key)) {
        if let Some(v) = *v {
            if best.as_ref().is_none_or(|(b, _)| v > *b) {
                best = Some((v, s.member.gpu.clone()));
            }
        }
    }
    Cell { metric: metric.into(), value: best.as_ref().map(|b| b.0), gpu: best.and_then(|b| b.1) }
}

/// The instance's points for `metric` over the window; the max across its GPUs at each time.
fn trend_values(series: &[&Series], key: &str, metric: &str) -> Vec<f64> {
    let mut by_time: BTreeMap<i64, f64> = BTreeMap::new();
    for s in series.iter().filter(|s| s.metric == metric && row_key(&s.member) == Some(key)) {
        for (t, v) in &s.points {
            let e = by_time.entry(t.timestamp()).or_insert(f64::MIN);
            *e = e.max(*v);
        }
    }
    by_time.into_values().collect()
}

/// `▁▂▅█`: at most [`SPARK_POINTS`] characters (the latest points), scaled to `lo..hi`.
pub fn sparkline(values: &[f64], lo: f64, hi: f64) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let tail = &values[values.len().saturating_sub(SPARK_POINTS)..];
    let range = hi - lo;
    tail.iter()
        .map(|v| {
            if !v.is_finite() {
                return ' ';
            }
            let f = if range > 0.0 { ((v - lo) / range).clamp(0.0, 1.0) } else { 0.5 };
            BARS[((f * 7.0).round() as usize).min(7)]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn window() -> Window {
        let anchor = Utc.with_ymd_and_hms(2026, 11, 20, 14, 7, 0).unwrap();
        Window {
            start: anchor - Duration::minutes(40),
            alarm_start: anchor - Duration::minutes(5),
            anchor,
            end: anchor + Duration::minutes(2),
            period_s: 60,
        }
    }

    fn series(metric: &str, stat: &str, instance: &str, gpu: Option<&str>, level: f64) -> Series {
        let w = window();
        let points = (0..40).map(|i| (w.start + Duration::minutes(i), if i > 30 { level } else { level / 2.0 })).collect();
        Series {
            namespace: "/aws/sagemaker/Endpoints".into(),
            metric: metric.into(),
            stat: stat.into(),
            member: Member { instance: Some(instance.into()), gpu: gpu.map(Into::into), container: None },
            points,
        }
    }

    #[test]
    fn one_hot_gpu_among_idle_ones_is_the_outlier_and_its_instance_leads_the_table() {
        let mut s = vec![];
        for (i, inst) in ["i-a", "i-b", "i-c"].iter().enumerate() {
            for g in 0..4 {
                let v = if i == 1 && g == 2 { 99.0 } else { 40.0 + g as f64 };
                s.push(series("GPUUtilizationNormalized", "Average", inst, Some(&g.to_string()), v));
            }
            s.push(series("CPUUtilizationNormalized", "Average", inst, None, 30.0));
        }
        let f = analyse(&s, &window(), None, None, Hardware::default()).unwrap();
        let o = f.outlier.as_ref().unwrap();
        assert_eq!((o.member.instance.as_deref(), o.member.gpu.as_deref(), o.value), (Some("i-b"), Some("2"), 99.0));
        assert_eq!(o.others, 11);
        assert!((o.others_median - 41.0).abs() < 1e-9, "{}", o.others_median);
        assert_eq!(f.rows[0].name, "i-b");
        assert!(f.rows[0].outlier);
        assert_eq!(f.rows[0].cells[0].gpu.as_deref(), Some("2"));
        assert_eq!(f.columns, vec!["GPUUtilizationNormalized", "CPUUtilizationNormalized"]);
        assert_eq!(f.rows[0].trend.chars().count(), 24);
        assert!(f.rows[0].trend.ends_with('█'), "{}", f.rows[0].trend);
        assert_eq!(f.priority_instances()[0], "i-b");
        assert!(f.verdict.is_none());
        // The chart keeps the outlier's metric per GPU, every GPU's points.
        let lines = f.lines.as_ref().unwrap();
        assert_eq!((lines.metric.as_str(), lines.level, lines.members.len()), ("GPUUtilizationNormalized", Level::Gpu, 12));
        assert!(lines.members.iter().all(|(_, p)| p.len() == 40));
    }

    #[test]
    fn even_load_is_said_plainly() {
        let s: Vec<Series> = ["i-a", "i-b", "i-c"]
            .iter()
            .enumerate()
            .map(|(i, n)| series("GPUUtilizationNormalized", "Average", n, Some("0"), 40.0 + i as f64 * 2.0))
            .collect();
        let f = analyse(&s, &window(), None, None, Hardware::default()).unwrap();
        assert!(f.outlier.is_none());
        match f.verdict {
            Some(Verdict::Even { members, min, max, .. }) => assert_eq!((members, min, max), (3, 40.0, 44.0)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_concentrated_on_one_instance_are_a_share_outlier() {
        let s = vec![
            series("Invocation5XXErrors", "Sum", "i-a", None, 1.0),
            series("Invocation5XXErrors", "Sum", "i-b", None, 40.0),
            series("Invocation5XXErrors", "Sum", "i-c", None, 0.0),
        ];
        let f = analyse(&s, &window(), Some("Invocation5XXErrors"), None, Hardware::default()).unwrap();
        let o = f.outlier.unwrap();
        assert_eq!(o.member.instance.as_deref(), Some("i-b"));
        assert!(o.share.unwrap() > 0.9);
    }

    #[test]
    fn concurrency_pinned_to_one_of_two_instances() {
        let s = vec![
            series("ConcurrentRequestsPerModel", "Maximum", "i-a", None, 90.0),
            series("ConcurrentRequestsPerModel", "Maximum", "i-b", None, 8.0),
        ];
        let f = analyse(&s, &window(), None, None, Hardware::default()).unwrap();
        assert_eq!(f.outlier.unwrap().member.instance.as_deref(), Some("i-a"));
    }

    #[test]
    fn uneven_without_a_single_standout_is_not_called_an_outlier() {
        let s = vec![
            series("GPUUtilizationNormalized", "Average", "i-a", Some("0"), 90.0),
            series("GPUUtilizationNormalized", "Average", "i-b", Some("0"), 85.0),
            series("GPUUtilizationNormalized", "Average", "i-c", Some("0"), 20.0),
        ];
        let f = analyse(&s, &window(), None, None, Hardware::default()).unwrap();
        assert!(f.outlier.is_none());
        assert!(matches!(f.verdict, Some(Verdict::Uneven { .. })));
    }

    #[test]
    fn a_single_instance_has_nothing_to_compare_with() {
        let f = analyse(&[series("CPUUtilizationNormalized", "Average", "i-a", None, 50.0)], &window(), None, None, Hardware::default())
            .unwrap();
        assert_eq!(f.verdict, Some(Verdict::Single { name: "i-a".into() }));
        assert!(analyse(&[], &window(), None, None, Hardware::default()).is_none());
    }

    #[test]
    fn sparkline_scales_and_keeps_the_latest_points() {
        assert_eq!(sparkline(&[0.0, 50.0, 100.0], 0.0, 100.0), "▁▅█");
        assert_eq!(sparkline(&[5.0, 5.0], 5.0, 5.0), "▅▅");
        assert_eq!(sparkline(&vec![1.0; 100], 0.0, 1.0).chars().count(), SPARK_POINTS);
    }

    /// Points every minute of the fetched window up to `until` (minutes after the start).
    fn series_until(metric: &str, instance: &str, gpu: Option<&str>, level: f64, until: i64) -> Series {
        let mut s = series(metric, "Average", instance, gpu, level);
        let cut = window().start + Duration::minutes(until);
        s.points.retain(|(t, _)| *t < cut);
        s
    }

    #[test]
    fn scaled_in_instances_are_not_counted_compared_or_shown() {
        let mut s = vec![];
        for inst in ["i-a", "i-b", "i-c"] {
            for g in 0..4 {
                let v = if inst == "i-b" && g == 2 { 99.0 } else { 40.0 };
                s.push(series("GPUUtilizationNormalized", "Average", inst, Some(&g.to_string()), v));
            }
        }
        // Replaced 25 minutes before the alarm: their last points are long before its window.
        for inst in ["i-old1", "i-old2"] {
            for g in 0..4 {
                s.push(series_until("GPUUtilizationNormalized", inst, Some(&g.to_string()), 5.0, 10));
            }
        }
        // Listed but with nothing at all in the fetched window (data hours old).
        s.push(series_until("GPUUtilizationNormalized", "i-old3", Some("0"), 5.0, 0));
        let f = analyse(&s, &window(), None, None, Hardware::default()).unwrap();
        assert_eq!(f.size, 3);
        let names: Vec<&str> = f.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(!names.iter().any(|n| n.starts_with("i-old")), "{names:?}");
        let gone = f.gone.as_ref().unwrap();
        assert_eq!(gone.count, 3);
        assert_eq!(gone.last_seen, Some(window().start + Duration::minutes(9)));
        let o = f.outlier.as_ref().unwrap();
        assert_eq!((o.member.instance.as_deref(), o.member.gpu.as_deref(), o.others), (Some("i-b"), Some("2"), 11));
        assert_eq!(crate::render::enrichment::reporting(&f), "3 reporting; 3 more listed with no data since 13:36 — scaled in or replaced");
    }

    #[test]
    fn a_summed_utilisation_is_shown_against_its_range_and_the_outlier_judged_normalized() {
        let mut s = vec![];
        // Summed over 4 GPUs: 212% on i-b is a busy instance, not a number past 100%.
        for (inst, summed, normalized) in [("i-a", 120.0, 30.0), ("i-b", 212.0, 53.0), ("i-c", 100.0, 25.0)] {
            s.push(series("GPUUtilization", "Average", inst, None, summed));
            s.push(series("GPUUtilizationNormalized", "Average", inst, None, normalized));
        }
        let f = analyse(&s, &window(), Some("GPUUtilization"), None, crate::enrich::hardware::of("ml.g5.12xlarge")).unwrap();
        let o = f.outlier.as_ref().unwrap();
        assert_eq!((o.metric.as_str(), o.member.instance.as_deref()), ("GPUUtilizationNormalized", Some("i-b")));
        let sum = f.summed.as_ref().unwrap();
        assert_eq!((sum.per_instance, sum.range_max()), (Some(4), Some(400.0)));
        assert_eq!(sum.busiest, Some(("i-b".to_string(), 212.0)));
        let line = crate::render::enrichment::summed_line(&f).unwrap();
        assert!(line.contains("summed over 4 GPUs per instance (0–400%)") && line.contains("i-b is at 212% of 400%"), "{line}");
        assert!(
            crate::render::enrichment::fleet_table(&f, 5).starts_with("instance  GPU Σ"),
            "{}",
            crate::render::enrichment::fleet_table(&f, 5)
        );
        // The sparkline of a summed metric is scaled to its data, not cut off at 100.
        let row = f.rows.iter().find(|r| r.name == "i-b").unwrap();
        assert!(row.trend.ends_with('█'), "{}", row.trend);
        assert!(f.rows.iter().find(|r| r.name == "i-c").unwrap().trend.contains('▁'));
        // The chart draws the alarm's own summed metric per instance: the scale the alarm compares.
        let lines = f.lines.as_ref().unwrap();
        assert_eq!((lines.metric.as_str(), lines.level, lines.summed, lines.members.len()), ("GPUUtilization", Level::Instance, true, 3));
    }

    #[test]
    fn figures_cover_the_evaluated_periods_only_and_say_what_they_are() {
        let w = window();
        // One point a minute, each 1: the alarm evaluated the five periods that ended by 14:07.
        let ones = |stat: &str| Series {
            namespace: "AWS/SageMaker".into(),
            metric: "Invocation5XXErrors".into(),
            stat: stat.into(),
            member: Member { instance: Some("i-a".into()), gpu: None, container: None },
            points: (0..42).map(|i| (w.start + Duration::minutes(i), 1.0)).collect(),
        };
        assert_eq!(window_value(&ones("Sum"), &w), Some(5.0), "five periods, not six");
        let f = Figure::of(&Statistic::from("p99"), &w);
        assert_eq!(f.to_string(), "max per-minute p99 over 5 min");
        assert_eq!(Figure::of(&Statistic::from("Sum"), &w).to_string(), "sum over 5 min");
        assert_eq!(Figure::of(&Statistic::from("Average"), &w).to_string(), "mean of per-minute averages over 5 min");
        let mut p99 = ones("p99");
        p99.points[37].1 = 7.0;
        assert_eq!(window_value(&p99, &w), Some(7.0), "the worst period, not a mean of percentiles");
    }

    #[test]
    fn the_instance_the_alarm_is_about_leads_the_table() {
        let mut s = vec![];
        for (i, inst) in ["i-a", "i-b", "i-c"].iter().enumerate() {
            for g in 0..4 {
                let v = if i == 1 && g == 2 { 99.0 } else { 40.0 };
                s.push(series("GPUUtilizationNormalized", "Average", inst, Some(&g.to_string()), v));
            }
        }
        let f = analyse(&s, &window(), None, Some("i-c"), Hardware::default()).unwrap();
        let names: Vec<&str> = f.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["i-c", "i-b", "i-a"], "the alarm's own instance, then the outlier");
        assert!(f.rows[1].outlier);
    }
}
