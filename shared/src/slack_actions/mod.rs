//! The Slack interactivity endpoint (a Lambda Function URL): a click on an alarm's message — a
//! control (Acknowledge, Snooze, Unsnooze) or a remediation button.
//!
//! Order matters: the signature over the raw body first (nothing is decoded before it passes),
//! then replay (across instances through the state table when there is one), then who clicked
//! (the allow-lists apply to every control), and only then is anything done. A control is
//! recorded in the state table and told to the alarm's receivers (the Slack app updates the
//! parent; PagerDuty acknowledges with the alarm's dedup key), well inside Slack's 3 seconds. A
//! remediation request is handed to the remediation function asynchronously; it checks every
//! guardrail again. Either works without the other being deployed.

pub mod signature;

use crate::deliver::{Control, ControlAction, Receivers};
use crate::model::controls::{self, ControlTarget, SnoozeFor};
use crate::remediate::dispatch::Dispatch;
use crate::remediate::Request;
use crate::secrets::Secret;
use crate::state::incident::{Acked, Snoozed};
use crate::state::StateTable;
use chrono::{DateTime, Utc};
// `signature` is also what Slack's header is called in the handler below.
use serde_json::{json, Value};
use signature::{self as slack_signature, MAX_AGE_S};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Only Slack's own hosts are answered through `response_url`: it comes from the (verified) body,
/// but a URL we post to is never taken on trust.
pub const RESPONSE_URL_PREFIX: &str = "https://hooks.slack.com/";

/// Time left for telling the receivers about a control (Slack waits 3 s for the answer).
const CONTROL_BUDGET: Duration = Duration::from_millis(2500);

pub struct SlackActions {
    pub signing_secret: Secret,
    /// Slack user IDs (`U…`) allowed to act; or
    pub allowed_users: Vec<String>,
    /// channel IDs (`C…`) whose members may act. Both empty: nobody may.
    pub allowed_channels: Vec<String>,
    /// The remediation function, when deployed.
    dispatch: Option<Arc<dyn Dispatch>>,
    /// The routing document's receivers (tokens, routing keys): whom a control is told.
    receivers: Option<Arc<Receivers>>,
    /// Snoozes also put a CloudWatch alarm mute rule for their window (`SAGEALARM_SNOOZE_MUTE_RULES`).
    mute_rules: Option<crate::aws::Lazy<aws_sdk_cloudwatch::Client>>,
    pub response_url_prefix: String,
    pub http: reqwest::Client,
    /// Signatures seen in the last five minutes (this instance): a replay inside the window.
    seen: Mutex<VecDeque<(i64, String)>>,
    /// Signatures seen by any instance, and the incidents' acknowledgements and snoozes.
    state: Option<StateTable>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    fn new(status: u16, body: impl Into<String>) -> Self {
        Self { status, body: body.into() }
    }
}

impl SlackActions {
    /// Fails only when the HTTP client (with its timeout) cannot be built: never a client without one.
    pub fn new(signing_secret: Secret, allowed_users: Vec<String>, allowed_channels: Vec<String>) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(Duration::from_millis(1500)).build()?;
        Ok(Self {
            signing_secret,
            allowed_users,
            allowed_channels,
            dispatch: None,
            receivers: None,
            mute_rules: None,
            response_url_prefix: RESPONSE_URL_PREFIX.into(),
            http,
            seen: Mutex::default(),
            state: None,
        })
    }

    /// Remediation buttons hand their request to `dispatch`.
    pub fn with_remediation(mut self, dispatch: Arc<dyn Dispatch>) -> Self {
        self.dispatch = Some(dispatch);
        self
    }

    /// Controls are told to these receivers (the routing document's).
    pub fn with_receivers(mut self, receivers: Arc<Receivers>) -> Self {
        self.receivers = Some(receivers);
        self
    }

    /// A timed snooze also puts a CloudWatch alarm mute rule over its window.
    pub fn with_mute_rules(mut self, sdk: &aws_config::SdkConfig) -> Self {
        self.mute_rules = Some(crate::aws::Lazy::from_config(sdk, aws_sdk_cloudwatch::Client::new));
        self
    }

    /// The same with a client given (tests hand in a mocked one).
    pub fn with_mute_rules_client(mut self, client: aws_sdk_cloudwatch::Client) -> Self {
        self.mute_rules = Some(crate::aws::Lazy::ready(client));
        self
    }

    /// Checks replays across instances, and keeps acknowledgements and snoozes, in `state`
    /// (`SAGEALARM_STATE_TABLE`).
    pub fn with_state(mut self, state: StateTable) -> Self {
        self.state = Some(state);
        self
    }

    /// One request. `now` is Unix seconds.
    pub async fn handle(&self, timestamp: Option<&str>, signature: Option<&str>, body: &[u8], now: i64) -> Response {
        if let Err(e) = slack_signature::verify(self.signing_secret.expose().as_bytes(), timestamp, signature, body, now) {
            tracing::warn!(error = %e, "Slack request refused");
            return Response::new(401, format!("invalid request: {e}"));
        }
        if !self.first_time(signature.unwrap_or_default(), now).await {
            tracing::warn!("Slack request refused: replayed");
            return Response::new(401, "invalid request: this exact request was already received (replay)");
        }
        let click = match Click::parse(body) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "Slack request not understood");
                return Response::new(400, e);
            }
        };
        let who = format!("Slack user {} ({}) in {}", click.user_name, click.user_id, click.channel_id);
        if !(self.allowed_users.contains(&click.user_id) || self.allowed_channels.contains(&click.channel_id)) {
            tracing::warn!(user = %click.user_id, channel = %click.channel_id, "Slack action refused: not on the allowlist");
            let what = match click.what {
                Clicked::Remediate(_) => "approve endpoint changes",
                Clicked::Control { .. } => "acknowledge or snooze alarms",
            };
            self.answer(
                click.response_url.as_deref(),
                &format!("🚫 {who} is not allowed to {what} (SAGEALARM_SLACK_ALLOWED_USERS / _CHANNELS). Nothing was changed."),
            )
            .await;
            return Response::new(200, "");
        }
        let response_url = click.response_url.as_deref();
        match &click.what {
            Clicked::Remediate(request) => self.remediate(request, who, response_url).await,
            Clicked::Control { action, snooze, target } => {
                let at = DateTime::from_timestamp(now, 0).unwrap_or_else(Utc::now);
                let said = self.control(&click, action.clone(), *snooze, target, at).await;
                self.answer(response_url, &said).await;
            }
        }
        Response::new(200, "")
    }

    async fn remediate(&self, request: &Request, who: String, response_url: Option<&str>) {
        let Some(dispatch) = &self.dispatch else {
            self.answer(response_url, "⚠️ Endpoint changes are not deployed here (EnableRemediation=false): nothing was requested.").await;
            return;
        };
        let mut req = request.clone();
        req.requested_by = who;
        req.dry_run = false;
        match dispatch.dispatch(&req).await {
            Ok(()) => {
                tracing::info!(action = req.action.name(), endpoint = %req.alarm.endpoint, requested_by = %req.requested_by, "remediation requested from Slack");
                self.answer(
                    response_url,
                    &format!(
                        "⏳ {} on {} requested; every guardrail is checked again and the decision follows in this channel.",
                        req.action, req.alarm.endpoint
                    ),
                )
                .await;
            }
            Err(e) => {
                tracing::error!(error = %e, "remediation not requested");
                self.answer(
                    response_url,
                    &format!("⚠️ Could not hand {} on {} to the remediation function: {e}", req.action, req.alarm.endpoint),
                )
                .await;
            }
        }
    }

    /// Records the control and tells the receivers; what to say to the person who clicked.
    async fn control(
        &self,
        click: &Click,
        action: ControlAction,
        snooze: Option<SnoozeFor>,
        target: &ControlTarget,
        at: DateTime<Utc>,
    ) -> String {
        let (Some(state), Some(receivers)) = (&self.state, &self.receivers) else {
            return "⚠️ Acknowledge and Snooze need the state table and the routing document (SAGEALARM_STATE_TABLE, SAGEALARM_ROUTES_*): nothing was changed.".into();
        };
        let user = click.user_id.clone();
        let mut said = vec![];
        let recorded = match action {
            ControlAction::Acknowledge => match state.acknowledge(&target.alarm, &Acked { by: user.clone(), at }).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(earlier)) => {
                    return format!(
                        "👀 {} was already acknowledged by <@{}> at {} UTC: nothing changed.",
                        target.name,
                        earlier.by,
                        earlier.at.format("%H:%M")
                    );
                }
                Err(e) => Err(e),
            },
            ControlAction::Snooze => {
                let length = snooze.unwrap_or(SnoozeFor::OneHour);
                let until = length.duration().map(|d| at + d);
                let mute_rule = match (until, &self.mute_rules) {
                    (Some(until), Some(cw)) => match put_mute_rule(cw, target, at, until).await {
                        Ok(name) => {
                            said.push(format!("its other CloudWatch actions are muted too (alarm mute rule {name})"));
                            Some(name)
                        }
                        Err(e) => {
                            said.push(format!("⚠️ its other CloudWatch actions are not muted: {e}"));
                            None
                        }
                    },
                    (None, Some(_)) => {
                        said.push("its other CloudWatch actions are not muted: a mute rule needs an end, and \"until OK\" has none".into());
                        None
                    }
                    _ => None,
                };
                state.snooze(&target.alarm, &Snoozed { by: user.clone(), at, until, mute_rule }).await
            }
            ControlAction::Unsnooze => match state.unsnooze(&target.alarm).await {
                Ok(before) => {
                    if let (Some(name), Some(cw)) = (before.and_then(|s| s.mute_rule), &self.mute_rules) {
                        if let Err(e) = cw.delete_alarm_mute_rule().alarm_mute_rule_name(&name).send().await {
                            said.push(format!("⚠️ the alarm mute rule {name} could not be deleted: {}", crate::aws::error_line(&e)));
                        }
                    }
                    Ok(())
                }
                Err(e) => Err(e),
            },
        };
        if let Err(e) = recorded {
            tracing::error!(error = %e, "control not recorded");
            return format!("⚠️ Could not record that ({e}): nothing was changed.");
        }
        let after = state.incident(&target.alarm).await.unwrap_or_default();
        // The Slack receiver whose parent it is, and, for an acknowledgement, every PagerDuty one.
        let mut told: Vec<String> = vec![target.receiver.clone()];
        if action == ControlAction::Acknowledge {
            told.extend(target.receivers.iter().filter(|r| receivers.pages(r) && **r != target.receiver).cloned());
        }
        let control = Control { target: target.clone(), action: action.clone(), message: click.message.clone(), state: after };
        let deadline = tokio::time::Instant::now() + CONTROL_BUDGET;
        let results = receivers.control(&told, &control, deadline).await;
        for r in results.iter().filter(|r| !r.ok) {
            said.push(format!("⚠️ {} was not told: {}", r.receiver, r.error.as_deref().unwrap_or("failed")));
        }
        let paged = results.iter().filter(|r| r.ok && receivers.pages(&r.receiver)).count();
        let head = match action {
            ControlAction::Acknowledge if paged > 0 => {
                format!("👀 You acknowledged {}; PagerDuty too ({paged} service{}).", target.name, if paged == 1 { "" } else { "s" })
            }
            ControlAction::Acknowledge => format!("👀 You acknowledged {}.", target.name),
            ControlAction::Snooze => {
                let s = snooze.unwrap_or(SnoozeFor::OneHour);
                match s.duration() {
                    Some(d) => format!(
                        "🔕 {} is snoozed until {} UTC: its updates go to the thread and page nobody.",
                        target.name,
                        (at + d).format("%H:%M")
                    ),
                    None => format!("🔕 {} is snoozed until it is OK: its updates go to the thread and page nobody.", target.name),
                }
            }
            ControlAction::Unsnooze => format!("🔔 {} pages again on its next state change.", target.name),
        };
        tracing::info!(alarm = %target.alarm, user = %user, action = ?action, told = ?told, "control");
        std::iter::once(head).chain(said).collect::<Vec<_>>().join(" ")
    }

    /// Whether this signature is new: here first, then in the state table. A table that cannot
    /// be asked leaves this instance's check (said in the log): a click must not fail for it.
    async fn first_time(&self, signature: &str, now: i64) -> bool {
        if !self.first_time_here(signature, now) {
            return false;
        }
        let Some(state) = &self.state else { return true };
        // Kept twice the signature's age window: a replay is refused by the timestamp after that.
        match state.first_time(&format!("slack-request#{signature}"), Duration::from_secs(2 * MAX_AGE_S as u64)).await {
            Ok(first) => first,
            Err(e) => {
                tracing::warn!(error = %e, "replay check across instances unavailable; this instance's check only");
                true
            }
        }
    }

    fn first_time_here(&self, signature: &str, now: i64) -> bool {
        // A poisoned lock still holds the signatures: a panic elsewhere must not open the door to replays.
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        while seen.front().is_some_and(|(t, _)| now - t > MAX_AGE_S) {
            seen.pop_front();
        }
        if seen.iter().any(|(_, s)| s == signature) {
            return false;
        }
        seen.push_back((now, signature.to_string()));
        true
    }

    /// An ephemeral line to the person who clicked, best effort (the channel gets the decision).
    async fn answer(&self, response_url: Option<&str>, text: &str) {
        let Some(url) = response_url.filter(|u| u.starts_with(&self.response_url_prefix)) else { return };
        let body = json!({ "response_type": "ephemeral", "replace_original": false, "text": text });
        if let Err(e) = self.http.post(url).json(&body).send().await {
            tracing::warn!(error = %crate::model::text::one_line(&e.without_url().to_string()), "response_url not answered");
        }
    }
}

/// A CloudWatch alarm mute rule over the snooze's window: the alarm keeps evaluating, its actions
/// are held back — all of them, an SNS action to sagealarm too; EventBridge still sees every change
/// (with `muteDetail`), and CloudWatch runs the held actions when the window ends. It ends with the
/// snooze (and expires five minutes later), so an OK meanwhile is not lost, only late by that path.
/// Named after the alarm's identity, so a second snooze replaces the first.
async fn put_mute_rule(
    cw: &aws_sdk_cloudwatch::Client,
    target: &ControlTarget,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<String, String> {
    use aws_sdk_cloudwatch::types::{MuteTargets, Rule, Schedule};
    use sha2::Digest;
    let name = format!("sagealarm-snooze-{}", &hex::encode(sha2::Sha256::digest(target.alarm.as_bytes()))[..16]);
    let minutes = (until - from).num_minutes().max(1);
    let schedule =
        Schedule::builder().expression(format!("at({})", from.format("%Y-%m-%dT%H:%M"))).duration(format!("PT{minutes}M")).build();
    let rule = Rule::builder().schedule(schedule).build();
    cw.put_alarm_mute_rule()
        .name(&name)
        .description(format!("sagealarm snooze of {} until {} UTC", target.name, until.format("%H:%M")))
        .rule(rule)
        .mute_targets(MuteTargets::builder().alarm_names(&target.name).build())
        .expire_date(aws_sdk_cloudwatch::primitives::DateTime::from_secs((until + chrono::Duration::minutes(5)).timestamp()))
        .send()
        .await
        .map_err(|e| format!("PutAlarmMuteRule: {}", crate::aws::error_line(&e)))?;
    Ok(name)
}

/// What was clicked.
enum Clicked {
    Remediate(Request),
    Control { action: ControlAction, snooze: Option<SnoozeFor>, target: ControlTarget },
}

/// The parts of a `block_actions` payload this function uses.
struct Click {
    user_id: String,
    user_name: String,
    channel_id: String,
    response_url: Option<String>,
    /// The message the click was on (its `blocks` and `text`), as Slack showed it.
    message: Option<Value>,
    what: Clicked,
}

impl Click {
    fn parse(body: &[u8]) -> Result<Self, String> {
        let body = std::str::from_utf8(body).map_err(|_| "body is not UTF-8")?;
        let payload = form_urlencoded::parse(body.as_bytes())
            .find(|(k, _)| k == "payload")
            .map(|(_, v)| v)
            .ok_or("no `payload` field in the form body (not a Slack interaction)")?;
        let v: Value = serde_json::from_str(&payload).map_err(|e| format!("payload is not JSON: {e}"))?;
        if v["type"] != "block_actions" {
            return Err(format!("interaction type {} is not block_actions", v["type"]));
        }
        let ours = |id: &str| id.starts_with("sagealarm-remediate-") || id.starts_with("sagealarm_");
        let action = v["actions"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["action_id"].as_str().is_some_and(ours)))
            .ok_or("no sagealarm action in the payload")?;
        let id = action["action_id"].as_str().unwrap_or_default();
        let value = action["value"].as_str().ok_or("the action has no value")?;
        let what = if id.starts_with("sagealarm-remediate-") {
            Clicked::Remediate(serde_json::from_str(value).map_err(|e| format!("the button's value is not a remediation request: {e}"))?)
        } else {
            let target: ControlTarget = serde_json::from_str(value).map_err(|e| format!("the control's value is not an alarm: {e}"))?;
            let (action, snooze) = if id == controls::ACK {
                (ControlAction::Acknowledge, None)
            } else if id == controls::UNSNOOZE {
                (ControlAction::Unsnooze, None)
            } else if let Some(len) = id.strip_prefix(controls::SNOOZE).and_then(|r| r.strip_prefix('_')) {
                (ControlAction::Snooze, Some(SnoozeFor::parse(len).ok_or_else(|| format!("unknown snooze length {len:?}"))?))
            } else {
                return Err(format!("unknown sagealarm action {id:?}"));
            };
            Clicked::Control { action, snooze, target }
        };
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
        let user_id = s("/user/id");
        if user_id.is_empty() {
            return Err("the payload names no user".into());
        }
        let user_name = Some(s("/user/username")).filter(|n| !n.is_empty()).unwrap_or_else(|| s("/user/name"));
        Ok(Self {
            user_id,
            user_name,
            channel_id: s("/channel/id"),
            response_url: Some(s("/response_url")).filter(|u| !u.is_empty()),
            message: v.get("message").filter(|m| m.is_object()).cloned(),
            what,
        })
    }
}

/// The raw body of a Function URL request: the signature is over these exact bytes.
pub fn raw_body(body: Option<&str>, is_base64_encoded: bool) -> Result<Vec<u8>, String> {
    let body = body.unwrap_or_default();
    if !is_base64_encoded {
        return Ok(body.as_bytes().to_vec());
    }
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(body).map_err(|e| format!("body is not valid base64: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AlarmState;
    use crate::remediate::{Action, AlarmRef};
    use futures::future::BoxFuture;
    use wiremock::matchers::{body_string_contains, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const NOW: i64 = 1_763_900_000;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Request>>);
    impl Dispatch for Recorder {
        fn dispatch<'a>(&'a self, req: &'a Request) -> BoxFuture<'a, Result<(), String>> {
            self.0.lock().unwrap().push(req.clone());
            Box::pin(async { Ok(()) })
        }
    }

    fn request() -> Request {
        Request {
            action: Action::ScaleOut,
            alarm: AlarmRef {
                alarm_name: "deepgram-high-concurrency".into(),
                alarm_key: "arn:aws:cloudwatch:us-east-1:1:alarm:deepgram-high-concurrency@2026-11-20T14:07:31+00:00".into(),
                state: AlarmState::Alarm,
                endpoint: "deepgram-prod".into(),
                variant: Some("AllTraffic".into()),
            },
            dry_run: true,
            requested_by: String::new(),
            receivers: vec!["slack-sre".into()],
        }
    }

    fn body(user: &str, response_url: &str) -> String {
        let payload = json!({
            "type": "block_actions",
            "user": { "id": user, "username": "alice", "name": "alice" },
            "channel": { "id": "C0SRE" },
            "response_url": response_url,
            "actions": [{ "action_id": "sagealarm-remediate-scale-out", "value": serde_json::to_string(&request()).unwrap() }]
        });
        format!("payload={}", percent_encoding::utf8_percent_encode(&payload.to_string(), percent_encoding::NON_ALPHANUMERIC))
    }

    fn app(rec: Arc<Recorder>, prefix: &str) -> SlackActions {
        let mut a = SlackActions::new(Secret::new(SECRET), vec!["U0ALICE".into()], vec![]).unwrap().with_remediation(rec);
        a.response_url_prefix = prefix.into();
        a
    }

    async fn send(a: &SlackActions, body: &str, ts: i64) -> Response {
        let sig = slack_signature::sign(SECRET.as_bytes(), &ts.to_string(), body.as_bytes());
        a.handle(Some(&ts.to_string()), Some(&sig), body.as_bytes(), NOW).await
    }

    #[tokio::test]
    async fn a_signed_click_by_an_allowed_user_is_handed_over_and_acknowledged() {
        let slack = MockServer::start().await;
        Mock::given(method("POST"))
            .and(body_string_contains("scale-out on deepgram-prod requested"))
            .respond_with(ResponseTemplate::new(200))
            .expect(1)
            .mount(&slack)
            .await;
        let rec = Arc::new(Recorder::default());
        let a = app(rec.clone(), &slack.uri());
        let r = send(&a, &body("U0ALICE", &format!("{}/actions/T1/1/x", slack.uri())), NOW - 2).await;
        assert_eq!(r, Response::new(200, ""));
        let got = rec.0.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].requested_by, "Slack user alice (U0ALICE) in C0SRE");
        assert!(!got[0].dry_run, "a button is a real request; the guardrails decide");
        assert_eq!((got[0].action, got[0].alarm.clone()), (Action::ScaleOut, request().alarm));
    }

    #[tokio::test]
    async fn unsigned_tampered_stale_and_replayed_requests_get_401_and_do_nothing() {
        let rec = Arc::new(Recorder::default());
        let a = app(rec.clone(), RESPONSE_URL_PREFIX);
        let b = body("U0ALICE", "");

        let r = a.handle(None, None, b.as_bytes(), NOW).await;
        assert_eq!(r.status, 401);

        let sig = slack_signature::sign(SECRET.as_bytes(), &NOW.to_string(), b.as_bytes());
        // Another user claimed in the same signed request.
        let tampered = b.replace("U0ALICE", "U0ALICF");
        assert_ne!(tampered, b);
        let r = a.handle(Some(&NOW.to_string()), Some(&sig), tampered.as_bytes(), NOW).await;
        assert_eq!(r, Response::new(401, "invalid request: signature does not match the body"));

        let r = send(&a, &b, NOW - 301).await;
        assert_eq!(r.status, 401);
        assert!(r.body.contains("more than 5 minutes"), "{}", r.body);

        assert_eq!(send(&a, &b, NOW - 10).await.status, 200);
        let r = send(&a, &b, NOW - 10).await;
        assert_eq!(r, Response::new(401, "invalid request: this exact request was already received (replay)"));
        assert_eq!(rec.0.lock().unwrap().len(), 1, "only the first, genuine request was handed over");
    }

    #[tokio::test]
    async fn a_user_off_the_allowlist_is_told_and_nothing_is_handed_over() {
        let slack = MockServer::start().await;
        Mock::given(method("POST"))
            .and(body_string_contains("is not allowed to approve"))
            .respond_with(ResponseTemplate::new(200))
            .expect(1)
            .mount(&slack)
            .await;
        let rec = Arc::new(Recorder::default());
        let a = app(rec.clone(), &slack.uri());
        let r = send(&a, &body("U0MALLORY", &format!("{}/actions/T1/1/x", slack.uri())), NOW).await;
        assert_eq!(r.status, 200);
        assert!(rec.0.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_response_url_off_slacks_host_is_never_posted_to() {
        let elsewhere = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&elsewhere).await;
        let rec = Arc::new(Recorder::default());
        let a = app(rec.clone(), RESPONSE_URL_PREFIX);
        assert_eq!(send(&a, &body("U0ALICE", &elsewhere.uri()), NOW).await.status, 200);
        assert_eq!(rec.0.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn not_an_interaction_is_a_400_naming_what_is_wrong() {
        let a = app(Arc::new(Recorder::default()), RESPONSE_URL_PREFIX);
        let r = send(&a, "text=hello", NOW).await;
        assert_eq!(r, Response::new(400, "no `payload` field in the form body (not a Slack interaction)"));
    }

    #[test]
    fn function_url_bodies_may_be_base64() {
        assert_eq!(raw_body(Some("cGF5bG9hZD0x"), true).unwrap(), b"payload=1");
        assert_eq!(raw_body(Some("payload=1"), false).unwrap(), b"payload=1");
        assert!(raw_body(Some("%%%"), true).unwrap_err().starts_with("body is not valid base64"));
    }
}
