//! `sagealarm remediate --dry-run` against the emulators (started by `scripts/test.sh`): it explains
//! its decision for an endpoint that has not opted in and for one that has, and changes nothing.

use sagealarm_testkit::{emulators, seed_endpoint, World};
use serde_json::Value;

async fn world(name: &str, opt_in: Option<&str>) -> std::path::PathBuf {
    let sdk = sagealarm_testkit::sdk().await;
    let sm = aws_sdk_sagemaker::Client::new(&sdk);
    seed_endpoint(&sm, &World::scenario("even", name).unwrap()).await.unwrap();
    if let Some(v) = opt_in {
        sagealarm_testkit::opt_in(&sm, name, v).await.unwrap();
    }
    let alarm = format!("{name}-concurrency");
    sagealarm_testkit::seed_alarm(&sdk, &alarm, aws_sdk_cloudwatch::types::StateValue::Alarm).await.unwrap();
    let path = std::env::temp_dir().join(format!("{name}.json"));
    std::fs::write(&path, sagealarm_testkit::concurrency_alarm_event(name, &alarm).unwrap()).unwrap();
    path
}

fn dry_run(event: &std::path::Path) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sagealarm"))
        .args(["remediate", event.to_str().unwrap(), "--action", "scale-out", "--dry-run"])
        // The seeded endpoint was modified just now; the cooldown itself is tested in the library.
        .env("SAGEALARM_REMEDIATE_COOLDOWN_MIN", "0")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON object per action: {text}");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn dry_run_explains_its_decision_for_a_non_opted_in_and_an_opted_in_endpoint() {
    if !emulators() {
        return;
    }
    let name = format!("cli-remediate-{}", std::process::id());
    let o = dry_run(&world(&name, None).await);
    assert_eq!(o["decision"], "refused");
    assert_eq!(o["reason"], format!("endpoint {name} has not opted in: tag it sagealarm:remediate=scale-out"));

    let name = format!("cli-remediate-in-{}", std::process::id());
    let o = dry_run(&world(&name, Some("scale-out")).await);
    assert_eq!(
        (o["action"].as_str(), o["endpoint"].as_str(), o["decision"].as_str()),
        (Some("scale-out"), Some(name.as_str()), Some("dry-run")),
        "{o}"
    );
    assert_eq!(o["reason"], "every guardrail passed; nothing was changed (dry run)");
    assert_eq!((o["before"]["instances"].as_i64(), o["after"]["to"].as_i64()), (Some(3), Some(4)));
    let sdk = sagealarm_testkit::sdk().await;
    let d = aws_sdk_sagemaker::Client::new(&sdk).describe_endpoint().endpoint_name(&name).send().await.unwrap();
    assert_eq!(d.production_variants()[0].desired_instance_count(), Some(3), "a dry run changes nothing");
}
