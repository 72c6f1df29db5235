//! The receivers at run time: each resolved once per cold start (a failed resolution is tried
//! again on the next invocation), posted to under the invocation's deadline.

use super::delivered::{self, Delivered};
use super::http::{self, RetryPolicy};
use super::{Configured, Destination, Failure, Message};
use crate::remediate::follow_up::FollowUp;
use crate::remediate::offers::Offer;
use crate::report::Report;
use crate::route::Delivery;
use crate::secrets::SecretResolver;
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::OnceCell;
use tokio::time::Instant;

/// What became of one message to one receiver.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeliveryResult {
    pub receiver: String,
    pub kind: &'static str,
    pub alarm: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Not posted again: this instance delivered it in an earlier attempt of the same event.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub already_delivered: bool,
}

struct Slot {
    configured: Configured,
    ready: OnceCell<Arc<dyn Destination>>,
}

pub struct Receivers {
    slots: Vec<Slot>,
    secrets: SecretResolver,
    http: reqwest::Client,
    retry: RetryPolicy,
    /// Receivers that already had a notification: a retried event does not post to them again.
    delivered: Delivered,
}

impl Receivers {
    pub fn new(receivers: Vec<Configured>, secrets: SecretResolver, retry: RetryPolicy) -> Result<Self, http::ClientError> {
        let slots = receivers.into_iter().map(|configured| Slot { configured, ready: OnceCell::new() }).collect();
        Ok(Self { slots, secrets, http: http::client(&retry)?, retry, delivered: Delivered::default() })
    }

    async fn destination(&self, name: &str) -> Result<Arc<dyn Destination>, Failure> {
        let slot = self.slot(name).ok_or_else(|| Failure::permanent(format!("receiver {name:?} is not configured")))?;
        slot.ready
            .get_or_try_init(|| async {
                let c = &slot.configured;
                let secret = self.secrets.resolve(c.settings.secret()).await.map_err(|e| Failure::permanent(format!("secret: {e}")))?;
                Ok(c.settings.connect(&c.name, secret))
            })
            .await
            .cloned()
    }

    /// Posts `message` to the receiver named `name`: the one path for alarms and follow-ups. An
    /// unknown receiver or unresolvable secret is a permanent failure.
    pub async fn post(&self, name: &str, message: &Message<'_>, deadline: Instant) -> Result<(), Failure> {
        let d = self.destination(name).await?;
        let post = d.render(message);
        http::deliver(&self.http, d.as_ref(), &post.url, &post.body, &self.retry, deadline).await
    }

    /// One report to every routed receiver concurrently; one failing never blocks another. The
    /// flag: some delivery failed retryably.
    pub async fn deliver(
        &self,
        report: &Report,
        deliveries: &[Delivery<'_>],
        offers: &[Offer],
        deadline: Instant,
    ) -> (Vec<DeliveryResult>, bool) {
        let name = report.title();
        let key = delivered::key(report);
        let jobs = deliveries.iter().map(|d| {
            let (name, key) = (name.clone(), key.clone());
            async move {
                let receiver = d.receiver.name.clone();
                let kind = self.kind_of(&receiver);
                if key.as_deref().is_some_and(|k| self.delivered.contains(k, &receiver)) {
                    tracing::info!(alarm = %name, receiver = %receiver, kind, "already delivered by an earlier attempt of this event; not posted again");
                    return (DeliveryResult { receiver, kind, alarm: name, ok: true, error: None, already_delivered: true }, false);
                }
                let message = Message::Alarm { report, severity: d.severity, offers };
                let result = self.post(&receiver, &message, deadline).await;
                match &result {
                    Ok(()) => {
                        tracing::info!(alarm = %name, receiver = %receiver, kind, severity = d.severity.as_str(), "delivered");
                        if let Some(k) = &key {
                            self.delivered.insert(k, &receiver);
                        }
                    }
                    Err(f) => tracing::error!(alarm = %name, receiver = %receiver, kind, error = %f.message, "delivery failed"),
                }
                let retryable = result.as_ref().is_err_and(|f| f.retryable);
                (DeliveryResult { receiver, kind, alarm: name, ok: result.is_ok(), error: result.err().map(|f| f.message), already_delivered: false }, retryable)
            }
        });
        let results = futures::future::join_all(jobs).await;
        let retryable = results.iter().any(|(_, r)| *r);
        (results.into_iter().map(|(d, _)| d).collect(), retryable)
    }

    /// Tells the named receivers about a remediation decision. Unknown names are reported, not
    /// skipped silently.
    pub async fn follow_up(&self, receivers: &[String], f: &FollowUp, deadline: Instant) -> Vec<DeliveryResult> {
        let jobs = receivers.iter().map(|name| async move {
            let result = self.post(name, &Message::FollowUp(f), deadline).await.map_err(|f| f.message);
            if let Err(e) = &result {
                tracing::error!(receiver = %name, error = %e, "follow-up not delivered");
            }
            DeliveryResult {
                receiver: name.clone(),
                kind: "follow-up",
                alarm: f.alarm_name.clone(),
                ok: result.is_ok(),
                error: result.err(),
                already_delivered: false,
            }
        });
        futures::future::join_all(jobs).await
    }

    fn slot(&self, name: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.configured.name == name)
    }

    fn kind_of(&self, name: &str) -> &'static str {
        self.slot(name).map(|s| s.configured.kind).unwrap_or("unknown")
    }
}
