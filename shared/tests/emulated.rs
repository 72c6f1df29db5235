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
    let target = sagealarm::target::resolve(&a);
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
    let target = sagealarm::target::resolve(&a);
    let report = Report::Alarm(Box::new(build_alarm(a, target, e)));
    let msg = slack::render(&report, &[]);
    slack::check_limits(&msg).unwrap();
    pagerduty::check_event(&pagerduty::render(&report, "0123456789abcdef0123456789abcdef", sagealarm::model::Severity::Critical)).unwrap();
    msg.to_string()
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

#[tokio::test]
async fn serverless_endpoint_says_what_applies_instead_of_instances() {
    if !emulators() {
        return;
    }
    let (a, e) = scenario("serverless", "sns-serverless-concurrency-alarm.json").await;
    let info = e.endpoint.as_ref().unwrap();
    assert!(info.is_serverless(), "{info:?}");
    assert!(e.fleet.is_none());
    let advice = e.advice.join("\n");
    assert!(advice.contains("Serverless endpoint: there are no instances or GPUs to compare"), "{advice}");
    assert!(advice.contains("max concurrency 5 and 4096 MB"), "{advice}");
    assert!(rendered(a, e).contains("serverless"));
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
        c.headline.as_deref(),
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
    assert_eq!(c.headline, None);
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
    assert_eq!((c.scaled[0].range, c.scaled[0].policies.len(), c.headline.as_deref()), (None, 0, None));
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
