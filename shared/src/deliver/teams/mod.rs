//! Microsoft Teams through a Power Automate *Workflows* webhook (Office 365 connectors were
//! retired): the settings (`teams: { webhook_url: <secret ref> }`), the Adaptive Card
//! ([`render`]) and the answer (2xx is success: Workflows answers 202 Accepted; 429 and 5xx are
//! retried, honouring `Retry-After`). A Workflows webhook cannot update a card it posted: an OK
//! is a new card that names the ALARM it resolves, and follow-ups are new cards too.

pub mod render;

use super::{classify_status, schema_of, settings_at, Destination, Failure, Message, Post, Registration, Settings};
use crate::route::{invalid, ConfigError};
use crate::secrets::{Secret, SecretRef};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

pub const REGISTRATION: Registration = Registration { kind: "teams", configure, schema: schema_of::<TeamsSettings>, pages: false };

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct TeamsSettings {
    /// A secret reference to the Workflows webhook URL (`https://….logic.azure.com/…` or
    /// `https://….powerplatform.com/…`): the URL is a credential.
    webhook_url: SecretRef,
}

fn configure(value: &serde_yaml_ng::Value, path: &str) -> Result<Box<dyn Settings>, ConfigError> {
    let s: TeamsSettings = settings_at(value, path)?;
    if let SecretRef::Plain(url) = &s.webhook_url {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(invalid(format!("{path}.webhook_url"), "must be an http(s) URL or a secret reference"));
        }
    }
    Ok(Box::new(s))
}

impl Settings for TeamsSettings {
    fn secret(&self) -> Option<&SecretRef> {
        Some(&self.webhook_url)
    }
    fn connect(&self, name: &str, secret: Option<Secret>, _: &super::Connect) -> Arc<dyn Destination> {
        Arc::new(Teams { name: name.to_string(), webhook_url: secret.unwrap_or_else(|| Secret::new("")) })
    }
}

pub struct Teams {
    pub name: String,
    pub webhook_url: Secret,
}

impl Destination for Teams {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        REGISTRATION.kind
    }
    fn render(&self, message: &Message<'_>) -> Post {
        let card = match message {
            Message::Alarm { report, incident, extras, .. } => render::with_links(render::render(report, incident.note()), &extras.links),
            Message::FollowUp { follow_up, .. } => render::follow_up(follow_up),
            Message::Control { control, .. } => render::control(control),
        };
        Post::json(self.webhook_url.expose(), render::message(card))
    }
    fn classify(&self, status: u16, retry_after: Option<Duration>, body: &str) -> Result<(), Failure> {
        if (200..300).contains(&status) {
            return Ok(());
        }
        Err(classify_status("Teams", status, retry_after, body))
    }
}

#[cfg(test)]
mod tests;
