//! HTTP delivery with timeouts and retries: retry 429/5xx/network errors with jittered
//! exponential backoff (`backon`, at most `max_retries`), never retry other 4xx. A 429/503 that
//! says `Retry-After` is a pace, not a fault: it is honoured (plus a random jitter, so that many
//! invocations told the same second do not stampede on it) as often as it comes, for as long as
//! the invocation's deadline allows. An alarm storm to one Slack channel (one message per second)
//! is drained this way instead of being dropped.

use super::{Destination, Encoding, Failure, Post};
use crate::model::text::one_line;
use backon::{BackoffBuilder, ExponentialBuilder};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries of failures without `Retry-After` (5xx, network errors), with exponential backoff.
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// Added to each `Retry-After` wait: a uniform random share of this.
    pub retry_after_jitter: Duration,
    /// Kept free before the deadline on top of one `request_timeout`: the time to report back. A
    /// retry that could not finish by `deadline - request_timeout - deadline_margin` is not begun.
    pub deadline_margin: Duration,
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            retry_after_jitter: Duration::from_secs(1),
            deadline_margin: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// The HTTP client could not be built (TLS set-up): the cold start fails with this rather than
/// deliver through a client without timeouts, which one stuck receiver would hang until Lambda
/// kills the invocation.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client for delivery: {0}")]
pub struct ClientError(String);

/// The delivery client, trusting [`crate::tls::roots`] only (reqwest would read the system trust
/// store); an unusable `SSL_CERT_FILE` fails it.
pub fn client(policy: &RetryPolicy) -> Result<reqwest::Client, ClientError> {
    let roots = crate::tls::roots().map_err(|e| ClientError(e.to_string()))?;
    reqwest::Client::builder()
        .tls_certs_only(
            roots
                .iter()
                .map(|c| reqwest::Certificate::from_der(c))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ClientError(one_line(&e.to_string())))?,
        )
        .timeout(policy.request_timeout)
        .connect_timeout(Duration::from_secs(3))
        .user_agent(concat!("sagealarm/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ClientError(one_line(&e.to_string())))
}

/// Seconds form only: Slack and PagerDuty send delta-seconds.
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    v.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9).map(Duration::from_secs_f64)
}

async fn attempt<D: Destination + ?Sized>(client: &reqwest::Client, n: &D, post: &Post) -> Result<String, Failure> {
    let req = client.post(&post.url);
    let mut req = match &post.encoding {
        Encoding::Json => req.json(&post.body),
        Encoding::Form => {
            let fields = post
                .body
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())));
            let form = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
            req.header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(form)
        }
        Encoding::Bytes(b) => req.header(reqwest::header::CONTENT_TYPE, "application/octet-stream").body(b.clone()),
    };
    if let Some(token) = &post.bearer {
        req = req.bearer_auth(token.expose());
    }
    let resp = req.send().await.map_err(|e| {
        // `without_url`: a Slack webhook URL is a credential.
        let e = e.without_url();
        Failure::retryable(format!("request failed: {}", one_line(&e.to_string())), None)
    })?;
    let status = resp.status().as_u16();
    let ra = retry_after(resp.headers());
    let text = resp.text().await.unwrap_or_default();
    n.classify(status, ra, &text).map(|()| text)
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Posts what the destination rendered, retrying as the policy and `deadline` allow; `n` reads
/// the answers. Returns the answer's body when delivered, the last failure when it gives up;
/// giving up for the deadline says so.
pub async fn deliver<D: Destination + ?Sized>(
    client: &reqwest::Client,
    n: &D,
    post: &Post,
    policy: &RetryPolicy,
    deadline: Instant,
) -> Result<String, Failure> {
    retrying(n.name(), n.kind(), policy, deadline, || attempt(client, n, post)).await
}

/// The one retry policy, for any way of sending (an HTTP post, an AWS call): `send` is tried
/// again while its failure is retryable, honouring `Retry-After`, with jittered exponential
/// backoff otherwise, and never past what `deadline` allows.
pub async fn retrying<F, Fut>(name: &str, kind: &str, policy: &RetryPolicy, deadline: Instant, mut send: F) -> Result<String, Failure>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<String, Failure>>,
{
    let mut backoff = ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_max_times(policy.max_retries)
        .with_jitter()
        .build();
    // The last moment a retry may begin: its request must be able to time out and be reported.
    let last_start = deadline.checked_sub(policy.request_timeout + policy.deadline_margin);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let f = match send().await {
            Ok(body) => return Ok(body),
            Err(f) if !f.retryable => return Err(f),
            Err(f) => f,
        };
        let wait = match f.retry_after {
            // At least `min_delay`: a `Retry-After: 0` loop must not spin.
            Some(ra) => ra.max(policy.min_delay) + policy.retry_after_jitter.mul_f64(fastrand::f64()),
            None => match backoff.next() {
                Some(d) => d,
                None => return Err(f),
            },
        };
        let now = Instant::now();
        if last_start.is_none_or(|t| now + wait > t) {
            let left = deadline.saturating_duration_since(now);
            let message = format!(
                "{} (attempt {attempts}); gave up: waiting {} more would pass the invocation's deadline ({} left, {} kept for the last request)",
                f.message,
                secs(wait),
                secs(left),
                secs(policy.request_timeout + policy.deadline_margin)
            );
            return Err(Failure { message, ..f });
        }
        tracing::warn!(receiver = name, kind, error = %f.message, attempt = attempts, wait_ms = wait.as_millis() as u64, "delivery failed, retrying");
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::pagerduty::PagerDuty;
    use crate::deliver::slack::Slack;
    use crate::secrets::Secret;
    use serde_json::Value;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            retry_after_jitter: Duration::from_millis(100),
            deadline_margin: Duration::from_millis(100),
            request_timeout: Duration::from_secs(2),
        }
    }

    /// The URL an alarm goes to.
    trait OwnUrl: Destination {
        fn own_url(&self) -> &str;
    }
    impl OwnUrl for Slack {
        fn own_url(&self) -> &str {
            self.webhook_url.expose()
        }
    }
    impl OwnUrl for PagerDuty {
        fn own_url(&self) -> &str {
            &self.events_url
        }
    }

    /// [`deliver`] to the destination's own URL.
    async fn send(n: &impl OwnUrl, body: &Value, policy: &RetryPolicy, deadline: Instant) -> Result<(), Failure> {
        deliver(&client(policy).unwrap(), n, &Post::json(n.own_url(), body.clone()), policy, deadline).await.map(|_| ())
    }

    fn in_secs(s: u64) -> Instant {
        Instant::now() + Duration::from_secs(s)
    }

    fn slack(server: &MockServer) -> Slack {
        Slack { name: "sre".into(), webhook_url: Secret::new(format!("{}/slack", server.uri())) }
    }

    fn pd(server: &MockServer) -> PagerDuty {
        PagerDuty { name: "pager".into(), routing_key: Secret::new("k"), events_url: format!("{}/pd", server.uri()) }
    }

    async fn reply(server: &MockServer, p: &str, t: ResponseTemplate, times: u64) {
        Mock::given(method("POST")).and(path(p)).respond_with(t).up_to_n_times(times).expect(times).mount(server).await;
    }

    fn rate_limited(secs: &str) -> ResponseTemplate {
        ResponseTemplate::new(429).insert_header("Retry-After", secs).set_body_string("rate_limited")
    }

    #[tokio::test]
    async fn slack_ok() {
        let s = MockServer::start().await;
        reply(&s, "/slack", ResponseTemplate::new(200).set_body_string("ok"), 1).await;
        send(&slack(&s), &serde_json::json!({"text":"x"}), &fast(), in_secs(30)).await.unwrap();
    }

    #[tokio::test]
    async fn slack_429_honours_retry_after() {
        let s = MockServer::start().await;
        reply(&s, "/slack", rate_limited("1"), 1).await;
        reply(&s, "/slack", ResponseTemplate::new(200).set_body_string("ok"), 1).await;
        let t = Instant::now();
        send(&slack(&s), &serde_json::json!({}), &fast(), in_secs(30)).await.unwrap();
        assert!(t.elapsed() >= Duration::from_millis(950), "waited only {:?}", t.elapsed());
    }

    /// A pace is not a fault: far more 429s than `max_retries`, each waited, until delivered.
    #[tokio::test]
    async fn retry_after_is_honoured_repeatedly_until_delivered() {
        let s = MockServer::start().await;
        reply(&s, "/slack", rate_limited("0.2"), 8).await;
        reply(&s, "/slack", ResponseTemplate::new(200).set_body_string("ok"), 1).await;
        let t = Instant::now();
        send(&slack(&s), &serde_json::json!({}), &fast(), in_secs(30)).await.unwrap();
        // 8 waits of 0.2 s plus up to 0.1 s of jitter each.
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(1600) && took < Duration::from_millis(5000), "took {took:?}");
    }

    #[tokio::test]
    async fn a_503_with_retry_after_is_paced_too_and_a_500_with_it_backs_off() {
        let s = MockServer::start().await;
        reply(&s, "/slack", ResponseTemplate::new(503).insert_header("Retry-After", "0.1"), 6).await;
        reply(&s, "/slack", ResponseTemplate::new(200).set_body_string("ok"), 1).await;
        send(&slack(&s), &serde_json::json!({}), &fast(), in_secs(30)).await.unwrap();

        // A 500's Retry-After is not a pace: max_retries (3) backoffs, then its failure.
        let s = MockServer::start().await;
        reply(&s, "/slack", ResponseTemplate::new(500).insert_header("Retry-After", "0.1"), 4).await;
        let f = send(&slack(&s), &serde_json::json!({}), &fast(), in_secs(30)).await.unwrap_err();
        assert!(f.retryable && f.message.starts_with("Slack answered HTTP 500"), "{f:?}");
    }

    #[tokio::test]
    async fn gives_up_when_the_wait_would_pass_the_deadline_and_says_so() {
        let s = MockServer::start().await;
        reply(&s, "/slack", rate_limited("3"), 1).await;
        let t = Instant::now();
        // 3 s of Retry-After, 2 s request timeout, 0.1 s margin: does not fit in 4 s.
        let f = send(&slack(&s), &serde_json::json!({}), &fast(), in_secs(4)).await.unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(1), "it waited: {:?}", t.elapsed());
        assert!(f.retryable, "{f:?}");
        assert!(f.message.starts_with("Slack answered HTTP 429: rate_limited (attempt 1); gave up: waiting 3."), "{}", f.message);
        assert!(
            f.message.contains("would pass the invocation's deadline (") && f.message.contains("2.1 s kept for the last request"),
            "{}",
            f.message
        );
        assert!(!f.message.contains(&s.uri()), "webhook URL leaked");
    }

    #[tokio::test]
    async fn paced_retries_stop_at_the_deadline_not_before() {
        let s = MockServer::start().await;
        Mock::given(method("POST")).and(path("/slack")).respond_with(rate_limited("0.5")).mount(&s).await;
        let t = Instant::now();
        let f = send(&slack(&s), &serde_json::json!({}), &fast(), in_secs(5)).await.unwrap_err();
        // The last retry may begin at 5 - 2 - 0.1 = 2.9 s: several 429s were waited, then it stopped.
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(2000) && took < Duration::from_millis(3100), "took {took:?}");
        let n = s.received_requests().await.unwrap().len();
        assert!((4..=6).contains(&n), "{n} attempts");
        assert!(f.message.contains(&format!("(attempt {n}); gave up")), "{}", f.message);
    }

    #[tokio::test]
    async fn retry_after_longer_than_the_deadline_gives_up_retryably() {
        let s = MockServer::start().await;
        reply(&s, "/slack", rate_limited("3600"), 1).await;
        let f = send(&slack(&s), &serde_json::json!({}), &fast(), in_secs(300)).await.unwrap_err();
        assert!(f.retryable && f.message.contains("429") && f.message.contains("deadline"), "{f:?}");
    }

    #[tokio::test]
    async fn slack_5xx_is_retried_with_backoff() {
        let s = MockServer::start().await;
        reply(&s, "/slack", ResponseTemplate::new(500).set_body_string("rollup_error"), 2).await;
        reply(&s, "/slack", ResponseTemplate::new(200).set_body_string("ok"), 1).await;
        send(&slack(&s), &serde_json::json!({}), &fast(), in_secs(30)).await.unwrap();
    }

    #[tokio::test]
    async fn slack_400_is_not_retried_and_says_why() {
        let s = MockServer::start().await;
        reply(&s, "/slack", ResponseTemplate::new(400).set_body_string("invalid_blocks"), 1).await;
        let f = send(&slack(&s), &serde_json::json!({}), &fast(), in_secs(30)).await.unwrap_err();
        assert!(!f.retryable);
        assert_eq!(f.message, "Slack answered HTTP 400: invalid_blocks");
        assert!(!f.message.contains(&s.uri()), "webhook URL leaked");
    }

    #[tokio::test]
    async fn pagerduty_202_400_429() {
        let s = MockServer::start().await;
        reply(&s, "/pd", ResponseTemplate::new(202).set_body_string(r#"{"status":"success"}"#), 1).await;
        send(&pd(&s), &serde_json::json!({}), &fast(), in_secs(30)).await.unwrap();

        let s = MockServer::start().await;
        reply(
            &s,
            "/pd",
            ResponseTemplate::new(400).set_body_string(r#"{"status":"invalid event","errors":["Length of 'routing_key' is incorrect"]}"#),
            1,
        )
        .await;
        let f = send(&pd(&s), &serde_json::json!({}), &fast(), in_secs(30)).await.unwrap_err();
        assert!(!f.retryable && f.message.contains("routing_key"), "{f:?}");

        let s = MockServer::start().await;
        reply(&s, "/pd", ResponseTemplate::new(429), 2).await;
        reply(&s, "/pd", ResponseTemplate::new(202), 1).await;
        send(&pd(&s), &serde_json::json!({}), &fast(), in_secs(30)).await.unwrap();
    }

    #[tokio::test]
    async fn network_errors_are_retried_then_reported_without_the_url() {
        let n = Slack { name: "gone".into(), webhook_url: Secret::new("http://127.0.0.1:9/services/T000/B000/SECRET") };
        let f = send(&n, &serde_json::json!({}), &fast(), in_secs(30)).await.unwrap_err();
        assert!(f.retryable && f.message.starts_with("request failed"), "{f:?}");
        assert!(!f.message.contains("SECRET"));
    }
}
