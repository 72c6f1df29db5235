//! Seeds emulated AWS with an endpoint world around an alarm's own time:
//! `seed-world --scenario hot-gpu --event events/sns-gpu-utilization-alarm.json`.
//! The endpoint and the anchor time come from the event unless given.

use anyhow::{bail, Context, Result};
use clap::Parser;
use sagealarm::model::Notification;
use sagealarm_testkit::{sdk, seed, World};

#[derive(Parser)]
struct Args {
    /// hot-gpu, even, enhanced-off, no-log-group, serverless, serverless-on-demand, inference-component, scaled-in-noisy, at-max, scaling
    #[arg(long, default_value = "hot-gpu")]
    scenario: String,
    /// The alarm whose endpoint and StateChangeTime the world is built around.
    #[arg(long)]
    event: String,
    #[arg(long)]
    endpoint: Option<String>,
    /// Minutes between datapoints (LocalStack stores ~100 datums a second).
    #[arg(long, default_value_t = 2)]
    step_minutes: i64,
    /// Also create the incident state table (as template.yaml declares it) under this name.
    #[arg(long)]
    state_table: Option<String>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if std::env::var("AWS_ENDPOINT_URL_SAGEMAKER").is_err() {
        bail!("AWS_ENDPOINT_URL_SAGEMAKER is not set: seed-world only seeds local emulators (scripts/emulators.sh start)");
    }
    let raw = std::fs::read(&args.event).with_context(|| args.event.clone())?;
    let alarm = match sagealarm::intake::parse_bytes(&raw)?.into_iter().next() {
        Some(Notification::Alarm(a)) => a,
        _ => bail!("{}: not an alarm", args.event),
    };
    let target = sagealarm::subject::resolve(&alarm);
    let endpoint =
        args.endpoint.or_else(|| target.endpoint().map(str::to_string)).context("the event names no endpoint: pass --endpoint")?;
    let anchor = alarm.state_change_time.context("the event has no StateChangeTime")?;
    let mut world = World::scenario(&args.scenario, &endpoint)?;
    world.step_minutes = args.step_minutes.clamp(1, 30);
    let sdk = sdk().await;
    seed(&sdk, &world, anchor).await?;
    if let Some(table) = &args.state_table {
        sagealarm_testkit::create_state_table(&sdk, table).await?;
        println!("created the incident state table {table} (DynamoDB on moto)");
    }
    println!(
        "seeded {:?}: endpoint {endpoint}, {} instance(s) × {} GPU(s), metrics and logs around {anchor}",
        args.scenario,
        world.instances.len(),
        world.gpus_per_instance
    );
    Ok(())
}
