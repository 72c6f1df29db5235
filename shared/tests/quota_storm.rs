//! Issue 18: an alarm storm against AWS's real quotas. 30 different alarms about one bad endpoint
//! arrive at once, each handled by its own `App` (own SDK clients and rate limiters, as separate
//! Lambda instances), with the state table on moto and a quota-enforcing stand-in in front of the
//! emulators (`sagealarm_testkit::quota`: FilterLogEvents 5/s, GetMetricData 50/s, ListMetrics
//! 25/s, answering over-quota calls as CloudWatch does). Every alarm must be delivered, at least
//! 90 % of the messages must carry the container's log lines at the state change, and the
//! endpoint's logs must have been read far fewer times than there were alarms (shared evidence).
//!
//! Needs the emulators (scripts/test.sh); skips without them unless SAGEALARM_REQUIRE_EMULATORS=1.

use chrono::{Duration as Minutes, Utc};
use sagealarm::app::{App, EnrichMode};
use sagealarm::deliver::http::RetryPolicy;
use sagealarm::deliver::Routing;
use sagealarm::enrich::shared::Sharing;
use sagealarm::enrich::{EnrichSettings, Enricher};
use sagealarm::model::Notification;
use sagealarm::secrets::SecretResolver;
use sagealarm::state::evidence::Evidence;
use sagealarm::state::StateTable;
use sagealarm_testkit::quota::{sdk_behind_quotas, storm_event, Quotas};
use sagealarm_testkit::{create_state_table, emulators, seed, World};
use std::sync::Arc;
use std::time::Instant;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const ALARMS: usize = 30;
/// A line the hot instance logs before the state change (testkit's `seed_logs`).
const LOG_LINE: &str = "CUDA out of memory";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_alarms_about_one_endpoint_under_real_quotas_all_carry_its_logs() {
    if !emulators() {
        return;
    }
    let plain = sagealarm_testkit::sdk().await;
    let endpoint = format!("quota-storm-{}", std::process::id());
    let world = World::scenario("hot-gpu", &endpoint).unwrap();
    let at = Utc::now() - Minutes::minutes(3);
    seed(&plain, &world, at).await.unwrap();
    let table = format!("sagealarm-state-quota-{}", std::process::id());
    create_state_table(&plain, &table).await.unwrap();

    let quotas = Quotas::real();
    let (sdk, _proxies) = sdk_behind_quotas(quotas.clone()).await.unwrap();
    let webhook = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_string("ok")).mount(&webhook).await;
    let routes = format!("receivers:\n  - {{name: sre, slack: {{webhook_url: \"{}/hook\"}}}}\nroute: {{receivers: [sre]}}", webhook.uri());

    let started = Instant::now();
    let invocations = (0..ALARMS).map(|i| {
        // One Lambda instance per alarm: its own clients (and adaptive rate limiters) and table client.
        let enricher = Enricher::new(&sdk, EnrichSettings::default());
        let app = App::new(
            Routing::parse(&routes).unwrap(),
            SecretResolver::new(None, true),
            EnrichMode::Aws(Arc::new(enricher)),
            RetryPolicy::default(),
        )
        .unwrap()
        .with_state(StateTable::new(&sdk, &table));
        let event = storm_event(i, &endpoint, at).unwrap();
        tokio::spawn(async move { app.handle(&event).await })
    });
    let results = futures::future::join_all(invocations).await;
    let took = started.elapsed();
    for r in &results {
        let summary = r.as_ref().unwrap().as_ref().unwrap();
        assert!(summary.deliveries.iter().all(|d| d.ok), "{:?}", summary.deliveries);
    }

    let bodies: Vec<String> =
        webhook.received_requests().await.unwrap().iter().map(|r| String::from_utf8_lossy(&r.body).into_owned()).collect();
    assert_eq!(bodies.len(), ALARMS, "every alarm delivered once");
    let with_logs = bodies.iter().filter(|b| b.contains(LOG_LINE)).count();
    let counts = quotas.counts();
    let filter = counts.get("FilterLogEvents").copied().unwrap_or_default();
    eprintln!("{ALARMS} alarms in {took:?}: {with_logs} messages with the log lines; calls per operation: {counts:?}");
    assert!(with_logs * 10 >= ALARMS * 9, "{with_logs} of {ALARMS} messages carry the log lines at the state change");
    assert!(filter.calls > 0 && filter.calls * 3 <= ALARMS as u64, "FilterLogEvents read once per storm, not per alarm: {filter:?}");
    assert!(counts.get("DescribeEndpoint").is_some_and(|c| c.calls < ALARMS as u64 / 2), "{counts:?}");
}

/// A leader that claimed a bucket and crashed: the next alarm waits for its lease to pass, takes
/// the claim over and fetches; the one after reuses what it published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_leaders_claim_is_taken_over_when_its_lease_passes() {
    if !emulators() {
        return;
    }
    let sdk = sagealarm_testkit::sdk().await;
    let endpoint = format!("quota-lease-{}", std::process::id());
    let at = Utc::now() - Minutes::minutes(3);
    seed(&sdk, &World::scenario("hot-gpu", &endpoint).unwrap(), at).await.unwrap();
    let table = format!("sagealarm-state-lease-{}", std::process::id());
    create_state_table(&sdk, &table).await.unwrap();
    let state = StateTable::new(&sdk, &table);
    let bucket = (at.timestamp().div_euclid(300) * 300).to_string();
    let lease = std::time::Duration::from_secs(2);
    let claimed = state.evidence_claim(&[&endpoint, "AllTraffic/", &bucket], lease, std::time::Duration::from_secs(900)).await.unwrap();
    assert!(matches!(claimed, Evidence::Mine(_)), "{claimed:?}");

    let alarm = |i: usize| match sagealarm::intake::parse_event(&storm_event(i, &endpoint, at).unwrap()).unwrap().remove(0) {
        Notification::Alarm(a) => *a,
        Notification::Plain(_) => panic!("an alarm"),
    };
    let enrich = |i: usize| {
        let (a, state) = (alarm(i), state.clone());
        let enricher = Enricher::new(&sdk, EnrichSettings::default()).with_state(state);
        // On the heap: the enrichment future is large for a test thread's stack in debug builds.
        Box::pin(async move { enricher.enrich(&a, &sagealarm::subject::resolve(&a)).await })
    };
    let started = Instant::now();
    let first = enrich(0).await;
    assert!(started.elapsed() >= lease - std::time::Duration::from_millis(300), "waited for the lease: {:?}", started.elapsed());
    assert_eq!(first.stats.as_ref().and_then(|s| s.sharing), Some(Sharing::Fetched), "{:?}", first.stats);
    let second = enrich(1).await;
    assert_eq!(second.stats.as_ref().and_then(|s| s.sharing), Some(Sharing::Reused), "{:?}", second.stats);
    assert!(first.logs.as_ref().is_some_and(|l| !l.streams.is_empty()), "{:?}", first.notes);
    assert_eq!(first.endpoint, second.endpoint);
    assert_eq!(first.logs.map(|l| l.streams.len()), second.logs.map(|l| l.streams.len()));
}
