//! PagerDuty Events API v2: the settings (`pagerduty: { routing_key: <secret ref>, events_url }`),
//! the events ([`render`]: a trigger/resolve per alarm, a change event per remediation decision)
//! and the answer (2xx is success; 400 is a bad event and never retried).

pub mod render;

use super::{
    classify_status, schema_of, settings_at, ControlAction, Destination, Failure, Message, Outbox, Post, Registration, Sent, Settings,
};
use crate::route::{invalid, ConfigError};
use crate::secrets::{Secret, SecretRef};
use futures::future::BoxFuture;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

pub const REGISTRATION: Registration = Registration { kind: "pagerduty", configure, schema: schema_of::<PagerDutySettings>, pages: true };

pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct PagerDutySettings {
    routing_key: SecretRef,
    /// Events API URL; the default is PagerDuty's. Overridden for local receivers.
    #[serde(default)]
    events_url: Option<String>,
}

fn configure(value: &serde_yaml_ng::Value, path: &str) -> Result<Box<dyn Settings>, ConfigError> {
    let mut s: PagerDutySettings = settings_at(value, path)?;
    let url = s.events_url.get_or_insert_with(|| PAGERDUTY_EVENTS_URL.into());
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(invalid(format!("{path}.events_url"), "must be an http(s) URL"));
    }
    Ok(Box::new(s))
}

impl Settings for PagerDutySettings {
    fn secret(&self) -> Option<&SecretRef> {
        Some(&self.routing_key)
    }
    fn connect(&self, name: &str, secret: Option<Secret>, _: &super::Connect) -> Arc<dyn Destination> {
        let secret = secret.unwrap_or_else(|| Secret::new(""));
        let events_url = self.events_url.clone().unwrap_or_else(|| PAGERDUTY_EVENTS_URL.into());
        Arc::new(PagerDuty { name: name.to_string(), routing_key: secret, events_url })
    }
}

pub struct PagerDuty {
    pub name: String,
    pub routing_key: Secret,
    pub events_url: String,
}

impl Destination for PagerDuty {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        REGISTRATION.kind
    }
    fn render(&self, message: &Message<'_>) -> Post {
        match message {
            Message::Alarm { report, severity, incident, group, extras, .. } => {
                let event = render::render(report, self.routing_key.expose(), *severity);
                let body = render::with_links(render::with_group(render::with_note(event, incident.note()), *group), &extras.links);
                Post::json(&self.events_url, body)
            }
            // Acknowledged from the message: the incident of the same dedup key is acknowledged.
            Message::Control { control, .. } => {
                Post::json(&self.events_url, render::acknowledge(&control.target.alarm, self.routing_key.expose()))
            }
            // A change event, not a trigger: the decision is recorded on the service without paging.
            Message::FollowUp { follow_up, .. } => {
                Post::json(render::change_url(&self.events_url), render::change_event(follow_up, self.routing_key.expose()))
            }
        }
    }
    fn classify(&self, status: u16, retry_after: Option<Duration>, body: &str) -> Result<(), Failure> {
        if (200..300).contains(&status) {
            return Ok(());
        }
        Err(classify_status("PagerDuty", status, retry_after, body))
    }
    /// Only an acknowledgement is PagerDuty's to act on among the controls (a snooze pages nobody
    /// by itself: new notifications are held back while it lasts).
    fn send<'a>(&'a self, out: Outbox<'a>, message: Message<'a>) -> BoxFuture<'a, Result<Sent, Failure>> {
        Box::pin(async move {
            if let Message::Control { control, .. } = message {
                if control.action != ControlAction::Acknowledge {
                    return Ok(Sent::default());
                }
            }
            out.post(self, &self.render(&message)).await.map(|_| Sent::default())
        })
    }
}
