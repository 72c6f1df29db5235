//! Enrichment end to end against emulated AWS on loopback: the real SDK clients, CloudWatch
//! metrics on LocalStack, Logs, SageMaker and Application Auto Scaling on moto. `scripts/test.sh` starts the emulators
//! (scripts/emulators.sh), sets `AWS_ENDPOINT_URL_*` and `SAGEALARM_EMULATORS=1`, and stops them.
//! Each test seeds its own endpoint world (unique names), so they run concurrently.
//!
//! Without the emulators these tests say so and pass, unless `SAGEALARM_REQUIRE_EMULATORS=1`
//! (set by the test script, so CI cannot skip them silently).

use chrono::{Duration, Utc};
use sagealarm::deliver::{pagerduty::render as pagerduty, slack::render as slack};
use sagealarm::enrich::fleet::Verdict;
use sagealarm::enrich::serverless::Finding;
use sagealarm::enrich::{EnrichSettings, Enricher, Enrichment};
use sagealarm::model::{Alarm, Notification};
use sagealarm::report::{build_alarm, Report};
use sagealarm_testkit::{emulators, seed, World};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(name: &str) -> String {
    format!("{name}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// A sample event about `endpoint` (and `component`), changed state three minutes ago.
fn alarm(fixture: &str, endpoint: &str, component: Option<&str>) -> Alarm {
    let raw = std::fs::read_to_string(format!("{}/../events/{fixture}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let anchor = (Utc::now() - Duration::minutes(3)).format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
    let mut raw =
        raw.replace("2026-11-20T14:07:31.512+0000", &anchor).replace("deepgram-prod", endpoint).replace("sentiment-serverless", endpoint);
    if let Some(c) = component {
        raw = raw.replace("IC-qwen3-4b", c);
    }
    match sagealarm::intake::parse_bytes(raw.as_bytes()).unwrap().remove(0) {
        Notification::Alarm(a) => *a,
        Notification::Plain(_) => panic!("{fixture} is not an alarm"),
    }
}

async fn scenario(name: &str, fixture: &str) -> (Alarm, Enrichment) {
    let endpoint = unique(name);
    let world = World::scenario(name, &endpoint).unwrap();
    let a = alarm(fixture, &endpoint, world.component.as_deref());
    let sdk = sagealarm_testkit::sdk().await;
    let started = std::time::Instant::now();
    seed(&sdk, &world, a.state_change_time.unwrap()).await.unwrap();
    let enricher = Enricher::new(&sdk, EnrichSettings::default());
    let target = sagealarm::subject::resolve(&a);
    let seeded = started.elapsed();
    let e = enricher.enrich(&a, &target).await;
    eprintln!("{name}: seeded in {seeded:?}, enriched in {:?}: {:?}", started.elapsed() - seeded, e.stats);
    (a, e)
}

/// The notes, less the one moto always causes: it does not implement DescribeScalingActivities
/// (HTTP 500, "not been implemented"), which `moto_lacks_scaling_activities` asserts and
/// `enrich/tests.rs` covers with the mock layer.
fn notes(e: &Enrichment) -> Vec<String> {
    e.notes.iter().filter(|n| n.source != "DescribeScalingActivities").map(|n| format!("{}: {}", n.source, n.message)).collect()
}

/// Renders both bodies, checks their limits, returns the Slack message as text.
fn rendered(a: Alarm, e: Enrichment) -> String {
    rendered_both(a, e).0
}

/// The Slack message as text and the PagerDuty event, both checked against their limits.
fn rendered_both(a: Alarm, e: Enrichment) -> (String, serde_json::Value) {
    let target = sagealarm::subject::resolve(&a);
    let report = Report::Alarm(Box::new(build_alarm(a, target, e)));
    let msg = slack::render(&report, &[]);
    slack::check_limits(&msg).unwrap();
    let pd = pagerduty::render(&report, "0123456789abcdef0123456789abcdef", sagealarm::model::Severity::Critical);
    pagerduty::check_event(&pd).unwrap();
    (msg.to_string(), pd)
}

#[tokio::test]
async fn three_instances_one_hot_gpu_with_oom_in_its_logs() {
    if !emulators() {
        return;
    }
    let (a, e) = scenario("hot-gpu", "sns-gpu-utilization-alarm.json").await;
    assert_eq!(notes(&e), Vec::<String>::new(), "nothing should be missing");

    let info = e.endpoint.as_ref().unwrap();
    assert_eq!(info.status, sagealarm::model::EndpointStatus::InService);
    assert_eq!(info.variants[0].instance_type.as_deref(), Some("ml.g4dn.12xlarge"));

    let f = e.fleet.as_ref().unwrap();
    assert_eq!(f.size, 3);
    let o = f.outlier.as_ref().unwrap();
    assert_eq!((o.member.instance.as_deref(), o.member.gpu.as_deref()), (Some("i-0b2c3d4e5f6071829"), Some("2")));
    assert!(o.value > 95.0 && o.others_median < 45.0, "{o:?}");
    assert_eq!(f.rows[0].name, "i-0b2c3d4e5f6071829");

    let logs = e.logs.as_ref().unwrap();
    let first = &logs.streams[0];
    assert_eq!(first.stream, "AllTraffic/i-0b2c3d4e5f6071829", "the outlier's stream comes first");
    let sigs: Vec<&str> = first.lines.iter().map(|l| l.signature.as_str()).collect();
    assert_eq!(&sigs[..2], &["panic", "oom"], "{sigs:?}");
    let oom = first.lines.iter().find(|l| l.signature == "oom").unwrap();
    assert_eq!(oom.count, 11, "eleven OOM lines differing only in numbers collapse into one");
    assert!(first.lines.iter().any(|l| l.signature == "skipped"));
    let all: String = first.lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>().join("\n");
    assert!(!all.contains("hunter2") && !all.contains("eyJhbGci"), "secrets leaked: {all}");
    assert!(logs.streams.iter().skip(1).all(|s| s.matched == 0 || s.stream != first.stream));

    let text = rendered(a, e);
    assert!(text.contains("i-0b2c3d4e5f6071829 GPU 2 stands out"), "{text}");
    assert!(text.contains("CUDA out of memory"));
}

/// After a scale-in, with a container that floods its log with a benign ERROR before the OOM:
/// only live instances count and get rows, the hot GPU is named with its figure, and the OOM and
/// panic lines at the state change come through the flood.
#[tokio::test]
async fn scaled_in_fleet_with_noisy_logs() {
    if !emulators() {
        return;
    }
    let (a, e) = scenario("scaled-in-noisy", "sns-gpu-utilization-alarm.json").await;
    let f = e.fleet.as_ref().unwrap();
    assert_eq!(f.size, 3, "only the live instances count");
    assert!(f.rows.iter().all(|r| !["i-0d4e5f60718293a41", "i-0e5f60718293a4b52", "i-0f60718293a4b5c63"].contains(&r.name.as_str())));
    // The two replaced 40 min ago are listed (recently active); the one gone for 5 h may not be.
    let gone = f.gone.as_ref().expect("the replaced instances are said");
    assert!((2..=3).contains(&gone.count), "{gone:?}");
    let o = f.outlier.as_ref().unwrap();
    assert_eq!((o.member.instance.as_deref(), o.member.gpu.as_deref()), (Some("i-0b2c3d4e5f6071829"), Some("2")));
    assert_eq!(o.others, 11, "3 live instances × 4 GPUs, less the hot one");

    let logs = e.logs.as_ref().unwrap();
    let first = &logs.streams[0];
    let sigs: Vec<&str> = first.lines.iter().map(|l| l.signature.as_str()).collect();
    assert_eq!(&sigs[..2], &["panic", "oom"], "{sigs:?}");
    assert!(logs.scanned < 12_000, "the flood was not read whole: {}", logs.scanned);

    let text = rendered(a, e);
    assert!(text.contains("3 reporting;") && text.contains("more listed with no data since"), "{text}");
    assert!(text.contains("i-0b2c3d4e5f6071829 GPU 2 stands out"), "{text}");
    assert!(text.contains("CUDA out of memory") && text.contains("panicked at"), "{text}");
    assert!(!text.contains("i-0d4e5f60718293a41"), "a gone instance is not shown");
}

#[tokio::test]
async fn even_load_is_said_plainly() {
    if !emulators() {
        return;
    }
    let (a, e) = scenario("even", "sns-gpu-utilization-alarm.json").await;
    let f = e.fleet.as_ref().unwrap();
    assert!(f.outlier.is_none(), "{:?}", f.outlier);
    assert!(matches!(f.verdict, Some(Verdict::Even { .. })), "{:?}", f.verdict);
    assert_eq!(e.logs.as_ref().unwrap().matched, 0);
    assert!(rendered(a, e).contains("Load is even across"));
}

#[tokio::test]
async fn enhanced_metrics_off_gives_the_fix() {
    if !emulators() {
        return;
    }
    let (a, e) = scenario("enhanced-off", "sns-gpu-utilization-alarm.json").await;
    assert!(e.fleet.is_none());
    let advice = e.advice.join("\n");
    assert!(advice.contains("Enhanced metrics are off"), "{advice}");
    assert!(advice.contains("EnableEnhancedMetrics=true"));
    assert!(rendered(a, e).contains("update-endpoint"));
}

#[tokio::test]
async fn missing_log_group_is_said_and_the_rest_arrives() {
    if !emulators() {
        return;
    }
    let (a, e) = scenario("no-log-group", "sns-gpu-utilization-alarm.json").await;
    let n = notes(&e);
    assert_eq!(n.len(), 1, "{n:?}");
    assert!(
        n[0].starts_with("FilterLogEvents: log group /aws/sagemaker/Endpoints/no-log-group-")
            && n[0].ends_with("does not exist: the container has not logged yet, or its logs go elsewhere"),
        "{n:?}"
    );
    assert!(e.fleet.as_ref().unwrap().outlier.is_some());
    assert!(rendered(a, e).contains("does not exist"));
}

/// The burst: provisioned concurrency 4 full, 40 invocations a minute spilling to
/// on-demand, cold starts of ~8.2 s, overhead up to 2.9 s. The alarm's own `Serverless…` metric
/// says "serverless" before DescribeEndpoint does: one GetMetricData, no ListMetrics.
#[tokio::test]
async fn serverless_with_provisioned_concurrency_under_a_burst_is_diagnosed_from_its_own_metrics() {
    if !emulators() {
        return;
    }
    let (a, e) = scenario("serverless", "sns-serverless-provisioned-concurrency-alarm.json").await;
    assert_eq!(notes(&e), Vec::<String>::new(), "nothing should be missing");
    let info = e.endpoint.as_ref().unwrap();
    assert!(info.is_serverless(), "{info:?}");
    // moto keeps ProvisionedConcurrency in the config it returns.
    assert_eq!(info.variants[0].serverless.and_then(|s| s.provisioned_concurrency), Some(4));
    assert!(e.fleet.is_none());
    let stats = e.stats.as_ref().unwrap();
    // DescribeEndpoint → DescribeEndpointConfig ‖ GetMetricData ‖ FilterLogEvents (the minutes at
    // the state change, then the rest of the window and the context side by side) ‖ the three
    // Application Auto Scaling Describe calls side by side.
    assert_eq!((stats.calls, stats.critical_path_calls), (2 + 1 + 3 + 3, 2), "{stats:?}");

    let d = e.serverless.as_ref().expect("a serverless diagnosis");
    assert_eq!(d.finding, Finding::ProvisionedSaturated);
    let p = d.provisioned.as_ref().unwrap();
    // Nine burst minutes × 40 spilled, all within the ten minutes before the alarm.
    assert_eq!((p.spillover, p.spillover_peak_per_min, p.peak_utilization), (360.0, 40.0, Some(1.0)));
    // 45% of max concurrency 20.
    assert_eq!(d.needed_concurrency(), Some(9));
    let c = d.cold_starts.as_ref().unwrap();
    assert_eq!(c.count, 8.0);
    assert!((c.avg_us.unwrap() - 8.2e6).abs() < 1.0, "{c:?}");
    assert_eq!(d.latency.as_ref().and_then(|l| l.overhead_max_us), Some(2.9e6));
    assert_eq!(d.metrics.len(), 12, "every metric of the set came back: {:?}", d.metrics);

    let advice = e.advice.join("\n");
    assert!(advice.contains("ProvisionedConcurrency 9 would have covered it"), "{advice}");
    assert!(advice.contains("Max concurrency 20: the peak used 9 (45%), 11 concurrent executions of headroom left."), "{advice}");

    let (slack, pd) = rendered_both(a, e);
    let headline =
        "Provisioned concurrency 4 is saturated: 40 invocations/min spilled to on-demand, cold starts ~8.2 s, overhead latency up to 2.9 s";
    assert!(slack.contains(headline), "{slack}");
    assert!(!slack.contains("enhanced metrics"), "no enhanced-metrics wording for serverless: {slack}");
    assert_eq!(pd["payload"]["custom_details"]["serverless"]["headline"], headline);
    assert!(pd["payload"]["summary"].as_str().unwrap().ends_with(headline));
}

/// No provisioned concurrency: the burst reaches max concurrency 5 and every scale-up is a cold start.
#[tokio::test]
async fn serverless_without_provisioned_concurrency_at_its_max_is_diagnosed() {
    if !emulators() {
        return;
    }
    let (a, e) = scenario("serverless-on-demand", "sns-serverless-concurrency-alarm.json").await;
    assert_eq!(notes(&e), Vec::<String>::new());
    let d = e.serverless.as_ref().expect("a serverless diagnosis");
    assert_eq!(d.finding, Finding::MaxConcurrencyReached);
    assert!(d.provisioned.is_none() && d.provisioned_concurrency().is_none(), "{d:?}");
    // 97% of 5.
    assert_eq!(d.needed_concurrency(), Some(5));
    assert_eq!(d.cold_starts.as_ref().map(|c| c.count), Some(4.0));
    // Four peak minutes × 12 throttled.
    assert_eq!(d.errors_4xx, Some(48.0));

    let advice = e.advice.join("\n");
    assert!(advice.contains("Max concurrency 5 is the limit: the peak used 5 (97%), 0 left"), "{advice}");
    assert!(advice.contains("Raise MaxConcurrency to 7"), "{advice}");
    assert!(advice.contains("ProvisionedConcurrency 5 (the peak) would keep them warm"), "{advice}");
    let (slack, _) = rendered_both(a, e);
    assert!(
        slack.contains(
            "Max concurrency 5 is nearly used up: concurrency peaked at 5 (97%), requests beyond it are throttled, cold starts ~6.1 s, overhead latency up to 2.4 s"
        ),
        "{slack}"
    );
}

/// An alarm on a metric every endpoint has: DescribeEndpoint tells the variant is serverless, and
/// its metric set follows.
#[tokio::test]
async fn serverless_found_by_describe_endpoint_gets_its_metrics_next() {
    if !emulators() {
        return;
    }
    let (_, e) = scenario("serverless", "sns-model-latency-p99-alarm.json").await;
    assert_eq!(notes(&e), Vec::<String>::new());
    assert_eq!(e.serverless.as_ref().map(|d| d.finding), Some(Finding::ProvisionedSaturated));
    let stats = e.stats.as_ref().unwrap();
    // The instance lookups ran before the endpoint was known (2 ListMetrics, nothing to fetch),
    // then GetMetricData for the serverless set; logs (3 slices) and autoscaling (3) beside them.
    assert_eq!((stats.calls, stats.critical_path_calls), (2 + 2 + 1 + 3 + 3, 3), "{stats:?}");
}

#[tokio::test]
async fn inference_component_containers_are_compared() {
    if !emulators() {
        return;
    }
    let (a, e) = scenario("inference-component", "sns-inference-component-gpu-memory-alarm.json").await;
    let f = e.fleet.as_ref().expect("container metrics from /aws/sagemaker/InferenceComponents");
    let o = f.outlier.as_ref().unwrap();
    assert_eq!(o.member.container.as_deref(), Some("c-7f3e2a"));
    // moto has no inference components: the lookup fails and says so, the rest is delivered.
    let n = notes(&e);
    assert!(n.iter().any(|x| x.starts_with("DescribeInferenceComponent: ")), "{n:?}");
    let text = rendered(a, e);
    assert!(text.contains("container c-7f3e2a stands out"), "{text}");
}

/// The world: a p99-latency alarm on a fleet pinned at its Application Auto Scaling
/// maximum (min 2, max 4, 4 running; target tracking on invocations per instance at 70 while each
/// instance runs 142, load even). The message must say the fleet cannot grow.
#[tokio::test]
async fn at_its_autoscaling_maximum_the_message_says_raise_max_capacity() {
    if !emulators() {
        return;
    }
    let (a, e) = scenario("at-max", "sns-model-latency-p99-alarm.json").await;
    assert_eq!(notes(&e), Vec::<String>::new(), "nothing else should be missing");
    let c = e.capacity.as_ref().expect("the variant's scalable target from moto");
    let s = &c.scaled[0];
    assert_eq!((s.range, s.current, s.at_max, s.unit.as_str()), (Some((2, 4)), Some(4), true, "instances"));
    assert_eq!(s.policies.len(), 1);
    let sagealarm::enrich::capacity::Rule::TargetTracking { target, current, scale_out_cooldown_s, .. } = &s.policies[0].rule else {
        panic!("{:?}", s.policies)
    };
    assert_eq!((*target, *current, *scale_out_cooldown_s), (70.0, Some(142.0), Some(300)));
    assert_eq!(
        c.headline(),
        Some("At its autoscaling maximum: 4 of 4 instances, invocations per instance 142 against a target of 70 — raise MaxCapacity")
    );
    assert!(matches!(e.fleet.as_ref().and_then(|f| f.verdict.as_ref()), Some(Verdict::Even { .. })), "load is even: {:?}", e.fleet);
    let text = rendered(a, e);
    assert!(
        text.contains(
            "🚧 *At its autoscaling maximum: 4 of 4 instances, invocations per instance 142 against a target of 70 — raise MaxCapacity*"
        ),
        "{text}"
    );
    assert!(text.contains("Variant AllTraffic: 4 instances, autoscaling 2–4 — AT MAXIMUM"), "{text}");
    // moto created the endpoint seconds ago: that is the recent change.
    assert!(text.contains("Recent changes: ") && text.contains("endpoint created"), "{text}");
}

#[tokio::test]
async fn a_fleet_with_room_to_grow_under_its_target_has_no_capacity_headline() {
    if !emulators() {
        return;
    }
    let (a, e) = scenario("scaling", "sns-model-latency-p99-alarm.json").await;
    assert_eq!(notes(&e), Vec::<String>::new());
    let c = e.capacity.as_ref().unwrap();
    let s = &c.scaled[0];
    assert_eq!((s.range, s.current, s.at_max), (Some((2, 8)), Some(3), false));
    let sagealarm::enrich::capacity::Rule::TargetTracking { current, .. } = &s.policies[0].rule else { panic!("{:?}", s.policies) };
    assert_eq!(*current, Some(60.0));
    assert_eq!(c.headline(), None);
    let text = rendered(a, e);
    assert!(text.contains("Variant AllTraffic: 3 instances, autoscaling 2–8"), "{text}");
    assert!(text.contains("target tracking"), "{text}");
    assert!(!text.contains("🚧") && !text.contains("AT MAXIMUM"), "{text}");
}

#[tokio::test]
async fn a_variant_that_is_not_autoscaled_is_said_once() {
    if !emulators() {
        return;
    }
    let (a, e) = scenario("even", "sns-model-latency-p99-alarm.json").await;
    let c = e.capacity.as_ref().unwrap();
    assert_eq!(c.scaled.len(), 1);
    assert_eq!((c.scaled[0].range, c.scaled[0].policies.len(), c.headline()), (None, 0, None));
    let text = rendered(a, e);
    let said = "Variant AllTraffic is not autoscaled (not registered with Application Auto Scaling): it stays at 3 instances until someone changes it.";
    assert_eq!(text.matches(said).count(), 1, "{text}");
    assert_eq!(text.matches("not autoscaled").count(), 1, "{text}");
}

/// What moto lacks, said as a note (and covered by the mock layer in `enrich/tests.rs`): if moto
/// gains DescribeScalingActivities, this fails and the filter in [`notes`] can go.
#[tokio::test]
async fn moto_lacks_scaling_activities() {
    if !emulators() {
        return;
    }
    let (_, e) = scenario("scaling", "sns-model-latency-p99-alarm.json").await;
    let missing: Vec<&str> = e.notes.iter().filter(|n| n.source == "DescribeScalingActivities").map(|n| n.message.as_str()).collect();
    assert_eq!(missing.len(), 1, "{:?}", e.notes);
}
