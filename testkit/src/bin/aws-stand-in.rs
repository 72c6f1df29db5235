//! The local demo's stand-in for AWS where the emulators fall short (`scripts/demo.sh`): the
//! tests' quota stand-in (`sagealarm_testkit::quota`) in front of moto, answering what moto does
//! not implement (DescribeScalingActivities) and what it cannot know about a seeded world (the day
//! the endpoint was created) the way AWS would, at AWS's own per-operation quotas; and, for the
//! LLM worlds, the tests' CloudWatch PromQL stand-in (`sagealarm_testkit::promql`: CloudWatch's
//! dialect, SigV4 checked) in front of a local Prometheus.
//!
//! `aws-stand-in --upstream http://127.0.0.1:PORT --scenario NAME --endpoint-created 2026-11-01T09:00:00Z
//!  [--scale-out-failed-at 2026-11-20T14:02:00Z --scalable-target endpoint/E/variant/V]
//!  [--prometheus http://127.0.0.1:PORT --promql-url-file F] --url-file F`
//! runs until stopped; the URLs it listens on go to the URL files.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::Parser;
use sagealarm_testkit::promql::{CloudWatchPromQl, Options};
use sagealarm_testkit::quota::{Fills, QuotaProxy, Quotas};
use sagealarm_testkit::{seeded_instance_type, World};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// The emulator to forward to (moto).
    #[arg(long)]
    upstream: String,
    /// When the world's endpoint was created (RFC 3339): DescribeEndpoint answers with it.
    #[arg(long)]
    endpoint_created: Option<String>,
    /// The seeded world (`seed-world --scenario`): where moto could not take its instance type,
    /// DescribeEndpointConfig answers with it.
    #[arg(long, default_value = "hot-gpu")]
    scenario: String,
    /// A scale-out of `--scalable-target` that failed for want of capacity of the world's
    /// instance type at this time (RFC 3339): DescribeScalingActivities lists it.
    #[arg(long, requires = "scalable_target")]
    scale_out_failed_at: Option<String>,
    #[arg(long)]
    scalable_target: Option<String>,
    /// A Prometheus to serve as CloudWatch's PromQL API.
    #[arg(long, requires = "promql_url_file")]
    prometheus: Option<String>,
    #[arg(long)]
    promql_url_file: Option<String>,
    /// Where to write the AWS stand-in's URL once it listens.
    #[arg(long)]
    url_file: String,
}

fn time(flag: &str, t: &str) -> Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(t).with_context(|| format!("--{flag} {t}"))?.with_timezone(&Utc))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let endpoint_created = args.endpoint_created.as_deref().map(|t| time("endpoint-created", t)).transpose()?;
    let world = World::scenario(&args.scenario, "the-world's-endpoint")?;
    let instance_type = world.instance_type.as_str();
    let scaling_activities = match (&args.scale_out_failed_at, &args.scalable_target) {
        (Some(at), Some(target)) => {
            let at = time("scale-out-failed-at", at)?;
            // As Application Auto Scaling words a scale-out SageMaker could not place.
            Some(json!([{
                "ActivityId": "5b7c2a2e-0d3c-4f2e-9a51-7c1f0e4b2d11",
                "ServiceNamespace": "sagemaker",
                "ResourceId": target,
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                "Description": "Setting desired instance count to 4.",
                "Cause": "monitor alarm TargetTracking-AlarmHigh in state ALARM triggered policy invocations-per-instance",
                "StartTime": at.timestamp() as f64,
                "EndTime": (at + chrono::Duration::minutes(4)).timestamp() as f64,
                "StatusCode": "Failed",
                "StatusMessage": format!(
                    "Failed to set desired instance count to 4. Reason: Unable to provision requested ML compute capacity due to \
                     InsufficientInstanceCapacity error for instance type {instance_type}. Please retry using a different ML instance type \
                     or after some time."
                ),
            }]))
        }
        _ => None,
    };
    let moto_lacks = (seeded_instance_type(&world.instance_type) != world.instance_type).then(|| instance_type.to_string());
    let proxy = QuotaProxy::start_with(
        &args.upstream,
        Quotas::real(),
        Fills { endpoint_created, scaling_activities, instance_type: moto_lacks },
        "127.0.0.1:0",
    )
    .await?;
    let promql = match (&args.prometheus, &args.promql_url_file) {
        (Some(prom), Some(file)) => {
            let s = CloudWatchPromQl::start(prom, Options::default()).await?;
            std::fs::write(file, &s.url).with_context(|| file.clone())?;
            Some(s)
        }
        _ => None,
    };
    std::fs::write(&args.url_file, &proxy.url).with_context(|| args.url_file.clone())?;
    // Until the demo stops it (SIGTERM to its process group).
    std::future::pending::<()>().await;
    drop((proxy, promql));
    Ok(())
}
