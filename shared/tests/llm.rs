//! LLM endpoints explained, against a real PromQL engine: Debian's Prometheus on loopback
//! (`scripts/prometheus.sh`, started by `scripts/test.sh`) holding two backfilled worlds around
//! 2026-11-20T14:07:31Z (`scripts/promql_world.py`):
//!
//! - `llm-kv-cache`: endpoint `llm-prod`, two instances in two zones, components `ic-llama-3-8b`
//!   and `ic-mistral-7b` on both; the llama copy on `i-0a1b2c3d4e5f60002` fills its KV cache from
//!   40 minutes before the alarm, requests queue behind it and its TTFT p99 climbs to ~7 s;
//! - `capacity-error`: endpoint `llm-capacity` on `ml.p5.48xlarge`, both instances in
//!   `us-east-1a`, saturated evenly, 12 insufficient-capacity errors in four zones.
//!
//! The legacy dialect is Prometheus's own; CloudWatch's (quoted UTF-8 names, native histograms,
//! SigV4, 422/429, truncation) goes through the stand-in in `sagealarm_testkit::promql`, which
//! checks every signature. The SageMaker, CloudWatch and Logs calls of the same enrichment are the
//! SDK's mock layer: this file is about PromQL.
//!
//! Without Prometheus (`SAGEALARM_TEST_PROMETHEUS_URL` unset) these tests say so and pass, unless
//! `SAGEALARM_REQUIRE_EMULATORS=1`.

use aws_sdk_sagemaker::types::{EndpointStatus, ProductionVariant, ProductionVariantInstanceType, ProductionVariantSummary};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use chrono::{DateTime, Utc};
use sagealarm::clock::Clock;
use sagealarm::enrich::diagnosis::Cause;
use sagealarm::enrich::{EnrichSettings, Enricher, Enrichment};
use sagealarm::model::{Alarm, Notification};
use sagealarm::promql::{PromQl, PromQlSettings, Source};
use sagealarm::report::{build_alarm, Report};
use sagealarm_testkit::promql::{CloudWatchPromQl, Options};
use std::time::Duration;

/// The Prometheus `scripts/prometheus.sh start` wrote into the environment, if any.
fn prometheus() -> Option<String> {
    match std::env::var("SAGEALARM_TEST_PROMETHEUS_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("SAGEALARM_REQUIRE_EMULATORS").as_deref() != Ok("1"),
                "SAGEALARM_REQUIRE_EMULATORS=1 but no Prometheus: run scripts/prometheus.sh start (scripts/test.sh does)"
            );
            eprintln!("no Prometheus (SAGEALARM_TEST_PROMETHEUS_URL): skipped");
            None
        }
    }
}

const HOT: &str = "i-0a1b2c3d4e5f60002";

fn alarm(fixture: &str, endpoint: &str) -> Alarm {
    let raw = std::fs::read_to_string(format!("{}/../events/{fixture}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    match sagealarm::intake::parse_bytes(raw.replace("llm-prod", endpoint).as_bytes()).unwrap().remove(0) {
        Notification::Alarm(a) => *a,
        Notification::Plain(_) => panic!("{fixture} is not an alarm"),
    }
}

/// The endpoint as SageMaker describes it: one variant of two `instance_type` instances.
fn sagemaker(endpoint: &'static str, instance_type: ProductionVariantInstanceType) -> Vec<Rule> {
    use aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointOutput;
    use aws_sdk_sagemaker::operation::describe_endpoint_config::DescribeEndpointConfigOutput;
    use aws_sdk_sagemaker::operation::list_inference_components::ListInferenceComponentsOutput;
    vec![
        mock!(aws_sdk_sagemaker::Client::describe_endpoint).then_output(move || {
            DescribeEndpointOutput::builder()
                .endpoint_name(endpoint)
                .endpoint_status(EndpointStatus::InService)
                .endpoint_config_name(format!("{endpoint}-cfg"))
                .production_variants(
                    ProductionVariantSummary::builder()
                        .variant_name("AllTraffic")
                        .current_instance_count(2)
                        .desired_instance_count(2)
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_sagemaker::Client::describe_endpoint_config).then_output(move || {
            DescribeEndpointConfigOutput::builder()
                .endpoint_config_name(format!("{endpoint}-cfg"))
                .production_variants(
                    ProductionVariant::builder()
                        .variant_name("AllTraffic")
                        .instance_type(instance_type.clone())
                        .initial_instance_count(2)
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_sagemaker::Client::list_inference_components).then_output(|| ListInferenceComponentsOutput::builder().build()),
    ]
}

/// CloudWatch and Logs with nothing per instance, no other contributor in ALARM, and a variant
/// that is not autoscaled.
fn quiet_aws() -> (Vec<Rule>, Vec<Rule>, Vec<Rule>) {
    use aws_sdk_applicationautoscaling::operation as aas;
    use aws_sdk_cloudwatch::operation::describe_alarm_contributors::DescribeAlarmContributorsOutput;
    use aws_sdk_cloudwatch::operation::list_metrics::ListMetricsOutput;
    use aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsOutput;
    (
        vec![
            mock!(aws_sdk_cloudwatch::Client::list_metrics).then_output(|| ListMetricsOutput::builder().build()),
            mock!(aws_sdk_cloudwatch::Client::describe_alarm_contributors)
                .then_output(|| DescribeAlarmContributorsOutput::builder().set_alarm_contributors(Some(vec![])).build()),
        ],
        vec![mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events).then_output(|| FilterLogEventsOutput::builder().build())],
        vec![
            mock!(aws_sdk_applicationautoscaling::Client::describe_scalable_targets)
                .then_output(|| aas::describe_scalable_targets::DescribeScalableTargetsOutput::builder().build()),
            mock!(aws_sdk_applicationautoscaling::Client::describe_scaling_policies)
                .then_output(|| aas::describe_scaling_policies::DescribeScalingPoliciesOutput::builder().build()),
            mock!(aws_sdk_applicationautoscaling::Client::describe_scaling_activities)
                .then_output(|| aas::describe_scaling_activities::DescribeScalingActivitiesOutput::builder().build()),
        ],
    )
}

/// The emulators' test credentials with a session token, as a Lambda function has.
fn sdk() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sagemaker::config::SharedCredentialsProvider::new(aws_sdk_sagemaker::config::Credentials::new(
            "AKIDEXAMPLE",
            sagealarm_testkit::TEST_SECRET,
            Some("a-session-token".into()),
            None,
            "test",
        )))
        .build()
}

fn enricher(sm: &[Rule], promql: PromQl) -> Enricher {
    let (cw, logs, aas) = quiet_aws();
    let retry = aws_config::retry::RetryConfig::standard().with_max_attempts(2).with_initial_backoff(Duration::from_millis(1));
    Enricher::from_clients(
        mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, sm, |c| c.retry_config(retry.clone())),
        mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &cw, |c| c.retry_config(retry.clone())),
        mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &logs, |c| c.retry_config(retry.clone())),
        mock_client!(aws_sdk_applicationautoscaling, RuleMode::MatchAny, &aas, |c| c.retry_config(retry.clone())),
        EnrichSettings { deadline: Duration::from_secs(8), ..EnrichSettings::default() },
    )
    .with_promql(promql)
}

fn promql(source: Source, url: &str) -> PromQl {
    PromQl::new(&PromQlSettings { source, base_url: Some(url.to_string()), ..PromQlSettings::default() }, &sdk())
}

/// Enriched three minutes after the state change, whatever day it is.
async fn enrich(e: Enricher, a: &Alarm) -> Enrichment {
    let at: DateTime<Utc> = a.state_change_time.unwrap();
    let target = sagealarm::subject::resolve(a);
    e.with_clock(Clock::after(at, chrono::Duration::minutes(3))).enrich(a, &target).await
}

fn slack_text(a: Alarm, e: Enrichment) -> String {
    let target = sagealarm::subject::resolve(&a);
    let report = Report::Alarm(Box::new(build_alarm(a, target, e)));
    let msg = sagealarm::deliver::slack::render::render(&report, &[]);
    sagealarm::deliver::slack::render::check_limits(&msg).unwrap();
    let pd =
        sagealarm::deliver::pagerduty::render::render(&report, "0123456789abcdef0123456789abcdef", sagealarm::model::Severity::Critical);
    sagealarm::deliver::pagerduty::render::check_event(&pd).unwrap();
    msg.to_string()
}

/// The KV-cache lead, checked the same in both dialects.
fn assert_kv_cache_leads(e: &Enrichment) {
    assert!(e.notes.is_empty(), "{:?}", e.notes);
    let llm = e.llm.as_ref().expect("LLM signals");
    assert_eq!(llm.engine.as_deref(), Some("vLLM"));
    assert_eq!(llm.pairs, 4, "two components on two instances");
    let Some(Cause::KvCacheFull { row, others_ttft_p99 }) = e.explanation.lead.as_ref().map(|l| &l.cause) else {
        panic!("the KV cache should lead: {:#?}", e.explanation)
    };
    assert_eq!((row.component.as_deref(), row.host.as_deref()), (Some("ic-llama-3-8b"), Some(HOT)));
    assert!(row.kv_peak.unwrap() >= 0.97, "{row:?}");
    assert!(row.waiting.unwrap() >= 30.0, "{row:?}");
    let ttft = row.ttft_p99.unwrap();
    assert!((5.0..10.0).contains(&ttft), "TTFT p99 {ttft}");
    assert!(others_ttft_p99.unwrap() < 0.5, "{others_ttft_p99:?}");
    assert!(row.itl_p99.is_some() && row.tokens_per_s.is_some() && row.preemptions.unwrap() > 0.0, "{row:?}");
    let used = row.gpu_mem_share().expect("DCGM frame buffer");
    assert!(used > 0.85, "vLLM preallocates: {used}");
    // High GPU memory is vLLM's preallocation, not the cause.
    assert!(!e.explanation.mentions(|c| matches!(c, Cause::GpuMemory { .. })), "{:#?}", e.explanation);
    assert_eq!(llm.rows[0].component.as_deref(), Some("ic-llama-3-8b"), "worst row first");
    assert!(!llm.kv_trends.is_empty() && !llm.ttft_trends.is_empty());
}

#[tokio::test]
async fn a_full_kv_cache_with_requests_waiting_is_named_through_signed_cloudwatch_promql() {
    let Some(prom) = prometheus() else { return };
    let stand_in = CloudWatchPromQl::start(&prom, Options::default()).await.unwrap();
    let a = alarm("sns-llm-model-latency-p99-alarm.json", "llm-prod");
    let e = enrich(
        enricher(&sagemaker("llm-prod", ProductionVariantInstanceType::MlG6E12Xlarge), promql(Source::CloudWatch, &stand_in.url)),
        &a,
    )
    .await;
    assert_kv_cache_leads(&e);
    let seen = stand_in.seen.requests();
    assert!(!seen.is_empty() && seen.iter().all(|(_, _, signed)| *signed), "every request signed: {seen:#?}");
    assert!(seen.len() <= 8, "{} PromQL requests: {seen:#?}", seen.len());
    assert!(seen.iter().any(|(_, q, _)| q.contains("vllm:time_to_first_token_seconds_bucket")), "the native histogram was queried as one");
    assert_eq!(e.stats.as_ref().map(|s| s.promql_calls as usize), Some(seen.len()));

    let text = slack_text(a, e);
    assert!(text.contains(&format!("🧠 *KV cache full on ic-llama-3-8b on {HOT}: ")), "{text}");
    assert!(text.contains(" requests waiting") && text.contains(" — TTFT p99 "), "{text}");
    assert!(text.contains("*LLM engine*"), "{text}");
    assert!(!text.contains("GPU memory is the limit"), "{text}");
}

#[tokio::test]
async fn the_legacy_dialect_reads_a_prometheus_directly() {
    let Some(prom) = prometheus() else { return };
    let a = alarm("sns-llm-model-latency-p99-alarm.json", "llm-prod");
    let e = enrich(
        enricher(&sagemaker("llm-prod", ProductionVariantInstanceType::MlG6E12Xlarge), promql(Source::Url { url: prom.clone() }, &prom)),
        &a,
    )
    .await;
    assert_kv_cache_leads(&e);
}

/// Discovery happens once per endpoint: the second alarm asks only its queries.
#[tokio::test]
async fn discovery_is_cached_per_endpoint() {
    let Some(prom) = prometheus() else { return };
    let stand_in = CloudWatchPromQl::start(&prom, Options::default()).await.unwrap();
    let a = alarm("sns-llm-model-latency-p99-alarm.json", "llm-prod");
    let e = enricher(&sagemaker("llm-prod", ProductionVariantInstanceType::MlG6E12Xlarge), promql(Source::CloudWatch, &stand_in.url));
    let first = enrich(e.clone(), &a).await;
    let after_first = stand_in.seen.requests().len();
    let second = enrich(e, &a).await;
    let discovery = |r: &[(String, String, bool)]| r.iter().filter(|(p, _, _)| p.contains("/label/") || p.ends_with("/series")).count();
    let all = stand_in.seen.requests();
    assert!(discovery(&all[..after_first]) >= 1);
    assert_eq!(discovery(&all[after_first..]), 0, "{all:#?}");
    assert_eq!(first.explanation, second.explanation);
}

/// CloudWatch's limits: throttled queries (422 TPS, 429) are retried within the deadline; a
/// truncated answer is said.
#[tokio::test]
async fn throttling_is_retried_and_truncation_is_said() {
    let Some(prom) = prometheus() else { return };
    let throttled = CloudWatchPromQl::start(&prom, Options { throttle_first: 2, busy_first: 1, ..Options::default() }).await.unwrap();
    let a = alarm("sns-llm-model-latency-p99-alarm.json", "llm-prod");
    let e = enrich(
        enricher(&sagemaker("llm-prod", ProductionVariantInstanceType::MlG6E12Xlarge), promql(Source::CloudWatch, &throttled.url)),
        &a,
    )
    .await;
    assert_eq!(throttled.seen.faults(), 3);
    assert_kv_cache_leads(&e);

    let truncated = CloudWatchPromQl::start(&prom, Options { truncated: true, ..Options::default() }).await.unwrap();
    let e = enrich(
        enricher(&sagemaker("llm-prod", ProductionVariantInstanceType::MlG6E12Xlarge), promql(Source::CloudWatch, &truncated.url)),
        &a,
    )
    .await;
    assert!(e.notes.iter().any(|n| n.source == "PromQL" && n.message.contains("truncated")), "{:?}", e.notes);
}

/// A signature made with the wrong secret is refused, and the message says so instead of
/// pretending there were no signals.
#[tokio::test]
async fn a_refused_signature_is_a_note() {
    let Some(prom) = prometheus() else { return };
    let stand_in = CloudWatchPromQl::start(&prom, Options { secret: "another-secret".into(), ..Options::default() }).await.unwrap();
    let a = alarm("sns-llm-model-latency-p99-alarm.json", "llm-prod");
    let e = enrich(
        enricher(&sagemaker("llm-prod", ProductionVariantInstanceType::MlG6E12Xlarge), promql(Source::CloudWatch, &stand_in.url)),
        &a,
    )
    .await;
    assert!(stand_in.seen.requests().iter().all(|(_, _, signed)| !signed));
    assert!(e.llm.is_none());
    assert!(e.notes.iter().any(|n| n.source == "PromQL" && n.message.contains("HTTP 403")), "{:?}", e.notes);
}

/// An endpoint without detailed-observability metrics: no LLM section, no note.
#[tokio::test]
async fn an_endpoint_without_llm_metrics_gets_no_section_and_no_note() {
    let Some(prom) = prometheus() else { return };
    let a = alarm("sns-llm-model-latency-p99-alarm.json", "classic-endpoint");
    let e = enrich(
        enricher(
            &sagemaker("classic-endpoint", ProductionVariantInstanceType::MlG512Xlarge),
            promql(Source::Url { url: prom.clone() }, &prom),
        ),
        &a,
    )
    .await;
    assert!(e.llm.is_none() && e.notes.is_empty(), "{:?} {:?}", e.llm, e.notes);
}

/// A latency alarm on a fleet whose scale-outs hit insufficient capacity: the capacity error for
/// the instance type leads, with its count, zones and first time; every instance in one zone and
/// the slow cold start of the last copy support it.
#[tokio::test]
async fn insufficient_capacity_leads_and_one_zone_supports_it() {
    let Some(prom) = prometheus() else { return };
    let stand_in = CloudWatchPromQl::start(&prom, Options::default()).await.unwrap();
    let a = alarm("sns-llm-model-latency-p99-alarm.json", "llm-capacity");
    let e = enrich(
        enricher(&sagemaker("llm-capacity", ProductionVariantInstanceType::MlP548Xlarge), promql(Source::CloudWatch, &stand_in.url)),
        &a,
    )
    .await;
    assert!(e.notes.is_empty(), "{:?}", e.notes);
    let Some(Cause::CapacityErrors { instance_type, count, zones, since }) = e.explanation.lead.as_ref().map(|l| &l.cause) else {
        panic!("capacity should lead: {:#?}", e.explanation)
    };
    assert_eq!((instance_type.as_deref(), *count), (Some("ml.p5.48xlarge"), 12.0));
    assert_eq!(zones, &["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"]);
    let anchor = a.state_change_time.unwrap();
    let first = since.expect("the first error's time");
    assert!((anchor - first).num_minutes() >= 17 && (anchor - first).num_minutes() <= 19, "{first} vs {anchor}");
    assert!(
        e.explanation.mentions(
            |c| matches!(c, Cause::Zones { hosts_per_zone, idle_zone: None } if hosts_per_zone == &[("us-east-1a".to_string(), 2)])
        ),
        "{:#?}",
        e.explanation
    );
    let placement = e.llm.as_ref().and_then(|l| l.placement.as_ref()).unwrap();
    let cold = placement.cold_starts.iter().find(|c| c.component.as_deref() == Some("ic-llama-70b")).expect("the copy's cold start");
    assert_eq!(cold.phases()[0].0, "model download");
    assert!((cold.total_s() - 272.5).abs() < 0.01, "{cold:?}");

    let text = slack_text(a, e);
    assert!(
        text.contains(&format!(
            "🚧 *Scale-out blocked: no ml.p5.48xlarge capacity — 12 insufficient-capacity errors in us-east-1a, b, c and d since {}*",
            first.format("%H:%M")
        )),
        "{text}"
    );
    assert!(text.contains("Every instance sits in one Availability Zone: 2 in us-east-1a"), "{text}");
    // The fallbacks, first among what to do.
    assert!(
        text.contains(
            "SageMaker has no ml.p5.48xlarge capacity to add in the zones it tried. Fallbacks: a second production variant on \
             another instance type of the same GPU generation or the next size"
        ),
        "{text}"
    );
    assert!(text.contains("With a VpcConfig, give the endpoint subnets in more zones"), "{text}");
}

/// A PromQL alarm's contributor: its own query over the window, this series against the rest.
#[tokio::test]
async fn a_promql_alarm_runs_its_query_for_this_contributor_against_the_rest() {
    let Some(prom) = prometheus() else { return };
    let stand_in = CloudWatchPromQl::start(&prom, Options::default()).await.unwrap();
    let a = alarm("sns-promql-kv-cache-contributor-alarm.json", "llm-prod");
    let e = enrich(
        enricher(&sagemaker("llm-prod", ProductionVariantInstanceType::MlG6E12Xlarge), promql(Source::CloudWatch, &stand_in.url)),
        &a,
    )
    .await;
    let q = e.own_query.as_ref().expect("the alarm's own query ran");
    assert!(!q.query.contains('>'), "the threshold comparison is dropped: {}", q.query);
    assert_eq!(q.series, 4, "every component on every instance");
    let mine = q.contributor.as_ref().expect("this contributor's series");
    assert!(mine.peak.unwrap() >= 0.97, "{mine:?}");
    assert!(q.others_median_peak.unwrap() < 0.5, "{q:?}");
    let text = slack_text(a, e);
    assert!(text.contains(&format!("This series, ic-llama-3-8b on {HOT}: peak ")), "{text}");
    assert!(text.contains("*Query*"), "{text}");
}
