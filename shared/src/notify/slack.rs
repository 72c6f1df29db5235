//! Slack incoming webhook: success is HTTP 200 with body `ok`.

use super::{classify_status, Failure, Notifier};
use crate::report::Report;
use crate::route::Severity;
use crate::secrets::Secret;
use serde_json::Value;
use std::time::Duration;

pub struct SlackNotifier {
    pub name: String,
    pub webhook_url: Secret,
}

impl Notifier for SlackNotifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "slack"
    }
    fn url(&self) -> &str {
        self.webhook_url.expose()
    }
    fn body(&self, report: &Report, _severity: Severity) -> Value {
        crate::render::slack::render(report)
    }
    fn follow_up(&self, f: &crate::remediate::follow_up::FollowUp) -> (String, Value) {
        (self.webhook_url.expose().to_string(), crate::render::slack::follow_up(f))
    }
    fn classify(&self, status: u16, retry_after: Option<Duration>, body: &str) -> Result<(), Failure> {
        // Slack documents "interpret HTTP 200 as success and any other response code as a failure".
        if status == 200 {
            return Ok(());
        }
        Err(classify_status("Slack", status, retry_after, body))
    }
}
