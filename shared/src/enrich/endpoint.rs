//! The endpoint: status, config, per-variant capacity, enhanced metrics, inference components.
//! DescribeEndpoint → DescribeEndpointConfig (instance types) → ListInferenceComponents →
//! DescribeInferenceComponent (copies), the last two only for component-based endpoints.

use super::fleet::Fleet;
use super::{Chain, Ctx, Failure};
use crate::aws::time;
use crate::model::EndpointStatus;
use crate::subject::SageMakerTarget;
use aws_sdk_sagemaker::Client;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// At most this many components are described (one call each).
const MAX_COMPONENTS: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointInfo {
    pub name: String,
    pub status: EndpointStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub config_name: Option<String>,
    pub created: Option<DateTime<Utc>>,
    pub last_modified: Option<DateTime<Utc>>,
    pub variants: Vec<VariantInfo>,
    /// `None` when neither the endpoint nor its config said.
    pub enhanced_metrics: Option<EnhancedMetrics>,
    pub components: Vec<ComponentInfo>,
    /// The `sagealarm:remediate` tag (actions the endpoint opted in to), when tags were read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediate: Option<String>,
    /// The `sagealarm:last-action` tag (`<RFC3339 time> <alarm key>`): what sagealarm itself last
    /// did to the endpoint, for "Recent changes". Read by the same ListTags call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_action: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EnhancedMetrics {
    pub enabled: bool,
    pub frequency_s: Option<i32>,
    /// Not stated by the API (MetricsConfig absent) but evident from per-instance metrics.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inferred: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantInfo {
    pub name: String,
    pub instance_type: Option<String>,
    pub current_instances: Option<i32>,
    pub desired_instances: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serverless: Option<Serverless>,
    /// Managed instance scaling (inference-component endpoints): min, max.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_scaling: Option<(i32, i32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Serverless {
    pub memory_mb: Option<i32>,
    pub max_concurrency: Option<i32>,
    pub provisioned_concurrency: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentInfo {
    pub name: String,
    pub status: Option<String>,
    pub endpoint: Option<String>,
    pub variant: Option<String>,
    pub current_copies: Option<i32>,
    pub desired_copies: Option<i32>,
}

impl EndpointInfo {
    pub fn is_serverless(&self) -> bool {
        !self.variants.is_empty() && self.variants.iter().all(|v| v.serverless.is_some())
    }

    pub fn variant(&self, name: Option<&str>) -> Option<&VariantInfo> {
        match name {
            Some(n) => self.variants.iter().find(|v| v.name == n),
            None => self.variants.first(),
        }
    }
}

/// `read_tags`: also ListTags, for the remediation buttons and sagealarm's own last action (only
/// when remediation is deployed: the call needs `sagemaker:ListTags`, which a read-only role
/// without remediation lacks, and without remediation there is no last action to read).
pub(super) async fn fetch(
    ctx: &Ctx,
    chain: &Chain,
    client: &Client,
    endpoint: &str,
    component: Option<&str>,
    read_tags: bool,
) -> Option<EndpointInfo> {
    let out = match ctx.call(chain, client.describe_endpoint().endpoint_name(endpoint).send()).await {
        Ok(o) => o,
        Err(f) => {
            ctx.note(
                "DescribeEndpoint",
                not_found(&f, || format!("endpoint {endpoint} does not exist (deleted, or another account/region)")),
            );
            return None;
        }
    };
    let mut info = EndpointInfo {
        name: endpoint.to_string(),
        status: out.endpoint_status().map(|s| EndpointStatus::parse(s.as_str())).unwrap_or_else(|| EndpointStatus::Other("unknown".into())),
        failure_reason: out.failure_reason().map(str::to_string),
        config_name: out.endpoint_config_name().map(str::to_string),
        created: time(out.creation_time()),
        last_modified: time(out.last_modified_time()),
        variants: out
            .production_variants()
            .iter()
            .map(|v| VariantInfo {
                name: v.variant_name().unwrap_or_default().to_string(),
                instance_type: None,
                current_instances: v.current_instance_count(),
                desired_instances: v.desired_instance_count(),
                serverless: v.current_serverless_config().or(v.desired_serverless_config()).map(serverless),
                managed_scaling: v.managed_instance_scaling().and_then(managed),
            })
            .collect(),
        enhanced_metrics: out.metrics_config().map(enhanced),
        components: vec![],
        remediate: None,
        last_action: None,
    };

    // ListTags and DescribeEndpointConfig both only need DescribeEndpoint: side by side.
    let (tags_chain, config_chain) = (Chain::default(), Chain::default());
    let tags = async {
        let arn = out.endpoint_arn().filter(|_| read_tags)?;
        match ctx.call(&tags_chain, client.list_tags().resource_arn(arn).send()).await {
            Ok(t) => {
                let tag = |key: &str| t.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value()).map(str::to_string);
                Some((tag(crate::model::OPT_IN_TAG), tag(crate::model::LAST_ACTION_TAG)))
            }
            Err(f) => {
                ctx.fail("ListTags", f);
                None
            }
        }
    };
    let config = async {
        match info.config_name.as_deref() {
            Some(c) => Some(ctx.call(&config_chain, client.describe_endpoint_config().endpoint_config_name(c).send()).await),
            None => None,
        }
    };
    let (tags, config) = futures::join!(tags, config);
    chain.then_longest([&tags_chain, &config_chain]);
    (info.remediate, info.last_action) = tags.unwrap_or_default();

    let mut component_based = component.is_some();
    if let Some(config) = config {
        match config {
            Ok(c) => {
                for pv in c.production_variants() {
                    let name = pv.variant_name().unwrap_or_default();
                    if let Some(v) = info.variants.iter_mut().find(|v| v.name == name) {
                        v.instance_type = pv.instance_type().map(|t| t.as_str().to_string());
                        v.serverless = v.serverless.or(pv.serverless_config().map(serverless));
                        v.managed_scaling = v.managed_scaling.or(pv.managed_instance_scaling().and_then(managed));
                    } else {
                        info.variants.push(VariantInfo {
                            name: name.to_string(),
                            instance_type: pv.instance_type().map(|t| t.as_str().to_string()),
                            current_instances: None,
                            desired_instances: pv.initial_instance_count(),
                            serverless: pv.serverless_config().map(serverless),
                            managed_scaling: None,
                        });
                    }
                    // Component-based endpoints host no model on the variant itself.
                    component_based |= pv.model_name().is_none() && pv.serverless_config().is_none();
                }
                info.enhanced_metrics = info.enhanced_metrics.or(c.metrics_config().map(enhanced));
            }
            Err(f) => ctx.fail("DescribeEndpointConfig", f),
        }
    }

    if component_based {
        info.components = components(ctx, chain, client, endpoint).await;
    }
    Some(info)
}

async fn components(ctx: &Ctx, chain: &Chain, client: &Client, endpoint: &str) -> Vec<ComponentInfo> {
    let listed = match ctx
        .call(chain, client.list_inference_components().endpoint_name_equals(endpoint).max_results(MAX_COMPONENTS as i32).send())
        .await
    {
        Ok(o) => o,
        Err(f) => {
            ctx.fail("ListInferenceComponents", f);
            return vec![];
        }
    };
    let names: Vec<String> =
        listed.inference_components().iter().filter_map(|c| c.inference_component_name().map(str::to_string)).collect();
    let branches: Vec<Chain> = names.iter().map(|_| Chain::default()).collect();
    let found = futures::future::join_all(names.iter().zip(&branches).map(|(n, c)| describe_component(ctx, c, client, n))).await;
    chain.then_longest(&branches);
    found.into_iter().flatten().collect()
}

pub(super) async fn describe_component(ctx: &Ctx, chain: &Chain, client: &Client, name: &str) -> Option<ComponentInfo> {
    match ctx.call(chain, client.describe_inference_component().inference_component_name(name).send()).await {
        Ok(o) => Some(ComponentInfo {
            name: name.to_string(),
            status: o.inference_component_status().map(|s| s.as_str().to_string()),
            endpoint: o.endpoint_name().map(str::to_string),
            variant: o.variant_name().map(str::to_string),
            current_copies: o.runtime_config().and_then(|r| r.current_copy_count()),
            desired_copies: o.runtime_config().and_then(|r| r.desired_copy_count()),
        }),
        Err(f) => {
            ctx.note("DescribeInferenceComponent", not_found(&f, || format!("inference component {name} does not exist")));
            None
        }
    }
}

fn serverless(s: &aws_sdk_sagemaker::types::ProductionVariantServerlessConfig) -> Serverless {
    Serverless {
        memory_mb: s.memory_size_in_mb(),
        max_concurrency: s.max_concurrency(),
        provisioned_concurrency: s.provisioned_concurrency(),
    }
}

fn managed(m: &aws_sdk_sagemaker::types::ProductionVariantManagedInstanceScaling) -> Option<(i32, i32)> {
    Some((m.min_instance_count()?, m.max_instance_count()?))
}

fn enhanced(m: &aws_sdk_sagemaker::types::MetricsConfig) -> EnhancedMetrics {
    EnhancedMetrics {
        enabled: m.enable_enhanced_metrics().unwrap_or(false),
        frequency_s: m.metric_publish_frequency_in_seconds(),
        inferred: false,
    }
}

/// SageMaker says "Could not find endpoint" as a ValidationException: name it plainly.
fn not_found(f: &Failure, say: impl FnOnce() -> String) -> String {
    let missing = f.is("ResourceNotFound") || (f.is("ValidationException") && f.line.to_ascii_lowercase().contains("could not find"));
    if missing {
        say()
    } else {
        f.line.clone()
    }
}

/// What to do or check, from what was found. Each item is one self-contained instruction.
/// `serverless`: the advice of the serverless diagnosis, which replaces the generic text.
pub fn advice(
    info: Option<&EndpointInfo>,
    sm: &SageMakerTarget,
    fleet: Option<&Fleet>,
    no_instance_metrics: bool,
    serverless: Option<Vec<String>>,
) -> Vec<String> {
    let mut out = vec![];
    let Some(info) = info else { return out };
    match &info.status {
        EndpointStatus::InService => {}
        EndpointStatus::Failed | EndpointStatus::UpdateRollbackFailed => out.push(format!(
            "Endpoint is {}: {}",
            info.status,
            info.failure_reason.as_deref().unwrap_or("no failure reason given")
        )),
        EndpointStatus::Updating | EndpointStatus::SystemUpdating | EndpointStatus::Creating | EndpointStatus::RollingBack => out.push(format!(
            "Endpoint is {} (since {}): a deployment is in progress, figures may mix old and new instances, and SageMaker rejects another update until it ends.",
            info.status,
            info.last_modified.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "an unknown time".into())
        )),
        other => out.push(format!("Endpoint is {other}.")),
    }
    if info.is_serverless() {
        if let Some(a) = serverless {
            out.extend(a);
            return out;
        }
        let v = info.variant(sm.variant.as_deref());
        let s = v.and_then(|v| v.serverless);
        out.push(format!(
            "Serverless endpoint: there are no instances or GPUs to compare. What applies: max concurrency {} and {} MB memory{}; \
             ServerlessConcurrentExecutionsUtilization is concurrent executions ÷ max concurrency, cold starts show as ModelSetupTime. \
             To give it room, raise MaxConcurrency (or ProvisionedConcurrency) in a new endpoint config and update the endpoint.",
            s.and_then(|s| s.max_concurrency).map(|c| c.to_string()).unwrap_or_else(|| "?".into()),
            s.and_then(|s| s.memory_mb).map(|c| c.to_string()).unwrap_or_else(|| "?".into()),
            s.and_then(|s| s.provisioned_concurrency).map(|p| format!(", provisioned concurrency {p}")).unwrap_or_default(),
        ));
        return out;
    }
    match info.enhanced_metrics {
        Some(EnhancedMetrics { enabled: true, .. }) => {
            if no_instance_metrics {
                out.push("Enhanced metrics are on, but CloudWatch had no per-instance metrics for this endpoint in the window (just enabled, or nothing was published).".into());
            }
        }
        _ => out.push(format!(
            "Enhanced metrics are off{}, so CloudWatch has no per-instance or per-GPU metrics for {}. Fix: create a copy of endpoint config {} \
             with `--metrics-config EnableEnhancedMetrics=true,MetricPublishFrequencyInSeconds=10`, then \
             `aws sagemaker update-endpoint --endpoint-name {} --endpoint-config-name <the new config>` (blue/green: the endpoint stays InService).",
            if info.enhanced_metrics.is_none() { " (no MetricsConfig)" } else { "" },
            info.name,
            info.config_name.as_deref().unwrap_or("<current config>"),
            info.name,
        )),
    }
    for v in &info.variants {
        if let (Some(c), Some(d)) = (v.current_instances, v.desired_instances) {
            if c != d {
                out.push(format!("Variant {} is scaling: {c} → {d} instances.", v.name));
            }
        }
    }
    for c in &info.components {
        if let (Some(cur), Some(want)) = (c.current_copies, c.desired_copies) {
            if cur < want {
                out.push(format!("Inference component {} runs {cur} of {want} desired copies.", c.name));
            }
        }
    }
    if let Some(o) = fleet.and_then(|f| f.outlier.as_ref()) {
        if o.metric == "ConcurrentRequestsPerModel" || o.metric == "Invocations" {
            out.push(format!(
                "Load is pinned to {}: long-lived (streaming) connections stay on the instance that took them, so scaling out only helps new connections.",
                o.member.instance.as_deref().unwrap_or("one instance")
            ));
        }
    }
    out
}
