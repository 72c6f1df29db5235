//! A minimal Lambda Runtime API on loopback: enough of `/2018-06-01/runtime/...` for a real
//! runtime client (Rust `lambda_runtime`, Python `awslambdaric`) to start, take events and answer.
//! It records when the first `GET …/invocation/next` arrives (the end of initialisation) and when
//! each response comes back.

use anyhow::{anyhow, Context, Result};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tiny_http::{Header, Method, Response, Server};

#[derive(Default)]
struct Inner {
    first_next: Option<Instant>,
    /// Events waiting for a `next`: (request id, body).
    queued: VecDeque<(String, String)>,
    /// When each event was handed out.
    handed: Vec<(String, Instant)>,
    /// (request id, arrival, ok, body) for every response or error posted.
    answers: Vec<(String, Instant, bool, String)>,
    init_error: Option<String>,
    closed: bool,
}

#[derive(Default)]
struct State {
    inner: Mutex<Inner>,
    changed: Condvar,
}

pub struct RuntimeApi {
    pub addr: String,
    server: Arc<Server>,
    state: Arc<State>,
    seq: u64,
}

/// How one invocation went, timed at the Runtime API.
pub struct Answer {
    /// From handing out the event to the response arriving.
    pub wall: Duration,
    pub ok: bool,
    pub body: String,
}

impl RuntimeApi {
    pub fn start() -> Result<Self> {
        let server = crate::loopback_server("runtime API")?;
        let addr = server.server_addr().to_ip().context("runtime API address")?.to_string();
        let state = Arc::new(State::default());
        let (srv, st) = (server.clone(), state.clone());
        std::thread::spawn(move || {
            for req in srv.incoming_requests() {
                let st = st.clone();
                // `next` blocks until an event is queued: one thread per request.
                std::thread::spawn(move || serve(&st, req));
            }
        });
        Ok(Self { addr, server, state, seq: 0 })
    }

    /// Queues an event; returns its request id.
    pub fn invoke(&mut self, body: &str) -> String {
        self.seq += 1;
        let id = format!("bench-{:08}", self.seq);
        let mut g = self.state.inner.lock().expect("runtime API state");
        g.queued.push_back((id.clone(), body.to_string()));
        self.state.changed.notify_all();
        id
    }

    /// Waits for the first `next` (initialisation done) or an init error.
    pub fn wait_first_next(&self, timeout: Duration) -> Result<Instant> {
        let g = self.state.inner.lock().expect("runtime API state");
        let (g, _) = self
            .state
            .changed
            .wait_timeout_while(g, timeout, |g| g.first_next.is_none() && g.init_error.is_none())
            .expect("runtime API state");
        if let Some(e) = &g.init_error {
            return Err(anyhow!("the function reported an init error: {e}"));
        }
        g.first_next.ok_or_else(|| anyhow!("no GET /runtime/invocation/next within {timeout:?}"))
    }

    pub fn wait_answer(&self, id: &str, timeout: Duration) -> Result<Answer> {
        let g = self.state.inner.lock().expect("runtime API state");
        let (g, _) = self
            .state
            .changed
            .wait_timeout_while(g, timeout, |g| !g.answers.iter().any(|a| a.0 == id) && g.init_error.is_none())
            .expect("runtime API state");
        if let Some(e) = &g.init_error {
            return Err(anyhow!("the function reported an init error: {e}"));
        }
        let (_, at, ok, body) =
            g.answers.iter().find(|a| a.0 == id).cloned().ok_or_else(|| anyhow!("no answer to {id} within {timeout:?}"))?;
        let handed = g.handed.iter().find(|h| h.0 == id).map(|h| h.1).context("answer for an event never handed out")?;
        Ok(Answer { wall: at.duration_since(handed), ok, body })
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        if let Ok(mut g) = self.state.inner.lock() {
            g.closed = true;
        }
        self.state.changed.notify_all();
        self.server.unblock();
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

fn serve(st: &State, mut req: tiny_http::Request) {
    let url = req.url().to_string();
    let mut body = String::new();
    let _ = req.as_reader().read_to_string(&mut body);
    let now = Instant::now();
    let path = url.trim_start_matches("/2018-06-01/runtime/");
    let reply = |req: tiny_http::Request, code: u16, text: &str| {
        let _ = req.respond(Response::from_string(text).with_status_code(code).with_header(header("Content-Type", "application/json")));
    };
    match (req.method(), path) {
        (Method::Get, "invocation/next") => {
            let mut g = st.inner.lock().expect("runtime API state");
            g.first_next.get_or_insert(now);
            st.changed.notify_all();
            let mut g = st.changed.wait_while(g, |g| g.queued.is_empty() && !g.closed).expect("runtime API state");
            let Some((id, event)) = g.queued.pop_front() else {
                drop(g);
                return reply(req, 500, r#"{"errorMessage":"bench harness closed"}"#);
            };
            g.handed.push((id.clone(), Instant::now()));
            drop(g);
            let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
            let resp = Response::from_string(event)
                .with_header(header("Content-Type", "application/json"))
                .with_header(header("Lambda-Runtime-Aws-Request-Id", &id))
                .with_header(header("Lambda-Runtime-Deadline-Ms", &deadline.to_string()))
                .with_header(header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:enrich-alarm"))
                .with_header(header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"));
            let _ = req.respond(resp);
        }
        (Method::Post, "init/error") => {
            let mut g = st.inner.lock().expect("runtime API state");
            g.init_error = Some(body);
            st.changed.notify_all();
            drop(g);
            reply(req, 202, r#"{"status":"OK"}"#)
        }
        (Method::Post, p) if p.starts_with("invocation/") => {
            let mut parts = p.trim_start_matches("invocation/").splitn(2, '/');
            let id = parts.next().unwrap_or_default().to_string();
            let ok = parts.next() == Some("response");
            let mut g = st.inner.lock().expect("runtime API state");
            g.answers.push((id, now, ok, body));
            st.changed.notify_all();
            drop(g);
            reply(req, 202, r#"{"status":"OK"}"#)
        }
        _ => reply(req, 404, r#"{"errorMessage":"not part of the bench Runtime API"}"#),
    }
}
