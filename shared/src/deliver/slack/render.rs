//! Slack Block Kit message for an incoming webhook, within every Block Kit limit whatever the input.

use crate::deliver::Extras;
use crate::enrich::diagnosis::Cause;
use crate::enrich::serverless::Finding;
use crate::enrich::{Enrichment, Llm};
use crate::model::controls::{self, ControlTarget, SnoozeFor};
use crate::model::text::{clamp_escaped, code, mrkdwn, plain, truncate};
use crate::model::units;
use crate::model::{AlarmKind, Origin};
use crate::remediate::follow_up::FollowUp;
use crate::remediate::offers::Offer;
use crate::render::enrichment as enr;
use crate::render::state_badge;
use crate::report::{subject_line, AlarmReport, Report};
use crate::state::incident::IncidentState;
use crate::subject::Subject;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Limits from Slack's Block Kit reference (see the README's design section).
pub mod limits {
    pub const BLOCKS: usize = 50;
    pub const HEADER: usize = 150;
    pub const SECTION_TEXT: usize = 3000;
    pub const FIELDS: usize = 10;
    pub const FIELD_TEXT: usize = 2000;
    pub const CONTEXT_ELEMENTS: usize = 10;
    pub const ACTIONS_ELEMENTS: usize = 25;
    pub const BUTTON_TEXT: usize = 75;
    pub const BUTTON_URL: usize = 3000;
    pub const BUTTON_VALUE: usize = 2000;
    /// Slack rejects messages with ~13,200 chars of block text (`msg_blocks_too_long`) even when each
    /// block is in its limit; stay well below.
    pub const TOTAL_TEXT: usize = 12_000;
    pub const FALLBACK_TEXT: usize = 3000;
}

/// The message for a report; `offers`: the remediation buttons to show (empty: none).
pub fn render(report: &Report, offers: &[Offer]) -> Value {
    match report {
        Report::Alarm(a) => alarm(a, offers),
        Report::Plain(p) => {
            let title = p.subject.clone().unwrap_or_else(|| "SNS notification".into());
            let origin = origin_text(&p.origin);
            json!({
                "text": clamp_escaped(format!("✉️ {}", mrkdwn(&title, 300)), limits::FALLBACK_TEXT),
                "blocks": [
                    header(&format!("✉️ {title}")),
                    section(&format!("```{}```", mrkdwn(&p.body, 2800))),
                    context(&[format!("Not a CloudWatch alarm; delivered as received. {origin}")]),
                ]
            })
        }
    }
}

fn alarm(r: &AlarmReport, offers: &[Offer]) -> Value {
    let a = &r.alarm;
    let badge = state_badge(Some(a.state));
    let mut blocks = vec![header(&title(r, badge))];

    let subject = subject_fields(r);
    if !subject.is_empty() {
        blocks.push(section(&subject.join("  ·  ")));
    }

    let mut what = format!("*{}*", mrkdwn(&r.metric_label, 300));
    if let Some(t) = &r.threshold {
        what.push_str(&format!(" {}", mrkdwn(t, 300)));
    }
    if !r.reason.is_empty() {
        what.push('\n');
        what.push_str(&mrkdwn(&r.reason, 1500));
    }
    blocks.push(section(&what));
    if let Some(q) = &r.query {
        blocks.push(section(&format!("*Query*\n```{}```", mrkdwn(q, 2000))));
    }
    if let Some(m) = &a.mute {
        let rule = m.rule_name().map(|n| format!(" by {}", code(n, 200))).unwrap_or_default();
        let until = m.end.map(|t| format!(" until {}", t.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default();
        blocks.push(context(&[format!("🔕 Muted{rule}{until}: nobody was paged")]));
    }

    let mut fields = vec![];
    if let Some(owner) = r.tag("owner") {
        fields.push(format!("*Owner*\n{}", mrkdwn(owner, 200)));
    }
    if let Some(w) = &r.window {
        fields.push(format!("*Window*\n{}", mrkdwn(w, 200)));
    }
    if let Some(t) = a.state_change_time {
        let fallback = t.format("%Y-%m-%d %H:%M:%S UTC");
        fields.push(format!("*Since*\n<!date^{}^{{date_short_pretty}} {{time_secs}}|{fallback}>", t.timestamp()));
    }
    if let Some(p) = a.previous_state {
        fields.push(format!("*Previous state*\n{p}"));
    }
    if let Some(tmd) = a.kind.evaluation().and_then(|e| e.treat_missing_data) {
        fields.push(format!(
            "*Missing data*\n{}",
            serde_json::to_value(tmd).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
        ));
    }
    let place = [a.account.as_deref(), a.region.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" / ");
    if !place.is_empty() {
        fields.push(format!("*Account / region*\n{}", mrkdwn(&place, 200)));
    }
    if !fields.is_empty() {
        blocks.push(json!({ "type": "section", "fields": fields.iter().map(|f| mrkdwn_obj(f, limits::FIELD_TEXT)).collect::<Vec<_>>() }));
    }

    if let Some(d) = &a.description {
        blocks.push(section(&format!("*Description*\n{}", mrkdwn(d, 1500))));
    }

    if let AlarmKind::Composite { triggering_children, .. } = &a.kind {
        let lines: Vec<String> = triggering_children
            .iter()
            .take(10)
            .map(|c| format!("• {} {}", code(&c.name, 200), c.state.map(|s| s.as_str()).unwrap_or("")))
            .collect();
        if !lines.is_empty() {
            blocks.push(section(&format!("*Triggering children*\n{}", lines.join("\n"))));
        }
    }

    // Enrichment goes in by priority until Slack's total text budget is used up.
    let used: usize = blocks.iter().map(text_len).sum::<usize>() + 600;
    let mut extra = enrichment_blocks(r);
    let mut budget = limits::TOTAL_TEXT.saturating_sub(used);
    let mut keep = vec![false; extra.len()];
    let mut order: Vec<usize> = (0..extra.len()).collect();
    order.sort_by_key(|i| extra[*i].0);
    for i in order {
        let n = text_len(&extra[i].1);
        if n <= budget {
            budget -= n;
            keep[i] = true;
        }
    }
    let mut k = keep.into_iter();
    extra.retain(|_| k.next().unwrap_or(false));
    blocks.extend(extra.into_iter().map(|(_, b)| b));

    let buttons: Vec<Value> = r
        .links
        .iter()
        .filter(|l| l.url.len() <= limits::BUTTON_URL)
        .take(limits::ACTIONS_ELEMENTS)
        .enumerate()
        .map(|(i, l)| {
            json!({ "type": "button", "action_id": format!("link_{i}"), "text": { "type": "plain_text", "text": truncate(&l.text, limits::BUTTON_TEXT) }, "url": l.url })
        })
        .collect();
    if !buttons.is_empty() {
        blocks.push(json!({ "type": "actions", "elements": buttons }));
    }
    if let Some(b) = offers_block(offers) {
        blocks.push(b);
    }

    let mut footer = vec![format!("sagealarm · {} alarm · {}", a.kind.shape_name(), origin_text(&a.origin))];
    if let Some(s) = &a.actions_suppressed_by {
        footer.push(format!("CloudWatch actions suppressed by {}", mrkdwn(s, 100)));
    }
    blocks.push(context(&footer));
    blocks.truncate(limits::BLOCKS);

    json!({ "text": fallback_text(r), "blocks": blocks })
}

/// The notification text (and what clients without Block Kit show): one line that answers
/// "what, where, how bad".
pub fn fallback_text(r: &AlarmReport) -> String {
    let mut s = format!("{} — {}", title(r, state_badge(Some(r.alarm.state))), r.metric_label);
    if let Some(t) = &r.threshold {
        s.push(' ');
        s.push_str(t);
    }
    if let Some(subj) = subject_line(&r.target) {
        s.push_str(" on ");
        s.push_str(&subj);
    }
    if let Some(lead) = enr::lead_sentence(&r.enrichment) {
        s.push_str(" — ");
        s.push_str(&lead);
    }
    clamp_escaped(mrkdwn(&s, 900), limits::FALLBACK_TEXT)
}

/// `🔴 ALARM: name`; for one contributor of a multi-time-series alarm `🔴 ALARM: name — GPU 3 on i-0123…`,
/// for its alarm level `🔴 ALARM: name — 3 of 48 time series in ALARM`.
fn title(r: &AlarmReport, badge: impl std::fmt::Display) -> String {
    match r.contributor.as_ref().or(r.series.as_ref()) {
        Some(c) => format!("{badge}: {} — {c}", r.alarm.name),
        None => format!("{badge}: {}", r.alarm.name),
    }
}

fn subject_fields(r: &AlarmReport) -> Vec<String> {
    match &r.target.subject {
        Subject::SageMaker(sm) => [
            ("Endpoint", &sm.endpoint),
            ("Variant", &sm.variant),
            ("Component", &sm.inference_component),
            ("Container", &sm.container),
            ("Instance", &sm.instance),
            ("GPU", &sm.gpu),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("*{k}* {}", code(v, 200))))
        .collect(),
        Subject::Generic { namespace, metric_name } => {
            let parts: Vec<String> = [namespace, metric_name].into_iter().flatten().map(|v| code(v, 200)).collect();
            if parts.is_empty() {
                vec![]
            } else {
                vec![format!("*Metric* {}", parts.join(" "))]
            }
        }
        Subject::Composite { .. } => vec![],
    }
}

/// Enrichment blocks with a priority each (0 = keep longest): when the message would pass
/// Slack's total text limit, the lowest-priority blocks go first.
fn enrichment_blocks(r: &AlarmReport) -> Vec<(u8, Value)> {
    let e = &r.enrichment;
    let mut out = vec![];
    // A multi-time-series alarm: one hot GPU, or the whole fleet? Said first.
    if let Some(line) = e.contributors.as_ref().and_then(|c| enr::contributors_line(c, r.alarm.contributor.as_ref())) {
        out.push((0, section(&mrkdwn(&line, 1500))));
    }
    // The diagnosis: the cause that explains the alarm best, then what supports it.
    if let Some(text) = diagnosis_text(e) {
        out.push((0, section(&text)));
    }
    // Capacity that explains the alarm comes right after; otherwise it follows the endpoint.
    let capacity = capacity_block(r);
    let leads = e.explanation.mentions(|c| matches!(c, Cause::Capacity { .. } | Cause::CapacityErrors { .. }));
    let mut capacity = capacity.map(|b| (if leads { 0 } else { 1 }, b));
    if leads {
        out.extend(capacity.take());
    }
    if let Some(l) = &e.llm {
        out.push((0, section(&llm_text(l))));
    }
    if let Some(q) = &e.own_query {
        let lines: Vec<String> = enr::own_query_lines(q).iter().map(|l| mrkdwn(l, 500)).collect();
        out.push((0, section(&format!("*The alarm's query over the window*\n{}", lines.join("\n")))));
    }
    if let Some(f) = &e.fleet {
        let mut text = String::new();
        // An outlier is said in the diagnosis; "load is even" only when nothing else explains the alarm.
        if f.outlier.is_none() && e.explanation.lead.is_none() {
            if let Some(h) = enr::headline(f) {
                text.push_str(&format!("*{}*\n", mrkdwn(&h, 600)));
            }
        }
        if let Some(line) = enr::summed_line(f) {
            text.push_str(&format!("{}\n", mrkdwn(&line, 400)));
        }
        let period = units::period(f.period_s.max(0) as u32);
        text.push_str(&format!("_{} · values over the alarm window · trend per {period}_\n", mrkdwn(&enr::reporting(f), 300)));
        text.push_str(&format!("```{}```", mrkdwn(&enr::fleet_table(f, 12), 2200)));
        out.push((0, section(&text)));
    }
    // A serverless variant has no fleet: its own diagnosis goes where the outlier would.
    if let Some(d) = &e.serverless {
        let pressing = !matches!(d.finding, Finding::NoPressure | Finding::NoData);
        // A pressing finding is the diagnosis's; the quiet ones are said here.
        let mut text = match pressing {
            true => String::new(),
            false => format!("*{}*\n", mrkdwn(&enr::serverless_headline(d), 600)),
        };
        text.push_str(&format!(
            "_serverless variant {} · the {} min before the alarm · per {}_",
            mrkdwn(&d.variant, 100),
            d.span_minutes,
            units::period(d.period_s.max(0) as u32)
        ));
        let table = enr::serverless_table(d);
        if !table.is_empty() {
            text.push_str(&format!("\n```{}```", mrkdwn(&table, 2000)));
        }
        out.push((0, section(&text)));
    }
    if let Some(info) = &e.endpoint {
        let lines: Vec<String> = enr::endpoint_lines(info).iter().take(12).map(|l| mrkdwn(l, 300)).collect();
        out.push((1, section(&format!("*Endpoint* {}\n{}", code(&info.name, 200), lines.join("\n")))));
    }
    out.extend(capacity);
    if !e.advice.is_empty() {
        let items: Vec<String> = e.advice.iter().take(5).map(|a| format!("• {}", mrkdwn(a, 550))).collect();
        out.push((1, section(&format!("*What to check*\n{}", items.join("\n")))));
    }
    if let Some(l) = &e.logs {
        let outlier = e.fleet.as_ref().and_then(|f| f.outlier.as_ref()).and_then(|o| o.member.instance.as_deref());
        let head = format!(
            "*Logs* {} · {} matching line{} of {} read{}",
            code(&l.group, 200),
            l.matched,
            if l.matched == 1 { "" } else { "s" },
            l.scanned,
            if l.complete { "" } else { " (stopped early)" }
        );
        if l.streams.is_empty() {
            out.push((2, section(&format!("{head}\nNo line matched the failure signatures in the window."))));
        }
        for (i, st) in l.streams.iter().take(3).enumerate() {
            let lines: Vec<String> = st.lines.iter().map(|x| enr::log_line(x, 240)).collect();
            let body = mrkdwn(&lines.join("\n"), 1100);
            let title = format!("*{}*", mrkdwn(&enr::stream_title(st, outlier), 200));
            let text = if i == 0 { format!("{head}\n{title}\n```{body}```") } else { format!("{title}\n```{body}```") };
            out.push((2 + i as u8, section(&text)));
        }
    }
    let mut lines = vec![];
    if let Some(why) = &e.skipped {
        lines.push(format!("Enrichment: {}", mrkdwn(why, 300)));
    }
    lines.extend(e.notes.iter().take(8).map(|n| format!("⚠️ {}: {}", mrkdwn(&n.source, 60), mrkdwn(&n.message, 300))));
    if let Some(st) = &e.stats {
        if e.skipped.is_none() {
            lines.push(format!("Enriched with {} AWS calls in {} ms", st.calls, st.elapsed_ms));
        }
    }
    if !lines.is_empty() {
        // What is missing is part of the answer: kept as long as possible.
        out.push((0, context(&lines)));
    }
    out
}

/// `🧠 *KV cache full on …*` and the supporting causes as bullets.
fn diagnosis_text(e: &Enrichment) -> Option<String> {
    let x = &e.explanation;
    let mut lines = vec![];
    if let Some(lead) = &x.lead {
        let sentence = enr::cause_sentence(&lead.cause, e)?;
        lines.push(format!("{} *{}*", enr::cause_icon(&lead.cause), mrkdwn(&sentence, 600)));
    }
    for s in &x.supporting {
        if let Some(sentence) = enr::cause_sentence(&s.cause, e) {
            lines.push(format!("{} {}", enr::cause_icon(&s.cause), mrkdwn(&sentence, 400)));
        }
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// The LLM engines per inference component and instance, with where the fleet runs.
fn llm_text(l: &Llm) -> String {
    let mut text = format!("*LLM engine* _{}_\n", mrkdwn(&enr::llm_caption(l), 500));
    if !l.rows.is_empty() {
        text.push_str(&format!("```{}```", mrkdwn(&enr::llm_table(l, 8), 1900)));
    }
    let placement: Vec<String> = l.placement.iter().flat_map(enr::placement_lines).map(|p| mrkdwn(&p, 300)).collect();
    if !placement.is_empty() {
        text.push('\n');
        text.push_str(&placement.join("\n"));
    }
    text
}

/// Autoscaling (headline, range, policies, activities) and the recent changes, in one section.
fn capacity_block(r: &AlarmReport) -> Option<Value> {
    let e = &r.enrichment;
    let mut text = String::new();
    if let Some(c) = &e.capacity {
        let anchor = e.window.as_ref().map(|w| w.anchor).unwrap_or_else(|| r.alarm.anchor_time());
        let lines: Vec<String> = enr::capacity_lines(c, anchor).iter().take(14).map(|l| mrkdwn(l, 300)).collect();
        text.push_str(&format!("*Capacity*\n{}", lines.join("\n")));
    }
    if let Some(l) = enr::changes_line(&e.changes, e.endpoint.is_some() || e.capacity.is_some()) {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&mrkdwn(&l, 900));
    }
    (!text.is_empty()).then(|| section(&text))
}

/// Characters of text a block contributes toward Slack's total.
fn text_len(b: &Value) -> usize {
    let len = |v: &Value| v.as_str().map(|s| s.chars().count()).unwrap_or(0);
    len(&b["text"]["text"])
        + b["fields"].as_array().into_iter().flatten().map(|f| len(&f["text"])).sum::<usize>()
        + b["elements"].as_array().into_iter().flatten().map(|x| len(&x["text"]).max(len(&x["text"]["text"]))).sum::<usize>()
}

fn origin_text(o: &Origin) -> String {
    match o {
        Origin::Sns { message_id, .. } => format!("SNS {}", mrkdwn(message_id, 80)),
        Origin::EventBridge { id } => format!("EventBridge {}", mrkdwn(id, 80)),
        Origin::AlarmAction => "alarm action".into(),
    }
}

/// The follow-up after a remediation decision: one section and who asked.
pub fn follow_up(f: &FollowUp) -> Value {
    let title = format!("{} {}", f.emoji(), f.headline);
    json!({
        "text": clamp_escaped(mrkdwn(&title, 300), limits::FALLBACK_TEXT),
        "blocks": [
            section(&format!("*{}*\n{}", mrkdwn(&title, 300), mrkdwn(&f.reason, 2000))),
            context(&[format!("Requested by {} · alarm {}", mrkdwn(&f.requested_by, 300), mrkdwn(&f.alarm_name, 300))]),
        ]
    })
}

/// Buttons for the actions the endpoint opted in to, each behind a confirmation dialog.
fn offers_block(offers: &[Offer]) -> Option<Value> {
    let buttons: Vec<Value> = offers
        .iter()
        .filter(|o| o.value.chars().count() <= limits::BUTTON_VALUE)
        .take(limits::ACTIONS_ELEMENTS)
        .map(|o| {
            json!({
                "type": "button",
                "action_id": o.action_id,
                "text": { "type": "plain_text", "text": plain(&o.label, limits::BUTTON_TEXT), "emoji": true },
                "value": o.value,
                "confirm": {
                    "title": { "type": "plain_text", "text": "Change the endpoint?" },
                    "text": { "type": "mrkdwn", "text": clamp_escaped(mrkdwn(&o.confirm, 280), 300) },
                    "confirm": { "type": "plain_text", "text": "Do it" },
                    "deny": { "type": "plain_text", "text": "Cancel" }
                }
            })
        })
        .collect();
    (!buttons.is_empty()).then(|| json!({ "type": "actions", "block_id": "sagealarm-remediate", "elements": buttons }))
}

/// `msg` with what its route adds: the route's links as buttons (after the alarm's own) and, when
/// `mention` (an ALARM's first message, not snoozed), who to mention, in the notification text
/// too so that they are notified. Mentions are Slack's own syntax, checked by the routing document.
pub fn with_extras(mut msg: Value, extras: &Extras, mention: bool) -> Value {
    if !extras.links.is_empty() {
        let buttons: Vec<Value> = extras
            .links
            .iter()
            .filter(|l| l.url.len() <= limits::BUTTON_URL)
            .enumerate()
            .map(|(i, l)| json!({ "type": "button", "action_id": format!("route_link_{i}"), "text": { "type": "plain_text", "text": plain(&l.text, limits::BUTTON_TEXT) }, "url": l.url }))
            .collect();
        if let Some(blocks) = msg["blocks"].as_array_mut() {
            match blocks.iter_mut().find(|b| b["type"] == "actions" && b["block_id"].is_null()) {
                Some(links) => {
                    if let Some(e) = links["elements"].as_array_mut() {
                        e.extend(buttons);
                        e.truncate(limits::ACTIONS_ELEMENTS);
                    }
                }
                None => {
                    let at = blocks.len().saturating_sub(1);
                    blocks.insert(at, json!({ "type": "actions", "elements": buttons }));
                }
            }
        }
    }
    if mention && !extras.mention.is_empty() {
        let who = extras.mention.join(" ");
        if let Some(t) = msg["text"].as_str() {
            msg["text"] = clamp_escaped(format!("{who} {t}"), limits::FALLBACK_TEXT).into();
        }
        if let Some(blocks) = msg["blocks"].as_array_mut() {
            let at = usize::from(blocks.first().is_some_and(|b| b["type"] == "header"));
            blocks.insert(
                at,
                json!({ "type": "section", "block_id": "sagealarm_mention", "text": { "type": "mrkdwn", "text": format!("cc {who}") } }),
            );
        }
    }
    if let Some(blocks) = msg["blocks"].as_array_mut() {
        if blocks.len() > limits::BLOCKS {
            blocks.drain(limits::BLOCKS - 1..blocks.len() - 1);
        }
    }
    msg
}

/// A control as a message of its own (for a destination that cannot update the alarm's).
pub fn control_note(c: &crate::deliver::Control) -> Value {
    let lines = status_lines(&c.state, chrono::Utc::now());
    let text = format!("{}: {}", mrkdwn(&c.target.name, 200), if lines.is_empty() { "unsnoozed".to_string() } else { lines.join(" · ") });
    json!({ "text": clamp_escaped(text.clone(), limits::FALLBACK_TEXT), "blocks": [context(&[text])] })
}

/// Who did what about the alarm: `👀 acknowledged by <@U…> at 14:09`, `🔕 snoozed by <@U…>
/// until 15:10 UTC`.
pub fn status_lines(acted: &IncidentState, now: DateTime<Utc>) -> Vec<String> {
    let mut out = vec![];
    if let Some(a) = &acted.ack {
        out.push(format!("👀 acknowledged by <@{}> at {} UTC", user(&a.by), a.at.format("%H:%M")));
    }
    if let Some(s) = acted.snoozed_at(now) {
        let until = s.until.map(|u| format!("until {} UTC", u.format("%H:%M"))).unwrap_or_else(|| "until OK".into());
        out.push(format!("🔕 snoozed by <@{}> {until}: updates go to the thread, nobody is paged", user(&s.by)));
    }
    out
}

/// A Slack user ID as recorded (from a verified click): letters and digits only.
fn user(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_alphanumeric()).take(20).collect()
}

/// The status line and the controls of an alarm's parent while it is in ALARM: Acknowledge
/// (until someone did), Snooze (1 h, 4 h, 24 h, until OK: `sagealarm_snooze_<length>`) or
/// Unsnooze while snoozed.
pub fn controls(target: &ControlTarget, acted: &IncidentState, now: DateTime<Utc>) -> Vec<Value> {
    let value = serde_json::to_string(target).unwrap_or_default();
    if value.chars().count() > limits::BUTTON_VALUE {
        return vec![];
    }
    let mut elements = vec![];
    if acted.ack.is_none() {
        elements.push(json!({ "type": "button", "action_id": controls::ACK, "style": "primary", "text": { "type": "plain_text", "text": "👀 Acknowledge", "emoji": true }, "value": value }));
    }
    if acted.snoozed_at(now).is_some() {
        elements.push(json!({ "type": "button", "action_id": controls::UNSNOOZE, "text": { "type": "plain_text", "text": "🔔 Unsnooze", "emoji": true }, "value": value }));
    } else {
        // A button per length (a menu option's value is at most 150 characters: too short for
        // the alarm's identity).
        for s in SnoozeFor::ALL {
            let text = format!("🔕 {}", s.label());
            elements.push(json!({ "type": "button", "action_id": format!("{}_{}", controls::SNOOZE, s.value()), "text": { "type": "plain_text", "text": text, "emoji": true }, "value": value }));
        }
    }
    let mut out = vec![];
    let lines = status_lines(acted, now);
    if !lines.is_empty() {
        out.push(json!({ "type": "context", "block_id": "sagealarm_status", "elements": lines.iter().map(|l| json!({ "type": "mrkdwn", "text": l })).collect::<Vec<_>>() }));
    }
    out.push(json!({ "type": "actions", "block_id": "sagealarm_controls", "elements": elements }));
    out
}

/// `msg` with the controls (and status) placed under its header and subject, replacing any
/// there were: for a new ALARM parent, and for the parent a click just changed.
pub fn with_controls(mut msg: Value, controls: Vec<Value>) -> Value {
    if let Some(blocks) = msg["blocks"].as_array_mut() {
        let at = blocks.iter().position(|b| b["block_id"] == "sagealarm_status" || b["block_id"] == "sagealarm_controls");
        blocks.retain(|b| b["block_id"] != "sagealarm_status" && b["block_id"] != "sagealarm_controls");
        let at = at.unwrap_or_else(|| {
            blocks
                .iter()
                .position(|b| b["type"] != "header" && b["block_id"] != "sagealarm_mention")
                .map(|i| i + 1)
                .unwrap_or(blocks.len())
                .min(blocks.len())
        });
        for (i, c) in controls.into_iter().enumerate() {
            blocks.insert(at + i, c);
        }
        if blocks.len() > limits::BLOCKS {
            blocks.drain(limits::BLOCKS - 1..blocks.len() - 1);
        }
    }
    msg
}

/// `msg` with `note` (text, escaped here) as a context line under its header, within the block
/// limit: a state note, or the Slack app parent's history line.
pub fn with_note(mut msg: Value, note: Option<String>) -> Value {
    let Some(note) = note else { return msg };
    if let Some(blocks) = msg["blocks"].as_array_mut() {
        let at = usize::from(blocks.first().is_some_and(|b| b["type"] == "header"));
        blocks.insert(at, context(&[mrkdwn(&note, 500)]));
        if blocks.len() > limits::BLOCKS {
            // The last block is the buttons when there are any: drop the one before it.
            blocks.remove(blocks.len() - 2);
        }
    }
    msg
}

fn header(text: &str) -> Value {
    json!({ "type": "header", "text": { "type": "plain_text", "text": plain(text, limits::HEADER), "emoji": true } })
}

/// Text is already escaped by the caller; `verbatim` stops Slack auto-linking bare URLs and names.
fn mrkdwn_obj(text: &str, max: usize) -> Value {
    json!({ "type": "mrkdwn", "text": clamp_escaped(text.to_string(), max), "verbatim": true })
}

fn section(text: &str) -> Value {
    json!({ "type": "section", "text": mrkdwn_obj(text, limits::SECTION_TEXT) })
}

fn context(lines: &[String]) -> Value {
    let elements: Vec<Value> = lines.iter().take(limits::CONTEXT_ELEMENTS).map(|l| mrkdwn_obj(l, limits::SECTION_TEXT)).collect();
    json!({ "type": "context", "elements": elements })
}

/// Checks a rendered message against every Block Kit limit this renderer relies on.
pub fn check_limits(msg: &Value) -> Result<(), String> {
    let text = msg["text"].as_str().ok_or("top-level `text` missing")?;
    if text.is_empty() || text.chars().count() > limits::FALLBACK_TEXT {
        return Err(format!("top-level text has {} chars", text.chars().count()));
    }
    let blocks = msg["blocks"].as_array().ok_or("`blocks` missing")?;
    if blocks.is_empty() || blocks.len() > limits::BLOCKS {
        return Err(format!("{} blocks", blocks.len()));
    }
    let len = |v: &Value| v.as_str().map(|s| s.chars().count()).unwrap_or(0);
    let mut total = 0;
    for (i, b) in blocks.iter().enumerate() {
        let fail = |what: String| Err(format!("block {i} ({}): {what}", b["type"]));
        match b["type"].as_str() {
            Some("header") => {
                let n = len(&b["text"]["text"]);
                if b["text"]["type"] != "plain_text" || n == 0 || n > limits::HEADER {
                    return fail(format!("header text {n} chars"));
                }
                total += n;
            }
            Some("section") => {
                if let Some(t) = b.get("text") {
                    let n = len(&t["text"]);
                    if n == 0 || n > limits::SECTION_TEXT {
                        return fail(format!("section text {n} chars"));
                    }
                    total += n;
                }
                if let Some(f) = b.get("fields").and_then(Value::as_array) {
                    if f.len() > limits::FIELDS {
                        return fail(format!("{} fields", f.len()));
                    }
                    for x in f {
                        let n = len(&x["text"]);
                        if n == 0 || n > limits::FIELD_TEXT {
                            return fail(format!("field {n} chars"));
                        }
                        total += n;
                    }
                }
            }
            Some("context") => {
                let e = b["elements"].as_array().map(Vec::len).unwrap_or(0);
                if e == 0 || e > limits::CONTEXT_ELEMENTS {
                    return fail(format!("{e} context elements"));
                }
                total += b["elements"].as_array().into_iter().flatten().map(|x| len(&x["text"])).sum::<usize>();
            }
            Some("actions") => {
                let els = b["elements"].as_array().ok_or("actions without elements")?;
                if els.is_empty() || els.len() > limits::ACTIONS_ELEMENTS {
                    return fail(format!("{} action elements", els.len()));
                }
                for x in els {
                    if len(&x["text"]["text"]) > limits::BUTTON_TEXT
                        || len(&x["url"]) > limits::BUTTON_URL
                        || len(&x["value"]) > limits::BUTTON_VALUE
                    {
                        return fail("button too long".into());
                    }
                }
            }
            other => return fail(format!("unexpected block type {other:?}")),
        }
    }
    if total > limits::TOTAL_TEXT {
        return Err(format!("{total} chars of block text"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_support::*;

    #[test]
    fn every_sample_event_renders_within_block_kit_limits() {
        for (name, r) in all_reports() {
            let msg = render(&r, &[]);
            check_limits(&msg).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn a_contributor_is_named_in_the_title_and_its_gpu_in_the_fields() {
        for name in ["sns-contributor-gpu-alarm.json", "eventbridge-contributor-gpu-alarm.json", "lambda-action-contributor-gpu-alarm.json"]
        {
            let msg = render(&reports_from_str(&fixture(name)).remove(0), &[]);
            assert_eq!(msg["blocks"][0]["text"]["text"], "🔴 ALARM: llm-prod-gpu-saturated — GPU 3 on i-0123456789abcdef0", "{name}");
            let text = msg["text"].as_str().unwrap();
            assert!(text.contains("GPUUtilizationNormalized (Maximum) ≥ 95%"), "{name}: {text}");
            assert!(text.ends_with("on endpoint llm-prod / instance i-0123456789abcdef0 / GPU 3"), "{name}: {text}");
            let fields = msg["blocks"][1]["text"]["text"].as_str().unwrap();
            assert!(fields.contains("*GPU* `3`") && fields.contains("*Endpoint* `llm-prod`"), "{fields}");
        }
        let level = render(&reports_from_str(&fixture("sns-multi-time-series-alarm-level.json")).remove(0), &[]);
        assert_eq!(level["blocks"][0]["text"]["text"], "🔴 ALARM: llm-prod-gpu-saturated — 3 of 48 time series in ALARM");
    }

    #[test]
    fn hostile_text_cannot_mention_link_or_break_markup() {
        let msg = render(&hostile_report(10_000), &[]);
        check_limits(&msg).unwrap();
        let mut texts = vec![msg["text"].as_str().unwrap().to_string()];
        for b in msg["blocks"].as_array().unwrap() {
            for t in [&b["text"]["text"], &b["text"]] {
                if let Some(s) = t.as_str() {
                    texts.push(s.to_string());
                }
            }
            for x in b["fields"].as_array().into_iter().flatten().chain(b["elements"].as_array().into_iter().flatten()) {
                if let Some(s) = x["text"].as_str() {
                    texts.push(s.to_string());
                }
            }
        }
        for t in &texts {
            for bad in ["<!channel>", "<!here>", "<@U024BE7LH>", "<https://evil"] {
                assert!(!t.contains(bad), "{bad} survived in {t:.200}");
            }
        }
        // The only control sequences left are the ones we write ourselves (dates, links in buttons).
        let joined = texts.join("\n");
        assert!(joined.matches('<').count() == joined.matches("<!date^").count(), "stray '<' in output");
        // Mrkdwn objects that carry untrusted text do not auto-link.
        for b in msg["blocks"].as_array().unwrap() {
            if b["type"] == "section" && b.get("text").is_some() {
                assert_eq!(b["text"]["verbatim"], true);
            }
        }
    }

    #[test]
    fn latency_reason_in_human_units_with_links_and_fallback() {
        let r = reports_from_str(&fixture("sns-first-chunk-latency-p99-alarm.json")).remove(0);
        let msg = render(&r, &[]);
        let s = msg.to_string();
        assert!(s.contains("7.41 s"), "{s}");
        assert!(!s.contains("7412093"), "raw microseconds leaked: {s}");
        assert!(s.contains("≥ 5 s"));
        assert!(s.contains("3 of 3 datapoints × 1 min"));
        let text = msg["text"].as_str().unwrap();
        assert!(
            text.starts_with("🔴 ALARM: deepgram-streaming-first-chunk-latency — FirstChunkLatency (p99) ≥ 5 s on endpoint deepgram-prod"),
            "{text}"
        );
        let buttons: Vec<&str> = msg["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| b["elements"].as_array().unwrap())
            .map(|e| e["text"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(buttons, vec!["Alarm", "Metric", "Endpoint", "Logs"]);
    }

    #[test]
    fn ok_state_and_plain_message() {
        let r = reports_from_str(&fixture("sns-high-concurrency-ok.json")).remove(0);
        assert!(render(&r, &[])["blocks"][0]["text"]["text"].as_str().unwrap().starts_with("✅ OK: deepgram-high-concurrency"));
        let p = reports_from_str(&fixture("sns-plain-text-message.json")).remove(0);
        let msg = render(&p, &[]);
        check_limits(&msg).unwrap();
        assert!(msg.to_string().contains("Not a CloudWatch alarm"));
    }

    /// Moved from `remediate::offers`: the buttons are rendered here.
    #[test]
    fn the_slack_message_carries_the_buttons_with_a_confirmation_within_limits() {
        use crate::remediate::offers::{offers, tests::report};
        use crate::remediate::Policy;
        let r = report("ALARM", Some("scale-out,enable-enhanced-metrics"));
        let offered = offers(&r, &["sre".into()], &Policy::default(), 10);
        let msg = render(&crate::report::Report::Alarm(Box::new(r)), &offered);
        check_limits(&msg).unwrap();
        let block = msg["blocks"].as_array().unwrap().iter().find(|b| b["block_id"] == "sagealarm-remediate").expect("the buttons");
        let b = &block["elements"][0];
        assert_eq!(
            (b["text"]["text"].as_str(), b["action_id"].as_str()),
            (Some("Scale out AllTraffic to 4"), Some("sagealarm-remediate-scale-out"))
        );
        assert_eq!(b["confirm"]["confirm"]["text"], "Do it");
    }

    #[test]
    fn a_serverless_diagnosis_takes_the_outliers_place_within_limits() {
        use crate::enrich::serverless::{analyse, tests as sv};
        let Report::Alarm(mut r) = reports_from_str(&fixture("sns-serverless-provisioned-concurrency-alarm.json")).remove(0) else {
            panic!("an alarm")
        };
        r.enrichment.serverless = Some(analyse(&sv::burst(), &sv::window(), sv::config(20, Some(4))));
        // Ranked again, as enrichment does once it has every finding.
        r.enrichment.explanation = crate::enrich::diagnosis::rank(&r.enrichment, None);
        let msg = render(&Report::Alarm(r.clone()), &[]);
        check_limits(&msg).unwrap();
        let headline = "Provisioned concurrency 4 is saturated: 40 invocations/min spilled to on-demand, cold starts ~8.2 s, overhead latency up to 2.9 s";
        assert!(msg["text"].as_str().unwrap().ends_with(headline), "{}", msg["text"]);
        // The headline leads the message as its diagnosis; the figures behind it follow in the
        // serverless section, without saying the headline twice.
        let texts: Vec<&str> = msg["blocks"].as_array().unwrap().iter().filter_map(|b| b["text"]["text"].as_str()).collect();
        let lead = texts.iter().position(|t| t.starts_with("⚡") && t.contains(headline)).expect("the diagnosis");
        assert_eq!(texts.iter().filter(|t| t.contains(headline)).count(), 1, "{texts:#?}");
        let at = texts.iter().position(|t| t.starts_with("_serverless variant")).expect("the serverless section");
        assert!(lead < at, "{texts:#?}");
        let section = texts[at];
        assert!(
            section.contains("Provisioned  4, 100% used at peak, 540 invocations served, 130 spilled to on-demand (peak 40/min)"),
            "{section}"
        );
        assert!(section.contains("Cold starts  6, ~8.2 s each (longest 8.4 s)"), "{section}");
    }
}
