//! Issue 18: alarm storms against AWS's real quotas. `alarms` alarms over `endpoints` bad
//! endpoints (alarm i about endpoint i mod n), all queued at once, handled by `concurrency`
//! workers — the function's reserved concurrency: Lambda runs at most that many invocations and
//! keeps the rest in its asynchronous queue — each worker one warm Lambda instance with its own
//! `App`, SDK clients and rate limiters. AWS is the emulators (scripts/emulators.sh env) behind
//! the quota stand-in (`sagealarm_testkit::quota`); the Slack webhook is a 200-answering stand-in.
//! With the state table (sharing on) and without (each alarm fetches its own evidence).
//!
//! Per storm: AWS calls, throttled calls, the share of messages fully enriched (the container's
//! log lines at the state change present, and no note but moto's unimplemented
//! DescribeScalingActivities), and the time until the last message.

use anyhow::{Context, Result};
use chrono::{Duration as Minutes, Utc};
use sagealarm::app::{App, EnrichMode};
use sagealarm::deliver::http::RetryPolicy;
use sagealarm::deliver::Routing;
use sagealarm::enrich::{EnrichSettings, Enricher};
use sagealarm::secrets::SecretResolver;
use sagealarm::state::StateTable;
use sagealarm_testkit::quota::{sdk_behind_quotas, storm_event, Quotas};
use sagealarm_testkit::{create_state_table, seed, World};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A line the hot instance logs before the state change (testkit's `seed_logs`).
const LOG_LINE: &str = "CUDA out of memory";
/// How the Slack message shows a note, and the one moto always causes.
const NOTE: &str = "⚠️ ";
const MOTO_NOTE: &str = "⚠️ DescribeScalingActivities";

pub fn run(alarms: &[usize], endpoints: &[usize], concurrency: usize, out: &Path) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(measure(alarms, endpoints, concurrency.max(1), out))
}

struct Storm {
    calls: u64,
    throttled: u64,
    filter_calls: u64,
    filter_throttled: u64,
    delivered: usize,
    full: usize,
    with_logs: usize,
    last_message_s: f64,
}

async fn measure(alarms: &[usize], endpoints: &[usize], concurrency: usize, out: &Path) -> Result<()> {
    let plain = sagealarm_testkit::sdk().await;
    let most = endpoints.iter().copied().max().unwrap_or(1);
    let run_id = std::process::id();
    let names: Vec<String> = (0..most).map(|i| format!("bench-quota-{run_id}-{i:02}")).collect();
    let at = Utc::now() - Minutes::minutes(3);
    let seeding = Instant::now();
    for name in &names {
        seed(&plain, &World::scenario("hot-gpu", name)?, at).await.with_context(|| format!("seeding {name}"))?;
    }
    eprintln!("bench: seeded {most} endpoints in {:.1} s", seeding.elapsed().as_secs_f64());
    let mut storm_no = 0;
    for &n_alarms in alarms {
        for &n_endpoints in endpoints {
            for sharing in [false, true] {
                storm_no += 1;
                let table = match sharing {
                    true => {
                        // A fresh table per storm: no evidence left over from the previous one.
                        let t = format!("bench-quota-{run_id}-{storm_no}");
                        create_state_table(&plain, &t).await?;
                        Some(t)
                    }
                    false => None,
                };
                let s = storm(&names[..n_endpoints], n_alarms, concurrency, at, table.as_deref()).await?;
                let label = format!(
                    "quota storm: {n_alarms} alarms over {n_endpoints} endpoint{}, concurrency {concurrency}, sharing {}",
                    if n_endpoints == 1 { "" } else { "s" },
                    if sharing { "on" } else { "off" }
                );
                let how = format!(
                    "AWS calls {} ({} throttled; FilterLogEvents {} / {} throttled); fully enriched {}/{} ({} with log lines); delivered {}",
                    s.calls, s.throttled, s.filter_calls, s.filter_throttled, s.full, n_alarms, s.with_logs, s.delivered
                );
                crate::append(out, &format!("{label}: time until the last message"), &how, "ms", &[s.last_message_s * 1000.0])?;
                crate::append(
                    out,
                    &format!("{label}: share fully enriched"),
                    "log lines at the state change, no note but moto's DescribeScalingActivities",
                    "%",
                    &[100.0 * s.full as f64 / n_alarms as f64],
                )?;
            }
        }
    }
    Ok(())
}

async fn storm(endpoints: &[String], alarms: usize, concurrency: usize, at: chrono::DateTime<Utc>, table: Option<&str>) -> Result<Storm> {
    let quotas = Quotas::real();
    let (sdk, _proxies) = sdk_behind_quotas(quotas.clone()).await?;
    let webhook = MockServer::builder().disable_request_recording().start().await;
    let bodies: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let record = bodies.clone();
    Mock::given(method("POST"))
        .respond_with(move |req: &wiremock::Request| {
            if let Ok(mut b) = record.lock() {
                b.push((Instant::now(), String::from_utf8_lossy(&req.body).into_owned()));
            }
            ResponseTemplate::new(200).set_body_string("ok")
        })
        .mount(&webhook)
        .await;
    let routes = format!("receivers:\n  - {{name: sre, slack: {{webhook_url: \"{}/hook\"}}}}\nroute: {{receivers: [sre]}}", webhook.uri());
    let queue: Arc<Mutex<VecDeque<serde_json::Value>>> =
        Arc::new(Mutex::new((0..alarms).map(|i| storm_event(i, &endpoints[i % endpoints.len()], at)).collect::<Result<VecDeque<_>>>()?));
    let started = Instant::now();
    let workers = (0..concurrency.min(alarms)).map(|_| {
        let enricher = Enricher::new(&sdk, EnrichSettings::default());
        let app = App::new(
            Routing::parse(&routes)?,
            SecretResolver::new(None, true),
            EnrichMode::Aws(Arc::new(enricher)),
            RetryPolicy::default(),
        )?;
        let app = match table {
            Some(t) => app.with_state(StateTable::new(&sdk, t)),
            None => app,
        };
        let queue = queue.clone();
        Ok(tokio::spawn(async move {
            let mut delivered = 0;
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some(event) = next else { break };
                if app.handle(&event).await.is_ok() {
                    delivered += 1;
                }
            }
            delivered
        }))
    });
    let workers = workers.collect::<Result<Vec<_>>>()?;
    let mut delivered = 0;
    for w in futures::future::join_all(workers).await {
        delivered += w?;
    }
    let bodies = bodies.lock().map(|b| b.clone()).unwrap_or_default();
    let last = bodies.iter().map(|(t, _)| t.duration_since(started)).max().unwrap_or_default();
    let with_logs = bodies.iter().filter(|(_, b)| b.contains(LOG_LINE)).count();
    let full = bodies.iter().filter(|(_, b)| b.contains(LOG_LINE) && b.matches(NOTE).count() == b.matches(MOTO_NOTE).count()).count();
    if let (Ok(path), Some((_, b))) =
        (std::env::var("SAGEALARM_BENCH_DUMP"), bodies.iter().find(|(_, b)| b.matches(NOTE).count() > b.matches(MOTO_NOTE).count()))
    {
        // One message with notes, to look at.
        std::fs::write(path, b)?;
    }
    let total = quotas.total();
    let filter = quotas.counts().get("FilterLogEvents").copied().unwrap_or_default();
    Ok(Storm {
        calls: total.calls,
        throttled: total.throttled,
        filter_calls: filter.calls,
        filter_throttled: filter.throttled,
        delivered,
        full,
        with_logs,
        last_message_s: last.as_secs_f64(),
    })
}
