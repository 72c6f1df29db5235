//! Amazon Q Developer in chat applications (formerly AWS Chatbot): a *custom notification*
//! ([`render`]) published to an SNS topic the Q Developer channel configuration subscribes, which
//! renders it in Slack or Teams at no extra cost. Settings: `q_developer: { topic_arn }`; no secret
//! (the function's role publishes, `sns:Publish` on that topic). Notifications of one alarm (and
//! contributor) share a `threadId`, so ALARM, OK and follow-ups thread together where the channel
//! allows threads. Q Developer cannot update a notification: an OK is a new one in the thread.
//! Published through the shared retry policy (the SNS client's own retries are off).

pub mod render;

use super::{http, schema_of, settings_at, Connect, Destination, Failure, Message, Outbox, Post, Registration, Sent, Settings};
use crate::aws::{error_code, error_line, Lazy};
use crate::route::{invalid, ConfigError};
use crate::secrets::{Secret, SecretRef};
use futures::future::BoxFuture;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

pub const REGISTRATION: Registration =
    Registration { kind: "q_developer", configure, schema: schema_of::<QDeveloperSettings>, pages: false };

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct QDeveloperSettings {
    /// The SNS topic a Q Developer channel configuration subscribes (`arn:aws:sns:<region>:<account>:<name>`).
    #[schemars(regex(pattern = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$"))]
    topic_arn: String,
}

fn configure(value: &serde_yaml_ng::Value, path: &str) -> Result<Box<dyn Settings>, ConfigError> {
    let s: QDeveloperSettings = settings_at(value, path)?;
    let parts: Vec<&str> = s.topic_arn.split(':').collect();
    let valid = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "sns"
        && !parts[3].is_empty()
        && parts[4].len() == 12;
    if !valid {
        return Err(invalid(
            format!("{path}.topic_arn"),
            format!("{:?} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)", s.topic_arn),
        ));
    }
    Ok(Box::new(s))
}

impl Settings for QDeveloperSettings {
    fn secret(&self) -> Option<&SecretRef> {
        None
    }
    fn connect(&self, name: &str, _: Option<Secret>, with: &Connect) -> Arc<dyn Destination> {
        let sns = with.aws.as_ref().map(|sdk| {
            Lazy::from_config(sdk, |sdk| {
                // One retry policy for every destination: the SDK's own retries are off.
                let conf = aws_sdk_sns::config::Builder::from(sdk).retry_config(aws_config::retry::RetryConfig::disabled());
                aws_sdk_sns::Client::from_conf(conf.build())
            })
        });
        Arc::new(QDeveloper { name: name.to_string(), topic_arn: self.topic_arn.clone(), sns })
    }
}

pub struct QDeveloper {
    pub name: String,
    pub topic_arn: String,
    /// `None` without an AWS configuration (a CLI run without credentials): every send fails, saying so.
    sns: Option<Lazy<aws_sdk_sns::Client>>,
}

impl QDeveloper {
    /// Publishes one notification; the failure says whether another attempt can help.
    async fn publish(&self, message: &str) -> Result<String, Failure> {
        let sns = self.sns.as_ref().ok_or_else(|| Failure::permanent("no AWS configuration to publish to SNS with"))?;
        match sns.publish().topic_arn(&self.topic_arn).message(message).send().await {
            Ok(out) => Ok(out.message_id().unwrap_or_default().to_string()),
            Err(e) => {
                let line = format!("SNS Publish: {}", error_line(&e));
                let permanent = matches!(
                    error_code(&e),
                    Some("AuthorizationError" | "NotFound" | "InvalidParameter" | "InvalidParameterValue" | "KMSAccessDenied")
                );
                Err(if permanent { Failure::permanent(line) } else { Failure::retryable(line, None) })
            }
        }
    }
}

impl Destination for QDeveloper {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        REGISTRATION.kind
    }
    /// The notification, addressed to the topic (`url` is the topic ARN: published, never posted).
    fn render(&self, message: &Message<'_>) -> Post {
        let body = match message {
            Message::Alarm { report, severity, incident, extras, .. } => {
                render::with_links(render::render(report, *severity, incident.note()), &extras.links)
            }
            Message::FollowUp { follow_up, .. } => render::follow_up(follow_up),
            Message::Control { control, .. } => render::control(control),
        };
        Post::json(&self.topic_arn, body)
    }
    fn classify(&self, _status: u16, _retry_after: Option<Duration>, _body: &str) -> Result<(), Failure> {
        // Never posted over HTTP: `send` publishes and reads the SDK's answer.
        Err(Failure::permanent("Amazon Q Developer notifications are published to SNS, not posted"))
    }
    fn send<'a>(&'a self, out: Outbox<'a>, message: Message<'a>) -> BoxFuture<'a, Result<Sent, Failure>> {
        Box::pin(async move {
            if let Message::Control { .. } = message {
                return Ok(Sent::default());
            }
            let body = self.render(&message).body.to_string();
            http::retrying(&self.name, self.kind(), out.retry, out.deadline, || self.publish(&body)).await.map(|_| Sent::default())
        })
    }
}

#[cfg(test)]
mod tests;
