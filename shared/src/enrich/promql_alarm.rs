//! A PromQL alarm's own query over the alarm's window, so the message can say "this contributor
//! against the rest": the query without its threshold comparison (`… > 0.95` returns only the
//! breaching series; without it, every neighbour), one range request, the contributor's series
//! found by its labels.

use super::{llm, Chain, Ctx, Window};
use crate::model::Contributor;
use crate::promql::{Label, PromQl, Series};
use serde::{Deserialize, Serialize};

/// Other series listed at most (the worst).
const SHOWN_OTHERS: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OwnQuery {
    /// What ran: the alarm's query without its comparison.
    pub query: String,
    /// Series the query returned over the window.
    pub series: usize,
    /// The series this notification's contributor is.
    pub contributor: Option<QuerySeries>,
    /// The other series, highest peak first, at most [`SHOWN_OTHERS`].
    pub others: Vec<QuerySeries>,
    /// The median of every other series' peak.
    pub others_median_peak: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuerySeries {
    /// The series' labels, `__name__` and CloudWatch's `__type__`/`__temporality__` left out.
    pub labels: Vec<(String, String)>,
    pub peak: Option<f64>,
    pub last: Option<f64>,
}

impl QuerySeries {
    /// `ic-llama-3-8b on i-0a1…` from the SageMaker labels, else `k=v, …`.
    pub fn name(&self) -> String {
        let get = |l: Label| self.labels.iter().find(|(k, _)| Label::from_name(k) == Some(l)).map(|(_, v)| v.as_str());
        match (get(Label::Component), get(Label::Host), get(Label::Gpu)) {
            (Some(c), Some(h), _) => format!("{c} on {h}"),
            (None, Some(h), Some(g)) => format!("GPU {g} on {h}"),
            (Some(c), None, _) => c.to_string(),
            (None, Some(h), None) => h.to_string(),
            _ => self.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", "),
        }
    }
}

/// `expr > 0.95`, `expr >= bool 3` → `expr`; other queries as they are.
pub fn without_comparison(q: &str) -> String {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\s*(?:>=|<=|==|!=|>|<)\s*(?:bool\s+)?[-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf|NaN)\s*$")
            .expect("static regex")
    });
    RE.replace(q.trim(), "").to_string()
}

/// Whether a series is the contributor's: every attribute the contributor has is one of its labels
/// (label names compared in either dialect).
fn is_contributor(s: &Series, c: &Contributor) -> bool {
    !c.attributes.is_empty()
        && c.attributes.iter().all(|(k, v)| {
            s.labels
                .iter()
                .any(|(sk, sv)| sv == v && (sk == k || (Label::from_name(sk).is_some() && Label::from_name(sk) == Label::from_name(k))))
        })
}

fn summary(s: &Series, w: &Window) -> QuerySeries {
    let in_window: Vec<f64> = s.points.iter().filter(|(t, v)| *t <= w.anchor && v.is_finite()).map(|(_, v)| *v).collect();
    QuerySeries {
        labels: s.labels.iter().filter(|(k, _)| !k.starts_with("__")).map(|(k, v)| (k.clone(), v.clone())).collect(),
        peak: in_window.iter().cloned().reduce(f64::max),
        last: in_window.last().copied(),
    }
}

pub(super) async fn fetch(
    ctx: &Ctx,
    chain: &Chain,
    q: &PromQl,
    query: &str,
    contributor: Option<&Contributor>,
    w: &Window,
) -> Option<OwnQuery> {
    let base = without_comparison(query);
    let step = i64::from(w.period_s).max(60);
    let answer = match ctx.promql(chain, q.query_range(&base, w.start, w.end, step, ctx.deadline)).await {
        Ok(a) => a,
        Err(e) => {
            ctx.note(llm::SOURCE, format!("the alarm's own query: {e}"));
            return None;
        }
    };
    if answer.truncated() {
        ctx.note(llm::SOURCE, "the alarm's own query was truncated at the source's series limit: neighbours may be missing");
    }
    let mine = contributor.and_then(|c| answer.series.iter().position(|s| is_contributor(s, c)));
    let mut others: Vec<QuerySeries> =
        answer.series.iter().enumerate().filter(|(i, _)| Some(*i) != mine).map(|(_, s)| summary(s, w)).collect();
    others.sort_by(|a, b| b.peak.unwrap_or(f64::MIN).total_cmp(&a.peak.unwrap_or(f64::MIN)));
    let mut peaks: Vec<f64> = others.iter().filter_map(|o| o.peak).collect();
    peaks.sort_by(f64::total_cmp);
    let others_median_peak = (!peaks.is_empty()).then(|| peaks[peaks.len() / 2]);
    others.truncate(SHOWN_OTHERS);
    Some(OwnQuery {
        query: base,
        series: answer.series.len(),
        contributor: mine.map(|i| summary(&answer.series[i], w)),
        others,
        others_median_peak,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_comparison_is_dropped_and_nothing_else() {
        assert_eq!(
            without_comparison(r#"max by ("@resource.host.id") (vllm:kv_cache_usage_perc) > 0.95"#),
            r#"max by ("@resource.host.id") (vllm:kv_cache_usage_perc)"#
        );
        assert_eq!(without_comparison("rate(x[5m]) >= bool 3"), "rate(x[5m])");
        assert_eq!(without_comparison("histogram_quantile(0.99, rate(x[5m])) > 2.5e0"), "histogram_quantile(0.99, rate(x[5m]))");
        assert_eq!(without_comparison("up == 0"), "up");
        assert_eq!(without_comparison("x > y"), "x > y", "a comparison with another series stays");
    }

    #[test]
    fn the_contributor_is_found_in_either_dialect() {
        let s = Series {
            labels: [
                ("aws_sagemaker_inference_component_name".to_string(), "ic-a".to_string()),
                ("host_id".to_string(), "i-1".to_string()),
            ]
            .into(),
            ..Series::default()
        };
        let c = Contributor {
            id: "x".into(),
            attributes: vec![("aws.sagemaker.inference_component.name".into(), "ic-a".into()), ("@resource.host.id".into(), "i-1".into())],
        };
        assert!(is_contributor(&s, &c));
        let other = Contributor { id: "y".into(), attributes: vec![("@resource.host.id".into(), "i-2".into())] };
        assert!(!is_contributor(&s, &other));
    }
}
