//! Container log excerpts: FilterLogEvents on `/aws/sagemaker/Endpoints/<endpoint>` over the
//! alarm window, lines matching failure signatures, repeats collapsed, secrets redacted.
//!
//! One search over the variant's streams instead of one per instance: FilterLogEvents allows 5
//! requests per second per account and Region, shared by every concurrent alarm. The outlier's
//! stream is put first afterwards ([`LogReport::put_first`]). Lines are matched here too, so the
//! result is right whether or not the server applied the filter pattern.
//!
//! Nearest first: FilterLogEvents only pages forward in time, so a container that logs a benign
//! ERROR many times a second would spend the page and event caps long before the OOM that caused
//! the alarm. The window is read in [`slices`], the minutes at the state change first, then the
//! rest of the alarm's evaluation window, then the context before it, each while budget is left.

use super::redact::redact;
use super::{Chain, Ctx, Window};
use crate::subject::SageMakerTarget;
use aws_sdk_cloudwatchlogs::Client;
use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// Server-side pre-filter (CloudWatch OR syntax): terms that every default signature contains.
pub const DEFAULT_FILTER_PATTERN: &str = r#"?ERROR ?Error ?error ?FATAL ?CRITICAL ?panicked ?"out of memory" ?OutOfMemoryError ?OOM ?CUDA ?NCCL ?Traceback ?skipped ?Skipping ?skipping"#;

/// Label and pattern, most specific first: a line takes the first label that matches.
const DEFAULT_SIGNATURES: [(&str, &str); 6] = [
    ("panic", r"thread '[^']*' panicked at"),
    ("oom", r"(?i)out of memory|OutOfMemoryError|\bOOM\b"),
    ("cuda", r"CUDA error|cudaError|NCCL error|CUBLAS_STATUS|CUDNN_STATUS"),
    ("traceback", r"Traceback \(most recent call last\)"),
    ("skipped", r"(?i)\bwarn(?:ing)?\b.*\bskip(?:ped|ping)?\b"),
    ("error", r#"\bERROR\b|\bFATAL\b|\bCRITICAL\b|(?i)"level"\s*:\s*"(?:error|fatal)""#),
];

/// The label of the lines a log alarm's own query matches.
pub const ALARM_QUERY: &str = "alarm query";

/// The pattern a Logs Insights query filters on: `like /regex/`, `=~ /regex/`, or `like "text"`
/// (taken literally).
pub fn query_pattern(query: &str) -> Option<String> {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?:like|=~)\s*(?:/((?:[^/\\]|\\.)+)/(i)?|"((?:[^"\\]|\\.)+)"|'((?:[^'\\]|\\.)+)')"#).expect("static regex")
    });
    let c = RE.captures(query)?;
    if let Some(re) = c.get(1) {
        let flags = if c.get(2).is_some() { "(?i)" } else { "" };
        return Some(format!("{flags}{}", re.as_str().replace("\\/", "/")));
    }
    c.get(3).or(c.get(4)).map(|lit| regex::escape(lit.as_str()))
}

#[derive(Debug, Clone)]
pub struct Signature {
    pub label: String,
    pub regex: Regex,
}

/// The defaults, compiled at the first line there is to match: their six regexes (Unicode word
/// boundaries, case-insensitive) took 1.4–1.9 ms to build, most of what was left of the cold
/// start after the clients became lazy.
static DEFAULTS: LazyLock<Vec<Signature>> = LazyLock::new(|| {
    DEFAULT_SIGNATURES.iter().filter_map(|(l, p)| Some(Signature { label: l.to_string(), regex: Regex::new(p).ok()? })).collect()
});

/// The failure signatures a line is matched against.
#[derive(Debug, Clone)]
pub enum Signatures {
    /// [`DEFAULT_SIGNATURES`].
    Default,
    /// The operator's (`SAGEALARM_LOG_SIGNATURES`), compiled at the cold start: a bad one fails it.
    Custom(Vec<Signature>),
}

impl Signatures {
    fn list(&self) -> &[Signature] {
        match self {
            Signatures::Default => &DEFAULTS,
            Signatures::Custom(v) => v,
        }
    }
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub signatures: Signatures,
    /// `None`: every event in the window is fetched and matched here.
    pub filter_pattern: Option<String>,
    pub max_pages: usize,
    pub max_events: usize,
    pub max_streams: usize,
    pub max_lines_per_stream: usize,
    pub max_line_chars: usize,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            signatures: Signatures::Default,
            filter_pattern: Some(DEFAULT_FILTER_PATTERN.to_string()),
            max_pages: 10,
            max_events: 10_000,
            max_streams: 5,
            max_lines_per_stream: 6,
            max_line_chars: 300,
        }
    }
}

impl LogSettings {
    /// Replaces the signatures with a JSON object of `label: regex` (order kept). Custom
    /// signatures drop the default server-side pattern unless one is given too.
    pub fn with_signatures_json(mut self, json: &str) -> Result<Self, String> {
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).map_err(|e| format!("log signatures must be a JSON object of label → regex: {e}"))?;
        let mut sigs = vec![];
        for (label, v) in map {
            let pat = v.as_str().ok_or_else(|| format!("log signature {label:?}: the regex must be a string"))?;
            let regex =
                Regex::new(pat).map_err(|e| format!("log signature {label:?}: {}", crate::model::text::one_line(&e.to_string())))?;
            sigs.push(Signature { label, regex });
        }
        if sigs.is_empty() {
            return Err("log signatures: at least one is needed".into());
        }
        self.signatures = Signatures::Custom(sigs);
        self.filter_pattern = None;
        Ok(self)
    }

    /// For a log alarm: its query's own pattern (`filter @message like /CUDA out of memory/`) as
    /// the first signature, labelled `alarm query`, and every event of the window read (the
    /// server-side pattern might not contain it). `None` when the query has no pattern to take.
    pub fn with_alarm_query(&self, query: &str) -> Option<Self> {
        let pattern = query_pattern(query)?;
        let regex = Regex::new(&pattern).ok()?;
        let mut sigs = vec![Signature { label: ALARM_QUERY.into(), regex }];
        sigs.extend(self.signatures.list().iter().cloned());
        Some(Self { signatures: Signatures::Custom(sigs), filter_pattern: None, ..self.clone() })
    }

    fn classify(&self, line: &str) -> Option<&str> {
        self.signatures.list().iter().find(|s| s.regex.is_match(line)).map(|s| s.label.as_str())
    }

    fn rank(&self, label: &str) -> usize {
        self.signatures.list().iter().position(|s| s.label == label).unwrap_or(usize::MAX)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogReport {
    pub group: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_prefix: Option<String>,
    /// Events read (after the server's filter) and lines that matched a signature.
    pub scanned: usize,
    pub matched: usize,
    /// False when paging stopped early (deadline, page or event cap).
    pub complete: bool,
    pub streams: Vec<StreamExcerpt>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamExcerpt {
    pub stream: String,
    /// `<variant>/<instance-id>` → the instance id.
    pub instance: Option<String>,
    pub matched: usize,
    pub lines: Vec<LogLine>,
}

/// The instance a log stream belongs to, from its real name: `<variant>/<instance-id>`,
/// `<variant>/<instance-id>/data-log` (asynchronous endpoints), `<variant>/<instance-id>/<container>`
/// (pipelines) and the inference-component forms that carry the instance id as a segment. Only a
/// segment shaped like an instance id counts: a line is never put on the wrong instance.
pub fn instance_of_stream(stream: &str) -> Option<String> {
    stream.split('/').find(|seg| is_instance_id(seg)).map(str::to_string)
}

/// `i-` and letters or digits, as SageMaker names instances (`i-0a1b2c3d4e5f60718`).
fn is_instance_id(s: &str) -> bool {
    s.strip_prefix("i-").is_some_and(|h| (1..=32).contains(&h.len()) && h.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Log streams are `<variant>/<instance-id>…`: search only the alarm's variant when it is known.
pub(super) fn stream_prefix(sm: &SageMakerTarget) -> Option<String> {
    // Inference-component endpoints name their streams differently; search the whole group.
    if sm.inference_component.is_some() {
        return None;
    }
    sm.variant.as_ref().map(|v| format!("{v}/"))
}

/// One distinct line (after redaction and collapsing numbers), with how often it repeated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    pub signature: String,
    pub text: String,
    pub count: u32,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
}

impl LogReport {
    /// Puts the streams of these instances first (the outlier, then the alarm's own instance).
    pub fn put_first(&mut self, instances: &[&str]) {
        let rank = |s: &StreamExcerpt| s.instance.as_deref().and_then(|i| instances.iter().position(|x| *x == i)).unwrap_or(usize::MAX);
        self.streams.sort_by(|a, b| rank(a).cmp(&rank(b)).then(b.matched.cmp(&a.matched)).then(a.stream.cmp(&b.stream)));
    }
}

/// The parts of the window, nearest the state change first: the minutes at the state change
/// (where the cause usually is), then the rest of the alarm's evaluation window and the context
/// before it. Each is `(start ms, end ms)`, end exclusive; together they cover the window once.
pub fn slices(w: &Window) -> [(i64, i64); 3] {
    let end = w.end_ms() + 1;
    let near = (w.anchor - chrono::Duration::minutes(NEAR_MINUTES)).max(w.start).timestamp_millis();
    let alarm_start = w.alarm_start.max(w.start).timestamp_millis().min(near);
    [(near, end), (alarm_start, near), (w.start_ms(), alarm_start)]
}

/// Minutes before the state change read first.
const NEAR_MINUTES: i64 = 2;
/// FilterLogEvents returns at most this many events a page.
const PAGE_EVENTS: usize = 10_000;

/// What was read of one slice: events `(stream, epoch ms, message)`, whether to its end, and the
/// pages (calls) it took.
struct Slice {
    events: Vec<(String, i64, String)>,
    complete: bool,
    pages: usize,
}

/// Why reading stopped short of a slice's end, when it did.
enum Stop {
    /// The log group does not exist.
    NoGroup,
    /// A call failed; the note is written.
    Failed,
}

pub(super) async fn fetch(
    ctx: &Ctx,
    chain: &Chain,
    client: &Client,
    endpoint: &str,
    sm: &SageMakerTarget,
    w: &Window,
    settings: &LogSettings,
) -> Option<LogReport> {
    let group = format!("/aws/sagemaker/Endpoints/{endpoint}");
    let prefix = stream_prefix(sm);
    let search = Search { ctx, client, group: &group, prefix: prefix.as_deref(), pattern: settings.filter_pattern.as_deref() };
    let [near, window, context] = slices(w);
    // The state change first, alone: whatever the earlier minutes hold, these lines are read.
    let first = search.read(chain, near, settings.max_pages, settings.max_events).await;
    let (mut events, mut complete, pages) = match first {
        Ok(s) => (s.events, s.complete, s.pages),
        Err(Stop::NoGroup) => {
            ctx.note(
                "FilterLogEvents",
                format!("log group {group} does not exist: the container has not logged yet, or its logs go elsewhere"),
            );
            return None;
        }
        Err(Stop::Failed) => return None,
    };
    // Then the rest of the evaluation window and the context, side by side, sharing what is left.
    let pages_left = settings.max_pages.saturating_sub(pages.max(1)).max(2);
    let events_left = settings.max_events.saturating_sub(events.len());
    if events_left > 0 {
        let branches: [Chain; 2] = Default::default();
        let (a, b) = tokio::join!(
            search.read(&branches[0], window, pages_left.div_ceil(2), events_left.div_ceil(2)),
            search.read(&branches[1], context, pages_left / 2, events_left / 2),
        );
        chain.then_longest(&branches);
        for r in [a, b] {
            match r {
                Ok(s) => {
                    events.extend(s.events);
                    complete &= s.complete;
                }
                Err(_) => complete = false,
            }
        }
    } else {
        complete = false;
    }
    if !complete {
        ctx.note(
            "FilterLogEvents",
            format!(
                "read {} events, those at the state change first, and stopped before the start of the window; earlier lines may be missing",
                events.len()
            ),
        );
    }
    let scanned = events.len();
    let (streams, matched) = excerpts(events, settings);
    Some(LogReport { group, stream_prefix: prefix, scanned, matched, complete, streams })
}

/// One FilterLogEvents search: the group, the variant's streams, the server-side pattern.
struct Search<'a> {
    ctx: &'a Ctx,
    client: &'a Client,
    group: &'a str,
    prefix: Option<&'a str>,
    pattern: Option<&'a str>,
}

impl Search<'_> {
    /// Pages forward through one slice within `max_pages` pages and `max_events` events.
    async fn read(&self, chain: &Chain, (from, to): (i64, i64), max_pages: usize, max_events: usize) -> Result<Slice, Stop> {
        let mut read = Slice { events: vec![], complete: true, pages: 0 };
        if from >= to {
            return Ok(read);
        }
        let mut token: Option<String> = None;
        read.complete = false;
        while read.pages < max_pages {
            let left = max_events.saturating_sub(read.events.len());
            if left == 0 {
                return Ok(read);
            }
            let req = self
                .client
                .filter_log_events()
                .log_group_name(self.group)
                .set_log_stream_name_prefix(self.prefix.map(str::to_string))
                .start_time(from)
                .end_time(to - 1)
                .limit(left.min(PAGE_EVENTS) as i32)
                .set_filter_pattern(self.pattern.map(str::to_string))
                .set_next_token(token.take());
            read.pages += 1;
            match self.ctx.call(chain, req.send()).await {
                Ok(page) => {
                    // Kept to the slice whatever the server did with the range: no line is read twice.
                    read.events.extend(page.events().iter().filter(|e| e.timestamp().is_some_and(|t| t >= from && t < to)).map(|e| {
                        (
                            e.log_stream_name().unwrap_or_default().to_string(),
                            e.timestamp().unwrap_or_default(),
                            e.message().unwrap_or_default().to_string(),
                        )
                    }));
                    match page.next_token() {
                        // Pages may be empty while a token is still returned: keep going.
                        Some(t) if !t.is_empty() => token = Some(t.to_string()),
                        _ => {
                            read.complete = true;
                            return Ok(read);
                        }
                    }
                }
                Err(f) if f.is("ResourceNotFoundException") => return Err(Stop::NoGroup),
                Err(f) => {
                    self.ctx.fail("FilterLogEvents", f);
                    return if read.events.is_empty() { Err(Stop::Failed) } else { Ok(read) };
                }
            }
        }
        Ok(read)
    }
}

/// Matching, redaction and collapsing of raw events `(stream, epoch ms, message)`.
pub fn excerpts(events: impl IntoIterator<Item = (String, i64, String)>, settings: &LogSettings) -> (Vec<StreamExcerpt>, usize) {
    // stream → (lines matched, (signature rank, collapsed text) → line)
    type Lines = BTreeMap<(usize, String), LogLine>;
    let mut by_stream: BTreeMap<String, (usize, Lines)> = BTreeMap::new();
    let mut matched = 0;
    for (stream, ms, message) in events {
        let message = message.trim_end();
        let Some(label) = settings.classify(message) else { continue };
        matched += 1;
        let text = crate::model::text::truncate(&crate::model::text::one_line(&redact(message)), settings.max_line_chars);
        let at = DateTime::from_timestamp_millis(ms).unwrap_or_default();
        let key = (settings.rank(label), collapse_key(&text));
        let entry = by_stream.entry(stream).or_default();
        entry.0 += 1;
        entry
            .1
            .entry(key)
            .and_modify(|l| {
                l.count += 1;
                l.first = l.first.min(at);
                l.last = l.last.max(at);
            })
            .or_insert(LogLine { signature: label.to_string(), text, count: 1, first: at, last: at });
    }
    let mut streams: Vec<StreamExcerpt> = by_stream
        .into_iter()
        .map(|(stream, (n, lines))| {
            let mut lines: Vec<LogLine> = lines.into_values().collect();
            // Most severe signature first, then the most repeated, then the earliest.
            lines.sort_by(|a, b| {
                settings.rank(&a.signature).cmp(&settings.rank(&b.signature)).then(b.count.cmp(&a.count)).then(a.first.cmp(&b.first))
            });
            lines.truncate(settings.max_lines_per_stream);
            let instance = instance_of_stream(&stream);
            StreamExcerpt { stream, instance, matched: n, lines }
        })
        .collect();
    streams.sort_by(|a, b| b.matched.cmp(&a.matched).then(a.stream.cmp(&b.stream)));
    streams.truncate(settings.max_streams);
    (streams, matched)
}

/// Lines that differ only in numbers, hex ids (a word of hex digits with a decimal one in it:
/// `20a0`, `7f3e2a`, never `added`) or timestamps are one line repeated.
fn collapse_key(text: &str) -> String {
    static NUMBERS: std::sync::LazyLock<Regex> =
        std::sync::LazyLock::new(|| Regex::new(r"0x[0-9a-fA-F]+|\b[0-9a-f]*[0-9][0-9a-f]*\b|\d+(\.\d+)?").expect("static regex"));
    NUMBERS.replace_all(text, "#").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ev(stream: &str, ms: i64, msg: &str) -> (String, i64, String) {
        (stream.into(), ms, msg.into())
    }

    #[test]
    fn failure_lines_are_classified_collapsed_redacted_and_bounded() {
        let s = LogSettings::default();
        let events = vec![
            ev("AllTraffic/i-b", 1_000, "2026-11-20 14:05:01 INFO request ok"),
            ev("AllTraffic/i-b", 2_000, "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 2; 22.19 GiB total)"),
            ev("AllTraffic/i-b", 3_000, "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 4.00 GiB (GPU 2; 22.19 GiB total)"),
            ev("AllTraffic/i-b", 4_000, "thread 'main' panicked at src/main.rs:10:5: called `Result::unwrap()`"),
            ev("AllTraffic/i-a", 5_000, "ERROR upstream auth failed for postgres://svc:pa55@db:5432"),
            ev("AllTraffic/i-a", 6_000, "WARNING: config override max_batch_size skipped (not supported)"),
            ev("AllTraffic/i-c", 7_000, &format!("ERROR {}", "x".repeat(5000))),
        ];
        let (streams, matched) = excerpts(events, &s);
        assert_eq!(matched, 6);
        assert_eq!(streams[0].stream, "AllTraffic/i-b");
        assert_eq!(streams[0].instance.as_deref(), Some("i-b"));
        let b = &streams[0].lines;
        assert_eq!((b[0].signature.as_str(), b[0].count), ("panic", 1));
        assert_eq!((b[1].signature.as_str(), b[1].count), ("oom", 2));
        assert_eq!(b[1].first.timestamp_millis(), 2_000);
        assert_eq!(b[1].last.timestamp_millis(), 3_000);
        let a = streams.iter().find(|x| x.stream == "AllTraffic/i-a").unwrap();
        assert!(a.lines.iter().any(|l| l.signature == "error" && l.text.contains("svc:[REDACTED]@db")));
        assert!(a.lines.iter().any(|l| l.signature == "skipped"));
        let c = streams.iter().find(|x| x.stream == "AllTraffic/i-c").unwrap();
        assert_eq!(c.lines[0].text.chars().count(), 300);
    }

    #[test]
    fn put_first_orders_the_outlier_stream_ahead_of_busier_ones() {
        let s = LogSettings::default();
        let mut events = vec![ev("AllTraffic/i-quiet", 1, "ERROR one")];
        events.extend((0..5).map(|i| ev("AllTraffic/i-busy", i, &format!("ERROR many {i}"))));
        let (streams, matched) = excerpts(events, &s);
        let mut r = LogReport { group: "g".into(), stream_prefix: None, scanned: 6, matched, complete: true, streams };
        assert_eq!(r.streams[0].stream, "AllTraffic/i-busy");
        r.put_first(&["i-quiet"]);
        assert_eq!(r.streams[0].stream, "AllTraffic/i-quiet");
        // Five "ERROR many N" differ only in the number: one line, count 5.
        assert_eq!(r.streams[1].lines[0].count, 5);
    }

    #[test]
    fn every_default_signature_compiles_in_its_order() {
        let labels: Vec<_> = Signatures::Default.list().iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, DEFAULT_SIGNATURES.map(|(l, _)| l));
    }

    #[test]
    fn custom_signatures_replace_the_defaults_and_bad_ones_are_named() {
        let s = LogSettings::default().with_signatures_json(r#"{"timeout": "(?i)timed out"}"#).unwrap();
        assert_eq!(s.filter_pattern, None);
        assert_eq!(s.classify("Request timed out after 60s"), Some("timeout"));
        assert_eq!(s.classify("ERROR boom"), None);
        let e = LogSettings::default().with_signatures_json(r#"{"bad": "("}"#).unwrap_err();
        assert!(e.starts_with("log signature \"bad\""), "{e}");
        assert!(LogSettings::default().with_signatures_json("[1]").is_err());
    }

    #[test]
    fn the_instance_comes_from_the_real_stream_name() {
        assert_eq!(instance_of_stream("AllTraffic/i-0a1b2c3d4e5f60718").as_deref(), Some("i-0a1b2c3d4e5f60718"));
        assert_eq!(instance_of_stream("AllTraffic/i-0a1b2c3d4e5f60718/data-log").as_deref(), Some("i-0a1b2c3d4e5f60718"));
        assert_eq!(instance_of_stream("IC-qwen3-4b/i-0a1b2c3d4e5f60718/c-7f3e2a").as_deref(), Some("i-0a1b2c3d4e5f60718"));
        assert_eq!(instance_of_stream("AllTraffic/model-container"), None, "never a guess");
        assert_eq!(instance_of_stream("AllTraffic/"), None);
    }

    #[test]
    fn slices_read_the_state_change_first_and_cover_the_window_once() {
        let anchor = Utc.with_ymd_and_hms(2026, 11, 20, 14, 7, 31).unwrap();
        let w = Window {
            start: anchor - chrono::Duration::minutes(45),
            alarm_start: anchor - chrono::Duration::minutes(15),
            anchor,
            end: anchor + chrono::Duration::minutes(5),
            period_s: 60,
        };
        let s = slices(&w);
        let ms = |t: DateTime<Utc>| t.timestamp_millis();
        assert_eq!(s[0], (ms(anchor - chrono::Duration::minutes(2)), ms(w.end) + 1));
        assert_eq!(s[1], (ms(w.alarm_start), ms(anchor - chrono::Duration::minutes(2))));
        assert_eq!(s[2], (ms(w.start), ms(w.alarm_start)));
    }

    #[test]
    fn lines_differing_only_in_hex_ids_collapse_and_words_do_not() {
        assert_eq!(collapse_key("miss for prefix 20a0, recomputing"), collapse_key("miss for prefix 2000, recomputing"));
        assert_eq!(collapse_key("container c-7f3e2a restarted"), collapse_key("container c-1a2b3c restarted"));
        assert_ne!(collapse_key("5 items added"), collapse_key("5 items faded"));
    }
}
