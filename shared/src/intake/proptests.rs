//! Bad input, generated: arbitrary JSON, truncated events, wrong types in every field of the
//! alarm shapes. Intake never panics; it returns a one-line error, or notifications that render
//! within Slack's and PagerDuty's limits.

use super::*;
use crate::enrich::Enrichment;
use crate::model::Notification;
use crate::report::{build_alarm, Report};
use proptest::prelude::*;

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        // Huge strings.
        (1usize..20_000).prop_map(|n| Value::from("x".repeat(n))),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            prop::collection::btree_map("[A-Za-z]{1,12}", inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Either a one-line error or notifications that render within every limit.
fn holds(result: Result<Vec<Notification>, IntakeError>) -> Result<(), TestCaseError> {
    match result {
        Err(e) => {
            let line = e.to_string();
            prop_assert!(!line.is_empty() && !line.contains('\n'), "not one line: {line:?}");
        }
        Ok(ns) => {
            for n in ns {
                let report = match n {
                    Notification::Alarm(a) => {
                        let t = crate::subject::resolve(&a);
                        Report::Alarm(Box::new(build_alarm(*a, t, Enrichment::skipped("test"))))
                    }
                    Notification::Plain(p) => Report::Plain(p),
                };
                let msg = crate::deliver::slack::render::render(&report, &[]);
                prop_assert!(
                    crate::deliver::slack::render::check_limits(&msg).is_ok(),
                    "{:?}",
                    crate::deliver::slack::render::check_limits(&msg)
                );
                let ev = crate::deliver::pagerduty::render::render(&report, "k", crate::model::Severity::Error);
                prop_assert!(
                    crate::deliver::pagerduty::render::check_event(&ev).is_ok(),
                    "{:?}",
                    crate::deliver::pagerduty::render::check_event(&ev)
                );
            }
        }
    }
    Ok(())
}

fn fixture(name: &str) -> Value {
    let raw = std::fs::read(format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_json::from_slice(&raw).unwrap()
}

/// Every path to a value inside `v`.
fn paths(v: &Value, here: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => m.iter().for_each(|(k, x)| paths(x, [here.clone(), vec![k.clone()]].concat(), out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| paths(x, [here.clone(), vec![i.to_string()]].concat(), out)),
        _ => {}
    }
}

fn replace(v: &mut Value, path: &[String], with: Value) {
    match path.split_first() {
        None => *v = with,
        Some((k, rest)) => {
            let next = match v {
                Value::Object(m) => m.get_mut(k),
                Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
                _ => None,
            };
            if let Some(n) = next {
                replace(n, rest, with);
            }
        }
    }
}

const SHAPES: [&str; 9] = [
    "sns-gpu-utilization-alarm.json",
    "sns-metric-math-error-rate-alarm.json",
    "sns-anomaly-detection-alarm.json",
    "sns-composite-alarm.json",
    "eventbridge-high-concurrency-alarm.json",
    "lambda-alarm-action-high-concurrency.json",
    "sns-contributor-gpu-alarm.json",
    "eventbridge-contributor-gpu-alarm.json",
    "lambda-action-contributor-gpu-alarm.json",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(v in json()) {
        holds(parse_event(&v))?;
    }

    #[test]
    fn arbitrary_bytes_and_truncated_events_never_panic(shape in 0..SHAPES.len(), cut in 0.0f64..1.0, junk in prop::collection::vec(any::<u8>(), 0..64)) {
        let raw = serde_json::to_vec(&fixture(SHAPES[shape])).unwrap();
        let mut bytes = raw[..(raw.len() as f64 * cut) as usize].to_vec();
        bytes.extend(junk);
        holds(parse_bytes(&bytes))?;
    }

    /// Any field of any envelope or alarm shape (inside the SNS message string too) replaced by
    /// a value of any type.
    #[test]
    fn wrong_types_in_every_field_never_panic(shape in 0..SHAPES.len(), pick in any::<prop::sample::Index>(), with in json()) {
        let mut event = fixture(SHAPES[shape]);
        // SNS carries the alarm as a JSON string: mutate inside it.
        let inner = event.pointer("/Records/0/Sns/Message").and_then(Value::as_str).and_then(|s| serde_json::from_str::<Value>(s).ok());
        let mut target = inner.clone().unwrap_or_else(|| event.clone());
        let mut all = vec![];
        paths(&target, vec![], &mut all);
        let path = pick.get(&all).clone();
        replace(&mut target, &path, with);
        if inner.is_some() {
            event["Records"][0]["Sns"]["Message"] = Value::from(target.to_string());
        } else {
            event = target;
        }
        holds(parse_event(&event))?;
    }
}
