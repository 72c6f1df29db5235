//! What the alarm's receivers are told after a remediation decision: done, dry run or refused,
//! with its reason and who asked. Rendered per destination by each destination as one more message kind
//! (`deliver::Message::FollowUp`).

use super::aws::Outcome;
use super::{Decision, Request};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowUp {
    /// `scale-out on deepgram-prod: done`.
    pub headline: String,
    pub reason: String,
    pub requested_by: String,
    pub alarm_name: String,
    /// The alarm's identity: the follow-up replies in its thread where one is kept.
    pub alarm_identity: String,
    pub endpoint: String,
    pub decision: Decision,
    pub before: Value,
    pub after: Value,
}

impl FollowUp {
    pub fn of(o: &Outcome, req: &Request) -> Self {
        let decision = match o.decision {
            Decision::Done => "done",
            Decision::DryRun => "dry run, nothing changed",
            Decision::Refused => "refused",
        };
        Self {
            headline: format!("sagealarm {} on {}: {decision}", o.action, o.endpoint),
            // A warning (the action was not recorded) travels with the reason to every receiver.
            reason: match &o.warning {
                Some(w) => format!("{} ⚠️ {w}", o.reason),
                None => o.reason.clone(),
            },
            requested_by: req.requested_by.clone(),
            alarm_name: req.alarm.alarm_name.clone(),
            alarm_identity: req.alarm.identity().to_string(),
            endpoint: o.endpoint.clone(),
            decision: o.decision,
            before: o.before.clone(),
            after: o.after.clone(),
        }
    }

    pub fn emoji(&self) -> &'static str {
        match self.decision {
            Decision::Done => "🛠️",
            Decision::DryRun => "🧪",
            Decision::Refused => "🚫",
        }
    }
}
