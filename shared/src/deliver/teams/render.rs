//! The Adaptive Card (1.5) a Workflows webhook posts into a Teams channel: the same content as the
//! Slack message — state and subject, the reason in human units, the diagnosis, the LLM and
//! per-instance tables, the log lines, the links (`Action.OpenUrl`) — under Teams' 28 KB limit
//! whatever the input.
//!
//! Untrusted text (alarm names, descriptions, tags, log lines) goes only into `TextRun`s of
//! `RichTextBlock`s, which Teams does not parse as markdown, so it cannot become a link, a mention
//! or formatting; `{{…}}` (Adaptive Cards' date functions) is broken up. Only sagealarm's own
//! labels are `TextBlock`s.

use crate::enrich::Enrichment;
use crate::model::text::{one_line, truncate};
use crate::model::{AlarmKind, AlarmState};
use crate::remediate::follow_up::FollowUp;
use crate::render::enrichment as enr;
use crate::render::state_badge;
use crate::report::{subject_line, AlarmReport, Report};
use serde_json::{json, Value};

/// Teams refuses a message over 28 KB; kept below with room for the envelope.
pub const MAX_BYTES: usize = 27_000;
/// Teams shows at most six actions on a card.
pub const MAX_ACTIONS: usize = 6;
pub const VERSION: &str = "1.5";

/// The Workflows webhook's message: one Adaptive Card attachment.
pub fn message(card: Value) -> Value {
    json!({
        "type": "message",
        "attachments": [{ "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card }]
    })
}

/// The card for a report; `note` (state unavailable) right under the title.
pub fn render(report: &Report, note: Option<String>) -> Value {
    match report {
        Report::Alarm(a) => alarm(a, note),
        Report::Plain(p) => {
            let title = format!("✉️ {}", p.subject.as_deref().unwrap_or("SNS notification"));
            card(
                vec![
                    run_block(&title, Style::Title),
                    mono(&truncate(&p.body, 20_000)),
                    label("Not a CloudWatch alarm; delivered as received."),
                ],
                vec![],
            )
        }
    }
}

/// A remediation decision: a new card (a Workflows webhook cannot update the alarm's).
pub fn follow_up(f: &FollowUp) -> Value {
    card(
        vec![
            run_block(&format!("{} {}", f.emoji(), f.headline), Style::Title),
            run_block(&f.reason, Style::Plain),
            run_block(&format!("Requested by {} · alarm {}", f.requested_by, f.alarm_name), Style::Subtle),
        ],
        vec![],
    )
}

#[derive(Clone, Copy)]
enum Style {
    Title,
    Bold,
    Plain,
    Subtle,
}

/// Untrusted text made inert and bounded: no control characters but newlines, no `{{`.
fn inert(s: &str, max: usize) -> String {
    let clean: String = truncate(s, max).chars().map(|c| if c.is_control() && c != '\n' { ' ' } else { c }).collect();
    clean.replace("{{", "{\u{200B}{").replace("}}", "}\u{200B}}")
}

fn run(text: &str, style: Style) -> Value {
    let mut r = json!({ "type": "TextRun", "text": inert(text, 4000) });
    match style {
        Style::Title => {
            r["weight"] = "Bolder".into();
            r["size"] = "Large".into();
        }
        Style::Bold => r["weight"] = "Bolder".into(),
        Style::Subtle => r["isSubtle"] = true.into(),
        Style::Plain => {}
    }
    r
}

/// A block of one run of (untrusted) text.
fn run_block(text: &str, style: Style) -> Value {
    json!({ "type": "RichTextBlock", "inlines": [run(text, style)] })
}

/// A label of sagealarm's own words and untrusted text after it: `Endpoint: ` + value.
fn labelled(label: &str, value: &str) -> Value {
    json!({ "type": "RichTextBlock", "inlines": [run(&format!("{label}: "), Style::Bold), run(value, Style::Plain)] })
}

/// sagealarm's own words (never untrusted text).
fn label(text: &str) -> Value {
    json!({ "type": "TextBlock", "text": text, "wrap": true, "isSubtle": true, "size": "Small" })
}

/// A heading of sagealarm's own words.
fn heading(text: &str) -> Value {
    json!({ "type": "TextBlock", "text": text, "wrap": true, "weight": "Bolder", "spacing": "Medium" })
}

/// Fixed-width text (tables, log lines, queries).
fn mono(text: &str) -> Value {
    json!({ "type": "RichTextBlock", "inlines": [{ "type": "TextRun", "text": inert(text, 6000), "fontType": "Monospace", "size": "Small" }] })
}

fn card(body: Vec<Value>, actions: Vec<Value>) -> Value {
    let mut c = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": VERSION,
        "msteams": { "width": "Full" },
        "body": body,
    });
    if !actions.is_empty() {
        c["actions"] = Value::Array(actions);
    }
    c
}

fn size(v: &Value) -> usize {
    serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX)
}

fn alarm(r: &AlarmReport, note: Option<String>) -> Value {
    let a = &r.alarm;
    let badge = state_badge(Some(a.state));
    let title = match r.contributor.as_ref().or(r.series.as_ref()) {
        Some(c) => format!("{badge}: {} — {c}", a.name),
        None => format!("{badge}: {}", a.name),
    };
    let mut head = vec![run_block(&title, Style::Title)];
    if let Some(n) = note {
        head.push(label(&one_line(&n)));
    }
    if a.state == AlarmState::Ok {
        // A Workflows webhook cannot edit the ALARM's card: this one says which it resolves.
        let since = a.state_change_time.map(|t| format!(" (OK since {})", t.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default();
        head.push(run_block(&format!("Resolves the earlier ALARM of {}{since}", a.name), Style::Bold));
    }
    if let Some(m) = &a.mute {
        let rule = m.rule_name().map(|n| format!(" by {n}")).unwrap_or_default();
        let until = m.end.map(|t| format!(" until {}", t.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default();
        head.push(run_block(&format!("🔕 Muted{rule}{until}: nobody was paged"), Style::Subtle));
    }
    if let Some(s) = subject_line(&r.target) {
        head.push(run_block(&s, Style::Subtle));
    }
    let mut what = r.metric_label.clone();
    if let Some(t) = &r.threshold {
        what.push_str(&format!(" {t}"));
    }
    head.push(run_block(&what, Style::Bold));
    if !r.reason.is_empty() {
        head.push(run_block(&r.reason, Style::Plain));
    }
    if let Some(q) = &r.query {
        head.push(heading("Query"));
        head.push(mono(q));
    }
    let mut facts = vec![];
    if let Some(w) = &r.window {
        facts.push(labelled("Window", w));
    }
    if let Some(t) = a.state_change_time {
        facts.push(labelled("Since", &t.format("%Y-%m-%d %H:%M:%S UTC").to_string()));
    }
    if let Some(p) = a.previous_state {
        facts.push(labelled("Previous state", p.as_str()));
    }
    if let Some(o) = r.tag("owner") {
        facts.push(labelled("Owner", o));
    }
    let place = [a.account.as_deref(), a.region.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" / ");
    if !place.is_empty() {
        facts.push(labelled("Account / region", &place));
    }
    head.extend(facts);
    if let Some(d) = &a.description {
        head.push(labelled("Description", d));
    }
    if let AlarmKind::Composite { triggering_children, .. } = &a.kind {
        let lines: Vec<String> =
            triggering_children.iter().take(10).map(|c| format!("• {} {}", c.name, c.state.map(|s| s.as_str()).unwrap_or(""))).collect();
        if !lines.is_empty() {
            head.push(heading("Triggering children"));
            head.push(run_block(&lines.join("\n"), Style::Plain));
        }
    }
    let actions: Vec<Value> = r
        .links
        .iter()
        .filter(|l| l.url.len() <= 2000)
        .take(MAX_ACTIONS)
        .map(|l| json!({ "type": "Action.OpenUrl", "title": truncate(&l.text, 40), "url": l.url }))
        .collect();

    // Enrichment in by priority while the card stays under Teams' limit.
    let mut extra = enrichment(&r.enrichment, r);
    extra.sort_by_key(|(p, _)| *p);
    let mut body = head;
    let footer = label(&format!("sagealarm · {} alarm", a.kind.shape_name()));
    for (_, block) in extra {
        let mut candidate = body.clone();
        candidate.extend(block.clone());
        candidate.push(footer.clone());
        if size(&message(card(candidate, actions.clone()))) <= MAX_BYTES {
            body.extend(block);
        }
    }
    body.push(footer);
    let mut c = card(body, actions);
    // Whatever the input, under the limit: the longest texts are cut until it fits.
    while size(&message(c.clone())) > MAX_BYTES {
        if !shorten_longest(&mut c) {
            break;
        }
    }
    c
}

/// Halves the longest `TextRun`; false when nothing is left to cut.
fn shorten_longest(card: &mut Value) -> bool {
    /// The JSON pointer and length of the longest run under `v`.
    fn longest(v: &Value, at: &str, best: &mut Option<(usize, String)>) {
        match v {
            Value::Object(m) if m.get("type").and_then(Value::as_str) == Some("TextRun") => {
                let n = m.get("text").and_then(Value::as_str).map(|t| t.chars().count()).unwrap_or(0);
                if best.as_ref().is_none_or(|(b, _)| n > *b) {
                    *best = Some((n, format!("{at}/text")));
                }
            }
            Value::Object(m) => m.iter().for_each(|(k, x)| longest(x, &format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), best)),
            Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| longest(x, &format!("{at}/{i}"), best)),
            _ => {}
        }
    }
    let mut best = None;
    longest(card, "", &mut best);
    let Some((n, at)) = best.filter(|(n, _)| *n >= 40) else { return false };
    match card.pointer_mut(&at) {
        Some(text) => {
            *text = truncate(text.as_str().unwrap_or(""), n / 2).into();
            true
        }
        None => false,
    }
}

/// The enrichment's sections with a priority each (0 first), like the Slack message's.
fn enrichment(e: &Enrichment, r: &AlarmReport) -> Vec<(u8, Vec<Value>)> {
    let mut out: Vec<(u8, Vec<Value>)> = vec![];
    if let Some(lead) = &e.explanation.lead {
        let mut block = vec![];
        if let Some(s) = enr::cause_sentence(&lead.cause, e) {
            block.push(run_block(&format!("{} {s}", enr::cause_icon(&lead.cause)), Style::Bold));
        }
        for s in &e.explanation.supporting {
            if let Some(t) = enr::cause_sentence(&s.cause, e) {
                block.push(run_block(&format!("{} {t}", enr::cause_icon(&s.cause)), Style::Plain));
            }
        }
        out.push((0, block));
    }
    if let Some(l) = &e.llm {
        let mut block = vec![heading("LLM engine"), label(&enr::llm_caption(l))];
        if !l.rows.is_empty() {
            block.push(mono(&enr::llm_table(l, 8)));
        }
        if let Some(p) = &l.placement {
            let lines = enr::placement_lines(p);
            if !lines.is_empty() {
                block.push(run_block(&lines.join("\n"), Style::Plain));
            }
        }
        out.push((0, block));
    }
    if let Some(q) = &e.own_query {
        out.push((0, vec![heading("The alarm's query over the window"), run_block(&enr::own_query_lines(q).join("\n"), Style::Plain)]));
    }
    if let Some(f) = &e.fleet {
        let mut block = vec![heading("Fleet")];
        if f.outlier.is_none() && e.explanation.lead.is_none() {
            if let Some(h) = enr::headline(f) {
                block.push(run_block(&h, Style::Bold));
            }
        }
        block.push(label(&format!("{} · values over the alarm window", enr::reporting(f))));
        block.push(mono(&enr::fleet_table(f, 12)));
        out.push((0, block));
    }
    if let Some(d) = &e.serverless {
        let mut block = vec![heading("Serverless"), run_block(&enr::serverless_headline(d), Style::Bold)];
        let table = enr::serverless_table(d);
        if !table.is_empty() {
            block.push(mono(&table));
        }
        out.push((0, block));
    }
    if let Some(info) = &e.endpoint {
        out.push((
            1,
            vec![heading("Endpoint"), run_block(&format!("{}\n{}", info.name, enr::endpoint_lines(info).join("\n")), Style::Plain)],
        ));
    }
    if let Some(c) = &e.capacity {
        let anchor = e.window.as_ref().map(|w| w.anchor).unwrap_or_else(|| r.alarm.anchor_time());
        let mut lines = enr::capacity_lines(c, anchor);
        if let Some(l) = enr::changes_line(&e.changes, true) {
            lines.push(l);
        }
        out.push((1, vec![heading("Capacity"), run_block(&lines.join("\n"), Style::Plain)]));
    }
    if !e.advice.is_empty() {
        let items: Vec<String> = e.advice.iter().take(5).map(|a| format!("• {a}")).collect();
        out.push((1, vec![heading("What to check"), run_block(&items.join("\n"), Style::Plain)]));
    }
    if let Some(l) = &e.logs {
        let outlier = e.fleet.as_ref().and_then(|f| f.outlier.as_ref()).and_then(|o| o.member.instance.as_deref());
        let mut block = vec![heading("Logs"), label(&format!("{} · {} matching line(s) of {} read", l.group, l.matched, l.scanned))];
        for st in l.streams.iter().take(3) {
            block.push(run_block(&enr::stream_title(st, outlier), Style::Bold));
            block.push(mono(&st.lines.iter().map(|x| enr::log_line(x, 240)).collect::<Vec<_>>().join("\n")));
        }
        out.push((2, block));
    }
    let mut notes: Vec<String> = e.notes.iter().take(8).map(|n| format!("⚠️ {}: {}", n.source, n.message)).collect();
    if let Some(why) = &e.skipped {
        notes.insert(0, format!("Enrichment: {why}"));
    }
    if !notes.is_empty() {
        out.push((0, vec![run_block(&notes.join("\n"), Style::Subtle)]));
    }
    out
}

/// The card with a route's links as more actions (within Teams' six).
pub fn with_links(mut card: Value, links: &[crate::report::links::Link]) -> Value {
    let more: Vec<Value> = links
        .iter()
        .filter(|l| l.url.len() <= 2000)
        .map(|l| json!({ "type": "Action.OpenUrl", "title": truncate(&l.text, 40), "url": l.url }))
        .collect();
    if more.is_empty() {
        return card;
    }
    let actions = card["actions"].as_array().cloned().unwrap_or_default();
    // The route's links are the team's own (runbook, dashboard): they go first.
    let all: Vec<Value> = more.into_iter().chain(actions).take(MAX_ACTIONS).collect();
    card["actions"] = Value::Array(all);
    card
}

/// A control, said on a card of its own (a Workflows webhook cannot update the alarm's).
pub fn control(c: &crate::deliver::Control) -> Value {
    let what = match c.action {
        crate::deliver::ControlAction::Acknowledge => "acknowledged",
        crate::deliver::ControlAction::Snooze => "snoozed",
        crate::deliver::ControlAction::Unsnooze => "unsnoozed",
    };
    card(vec![run_block(&format!("{}: {what}", c.target.name), Style::Bold)], vec![])
}

/// Checks a message against what this renderer promises: one Adaptive Card of version 1.5, at most
/// six actions, every action a URL, under [`MAX_BYTES`].
pub fn check(msg: &Value) -> Result<(), String> {
    let n = size(msg);
    if n > MAX_BYTES {
        return Err(format!("message is {n} bytes, over {MAX_BYTES}"));
    }
    let att = msg["attachments"].as_array().filter(|a| a.len() == 1).ok_or("not one attachment")?;
    if att[0]["contentType"] != "application/vnd.microsoft.card.adaptive" {
        return Err("the attachment is not an Adaptive Card".into());
    }
    let c = &att[0]["content"];
    if c["type"] != "AdaptiveCard" || c["version"] != VERSION {
        return Err(format!("card type {} version {}", c["type"], c["version"]));
    }
    let body = c["body"].as_array().filter(|b| !b.is_empty()).ok_or("empty body")?;
    for b in body {
        match b["type"].as_str() {
            Some("TextBlock") => {
                if b["text"].as_str().is_none_or(str::is_empty) {
                    return Err("an empty TextBlock".into());
                }
            }
            Some("RichTextBlock") => {
                for r in b["inlines"].as_array().into_iter().flatten() {
                    let t = r["text"].as_str().unwrap_or("");
                    if r["type"] != "TextRun" || t.contains("{{") {
                        return Err(format!("an inline that is not an inert TextRun: {r}"));
                    }
                }
            }
            other => return Err(format!("unexpected element {other:?}")),
        }
    }
    let actions = c["actions"].as_array().map(Vec::len).unwrap_or(0);
    if actions > MAX_ACTIONS {
        return Err(format!("{actions} actions"));
    }
    for a in c["actions"].as_array().into_iter().flatten() {
        if a["type"] != "Action.OpenUrl" || !a["url"].as_str().is_some_and(|u| u.starts_with("https://") || u.starts_with("http://")) {
            return Err(format!("action {a}"));
        }
    }
    Ok(())
}
