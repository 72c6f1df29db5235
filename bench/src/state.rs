//! What the state table costs per alarm: the same ALARM and its OK through the library's `App`
//! (enrichment off; a Slack app and a PagerDuty receiver on loopback), once without a table and
//! once with one on moto's DynamoDB. With the table, an ALARM adds one conditional write and one
//! consistent read (together) before the post, and one update and one conditional write
//! (together) after it; its OK updates the parent and replies in the thread.

use crate::receivers::Receivers;
use anyhow::{bail, Context, Result};
use sagealarm::app::{App, EnrichMode};
use sagealarm::deliver::http::RetryPolicy;
use sagealarm::deliver::Routing;
use sagealarm::secrets::SecretResolver;
use sagealarm::state::StateTable;
use serde_json::Value;
use std::path::Path;
use std::time::Instant;

pub fn run(aws: &str, runs: usize, out: &Path) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(measure(aws, runs.max(1), out))
}

fn event(fixture: &str, alarm: &str) -> Result<Value> {
    let path = format!("{}/../events/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read_to_string(&path).with_context(|| path.clone())?;
    Ok(serde_json::from_str(&raw.replace("deepgram-high-concurrency", alarm))?)
}

async fn measure(aws: &str, runs: usize, out: &Path) -> Result<()> {
    let receivers = Receivers::start()?;
    let doc = format!(
        "receivers:\n  - {{name: app, slack_app: {{token: xoxb-bench, channel: C0BENCH0001, api_url: \"{u}/api\"}}}}\n  - {{name: pd, pagerduty: {{routing_key: 0123456789abcdef0123456789abcdef, events_url: \"{u}/pd\"}}}}\nroute: {{receivers: [app, pd]}}",
        u = receivers.url
    );
    let app = || -> Result<App> {
        Ok(App::new(Routing::parse(&doc)?, SecretResolver::new(None, true), EnrichMode::Off("bench".into()), RetryPolicy::default())?)
    };
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(aws)
        .region(aws_config::Region::new("us-east-1"))
        // moto takes any key.
        .credentials_provider(aws_credential_types::Credentials::new("bench", "bench", None, None, "bench"))
        .load()
        .await;
    let table = format!("sagealarm-bench-{}", std::process::id());
    sagealarm_testkit::create_state_table(&sdk, &table).await?;
    let on = app()?.with_state(StateTable::new(&sdk, &table));
    let off = app()?;

    let how = "App::handle, enrichment off, Slack app + PagerDuty receivers on 127.0.0.1";
    for (mode, (label, app)) in [("off", &off), ("on (moto)", &on)].into_iter().enumerate() {
        let (mut alarms, mut oks) = (vec![], vec![]);
        // One warm-up alarm: connections to the receivers and moto are opened once per instance.
        for i in 0..=runs {
            let name = format!("bench-{mode}-{i}");
            for (fixture, times) in [("sns-high-concurrency-alarm.json", &mut alarms), ("sns-high-concurrency-ok.json", &mut oks)] {
                let e = event(fixture, &name)?;
                let t = Instant::now();
                let summary = app.handle(&e).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                if summary.deliveries.iter().any(|d| !d.ok || d.already_delivered) {
                    bail!("state {label}: not delivered as expected: {summary:?}");
                }
                if i > 0 {
                    times.push(ms);
                }
            }
        }
        crate::append(
            out,
            &format!("Per alarm, state table {label}: ALARM"),
            &format!("{how}; first notification (new parent)"),
            "ms",
            &alarms,
        )?;
        crate::append(
            out,
            &format!("Per alarm, state table {label}: its OK"),
            &format!("{how}; with the table: chat.update of the parent + a reply in its thread; without: a new message"),
            "ms",
            &oks,
        )?;
    }
    Ok(())
}
