//! The synthetic fleet the CPU and chart benchmarks share: what enrichment would have found,
//! made here without AWS.

use chrono::Duration;
use sagealarm::enrich::metrics::{Member, Series};
use sagealarm::enrich::{fleet, Enrichment, Window};
use sagealarm::model::Alarm;

/// What enrichment would have found on a fleet of `instances` × 4 GPUs with one hot GPU: the
/// series are made here, the analysis is the library's own (part of the measured work).
pub fn synthetic(alarm: &Alarm, instances: usize) -> Enrichment {
    let anchor = alarm.anchor_time();
    let window = Window::for_alarm(alarm, anchor + Duration::minutes(5));
    let steps = ((window.end - window.start).num_seconds() / i64::from(window.period_s.max(60))).max(1);
    let mut series = vec![];
    for i in 0..instances {
        let instance = format!("i-0{:016x}", 0x5a9e_0000 + i);
        for g in 0..4 {
            let hot = i == 1 && g == 2;
            let points = (0..steps)
                .map(|k| {
                    (
                        window.start + Duration::seconds(k * i64::from(window.period_s)),
                        if hot { 99.0 } else { 38.0 + ((i + g + k as usize) % 5) as f64 },
                    )
                })
                .collect();
            series.push(Series {
                namespace: "/aws/sagemaker/Endpoints".into(),
                metric: "GPUUtilization".into(),
                stat: "Average".into(),
                member: Member { instance: Some(instance.clone()), gpu: Some(g.to_string()), container: None },
                points,
            });
        }
    }
    let fleet = fleet::analyse(&series, &window, Some("GPUUtilization"), None, Default::default());
    Enrichment { window: Some(window), fleet, ..Enrichment::default() }
}
