//! Remediation, wired: the Slack buttons an alarm offers, the requests matching rules hand to the
//! remediation function, and that function's job for one request. The decision itself (every
//! guardrail) is `crate::remediate`'s.

use super::App;
use crate::deliver::DeliveryResult;
use crate::model::AlarmState;
use crate::remediate::aws::{Outcome, Remediator};
use crate::remediate::dispatch::Dispatch;
use crate::remediate::follow_up::FollowUp;
use crate::remediate::offers::Offer;
use crate::remediate::{AlarmRef, Policy, Request};
use crate::report::Report;
use crate::route::{Routed, RuleAction};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;
use tokio::time::Instant;

/// Endpoint updates, when deployed: rules hand requests to the remediation function, and
/// opted-in endpoints get Slack buttons.
#[derive(Clone)]
pub struct Remediation {
    /// `None`: rules that ask for an action are logged and reported as not dispatched.
    pub dispatch: Option<Arc<dyn Dispatch>>,
    pub buttons: bool,
    pub settings: RemediationSettings,
}

/// What remediation may do (`settings::remediation`); the same for the alarm function (to label
/// buttons) and the remediation function (to enforce).
#[derive(Debug, Clone)]
pub struct RemediationSettings {
    pub policy: Policy,
    /// For the `enable-enhanced-metrics` button.
    pub frequency_s: i32,
}

/// A rule's request handed (or not) to the remediation function.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Dispatched {
    pub action: &'static str,
    pub endpoint: String,
    pub rule: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Slack buttons for the actions an opted-in endpoint allows, for the receivers it is routed to.
pub fn offers(remediation: Option<&Remediation>, report: &Report, routed: &Routed<'_>) -> Vec<Offer> {
    let Some(rem) = remediation.filter(|r| r.buttons) else { return vec![] };
    let Report::Alarm(a) = report else { return vec![] };
    crate::remediate::offers::offers(a, &routed.receiver_names(), &rem.settings.policy, rem.settings.frequency_s)
}

/// The actions matching rules ask for, handed to the remediation function after delivery (its
/// follow-up then lands after the alarm). Never fails the invocation: the alarm is out.
pub async fn request(
    remediation: Option<&Remediation>,
    report: &Report,
    actions: &[RuleAction],
    results: &[DeliveryResult],
) -> Vec<Dispatched> {
    let Report::Alarm(a) = report else { return vec![] };
    if a.alarm.state != AlarmState::Alarm || actions.is_empty() {
        return vec![];
    }
    let alarm = match AlarmRef::of(&a.alarm, &a.target) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(alarm = %a.alarm.name, error = %e, "a rule asks for remediation but the alarm names no endpoint");
            return vec![];
        }
    };
    let receivers: Vec<String> = results.iter().map(|r| r.receiver.clone()).collect();
    let mut out = vec![];
    for ra in actions {
        let req = Request {
            action: ra.action,
            alarm: alarm.clone(),
            dry_run: ra.dry_run,
            requested_by: format!("routing rule {}", ra.rule),
            receivers: receivers.clone(),
        };
        let result = match remediation.and_then(|r| r.dispatch.as_ref()) {
            Some(d) => d.dispatch(&req).await,
            None => Err("SAGEALARM_REMEDIATE_FUNCTION is not set: the remediation function is not deployed".into()),
        };
        match &result {
            Ok(()) => {
                tracing::info!(alarm = %a.alarm.name, action = ra.action.name(), endpoint = %alarm.endpoint, rule = %ra.rule, dry_run = ra.dry_run, "remediation requested")
            }
            Err(e) => {
                tracing::error!(alarm = %a.alarm.name, action = ra.action.name(), endpoint = %alarm.endpoint, rule = %ra.rule, error = %e, "remediation not requested")
            }
        }
        out.push(Dispatched {
            action: ra.action.name(),
            endpoint: alarm.endpoint.clone(),
            rule: ra.rule.clone(),
            ok: result.is_ok(),
            error: result.err(),
        });
    }
    out
}

/// What the remediation function returns for one request (and logs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Carried {
    #[serde(flatten)]
    pub outcome: Outcome,
    pub requested_by: String,
    pub follow_ups: Vec<DeliveryResult>,
}

/// The remediation function's job for one request: decide from fresh facts (and act unless it is
/// a dry run), then tell the alarm's receivers what was decided and why.
/// `deadline`: the invocation's, for the follow-ups' delivery retries.
pub async fn carry_out(req: &Request, remediator: &Remediator, app: &App, now: DateTime<Utc>, deadline: Instant) -> Carried {
    let outcome = match locked(req, app).await {
        Err(refusal) => refusal,
        Ok(lock) => {
            let outcome = remediator.run(&req.alarm, req.action, req.dry_run, now).await;
            if let (Some(state), Some(lock)) = (app.state(), lock) {
                if let Err(e) = state.unlock(&lock).await {
                    tracing::warn!(error = %e, "remediation lock not released; it expires by itself");
                }
            }
            outcome
        }
    };
    tracing::info!(
        action = outcome.action,
        endpoint = %outcome.endpoint,
        decision = outcome.decision.as_str(),
        reason = %outcome.reason,
        requested_by = %req.requested_by,
        alarm = %req.alarm.alarm_name,
        before = %outcome.before,
        after = %outcome.after,
        "remediation decision"
    );
    let follow_ups = app.follow_up(&req.receivers, &FollowUp::of(&outcome, req), deadline).await;
    Carried { outcome, requested_by: req.requested_by.clone(), follow_ups }
}

/// How long the remediation lock of an endpoint is held at most: longer than one decision takes
/// (the function's timeout), short enough that a crashed one does not block the next.
pub const LOCK_HOLD: std::time::Duration = std::time::Duration::from_secs(120);

/// One remediation of an endpoint at a time across instances (a rule and a click at the same
/// moment): the lock, `None` without a table (or when it cannot be asked: the tags' cooldown
/// still guards), or the refusal when someone else holds it.
async fn locked(req: &Request, app: &App) -> Result<Option<crate::state::marker::Lock>, Outcome> {
    let Some(state) = app.state() else { return Ok(None) };
    match state.lock(&format!("remediate#{}", req.alarm.endpoint), &req.requested_by, LOCK_HOLD).await {
        Ok(Ok(lock)) => Ok(Some(lock)),
        Ok(Err(holder)) => Err(Outcome {
            action: req.action.name(),
            endpoint: req.alarm.endpoint.clone(),
            decision: crate::remediate::Decision::Refused,
            reason: format!("another remediation of {} is in progress (requested by {holder}); nothing was changed", req.alarm.endpoint),
            before: serde_json::Value::Null,
            after: serde_json::Value::Null,
            warning: None,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "remediation lock unavailable; the endpoint's tags still guard the cooldown");
            Ok(None)
        }
    }
}
