//! The chart ([`crate::render::chart`]) into the alarm's thread, by Slack's external upload flow
//! (`files.upload` is retired): `files.getUploadURLExternal` (form-encoded: the file's name and
//! length) answers an upload URL and a file ID; the PNG's bytes go to that URL; then
//! `files.completeUploadExternal` shares the file into the channel, in the thread (`thread_ts`).
//! Needs the `files:write` scope. Slack shares the file a moment after completing (it is
//! asynchronous on Slack's side).
//!
//! A chart is extra: when it cannot be drawn nothing is said (the message says what enrichment
//! found); when it cannot be uploaded the delivery still succeeds and its note says why.

use super::SlackApp;
use crate::deliver::{Encoding, Failure, Outbox, Post};
use crate::model::AlarmState;
use crate::report::AlarmReport;
use serde_json::{json, Value};

/// The file's name in Slack.
const FILENAME: &str = "sagealarm-chart.png";

/// Draws and uploads `a`'s chart into the thread of `thread_ts` in `channel`: `None` when done or
/// when there was nothing to draw, the note to show when the upload failed. Only for ALARM: an OK
/// needs no picture of the problem.
pub(super) async fn chart(app: &SlackApp, out: Outbox<'_>, a: &AlarmReport, channel: &str, thread_ts: &str) -> Option<String> {
    if a.alarm.state != AlarmState::Alarm {
        return None;
    }
    let chart = match crate::render::chart::draw(a) {
        Ok(c) => c,
        Err(nothing) => {
            tracing::debug!(alarm = %a.alarm.name, why = %nothing, "no chart");
            return None;
        }
    };
    match upload(app, out, chart, channel, thread_ts).await {
        Ok(()) => None,
        Err(f) => {
            tracing::warn!(receiver = %app.name, error = %f.message, "chart not uploaded");
            Some(format!("chart not uploaded: {}", f.message))
        }
    }
}

async fn upload(
    app: &SlackApp,
    out: Outbox<'_>,
    chart: crate::render::chart::Chart,
    channel: &str,
    thread_ts: &str,
) -> Result<(), Failure> {
    let ask = json!({ "filename": FILENAME, "length": chart.png.len().to_string(), "alt_txt": chart.alt });
    let answer = out.post(app, &form(app.call("files.getUploadURLExternal", ask))).await?;
    let v: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
    let (Some(url), Some(file)) = (v["upload_url"].as_str(), v["file_id"].as_str()) else {
        return Err(Failure::permanent("Slack files.getUploadURLExternal answered ok without upload_url and file_id"));
    };
    // Slack's own upload host, signed: the bot token does not go there.
    let bytes = Post { url: url.to_string(), body: Value::Null, bearer: None, encoding: Encoding::Bytes(chart.png) };
    out.post(app, &bytes).await?;
    let files = json!([{ "id": file, "title": chart.title }]).to_string();
    let share = json!({ "files": files, "channel_id": channel, "thread_ts": thread_ts });
    out.post(app, &form(app.call("files.completeUploadExternal", share))).await?;
    Ok(())
}

fn form(post: Post) -> Post {
    Post { encoding: Encoding::Form, ..post }
}
