//! An Amazon Q Developer custom notification (`version` "1.0", `source` "custom") for an alarm:
//! the title and description as the Slack message says them (diagnosis, tables, log lines, links),
//! `nextSteps` from the diagnosis's advice, `keywords`, and `metadata` — a `threadId` stable per
//! alarm (and contributor), the endpoint and alarm ARNs as `relatedResources` — within the schema's
//! limits. Untrusted text is in code spans and blocks, or has markdown's control characters
//! replaced by look-alikes, so it cannot become a link, a mention or formatting.

use crate::model::text::{one_line, truncate};
use crate::model::{AlarmState, Severity};
use crate::remediate::follow_up::FollowUp;
use crate::render::enrichment as enr;
use crate::render::state_badge;
use crate::report::{subject_line, AlarmReport, Report};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The schema's limits, kept with a margin.
pub mod limits {
    pub const TITLE: usize = 250;
    pub const DESCRIPTION: usize = 7_000;
    pub const NEXT_STEPS: usize = 5;
    pub const NEXT_STEP: usize = 300;
    pub const KEYWORDS: usize = 5;
    pub const KEYWORD: usize = 50;
    pub const SUMMARY: usize = 250;
    pub const RELATED: usize = 5;
    pub const RESOURCE: usize = 2048;
    pub const CONTEXT_ENTRIES: usize = 10;
    pub const CONTEXT_VALUE: usize = 500;
    /// SNS takes messages up to 256 KB.
    pub const MESSAGE_BYTES: usize = 250_000;
}

/// Look-alikes for markdown's control characters in untrusted free text.
fn plain(s: &str, max: usize) -> String {
    truncate(s, max)
        .chars()
        .map(|c| match c {
            '<' => '‹',
            '>' => '›',
            '`' => 'ˋ',
            '*' => '∗',
            '~' => '∼',
            '[' => '⁅',
            ']' => '⁆',
            '|' => '¦',
            '@' => '＠',
            c if c.is_control() && c != '\n' => ' ',
            c => c,
        })
        .collect()
}

/// An identifier in a code span.
fn code(s: &str) -> String {
    format!("`{}`", one_line(s).replace('`', "ˋ"))
}

/// Lines in a code block.
fn block(s: &str) -> String {
    format!("```\n{}\n```", s.replace("```", "ˋˋˋ"))
}

/// The thread of an alarm (and contributor): every notification of it shares this.
pub fn thread_id(identity: &str) -> String {
    let digest = Sha256::digest(identity.as_bytes());
    format!("sagealarm-{}", hex::encode(&digest[..12]))
}

pub fn render(report: &Report, severity: Severity, note: Option<String>) -> Value {
    match report {
        Report::Alarm(a) => alarm(a, severity, note),
        Report::Plain(p) => {
            let title = plain(&format!("✉️ {}", p.subject.as_deref().unwrap_or("SNS notification")), limits::TITLE);
            notification(
                &title,
                &block(&truncate(&p.body, limits::DESCRIPTION - 100)),
                &[],
                &["sns".into()],
                meta(None, &title, "notification", vec![], Map::new()),
            )
        }
    }
}

pub fn follow_up(f: &FollowUp) -> Value {
    let title = plain(&format!("{} {}", f.emoji(), f.headline), limits::TITLE);
    let description = format!("{}\n\nRequested by {} · alarm {}", plain(&f.reason, 2000), plain(&f.requested_by, 300), code(&f.alarm_name));
    notification(
        &title,
        &description,
        &[],
        &["remediation".into()],
        meta(Some(&f.alarm_identity), &title, "remediation", vec![], Map::new()),
    )
}

fn meta(identity: Option<&str>, summary: &str, event_type: &str, related: Vec<String>, context: Map<String, Value>) -> Value {
    let mut m = json!({
        "summary": truncate(summary, limits::SUMMARY),
        "eventType": event_type,
        // An ARN is at most 2,048 characters; anything longer is not one (and the schema refuses it).
        "relatedResources": related.into_iter().filter(|r| !r.is_empty() && r.chars().count() <= limits::RESOURCE).take(limits::RELATED).collect::<Vec<_>>(),
        "additionalContext": context,
    });
    if let Some(id) = identity {
        m["threadId"] = thread_id(id).into();
    }
    m
}

fn notification(title: &str, description: &str, next_steps: &[String], keywords: &[String], metadata: Value) -> Value {
    json!({
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": truncate(title, limits::TITLE),
            "description": truncate(description, limits::DESCRIPTION),
            "nextSteps": next_steps.iter().take(limits::NEXT_STEPS).map(|s| truncate(s, limits::NEXT_STEP)).collect::<Vec<_>>(),
            "keywords": keywords.iter().take(limits::KEYWORDS).map(|k| truncate(k, limits::KEYWORD)).collect::<Vec<_>>(),
        },
        "metadata": metadata,
    })
}

fn alarm(r: &AlarmReport, severity: Severity, note: Option<String>) -> Value {
    let a = &r.alarm;
    let badge = state_badge(Some(a.state));
    let title = match r.contributor.as_ref().or(r.series.as_ref()) {
        Some(c) => format!("{badge}: {} — {c}", a.name),
        None => format!("{badge}: {}", a.name),
    };
    let title = plain(&title, limits::TITLE);
    let e = &r.enrichment;
    // Sections in priority order; each goes in while the description has room.
    let mut sections: Vec<String> = vec![];
    if let Some(n) = note {
        sections.push(plain(&n, 500));
    }
    if a.state == AlarmState::Ok {
        sections.push("Resolves the earlier ALARM in this thread.".into());
    }
    if let Some(m) = &a.mute {
        let rule = m.rule_name().map(|n| format!(" by {}", code(n))).unwrap_or_default();
        let until = m.end.map(|t| format!(" until {}", t.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default();
        sections.push(format!("🔕 Muted{rule}{until}: nobody was paged"));
    }
    if let Some(lead) = enr::lead_sentence(e) {
        let icon = e.explanation.lead.as_ref().map(|l| enr::cause_icon(&l.cause)).unwrap_or("");
        sections.push(format!("{icon} *{}*", plain(&lead, 600)));
    }
    let mut what = code(&r.metric_label);
    if let Some(t) = &r.threshold {
        what.push_str(&format!(" {}", plain(t, 200)));
    }
    if let Some(s) = subject_line(&r.target) {
        what.push_str(&format!(" on {}", code(&s)));
    }
    sections.push(what);
    if !r.reason.is_empty() {
        sections.push(plain(&r.reason, 1000));
    }
    if let Some(q) = &r.query {
        sections.push(block(&truncate(q, 1500)));
    }
    let supporting: Vec<String> = e
        .explanation
        .supporting
        .iter()
        .filter_map(|s| enr::cause_sentence(&s.cause, e).map(|t| format!("• {} {}", enr::cause_icon(&s.cause), plain(&t, 400))))
        .collect();
    if !supporting.is_empty() {
        sections.push(supporting.join("\n"));
    }
    if let Some(l) = &e.llm {
        if !l.rows.is_empty() {
            sections.push(format!("*LLM engine* ({})\n{}", plain(&enr::llm_caption(l), 300), block(&enr::llm_table(l, 6))));
        }
    }
    if let Some(f) = &e.fleet {
        sections.push(block(&enr::fleet_table(f, 8)));
    }
    if let Some(l) = &e.logs {
        let lines: Vec<String> = l.streams.iter().take(2).flat_map(|s| s.lines.iter().take(4).map(|x| enr::log_line(x, 200))).collect();
        if !lines.is_empty() {
            sections.push(format!("*Logs* {}\n{}", code(&l.group), block(&lines.join("\n"))));
        }
    }
    if !e.notes.is_empty() {
        sections.push(
            e.notes
                .iter()
                .take(5)
                .map(|n| format!("⚠️ {}: {}", plain(&n.source, 60), plain(&n.message, 300)))
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
    let links: Vec<String> = r.links.iter().take(5).map(|l| format!("[{}]({})", plain(&l.text, 60), l.url)).collect();
    let links = links.join(" · ");
    // The links get a third of the room at most: hostile or endless URLs must not crowd out what
    // happened.
    let links = if links.chars().count() > limits::DESCRIPTION / 3 { String::new() } else { links };
    let first = sections.first().cloned().unwrap_or_default();
    let mut description = String::new();
    for s in sections {
        if description.chars().count() + s.chars().count() + links.chars().count() + 4 <= limits::DESCRIPTION {
            if !description.is_empty() {
                description.push_str("\n\n");
            }
            description.push_str(&s);
        }
    }
    if description.is_empty() {
        // Even the first section is too long: it goes in, shortened.
        description = truncate(&first, limits::DESCRIPTION - links.chars().count() - 4);
    }
    if !links.is_empty() && description.chars().count() + links.chars().count() + 2 <= limits::DESCRIPTION {
        description.push_str(&format!("\n\n{links}"));
    }

    let next_steps: Vec<String> = e.advice.iter().map(|a| plain(a, limits::NEXT_STEP)).collect();
    let mut keywords = vec![a.state.to_string(), severity.as_str().to_string()];
    if let Some(ep) = r.target.endpoint() {
        keywords.push(plain(ep, limits::KEYWORD));
    }
    keywords.push(a.kind.shape_name().to_string());
    let mut related = vec![];
    if let (Some(ep), Some(region), Some(account)) = (r.target.endpoint(), a.region.as_deref(), a.account.as_deref()) {
        // SageMaker endpoint ARNs are lower case.
        related.push(format!("arn:{}:sagemaker:{region}:{account}:endpoint/{}", a.partition, ep.to_ascii_lowercase()));
    }
    related.extend(a.arn.clone());
    let mut context = Map::new();
    for (k, v) in [
        ("state", Some(a.state.to_string())),
        ("alarm", Some(a.name.clone())),
        ("endpoint", r.target.endpoint().map(str::to_string)),
        ("severity", Some(severity.as_str().to_string())),
        ("contributor", r.contributor.clone()),
        ("owner", r.tag("owner").map(str::to_string)),
    ] {
        if let Some(v) = v {
            if context.len() < limits::CONTEXT_ENTRIES {
                context.insert(k.into(), truncate(&one_line(&v), limits::CONTEXT_VALUE).into());
            }
        }
    }
    let summary = match enr::lead_sentence(e) {
        Some(lead) => format!("{title} — {}", plain(&lead, 200)),
        None => title.clone(),
    };
    let event_type = format!("sagealarm.{}", a.state.as_str().to_ascii_lowercase());
    notification(&title, &description, &next_steps, &keywords, meta(Some(&a.identity()), &summary, &event_type, related, context))
}

/// The notification with a route's links appended to its description, as far as it has room.
pub fn with_links(mut n: Value, links: &[crate::report::links::Link]) -> Value {
    let line: Vec<String> = links.iter().take(5).map(|l| format!("[{}]({})", plain(&l.text, 60), l.url)).collect();
    if line.is_empty() {
        return n;
    }
    let line = line.join(" · ");
    if let Some(d) = n["content"]["description"].as_str() {
        if d.chars().count() + line.chars().count() + 2 <= limits::DESCRIPTION {
            n["content"]["description"] = format!("{d}\n\n{line}").into();
        }
    }
    n
}

/// A control, as a notification in the alarm's thread.
pub fn control(c: &crate::deliver::Control) -> Value {
    let what = match c.action {
        crate::deliver::ControlAction::Acknowledge => "acknowledged",
        crate::deliver::ControlAction::Snooze => "snoozed",
        crate::deliver::ControlAction::Unsnooze => "unsnoozed",
    };
    let title = plain(&format!("{}: {what}", c.target.name), limits::TITLE);
    notification(&title, &title, &[], &["control".into()], meta(Some(&c.target.alarm), &title, "control", vec![], Map::new()))
}

/// Checks a notification against the schema and its limits.
pub fn check(n: &Value) -> Result<(), String> {
    if n["version"] != "1.0" || n["source"] != "custom" {
        return Err("version / source".into());
    }
    let c = &n["content"];
    let len = |v: &Value| v.as_str().map(|s| s.chars().count()).unwrap_or(0);
    if c["textType"] != "client-markdown" {
        return Err("textType".into());
    }
    if len(&c["title"]) == 0 || len(&c["title"]) > limits::TITLE {
        return Err(format!("title {} chars", len(&c["title"])));
    }
    if len(&c["description"]) == 0 || len(&c["description"]) > limits::DESCRIPTION {
        return Err(format!("description {} chars", len(&c["description"])));
    }
    let list = |v: &Value, n: usize, each: usize, what: &str| -> Result<(), String> {
        let a = v.as_array().ok_or(format!("{what} is not a list"))?;
        if a.len() > n || a.iter().any(|x| len(x) == 0 || len(x) > each) {
            return Err(format!("{what}: {} items, or one empty or longer than {each} characters", a.len()));
        }
        Ok(())
    };
    list(&c["nextSteps"], limits::NEXT_STEPS, limits::NEXT_STEP, "nextSteps")?;
    list(&c["keywords"], limits::KEYWORDS, limits::KEYWORD, "keywords")?;
    let m = &n["metadata"];
    if len(&m["summary"]) > limits::SUMMARY {
        return Err("summary".into());
    }
    list(&m["relatedResources"], limits::RELATED, limits::RESOURCE, "relatedResources")?;
    let bytes = serde_json::to_vec(n).map(|b| b.len()).unwrap_or(usize::MAX);
    if bytes > limits::MESSAGE_BYTES {
        return Err(format!("{bytes} bytes"));
    }
    Ok(())
}
