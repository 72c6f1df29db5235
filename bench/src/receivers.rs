//! Local stand-ins for Slack's webhook (200 `ok`), Slack's Web API (`/api/chat.postMessage` and
//! `/api/chat.update`: `{"ok": true, "channel", "ts"}`) and PagerDuty's Events API (202),
//! counting what they receive so a run can check that its alarm was really delivered.

use anyhow::{Context, Result};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tiny_http::{Header, Response, Server};

pub struct Receivers {
    pub url: String,
    server: Arc<Server>,
    received: Arc<AtomicU32>,
}

impl Receivers {
    pub fn start() -> Result<Self> {
        let server = crate::loopback_server("receivers")?;
        let url = format!("http://{}", server.server_addr().to_ip().context("receivers address")?);
        let received = Arc::new(AtomicU32::new(0));
        let (srv, n) = (server.clone(), received.clone());
        std::thread::spawn(move || {
            for mut req in srv.incoming_requests() {
                let mut body = vec![];
                let _ = req.as_reader().read_to_end(&mut body);
                n.fetch_add(1, Ordering::SeqCst);
                let json = Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]).expect("valid header");
                let response = if req.url().starts_with("/api/") {
                    let n = n.load(Ordering::SeqCst);
                    Response::from_string(format!(r#"{{"ok":true,"channel":"C0BENCH0001","ts":"{}.000100"}}"#, 1_790_000_000 + n))
                        .with_header(json)
                } else if req.url().starts_with("/pd") {
                    Response::from_string(r#"{"status":"success","message":"Event processed","dedup_key":"bench"}"#)
                        .with_status_code(202)
                        .with_header(json)
                } else {
                    Response::from_string("ok").with_status_code(200)
                };
                let _ = req.respond(response);
            }
        });
        Ok(Self { url, server, received })
    }

    pub fn received(&self) -> u32 {
        self.received.load(Ordering::SeqCst)
    }
}

impl Drop for Receivers {
    fn drop(&mut self) {
        self.server.unblock();
    }
}
