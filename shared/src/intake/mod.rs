//! Intake: any Lambda input AWS sends for an alarm → [`Notification`]s.
//!
//! Envelopes (SNS, EventBridge) are read with `aws_lambda_events`; the alarm inside is parsed
//! leniently by [`alarm`], because the crate's typed alarm payload rejects real messages
//! (null descriptions, anomaly and composite alarms).

mod alarm;
mod json;
pub mod time;

use crate::model::text::one_line;
use crate::model::{Notification, Origin, PlainMessage};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::SnsEvent;
use serde_json::{Map, Value};

/// Why an input could not be used. Always one line, naming what was expected.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IntakeError {
    #[error("input is not JSON: {0}")]
    NotJson(String),
    #[error(
        "unrecognised input: expected an SNS event (`Records[]`), an EventBridge \"CloudWatch Alarm (Contributor) State Change\" \
         event (`detail-type` + `detail`) or a CloudWatch alarm action (`alarmData`); got {0}"
    )]
    UnknownShape(String),
    #[error("malformed {envelope}: {detail}")]
    Malformed { envelope: &'static str, detail: String },
}

/// Parses raw bytes (the CLI's path; the Lambda runtime has already decoded JSON).
pub fn parse_bytes(bytes: &[u8]) -> Result<Vec<Notification>, IntakeError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| IntakeError::NotJson(one_line(&e.to_string())))?;
    parse_event(&v)
}

/// Detects the envelope and parses every notification in it.
pub fn parse_event(v: &Value) -> Result<Vec<Notification>, IntakeError> {
    let Some(obj) = v.as_object() else {
        return Err(IntakeError::UnknownShape(format!("a JSON {}", json_type(v))));
    };
    if obj.contains_key("Records") {
        sns(v)
    } else if obj.contains_key("alarmData") {
        alarm_action(obj).map(|n| vec![n])
    } else if obj.contains_key("detail-type") || obj.contains_key("detail") {
        eventbridge(v).map(|n| vec![n])
    } else {
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).take(8).collect();
        keys.sort_unstable();
        Err(IntakeError::UnknownShape(format!("an object with keys [{}]", keys.join(", "))))
    }
}

fn sns(v: &Value) -> Result<Vec<Notification>, IntakeError> {
    let event: SnsEvent = serde_json::from_value(v.clone())
        .map_err(|e| IntakeError::Malformed { envelope: "SNS event", detail: one_line(&e.to_string()) })?;
    if event.records.is_empty() {
        return Err(IntakeError::Malformed { envelope: "SNS event", detail: "`Records` is empty".into() });
    }
    Ok(event
        .records
        .into_iter()
        .map(|r| {
            let sns = r.sns;
            let origin = Origin::Sns { message_id: sns.message_id, topic_arn: sns.topic_arn };
            let alarm = serde_json::from_str::<Value>(&sns.message)
                .ok()
                .and_then(|m| m.as_object().filter(|o| alarm::looks_like_sns_alarm(o)).cloned())
                .and_then(|m| alarm::from_sns_message(&m, origin.clone()));
            match alarm {
                Some(a) => Notification::Alarm(Box::new(a)),
                None => Notification::Plain(PlainMessage {
                    subject: sns.subject.filter(|s| !s.trim().is_empty()),
                    body: sns.message,
                    origin,
                    timestamp: Some(sns.timestamp),
                }),
            }
        })
        .collect())
}

/// The alarm level and, for multi-time-series alarms, one contributor (time series).
const ALARM_DETAIL_TYPES: [&str; 2] = ["CloudWatch Alarm State Change", "CloudWatch Alarm Contributor State Change"];

fn eventbridge(v: &Value) -> Result<Notification, IntakeError> {
    let malformed = |detail: String| IntakeError::Malformed { envelope: "EventBridge event", detail };
    let event: EventBridgeEvent<Value> = serde_json::from_value(v.clone()).map_err(|e| malformed(one_line(&e.to_string())))?;
    if !ALARM_DETAIL_TYPES.contains(&event.detail_type.as_str()) {
        return Err(malformed(format!(
            "detail-type is {:?}, expected \"CloudWatch Alarm State Change\" or \"CloudWatch Alarm Contributor State Change\"",
            event.detail_type
        )));
    }
    let detail = event.detail.as_object().ok_or_else(|| malformed("`detail` is not an object".into()))?;
    let arn = event.resources.as_ref().and_then(|r| r.first()).map(String::as_str);
    let ctx = alarm::DetailContext { arn, account: event.account.as_deref(), region: event.region.as_deref(), tags: None, mute: None };
    let origin = Origin::EventBridge { id: event.id.clone().unwrap_or_default() };
    alarm::from_alarm_detail(detail, ctx, origin).map(|a| Notification::Alarm(Box::new(a))).map_err(malformed)
}

/// A CloudWatch alarm invoking Lambda directly. Also takes the undocumented hybrid with an
/// EventBridge header around `alarmData`, as published in the Rust runtime's fixtures.
fn alarm_action(obj: &Map<String, Value>) -> Result<Notification, IntakeError> {
    let malformed = |detail: String| IntakeError::Malformed { envelope: "CloudWatch alarm action", detail };
    let data = obj.get("alarmData").and_then(Value::as_object).ok_or_else(|| malformed("`alarmData` is not an object".into()))?;
    let s = |k: &str| obj.get(k).and_then(Value::as_str);
    let arn = s("alarmArn").or_else(|| obj.get("resources").and_then(Value::as_array).and_then(|r| r.first()).and_then(Value::as_str));
    let ctx = alarm::DetailContext {
        arn,
        account: s("accountId").or(s("account")),
        region: s("region"),
        tags: obj.get("alarmTags"),
        mute: obj.get("muteDetail").and_then(Value::as_object),
    };
    let origin = match s("id") {
        Some(id) => Origin::EventBridge { id: id.to_string() },
        None => Origin::AlarmAction,
    };
    alarm::from_alarm_detail(data, ctx, origin).map(|a| Notification::Alarm(Box::new(a))).map_err(malformed)
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
