//! Arbitrary bytes → JSON → intake → (for what parses) route → Slack and PagerDuty bodies, with
//! enrichment off: every place untrusted alarm text goes. No panic; every body within its limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sagealarm::pipeline::{reports, EnrichMode};
use sagealarm::render::{pagerduty, slack};
use sagealarm::route::{Facts, Routes};
use std::sync::OnceLock;

fn routes() -> &'static Routes {
    static R: OnceLock<Routes> = OnceLock::new();
    R.get_or_init(|| {
        Routes::parse(include_str!("../../config/routes.example.yaml")).expect("the example routing document parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Ok(notifications) = sagealarm::intake::parse_event(&v) else { return };
    // Enrichment off never awaits anything: a plain executor is enough.
    let reports = futures::executor::block_on(reports(notifications, &EnrichMode::Off("fuzz".into())));
    for report in &reports {
        let body = slack::render(report);
        if let Err(e) = slack::check_limits(&body) {
            panic!("Slack limits broken: {e}\n{body:#}");
        }
        for d in routes().route(&Facts::of(report)) {
            let ev = pagerduty::render(report, "0123456789abcdef0123456789abcdef", d.severity);
            if let Err(e) = pagerduty::check_event(&ev) {
                panic!("PagerDuty event invalid: {e}\n{ev:#}");
            }
        }
    }
});
