//! What the Slack app adds to the webhook's message: the parent's history line, and the short
//! reply in the thread that says what changed.

use crate::model::text::mrkdwn;
use crate::model::AlarmState;
use crate::render::state_badge;
use crate::report::AlarmReport;
use crate::state::thread::Thread;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The parent as the alarm is now (`msg`: the message for the latest notification), with its
/// history under the header: `🔴 ALARM 14:07 → ✅ OK 14:31 · resolved after 23 min`.
pub fn parent(msg: Value, thread: &Thread) -> Value {
    super::blocks::with_note(msg, Some(history(thread)))
}

/// The history line: each state change told, oldest first, then how long the last ALARM lasted.
pub fn history(t: &Thread) -> String {
    let mut parts: Vec<String> = t.history.iter().map(|c| format!("{} {}", state_badge(Some(c.state)), hm(c.at))).collect();
    if parts.len() > 6 {
        // The start, then the latest: a long flapping history stays one line.
        let tail = parts.split_off(parts.len() - 4);
        parts.truncate(1);
        parts.push("…".into());
        parts.extend(tail);
    }
    let mut line = parts.join(" → ");
    if let Some(lasted) = resolved_after(t) {
        line.push_str(&format!(" · resolved after {lasted}"));
    }
    line
}

/// "23 min" when the thread's state is OK after a run of ALARM.
fn resolved_after(t: &Thread) -> Option<String> {
    (t.state == AlarmState::Ok).then_some(())?;
    let since = t.alarm_since()?;
    Some(lasted(t.changed_at - since))
}

/// The reply in the thread: the new state, when, what it was before, and the reason.
pub fn reply(r: &AlarmReport, before: &Thread, after: &Thread) -> Value {
    let a = &r.alarm;
    let at = a.state_change_time.unwrap_or(after.changed_at);
    let mut head = format!(
        "{} at {} UTC (was {} since {} UTC)",
        state_badge(Some(a.state)),
        hm(at),
        state_badge(Some(before.state)),
        hm(before.changed_at)
    );
    if at < before.changed_at {
        head.push_str(" · arrived late: the parent keeps the newer state");
    } else if let Some(lasted) = resolved_after(after) {
        head.push_str(&format!(" · resolved after {lasted}"));
    }
    let mut text = format!("*{}*", mrkdwn(&head, 400));
    if !r.reason.is_empty() {
        text.push_str(&format!("\n>{}", mrkdwn(&r.reason, 1500)));
    }
    json!({
        "text": format!("{} {}: {}", state_badge(Some(a.state)), mrkdwn(&a.name, 200), mrkdwn(&head, 400)),
        "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": text, "verbatim": true } }],
    })
}

fn hm(t: DateTime<Utc>) -> String {
    t.format("%H:%M").to_string()
}

/// A duration as on-call people say it: `under 1 min`, `23 min`, `2 h 5 min`, `3 d 4 h`.
pub fn lasted(d: chrono::Duration) -> String {
    let m = d.num_minutes().max(0);
    match m {
        0 => "under 1 min".into(),
        1..60 => format!("{m} min"),
        60..1440 => format!("{} h {} min", m / 60, m % 60),
        _ => format!("{} d {} h", m / 1440, (m % 1440) / 60),
    }
}
