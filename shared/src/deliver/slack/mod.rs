//! Slack incoming webhook: the settings (`slack: { webhook_url: <secret ref> }`), the message
//! ([`render`]) and the answer (HTTP 200 with body `ok` is success).

pub mod render;

use super::{classify_status, schema_of, settings_at, Destination, Failure, Message, Post, Registration, Settings};
use crate::route::ConfigError;
use crate::secrets::{Secret, SecretRef};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

pub const REGISTRATION: Registration = Registration { kind: "slack", configure, schema: schema_of::<SlackSettings>, pages: false };

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SlackSettings {
    /// A secret reference: the webhook URL is a credential.
    webhook_url: SecretRef,
}

fn configure(value: &serde_yaml_ng::Value, path: &str) -> Result<Box<dyn Settings>, ConfigError> {
    Ok(Box::new(settings_at::<SlackSettings>(value, path)?))
}

impl Settings for SlackSettings {
    fn secret(&self) -> Option<&SecretRef> {
        Some(&self.webhook_url)
    }
    fn connect(&self, name: &str, secret: Option<Secret>, _: &super::Connect) -> Arc<dyn Destination> {
        let secret = secret.unwrap_or_else(|| Secret::new(""));
        Arc::new(Slack { name: name.to_string(), webhook_url: secret })
    }
}

pub struct Slack {
    pub name: String,
    pub webhook_url: Secret,
}

impl Destination for Slack {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        REGISTRATION.kind
    }
    fn render(&self, message: &Message<'_>) -> Post {
        let body = match message {
            Message::Alarm { report, offers, incident, extras, .. } => {
                // A webhook message is its own: an ALARM mentions, unless snoozed.
                let mention = report.state() == Some(crate::model::AlarmState::Alarm) && !incident.snoozed;
                render::with_extras(render::with_note(render::render(report, offers), incident.note()), extras, mention)
            }
            Message::FollowUp { follow_up, .. } => render::follow_up(follow_up),
            Message::Control { control, .. } => render::control_note(control),
        };
        Post::json(self.webhook_url.expose(), body)
    }
    fn classify(&self, status: u16, retry_after: Option<Duration>, body: &str) -> Result<(), Failure> {
        // Slack documents "interpret HTTP 200 as success and any other response code as a failure".
        if status == 200 {
            return Ok(());
        }
        Err(classify_status("Slack", status, retry_after, body))
    }
}
