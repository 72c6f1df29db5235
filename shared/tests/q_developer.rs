//! Amazon Q Developer notifications published to a real SNS protocol (moto) and read back from a
//! subscribed SQS queue, as a Q Developer channel configuration would receive them: the schema
//! holds, ALARM and OK of one alarm share a `threadId`, and the app's path (routing, delivery
//! records) treats the destination like any other.
//!
//! Without the emulators these tests say so and pass, unless `SAGEALARM_REQUIRE_EMULATORS=1`.

use sagealarm::app::{App, EnrichMode};
use sagealarm::deliver::http::RetryPolicy;
use sagealarm::deliver::q_developer::render::check;
use sagealarm::deliver::Routing;
use sagealarm::secrets::SecretResolver;
use sagealarm_testkit::emulators;
use serde_json::Value;

fn event(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()).unwrap()
}

#[tokio::test]
async fn alarm_and_ok_reach_the_topic_as_custom_notifications_in_one_thread() {
    if !emulators() {
        return;
    }
    let sdk = sagealarm_testkit::sdk().await;
    let (sns, sqs) = (aws_sdk_sns::Client::new(&sdk), aws_sdk_sqs::Client::new(&sdk));
    let name = format!("sagealarm-q-{}", std::process::id());
    let topic = sns.create_topic().name(&name).send().await.unwrap().topic_arn().unwrap().to_string();
    let queue = sqs.create_queue().queue_name(&name).send().await.unwrap().queue_url().unwrap().to_string();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned())
        .unwrap();
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&queue_arn).send().await.unwrap();

    let doc = format!("receivers: [{{name: q, q_developer: {{topic_arn: \"{topic}\"}}}}]\nroute: {{receivers: [q], severity: critical}}");
    let app = App::new(
        Routing::parse(&doc).unwrap(),
        SecretResolver::new(Some(&sdk), true),
        EnrichMode::Off("test".into()),
        RetryPolicy::default(),
    )
    .unwrap();
    for e in ["sns-high-concurrency-alarm.json", "sns-high-concurrency-ok.json"] {
        let summary = app.handle(&event(e)).await.unwrap();
        assert!(summary.deliveries.iter().all(|d| d.ok && d.kind == "q_developer"), "{summary:?}");
    }

    let mut published: Vec<Value> = vec![];
    for _ in 0..5 {
        let out = sqs.receive_message().queue_url(&queue).max_number_of_messages(10).wait_time_seconds(1).send().await.unwrap();
        for m in out.messages() {
            // The SNS envelope (raw delivery off), its Message the notification.
            let envelope: Value = serde_json::from_str(m.body().unwrap()).unwrap();
            published.push(serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap());
        }
        if published.len() >= 2 {
            break;
        }
    }
    assert_eq!(published.len(), 2, "{published:#?}");
    for n in &published {
        check(n).unwrap_or_else(|e| panic!("{e}: {n}"));
    }
    let titles: Vec<&str> = published.iter().map(|n| n["content"]["title"].as_str().unwrap()).collect();
    assert!(titles.iter().any(|t| t.starts_with("🔴 ALARM: deepgram-high-concurrency")), "{titles:?}");
    assert!(titles.iter().any(|t| t.starts_with("✅ OK: deepgram-high-concurrency")), "{titles:?}");
    assert_eq!(published[0]["metadata"]["threadId"], published[1]["metadata"]["threadId"], "one thread");
}

/// A topic that does not exist is a permanent failure, named; nothing is retried for it.
#[tokio::test]
async fn a_missing_topic_is_a_failure_naming_sns() {
    if !emulators() {
        return;
    }
    let sdk = sagealarm_testkit::sdk().await;
    let doc =
        "receivers: [{name: q, q_developer: {topic_arn: \"arn:aws:sns:us-east-1:123456789012:no-such-topic\"}}]\nroute: {receivers: [q]}";
    let app = App::new(
        Routing::parse(doc).unwrap(),
        SecretResolver::new(Some(&sdk), true),
        EnrichMode::Off("test".into()),
        RetryPolicy::default(),
    )
    .unwrap();
    let err = app.handle(&event("sns-high-concurrency-alarm.json")).await.unwrap_err().to_string();
    assert!(err.contains("SNS Publish"), "{err}");
}
