//! HTTP delivery with timeouts and retries (`backon`): retry 429/5xx/network errors with jittered
//! exponential backoff, wait what `Retry-After` says when it says so, never retry other 4xx.

use super::{Failure, Notifier};
use backon::{ExponentialBuilder, Retryable};
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// A longer `Retry-After` than this fails the attempt instead: Lambda's own retry (minutes
    /// later) is then the better wait than burning the function's timeout.
    pub max_retry_after: Duration,
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
        }
    }
}

pub fn client(policy: &RetryPolicy) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(policy.request_timeout)
        .connect_timeout(Duration::from_secs(3))
        .user_agent(concat!("sagealarm/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Seconds form only: Slack and PagerDuty send delta-seconds.
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    v.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

async fn attempt(client: &reqwest::Client, n: &dyn Notifier, body: &Value) -> Result<(), Failure> {
    let resp = client.post(n.url()).json(body).send().await.map_err(|e| {
        // `without_url`: a Slack webhook URL is a credential.
        let e = e.without_url();
        Failure::retryable(format!("request failed: {}", crate::intake::one_line(&e.to_string())), None)
    })?;
    let status = resp.status().as_u16();
    let ra = retry_after(resp.headers());
    let text = resp.text().await.unwrap_or_default();
    n.classify(status, ra, &text)
}

/// Posts `body`, retrying as the policy allows. Returns the last failure when it gives up.
pub async fn deliver(client: &reqwest::Client, n: &dyn Notifier, body: &Value, policy: &RetryPolicy) -> Result<(), Failure> {
    let backoff = ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_max_times(policy.max_retries)
        .with_jitter();
    let max_ra = policy.max_retry_after;
    (|| attempt(client, n, body))
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|f: &Failure| f.retryable)
        .adjust(move |f: &Failure, next: Option<Duration>| match (next, f.retry_after) {
            (None, _) => None,
            (Some(_), Some(ra)) if ra > max_ra => None,
            (Some(_), Some(ra)) => Some(ra),
            (Some(d), None) => Some(d),
        })
        .notify(|f: &Failure, wait: Duration| {
            tracing::warn!(receiver = n.name(), kind = n.kind(), error = %f.message, wait_ms = wait.as_millis() as u64, "delivery failed, retrying");
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::pagerduty::PagerDutyNotifier;
    use crate::notify::slack::SlackNotifier;
    use crate::secrets::Secret;
    use std::time::Instant;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn fast() -> RetryPolicy {
        RetryPolicy { max_retries: 3, min_delay: Duration::from_millis(10), max_delay: Duration::from_millis(50), max_retry_after: Duration::from_secs(5), request_timeout: Duration::from_secs(2) }
    }

    fn slack(server: &MockServer) -> SlackNotifier {
        SlackNotifier { name: "sre".into(), webhook_url: Secret::new(format!("{}/slack", server.uri())) }
    }

    fn pd(server: &MockServer) -> PagerDutyNotifier {
        PagerDutyNotifier { name: "pager".into(), routing_key: Secret::new("k"), events_url: format!("{}/pd", server.uri()) }
    }

    async fn reply(server: &MockServer, p: &str, t: ResponseTemplate, times: u64) {
        Mock::given(method("POST")).and(path(p)).respond_with(t).up_to_n_times(times).expect(times).mount(server).await;
    }

    #[tokio::test]
    async fn slack_ok() {
        let s = MockServer::start().await;
        reply(&s, "/slack", ResponseTemplate::new(200).set_body_string("ok"), 1).await;
        deliver(&client(&fast()), &slack(&s), &serde_json::json!({"text":"x"}), &fast()).await.unwrap();
    }

    #[tokio::test]
    async fn slack_429_honours_retry_after() {
        let s = MockServer::start().await;
        reply(&s, "/slack", ResponseTemplate::new(429).insert_header("Retry-After", "1").set_body_string("rate_limited"), 1).await;
        reply(&s, "/slack", ResponseTemplate::new(200).set_body_string("ok"), 1).await;
        let t = Instant::now();
        deliver(&client(&fast()), &slack(&s), &serde_json::json!({}), &fast()).await.unwrap();
        assert!(t.elapsed() >= Duration::from_millis(950), "waited only {:?}", t.elapsed());
    }

    #[tokio::test]
    async fn retry_after_longer_than_allowed_gives_up_retryably() {
        let s = MockServer::start().await;
        reply(&s, "/slack", ResponseTemplate::new(429).insert_header("Retry-After", "3600"), 1).await;
        let f = deliver(&client(&fast()), &slack(&s), &serde_json::json!({}), &fast()).await.unwrap_err();
        assert!(f.retryable && f.message.contains("429"), "{f:?}");
    }

    #[tokio::test]
    async fn slack_5xx_is_retried_with_backoff() {
        let s = MockServer::start().await;
        reply(&s, "/slack", ResponseTemplate::new(500).set_body_string("rollup_error"), 2).await;
        reply(&s, "/slack", ResponseTemplate::new(200).set_body_string("ok"), 1).await;
        deliver(&client(&fast()), &slack(&s), &serde_json::json!({}), &fast()).await.unwrap();
    }

    #[tokio::test]
    async fn slack_400_is_not_retried_and_says_why() {
        let s = MockServer::start().await;
        reply(&s, "/slack", ResponseTemplate::new(400).set_body_string("invalid_blocks"), 1).await;
        let f = deliver(&client(&fast()), &slack(&s), &serde_json::json!({}), &fast()).await.unwrap_err();
        assert!(!f.retryable);
        assert_eq!(f.message, "Slack answered HTTP 400: invalid_blocks");
        assert!(!f.message.contains(&s.uri()), "webhook URL leaked");
    }

    #[tokio::test]
    async fn pagerduty_202_400_429() {
        let s = MockServer::start().await;
        reply(&s, "/pd", ResponseTemplate::new(202).set_body_string(r#"{"status":"success"}"#), 1).await;
        deliver(&client(&fast()), &pd(&s), &serde_json::json!({}), &fast()).await.unwrap();

        let s = MockServer::start().await;
        reply(&s, "/pd", ResponseTemplate::new(400).set_body_string(r#"{"status":"invalid event","errors":["Length of 'routing_key' is incorrect"]}"#), 1).await;
        let f = deliver(&client(&fast()), &pd(&s), &serde_json::json!({}), &fast()).await.unwrap_err();
        assert!(!f.retryable && f.message.contains("routing_key"), "{f:?}");

        let s = MockServer::start().await;
        reply(&s, "/pd", ResponseTemplate::new(429), 2).await;
        reply(&s, "/pd", ResponseTemplate::new(202), 1).await;
        deliver(&client(&fast()), &pd(&s), &serde_json::json!({}), &fast()).await.unwrap();
    }

    #[tokio::test]
    async fn network_errors_are_retried_then_reported_without_the_url() {
        let s = MockServer::start().await;
        let n = SlackNotifier { name: "gone".into(), webhook_url: Secret::new("http://127.0.0.1:9/services/T000/B000/SECRET") };
        let f = deliver(&client(&fast()), &n, &serde_json::json!({}), &fast()).await.unwrap_err();
        assert!(f.retryable && f.message.starts_with("request failed"), "{f:?}");
        assert!(!f.message.contains("SECRET"));
        drop(s);
    }
}
