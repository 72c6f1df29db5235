//! Render: what every destination shows the same way — the enrichment as plain text
//! ([`enrichment`]), the state badge, and the chart of the fleet ([`chart`], a PNG for the
//! destinations that can take a file). Each destination's own body is rendered in its folder
//! (`deliver/<name>/render.rs`), from a [`crate::report::Report`], never from raw input.

pub mod chart;
pub mod enrichment;

use crate::model::AlarmState;

/// State at a glance, the same in Slack and logs.
pub fn state_badge(state: Option<AlarmState>) -> &'static str {
    match state {
        Some(AlarmState::Alarm) => "🔴 ALARM",
        Some(AlarmState::Ok) => "✅ OK",
        Some(AlarmState::InsufficientData) => "⚪ INSUFFICIENT_DATA",
        None => "✉️ NOTIFICATION",
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::enrich::Enrichment;
    use crate::model::Notification;
    use crate::report::{build_alarm, AlarmReport, Report};
    use crate::subject;

    pub fn reports_from_str(raw: &str) -> Vec<Report> {
        crate::intake::parse_bytes(raw.as_bytes())
            .unwrap()
            .into_iter()
            .map(|n| match n {
                Notification::Alarm(a) => {
                    let t = subject::resolve(&a);
                    Report::Alarm(Box::new(build_alarm(*a, t, Enrichment::skipped("test"))))
                }
                Notification::Plain(p) => Report::Plain(p),
            })
            .collect()
    }

    pub fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// The sample event's first alarm report, with a fleet analysed from `series` the way
    /// enrichment would (its window, its own metric, the instance it names).
    pub fn with_fleet(event: &str, series: impl Fn(&crate::enrich::Window) -> Vec<crate::enrich::metrics::Series>) -> AlarmReport {
        let Report::Alarm(mut r) = reports_from_str(&fixture(event)).remove(0) else { panic!("{event}: not an alarm") };
        let window = crate::enrich::Window::for_alarm(&r.alarm, r.alarm.anchor_time() + chrono::Duration::minutes(5));
        let own = crate::enrich::own_metric(&r.alarm).map(|o| o.name);
        let instance = r.target.sagemaker().and_then(|s| s.instance.clone());
        let fleet = crate::enrich::fleet::analyse(&series(&window), &window, own.as_deref(), instance.as_deref(), Default::default());
        r.enrichment = Enrichment { window: Some(window), fleet, ..Enrichment::default() };
        *r
    }

    /// `instances` × `gpus` series of one metric over `w` (per instance when `gpus` is 0), one
    /// point a period, valued by `value(instance, gpu, step, how far into the window: 0–1)`.
    pub fn fleet_series(
        w: &crate::enrich::Window,
        (namespace, metric, stat): (&str, &str, &str),
        instances: usize,
        gpus: usize,
        value: impl Fn(usize, usize, i64, f64) -> f64,
    ) -> Vec<crate::enrich::metrics::Series> {
        let steps = (w.end - w.start).num_seconds() / i64::from(w.period_s);
        let mut out = vec![];
        for i in 0..instances {
            for g in 0..gpus.max(1) {
                out.push(crate::enrich::metrics::Series {
                    namespace: namespace.into(),
                    metric: metric.into(),
                    stat: stat.into(),
                    member: crate::enrich::metrics::Member {
                        instance: Some(format!("i-0{:016x}", 0x5a9e_0000 + i)),
                        gpu: (gpus > 0).then(|| g.to_string()),
                        container: None,
                    },
                    points: (0..steps)
                        .map(|k| (w.start + chrono::Duration::seconds(k * i64::from(w.period_s)), value(i, g, k, k as f64 / steps as f64)))
                        .collect(),
                });
            }
        }
        out
    }

    /// Every sample event, as reports.
    pub fn all_reports() -> Vec<(String, Report)> {
        let dir = format!("{}/../events", env!("CARGO_MANIFEST_DIR"));
        let mut out = vec![];
        for sub in ["", "real"] {
            for e in std::fs::read_dir(format!("{dir}/{sub}")).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "json") {
                    for r in reports_from_str(&std::fs::read_to_string(&p).unwrap()) {
                        out.push((p.display().to_string(), r));
                    }
                }
            }
        }
        out
    }

    /// A JSON-string-safe hostile string: mentions, links, code fences, entities, 10,000 chars.
    pub fn hostile(len: usize) -> String {
        let unit = "<!channel> <!here> <@U024BE7LH> <https://evil.example|click me> ```code``` `tick` *bold* _it_ ~s~ &amp; & > < ";
        unit.repeat(len / unit.len() + 1).chars().take(len).collect()
    }

    /// The GPU fixture with a hostile name, description and dimension value.
    pub fn hostile_report(len: usize) -> Report {
        let h = hostile(len);
        let esc = serde_json::to_string(&h).unwrap();
        let esc = &esc[1..esc.len() - 1];
        let msg = fixture("sns-gpu-utilization-alarm.json");
        let v: serde_json::Value = serde_json::from_str(&msg).unwrap();
        let mut inner: serde_json::Value = serde_json::from_str(v["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
        inner["AlarmName"] = h.clone().into();
        inner["AlarmDescription"] = h.clone().into();
        inner["NewStateReason"] = h.clone().into();
        inner["Trigger"]["Dimensions"][0]["value"] = h.clone().into();
        let mut v = v;
        v["Records"][0]["Sns"]["Message"] = inner.to_string().into();
        let _ = esc;
        reports_from_str(&v.to_string()).remove(0)
    }
}
