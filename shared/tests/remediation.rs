//! The remediation decision path against moto (SageMaker, Application Auto Scaling), started by
//! `scripts/test.sh`: opt-in by tag, dry run, a real scale-out, at most once per alarm state
//! change, Application Auto Scaling respected. UpdateEndpoint (not in moto) and the faithful
//! config copy are covered on the mock layer in `shared/src/remediate/aws.rs`.

use aws_sdk_cloudwatch::types::StateValue;
use chrono::{Duration, Utc};
use sagealarm::model::{Alarm, Notification};
use sagealarm::remediate::aws::Remediator;
use sagealarm::remediate::{Action, AlarmRef, Decision, Policy};
use sagealarm_testkit::{emulators, seed_endpoint, World};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The sample ALARM notification, about `endpoint`, and the alarm itself in CloudWatch (moto) in
/// `now`: the remediation function asks CloudWatch whether it is still in ALARM.
async fn alarm(sdk: &aws_config::SdkConfig, endpoint: &str, now: StateValue) -> AlarmRef {
    let name = format!("{endpoint}-concurrency");
    let raw = sagealarm_testkit::concurrency_alarm_event(endpoint, &name).unwrap();
    let a: Alarm = match sagealarm::intake::parse_bytes(raw.as_bytes()).unwrap().remove(0) {
        Notification::Alarm(a) => *a,
        Notification::Plain(_) => panic!("not an alarm"),
    };
    sagealarm_testkit::seed_alarm(sdk, &name, now).await.unwrap();
    let target = sagealarm::subject::resolve(&a);
    AlarmRef::of(&a, &target).unwrap()
}

/// A fresh 3-instance endpoint, optionally tagged; moto sets LastModifiedTime to now, so the
/// policy's cooldown is zero here (the cooldown itself is tested in `remediate::tests`).
async fn endpoint(opt_in: Option<&str>) -> (String, aws_config::SdkConfig) {
    let name = format!("remediate-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
    let sdk = sagealarm_testkit::sdk().await;
    seed_endpoint(&aws_sdk_sagemaker::Client::new(&sdk), &World::scenario("even", &name).unwrap()).await.unwrap();
    if let Some(v) = opt_in {
        sagealarm_testkit::opt_in(&aws_sdk_sagemaker::Client::new(&sdk), &name, v).await.unwrap();
    }
    (name, sdk)
}

fn policy() -> Policy {
    Policy { cooldown: Duration::zero(), ..Policy::default() }
}

#[tokio::test]
async fn not_opted_in_is_refused_and_opted_in_dry_run_explains_without_changing() {
    if !emulators() {
        return;
    }
    let (name, sdk) = endpoint(None).await;
    let r = Remediator::new(&sdk, policy());
    let o = r.run(&alarm(&sdk, &name, StateValue::Alarm).await, Action::ScaleOut, true, Utc::now()).await;
    assert_eq!(
        (o.decision, o.reason.as_str()),
        (Decision::Refused, format!("endpoint {name} has not opted in: tag it sagealarm:remediate=scale-out").as_str())
    );

    let (name, sdk) = endpoint(Some("scale-out")).await;
    let r = Remediator::new(&sdk, policy());
    let o = r.run(&alarm(&sdk, &name, StateValue::Alarm).await, Action::ScaleOut, true, Utc::now()).await;
    assert_eq!(o.decision, Decision::DryRun, "{o:?}");
    assert_eq!(o.before["instances"], 3);
    assert_eq!(o.after, serde_json::json!({ "plan": "scale-out", "variant": "AllTraffic", "from": 3, "to": 4 }));
    let d = aws_sdk_sagemaker::Client::new(&sdk).describe_endpoint().endpoint_name(&name).send().await.unwrap();
    assert_eq!(d.production_variants()[0].desired_instance_count(), Some(3), "a dry run changes nothing");
    // The other action is not in the tag.
    let o = r.run(&alarm(&sdk, &name, StateValue::Alarm).await, Action::EnableEnhancedMetrics { frequency_s: 10 }, true, Utc::now()).await;
    assert_eq!(o.decision, Decision::Refused);
    assert!(o.reason.starts_with("enable-enhanced-metrics is not allowed"), "{}", o.reason);
}

#[tokio::test]
async fn scale_out_is_done_once_per_alarm_state_change() {
    if !emulators() {
        return;
    }
    let (name, sdk) = endpoint(Some("scale-out")).await;
    let r = Remediator::new(&sdk, policy());
    let a = alarm(&sdk, &name, StateValue::Alarm).await;
    let o = r.run(&a, Action::ScaleOut, false, Utc::now()).await;
    assert_eq!(o.decision, Decision::Done, "{o:?}");
    let d = aws_sdk_sagemaker::Client::new(&sdk).describe_endpoint().endpoint_name(&name).send().await.unwrap();
    assert_eq!(d.production_variants()[0].desired_instance_count(), Some(4));
    // The same alarm delivered again (SNS/Lambda retry): refused, nothing changes.
    let again = r.run(&a, Action::ScaleOut, false, Utc::now()).await;
    assert_eq!((again.decision, again.reason.as_str()), (Decision::Refused, "already acted on this alarm state change (delivered twice)"));
}

#[tokio::test]
async fn a_variant_under_application_auto_scaling_is_not_fought() {
    if !emulators() {
        return;
    }
    let (name, sdk) = endpoint(Some("scale-out")).await;
    aws_sdk_applicationautoscaling::Client::new(&sdk)
        .register_scalable_target()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Sagemaker)
        .resource_id(format!("endpoint/{name}/variant/AllTraffic"))
        .scalable_dimension(aws_sdk_applicationautoscaling::types::ScalableDimension::SageMakerVariantDesiredInstanceCount)
        .min_capacity(2)
        .max_capacity(6)
        .send()
        .await
        .unwrap();
    let o = Remediator::new(&sdk, policy()).run(&alarm(&sdk, &name, StateValue::Alarm).await, Action::ScaleOut, false, Utc::now()).await;
    assert_eq!(o.decision, Decision::Refused);
    assert!(o.reason.contains("managed by Application Auto Scaling (min 2, max 6)"), "{}", o.reason);
}

#[tokio::test]
async fn an_alarm_that_has_since_recovered_changes_nothing() {
    if !emulators() {
        return;
    }
    let (name, sdk) = endpoint(Some("scale-out")).await;
    let a = alarm(&sdk, &name, StateValue::Ok).await;
    let o = Remediator::new(&sdk, policy()).run(&a, Action::ScaleOut, false, Utc::now()).await;
    assert_eq!((o.decision, o.reason.as_str()), (Decision::Refused, "the alarm is OK now (it was ALARM when notified): nothing to do"));
    let d = aws_sdk_sagemaker::Client::new(&sdk).describe_endpoint().endpoint_name(&name).send().await.unwrap();
    assert_eq!(d.production_variants()[0].desired_instance_count(), Some(3));
}
