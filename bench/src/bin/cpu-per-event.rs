//! CPU per event, for `valgrind --tool=callgrind`: parse an event, build its reports, route them
//! (`config/routes.example.yaml`) and render every routed body (Slack and PagerDuty), serialised
//! as it would be sent. No network, no enrichment calls; with `--fleet N`, each alarm report
//! carries a synthetic N-instance × 4-GPU fleet analysis, so the instance table and sparklines
//! are rendered too.
//!
//! Usage: cpu-per-event EVENT.json ROUTES.yaml [--iterations N] [--fleet N]
//! The work runs N times; scripts/bench.sh takes (instructions at 11 − at 1) / 10, which leaves
//! out process start-up and one-time initialisation (regex compilation).

#[path = "../synthetic.rs"]
mod synthetic;

use anyhow::{bail, Context, Result};
use sagealarm::deliver::{pagerduty, slack, Routing};
use sagealarm::enrich::Enrichment;
use sagealarm::model::Notification;
use sagealarm::report::{self, Report};
use sagealarm::route::Facts;
use std::hint::black_box;
use synthetic::synthetic;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (event, routes) = match (args.first(), args.get(1)) {
        (Some(e), Some(r)) => (e.clone(), r.clone()),
        _ => bail!("usage: cpu-per-event EVENT.json ROUTES.yaml [--iterations N] [--fleet N]"),
    };
    let opt = |name: &str, default: usize| -> Result<usize> {
        match args.iter().position(|a| a == name) {
            Some(i) => {
                args.get(i + 1).with_context(|| format!("{name} needs a value"))?.parse().with_context(|| format!("{name}: not a number"))
            }
            None => Ok(default),
        }
    };
    let (iterations, fleet_size) = (opt("--iterations", 1)?, opt("--fleet", 0)?);
    let bytes = std::fs::read(&event).with_context(|| format!("reading {event}"))?;
    let routes =
        Routing::parse(&std::fs::read_to_string(&routes).with_context(|| format!("reading {routes}"))?).context("routing document")?;

    let mut sent = 0usize;
    for _ in 0..iterations {
        sent += once(black_box(&bytes), &routes, fleet_size)?;
    }
    println!("{iterations} iteration(s), {sent} body bytes rendered");
    Ok(())
}

/// Parse → report → route → render; returns the bytes that would be sent.
fn once(bytes: &[u8], routing: &Routing, fleet_size: usize) -> Result<usize> {
    let mut sent = 0;
    for n in sagealarm::intake::parse_bytes(bytes)? {
        let report = match n {
            Notification::Alarm(a) => {
                let e = if fleet_size > 0 { synthetic(&a, fleet_size) } else { Enrichment::skipped("disabled for the CPU benchmark") };
                let target = sagealarm::subject::resolve(&a);
                Report::Alarm(Box::new(report::build_alarm(*a, target, e)))
            }
            Notification::Plain(p) => Report::Plain(p),
        };
        for d in routing.routes.evaluate(&Facts::of(&report)).deliveries {
            let kind = routing.kind_of(&d.receiver.name);
            let body = if kind == Some(slack::REGISTRATION.kind) {
                slack::render::render(&report, &[])
            } else {
                pagerduty::render::render(&report, "R0UT1NGKEY", d.severity)
            };
            sent += serde_json::to_vec(&body)?.len();
        }
    }
    Ok(sent)
}
