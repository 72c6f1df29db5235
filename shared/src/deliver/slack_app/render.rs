//! What the Slack app adds to the webhook's message: the parent's history line, the short
//! reply in the thread that says what changed, and a group's summary.

use crate::model::text::{mrkdwn, plain};
use crate::model::AlarmState;
use crate::render::state_badge;
use crate::report::AlarmReport;
use crate::route::Group;
use crate::state::group::{GroupThread, Member};
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

/// A group's parent: how many of its alarms are in which state, worst first, since when, each
/// alarm on a line (as many as fit in Slack's limits; the thread has every one).
pub fn summary(g: &GroupThread, group: &Group) -> Value {
    use super::blocks::limits;
    let mut members: Vec<&Member> = g.members.values().collect();
    members.sort_by_key(|m| (rank(m.state), std::cmp::Reverse(m.severity), m.at));
    let total = members.len();
    let count = |s: AlarmState| members.iter().filter(|m| m.state == s).count();
    let (alarm, insufficient) = (count(AlarmState::Alarm), count(AlarmState::InsufficientData));
    let plural = |n: usize| if n == 1 { "alarm" } else { "alarms" };
    let head = if alarm > 0 {
        format!("🔴 {}: {alarm} of {total} {} in ALARM", g.title, plural(total))
    } else if insufficient > 0 {
        format!("⚪ {}: none in ALARM, {insufficient} of {total} with insufficient data", g.title)
    } else {
        format!("✅ {}: all {total} {} OK", g.title, plural(total))
    };
    let mut about = format!("Grouped by {} · since {} UTC", group.key(), hm(g.opened_at));
    if alarm == 0 && insufficient == 0 {
        if let Some(last) = members.iter().map(|m| m.at).max() {
            about.push_str(&format!(" · resolved after {}", lasted(last - g.opened_at)));
        }
    }
    about.push_str(" · each alarm's detail is in the thread");

    let mut blocks = vec![
        json!({ "type": "header", "text": { "type": "plain_text", "text": plain(&head, limits::HEADER), "emoji": true } }),
        json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": mrkdwn(&about, 1000), "verbatim": true }] }),
    ];
    // One section per state, split where a section would pass Slack's limit; the whole message
    // stays under the total block text Slack accepts.
    let budget = limits::TOTAL_TEXT - 1500;
    let (mut used, mut listed) = (0, 0);
    for state in [AlarmState::Alarm, AlarmState::InsufficientData, AlarmState::Ok] {
        let of_state: Vec<&&Member> = members.iter().filter(|m| m.state == state).collect();
        if of_state.is_empty() {
            continue;
        }
        let mut text = format!("*{} ({})*", state_badge(Some(state)), of_state.len());
        for m in of_state {
            let line = format!("\n• *{}* · since {} UTC · {}", mrkdwn(&m.name, 200), hm(m.at), m.severity.as_str());
            if used + text.len() + line.len() > budget || blocks.len() >= limits::BLOCKS - 2 {
                break;
            }
            if text.len() + line.len() > limits::SECTION_TEXT - 100 {
                used += text.len();
                blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": text, "verbatim": true } }));
                text = String::new();
            }
            text.push_str(&line);
            listed += 1;
        }
        if !text.is_empty() {
            used += text.len();
            blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": text.trim_start(), "verbatim": true } }));
        }
    }
    if listed < total {
        let more = format!("…and {} more: the thread has each one", total - listed);
        blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": more }] }));
    }
    let names: Vec<String> = members.iter().take(20).map(|m| mrkdwn(&m.name, 100)).collect();
    json!({ "text": plain(&format!("{head}: {}", names.join(", ")), limits::FALLBACK_TEXT), "blocks": blocks })
}

/// Worst first: ALARM, then INSUFFICIENT_DATA, then OK.
fn rank(s: AlarmState) -> u8 {
    match s {
        AlarmState::Alarm => 0,
        AlarmState::InsufficientData => 1,
        AlarmState::Ok => 2,
    }
}
