//! A stand-in for Slack's Web API on loopback (wiremock): `chat.postMessage` answers a fresh `ts`
//! and the channel, `chat.update` answers the message's `ts`; calls without a bearer token answer
//! `not_authed` as Slack does. Every call is recorded in order for the tests to read. The file
//! upload flow answers too: `files.getUploadURLExternal` (an upload URL on this server),
//! the upload itself (`OK - <bytes>`), `files.completeUploadExternal`.
//!
//! [`SlackApi::paced`] also keeps Slack's pace, as Slack answers it (HTTP 429, `Retry-After`,
//! `{"ok": false, "error": "ratelimited"}`): `chat.postMessage` one message per second per
//! channel (thread replies included), `chat.update` (Tier 3) 50 a minute.

use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// One Web API call as the stand-in received it.
#[derive(Debug, Clone)]
pub struct Call {
    /// `chat.postMessage`, `chat.update`.
    pub method: String,
    pub body: Value,
    /// The `Authorization` header's token, if any.
    pub bearer: Option<String>,
    /// The `ts` answered (in [`SlackApi::accepted`]; `None` in [`SlackApi::calls`]).
    pub ts: Option<String>,
}

impl Call {
    /// The top-level text and every block's text, for assertions on what a person would read.
    pub fn text(&self) -> String {
        self.body.to_string()
    }
}

pub struct SlackApi {
    pub server: MockServer,
    pace: Arc<Mutex<Pace>>,
}

/// What the paced stand-in has let through, and when.
#[derive(Default)]
struct Pace {
    on: bool,
    /// Per channel: when the last message was accepted.
    last_post: HashMap<String, Instant>,
    /// When each `chat.update` of the last minute was accepted.
    updates: VecDeque<Instant>,
    accepted: Vec<(Instant, Call)>,
    rate_limited: usize,
}

/// `chat.update` is a Tier 3 method: about 50 calls a minute.
const UPDATES_PER_MINUTE: usize = 50;

impl Pace {
    /// `Some(retry after)` when Slack would refuse this call now.
    fn refuse(&mut self, method: &str, channel: &str, now: Instant) -> Option<Duration> {
        if !self.on {
            return None;
        }
        let wait = match method {
            "chat.update" => {
                while self.updates.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60)) {
                    self.updates.pop_front();
                }
                let full = self.updates.len() >= UPDATES_PER_MINUTE;
                full.then(|| Duration::from_secs(60).saturating_sub(now.duration_since(self.updates[0])))
            }
            _ => {
                self.last_post.get(channel).map(|t| Duration::from_secs(1).saturating_sub(now.duration_since(*t))).filter(|w| !w.is_zero())
            }
        };
        if wait.is_some() {
            self.rate_limited += 1;
            return wait;
        }
        match method {
            "chat.update" => self.updates.push_back(now),
            _ => {
                self.last_post.insert(channel.to_string(), now);
            }
        }
        None
    }
}

struct Answer {
    method: &'static str,
    next: Arc<AtomicU64>,
    pace: Arc<Mutex<Pace>>,
}

impl Respond for Answer {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if !req.headers.get("authorization").and_then(|h| h.to_str().ok()).is_some_and(|h| h.starts_with("Bearer xoxb-")) {
            return ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "not_authed"}));
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let Some(channel) = body["channel"].as_str() else {
            return ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "channel_not_found"}));
        };
        let now = Instant::now();
        let ts = {
            let mut pace = self.pace.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(wait) = pace.refuse(self.method, channel, now) {
                // Slack's header is whole seconds.
                let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
                return ResponseTemplate::new(429)
                    .insert_header("Retry-After", secs.to_string().as_str())
                    .set_body_json(json!({"ok": false, "error": "ratelimited"}));
            }
            let ts = match self.method {
                "chat.update" => body["ts"].as_str().unwrap_or_default().to_string(),
                _ => {
                    let n = self.next.fetch_add(1, Ordering::SeqCst);
                    format!("{}.{:06}", 1_790_000_000 + n, n)
                }
            };
            let call = Call { method: self.method.to_string(), body: body.clone(), bearer: None, ts: Some(ts.clone()) };
            pace.accepted.push((now, call));
            ts
        };
        ResponseTemplate::new(200).set_body_json(json!({"ok": true, "channel": channel, "ts": ts}))
    }
}

/// `files.getUploadURLExternal`: a fresh file ID and its upload URL on this server.
struct UploadUrl {
    base: String,
    next: Arc<AtomicU64>,
}

impl Respond for UploadUrl {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if !req.headers.get("authorization").and_then(|h| h.to_str().ok()).is_some_and(|h| h.starts_with("Bearer xoxb-")) {
            return ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "not_authed"}));
        }
        let id = format!("F{:08}", self.next.fetch_add(1, Ordering::SeqCst));
        ResponseTemplate::new(200).set_body_json(json!({"ok": true, "upload_url": format!("{}/upload/{id}", self.base), "file_id": id}))
    }
}

impl SlackApi {
    pub async fn start() -> Self {
        Self::with_pace(false).await
    }

    /// Keeping Slack's pace (see the module's doc).
    pub async fn paced() -> Self {
        Self::with_pace(true).await
    }

    async fn with_pace(on: bool) -> Self {
        let server = MockServer::start().await;
        let next = Arc::new(AtomicU64::new(1));
        let pace = Arc::new(Mutex::new(Pace { on, ..Pace::default() }));
        for m in ["chat.postMessage", "chat.update"] {
            Mock::given(method("POST"))
                .and(path(format!("/api/{m}")))
                .respond_with(Answer { method: m, next: next.clone(), pace: pace.clone() })
                .mount(&server)
                .await;
        }
        let files = Arc::new(AtomicU64::new(1));
        Mock::given(method("POST"))
            .and(path("/api/files.getUploadURLExternal"))
            .respond_with(UploadUrl { base: server.uri(), next: files })
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(wiremock::matchers::path_regex("^/upload/F[0-9]+$"))
            .respond_with(|req: &Request| ResponseTemplate::new(200).set_body_string(format!("OK - {}", req.body.len())))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/files.completeUploadExternal"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
            .mount(&server)
            .await;
        Self { server, pace }
    }

    /// Every call Slack accepted (not rate limited, authenticated, with a channel), with when.
    pub fn accepted(&self) -> Vec<(Instant, Call)> {
        self.pace.lock().map(|p| p.accepted.clone()).unwrap_or_default()
    }

    /// How many calls were answered 429.
    pub fn rate_limited(&self) -> usize {
        self.pace.lock().map(|p| p.rate_limited).unwrap_or_default()
    }

    /// The `api_url` for a `slack_app` receiver.
    pub fn url(&self) -> String {
        format!("{}/api", self.server.uri())
    }

    /// Every call so far, in the order received.
    pub async fn calls(&self) -> Vec<Call> {
        let reqs = self.server.received_requests().await.unwrap_or_default();
        reqs.iter()
            .map(|r| Call {
                method: r.url.path().trim_start_matches("/api/").to_string(),
                // JSON, or the file methods' form fields as an object (an upload's bytes: Null).
                body: serde_json::from_slice(&r.body).unwrap_or_else(|_| form(&r.body)),
                bearer: r
                    .headers
                    .get("authorization")
                    .and_then(|h| h.to_str().ok())
                    .and_then(|h| h.strip_prefix("Bearer "))
                    .map(str::to_string),
                ts: None,
            })
            .collect()
    }
}

/// Form-encoded fields as a JSON object; anything else (a file's bytes) as Null.
fn form(body: &[u8]) -> Value {
    if body.starts_with(b"\x89PNG") {
        return Value::Null;
    }
    Value::Object(form_urlencoded::parse(body).into_owned().map(|(k, v)| (k, Value::String(v))).collect())
}
