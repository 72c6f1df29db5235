//! Endpoint worlds for emulated AWS: a SageMaker endpoint (moto), its per-instance and per-GPU
//! metrics (LocalStack CloudWatch), its container logs (moto Logs) and its autoscaling (moto
//! Application Auto Scaling: target and policy; moto has no scaling activities), all around one
//! anchor time. Used by `shared/tests/emulated.rs` and by the local demo (`seed-world`).

pub mod http;
pub mod promql;
pub mod quota;
pub mod slack_api;

use anyhow::{Context, Result};
use aws_sdk_cloudwatch::primitives::DateTime as AwsTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit, StatisticSet};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_sagemaker::types::{
    ContainerDefinition, MetricsConfig, ProductionVariant, ProductionVariantInstanceType, ProductionVariantServerlessConfig,
};
use chrono::{DateTime, Duration, Utc};

/// The secret access key of the emulators' test credentials (`scripts/emulators.sh` sets
/// `AWS_SECRET_ACCESS_KEY=test`): the PromQL stand-in checks signatures with it.
pub const TEST_SECRET: &str = "test";

pub const ENDPOINTS_NS: &str = "/aws/sagemaker/Endpoints";
pub const COMPONENTS_NS: &str = "/aws/sagemaker/InferenceComponents";
pub const INVOCATIONS_NS: &str = "AWS/SageMaker";

/// What to seed.
#[derive(Debug, Clone)]
pub struct World {
    pub endpoint: String,
    pub variant: String,
    pub instances: Vec<String>,
    pub gpus_per_instance: u32,
    /// `MetricsConfig.EnableEnhancedMetrics`; when off no per-instance metrics are published.
    pub enhanced_metrics: bool,
    /// A serverless variant (4096 MB) instead of instances, with its own metric set under a burst.
    pub serverless: Option<ServerlessWorld>,
    /// The instance index and GPU that run hot (99 %) and log CUDA out-of-memory errors.
    pub hot: Option<(usize, u32)>,
    pub log_group: bool,
    /// An inference component whose containers publish metrics (moto cannot create it).
    pub component: Option<String>,
    /// Minutes between seeded datapoints: LocalStack takes ~10 ms per datum, so tests seed
    /// sparsely and the demo densely.
    pub step_minutes: i64,
    /// Instances scaled in or replaced: `(id, minutes before the anchor of their last datapoint)`.
    /// CloudWatch still lists their streams; they must not count.
    pub gone: Vec<(String, i64)>,
    /// Benign ERROR lines the hot instance logs before the state change, several a second.
    pub noise: usize,
    /// Invocations per minute on each instance that is not hot (the hot one takes 420).
    pub invocations_per_minute: f64,
    /// Registered with Application Auto Scaling, or not.
    pub autoscaling: Option<Autoscaling>,
    /// The variant's instance type.
    pub instance_type: ProductionVariantInstanceType,
}

/// A variant's scalable target and its target-tracking policy on invocations per instance.
#[derive(Debug, Clone, Copy)]
pub struct Autoscaling {
    pub min: i32,
    pub max: i32,
    pub target_invocations: f64,
}

impl World {
    /// The named scenarios the tests and the demo use.
    pub fn scenario(name: &str, endpoint: &str) -> Result<Self> {
        let base = World {
            endpoint: endpoint.into(),
            variant: "AllTraffic".into(),
            instances: vec!["i-0a1b2c3d4e5f60718".into(), "i-0b2c3d4e5f6071829".into(), "i-0c3d4e5f607182930".into()],
            gpus_per_instance: 4,
            enhanced_metrics: true,
            serverless: None,
            hot: None,
            log_group: true,
            component: None,
            step_minutes: 5,
            gone: vec![],
            noise: 0,
            invocations_per_minute: 150.0,
            autoscaling: None,
            instance_type: ProductionVariantInstanceType::MlG4Dn12Xlarge,
        };
        // The LLM worlds' two instances, as `scripts/promql_world.py` names them in its PromQL
        // metrics (KV cache, queue, TTFT, capacity errors: the demo serves those from Prometheus).
        let llm_hosts = vec!["i-0a1b2c3d4e5f60001".to_string(), "i-0a1b2c3d4e5f60002".to_string()];
        let four = (1..=4).map(|i| format!("i-0{i}a1b2c3d4e5f6071")).collect::<Vec<_>>();
        Ok(match name {
            "hot-gpu" => World { hot: Some((1, 2)), ..base },
            "even" => base,
            "enhanced-off" => World { enhanced_metrics: false, ..base },
            "no-log-group" => World { hot: Some((1, 2)), log_group: false, ..base },
            // The burst: provisioned concurrency 4 full, 40 invocations a minute spilling to
            // on-demand, cold starts of ~8.2 s, overhead latency up to 2.9 s.
            "serverless" => World { serverless: Some(ServerlessWorld::PROVISIONED), instances: vec![], gpus_per_instance: 0, ..base },
            // No provisioned concurrency: the burst reaches max concurrency 5, cold starts of ~6.1 s.
            "serverless-on-demand" => {
                World { serverless: Some(ServerlessWorld::ON_DEMAND), instances: vec![], gpus_per_instance: 0, ..base }
            }
            "inference-component" => World { component: Some(format!("{endpoint}-ic")), hot: Some((0, 0)), ..base },
            // After a scale-in: three live instances (one hot GPU), three gone (two replaced 40 min
            // before the alarm, one 5 h before), and 12,000 benign ERROR lines before the OOM.
            "scaled-in-noisy" => World {
                hot: Some((1, 2)),
                gone: vec![("i-0d4e5f60718293a41".into(), 40), ("i-0e5f60718293a4b52".into(), 40), ("i-0f60718293a4b5c63".into(), 300)],
                noise: 12_000,
                ..base
            },
            // Pinned at its maximum: 4 of 4 instances, 142 invocations a minute each against a target of 70.
            "at-max" => World {
                instances: four,
                invocations_per_minute: 142.0,
                autoscaling: Some(Autoscaling { min: 2, max: 4, target_invocations: 70.0 }),
                ..base
            },
            // Room to grow and under its target: autoscaling is not the story.
            "scaling" => {
                World { invocations_per_minute: 60.0, autoscaling: Some(Autoscaling { min: 2, max: 8, target_invocations: 70.0 }), ..base }
            }
            // An LLM endpoint on two ml.g6e.12xlarge whose GPUs look even: what explains its latency
            // (a full KV cache on one copy) is in the PromQL metrics.
            "llm-kv-cache" => World {
                instances: llm_hosts,
                instance_type: ProductionVariantInstanceType::MlG6E12Xlarge,
                invocations_per_minute: 90.0,
                ..base
            },
            // Two ml.p5.48xlarge in one zone, autoscaled up to 4, that could not grow: insufficient
            // capacity (the PromQL metrics count the errors; the scaling activity failed).
            "capacity-error" => World {
                // The hosts of the capacity world in scripts/promql_world.py.
                instances: vec!["i-0c1d2e3f4a5b60001".to_string(), "i-0c1d2e3f4a5b60002".to_string()],
                gpus_per_instance: 8,
                instance_type: ProductionVariantInstanceType::MlP548Xlarge,
                invocations_per_minute: 140.0,
                autoscaling: Some(Autoscaling { min: 2, max: 4, target_invocations: 70.0 }),
                ..base
            },
            other => {
                anyhow::bail!(
                    "unknown scenario {other:?}: hot-gpu, even, enhanced-off, no-log-group, serverless, serverless-on-demand, inference-component, scaled-in-noisy, at-max, scaling, llm-kv-cache, capacity-error"
                )
            }
        })
    }
}

/// A serverless variant and the burst its metrics show.
#[derive(Debug, Clone, Copy)]
pub struct ServerlessWorld {
    pub max_concurrency: i32,
    pub provisioned_concurrency: Option<i32>,
    /// Concurrent executions ÷ max concurrency, before and at the height of the burst.
    pub utilization: (f64, f64),
    /// Invocations per minute, before and during the burst.
    pub invocations: (f64, f64),
    /// Cold starts per burst minute and how long each took (µs): min, max.
    pub cold_starts: (f64, f64, f64),
    /// OverheadLatency at the burst's worst minute (µs).
    pub overhead_max_us: f64,
    /// Throttled requests (4XX) per minute at the burst's height.
    pub throttled: f64,
}

impl ServerlessWorld {
    pub const PROVISIONED: Self = Self {
        max_concurrency: 20,
        provisioned_concurrency: Some(4),
        utilization: (0.1, 0.45),
        invocations: (60.0, 200.0),
        cold_starts: (2.0, 8.0e6, 8.4e6),
        overhead_max_us: 2.9e6,
        throttled: 0.0,
    };
    pub const ON_DEMAND: Self = Self {
        max_concurrency: 5,
        provisioned_concurrency: None,
        utilization: (0.2, 0.97),
        invocations: (30.0, 150.0),
        cold_starts: (1.0, 6.0e6, 6.2e6),
        overhead_max_us: 2.4e6,
        throttled: 12.0,
    };
}

/// Whether the emulators are up (`SAGEALARM_EMULATORS=1`, set by `scripts/emulators.sh env`).
/// Without them a test says so and passes, unless `SAGEALARM_REQUIRE_EMULATORS=1` (set by
/// `scripts/test.sh`), which makes it fail instead, so CI cannot skip them silently.
pub fn emulators() -> bool {
    if std::env::var("SAGEALARM_EMULATORS").as_deref() == Ok("1") {
        return true;
    }
    assert!(
        std::env::var("SAGEALARM_REQUIRE_EMULATORS").as_deref() != Ok("1"),
        "SAGEALARM_REQUIRE_EMULATORS=1 but the emulators are not running (scripts/emulators.sh start)"
    );
    eprintln!("skipped: emulators not running (scripts/test.sh starts them)");
    false
}

/// The SDK configuration from the environment (`AWS_ENDPOINT_URL_*` → the emulators).
pub async fn sdk() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// Seeds the endpoint, its metrics from `anchor − 60 min` to `anchor + 2 min` and its logs.
pub async fn seed(sdk: &aws_config::SdkConfig, w: &World, anchor: DateTime<Utc>) -> Result<()> {
    seed_endpoint(&aws_sdk_sagemaker::Client::new(sdk), w).await.context("seeding SageMaker")?;
    seed_metrics(&aws_sdk_cloudwatch::Client::new(sdk), w, anchor).await.context("seeding CloudWatch metrics")?;
    if w.log_group {
        seed_logs(&aws_sdk_cloudwatchlogs::Client::new(sdk), w, anchor).await.context("seeding CloudWatch Logs")?;
    }
    if let Some(a) = w.autoscaling {
        seed_autoscaling(&aws_sdk_applicationautoscaling::Client::new(sdk), w, a).await.context("seeding Application Auto Scaling")?;
    }
    Ok(())
}

/// RegisterScalableTarget + PutScalingPolicy, as `aws application-autoscaling` would.
pub async fn seed_autoscaling(aas: &aws_sdk_applicationautoscaling::Client, w: &World, a: Autoscaling) -> Result<()> {
    use aws_sdk_applicationautoscaling::types::{
        MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
        TargetTrackingScalingPolicyConfiguration,
    };
    let id = format!("endpoint/{}/variant/{}", w.endpoint, w.variant);
    aas.register_scalable_target()
        .service_namespace(ServiceNamespace::Sagemaker)
        .resource_id(&id)
        .scalable_dimension(ScalableDimension::SageMakerVariantDesiredInstanceCount)
        .min_capacity(a.min)
        .max_capacity(a.max)
        .send()
        .await
        .context("RegisterScalableTarget")?;
    let metric =
        PredefinedMetricSpecification::builder().predefined_metric_type(MetricType::SageMakerVariantInvocationsPerInstance).build()?;
    let config = TargetTrackingScalingPolicyConfiguration::builder()
        .target_value(a.target_invocations)
        .predefined_metric_specification(metric)
        .scale_out_cooldown(300)
        .scale_in_cooldown(600)
        .build()?;
    aas.put_scaling_policy()
        .policy_name(format!("{}-invocations", w.endpoint))
        .service_namespace(ServiceNamespace::Sagemaker)
        .resource_id(&id)
        .scalable_dimension(ScalableDimension::SageMakerVariantDesiredInstanceCount)
        .policy_type(PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(config)
        .send()
        .await
        .context("PutScalingPolicy")?;
    Ok(())
}

/// Only the SageMaker side: model, endpoint config, endpoint.
/// A concurrency alarm named `name` in CloudWatch, put in `state`: the remediation function asks
/// CloudWatch whether the alarm is still in ALARM.
pub async fn seed_alarm(sdk: &aws_config::SdkConfig, name: &str, state: aws_sdk_cloudwatch::types::StateValue) -> Result<()> {
    let cw = aws_sdk_cloudwatch::Client::new(sdk);
    cw.put_metric_alarm()
        .alarm_name(name)
        .namespace("AWS/SageMaker")
        .metric_name("ConcurrentRequestsPerModel")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Maximum)
        .period(60)
        .evaluation_periods(3)
        .threshold(80.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanOrEqualToThreshold)
        // No data is ever put: "ignore" keeps the state set below when the emulator evaluates the
        // alarm in the background (otherwise it turns INSUFFICIENT_DATA mid-test).
        .treat_missing_data("ignore")
        .send()
        .await
        .context("PutMetricAlarm")?;
    cw.set_alarm_state().alarm_name(name).state_value(state).state_reason("seeded").send().await.context("SetAlarmState")?;
    Ok(())
}

/// Opts `endpoint` in to `actions` (`scale-out`, …) with its `sagealarm:remediate` tag, as an
/// operator would.
pub async fn opt_in(sm: &aws_sdk_sagemaker::Client, endpoint: &str, actions: &str) -> Result<()> {
    let d = sm.describe_endpoint().endpoint_name(endpoint).send().await.context("DescribeEndpoint")?;
    let arn = d.endpoint_arn().context("DescribeEndpoint returned no ARN")?;
    let tag = aws_sdk_sagemaker::types::Tag::builder().key(sagealarm::model::OPT_IN_TAG).value(actions).build();
    sm.add_tags().resource_arn(arn).tags(tag).send().await.context("AddTags")?;
    Ok(())
}

/// The sample concurrency ALARM notification (`events/sns-high-concurrency-alarm.json`), about
/// `endpoint` and from the alarm named `alarm`.
pub fn concurrency_alarm_event(endpoint: &str, alarm: &str) -> Result<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/sns-high-concurrency-alarm.json");
    let raw = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    Ok(raw.replace("deepgram-prod", endpoint).replace("deepgram-high-concurrency", alarm))
}

pub async fn seed_endpoint(sm: &aws_sdk_sagemaker::Client, w: &World) -> Result<()> {
    let model = format!("{}-model", w.endpoint);
    sm.create_model()
        .model_name(&model)
        .execution_role_arn("arn:aws:iam::123456789012:role/sagemaker-execution")
        .primary_container(
            ContainerDefinition::builder().image("123456789012.dkr.ecr.us-east-1.amazonaws.com/whisper-server:1.4.2").build(),
        )
        .send()
        .await?;
    let mut variant = ProductionVariant::builder().variant_name(&w.variant).model_name(&model);
    variant = if let Some(s) = &w.serverless {
        variant.serverless_config(
            ProductionVariantServerlessConfig::builder()
                .memory_size_in_mb(4096)
                .max_concurrency(s.max_concurrency)
                .set_provisioned_concurrency(s.provisioned_concurrency)
                .build(),
        )
    } else {
        variant
            .instance_type(seeded_instance_type(&w.instance_type))
            .initial_instance_count(w.instances.len() as i32)
            .initial_variant_weight(1.0)
    };
    let config = format!("{}-cfg", w.endpoint);
    let mut req = sm.create_endpoint_config().endpoint_config_name(&config).production_variants(variant.build());
    if w.serverless.is_none() {
        req = req.metrics_config(
            MetricsConfig::builder().enable_enhanced_metrics(w.enhanced_metrics).metric_publish_frequency_in_seconds(10).build(),
        );
    }
    req.send().await?;
    sm.create_endpoint().endpoint_name(&w.endpoint).endpoint_config_name(&config).send().await?;
    Ok(())
}

/// The instance type moto is given for `t`: its CreateEndpointConfig refuses types newer than its
/// list (g5, g6, g6e, p4d, p5, inf2, trn1 among them), so such a world is seeded as an
/// ml.g4dn.12xlarge and the demo's stand-in answers DescribeEndpointConfig with the world's own type
/// ([`quota::Fills::instance_type`]).
pub fn seeded_instance_type(t: &ProductionVariantInstanceType) -> ProductionVariantInstanceType {
    const NEWER: &[&str] = &["ml.g5.", "ml.g6.", "ml.g6e.", "ml.p4d.", "ml.p4de.", "ml.p5.", "ml.p5e.", "ml.p5en.", "ml.inf2.", "ml.trn1."];
    match NEWER.iter().any(|p| t.as_str().starts_with(p)) {
        true => ProductionVariantInstanceType::MlG4Dn12Xlarge,
        false => t.clone(),
    }
}

/// A deterministic wobble so the sparklines look like real load, not flat lines.
fn wobble(seed: usize, minute: i64) -> f64 {
    let x = (seed as i64 * 7919 + minute * 104_729).rem_euclid(1000);
    (x as f64 / 1000.0 - 0.5) * 6.0
}

fn dims(pairs: &[(&str, &str)]) -> Vec<Dimension> {
    pairs.iter().map(|(n, v)| Dimension::builder().name(*n).value(*v).build()).collect()
}

async fn seed_metrics(cw: &aws_sdk_cloudwatch::Client, w: &World, anchor: DateTime<Utc>) -> Result<()> {
    let mut batches: Vec<(&str, Vec<MetricDatum>)> = vec![];
    let mut endpoints = vec![];
    let mut invocations = vec![];
    let mut components = vec![];
    // Ramp: the hot GPU climbs from 45 % to 99 % between 25 and 16 minutes before the alarm.
    for m in (-60..=2i64).filter(|m| m % w.step_minutes == 0) {
        let at = AwsTime::from_millis((anchor + Duration::minutes(m)).timestamp_millis());
        let datum = |name: &str, d: Vec<Dimension>, v: f64, unit: StandardUnit| {
            MetricDatum::builder().metric_name(name).set_dimensions(Some(d)).timestamp(at).value(v).unit(unit).build()
        };
        let hot_level = if m < -25 { 45.0 } else { (45.0 + (m + 25) as f64 * 6.0).min(99.0) };
        if w.serverless.is_some() {
            continue;
        }
        if !w.enhanced_metrics {
            // Only endpoint-level metrics exist.
            invocations.push(datum(
                "Invocations",
                dims(&[("EndpointName", &w.endpoint), ("VariantName", &w.variant)]),
                300.0,
                StandardUnit::None,
            ));
            continue;
        }
        for (i, inst) in w.instances.iter().enumerate() {
            let base = [("EndpointName", w.endpoint.as_str()), ("VariantName", w.variant.as_str()), ("InstanceId", inst.as_str())];
            let is_hot_instance = w.hot.is_some_and(|(h, _)| h == i);
            for g in 0..w.gpus_per_instance {
                let hot = w.hot == Some((i, g));
                let util = if hot { hot_level } else { 40.0 + wobble(i * 10 + g as usize, m) };
                let mem = if hot { (hot_level + 2.0).min(98.0) } else { 55.0 + wobble(i * 10 + g as usize + 5, m) };
                let gid = g.to_string();
                let mut d = base.to_vec();
                d.push(("GpuId", gid.as_str()));
                endpoints.push(datum("GPUUtilizationNormalized", dims(&d), util, StandardUnit::Percent));
                endpoints.push(datum("GPUMemoryUtilizationNormalized", dims(&d), mem, StandardUnit::Percent));
            }
            endpoints.push(datum("CPUUtilizationNormalized", dims(&base), 30.0 + wobble(i, m), StandardUnit::Percent));
            endpoints.push(datum("MemoryUtilization", dims(&base), 60.0 + wobble(i + 3, m), StandardUnit::Percent));
            // Streaming connections stay where they landed: the hot instance carries more.
            let conc = if is_hot_instance { 24.0 } else { 6.0 } + wobble(i + 7, m).abs();
            invocations.push(datum("ConcurrentRequestsPerModel", dims(&base), conc.round(), StandardUnit::None));
            invocations.push(datum(
                "Invocations",
                dims(&base),
                if is_hot_instance { 420.0 } else { w.invocations_per_minute },
                StandardUnit::None,
            ));
            let errors = if is_hot_instance && m > -10 { 6.0 } else { 0.0 };
            invocations.push(datum("Invocation5XXErrors", dims(&base), errors, StandardUnit::None));
        }
        if let Some(ic) = &w.component {
            for (c, container) in ["c-7f3e2a", "c-1a2b3c"].iter().enumerate() {
                let d = dims(&[("InferenceComponentName", ic), ("ContainerId", container)]);
                let v = if c == 0 { hot_level.min(97.0) } else { 41.0 + wobble(c, m) };
                components.push(datum("GPUMemoryUtilizationNormalized", d, v, StandardUnit::Percent));
            }
        }
    }
    // Scaled-in instances: the same streams, with data that stops long before the alarm.
    for (i, (inst, last)) in w.gone.iter().enumerate() {
        for m in (0..6).map(|k| -last - k * w.step_minutes) {
            let at = AwsTime::from_millis((anchor + Duration::minutes(m)).timestamp_millis());
            let base = [("EndpointName", w.endpoint.as_str()), ("VariantName", w.variant.as_str()), ("InstanceId", inst.as_str())];
            for g in 0..w.gpus_per_instance {
                let gid = g.to_string();
                let mut d = base.to_vec();
                d.push(("GpuId", gid.as_str()));
                let v = 35.0 + wobble(i + g as usize, m);
                endpoints.push(
                    MetricDatum::builder()
                        .metric_name("GPUUtilizationNormalized")
                        .set_dimensions(Some(dims(&d)))
                        .timestamp(at)
                        .value(v)
                        .unit(StandardUnit::Percent)
                        .build(),
                );
            }
        }
    }
    if let Some(s) = &w.serverless {
        invocations.extend(serverless_metrics(w, s, anchor));
    }
    batches.push((ENDPOINTS_NS, endpoints));
    batches.push((INVOCATIONS_NS, invocations));
    batches.push((COMPONENTS_NS, components));
    for (ns, data) in batches {
        for chunk in data.chunks(500) {
            cw.put_metric_data()
                .namespace(ns)
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .with_context(|| format!("PutMetricData {ns}"))?;
        }
    }
    Ok(())
}

/// The serverless set, every minute from 20 minutes before the alarm: steady load, then a burst
/// over the last nine minutes (peaking three minutes before the alarm), as SageMaker publishes it
/// (latencies as statistic sets: count, sum, min, max per minute).
fn serverless_metrics(w: &World, s: &ServerlessWorld, anchor: DateTime<Utc>) -> Vec<MetricDatum> {
    let d = dims(&[("EndpointName", &w.endpoint), ("VariantName", &w.variant)]);
    let mut out = vec![];
    for m in -20..=2i64 {
        let at = AwsTime::from_millis((anchor + Duration::minutes(m)).timestamp_millis());
        let value = |name: &str, v: f64, unit: StandardUnit| {
            MetricDatum::builder().metric_name(name).set_dimensions(Some(d.clone())).timestamp(at).value(v).unit(unit).build()
        };
        let set = |name: &str, count: f64, each_min: f64, each_max: f64, avg: f64| {
            let stats = StatisticSet::builder().sample_count(count).sum(count * avg).minimum(each_min).maximum(each_max).build();
            MetricDatum::builder()
                .metric_name(name)
                .set_dimensions(Some(d.clone()))
                .timestamp(at)
                .statistic_values(stats)
                .unit(StandardUnit::Microseconds)
                .build()
        };
        let burst = (-8..=0).contains(&m);
        let peak = (-3..=0).contains(&m);
        let invocations = if burst { s.invocations.1 } else { s.invocations.0 };
        let util = if peak {
            s.utilization.1
        } else if burst {
            (s.utilization.0 + s.utilization.1) / 2.0
        } else {
            s.utilization.0
        };
        out.push(value("ServerlessConcurrentExecutionsUtilization", util, StandardUnit::None));
        out.push(value("Invocations", invocations, StandardUnit::None));
        out.push(value("Invocation4XXErrors", if peak { s.throttled } else { 0.0 }, StandardUnit::None));
        out.push(value("Invocation5XXErrors", 0.0, StandardUnit::None));
        out.push(value("MemoryUtilization", 55.0 + if burst { 7.0 } else { 0.0 } + wobble(1, m), StandardUnit::Percent));
        let model_us = 400_000.0;
        out.push(set("ModelLatency", invocations, 150_000.0, 650_000.0, model_us));
        let (overhead_avg, overhead_max) =
            if burst { (900_000.0, if m == -7 { s.overhead_max_us } else { 2.6e6 }) } else { (30_000.0, 80_000.0) };
        out.push(set("OverheadLatency", invocations, 10_000.0, overhead_max.min(s.overhead_max_us), overhead_avg));
        if burst && m <= -5 {
            let (n, lo, hi) = s.cold_starts;
            out.push(set("ModelSetupTime", n, lo, hi, (lo + hi) / 2.0));
        }
        if let Some(pc) = s.provisioned_concurrency {
            let pc = f64::from(pc);
            // Full while the burst lasts; whatever did not fit spilled to on-demand capacity.
            let (served, used) = if burst { (s.invocations.1 - 40.0, pc) } else { (s.invocations.0, pc / 2.0) };
            out.push(value("ServerlessProvisionedConcurrencyExecutions", used, StandardUnit::None));
            out.push(value("ServerlessProvisionedConcurrencyUtilization", used / pc, StandardUnit::None));
            out.push(value("ServerlessProvisionedConcurrencyInvocations", served, StandardUnit::None));
            out.push(value("ServerlessProvisionedConcurrencySpilloverInvocations", if burst { 40.0 } else { 0.0 }, StandardUnit::None));
        }
    }
    out
}

async fn seed_logs(logs: &aws_sdk_cloudwatchlogs::Client, w: &World, anchor: DateTime<Utc>) -> Result<()> {
    let group = format!("/aws/sagemaker/Endpoints/{}", w.endpoint);
    logs.create_log_group().log_group_name(&group).send().await?;
    let streams: Vec<String> = if w.instances.is_empty() {
        vec![format!("{}/serverless", w.variant)]
    } else {
        w.instances.iter().map(|i| format!("{}/{i}", w.variant)).collect()
    };
    for (i, stream) in streams.iter().enumerate() {
        logs.create_log_stream().log_group_name(&group).log_stream_name(stream).send().await?;
        let hot = w.hot.is_some_and(|(h, _)| h == i);
        let mut lines: Vec<(i64, String)> = vec![];
        for m in -30..0i64 {
            lines.push((m, format!("INFO  whisper_server::http: POST /invocations 200 {}ms", 180 + (m.abs() * 7) % 90)));
            if hot && m > -12 {
                let gpu = w.hot.map(|(_, g)| g).unwrap_or(0);
                lines.push((m, format!(
                    "ERROR whisper_server::batch: batch of {} failed: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU {gpu}; 22.19 GiB total capacity; 21.40 GiB already allocated)",
                    8 + (m.abs() % 4)
                )));
            }
        }
        if hot {
            lines.push((-11, "WARNING config override max_batch_size=32 skipped: not supported by this container".into()));
            lines.push((-2, "thread 'tokio-runtime-worker' panicked at src/batch.rs:118:22: called `Result::unwrap()` on an `Err` value: DriverError(CUDA_ERROR_OUT_OF_MEMORY)".into()));
            lines.push((-2, "ERROR upstream token refresh failed for https://svc:hunter2@auth.internal/token (Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0cGF5bG9hZA.c2lnbmF0dXJlMTIz)".into()));
        }
        lines.sort_by_key(|(m, _)| *m);
        let mut events: Vec<(i64, String)> = lines
            .iter()
            .enumerate()
            .map(|(k, (m, msg))| ((anchor + Duration::minutes(*m) + Duration::milliseconds(k as i64)).timestamp_millis(), msg.clone()))
            .collect();
        if hot && w.noise > 0 {
            // A benign ERROR many times a second, from 40 to 3 minutes before the state change.
            let from = (anchor - Duration::minutes(40)).timestamp_millis();
            let step = (37 * 60_000 / w.noise as i64).max(1);
            events
                .extend((0..w.noise as i64).map(|k| (from + k * step, format!("ERROR cache: miss for prompt prefix {k:x}, recomputing"))));
            events.sort_by_key(|(t, _)| *t);
        }
        // PutLogEvents takes at most 10,000 events a call, in time order.
        for chunk in events.chunks(10_000) {
            let batch: Vec<InputLogEvent> =
                chunk.iter().map(|(t, msg)| InputLogEvent::builder().timestamp(*t).message(msg).build()).collect::<Result<_, _>>()?;
            logs.put_log_events().log_group_name(&group).log_stream_name(stream).set_log_events(Some(batch)).send().await?;
        }
    }
    Ok(())
}

/// A name no other test of this run uses: `prefix-<pid>-<n>` (tables and alarms on a shared
/// emulator).
pub fn unique(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!("{prefix}-{}-{}", std::process::id(), COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
}

/// A fresh incident state table on the emulator, named [`unique`] under `prefix`.
pub async fn fresh_state_table(prefix: &str) -> Result<sagealarm::state::StateTable> {
    let sdk = sdk().await;
    let name = unique(prefix);
    create_state_table(&sdk, &name).await?;
    Ok(sagealarm::state::StateTable::new(&sdk, name))
}

/// The delivery retry policy of the tests against local stand-ins: one retry, milliseconds apart.
pub fn quick_retry() -> sagealarm::deliver::http::RetryPolicy {
    sagealarm::deliver::http::RetryPolicy {
        max_retries: 1,
        min_delay: std::time::Duration::from_millis(10),
        max_delay: std::time::Duration::from_millis(20),
        retry_after_jitter: std::time::Duration::from_millis(10),
        deadline_margin: std::time::Duration::from_millis(100),
        request_timeout: std::time::Duration::from_secs(3),
    }
}

/// Creates the incident state table as `template.yaml` declares it (partition key `pk`, TTL on
/// `expires_at`, on-demand) on the emulator; an existing one is kept.
pub async fn create_state_table(sdk: &aws_config::SdkConfig, name: &str) -> Result<()> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
    };
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let created = ddb
        .create_table()
        .table_name(name)
        .attribute_definitions(AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build()?)
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build()?)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => return Ok(()),
        Err(e) => return Err(anyhow::anyhow!(sagealarm::aws::error_line(&e))).context("creating the state table"),
    }
    ddb.update_time_to_live()
        .table_name(name)
        .time_to_live_specification(TimeToLiveSpecification::builder().attribute_name("expires_at").enabled(true).build()?)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(sagealarm::aws::error_line(&e)))
        .context("enabling TTL on the state table")?;
    Ok(())
}
