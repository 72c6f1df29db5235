//! A stand-in for Slack's Web API on loopback (wiremock): `chat.postMessage` answers a fresh `ts`
//! and the channel, `chat.update` answers the message's `ts`; calls without a bearer token answer
//! `not_authed` as Slack does. Every call is recorded in order for the tests to read.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
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
}

impl Call {
    /// The top-level text and every block's text, for assertions on what a person would read.
    pub fn text(&self) -> String {
        self.body.to_string()
    }
}

pub struct SlackApi {
    pub server: MockServer,
}

struct Answer {
    method: &'static str,
    next: Arc<AtomicU64>,
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
        let ts = match self.method {
            "chat.update" => body["ts"].as_str().unwrap_or_default().to_string(),
            _ => {
                let n = self.next.fetch_add(1, Ordering::SeqCst);
                format!("{}.{:06}", 1_790_000_000 + n, n)
            }
        };
        ResponseTemplate::new(200).set_body_json(json!({"ok": true, "channel": channel, "ts": ts}))
    }
}

impl SlackApi {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let next = Arc::new(AtomicU64::new(1));
        for m in ["chat.postMessage", "chat.update"] {
            Mock::given(method("POST"))
                .and(path(format!("/api/{m}")))
                .respond_with(Answer { method: m, next: next.clone() })
                .mount(&server)
                .await;
        }
        Self { server }
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
                body: serde_json::from_slice(&r.body).unwrap_or(Value::Null),
                bearer: r
                    .headers
                    .get("authorization")
                    .and_then(|h| h.to_str().ok())
                    .and_then(|h| h.strip_prefix("Bearer "))
                    .map(str::to_string),
            })
            .collect()
    }
}
