//! Gathering the facts for [`super::decide`] and carrying out a plan on SageMaker.
//! Reads: DescribeEndpoint, ListTags, DescribeScalableTargets (Application Auto Scaling),
//! DescribeEndpointConfig. Writes, only when the decision is "do it" and not a dry run:
//! UpdateEndpointWeightsAndCapacities, or CreateEndpointConfig (a faithful copy) + UpdateEndpoint;
//! then AddTags records the action on the endpoint (cooldown and at-most-once).

use super::{decide, Action, AlarmRef, Decision, Facts, Plan, Policy, LAST_ACTION_TAG};
use crate::aws::{error_line, time};
use crate::model::{AlarmState, EndpointStatus as ModelStatus};
use aws_sdk_cloudwatch::types::AlarmType;
use aws_sdk_sagemaker::types::{DesiredWeightAndCapacity, MetricsConfig, Tag};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// What happened, one per action: what the CLI prints and what is reported back to receivers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub action: &'static str,
    pub endpoint: String,
    pub decision: Decision,
    pub reason: String,
    pub before: Value,
    pub after: Value,
    /// Done, but something around it did not work (the record of the action), said with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// A change SageMaker accepted, and what went wrong around it.
struct Done {
    reason: String,
    warning: Option<String>,
}

pub struct Remediator {
    sagemaker: aws_sdk_sagemaker::Client,
    autoscaling: aws_sdk_applicationautoscaling::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    policy: Policy,
}

struct Found {
    facts: Facts,
    endpoint_arn: String,
    config_name: Option<String>,
}

impl Remediator {
    pub fn new(sdk: &aws_config::SdkConfig, policy: Policy) -> Self {
        Self::from_clients(
            aws_sdk_sagemaker::Client::new(sdk),
            aws_sdk_applicationautoscaling::Client::new(sdk),
            aws_sdk_cloudwatch::Client::new(sdk),
            policy,
        )
    }

    pub fn from_clients(
        sagemaker: aws_sdk_sagemaker::Client,
        autoscaling: aws_sdk_applicationautoscaling::Client,
        cloudwatch: aws_sdk_cloudwatch::Client,
        policy: Policy,
    ) -> Self {
        Self { sagemaker, autoscaling, cloudwatch, policy }
    }

    /// The whole decision path for one action; never fails, a failure is a refusal with its reason.
    /// The caller logs the outcome (one structured event per decision).
    pub async fn run(&self, alarm: &AlarmRef, action: Action, dry_run: bool, now: DateTime<Utc>) -> Outcome {
        let endpoint = alarm.endpoint.clone();
        let refused = |reason: String, before: Value| Outcome {
            action: action.name(),
            endpoint: endpoint.clone(),
            decision: Decision::Refused,
            reason,
            before,
            after: Value::Null,
            warning: None,
        };
        let found = match self.facts(alarm, action, now).await {
            Ok(f) => f,
            Err(e) => return refused(e, Value::Null),
        };
        let before = json!({
            "status": found.facts.status,
            "variant": found.facts.variant,
            "instances": found.facts.current_instances,
            "enhanced_metrics": found.facts.enhanced_metrics.map(|(on, f)| json!({ "enabled": on, "frequency_s": f })),
            "endpoint_config": found.config_name,
        });
        let plan = match decide(&found.facts, &self.policy) {
            Ok(p) => p,
            Err(reason) => return refused(reason, before),
        };
        let after = serde_json::to_value(&plan).unwrap_or(Value::Null);
        if dry_run {
            return Outcome {
                action: action.name(),
                endpoint,
                decision: Decision::DryRun,
                reason: "every guardrail passed; nothing was changed (dry run)".into(),
                before,
                after,
                warning: None,
            };
        }
        match self.execute(&found, &plan, now).await {
            Ok(Done { reason, warning }) => {
                Outcome { action: action.name(), endpoint, decision: Decision::Done, reason, before, after, warning }
            }
            Err(e) => refused(format!("SageMaker refused the change: {e}"), before),
        }
    }

    /// The alarm's state now. A notification says what was true when it was sent; a button may be
    /// clicked an hour later, after recovery.
    async fn current_state(&self, name: &str) -> Result<AlarmState, String> {
        let out = self
            .cloudwatch
            .describe_alarms()
            .alarm_names(name)
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .send()
            .await
            .map_err(|e| format!("DescribeAlarms: {}", error_line(&e)))?;
        let state = out
            .metric_alarms()
            .iter()
            .filter_map(|a| a.state_value())
            .chain(out.composite_alarms().iter().filter_map(|a| a.state_value()))
            .next()
            .ok_or_else(|| format!("alarm {name:?} no longer exists in CloudWatch"))?;
        AlarmState::parse(state.as_str()).ok_or_else(|| format!("alarm {name:?} is in an unknown state {:?}", state.as_str()))
    }

    async fn facts(&self, alarm: &AlarmRef, action: Action, now: DateTime<Utc>) -> Result<Found, String> {
        let endpoint = alarm.endpoint.as_str();
        let current_state = match alarm.state {
            AlarmState::Alarm => self.current_state(&alarm.alarm_name).await,
            other => Ok(other),
        };
        let d = self
            .sagemaker
            .describe_endpoint()
            .endpoint_name(endpoint)
            .send()
            .await
            .map_err(|e| format!("DescribeEndpoint: {}", error_line(&e)))?;
        let arn = d.endpoint_arn().unwrap_or_default().to_string();
        let v = match alarm.variant.as_deref() {
            Some(name) => d.production_variants().iter().find(|v| v.variant_name() == Some(name)),
            None => d.production_variants().first(),
        }
        .ok_or_else(|| format!("endpoint {endpoint} has no variant {}", alarm.variant.as_deref().unwrap_or("at all")))?;
        let variant = v.variant_name().unwrap_or_default().to_string();
        let tags = self.sagemaker.list_tags().resource_arn(&arn).send().await.map_err(|e| format!("ListTags: {}", error_line(&e)))?;
        let tags: BTreeMap<String, String> =
            tags.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string()))).collect();
        let resource_id = format!("endpoint/{endpoint}/variant/{variant}");
        let scaling = self
            .autoscaling
            .describe_scalable_targets()
            .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Sagemaker)
            .resource_ids(&resource_id)
            .send()
            .await
            .map_err(|e| format!("DescribeScalableTargets: {}", error_line(&e)))?;
        let autoscaling = scaling.scalable_targets().first().map(|t| (t.min_capacity(), t.max_capacity()));
        let facts = Facts {
            action,
            alarm_state: alarm.state,
            current_state,
            alarm_key: alarm.alarm_key.clone(),
            endpoint: endpoint.to_string(),
            status: d.endpoint_status().map(|s| ModelStatus::parse(s.as_str())).unwrap_or_else(|| ModelStatus::Other("unknown".into())),
            last_modified: time(d.last_modified_time()),
            tags,
            variant,
            current_instances: v.current_instance_count(),
            serverless: v.current_serverless_config().is_some(),
            autoscaling,
            enhanced_metrics: d
                .metrics_config()
                .map(|m| (m.enable_enhanced_metrics().unwrap_or(false), m.metric_publish_frequency_in_seconds())),
            now,
        };
        Ok(Found { facts, endpoint_arn: arn, config_name: d.endpoint_config_name().map(str::to_string) })
    }

    /// `Err`: SageMaker did not take the change. Once it has, the outcome is done whatever follows.
    async fn execute(&self, found: &Found, plan: &Plan, now: DateTime<Utc>) -> Result<Done, String> {
        let endpoint = &found.facts.endpoint;
        let reason = match plan {
            Plan::ScaleOut { variant, from, to } => {
                self.sagemaker
                    .update_endpoint_weights_and_capacities()
                    .endpoint_name(endpoint)
                    .desired_weights_and_capacities(
                        DesiredWeightAndCapacity::builder().variant_name(variant).desired_instance_count(*to).build(),
                    )
                    .send()
                    .await
                    .map_err(|e| format!("UpdateEndpointWeightsAndCapacities: {}", error_line(&e)))?;
                format!("variant {variant}: {from} → {to} instances (the endpoint is Updating until they are in service)")
            }
            Plan::EnableEnhancedMetrics { to, .. } => {
                let current = found.config_name.as_deref().ok_or("the endpoint names no config")?;
                let new = copy_config_name(current, *to, now);
                self.copy_config(current, &new, *to).await?;
                self.sagemaker
                    .update_endpoint()
                    .endpoint_name(endpoint)
                    .endpoint_config_name(&new)
                    .send()
                    .await
                    .map_err(|e| format!("UpdateEndpoint: {}", error_line(&e)))?;
                format!("endpoint config {new} (a copy of {current} with enhanced metrics every {to} s) is deploying blue/green; the endpoint stays InService")
            }
        };
        let recorded = self
            .sagemaker
            .add_tags()
            .resource_arn(&found.endpoint_arn)
            .tags(Tag::builder().key(LAST_ACTION_TAG).value(format!("{} {}", now.to_rfc3339(), found.facts.alarm_key)).build())
            .send()
            .await;
        let warning = recorded.err().map(|e| {
            format!(
                "recording the action failed (AddTags: {}): the cooldown relies on the endpoint's modification time, and a repeat delivery of this alarm is not recognised",
                error_line(&e)
            )
        });
        Ok(Done { reason, warning })
    }

    /// A new endpoint config that is the current one, every field of it, plus MetricsConfig.
    pub async fn copy_config(&self, current: &str, new: &str, frequency_s: i32) -> Result<(), String> {
        let c = self
            .sagemaker
            .describe_endpoint_config()
            .endpoint_config_name(current)
            .send()
            .await
            .map_err(|e| format!("DescribeEndpointConfig: {}", error_line(&e)))?;
        let tags = match c.endpoint_config_arn() {
            Some(arn) => self
                .sagemaker
                .list_tags()
                .resource_arn(arn)
                .send()
                .await
                .map_err(|e| format!("ListTags: {}", error_line(&e)))?
                .tags()
                .to_vec(),
            None => vec![],
        };
        let mut metrics = MetricsConfig::builder().enable_enhanced_metrics(true).metric_publish_frequency_in_seconds(frequency_s);
        if let Some(d) = c.metrics_config().and_then(|m| m.enable_detailed_observability()) {
            metrics = metrics.enable_detailed_observability(d);
        }
        self.sagemaker
            .create_endpoint_config()
            .endpoint_config_name(new)
            .set_production_variants(Some(c.production_variants().to_vec()))
            .set_shadow_production_variants((!c.shadow_production_variants().is_empty()).then(|| c.shadow_production_variants().to_vec()))
            .set_data_capture_config(c.data_capture_config().cloned())
            .set_kms_key_id(c.kms_key_id().map(str::to_string))
            .set_async_inference_config(c.async_inference_config().cloned())
            .set_explainer_config(c.explainer_config().cloned())
            .set_execution_role_arn(c.execution_role_arn().map(str::to_string))
            .set_vpc_config(c.vpc_config().cloned())
            .set_enable_network_isolation(c.enable_network_isolation())
            .set_tags((!tags.is_empty()).then_some(tags))
            .metrics_config(metrics.build())
            .send()
            .await
            .map_err(|e| format!("CreateEndpointConfig: {}", error_line(&e)))?;
        Ok(())
    }
}

/// `<current>-em10-20261123T1405` within SageMaker's 63-character limit.
fn copy_config_name(current: &str, frequency_s: i32, now: DateTime<Utc>) -> String {
    let suffix = format!("-em{frequency_s}-{}", now.format("%Y%m%dT%H%M%S"));
    let head: String = current.chars().take(63 - suffix.len()).collect();
    format!("{}{suffix}", head.trim_end_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_names_fit_sagemakers_limit() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T14:05:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(copy_config_name("deepgram-prod-cfg", 10, now), "deepgram-prod-cfg-em10-20261123T140500");
        assert_eq!(copy_config_name(&"c".repeat(80), 300, now).chars().count(), 63);
    }
}

/// The copy must keep every field of a rich config: checked field by field on the request the
/// SDK would send (moto drops several of these fields, so this one runs on the mock layer).
#[cfg(test)]
mod copy_tests {
    use super::*;
    use aws_sdk_sagemaker::operation::describe_endpoint_config::DescribeEndpointConfigOutput;
    use aws_sdk_sagemaker::operation::list_tags::ListTagsOutput;
    use aws_sdk_sagemaker::types::*;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn rich() -> DescribeEndpointConfigOutput {
        let variant = |name: &str| {
            ProductionVariant::builder()
                .variant_name(name)
                .model_name("whisper")
                .instance_type(ProductionVariantInstanceType::MlG512Xlarge)
                .initial_instance_count(3)
                .initial_variant_weight(0.9)
                .volume_size_in_gb(200)
                .model_data_download_timeout_in_seconds(1200)
                .container_startup_health_check_timeout_in_seconds(900)
                .enable_ssm_access(true)
                .routing_config(
                    ProductionVariantRoutingConfig::builder().routing_strategy(RoutingStrategy::LeastOutstandingRequests).build(),
                )
                .core_dump_config(ProductionVariantCoreDumpConfig::builder().destination_s3_uri("s3://dumps/").kms_key_id("k1").build())
                .build()
        };
        DescribeEndpointConfigOutput::builder()
            .endpoint_config_name("deepgram-prod-cfg")
            .endpoint_config_arn("arn:aws:sagemaker:us-east-1:1:endpoint-config/deepgram-prod-cfg")
            .production_variants(variant("AllTraffic"))
            .shadow_production_variants(variant("Shadow"))
            .data_capture_config(
                DataCaptureConfig::builder()
                    .enable_capture(true)
                    .initial_sampling_percentage(5)
                    .destination_s3_uri("s3://capture/")
                    .kms_key_id("k2")
                    .capture_options(CaptureOption::builder().capture_mode(CaptureMode::Input).build())
                    .build(),
            )
            .kms_key_id("arn:aws:kms:us-east-1:1:key/volume")
            .async_inference_config(
                AsyncInferenceConfig::builder()
                    .output_config(AsyncInferenceOutputConfig::builder().s3_output_path("s3://async/").build())
                    .client_config(AsyncInferenceClientConfig::builder().max_concurrent_invocations_per_instance(4).build())
                    .build(),
            )
            .execution_role_arn("arn:aws:iam::1:role/sm")
            .vpc_config(VpcConfig::builder().security_group_ids("sg-1").subnets("subnet-1").build())
            .enable_network_isolation(true)
            .metrics_config(MetricsConfig::builder().enable_enhanced_metrics(false).enable_detailed_observability(true).build())
            .build()
    }

    #[tokio::test]
    async fn the_copy_keeps_every_field_and_adds_metrics_config() {
        let describe = mock!(aws_sdk_sagemaker::Client::describe_endpoint_config).then_output(rich);
        let tags = mock!(aws_sdk_sagemaker::Client::list_tags)
            .then_output(|| ListTagsOutput::builder().tags(Tag::builder().key("team").value("ml-platform").build()).build());
        let create = mock!(aws_sdk_sagemaker::Client::create_endpoint_config)
            .match_requests(|req| {
                let want = rich();
                req.endpoint_config_name() == Some("deepgram-prod-cfg-em10")
                    && req.production_variants() == want.production_variants()
                    && req.shadow_production_variants() == want.shadow_production_variants()
                    && req.data_capture_config() == want.data_capture_config()
                    && req.kms_key_id() == want.kms_key_id()
                    && req.async_inference_config() == want.async_inference_config()
                    && req.explainer_config() == want.explainer_config()
                    && req.execution_role_arn() == want.execution_role_arn()
                    && req.vpc_config() == want.vpc_config()
                    && req.enable_network_isolation() == Some(true)
                    && req.tags() == [Tag::builder().key("team").value("ml-platform").build()]
                    && req.metrics_config()
                        == Some(
                            &MetricsConfig::builder()
                                .enable_enhanced_metrics(true)
                                .metric_publish_frequency_in_seconds(10)
                                .enable_detailed_observability(true)
                                .build(),
                        )
            })
            .then_output(|| aws_sdk_sagemaker::operation::create_endpoint_config::CreateEndpointConfigOutput::builder().build());
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, [&describe, &tags, &create]);
        let aas = mock_client!(aws_sdk_applicationautoscaling, RuleMode::MatchAny, Vec::<&aws_smithy_mocks::Rule>::new());
        let cw = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, Vec::<&aws_smithy_mocks::Rule>::new());
        let r = Remediator::from_clients(sm, aas, cw, Policy::default());
        r.copy_config("deepgram-prod-cfg", "deepgram-prod-cfg-em10", 10).await.unwrap();
        // A field that differs would not have matched the rule, and the call would have failed.
        assert_eq!(create.num_calls(), 1);
    }
}

/// The whole enable-enhanced-metrics path on the mock layer (UpdateEndpoint is not in moto):
/// facts, decision, the copy, UpdateEndpoint to the copy, the action recorded by tag.
#[cfg(test)]
mod enhanced_metrics_tests {
    use super::*;
    use crate::model::AlarmState;
    use aws_sdk_applicationautoscaling::operation::describe_scalable_targets::DescribeScalableTargetsOutput;
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_sdk_cloudwatch::types::{MetricAlarm, StateValue};
    use aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointOutput;
    use aws_sdk_sagemaker::operation::describe_endpoint_config::DescribeEndpointConfigOutput;
    use aws_sdk_sagemaker::operation::list_tags::ListTagsOutput;
    use aws_sdk_sagemaker::types::*;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    const EP_ARN: &str = "arn:aws:sagemaker:us-east-1:1:endpoint/deepgram-prod";

    #[tokio::test]
    async fn enable_enhanced_metrics_copies_the_config_updates_the_endpoint_and_records_it() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T14:05:00Z").unwrap().with_timezone(&Utc);
        let alarms = mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_output(|| {
            DescribeAlarmsOutput::builder()
                .metric_alarms(MetricAlarm::builder().alarm_name("gpu").state_value(StateValue::Alarm).build())
                .build()
        });
        let describe = mock!(aws_sdk_sagemaker::Client::describe_endpoint).then_output(move || {
            DescribeEndpointOutput::builder()
                .endpoint_name("deepgram-prod")
                .endpoint_arn(EP_ARN)
                .endpoint_config_name("deepgram-prod-cfg")
                .endpoint_status(EndpointStatus::InService)
                .last_modified_time(aws_sdk_sagemaker::primitives::DateTime::from_secs(now.timestamp() - 3 * 3600))
                .production_variants(ProductionVariantSummary::builder().variant_name("AllTraffic").current_instance_count(3).build())
                .build()
        });
        let endpoint_tags =
            mock!(aws_sdk_sagemaker::Client::list_tags).match_requests(|r| r.resource_arn() == Some(EP_ARN)).then_output(|| {
                ListTagsOutput::builder()
                    .tags(Tag::builder().key(super::super::OPT_IN_TAG).value("enable-enhanced-metrics").build())
                    .build()
            });
        let config_tags = mock!(aws_sdk_sagemaker::Client::list_tags).then_output(|| ListTagsOutput::builder().build());
        let config = mock!(aws_sdk_sagemaker::Client::describe_endpoint_config).then_output(|| {
            DescribeEndpointConfigOutput::builder()
                .endpoint_config_name("deepgram-prod-cfg")
                .endpoint_config_arn("arn:aws:sagemaker:us-east-1:1:endpoint-config/deepgram-prod-cfg")
                .production_variants(
                    ProductionVariant::builder().variant_name("AllTraffic").model_name("m").initial_instance_count(3).build(),
                )
                .build()
        });
        let create = mock!(aws_sdk_sagemaker::Client::create_endpoint_config)
            .match_requests(|r| {
                r.endpoint_config_name() == Some("deepgram-prod-cfg-em30-20261123T140500")
                    && r.metrics_config().and_then(|m| m.metric_publish_frequency_in_seconds()) == Some(30)
            })
            .then_output(|| aws_sdk_sagemaker::operation::create_endpoint_config::CreateEndpointConfigOutput::builder().build());
        let update = mock!(aws_sdk_sagemaker::Client::update_endpoint)
            .match_requests(|r| {
                r.endpoint_name() == Some("deepgram-prod") && r.endpoint_config_name() == Some("deepgram-prod-cfg-em30-20261123T140500")
            })
            .then_output(|| aws_sdk_sagemaker::operation::update_endpoint::UpdateEndpointOutput::builder().build());
        let record = mock!(aws_sdk_sagemaker::Client::add_tags)
            .match_requests(|r| {
                r.resource_arn() == Some(EP_ARN)
                    && r.tags()
                        .iter()
                        .any(|t| t.key() == Some(LAST_ACTION_TAG) && t.value().is_some_and(|v| v.ends_with(" gpu@2026-11-23T14:00:00Z")))
            })
            .sequence()
            .output(|| aws_sdk_sagemaker::operation::add_tags::AddTagsOutput::builder().build())
            // The second time, the change goes through but recording it does not.
            .error(|| {
                aws_sdk_sagemaker::operation::add_tags::AddTagsError::generic(
                    aws_sdk_sagemaker::error::ErrorMetadata::builder()
                        .code("AccessDeniedException")
                        .message("not authorized to perform sagemaker:AddTags")
                        .build(),
                )
            })
            .build();
        let targets = mock!(aws_sdk_applicationautoscaling::Client::describe_scalable_targets)
            .then_output(|| DescribeScalableTargetsOutput::builder().build());
        let sm = mock_client!(
            aws_sdk_sagemaker,
            RuleMode::MatchAny,
            [&describe, &endpoint_tags, &config_tags, &config, &create, &update, &record]
        );
        let aas = mock_client!(aws_sdk_applicationautoscaling, RuleMode::MatchAny, [&targets]);
        let cw = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&alarms]);
        let r = Remediator::from_clients(sm, aas, cw, Policy::default());
        let alarm = AlarmRef {
            alarm_name: "gpu".into(),
            alarm_key: "gpu@2026-11-23T14:00:00Z".into(),
            state: AlarmState::Alarm,
            endpoint: "deepgram-prod".into(),
            variant: None,
        };

        let dry = r.run(&alarm, Action::EnableEnhancedMetrics { frequency_s: 30 }, true, now).await;
        assert_eq!(dry.decision, Decision::DryRun, "{dry:?}");
        assert_eq!((create.num_calls(), update.num_calls(), record.num_calls()), (0, 0, 0), "a dry run writes nothing");

        let o = r.run(&alarm, Action::EnableEnhancedMetrics { frequency_s: 30 }, false, now).await;
        assert_eq!(o.decision, Decision::Done, "{o:?}");
        assert!(
            o.reason.starts_with(
                "endpoint config deepgram-prod-cfg-em30-20261123T140500 (a copy of deepgram-prod-cfg with enhanced metrics every 30 s)"
            ),
            "{}",
            o.reason
        );
        assert_eq!(o.after, serde_json::json!({ "plan": "enable-enhanced-metrics", "from": null, "to": 30 }));
        assert_eq!((create.num_calls(), update.num_calls(), record.num_calls()), (1, 1, 1));
        assert_eq!(o.warning, None);

        // The endpoint changed; only the record of it failed: done, with a warning, never "refused".
        let o = r.run(&alarm, Action::EnableEnhancedMetrics { frequency_s: 30 }, false, now).await;
        assert_eq!(o.decision, Decision::Done, "{o:?}");
        assert!(o.reason.starts_with("endpoint config deepgram-prod-cfg-em30-"), "{}", o.reason);
        let w = o.warning.as_deref().unwrap();
        assert!(w.starts_with("recording the action failed (AddTags: AccessDeniedException: not authorized"), "{w}");
        assert_eq!((update.num_calls(), record.num_calls()), (2, 2));
    }
}
