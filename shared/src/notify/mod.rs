//! Notify: one file per destination, each behind [`Notifier`], like Alertmanager's
//! `notify/<receiver>` packages. Each says whether a failure is worth retrying; [`http`] does the
//! retrying, honouring `Retry-After`.

pub mod delivered;
pub mod http;
pub mod pagerduty;
pub mod slack;

use crate::report::Report;
use crate::route::Severity;
use serde_json::Value;
use std::time::Duration;

/// A failed attempt, and whether trying again could help.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub retryable: bool,
    /// From the `Retry-After` header of a 429/503.
    pub retry_after: Option<Duration>,
    /// One line, never containing a secret (webhook URL, routing key).
    pub message: String,
}

impl Failure {
    pub fn permanent(message: impl Into<String>) -> Self {
        Self { retryable: false, retry_after: None, message: message.into() }
    }
    pub fn retryable(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self { retryable: true, retry_after, message: message.into() }
    }
}

pub trait Notifier: Send + Sync {
    fn name(&self) -> &str;
    /// `slack` or `pagerduty`.
    fn kind(&self) -> &'static str;
    /// Where to POST. For Slack the URL is itself the secret: never log it.
    fn url(&self) -> &str;
    fn body(&self, report: &Report, severity: Severity) -> Value;
    /// Where and what to post to tell this receiver about a remediation decision.
    fn follow_up(&self, f: &crate::remediate::follow_up::FollowUp) -> (String, Value);
    /// Reads the HTTP answer: `Ok` when delivered.
    fn classify(&self, status: u16, retry_after: Option<Duration>, body: &str) -> Result<(), Failure>;
}

/// What retrying generally does with a status code: 429 and 5xx retry, other 4xx do not.
pub fn classify_status(destination: &str, status: u16, retry_after: Option<Duration>, body: &str) -> Failure {
    let body = crate::render::text::truncate(&crate::intake::one_line(body), 200);
    let msg = format!("{destination} answered HTTP {status}: {body}");
    if status == 429 || status >= 500 {
        // `Retry-After` is a pace to keep only on 429 and 503 (RFC 9110); other 5xx back off.
        Failure::retryable(msg, retry_after.filter(|_| matches!(status, 429 | 503)))
    } else {
        Failure::permanent(msg)
    }
}
