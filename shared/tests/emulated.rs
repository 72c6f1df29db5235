//! Enrichment end to end against emulated AWS on loopback: the real SDK clients, CloudWatch
//! metrics on LocalStack, Logs and SageMaker on moto. `scripts/test.sh` starts the emulators
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

fn notes(e: &Enrichment) -> Vec<String> {
    e.notes.iter().map(|n| format!("{}: {}", n.source, n.message)).collect()
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
