//! PagerDuty Events API v2: success is HTTP 202; 400 is a bad event and never retried.

use super::{classify_status, Failure, Notifier};
use crate::report::Report;
use crate::route::Severity;
use crate::secrets::Secret;
use serde_json::Value;
use std::time::Duration;

pub struct PagerDutyNotifier {
    pub name: String,
    pub routing_key: Secret,
    pub events_url: String,
}

impl Notifier for PagerDutyNotifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "pagerduty"
    }
    fn url(&self) -> &str {
        &self.events_url
    }
    fn body(&self, report: &Report, severity: Severity) -> Value {
        crate::render::pagerduty::render(report, self.routing_key.expose(), severity)
    }
    /// A change event, not a trigger: the decision is recorded on the service without paging.
    fn follow_up(&self, f: &crate::remediate::follow_up::FollowUp) -> (String, Value) {
        (crate::render::pagerduty::change_url(&self.events_url), crate::render::pagerduty::change_event(f, self.routing_key.expose()))
    }
    fn classify(&self, status: u16, retry_after: Option<Duration>, body: &str) -> Result<(), Failure> {
        if (200..300).contains(&status) {
            return Ok(());
        }
        Err(classify_status("PagerDuty", status, retry_after, body))
    }
}
