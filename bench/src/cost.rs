//! What 1,000 alarms cost in USD, from calls counted here against published list prices.
//!
//! - AWS calls of one enriched alarm: the library's enrichment in-process against the fake AWS
//!   (`fake_aws`, 3 instances × 4 GPUs, LLM signals through its PromQL API), every request counted
//!   by operation, GetMetricData's metrics (what CloudWatch bills) counted per request.
//! - The state table: the library's `App` with a Slack app and a PagerDuty receiver, each alarm's
//!   ALARM and then its OK, against moto's DynamoDB behind the tests' counting stand-in
//!   (`sagealarm_testkit::quota`, no quota): requests by operation.
//! - Lambda: the function's memory from template.yaml's `FunctionMemoryMB` default, billed for the
//!   measured enrichment wall time (the fake adds `--latency-ms` to every call) plus
//!   [`DELIVERY_MS`] of delivery, per notification (an ALARM and its OK are two invocations).
//!
//! Prices: [`PRICES`], us-east-1, list prices as published on the AWS pricing pages (date in
//! [`PRICED_ON`]); free tiers are left out (they make small volumes free).

use crate::fake_aws::{FakeAws, World};
use crate::receivers::Receivers;
use anyhow::{bail, Context, Result};
use sagealarm::app::{App, EnrichMode};
use sagealarm::deliver::http::RetryPolicy;
use sagealarm::deliver::Routing;
use sagealarm::enrich::{EnrichSettings, Enricher};
use sagealarm::model::Notification;
use sagealarm::promql::{PromQl, PromQlSettings, Source};
use sagealarm::secrets::SecretResolver;
use sagealarm::state::StateTable;
use sagealarm_testkit::quota::{QuotaProxy, Quotas};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// When the prices below were read from the AWS pricing pages.
pub const PRICED_ON: &str = "2026-12-07";

/// USD, us-east-1, on-demand list prices.
pub struct Prices {
    /// Lambda, arm64, per GB-second (first 7.5 billion GB-s a month).
    pub lambda_gb_s: f64,
    /// Lambda, per request.
    pub lambda_request: f64,
    /// CloudWatch GetMetricData, per metric requested.
    pub get_metric_data_metric: f64,
    /// CloudWatch API requests (ListMetrics, DescribeAlarms, DescribeAlarmContributors,
    /// ListTagsForResource), per request.
    pub cloudwatch_request: f64,
    /// DynamoDB on-demand, per write request unit / read request unit.
    pub dynamodb_write: f64,
    pub dynamodb_read: f64,
}

pub const PRICES: Prices = Prices {
    lambda_gb_s: 0.000_013_333_4,
    lambda_request: 0.20 / 1e6,
    get_metric_data_metric: 0.01 / 1e3,
    cloudwatch_request: 0.01 / 1e3,
    dynamodb_write: 0.625 / 1e6,
    dynamodb_read: 0.125 / 1e6,
};

/// Delivery's share of an invocation: Slack and PagerDuty are posted side by side; an HTTPS
/// round trip from Lambda to either is ~100–300 ms.
pub const DELIVERY_MS: f64 = 300.0;

/// Operations without a per-request price: SageMaker Describe/List, Application Auto Scaling,
/// CloudWatch Logs FilterLogEvents (Logs bills ingestion and storage, not this call).
const UNPRICED: &[&str] = &[
    "DescribeEndpoint",
    "DescribeEndpointConfig",
    "ListInferenceComponents",
    "DescribeInferenceComponent",
    "ListTags",
    "DescribeScalableTargets",
    "DescribeScalingPolicies",
    "DescribeScalingActivities",
    "FilterLogEvents",
];

pub fn run(aws: &str, latency: Duration, alarms: usize, out: &Path) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(measure(aws, latency, alarms.max(1), out))
}

async fn measure(aws: &str, latency: Duration, alarms: usize, out: &Path) -> Result<()> {
    // 1. One enriched alarm's AWS calls and PromQL requests, and its wall time.
    let fake = FakeAws::start(World { instances: 3, gpus: 4 }, latency)?;
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&fake.url)
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(aws_credential_types::Credentials::new(
            "bench", "bench", None, None, "bench",
        )))
        .build();
    let alarm = alarm()?;
    let target = sagealarm::subject::resolve(&alarm);
    let settings = PromQlSettings { source: Source::CloudWatch, base_url: Some(fake.url.clone()), ..PromQlSettings::default() };
    let mut walls = vec![];
    for _ in 0..alarms {
        // A new instance per alarm: discovery and the clients' connections are paid each time,
        // as on a cold start (the dearer case).
        let enricher = Enricher::new(&sdk, EnrichSettings::default()).with_promql(PromQl::new(&settings, &sdk));
        // As the app does: the alarm's tags looked up beside the enrichment (SNS carries none).
        let (e, (_, tag_note, _)) = tokio::join!(enricher.enrich(&alarm, &target), enricher.alarm_tags(&alarm));
        if !e.notes.is_empty() || tag_note.is_some() {
            bail!("enrichment left notes: {:?} {tag_note:?}", e.notes);
        }
        walls.push(e.stats.as_ref().map(|s| s.elapsed_ms as f64).unwrap_or_default());
    }
    let per = |n: u32| f64::from(n) / alarms as f64;
    let counts = fake.counts();
    let metrics = per(fake.metrics_requested());
    let priced: f64 = counts.iter().filter(|(op, _)| is_cloudwatch_request(op)).map(|(_, n)| per(*n)).sum();
    let promql_requests: f64 = counts.iter().filter(|(op, _)| op.starts_with("PromQL")).map(|(_, n)| per(*n)).sum();
    let wall_ms = crate::summary(&walls).0;

    // 2. The state table's requests per notification (ALARM, then its OK).
    let dynamo = state_requests(aws, alarms).await?;
    let writes: f64 = ["PutItem", "UpdateItem", "DeleteItem"].iter().map(|op| dynamo.get(*op).copied().unwrap_or(0.0)).sum();
    let reads: f64 = ["GetItem", "Query"].iter().map(|op| dynamo.get(*op).copied().unwrap_or(0.0)).sum();

    // 3. Lambda: two invocations per alarm (its ALARM enriched, its OK enriched too).
    let memory_gb = memory_mb()? / 1024.0;
    let gb_s = 2.0 * memory_gb * (wall_ms + DELIVERY_MS) / 1000.0;
    let p = &PRICES;
    let lines: Vec<(String, f64, f64)> = vec![
        (format!("Lambda duration: 2 invocations × {:.0} ms × {:.2} GB", wall_ms + DELIVERY_MS, memory_gb), gb_s, gb_s * p.lambda_gb_s),
        ("Lambda requests".into(), 2.0, 2.0 * p.lambda_request),
        (
            format!("GetMetricData: metrics requested ({:.0} per notification)", metrics),
            2.0 * metrics,
            2.0 * metrics * p.get_metric_data_metric,
        ),
        ("Other CloudWatch API requests (ListMetrics, DescribeAlarms…)".into(), 2.0 * priced, 2.0 * priced * p.cloudwatch_request),
        ("DynamoDB write request units".into(), writes, writes * p.dynamodb_write),
        ("DynamoDB read request units".into(), reads, reads * p.dynamodb_read),
    ];
    let total: f64 = lines.iter().map(|l| l.2).sum();
    println!("\nCost per 1,000 alarms (each an ALARM and its OK), us-east-1 list prices of {PRICED_ON}, free tiers left out:\n");
    println!("| item | per alarm | USD per 1,000 alarms |");
    println!("|---|---:|---:|");
    for (what, qty, usd) in &lines {
        println!("| {what} | {} | {:.4} |", crate::fmt(*qty, ""), usd * 1000.0);
    }
    println!("| **total** | | **{:.4}** |", total * 1000.0);
    println!(
        "\nCounted, not priced: {promql_requests:.0} PromQL requests per notification (CloudWatch's PromQL queries are billed as \
         metric queries; no per-request price is published), SageMaker, Application Auto Scaling and Logs FilterLogEvents calls."
    );
    eprintln!("bench: cost: calls per enriched alarm by operation over {alarms} alarms: {counts:?}; DynamoDB per alarm: {dynamo:?}");
    crate::append(
        out,
        "Cost per 1,000 alarms (ALARM + OK each), USD",
        &format!("calls counted against a fake AWS and moto's DynamoDB, us-east-1 list prices of {PRICED_ON} (docs/performance.md)"),
        "USD",
        &[total * 1000.0],
    )
}

fn is_cloudwatch_request(op: &str) -> bool {
    !op.starts_with("PromQL") && op != "GetMetricData" && !UNPRICED.contains(&op)
}

fn alarm() -> Result<sagealarm::model::Alarm> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/sns-gpu-utilization-alarm.json");
    let raw = std::fs::read_to_string(path).context(path)?;
    // The alarm fired a minute ago, as for the other rows.
    let anchor = (chrono::Utc::now() - chrono::Duration::minutes(1)).format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
    match sagealarm::intake::parse_bytes(raw.replace("2026-11-20T14:07:31.512+0000", &anchor).as_bytes())?.remove(0) {
        Notification::Alarm(a) => Ok(*a),
        Notification::Plain(_) => bail!("{path}: not an alarm"),
    }
}

/// template.yaml's `FunctionMemoryMB` default.
fn memory_mb() -> Result<f64> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let t = std::fs::read_to_string(path).context(path)?;
    let at = t.find("\n  FunctionMemoryMB:").context("FunctionMemoryMB in template.yaml")?;
    let line = t[at..].lines().find(|l| l.trim_start().starts_with("Default:")).context("its Default")?;
    Ok(line.trim_start()["Default:".len()..].trim().parse()?)
}

/// DynamoDB requests per alarm (its ALARM and its OK) through a Slack app and a PagerDuty receiver.
async fn state_requests(aws: &str, alarms: usize) -> Result<BTreeMap<String, f64>> {
    let receivers = Receivers::start()?;
    let doc = format!(
        "receivers:\n  - {{name: app, slack_app: {{token: xoxb-bench, channel: C0BENCH0001, api_url: \"{u}/api\"}}}}\n  - {{name: pd, pagerduty: {{routing_key: 0123456789abcdef0123456789abcdef, events_url: \"{u}/pd\"}}}}\nroute: {{receivers: [app, pd]}}",
        u = receivers.url
    );
    let quotas = Quotas::new(&[]);
    let proxy = QuotaProxy::start(aws, quotas.clone()).await?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&proxy.url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new("bench", "bench", None, None, "bench"))
        .load()
        .await;
    let table = format!("sagealarm-cost-{}", std::process::id());
    sagealarm_testkit::create_state_table(&sdk, &table).await?;
    let before = quotas.counts();
    let app = App::new(Routing::parse(&doc)?, SecretResolver::new(None, true), EnrichMode::Off("bench".into()), RetryPolicy::default())?
        .with_state(StateTable::new(&sdk, &table));
    for i in 0..alarms {
        for fixture in ["sns-high-concurrency-alarm.json", "sns-high-concurrency-ok.json"] {
            let path = format!("{}/../events/{fixture}", env!("CARGO_MANIFEST_DIR"));
            let raw = std::fs::read_to_string(&path).context(path)?;
            let event: Value = serde_json::from_str(&raw.replace("deepgram-high-concurrency", &format!("cost-{i}")))?;
            app.handle(&event).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    let after = quotas.counts();
    Ok(after
        .iter()
        .map(|(op, c)| (op.clone(), (c.calls - before.get(op).map(|b| b.calls).unwrap_or(0)) as f64 / alarms as f64))
        .filter(|(_, n)| *n > 0.0)
        .collect())
}
