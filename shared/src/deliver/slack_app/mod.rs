//! Slack app (bot token, Web API): the settings
//! (`slack_app: { token: <secret ref>, channel: <channel ID>, api_url: <optional> }`), the
//! conversation (one parent per alarm, updated in place, replies in its thread) and the answers
//! (HTTP 200 with `{"ok": false, "error": …}` is a failure).
//!
//! The thread itself is kept by the state table ([`crate::state::thread`]); this destination
//! only says what to post given the thread it is handed ([`Incident`]) and returns the thread
//! after its post ([`Sent`]). A grouped alarm (a route's `group`) goes into its group's thread
//! instead ([`group`]), which needs the state table at every step.

mod group;
pub mod render;
mod upload;

use super::slack::render as blocks;
use super::{
    classify_status, schema_of, settings_at, Control, Destination, Encoding, Extras, Failure, Incident, Message, Outbox, Post,
    Registration, Sent, Settings,
};
use crate::model::controls::ControlTarget;
use crate::model::text::{one_line, truncate};
use crate::model::AlarmState;
use crate::model::Severity;
use crate::remediate::offers::Offer;
use crate::report::Report;
use crate::route::{invalid, ConfigError, Group};
use crate::secrets::{Secret, SecretRef};
use crate::state::thread::Thread;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub const REGISTRATION: Registration = Registration { kind: "slack_app", configure, schema: schema_of::<SlackAppSettings>, pages: false };

pub const DEFAULT_API_URL: &str = "https://slack.com/api";

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SlackAppSettings {
    /// A secret reference to the bot token (`xoxb-…`).
    token: SecretRef,
    /// The channel ID (`C…`): `chat.update` needs the ID, and an ID survives a rename.
    #[schemars(schema_with = "channel_schema")]
    channel: String,
    /// Slack's Web API; tests point it at a local stand-in.
    #[serde(default)]
    api_url: Option<String>,
}

/// A channel ID as Slack writes them: `C0123ABCD…` (public), `G…` (private), `D…` (a DM).
const CHANNEL_ID: &str = r"^\s*[CGD][A-Z0-9]{8,}\s*$";

fn channel_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "pattern": CHANNEL_ID })
}

fn configure(value: &serde_yaml_ng::Value, path: &str) -> Result<Box<dyn Settings>, ConfigError> {
    static ID: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| regex::Regex::new(CHANNEL_ID).expect("static regex"));
    let s: SlackAppSettings = settings_at(value, path)?;
    if !ID.is_match(&s.channel) {
        return Err(invalid(
            format!("{path}.channel"),
            format!("{:?} is not a channel ID (C0123ABCD…: in Slack, the channel's details, at the bottom)", truncate(&s.channel, 40)),
        ));
    }
    if let Some(u) = &s.api_url {
        if !(u.starts_with("https://") || u.starts_with("http://")) {
            return Err(invalid(format!("{path}.api_url"), "must be an http(s) URL"));
        }
    }
    Ok(Box::new(s))
}

impl Settings for SlackAppSettings {
    fn secret(&self) -> Option<&SecretRef> {
        Some(&self.token)
    }
    fn connect(&self, name: &str, secret: Option<Secret>, connect: &super::Connect) -> Arc<dyn Destination> {
        let secret = secret.unwrap_or_else(|| Secret::new(""));
        let api_url = self.api_url.as_deref().unwrap_or(DEFAULT_API_URL).trim_end_matches('/').to_string();
        Arc::new(SlackApp {
            name: name.to_string(),
            token: secret,
            channel: self.channel.trim().to_string(),
            api_url,
            controls: connect.buttons,
        })
    }
}

pub struct SlackApp {
    pub name: String,
    pub token: Secret,
    pub channel: String,
    pub api_url: String,
    /// Acknowledge / Snooze on ALARM parents (a click has somewhere to go).
    pub controls: bool,
}

/// `chat.update` answers these when the parent cannot be edited any more: post a new parent.
const PARENT_GONE: &[&str] = &["message_not_found", "cant_update_message", "edit_window_closed", "channel_not_found", "is_archived"];

impl SlackApp {
    /// A Web API call: the token in the `Authorization` header only.
    fn call(&self, method: &str, body: Value) -> Post {
        Post { url: format!("{}/{method}", self.api_url), body, bearer: Some(self.token.clone()), encoding: Encoding::Json }
    }

    /// `chat.postMessage` of `msg` (blocks and fallback text), top-level or in `thread_ts`.
    fn post_message(&self, msg: Value, thread_ts: Option<&str>) -> Post {
        let mut body = json!({ "channel": self.channel, "unfurl_links": false, "unfurl_media": false });
        merge(&mut body, msg);
        if let Some(ts) = thread_ts {
            body["thread_ts"] = json!(ts);
        }
        self.call("chat.postMessage", body)
    }

    /// Posts a new parent; the thread to keep starts with it.
    async fn new_parent(&self, out: Outbox<'_>, msg: Value, report: &Report) -> Result<Sent, Failure> {
        let answer = out.post(self, &self.post_message(msg, None)).await?;
        let Some((channel, ts)) = posted(&answer) else {
            return Err(Failure::permanent("Slack chat.postMessage answered ok without a channel and ts"));
        };
        let Report::Alarm(a) = report else { return Ok(Sent::default()) };
        let note = upload::chart(self, out, a, &channel, &ts).await;
        let at = a.alarm.state_change_time.unwrap_or_else(chrono::Utc::now);
        Ok(Sent { thread: Some(Thread::start(channel, ts, a.alarm.state, at)), note })
    }

    /// A grouped alarm into its group's thread; without a usable state table, on its own, saying why.
    // What `send` was handed, passed on as it came: a struct only this call would use adds nothing.
    #[allow(clippy::too_many_arguments)]
    async fn grouped(
        &self,
        out: Outbox<'_>,
        group: &Group,
        report: &Report,
        severity: Severity,
        offers: &[Offer],
        incident: &Incident,
        extras: &Extras,
    ) -> Result<Sent, Failure> {
        let why = match (out.state, report) {
            (Some(state), Report::Alarm(a)) => {
                match group::Ctx::new(self, out, state, group).alarm(report, a, severity, offers, incident, extras).await {
                    Ok(sent) => return Ok(sent),
                    Err(Err(f)) => return Err(f),
                    Err(Ok(e)) => e.to_string(),
                }
            }
            (None, _) => format!("not grouped with {group}: grouping needs the state table ({})", crate::state::TABLE_ENV),
            (Some(_), Report::Plain(_)) => return self.alarm(out, report, offers, incident, extras).await,
        };
        tracing::warn!(receiver = %self.name, group = %group, why, "posting the alarm on its own");
        let incident = Incident { thread: None, unavailable: incident.unavailable.clone().or(Some(why)), ..incident.clone() };
        self.alarm(out, report, offers, &incident, extras).await
    }

    /// The message for a report: the webhook's, with the route's links, the mention (`first`: a
    /// new parent for an ALARM, not snoozed) and, while in ALARM, the controls and who acted.
    /// A grouped alarm's reply is this message too, never with the mention (a thread reply).
    fn message(&self, report: &Report, offers: &[Offer], incident: &Incident, extras: &Extras, first: bool) -> Value {
        let alarm = match report {
            Report::Alarm(a) => Some(a),
            Report::Plain(_) => None,
        };
        let in_alarm = alarm.is_some_and(|a| a.alarm.state == AlarmState::Alarm);
        let msg = blocks::with_note(blocks::render(report, offers), incident.note());
        let msg = blocks::with_extras(msg, extras, first && in_alarm && !incident.snoozed);
        let Some(a) = alarm else { return msg };
        let now = chrono::Utc::now();
        let controls = match in_alarm && self.controls {
            true => {
                let target = ControlTarget {
                    alarm: a.alarm.identity(),
                    name: a.alarm.name.clone(),
                    receiver: self.name.clone(),
                    receivers: extras.receivers.clone(),
                };
                blocks::controls(&target, &incident.acted, now)
            }
            // Resolved, or nothing to press: who acted stays said.
            false => {
                let lines = blocks::status_lines(&incident.acted, now);
                match lines.is_empty() {
                    true => vec![],
                    false => vec![json!({
                        "type": "context",
                        "block_id": "sagealarm_status",
                        "elements": lines.iter().map(|l| json!({ "type": "mrkdwn", "text": l })).collect::<Vec<_>>(),
                    })],
                }
            }
        };
        blocks::with_controls(msg, controls)
    }

    async fn alarm(
        &self,
        out: Outbox<'_>,
        report: &Report,
        offers: &[Offer],
        incident: &Incident,
        extras: &Extras,
    ) -> Result<Sent, Failure> {
        let fresh = || self.message(report, offers, incident, extras, true);
        let (Report::Alarm(a), Some(thread)) = (report, &incident.thread) else {
            return self.new_parent(out, fresh(), report).await;
        };
        let at = a.alarm.state_change_time.unwrap_or_else(chrono::Utc::now);
        if !thread.continues(a.alarm.state, at) {
            return self.new_parent(out, fresh(), report).await;
        }
        // An update of the parent: nobody is mentioned again.
        let msg = self.message(report, offers, incident, extras, false);
        let next = thread.told(a.alarm.state, at);
        // The parent shows the alarm as it is now, with its history; the reply says what changed.
        let mut update = json!({ "channel": thread.channel, "ts": thread.ts });
        merge(&mut update, render::parent(msg.clone(), &next));
        match out.post(self, &self.call("chat.update", update)).await {
            Ok(_) => {}
            Err(f) if f.code.as_deref().is_some_and(|c| PARENT_GONE.contains(&c)) => {
                tracing::warn!(receiver = %self.name, error = %f.message, "the alarm's parent message cannot be updated; posting a new one");
                return self.new_parent(out, fresh(), report).await;
            }
            Err(f) => return Err(f),
        }
        let reply = self.post_message(render::reply(a, thread, &next), Some(&thread.ts));
        out.post(self, &reply).await?;
        let note = upload::chart(self, out, a, &thread.channel, &thread.ts).await;
        Ok(Sent { thread: Some(next), note })
    }
}

impl SlackApp {
    /// A click changed the incident: the message it was made on (the alarm's parent, or its
    /// reply in a group's thread) shows who acted, and the controls that are left (none once it
    /// is resolved).
    async fn control(&self, out: Outbox<'_>, control: &Control, incident: &Incident) -> Result<Sent, Failure> {
        let Some(thread) = &incident.thread else {
            return Err(Failure::permanent("no parent message of this alarm is kept at this receiver: nothing to update"));
        };
        let Some(shown) = control.message.clone() else {
            return Err(Failure::permanent("the click carried no message to update"));
        };
        let now = chrono::Utc::now();
        let controls = if thread.state == AlarmState::Alarm { blocks::controls(&control.target, &control.state, now) } else { vec![] };
        // Slack sends the clicked message's ts; a grouped alarm's thread is its group's, whose
        // parent is the summary, not this message.
        let ts = shown["ts"].as_str().unwrap_or(&thread.ts);
        let mut update = json!({ "channel": thread.channel, "ts": ts, "blocks": shown["blocks"].clone() });
        if let Some(text) = shown["text"].as_str() {
            update["text"] = text.into();
        }
        let update = blocks::with_controls(update, controls);
        out.post(self, &self.call("chat.update", update)).await.map(|_| Sent::default())
    }
}

/// `extra`'s fields into `body`.
fn merge(body: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
        b.extend(e);
    }
}

/// The `channel` and `ts` of a `chat.postMessage` answer.
fn posted(answer: &str) -> Option<(String, String)> {
    let v: Value = serde_json::from_str(answer).ok()?;
    Some((v["channel"].as_str()?.to_string(), v["ts"].as_str()?.to_string()))
}

/// What to do about a Web API error code: whether a retry could help, and what to fix.
fn api_error(code: &str) -> (bool, Option<&'static str>) {
    match code {
        "ratelimited" | "rate_limited" | "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => (true, None),
        "invalid_auth" | "not_authed" | "token_revoked" | "token_expired" | "account_inactive" => {
            (false, Some("check the bot token the receiver's `token` points at (xoxb-…, from the app's OAuth & Permissions page)"))
        }
        "not_in_channel" => (false, Some("invite the bot to the channel (/invite @sagealarm), or add the chat:write.public scope")),
        "channel_not_found" => (false, Some("check the channel ID (C…) and that the bot can see the channel; invite it to private ones")),
        "missing_scope" => {
            (false, Some("add the missing bot scope in the app's OAuth & Permissions and reinstall it (see slack/manifest.yaml)"))
        }
        "is_archived" => (false, Some("the channel is archived: point the receiver at another channel")),
        _ => (false, None),
    }
}

impl Destination for SlackApp {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        REGISTRATION.kind
    }
    fn threads(&self) -> bool {
        true
    }
    /// A single top-level post of the message (what `send` posts when there is no thread).
    fn render(&self, message: &Message<'_>) -> Post {
        match message {
            Message::Alarm { report, offers, incident, extras, .. } => {
                self.post_message(self.message(report, offers, incident, extras, true), None)
            }
            Message::FollowUp { follow_up, incident } => {
                self.post_message(blocks::follow_up(follow_up), incident.thread.as_ref().map(|t| t.ts.as_str()))
            }
            Message::Control { control, incident } => {
                let thread = incident.thread.as_ref().map(|t| t.ts.as_str());
                self.post_message(blocks::control_note(control), thread)
            }
        }
    }
    fn classify(&self, status: u16, retry_after: Option<Duration>, body: &str) -> Result<(), Failure> {
        if status != 200 {
            return Err(classify_status("Slack", status, retry_after, body));
        }
        // The upload URL answers in plain text, `OK - <bytes>`, not the Web API's JSON.
        if body.starts_with("OK") {
            return Ok(());
        }
        let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        if v["ok"] == Value::Bool(true) {
            return Ok(());
        }
        let code = v["error"].as_str().unwrap_or("unreadable answer");
        let (retryable, fix) = api_error(code);
        let mut message = format!("Slack Web API error: {}", truncate(&one_line(code), 100));
        if let Some(fix) = fix {
            message.push_str(&format!(" ({fix})"));
        }
        let f = if retryable { Failure::retryable(message, retry_after) } else { Failure::permanent(message) };
        Err(f.with_code(code))
    }
    fn send<'a>(&'a self, out: Outbox<'a>, message: Message<'a>) -> BoxFuture<'a, Result<Sent, Failure>> {
        Box::pin(async move {
            match message {
                Message::Alarm { report, offers, incident, group: Some(g), severity, extras } => {
                    self.grouped(out, g, report, severity, offers, incident, extras).await
                }
                Message::Alarm { report, offers, incident, extras, .. } => self.alarm(out, report, offers, incident, extras).await,
                // A decision replies in the alarm's thread when there is one; the thread is unchanged.
                Message::FollowUp { .. } => out.post(self, &self.render(&message)).await.map(|_| Sent::default()),
                Message::Control { control, incident } => self.control(out, control, incident).await,
            }
        })
    }
}

#[cfg(test)]
mod tests;
