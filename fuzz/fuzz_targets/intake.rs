//! Arbitrary bytes → JSON → intake → (for what parses) route → Slack, PagerDuty, Teams and Amazon
//! Q Developer bodies, with enrichment off: every place untrusted alarm text goes. No panic; every
//! body within its limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sagealarm::app::{reports, EnrichMode};
use sagealarm::deliver::Routing;
use sagealarm::deliver::{
    pagerduty::render as pagerduty, q_developer::render as q_developer, slack::render as slack, teams::render as teams,
};
use sagealarm::route::Facts;
use std::sync::OnceLock;

fn routing() -> &'static Routing {
    static R: OnceLock<Routing> = OnceLock::new();
    R.get_or_init(|| Routing::parse(include_str!("../../config/routes.example.yaml")).expect("the example routing document parses"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Ok(notifications) = sagealarm::intake::parse_event(&v) else { return };
    // Enrichment off never awaits anything: a plain executor is enough.
    let reports = futures::executor::block_on(reports(notifications, &EnrichMode::Off("fuzz".into())));
    for report in &reports {
        let body = slack::render(report, &[]);
        if let Err(e) = slack::check_limits(&body) {
            panic!("Slack limits broken: {e}\n{body:#}");
        }
        let card = teams::message(teams::render(report, None));
        if let Err(e) = teams::check(&card) {
            panic!("Teams card invalid: {e}\n{card:#}");
        }
        for d in routing().routes.evaluate(&Facts::of(report)).deliveries {
            let ev = pagerduty::render(report, "0123456789abcdef0123456789abcdef", d.severity);
            if let Err(e) = pagerduty::check_event(&ev) {
                panic!("PagerDuty event invalid: {e}\n{ev:#}");
            }
            let n = q_developer::render(report, d.severity, None);
            if let Err(e) = q_developer::check(&n) {
                panic!("Q Developer notification invalid: {e}\n{n:#}");
            }
        }
    }
});
