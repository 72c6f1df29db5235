//! Every envelope, every alarm shape and every real-world quirk.

use super::*;
use crate::model::*;

fn fixture(name: &str) -> Vec<Notification> {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    parse_bytes(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn alarm(name: &str) -> Alarm {
    match fixture(name).remove(0) {
        Notification::Alarm(a) => *a,
        other => panic!("{name}: not an alarm: {other:?}"),
    }
}

#[test]
fn every_sample_event_parses() {
    let dir = format!("{}/../events", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for sub in ["", "real"] {
        for entry in std::fs::read_dir(format!("{dir}/{sub}")).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "json") {
                let parsed = parse_bytes(&std::fs::read(&p).unwrap());
                assert!(parsed.as_ref().is_ok_and(|v| !v.is_empty()), "{}: {parsed:?}", p.display());
                n += 1;
            }
        }
    }
    assert!(n >= 30, "only {n} events found");
}

#[test]
fn single_metric_sns_with_upper_case_statistic_and_offset_time() {
    let a = alarm("sns-gpu-utilization-alarm.json");
    assert_eq!(a.name, "deepgram-high-gpu");
    assert_eq!(a.state, AlarmState::Alarm);
    assert_eq!(a.previous_state, Some(AlarmState::Ok));
    assert_eq!(a.description, None);
    assert_eq!((a.region.as_deref(), a.account.as_deref(), a.partition.as_str()), (Some("us-east-1"), Some("123456789012"), "aws"));
    assert_eq!(a.state_change_time.unwrap().to_rfc3339(), "2026-11-20T14:07:31.512+00:00");
    let AlarmKind::Metric { stat, evaluation } = &a.kind else { panic!("{:?}", a.kind) };
    assert_eq!(stat.stat.as_str(), "Average");
    assert_eq!(stat.metric.namespace, "/aws/sagemaker/Endpoints");
    assert_eq!(stat.metric.dimension("VariantName"), Some("AllTraffic"));
    assert_eq!(evaluation.threshold, Some(80.0));
    assert_eq!(evaluation.comparison, Some(Comparison::GreaterThanOrEqualToThreshold));
    assert_eq!((evaluation.period_s, evaluation.evaluation_periods, evaluation.datapoints_to_alarm), (Some(300), Some(3), Some(3)));
    assert_eq!(evaluation.treat_missing_data, Some(TreatMissingData::Missing));
    assert!(matches!(&a.origin, Origin::Sns { message_id, .. } if message_id == "837ef169-4dd9-5362-b0f0-079ee0a285d2"));
}

#[test]
fn extended_statistic_percentile_and_null_unit() {
    let a = alarm("sns-first-chunk-latency-p99-alarm.json");
    let AlarmKind::Metric { stat, evaluation } = &a.kind else { panic!() };
    assert_eq!(stat.stat.as_str(), "p99");
    assert_eq!(stat.unit.as_deref(), Some("Microseconds"));
    assert_eq!(evaluation.treat_missing_data, Some(TreatMissingData::NotBreaching));
    let a = alarm("sns-5xx-errors-alarm.json");
    let AlarmKind::Metric { stat, .. } = &a.kind else { panic!() };
    assert_eq!((stat.unit.as_deref(), stat.stat.as_str()), (None, "Sum"));
}

#[test]
fn metric_math_and_anomaly_detection() {
    let a = alarm("sns-metric-math-error-rate-alarm.json");
    let AlarmKind::MetricMath { queries, evaluation } = &a.kind else { panic!("{:?}", a.kind) };
    assert_eq!(queries.len(), 3);
    assert_eq!(queries[0].expression.as_deref(), Some("m1 / m2"));
    assert!(!queries[1].return_data);
    assert_eq!(queries[1].metric_stat.as_ref().unwrap().metric.name, "Invocation5XXErrors");
    assert_eq!(evaluation.threshold, Some(0.02));

    let a = alarm("sns-anomaly-detection-alarm.json");
    let AlarmKind::AnomalyDetection { queries, evaluation } = &a.kind else { panic!("{:?}", a.kind) };
    assert_eq!(evaluation.threshold, None);
    assert_eq!(evaluation.threshold_metric_id.as_deref(), Some("ad1"));
    assert_eq!(evaluation.comparison, Some(Comparison::LessThanLowerOrGreaterThanUpperThreshold));
    assert!(queries.iter().any(|q| q.expression.as_deref() == Some("ANOMALY_DETECTION_BAND(m1, 2)")));
}

#[test]
fn composite_has_children_and_no_trigger() {
    let a = alarm("sns-composite-alarm.json");
    let AlarmKind::Composite { rule, triggering_children } = &a.kind else { panic!() };
    assert!(rule.starts_with("ALARM(\"deepgram-invocation-errors\")"));
    assert_eq!(triggering_children.len(), 2);
    assert_eq!(triggering_children[1].name, "deepgram-high-concurrency");
    assert_eq!(triggering_children[1].state, Some(AlarmState::Alarm));
    assert!(triggering_children[1].timestamp.is_some());
}

#[test]
fn ok_and_insufficient_data_states() {
    assert_eq!(alarm("sns-high-concurrency-ok.json").state, AlarmState::Ok);
    let raw = std::fs::read_to_string(format!("{}/../events/sns-5xx-errors-alarm.json", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .replace(r#"\"NewStateValue\":\"ALARM\""#, r#"\"NewStateValue\":\"INSUFFICIENT_DATA\""#);
    match parse_bytes(raw.as_bytes()).unwrap().remove(0) {
        Notification::Alarm(a) => assert_eq!(a.state, AlarmState::InsufficientData),
        other => panic!("{other:?}"),
    }
}

#[test]
fn eventbridge_dimensions_map_and_reason_data() {
    let a = alarm("eventbridge-high-concurrency-alarm.json");
    assert_eq!(a.name, "deepgram-high-concurrency");
    assert_eq!(a.arn.as_deref(), Some("arn:aws:cloudwatch:us-east-1:123456789012:alarm:deepgram-high-concurrency"));
    let AlarmKind::Metric { stat, evaluation } = &a.kind else { panic!("{:?}", a.kind) };
    assert_eq!(stat.metric.name, "ConcurrentRequestsPerModel");
    assert_eq!(stat.metric.dimension("EndpointName"), Some("deepgram-prod"));
    assert_eq!((evaluation.threshold, evaluation.period_s), (Some(80.0), Some(60)));
    assert_eq!(evaluation.comparison, Some(Comparison::GreaterThanOrEqualToThreshold), "from the reason text");
    assert!(matches!(a.origin, Origin::EventBridge { .. }));
}

#[test]
fn alarm_action_and_its_published_quirks() {
    let a = alarm("lambda-alarm-action-high-concurrency.json");
    assert_eq!(a.origin, Origin::AlarmAction);
    assert_eq!(a.region.as_deref(), Some("us-east-1"));
    // Spaces inside times and ARNs, as in the runtime's published fixture.
    let a = alarm("real/lambda-action-metric.json");
    assert_eq!(a.account.as_deref(), Some("444455556666"));
    assert_eq!(a.state_change_time.unwrap().to_rfc3339(), "2023-08-04T12:36:15.490+00:00");
    assert_eq!(a.previous_state, Some(AlarmState::InsufficientData));
    let a = alarm("real/lambda-action-composite.json");
    assert!(matches!(&a.kind, AlarmKind::Composite { triggering_children, .. } if triggering_children.len() == 1));
    let a = alarm("real/lambda-action-hybrid-eb-header-composite.json");
    assert_eq!(a.actions_suppressed_by.as_deref(), Some("WaitPeriod"));
}

#[test]
fn real_world_quirks() {
    // Old TreatMissingData spelling, Unit "None", no *Actions.
    let a = alarm("real/sns-metric-old-tmd-2021-rheoceros.json");
    let AlarmKind::Metric { stat, evaluation } = &a.kind else { panic!() };
    assert_eq!(evaluation.treat_missing_data, Some(TreatMissingData::Missing));
    assert_eq!(stat.unit, None);
    // Placeholder ARN: no region invented.
    assert_eq!(alarm("real/sns-metric-go-fixture-2015.json").region, None);
    // SigningCertURL spelling.
    assert_eq!(alarm("real/sns-metric-rust-fixture-certURL-2015.json").name, "EXAMPLE");
    // Empty-string description is no description.
    assert_eq!(alarm("real/sns-composite-2021-rheoceros.json").description, None);
    // Anomaly alarm returning to OK, in Seoul.
    let a = alarm("real/sns-anomaly-2021-ok-cloudforet.json");
    assert_eq!((a.state, a.region.as_deref()), (AlarmState::Ok, Some("ap-northeast-2")));
    assert!(matches!(a.kind, AlarmKind::AnomalyDetection { .. }));
    // EventBridge anomaly from the docs.
    assert!(matches!(alarm("real/eb-anomaly.json").kind, AlarmKind::AnomalyDetection { .. }));
    assert!(matches!(alarm("real/eb-composite-suppressor.json").kind, AlarmKind::Composite { .. }));
}

#[test]
fn other_partitions_from_the_arn() {
    let raw = std::fs::read_to_string(format!("{}/../events/sns-5xx-errors-alarm.json", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .replace("arn:aws:cloudwatch:us-east-1:", "arn:aws-cn:cloudwatch:cn-north-1:");
    let Notification::Alarm(a) = parse_bytes(raw.as_bytes()).unwrap().remove(0) else { panic!() };
    assert_eq!((a.partition.as_str(), a.region.as_deref()), ("aws-cn", Some("cn-north-1")));
}

#[test]
fn multiple_records_each_become_a_notification() {
    let n = fixture("real/adv-5-two-sns-records.json");
    assert_eq!(n.len(), 2);
    assert!(matches!(&n[1], Notification::Alarm(a) if matches!(a.kind, AlarmKind::Composite { .. })));
    assert_eq!(fixture("real/sns-metricmath-rust-fixture-2records-2015.json").len(), 2);
}

#[test]
fn non_alarm_sns_messages_are_plain() {
    let n = fixture("sns-plain-text-message.json");
    assert!(matches!(&n[0], Notification::Plain(p) if !p.body.is_empty()));
    let json_other = r#"{"Records":[{"EventSource":"aws:sns","EventVersion":"1.0","EventSubscriptionArn":"arn:aws:sns:us-east-1:1:t:x",
      "Sns":{"Type":"Notification","MessageId":"m","TopicArn":"arn:aws:sns:us-east-1:1:t","Subject":null,"Message":"{\"hello\":1}",
      "Timestamp":"2026-11-20T14:07:31.566Z","SignatureVersion":"1","Signature":"x","SigningCertURL":"x","UnsubscribeURL":"x","MessageAttributes":{}}}]}"#;
    let n = parse_bytes(json_other.as_bytes()).unwrap();
    assert!(matches!(&n[0], Notification::Plain(p) if p.body == "{\"hello\":1}" && p.subject.is_none()));
}

/// Found by `scripts/fuzz.sh`: an SNS message with no subject and an empty body became a PagerDuty
/// event with an empty summary, which PagerDuty rejects (HTTP 400).
#[test]
fn an_empty_sns_message_without_subject_still_renders_valid_bodies() {
    for (subject, message) in [("null", r#""""#), ("null", r#"" \n ""#), (r#"" ""#, r#""""#)] {
        let raw = format!(
            r#"{{"Records":[{{"EventSource":"aws:sns","EventVersion":"1.0","EventSubscriptionArn":"arn:aws:sns:us-east-1:1:t:x",
          "Sns":{{"Type":"Notification","MessageId":"57c992bc-21f6-5a74-bda5-c8b9155571ca","TopicArn":"arn:aws:sns:us-east-1:1:t","Subject":{subject},"Message":{message},
          "Timestamp":"2021-11-10T02:45:55.681Z","SignatureVersion":"1","Signature":"x","SigningCertUrl":"x","UnsubscribeUrl":"x","MessageAttributes":{{}}}}}}]}}"#
        );
        let n = parse_bytes(raw.as_bytes()).unwrap();
        let Notification::Plain(p) = &n[0] else { panic!("{n:?}") };
        let report = crate::report::Report::Plain(p.clone());
        let ev = crate::deliver::pagerduty::render::render(&report, "0123456789abcdef0123456789abcdef", crate::model::Severity::Warning);
        crate::deliver::pagerduty::render::check_event(&ev).unwrap_or_else(|e| panic!("{subject}/{message}: {e}"));
        assert_eq!(ev["payload"]["summary"], "SNS notification with an empty message");
        crate::deliver::slack::render::check_limits(&crate::deliver::slack::render::render(&report, &[])).unwrap();
    }
}

#[test]
fn bad_input_is_a_one_line_error_naming_what_was_expected() {
    let cases: [(&str, &str); 7] = [
        ("not json", "input is not JSON"),
        ("[1,2]", "got a JSON array"),
        ("{\"foo\":1}", "expected an SNS event (`Records[]`)"),
        ("{\"Records\":[]}", "`Records` is empty"),
        ("{\"Records\":[{\"Sns\":{}}]}", "malformed SNS event"),
        (
            "{\"detail-type\":\"EC2 Instance State-change Notification\",\"source\":\"aws.ec2\",\"detail\":{}}",
            "expected \"CloudWatch Alarm State Change\"",
        ),
        ("{\"alarmData\":{\"alarmName\":\"x\",\"state\":{\"value\":\"MAYBE\"}}}", "expected ALARM, OK or INSUFFICIENT_DATA"),
    ];
    for (input, want) in cases {
        let e = parse_bytes(input.as_bytes()).unwrap_err().to_string();
        assert!(e.contains(want), "{input}: {e}");
        assert!(!e.contains('\n'), "{input}: multi-line error {e}");
    }
}

// Multi-time-series (Metrics Insights GROUP BY) alarms: one notification per contributor.

const GPU_QUERY: &str = "SELECT MAX(GPUUtilizationNormalized) FROM SCHEMA(\"/aws/sagemaker/Endpoints\", EndpointName, InstanceId, GpuId) WHERE EndpointName = 'llm-prod' GROUP BY InstanceId, GpuId ORDER BY MAX() DESC";
const GPU_ALARM_ARN: &str = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:llm-prod-gpu-saturated";

fn gpu_contributor() -> Contributor {
    Contributor {
        id: "6d442278dba546f6".into(),
        attributes: vec![("InstanceId".into(), "i-0123456789abcdef0".into()), ("GpuId".into(), "3".into())],
    }
}

fn only_query(a: &Alarm) -> &MetricQuery {
    let AlarmKind::MetricMath { queries, .. } = &a.kind else { panic!("{:?}", a.kind) };
    assert_eq!(queries.len(), 1);
    &queries[0]
}

#[test]
fn contributor_eventbridge_event_is_accepted() {
    let a = alarm("eventbridge-contributor-gpu-alarm.json");
    assert_eq!((a.name.as_str(), a.arn.as_deref()), ("llm-prod-gpu-saturated", Some(GPU_ALARM_ARN)));
    assert_eq!((a.state, a.previous_state), (AlarmState::Alarm, None));
    assert_eq!(a.contributor, Some(gpu_contributor()));
    assert_eq!(only_query(&a).expression.as_deref(), Some(GPU_QUERY));
    let e = a.kind.evaluation().unwrap();
    // No reasonData: comparison and threshold come from the reason's words.
    assert_eq!((e.comparison, e.threshold), (Some(Comparison::GreaterThanOrEqualToThreshold), Some(95.0)));
    assert!(matches!(&a.origin, Origin::EventBridge { id } if id == "3e1b9c7d-0f2a-4b5c-8d6e-9f0a1b2c3d4e"));
}

#[test]
fn contributor_sns_message_is_accepted() {
    let a = alarm("sns-contributor-gpu-alarm.json");
    assert_eq!((a.state, a.previous_state), (AlarmState::Alarm, Some(AlarmState::Ok)));
    assert_eq!(a.contributor, Some(gpu_contributor()));
    assert_eq!(only_query(&a).expression.as_deref(), Some(GPU_QUERY));
    let e = a.kind.evaluation().unwrap();
    assert_eq!((e.threshold, e.period_s, e.evaluation_periods), (Some(95.0), Some(60), Some(3)));

    let ok = alarm("sns-contributor-gpu-ok.json");
    assert_eq!((ok.state, ok.previous_state), (AlarmState::Ok, Some(AlarmState::Alarm)));
    assert_eq!(ok.contributor, Some(gpu_contributor()));
}

#[test]
fn contributor_alarm_action_is_accepted() {
    let a = alarm("lambda-action-contributor-gpu-alarm.json");
    assert_eq!(a.origin, Origin::AlarmAction);
    assert_eq!(a.contributor, Some(gpu_contributor()));
    assert_eq!(only_query(&a).expression.as_deref(), Some(GPU_QUERY));
    assert_eq!(a.region.as_deref(), Some("us-east-1"));
}

#[test]
fn alarm_level_notification_of_a_multi_time_series_alarm_has_no_contributor() {
    let a = alarm("sns-multi-time-series-alarm-level.json");
    assert_eq!(a.contributor, None);
    assert!(a.reason.contains("3 out of 48 time series evaluated to ALARM"));
    assert_eq!(only_query(&a).expression.as_deref(), Some(GPU_QUERY));
    assert_eq!(a.identity(), GPU_ALARM_ARN);
}

#[test]
fn contributor_ok_via_eventbridge_and_alarm_action() {
    // Contributors are only ALARM or OK; an OK contributor event has the same shape.
    for name in ["eventbridge-contributor-gpu-alarm.json", "lambda-action-contributor-gpu-alarm.json"] {
        let raw = std::fs::read_to_string(format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let raw = raw.replacen("\"value\": \"ALARM\"", "\"value\": \"OK\"", 1);
        let Notification::Alarm(a) = parse_bytes(raw.as_bytes()).unwrap().remove(0) else { panic!("{name}") };
        assert_eq!((a.state, a.contributor), (AlarmState::Ok, Some(gpu_contributor())), "{name}");
    }
}

#[test]
fn one_identity_per_contributor_whatever_the_route() {
    let sns = alarm("sns-contributor-gpu-alarm.json");
    let eb = alarm("eventbridge-contributor-gpu-alarm.json");
    let action = alarm("lambda-action-contributor-gpu-alarm.json");
    let want = format!("{GPU_ALARM_ARN}#contributor/6d442278dba546f6");
    for a in [&sns, &eb, &action] {
        assert_eq!(a.identity(), want, "{:?}", a.origin);
        assert_eq!(a.state_change_key(), Some(format!("{want}@2026-11-20T14:07:31.512+00:00")), "{:?}", a.origin);
    }
    // The OK of the same contributor resolves the same incident.
    assert_eq!(alarm("sns-contributor-gpu-ok.json").identity(), want);
    // The alarm level is not any contributor.
    assert_ne!(alarm("sns-multi-time-series-alarm-level.json").identity(), want);

    // Another GPU of the same alarm is another incident, on every route.
    for name in ["sns-contributor-gpu-alarm.json", "eventbridge-contributor-gpu-alarm.json", "lambda-action-contributor-gpu-alarm.json"] {
        let raw = std::fs::read_to_string(format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let other = raw.replace("6d442278dba546f6", "a1b2c3d4e5f60718");
        let other = if name.starts_with("sns") {
            other.replace(r#"\"GpuId\":\"3\""#, r#"\"GpuId\":\"5\""#)
        } else {
            other.replace(r#""GpuId": "3""#, r#""GpuId": "5""#)
        };
        let Notification::Alarm(b) = parse_bytes(other.as_bytes()).unwrap().remove(0) else { panic!("{name}") };
        assert_eq!(b.contributor.as_ref().and_then(|c| c.attribute("GpuId")), Some("5"), "{name}");
        assert_ne!(b.identity(), want, "{name}");
        assert_eq!(b.identity(), format!("{GPU_ALARM_ARN}#contributor/a1b2c3d4e5f60718"));
        assert_ne!(b.state_change_key(), sns.state_change_key());
    }
}

#[test]
fn contributor_attributes_are_read_leniently() {
    let base = |contributor: &str| {
        format!(
            r#"{{"detail-type":"CloudWatch Alarm Contributor State Change","source":"aws.cloudwatch","resources":["{GPU_ALARM_ARN}"],
              "detail":{{"alarmName":"x","alarmContributor":{contributor},"state":{{"value":"ALARM","timestamp":"2026-11-20T14:07:31.512+0000"}}}}}}"#
        )
    };
    let parse = |c: &str| match parse_bytes(base(c).as_bytes()).unwrap_or_else(|e| panic!("{c}: {e}")).remove(0) {
        Notification::Alarm(a) => a.contributor,
        other => panic!("{other:?}"),
    };
    // The API's list shape, and numbers as values.
    let c = parse(r#"{"id":"ab","attributes":[{"Name":"GpuId","Value":"1"},{"Name":"InstanceId","Value":"i-1"}]}"#).unwrap();
    assert_eq!(c.attributes, vec![("GpuId".to_string(), "1".to_string()), ("InstanceId".to_string(), "i-1".to_string())]);
    assert_eq!(parse(r#"{"id":"ab","attributes":{"GpuId":2}}"#).unwrap().attribute("GpuId"), Some("2"));
    // No attributes: still a contributor; no id: none (the alarm is still delivered).
    assert_eq!(parse(r#"{"id":"ab"}"#).unwrap().attributes, vec![]);
    assert_eq!(parse(r#"{"attributes":{"GpuId":"2"}}"#), None);
    assert_eq!(parse("null"), None);
    assert_eq!(parse(r#""just a string""#), None);
}

#[test]
fn unknown_detail_types_are_still_refused() {
    let raw = r#"{"detail-type":"CloudWatch Alarm Configuration Change","source":"aws.cloudwatch","detail":{"alarmName":"x"}}"#;
    let e = parse_bytes(raw.as_bytes()).unwrap_err().to_string();
    assert!(e.contains("CloudWatch Alarm Contributor State Change") && !e.contains('\n'), "{e}");
}

/// A PromQL alarm's contributor on all three paths: the query, pending and recovery periods (when
/// the path carries them), the contributor's labels, the tags; one identity across paths.
#[test]
fn promql_contributors_on_every_path_share_one_identity() {
    let paths = [
        "sns-promql-kv-cache-contributor-alarm.json",
        "eventbridge-promql-kv-cache-contributor-alarm.json",
        "lambda-action-promql-kv-cache-contributor-alarm.json",
    ];
    let alarms: Vec<Alarm> = paths.iter().map(|p| alarm(p)).collect();
    for (p, a) in paths.iter().zip(&alarms) {
        let AlarmKind::PromQl(c) = &a.kind else { panic!("{p}: {:?}", a.kind) };
        let c_id = a.contributor.as_ref().map(|c| c.id.as_str());
        assert_eq!(c_id, Some("3f9a1c0d5e7b2a64"), "{p}");
        assert_eq!(a.contributor.as_ref().unwrap().attribute("aws.sagemaker.inference_component.name"), Some("ic-llama-3-8b"), "{p}");
        assert_eq!(a.identity(), alarms[0].identity(), "{p}: one dedup key across paths");
        assert_eq!(a.previous_state, None, "{p}: contributors carry no previous state");
        if p.starts_with("lambda") {
            assert_eq!(c.query, None, "{p}: left for DescribeAlarms");
        } else {
            assert!(c.query.as_deref().is_some_and(|q| q.contains("vllm:kv_cache_usage_perc")), "{p}");
            assert_eq!((c.pending_s, c.recovery_s, c.interval_s), (Some(300), Some(600), Some(60)), "{p}");
            assert!(a.tags.contains(&("runbook".to_string(), "https://runbooks.example.com/llm/kv-cache-full".to_string())), "{p}");
        }
    }
    assert!(alarms[0].identity().ends_with("#contributor/3f9a1c0d5e7b2a64"));
}

#[test]
fn a_muted_alarm_says_by_which_rule_until_when() {
    let a = alarm("eventbridge-promql-kv-cache-muted-alarm.json");
    let m = a.mute.expect("muteDetail");
    assert_eq!(m.rule_name(), Some("llm-prod-maintenance"));
    assert_eq!(m.end.map(|t| t.to_rfc3339()), Some("2026-11-20T16:00:00+00:00".into()));
    assert_eq!(alarm("eventbridge-promql-kv-cache-contributor-alarm.json").mute, None);
}

#[test]
fn a_log_alarm_names_its_query_and_log_group() {
    let a = alarm("sns-log-alarm-cuda-oom.json");
    let AlarmKind::Log(l) = &a.kind else { panic!("{:?}", a.kind) };
    assert_eq!(l.log_groups, ["/aws/sagemaker/Endpoints/llm-prod"]);
    assert!(l.query.as_deref().is_some_and(|q| q.contains("CUDA out of memory")));
    assert_eq!((l.comparison, l.threshold), (Some(Comparison::GreaterThanOrEqualToThreshold), Some(1.0)));
    let t = crate::subject::resolve(&a);
    let sm = t.sagemaker().expect("an endpoint's log group names the endpoint");
    assert_eq!(
        (sm.endpoint.as_deref(), sm.variant.as_deref(), sm.instance.as_deref()),
        (Some("llm-prod"), Some("AllTraffic"), Some("i-0a1b2c3d4e5f60002"))
    );
}

#[test]
fn a_promql_contributor_names_endpoint_component_and_host() {
    let t = crate::subject::resolve(&alarm("sns-promql-kv-cache-contributor-alarm.json"));
    let sm = t.sagemaker().unwrap();
    assert_eq!(
        (sm.endpoint.as_deref(), sm.variant.as_deref(), sm.inference_component.as_deref(), sm.instance.as_deref()),
        (Some("llm-prod"), Some("AllTraffic"), Some("ic-llama-3-8b"), Some("i-0a1b2c3d4e5f60002"))
    );
    assert_eq!(sm.metric_name, "vllm:kv_cache_usage_perc");
    assert_eq!(t.namespace(), Some("PromQL"));
}
