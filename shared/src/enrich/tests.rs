//! Enrichment with the SDK's own mock layer (`aws-smithy-mocks`): what the emulators lack
//! (inference components) and every fault: throttling past retries, AccessDenied, 5xx, answers
//! past the deadline, malformed responses, PartialData pages. The emulator-backed scenarios are
//! in `shared/tests/emulated.rs`.

use super::*;
use crate::model::Notification;
use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataError, GetMetricDataOutput};
use aws_sdk_cloudwatch::operation::list_metrics::ListMetricsOutput;
use aws_sdk_cloudwatch::primitives::DateTime as AwsTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataResult, StatusCode};
use aws_sdk_cloudwatchlogs::operation::filter_log_events::{FilterLogEventsError, FilterLogEventsOutput};
use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;
use aws_sdk_sagemaker::operation::describe_endpoint::{DescribeEndpointError, DescribeEndpointOutput};
use aws_sdk_sagemaker::operation::describe_endpoint_config::DescribeEndpointConfigOutput;
use aws_sdk_sagemaker::operation::describe_inference_component::DescribeInferenceComponentOutput;
use aws_sdk_sagemaker::operation::list_inference_components::ListInferenceComponentsOutput;
use aws_sdk_sagemaker::types::{
    EndpointStatus, InferenceComponentRuntimeConfigSummary, InferenceComponentStatus, InferenceComponentSummary, MetricsConfig,
    ProductionVariant, ProductionVariantInstanceType, ProductionVariantSummary,
};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

const INSTANCES: [&str; 3] = ["i-0aaa", "i-0bbb", "i-0ccc"];

fn alarm(fixture: &str) -> Alarm {
    let raw = crate::render::test_support::fixture(fixture);
    match crate::intake::parse_bytes(raw.as_bytes()).unwrap().remove(0) {
        Notification::Alarm(a) => *a,
        Notification::Plain(_) => panic!("not an alarm"),
    }
}

fn describe_endpoint_ok(enhanced: bool) -> Rule {
    mock!(aws_sdk_sagemaker::Client::describe_endpoint).then_output(move || {
        DescribeEndpointOutput::builder()
            .endpoint_name("deepgram-prod")
            .endpoint_status(EndpointStatus::InService)
            .endpoint_config_name("deepgram-prod-cfg")
            .production_variants(
                ProductionVariantSummary::builder().variant_name("AllTraffic").current_instance_count(3).desired_instance_count(3).build(),
            )
            .metrics_config(MetricsConfig::builder().enable_enhanced_metrics(enhanced).metric_publish_frequency_in_seconds(10).build())
            .build()
    })
}

fn describe_config_ok(model: bool) -> Rule {
    mock!(aws_sdk_sagemaker::Client::describe_endpoint_config).then_output(move || {
        let mut v = ProductionVariant::builder()
            .variant_name("AllTraffic")
            .instance_type(ProductionVariantInstanceType::MlG512Xlarge)
            .initial_instance_count(3);
        if model {
            v = v.model_name("whisper");
        }
        DescribeEndpointConfigOutput::builder().endpoint_config_name("deepgram-prod-cfg").production_variants(v.build()).build()
    })
}

/// Three instances × 4 GPUs; `i-0bbb` GPU 2 runs hot. ListMetrics answers in two pages.
fn list_metrics_ok() -> Rule {
    mock!(aws_sdk_cloudwatch::Client::list_metrics).then_compute_output(|req| {
        assert_eq!(req.recently_active(), Some(&aws_sdk_cloudwatch::types::RecentlyActive::Pt3H), "only streams with recent data");
        let ns = req.namespace().unwrap_or_default().to_string();
        let mut metrics = vec![];
        for i in INSTANCES {
            let base = [("EndpointName", "deepgram-prod"), ("VariantName", "AllTraffic"), ("InstanceId", i)];
            let m = |name: &str, extra: Option<(&str, String)>| {
                let mut b = Metric::builder().namespace(&ns).metric_name(name);
                for (k, v) in base {
                    b = b.dimensions(Dimension::builder().name(k).value(v).build());
                }
                if let Some((k, v)) = extra {
                    b = b.dimensions(Dimension::builder().name(k).value(v).build());
                }
                b.build()
            };
            if ns == metrics::ENDPOINTS_NS {
                for g in 0..4 {
                    metrics.push(m("GPUUtilizationNormalized", Some(("GpuId", g.to_string()))));
                }
                metrics.push(m("CPUUtilizationNormalized", None));
            } else {
                metrics.push(m("Invocations", None));
            }
        }
        let first_page = req.next_token().is_none();
        let half = metrics.len() / 2;
        if first_page {
            ListMetricsOutput::builder().set_metrics(Some(metrics[..half].to_vec())).next_token("page-2").build()
        } else {
            ListMetricsOutput::builder().set_metrics(Some(metrics[half..].to_vec())).build()
        }
    })
}

/// GetMetricData as CloudWatch answers it: one point per requested period from `StartTime` up to
/// `EndTime`, values from the dimensions (`i-0bbb` GPU 2 runs hot: 99 a minute, the rest 40). A
/// `Sum` is the per-minute figure times the minutes in the period (a Sum over 300 s is five
/// one-minute sums), so the same alarm enriched at any age yields the same per-minute figures.
/// The first page is `PartialData` with a NextToken and holds the older half of the points.
fn get_metric_data_ok(queries_seen: Arc<AtomicUsize>) -> Rule {
    mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_compute_output(move |req| {
        let qs = req.metric_data_queries();
        assert!(qs.len() <= metrics::MAX_QUERIES_PER_CALL);
        queries_seen.fetch_add(qs.len(), Ordering::SeqCst);
        let (start, end) = (req.start_time().unwrap().to_millis().unwrap(), req.end_time().unwrap().to_millis().unwrap());
        let second = req.next_token().is_some();
        let results = qs
            .iter()
            .map(|q| {
                let stat = q.metric_stat().unwrap();
                let m = stat.metric().unwrap();
                let period_ms = i64::from(stat.period().unwrap()) * 1000;
                let dim = |n: &str| m.dimensions().iter().find(|d| d.name() == Some(n)).and_then(|d| d.value()).unwrap_or("").to_string();
                let per_minute = if dim("InstanceId") == "i-0bbb" && dim("GpuId") == "2" { 99.0 } else { 40.0 };
                let v = if stat.stat() == Some("Sum") { per_minute * (period_ms / 60_000) as f64 } else { per_minute };
                let times: Vec<i64> = (0..).map(|k| start + k * period_ms).take_while(|t| *t < end).collect();
                let half = times.len() / 2;
                let page = if second { &times[half..] } else { &times[..half] };
                MetricDataResult::builder()
                    .id(q.id().unwrap_or_default())
                    .set_timestamps(Some(page.iter().map(|t| AwsTime::from_millis(*t)).collect()))
                    .set_values(Some(page.iter().map(|_| v).collect()))
                    .status_code(if second { StatusCode::Complete } else { StatusCode::PartialData })
                    .build()
            })
            .collect();
        let out = GetMetricDataOutput::builder().set_metric_data_results(Some(results));
        if second {
            out.build()
        } else {
            out.next_token("more").build()
        }
    })
}

fn filter_logs_ok(anchor_ms: i64) -> Rule {
    mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events).then_compute_output(move |req| {
        assert_eq!(req.log_group_name(), Some("/aws/sagemaker/Endpoints/deepgram-prod"));
        assert_eq!(req.log_stream_name_prefix(), Some("AllTraffic/"));
        let ev =
            |stream: &str, m: &str| FilteredLogEvent::builder().log_stream_name(stream).timestamp(anchor_ms - 60_000).message(m).build();
        FilterLogEventsOutput::builder()
            .events(ev("AllTraffic/i-0aaa", "ERROR health check slow"))
            .events(ev("AllTraffic/i-0aaa", "ERROR health check slow"))
            .events(ev("AllTraffic/i-0aaa", "ERROR health check slow"))
            .events(ev("AllTraffic/i-0bbb", "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"))
            .events(ev("AllTraffic/i-0bbb", "INFO request served"))
            .build()
    })
}

/// Application Auto Scaling for a variant that is not registered: every Describe answers empty.
pub(super) fn not_autoscaled() -> [Rule; 3] {
    use aws_sdk_applicationautoscaling::operation as aas;
    [
        mock!(aws_sdk_applicationautoscaling::Client::describe_scalable_targets)
            .then_output(|| aas::describe_scalable_targets::DescribeScalableTargetsOutput::builder().build()),
        mock!(aws_sdk_applicationautoscaling::Client::describe_scaling_policies)
            .then_output(|| aas::describe_scaling_policies::DescribeScalingPoliciesOutput::builder().build()),
        mock!(aws_sdk_applicationautoscaling::Client::describe_scaling_activities)
            .then_output(|| aas::describe_scaling_activities::DescribeScalingActivitiesOutput::builder().build()),
    ]
}

/// Application Auto Scaling answers from `aas`: the not-registered answers unless given.
fn enricher(sm: &[&Rule], cw: &[&Rule], logs: &[&Rule], deadline: Duration) -> Enricher {
    let aas = not_autoscaled();
    enricher_with(sm, cw, logs, &aas.iter().collect::<Vec<_>>(), deadline)
}

pub(super) fn enricher_with(sm: &[&Rule], cw: &[&Rule], logs: &[&Rule], aas: &[&Rule], deadline: Duration) -> Enricher {
    let retry = RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(1));
    Enricher::from_clients(
        mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, sm.iter().copied(), |c| c.retry_config(retry.clone())),
        mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, cw.iter().copied(), |c| c.retry_config(retry.clone())),
        mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, logs.iter().copied(), |c| c.retry_config(retry.clone())),
        mock_client!(aws_sdk_applicationautoscaling, RuleMode::MatchAny, aas.iter().copied(), |c| c.retry_config(retry.clone())),
        EnrichSettings { deadline, ..EnrichSettings::default() },
    )
}

/// How long after its state change a test's alarm is enriched, unless the test says otherwise.
const DELIVERED_AFTER: Duration = Duration::from_secs(180);

/// Enriches `fixture` as if it were delivered [`DELIVERED_AFTER`] its state change, whatever day
/// the test runs.
async fn run(e: &Enricher, fixture: &str) -> Enrichment {
    run_aged(e, fixture, DELIVERED_AFTER).await
}

/// Enriches `fixture` `age` after its state change (the clock pinned there).
async fn run_aged(e: &Enricher, fixture: &str, age: Duration) -> Enrichment {
    let a = alarm(fixture);
    enrich_aged(e, &a, age).await
}

async fn enrich_aged(e: &Enricher, a: &Alarm, age: Duration) -> Enrichment {
    let clock = Clock::after(a.state_change_time.expect("fixtures have a state change time"), chrono::Duration::from_std(age).unwrap());
    let t = crate::subject::resolve(a);
    e.clone().with_clock(clock).enrich(a, &t).await
}

fn anchor_ms(fixture: &str) -> i64 {
    alarm(fixture).state_change_time.unwrap().timestamp_millis()
}

const GPU_ALARM: &str = "sns-instance-gpu-normalized-alarm.json";

/// A whole enrichment of the GPU alarm from the mocks (endpoint, fleet, logs): what sharing stores.
pub(super) async fn sample_enrichment() -> Enrichment {
    let at = anchor_ms(GPU_ALARM);
    let seen = Arc::new(AtomicUsize::new(0));
    let (de, dc, lm, gm, fl) =
        (describe_endpoint_ok(true), describe_config_ok(true), list_metrics_ok(), get_metric_data_ok(seen), filter_logs_ok(at));
    run(&enricher(&[&de, &dc], &[&lm, &gm], &[&fl], Duration::from_secs(5)), GPU_ALARM).await
}

/// Sharing never costs the evidence: a state table that cannot be reached, and the alarm
/// fetches its own endpoint description and logs, as without a table.
#[tokio::test]
async fn an_unusable_state_table_means_each_alarm_fetches_its_own_evidence() {
    let at = anchor_ms(GPU_ALARM);
    let seen = Arc::new(AtomicUsize::new(0));
    let (de, dc, lm, gm, fl) =
        (describe_endpoint_ok(true), describe_config_ok(true), list_metrics_ok(), get_metric_data_ok(seen), filter_logs_ok(at));
    let nowhere = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
        .endpoint_url("http://127.0.0.1:9")
        .retry_config(RetryConfig::disabled())
        .build();
    let state = crate::state::StateTable::from_client(aws_sdk_dynamodb::Client::from_conf(nowhere), "sagealarm-state");
    let e = enricher(&[&de, &dc], &[&lm, &gm], &[&fl], Duration::from_secs(5)).with_state(state);
    let r = run(&e, GPU_ALARM).await;
    assert_eq!(r.notes, vec![], "the table's failure is not the message's");
    assert!(r.endpoint.is_some() && r.logs.as_ref().is_some_and(|l| !l.streams.is_empty()), "{r:?}");
    assert_eq!(r.stats.and_then(|s| s.sharing), Some(shared::Sharing::Own));
    assert_eq!(de.num_calls(), 1, "one description");
    assert!(fl.num_calls() >= 1, "the logs read here");
}

#[tokio::test]
async fn hot_gpu_is_found_paged_metrics_are_merged_and_its_logs_come_first() {
    let at = anchor_ms(GPU_ALARM);
    let seen = Arc::new(AtomicUsize::new(0));
    let (de, dc, lm, gm, fl) =
        (describe_endpoint_ok(true), describe_config_ok(true), list_metrics_ok(), get_metric_data_ok(seen.clone()), filter_logs_ok(at));
    let e = enricher(&[&de, &dc], &[&lm, &gm], &[&fl], Duration::from_secs(5));
    let r = run(&e, GPU_ALARM).await;

    assert_eq!(r.notes, vec![], "no notes expected");
    let info = r.endpoint.as_ref().unwrap();
    assert_eq!((info.status.as_str(), info.variants[0].instance_type.as_deref()), ("InService", Some("ml.g5.12xlarge")));
    assert_eq!(info.enhanced_metrics, Some(endpoint::EnhancedMetrics { enabled: true, frequency_s: Some(10), inferred: false }));
    // Two ListMetrics pages per namespace, two GetMetricData pages (PartialData + NextToken) in one batch.
    assert_eq!((lm.num_calls(), gm.num_calls()), (4, 2));
    // Per page: 3 instances × 4 GPUs, 3 instance streams, 3 container streams and the variant's
    // two target-tracking metrics riding in the same batch.
    assert_eq!(seen.load(Ordering::SeqCst), 2 * (3 * 4 + 3 + 3 + 2));

    let f = r.fleet.as_ref().unwrap();
    let o = f.outlier.as_ref().unwrap();
    assert_eq!((o.member.instance.as_deref(), o.member.gpu.as_deref(), o.value, o.others_median), (Some("i-0bbb"), Some("2"), 99.0, 40.0));
    assert_eq!(f.rows[0].name, "i-0bbb");
    // Both pages' points are in the trend.
    assert_eq!(f.rows[0].trend.chars().count(), 24);

    let logs = r.logs.as_ref().unwrap();
    assert_eq!(logs.streams[0].stream, "AllTraffic/i-0bbb", "the outlier's stream leads although i-0aaa has more lines");
    assert_eq!(logs.streams[0].lines[0].signature, "oom");
    assert_eq!(logs.streams[1].lines[0].count, 3);
    assert_eq!(logs.matched, 4);
    assert!(r.advice.is_empty(), "{:?}", r.advice);
    // Endpoint 2, metrics 4 + 2, logs 2 (the two minutes at the state change, then the context
    // before them: this alarm's own window is those two minutes, so there is no middle slice),
    // and Application Auto Scaling's three Describe calls.
    assert_eq!(r.stats.as_ref().unwrap().calls, 2 + 4 + 2 + 2 + 3);
    // Longest dependent chain: metrics, two ListMetrics pages then two GetMetricData pages
    // (endpoint: 2, logs: 2).
    assert_eq!(r.stats.as_ref().unwrap().critical_path_calls, 2 + 2);

    let report = build(alarm(GPU_ALARM), r);
    let slack = crate::deliver::slack::render::render(&crate::report::Report::Alarm(Box::new(report.clone())), &[]);
    crate::deliver::slack::render::check_limits(&slack).unwrap();
    let text = slack.to_string();
    assert!(text.contains("i-0bbb GPU 2 stands out: GPUUtilizationNormalized 99%"), "{text}");
    assert!(text.contains("CUDA out of memory"));
    let pd =
        crate::deliver::pagerduty::render::render(&crate::report::Report::Alarm(Box::new(report)), "k", crate::model::Severity::Critical);
    crate::deliver::pagerduty::render::check_event(&pd).unwrap();
    assert!(pd["payload"]["summary"].as_str().unwrap().contains("i-0bbb GPU 2 stands out"));
    assert_eq!(pd["payload"]["custom_details"]["logs"]["streams"][0]["stream"], "AllTraffic/i-0bbb (outlier): 1 matching line");
}

#[tokio::test]
async fn each_source_failing_becomes_a_note_and_the_rest_still_arrives() {
    let throttled = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_error(|| {
        GetMetricDataError::generic(
            aws_sdk_cloudwatch::error::ErrorMetadata::builder().code("ThrottlingException").message("Rate exceeded").build(),
        )
    });
    let denied = mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events).then_error(|| {
        FilterLogEventsError::generic(
            aws_sdk_cloudwatchlogs::error::ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("User: arn:aws:sts::1:assumed-role/x is not authorized to perform: logs:FilterLogEvents")
                .build(),
        )
    });
    let (de, dc, lm) = (describe_endpoint_ok(true), describe_config_ok(true), list_metrics_ok());
    let e = enricher(&[&de, &dc], &[&lm, &throttled], &[&denied], Duration::from_secs(5));
    let r = run(&e, GPU_ALARM).await;

    // The SDK retried the throttled call (standard mode, 3 attempts) before giving up.
    assert_eq!(throttled.num_calls(), 3);
    let notes: Vec<String> = r.notes.iter().map(|n| format!("{}: {}", n.source, n.message)).collect();
    assert!(notes.contains(&"GetMetricData: ThrottlingException: Rate exceeded".to_string()), "{notes:?}");
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("FilterLogEvents: AccessDeniedException: User: arn:aws:sts::1:assumed-role/x is not authorized")),
        "{notes:?}"
    );
    assert!(r.endpoint.is_some(), "the endpoint still arrived");
    assert!(r.logs.is_none());

    let report = crate::report::Report::Alarm(Box::new(build(alarm(GPU_ALARM), r)));
    let slack = crate::deliver::slack::render::render(&report, &[]);
    crate::deliver::slack::render::check_limits(&slack).unwrap();
    assert!(slack.to_string().contains("⚠️ GetMetricData: ThrottlingException: Rate exceeded"));
}

#[tokio::test]
async fn server_errors_and_a_missing_endpoint_are_named() {
    let missing = mock!(aws_sdk_sagemaker::Client::describe_endpoint).then_error(|| {
        DescribeEndpointError::generic(
            aws_sdk_sagemaker::error::ErrorMetadata::builder()
                .code("ValidationException")
                .message("Could not find endpoint \"deepgram-prod\".")
                .build(),
        )
    });
    let five_hundred = mock!(aws_sdk_cloudwatch::Client::list_metrics).sequence().http_status(503, None).times(3).build();
    let gone = mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events).then_error(|| {
        FilterLogEventsError::ResourceNotFoundException(
            aws_sdk_cloudwatchlogs::types::error::ResourceNotFoundException::builder()
                .message("The specified log group does not exist.")
                .build(),
        )
    });
    let e = enricher(&[&missing], &[&five_hundred], &[&gone], Duration::from_secs(5));
    let r = run(&e, GPU_ALARM).await;
    let notes: Vec<String> = r.notes.iter().map(|n| format!("{}: {}", n.source, n.message)).collect();
    assert!(
        notes.contains(&"DescribeEndpoint: endpoint deepgram-prod does not exist (deleted, or another account/region)".to_string()),
        "{notes:?}"
    );
    assert!(notes.iter().any(|n| n.starts_with("ListMetrics: /aws/sagemaker/Endpoints: ")), "{notes:?}");
    assert!(notes.contains(&"FilterLogEvents: log group /aws/sagemaker/Endpoints/deepgram-prod does not exist: the container has not logged yet, or its logs go elsewhere".to_string()), "{notes:?}");
    assert!(r.fleet.is_none() && r.endpoint.is_none() && r.logs.is_none());
}

#[tokio::test]
async fn forbidden_and_final_partial_data_results_are_reported() {
    let gm = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_compute_output(|req| {
        let results = req
            .metric_data_queries()
            .iter()
            .enumerate()
            .map(|(i, q)| {
                MetricDataResult::builder()
                    .id(q.id().unwrap_or_default())
                    .status_code(if i == 0 { StatusCode::Forbidden } else { StatusCode::PartialData })
                    .build()
            })
            .collect();
        GetMetricDataOutput::builder().set_metric_data_results(Some(results)).build()
    });
    let (de, dc, lm, fl) = (describe_endpoint_ok(true), describe_config_ok(true), list_metrics_ok(), filter_logs_ok(anchor_ms(GPU_ALARM)));
    let e = enricher(&[&de, &dc], &[&lm, &gm], &[&fl], Duration::from_secs(5));
    let r = run(&e, GPU_ALARM).await;
    let notes: Vec<String> = r.notes.iter().map(|n| format!("{}: {}", n.source, n.message)).collect();
    assert!(notes.contains(&"GetMetricData: 1 metric stream(s) came back with forbidden".to_string()), "{notes:?}");
    // 18 fetched streams (the variant's two tracked metrics among them), one forbidden.
    assert!(notes.contains(&"GetMetricData: 19 metric stream(s) came back with partial data".to_string()), "{notes:?}");
}

#[tokio::test]
async fn inference_component_alarm_finds_its_endpoint_and_copies() {
    let dic = mock!(aws_sdk_sagemaker::Client::describe_inference_component).then_output(|| {
        DescribeInferenceComponentOutput::builder()
            .inference_component_name("IC-qwen3-4b")
            .endpoint_name("llm-shared")
            .variant_name("AllTraffic")
            .inference_component_status(InferenceComponentStatus::InService)
            .runtime_config(InferenceComponentRuntimeConfigSummary::builder().current_copy_count(1).desired_copy_count(2).build())
            .build()
    });
    let lic = mock!(aws_sdk_sagemaker::Client::list_inference_components).then_output(|| {
        ListInferenceComponentsOutput::builder()
            .inference_components(
                InferenceComponentSummary::builder().inference_component_name("IC-qwen3-4b").endpoint_name("llm-shared").build(),
            )
            .build()
    });
    let (de, dc) = (describe_endpoint_ok(true), describe_config_ok(false));
    let lm = mock!(aws_sdk_cloudwatch::Client::list_metrics).then_compute_output(|req| {
        assert!(
            req.dimensions().iter().any(|d| d.name() == Some("EndpointName") && d.value() == Some("llm-shared"))
                || req.namespace() == Some(metrics::COMPONENTS_NS)
        );
        ListMetricsOutput::builder().build()
    });
    let fl = mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events).then_compute_output(|req| {
        // Component endpoints name their streams differently: the whole group is searched.
        assert_eq!(req.log_stream_name_prefix(), None);
        FilterLogEventsOutput::builder().build()
    });
    let e = enricher(&[&dic, &lic, &de, &dc], &[&lm], &[&fl], Duration::from_secs(5));
    let r = run(&e, "sns-inference-component-gpu-memory-alarm.json").await;
    assert_eq!(r.notes, vec![]);
    let info = r.endpoint.unwrap();
    assert_eq!(info.name, "llm-shared");
    assert_eq!(info.components.len(), 1);
    assert_eq!((info.components[0].current_copies, info.components[0].desired_copies), (Some(1), Some(2)));
    assert!(r.advice.iter().any(|a| a == "Inference component IC-qwen3-4b runs 1 of 2 desired copies."), "{:?}", r.advice);
    assert!(
        r.advice.iter().any(|a| a.starts_with("Enhanced metrics are on, but CloudWatch had no per-instance metrics")),
        "{:?}",
        r.advice
    );
    // The describe happened once: the alarm's component is not described again by the listing.
    assert_eq!(dic.num_calls(), 2, "once to find the endpoint, once from the listing");
}

#[tokio::test]
async fn enhanced_metrics_off_says_so_with_the_fix() {
    let (de, dc) = (describe_endpoint_ok(false), describe_config_ok(true));
    let lm = mock!(aws_sdk_cloudwatch::Client::list_metrics).then_output(|| ListMetricsOutput::builder().build());
    let fl = mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events).then_output(|| FilterLogEventsOutput::builder().build());
    let e = enricher(&[&de, &dc], &[&lm], &[&fl], Duration::from_secs(5));
    let r = run(&e, GPU_ALARM).await;
    let advice = r.advice.join("\n");
    assert!(advice.contains("Enhanced metrics are off"), "{advice}");
    assert!(advice.contains("--metrics-config EnableEnhancedMetrics=true,MetricPublishFrequencyInSeconds=10"));
    assert!(advice.contains("aws sagemaker update-endpoint --endpoint-name deepgram-prod"));
    assert!(r.fleet.is_none());
}

#[tokio::test]
async fn a_generic_alarm_makes_no_aws_calls() {
    let (de, lm, fl) = (describe_endpoint_ok(true), list_metrics_ok(), filter_logs_ok(0));
    let e = enricher(&[&de], &[&lm], &[&fl], Duration::from_secs(5));
    let r = run(&e, "sns-non-sagemaker-alarm.json").await;
    assert_eq!(r.skipped.as_deref(), Some("not a SageMaker alarm: no endpoint lookups"));
    assert_eq!((de.num_calls(), lm.num_calls(), fl.num_calls()), (0, 0, 0));
}

/// Application Auto Scaling for `endpoint/deepgram-prod/variant/AllTraffic`, registered 2–`max`
/// with target tracking on invocations per instance at 30, and these activities (minutes from the
/// anchor, status, target count, message).
fn autoscaled(anchor_ms: i64, max: i32, activities: &'static [(i64, &'static str, i32, &'static str)]) -> [Rule; 3] {
    use aws_sdk_applicationautoscaling::operation as aas;
    use aws_sdk_applicationautoscaling::primitives::DateTime as AasTime;
    use aws_sdk_applicationautoscaling::types::{
        MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalableTarget, ScalingActivity,
        ScalingActivityStatusCode, ScalingPolicy, ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
    };
    const ID: &str = "endpoint/deepgram-prod/variant/AllTraffic";
    let created = AasTime::from_millis(anchor_ms - 86_400_000);
    [
        mock!(aws_sdk_applicationautoscaling::Client::describe_scalable_targets)
            .match_requests(|r| r.resource_ids() == [ID.to_string()] && r.service_namespace() == Some(&ServiceNamespace::Sagemaker))
            .then_output(move || {
                aas::describe_scalable_targets::DescribeScalableTargetsOutput::builder()
                    .scalable_targets(
                        ScalableTarget::builder()
                            .service_namespace(ServiceNamespace::Sagemaker)
                            .resource_id(ID)
                            .scalable_dimension(ScalableDimension::SageMakerVariantDesiredInstanceCount)
                            .min_capacity(2)
                            .max_capacity(max)
                            .role_arn("arn:aws:iam::123456789012:role/aas")
                            .creation_time(created)
                            .build()
                            .unwrap(),
                    )
                    .build()
            }),
        mock!(aws_sdk_applicationautoscaling::Client::describe_scaling_policies).match_requests(|r| r.resource_id() == Some(ID)).then_output(
            move || {
                let tt = TargetTrackingScalingPolicyConfiguration::builder()
                    .target_value(30.0)
                    .predefined_metric_specification(
                        PredefinedMetricSpecification::builder().predefined_metric_type(MetricType::SageMakerVariantInvocationsPerInstance).build().unwrap(),
                    )
                    .scale_out_cooldown(300)
                    .scale_in_cooldown(600)
                    .build()
                    .unwrap();
                aas::describe_scaling_policies::DescribeScalingPoliciesOutput::builder()
                    .scaling_policies(
                        ScalingPolicy::builder()
                            .policy_arn("arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x")
                            .policy_name("invocations-per-instance")
                            .service_namespace(ServiceNamespace::Sagemaker)
                            .resource_id(ID)
                            .scalable_dimension(ScalableDimension::SageMakerVariantDesiredInstanceCount)
                            .policy_type(PolicyType::TargetTrackingScaling)
                            .target_tracking_scaling_policy_configuration(tt)
                            .creation_time(created)
                            .build()
                            .unwrap(),
                    )
                    .build()
            },
        ),
        mock!(aws_sdk_applicationautoscaling::Client::describe_scaling_activities).match_requests(|r| r.resource_id() == Some(ID)).then_output(
            move || {
                let acts = activities.iter().enumerate().map(|(i, (minutes, status, to, message))| {
                    ScalingActivity::builder()
                        .activity_id(format!("a-{i}"))
                        .service_namespace(ServiceNamespace::Sagemaker)
                        .resource_id(ID)
                        .scalable_dimension(ScalableDimension::SageMakerVariantDesiredInstanceCount)
                        .description(format!("Setting desired instance count to {to}."))
                        .cause("monitor alarm TargetTracking-endpoint/deepgram-prod/variant/AllTraffic-AlarmHigh in state ALARM triggered policy invocations-per-instance")
                        .start_time(AasTime::from_millis(anchor_ms + minutes * 60_000))
                        .status_code(ScalingActivityStatusCode::from(*status))
                        .status_message(*message)
                        .build()
                        .unwrap()
                });
                aas::describe_scaling_activities::DescribeScalingActivitiesOutput::builder().set_scaling_activities(Some(acts.collect())).build()
            },
        ),
    ]
}

/// A scale-out that failed 4 minutes before the alarm (capacity for the instance type ran out):
/// moto has no scaling activities, so this is the mock layer's.
#[tokio::test]
async fn a_failed_scale_out_leads_the_message_with_its_cause_and_the_critical_path_is_unchanged() {
    let at = anchor_ms(GPU_ALARM);
    let seen = Arc::new(AtomicUsize::new(0));
    let (de, dc, lm, gm, fl) =
        (describe_endpoint_ok(true), describe_config_ok(true), list_metrics_ok(), get_metric_data_ok(seen), filter_logs_ok(at));
    let aas = autoscaled(
        at,
        6,
        &[
            (-4, "Failed", 4, "Failed to set desired instance count to 4. Reason: Unable to provision requested ML compute capacity due to InsufficientInstanceCapacity error. Please retry using a different ML instance type or after some time."),
            (-25, "Successful", 3, "Successfully set desired instance count to 3. Change successfully fulfilled by sagemaker."),
        ],
    );
    let e = enricher_with(&[&de, &dc], &[&lm, &gm], &[&fl], &aas.iter().collect::<Vec<_>>(), Duration::from_secs(5));
    let r = run(&e, GPU_ALARM).await;
    assert_eq!(r.notes, vec![], "no notes expected");
    assert_eq!(aas.iter().map(Rule::num_calls).collect::<Vec<_>>(), [1, 1, 1]);
    let c = r.capacity.as_ref().unwrap();
    let s = &c.scaled[0];
    assert_eq!((s.range, s.current, s.at_max), (Some((2, 6)), Some(3), false));
    let acts: Vec<(String, &str, Option<&str>)> =
        s.activities.iter().map(|a| (a.counts(), a.status.as_str(), a.failure.as_deref())).collect();
    assert_eq!(acts, [("3 → 4".into(), "Failed", Some("insufficient capacity for ml.g5.12xlarge")), ("→ 3".into(), "Successful", None)]);
    // Invocations per instance from the per-instance Sum fetched anyway: 40 a minute in the mock.
    let capacity::Rule::TargetTracking { current, target, .. } = &s.policies[0].rule else { panic!("{:?}", s.policies) };
    assert_eq!((*current, *target), (Some(40.0), 30.0));
    assert_eq!(c.headline(), Some("Scale-out to 4 failed 4 min before the alarm: insufficient capacity for ml.g5.12xlarge"));
    let changes: Vec<(i64, &str)> = r.changes.iter().map(|c| (c.offset_s, c.what.as_str())).collect();
    assert_eq!(changes, [(-25 * 60, "AllTraffic scaled → 3"), (-4 * 60, "AllTraffic scale-out 3 → 4 failed")]);
    // The same calls as without autoscaling (logs: the minutes at the state change, then the
    // context), plus three side by side: the longest chain is still metrics' (two ListMetrics
    // pages, two GetMetricData pages).
    let st = r.stats.as_ref().unwrap();
    assert_eq!((st.calls, st.critical_path_calls), (2 + 4 + 2 + 2 + 3, 2 + 2));

    let report = crate::report::Report::Alarm(Box::new(build(alarm(GPU_ALARM), r)));
    let slack = crate::deliver::slack::render::render(&report, &[]);
    crate::deliver::slack::render::check_limits(&slack).unwrap();
    let text = slack.to_string();
    assert!(text.contains("🚧 *Scale-out to 4 failed 4 min before the alarm: insufficient capacity for ml.g5.12xlarge*"), "{text}");
    assert!(text.contains("Variant AllTraffic: 3 instances, autoscaling 2–6"), "{text}");
    assert!(
        text.contains(
            "target tracking invocations-per-instance: invocations per instance target 30, now 40 · cooldown out 5 min, in 10 min"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "Recent changes: 25 min before the alarm: AllTraffic scaled → 3 · 4 min before the alarm: AllTraffic scale-out 3 → 4 failed"
        ),
        "{text}"
    );
    let pd = crate::deliver::pagerduty::render::render(&report, "k", crate::model::Severity::Critical);
    crate::deliver::pagerduty::render::check_event(&pd).unwrap();
    assert!(pd["payload"]["summary"]
        .as_str()
        .unwrap()
        .ends_with("— Scale-out to 4 failed 4 min before the alarm: insufficient capacity for ml.g5.12xlarge"));
    assert_eq!(pd["payload"]["custom_details"]["capacity"]["details"]["scaled"][0]["range"], serde_json::json!([2, 6]));
}

/// The same alarm enriched on the day, 20 days and 70 days after its state change. CloudWatch keeps
/// 60-second data for 15 days and 5-minute data for 63, so enrichment asks for 300 s and then
/// 3,600 s periods; what the message says per minute (invocations per instance against the
/// target, the hot GPU against the rest) comes out the same at every age.
#[tokio::test]
async fn an_old_alarm_asks_for_the_periods_cloudwatch_keeps_and_its_per_minute_figures_hold() {
    let at = anchor_ms(GPU_ALARM);
    let day = Duration::from_secs(86_400);
    for (age, period) in [(DELIVERED_AFTER, 60), (day * 20, 300), (day * 70, 3600)] {
        let seen = Arc::new(AtomicUsize::new(0));
        let (de, dc, lm, gm, fl) =
            (describe_endpoint_ok(true), describe_config_ok(true), list_metrics_ok(), get_metric_data_ok(seen), filter_logs_ok(at));
        let aas = autoscaled(at, 6, &[]);
        let e = enricher_with(&[&de, &dc], &[&lm, &gm], &[&fl], &aas.iter().collect::<Vec<_>>(), Duration::from_secs(5));
        let r = run_aged(&e, GPU_ALARM, age).await;
        let days = age.as_secs() / 86_400;
        assert_eq!(r.window.as_ref().map(|w| w.period_s), Some(period), "{days} days old");
        let c = r.capacity.as_ref().unwrap();
        let capacity::Rule::TargetTracking { current, .. } = &c.scaled[0].policies[0].rule else { panic!("{:?}", c.scaled) };
        assert_eq!(*current, Some(40.0), "invocations per instance per minute, {days} days old");
        let o = r.fleet.as_ref().and_then(|f| f.outlier.as_ref()).unwrap_or_else(|| panic!("no outlier {days} days old: {:?}", r.fleet));
        assert_eq!(
            (o.member.instance.as_deref(), o.member.gpu.as_deref(), o.value, o.others_median),
            (Some("i-0bbb"), Some("2"), 99.0, 40.0)
        );
    }
}

/// Application Auto Scaling refusing (no IAM grant) is a note; the rest arrives and nothing is
/// claimed about scaling.
#[tokio::test]
async fn autoscaling_access_denied_is_a_note_and_claims_nothing() {
    use aws_sdk_applicationautoscaling::operation::describe_scalable_targets::DescribeScalableTargetsError;
    let denied = mock!(aws_sdk_applicationautoscaling::Client::describe_scalable_targets).then_error(|| {
        DescribeScalableTargetsError::generic(
            aws_sdk_applicationautoscaling::error::ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message(
                    "User: arn:aws:sts::1:assumed-role/x is not authorized to perform: application-autoscaling:DescribeScalableTargets",
                )
                .build(),
        )
    });
    let [_, policies, activities] = not_autoscaled();
    let (de, dc) = (describe_endpoint_ok(true), describe_config_ok(true));
    let lm = mock!(aws_sdk_cloudwatch::Client::list_metrics).then_output(|| ListMetricsOutput::builder().build());
    let fl = mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events).then_output(|| FilterLogEventsOutput::builder().build());
    let e = enricher_with(&[&de, &dc], &[&lm], &[&fl], &[&denied, &policies, &activities], Duration::from_secs(5));
    let r = run(&e, GPU_ALARM).await;
    let notes: Vec<String> = r.notes.iter().map(|n| format!("{}: {}", n.source, n.message)).collect();
    assert_eq!(
        notes,
        ["DescribeScalableTargets: AccessDeniedException: User: arn:aws:sts::1:assumed-role/x is not authorized to perform: application-autoscaling:DescribeScalableTargets"]
    );
    assert_eq!(r.capacity, None);
    assert!(r.endpoint.is_some());
    let slack = crate::deliver::slack::render::render(&crate::report::Report::Alarm(Box::new(build(alarm(GPU_ALARM), r))), &[]);
    let text = slack.to_string();
    assert!(!text.contains("not autoscaled") && !text.contains("*Capacity*"), "{text}");
    assert!(text.contains("⚠️ DescribeScalableTargets: AccessDeniedException"), "{text}");
}

/// Real HTTP for the two faults a mock layer cannot produce: a slow service and a garbled body.
mod over_http {
    use super::*;
    use wiremock::matchers::{header, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn creds() -> aws_sdk_sagemaker::config::Credentials {
        aws_sdk_sagemaker::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test")
    }

    #[tokio::test]
    async fn a_slow_service_is_cut_at_the_deadline_and_a_garbled_one_is_named() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(header("x-amz-target", "Logs_20140328.FilterLogEvents"))
            .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"events":[]}"#).set_delay(Duration::from_secs(5)))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(header("x-amz-target", "SageMaker.DescribeEndpoint"))
            .respond_with(ResponseTemplate::new(200).set_body_string("{\"EndpointName\": [not json"))
            .mount(&server)
            .await;
        let region = aws_sdk_sagemaker::config::Region::new("us-east-1");
        let sm = aws_sdk_sagemaker::Client::from_conf(
            aws_sdk_sagemaker::Config::builder()
                .behavior_version_latest()
                .region(region.clone())
                .credentials_provider(creds())
                .endpoint_url(server.uri())
                .build(),
        );
        let logs = aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::Config::builder()
                .behavior_version_latest()
                .region(region)
                .credentials_provider(creds())
                .endpoint_url(server.uri())
                .build(),
        );
        let lm = mock!(aws_sdk_cloudwatch::Client::list_metrics).then_output(|| ListMetricsOutput::builder().build());
        let cw = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&lm]);
        let aas = not_autoscaled();
        let aas = mock_client!(aws_sdk_applicationautoscaling, RuleMode::MatchAny, &aas);
        let e =
            Enricher::from_clients(sm, cw, logs, aas, EnrichSettings { deadline: Duration::from_millis(400), ..EnrichSettings::default() });
        let started = std::time::Instant::now();
        let r = run(&e, GPU_ALARM).await;
        let notes: Vec<String> = r.notes.iter().map(|n| format!("{}: {}", n.source, n.message)).collect();
        assert!(notes.contains(&"FilterLogEvents: no answer within the 400 ms enrichment deadline".to_string()), "{notes:?}");
        assert!(notes.contains(&"DescribeEndpoint: unreadable response from the service".to_string()), "{notes:?}");
        // Cut at the deadline, not after the 5 s the service would have taken.
        assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    }
}

fn build(a: Alarm, e: Enrichment) -> crate::report::AlarmReport {
    let target = crate::subject::resolve(&a);
    crate::report::build_alarm(a, target, e)
}

/// A container that logs a benign ERROR many times a second, then runs out of memory and panics
/// at the state change: the caps are spent on the flood when the window is paged from its start.
/// The mock honours the requested range, `limit` and pagination, as CloudWatch does.
#[tokio::test]
async fn the_lines_at_the_state_change_come_through_a_flood_of_earlier_ones() {
    let at = anchor_ms(GPU_ALARM);
    let mut flood: Vec<(i64, &'static str)> =
        (0..6000).map(|i| (at - 40 * 60_000 + i * 350, "ERROR cache miss for key, retrying")).collect();
    flood.push((at - 30_000, "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 2)"));
    flood.push((at - 20_000, "thread 'tokio-runtime-worker' panicked at src/batcher.rs:88:9: batch queue poisoned"));
    let flood = Arc::new(flood);
    let fl = mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events).then_compute_output(move |req| {
        let (from, to) = (req.start_time().unwrap_or(0), req.end_time().unwrap_or(i64::MAX));
        let skip: usize = req.next_token().and_then(|t| t.parse().ok()).unwrap_or(0);
        let limit = req.limit().unwrap_or(10_000) as usize;
        let inside: Vec<&(i64, &str)> = flood.iter().filter(|(t, _)| *t >= from && *t <= to).collect();
        let page = inside.iter().skip(skip).take(limit);
        let mut out = FilterLogEventsOutput::builder();
        for (t, m) in page {
            out = out.events(FilteredLogEvent::builder().log_stream_name("AllTraffic/i-0bbb").timestamp(*t).message(*m).build());
        }
        if skip + limit < inside.len() {
            out = out.next_token((skip + limit).to_string());
        }
        out.build()
    });
    let (de, dc, lm) = (
        describe_endpoint_ok(true),
        describe_config_ok(true),
        mock!(aws_sdk_cloudwatch::Client::list_metrics).then_output(|| ListMetricsOutput::builder().build()),
    );
    let mut e = enricher(&[&de, &dc], &[&lm], &[&fl], Duration::from_secs(5));
    e.settings.logs.max_events = 1000;
    e.settings.logs.max_pages = 4;
    let r = run(&e, GPU_ALARM).await;
    let logs = r.logs.as_ref().unwrap();
    let labels: Vec<&str> = logs.streams[0].lines.iter().map(|l| l.signature.as_str()).collect();
    assert_eq!(&labels[..2], ["panic", "oom"], "{:?}", logs.streams[0].lines);
    assert!(!logs.complete, "the flood was not read to its start");
    assert!(
        r.notes.iter().any(|n| n.source == "FilterLogEvents" && n.message.contains("those at the state change first")),
        "{:?}",
        r.notes
    );
    assert!(fl.num_calls() <= 4, "within the page cap: {}", fl.num_calls());
}

#[test]
fn a_contributor_alarm_fetches_the_metric_its_query_selects() {
    for name in ["sns-contributor-gpu-alarm.json", "eventbridge-contributor-gpu-alarm.json", "lambda-action-contributor-gpu-alarm.json"] {
        let own = own_metric(&alarm(name)).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(
            (own.namespace.as_str(), own.name.as_str(), own.stat.as_str()),
            ("/aws/sagemaker/Endpoints", "GPUUtilizationNormalized", "Maximum"),
            "{name}"
        );
    }
    // Plain metric math still names its first MetricStat.
    assert_eq!(own_metric(&alarm("sns-metric-math-error-rate-alarm.json")).unwrap().name, "Invocation5XXErrors");
}

/// A composite over two SageMaker alarms: DescribeAlarms on its children names the endpoint, and
/// the composite is enriched for it instead of being generic.
#[tokio::test]
async fn a_composite_over_sagemaker_alarms_is_enriched_for_their_endpoint() {
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_sdk_cloudwatch::types::{Dimension as CwDimension, MetricAlarm};
    let children = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .match_requests(|r| r.alarm_names() == ["deepgram-invocation-errors", "deepgram-high-concurrency"])
        .then_output(|| {
            let dim = |n: &str, v: &str| CwDimension::builder().name(n).value(v).build();
            let alarm = |name: &str, metric: &str| {
                MetricAlarm::builder()
                    .alarm_name(name)
                    .namespace("AWS/SageMaker")
                    .metric_name(metric)
                    .dimensions(dim("EndpointName", "deepgram-prod"))
                    .dimensions(dim("VariantName", "AllTraffic"))
                    .build()
            };
            DescribeAlarmsOutput::builder()
                .metric_alarms(alarm("deepgram-invocation-errors", "Invocation5XXErrors"))
                .metric_alarms(alarm("deepgram-high-concurrency", "ConcurrentRequestsPerModel"))
                .build()
        });
    let (de, dc) = (describe_endpoint_ok(true), describe_config_ok(true));
    let lm = mock!(aws_sdk_cloudwatch::Client::list_metrics).then_output(|| ListMetricsOutput::builder().build());
    let fl = mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events).then_output(|| FilterLogEventsOutput::builder().build());
    let e = enricher(&[&de, &dc], &[&children, &lm], &[&fl], Duration::from_secs(5));
    let a = alarm("sns-composite-alarm.json");
    let mut target = crate::subject::resolve(&a);
    assert_eq!(target.endpoint(), None, "a composite names no endpoint by itself");
    let r = enrich_aged(&e, &a, DELIVERED_AFTER).await;
    assert_eq!(children.num_calls(), 1);
    let about = r.composite_about.clone().expect("the children's endpoint");
    assert_eq!((about.endpoint.as_deref(), about.variant.as_deref()), (Some("deepgram-prod"), Some("AllTraffic")));
    assert_eq!(r.endpoint.as_ref().map(|i| i.name.as_str()), Some("deepgram-prod"));
    assert_eq!(de.num_calls(), 1);
    target.adopt_children(about);
    assert_eq!(target.endpoint(), Some("deepgram-prod"));
    assert_eq!(
        crate::report::subject_line(&target).as_deref(),
        Some("endpoint deepgram-prod / children deepgram-invocation-errors, deepgram-high-concurrency")
    );
}

/// One GPU's notification of a per-GPU alarm says whether it is alone: the others in ALARM now.
#[tokio::test]
async fn a_contributor_alarm_names_the_other_contributors_in_alarm() {
    use aws_sdk_cloudwatch::operation::describe_alarm_contributors::DescribeAlarmContributorsOutput;
    use aws_sdk_cloudwatch::types::AlarmContributor;
    let contributors = mock!(aws_sdk_cloudwatch::Client::describe_alarm_contributors)
        .match_requests(|r| r.alarm_name() == Some("llm-prod-gpu-saturated"))
        .then_output(|| {
            let c = |id: &str, instance: &str, gpu: &str| {
                AlarmContributor::builder()
                    .contributor_id(id)
                    .contributor_attributes("InstanceId", instance)
                    .contributor_attributes("GpuId", gpu)
                    .state_reason("Threshold Crossed")
                    .build()
            };
            DescribeAlarmContributorsOutput::builder()
                .alarm_contributors(c("6d442278dba546f6", "i-0123456789abcdef0", "3"))
                .alarm_contributors(c("0a1b2c3d4e5f6071", "i-0123456789abcdef0", "1"))
                .alarm_contributors(c("9f8e7d6c5b4a3921", "i-0fedcba9876543210", "0"))
                .build()
        });
    let (de, dc) = (describe_endpoint_ok(true), describe_config_ok(true));
    let lm = mock!(aws_sdk_cloudwatch::Client::list_metrics).then_output(|| ListMetricsOutput::builder().build());
    let fl = mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events).then_output(|| FilterLogEventsOutput::builder().build());
    let e = enricher(&[&de, &dc], &[&contributors, &lm], &[&fl], Duration::from_secs(5));
    let a = alarm("sns-contributor-gpu-alarm.json");
    let r = run(&e, "sns-contributor-gpu-alarm.json").await;
    let c = r.contributors.as_ref().expect("asked for a contributor alarm");
    assert_eq!(c.in_alarm.len(), 3);
    let line = crate::render::enrichment::contributors_line(c, a.contributor.as_ref()).unwrap();
    assert_eq!(line, "GPU 3 on i-0123456789abcdef0 and 2 more in ALARM now: GPU 1 on i-0123456789abcdef0, GPU 0 on i-0fedcba9876543210");
    // Critical path: the lookup runs beside the others, one call long.
    assert_eq!(contributors.num_calls(), 1);

    // An ordinary alarm does not ask.
    let r = run(&e, GPU_ALARM).await;
    assert!(r.contributors.is_none());
    assert_eq!(contributors.num_calls(), 1);
}
