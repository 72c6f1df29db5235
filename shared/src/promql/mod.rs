//! PromQL: one Prometheus HTTP API client (`/api/v1/query`, `query_range`, `series`, `labels`,
//! `label/<name>/values`) for the three places SageMaker's detailed-observability metrics can be
//! read from ([`Source`]):
//!
//! - **CloudWatch** (the default): `https://monitoring.<region>.amazonaws.com`, SigV4 service
//!   `monitoring`, CloudWatch's dialect (quoted UTF-8 label names, native histograms);
//! - **Amazon Managed Service for Prometheus**: `https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>`,
//!   SigV4 service `aps`;
//! - **a Prometheus URL**: unsigned (an optional bearer token), legacy label names.
//!
//! Requests are POSTed form-encoded (the body is signed exactly as sent), except label values,
//! which CloudWatch serves on GET only. Throttling (429, and CloudWatch's 422 "TPS exceeded"),
//! 503 and network errors are retried with jittered backoff until the caller's deadline; a query
//! that is too expensive (any other 422) or malformed (400) is not. [`dialect`] names the labels
//! and writes selectors; [`answer`] reads what comes back, native histograms included.

pub mod answer;
pub mod dialect;

pub use answer::{Answer, Histogram, Series};
pub use dialect::{Dialect, Label};

use crate::model::text::{one_line, truncate};
use crate::secrets::{Secret, SecretRef, SecretResolver};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Utc};
use std::time::{Duration, SystemTime};
use tokio::sync::OnceCell;
use tokio::time::Instant;

/// Where PromQL queries go (`SAGEALARM_PROMQL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// No PromQL: the LLM signals are a note.
    Off,
    /// CloudWatch's Prometheus-compatible API in the function's region.
    CloudWatch,
    /// An Amazon Managed Service for Prometheus workspace in the function's region.
    Amp { workspace: String },
    /// A self-hosted Prometheus (`http(s)://host:9090`), legacy label names.
    Url { url: String },
}

impl Source {
    /// `cloudwatch` (also when unset), `amp:<workspace-id>`, an `http(s)://` URL, or `off`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        match s.to_ascii_lowercase().as_str() {
            "" | "cloudwatch" => return Ok(Self::CloudWatch),
            "off" | "none" | "0" | "false" => return Ok(Self::Off),
            _ => {}
        }
        if let Some(ws) = s.strip_prefix("amp:") {
            let ws = ws.trim();
            let valid = !ws.is_empty() && ws.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            return if valid {
                Ok(Self::Amp { workspace: ws.to_string() })
            } else {
                Err(format!("{s:?}: amp:<workspace-id> needs a workspace id like ws-0123abcd"))
            };
        }
        if s.starts_with("http://") || s.starts_with("https://") {
            return Ok(Self::Url { url: s.trim_end_matches('/').to_string() });
        }
        Err(format!("{s:?} is not cloudwatch, amp:<workspace-id>, an http(s):// URL or off"))
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Self::Url { .. } => Dialect::Legacy,
            // AMP stores what its writers send; SageMaker's metrics reach it through an OpenTelemetry
            // collector's Prometheus exporter, which writes legacy names.
            Self::Amp { .. } => Dialect::Legacy,
            Self::CloudWatch | Self::Off => Dialect::CloudWatch,
        }
    }

    /// The SigV4 service name, for the AWS sources.
    fn signing_name(&self) -> Option<&'static str> {
        match self {
            Self::CloudWatch => Some("monitoring"),
            Self::Amp { .. } => Some("aps"),
            _ => None,
        }
    }

    /// Where the API lives, in `region`.
    fn base_url(&self, region: &str) -> Option<String> {
        let domain = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
        match self {
            Self::Off => None,
            Self::CloudWatch => Some(format!("https://monitoring.{region}.{domain}")),
            Self::Amp { workspace } => Some(format!("https://aps-workspaces.{region}.{domain}/workspaces/{workspace}")),
            Self::Url { url } => Some(url.clone()),
        }
    }

    /// How it is named in notes and logs (never a credential).
    pub fn describe(&self) -> String {
        match self {
            Self::Off => "off".into(),
            Self::CloudWatch => "CloudWatch PromQL".into(),
            Self::Amp { workspace } => format!("Amazon Managed Prometheus {workspace}"),
            Self::Url { url } => format!("Prometheus at {}", url.split('@').next_back().unwrap_or(url)),
        }
    }
}

/// How a PromQL client is set up: where, and with what.
#[derive(Debug, Clone)]
pub struct PromQlSettings {
    pub source: Source,
    /// Replaces the source's base URL, keeping its dialect and signing (`SAGEALARM_PROMQL_URL`),
    /// as `AWS_ENDPOINT_URL_*` does for the SDK clients: tests and local runs.
    pub base_url: Option<String>,
    /// A bearer token for a Prometheus URL (`SAGEALARM_PROMQL_BEARER`, a secret reference).
    pub bearer: Option<SecretRef>,
    /// `env:` and literal bearer tokens are accepted (local runs only).
    pub allow_plaintext: bool,
    pub request_timeout: Duration,
}

impl Default for PromQlSettings {
    fn default() -> Self {
        Self { source: Source::CloudWatch, base_url: None, bearer: None, allow_plaintext: false, request_timeout: Duration::from_secs(8) }
    }
}

/// A PromQL call that did not answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromQlError {
    /// The API answered with an error status or `"status": "error"`.
    #[error("HTTP {status}: {message}")]
    Status { status: u16, message: String, retryable: bool },
    #[error("could not reach {0}")]
    Transport(String),
    #[error("unreadable answer: {0}")]
    Decode(String),
    #[error("cannot sign the request: {0}")]
    Signing(String),
    #[error("no answer within the deadline")]
    Deadline,
    #[error("PromQL is not configured")]
    Off,
}

impl PromQlError {
    pub fn retryable(&self) -> bool {
        match self {
            Self::Status { retryable, .. } => *retryable,
            Self::Transport(_) => true,
            _ => false,
        }
    }
}

/// The client. Cheap to share (`Arc`); its HTTP client and credentials are built at the first call.
pub struct PromQl {
    source: Source,
    dialect: Dialect,
    base: Option<String>,
    region: String,
    signing: Option<&'static str>,
    credentials: Option<SharedCredentialsProvider>,
    bearer: Option<(SecretRef, SecretResolver)>,
    bearer_value: OnceCell<Secret>,
    http: OnceCell<reqwest::Client>,
    request_timeout: Duration,
}

impl std::fmt::Debug for PromQl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromQl").field("source", &self.source).field("base", &self.base).finish_non_exhaustive()
    }
}

/// Attempts per request at most (with the deadline, whichever ends first).
const MAX_ATTEMPTS: usize = 4;

impl PromQl {
    /// A client for `settings`, signing with the SDK configuration's credentials and region.
    pub fn new(settings: &PromQlSettings, sdk: &aws_config::SdkConfig) -> Self {
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
        let base = settings.base_url.clone().map(|u| u.trim_end_matches('/').to_string()).or_else(|| settings.source.base_url(&region));
        Self {
            dialect: settings.source.dialect(),
            signing: settings.source.signing_name(),
            credentials: sdk.credentials_provider(),
            bearer: settings.bearer.clone().map(|b| (b, SecretResolver::new(Some(sdk), settings.allow_plaintext))),
            bearer_value: OnceCell::new(),
            http: OnceCell::new(),
            request_timeout: settings.request_timeout,
            source: settings.source.clone(),
            region,
            base,
        }
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// An instant query at `at`.
    pub async fn query(&self, query: &str, at: DateTime<Utc>, deadline: Instant) -> Result<Answer, PromQlError> {
        let form = vec![("query", query.to_string()), ("time", secs(at))];
        self.request("query", form, deadline).await
    }

    /// A range query from `start` to `end` every `step`.
    pub async fn query_range(
        &self,
        query: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step_s: i64,
        deadline: Instant,
    ) -> Result<Answer, PromQlError> {
        let form = vec![("query", query.to_string()), ("start", secs(start)), ("end", secs(end)), ("step", step_s.max(1).to_string())];
        self.request("query_range", form, deadline).await
    }

    /// The label sets of the series `matchers` select between `start` and `end`.
    pub async fn series(
        &self,
        matchers: &[String],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        deadline: Instant,
    ) -> Result<Answer, PromQlError> {
        self.request("series", selection(matchers, start, end), deadline).await
    }

    /// The label names of the series `matchers` select (all, without matchers).
    pub async fn labels(
        &self,
        matchers: &[String],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        deadline: Instant,
    ) -> Result<Answer, PromQlError> {
        self.request("labels", selection(matchers, start, end), deadline).await
    }

    /// The values of label `name` (`__name__`: the metric names) among the series `matchers` select.
    pub async fn label_values(
        &self,
        name: &str,
        matchers: &[String],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        deadline: Instant,
    ) -> Result<Answer, PromQlError> {
        let query = selection(matchers, start, end);
        // The label's name is a path segment: `@` and `.` are percent-encoded as CloudWatch documents.
        let path = format!("label/{}/values", percent_encoding::utf8_percent_encode(name, PATH_SEGMENT));
        self.send(reqwest::Method::GET, &path, query, deadline).await
    }

    async fn request(&self, path: &str, form: Vec<(&str, String)>, deadline: Instant) -> Result<Answer, PromQlError> {
        self.send(reqwest::Method::POST, path, form, deadline).await
    }

    /// One API call, retried while the error is retryable and the deadline allows another attempt.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        params: Vec<(&str, String)>,
        deadline: Instant,
    ) -> Result<Answer, PromQlError> {
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(150))
            .with_max_delay(Duration::from_secs(2))
            .with_max_times(MAX_ATTEMPTS - 1)
            .with_jitter()
            .build();
        loop {
            let err = match tokio::time::timeout_at(deadline, self.attempt(&method, path, &params)).await {
                Err(_) => return Err(PromQlError::Deadline),
                Ok(Ok(a)) => return Ok(a),
                Ok(Err(e)) if !e.retryable() => return Err(e),
                Ok(Err(e)) => e,
            };
            match backoff.next() {
                Some(wait) if Instant::now() + wait < deadline => {
                    tracing::debug!(path, error = %err, wait_ms = wait.as_millis() as u64, "PromQL call retried");
                    tokio::time::sleep(wait).await;
                }
                _ => return Err(err),
            }
        }
    }

    async fn attempt(&self, method: &reqwest::Method, path: &str, params: &[(&str, String)]) -> Result<Answer, PromQlError> {
        let base = self.base.as_deref().ok_or(PromQlError::Off)?;
        let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str()))).finish();
        let (url, body) = if *method == reqwest::Method::GET {
            (format!("{base}/api/v1/{path}?{encoded}"), String::new())
        } else {
            (format!("{base}/api/v1/{path}"), encoded)
        };
        let http = self.http.get_or_try_init(|| async { client(self.request_timeout) }).await?;
        let mut headers: Vec<(&str, String)> = vec![];
        if *method == reqwest::Method::POST {
            headers.push(("content-type", "application/x-www-form-urlencoded".into()));
        }
        if let Some(service) = self.signing {
            headers.extend(self.sign(method.as_str(), &url, &headers, body.as_bytes(), service).await?);
        } else if let Some((reference, resolver)) = &self.bearer {
            let token = self
                .bearer_value
                .get_or_try_init(|| async { resolver.resolve(reference).await.map_err(|e| PromQlError::Signing(e.to_string())) })
                .await?;
            headers.push(("authorization", format!("Bearer {}", token.expose())));
        }
        let mut req = http.request(method.clone(), &url);
        for (k, v) in &headers {
            req = req.header(*k, v);
        }
        if *method == reqwest::Method::POST {
            req = req.body(body);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| PromQlError::Transport(format!("{}: {}", self.source.describe(), one_line(&e.without_url().to_string()))))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| PromQlError::Transport(one_line(&e.without_url().to_string())))?;
        answer::parse(status, &text)
    }

    /// The SigV4 headers for this request (`authorization`, `x-amz-date`, the session token).
    async fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
        service: &str,
    ) -> Result<Vec<(&'static str, String)>, PromQlError> {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        let provider = self.credentials.as_ref().ok_or_else(|| PromQlError::Signing("no AWS credentials configured".into()))?;
        let creds = provider.provide_credentials().await.map_err(|e| PromQlError::Signing(one_line(&e.to_string())))?;
        let identity = creds.into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| PromQlError::Signing(e.to_string()))?
            .into();
        let signable = SignableRequest::new(method, url, headers.iter().map(|(k, v)| (*k, v.as_str())), SignableBody::Bytes(body))
            .map_err(|e| PromQlError::Signing(e.to_string()))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| PromQlError::Signing(e.to_string()))?.into_parts();
        // The header names aws-sigv4 sets are static (`authorization`, `x-amz-date`, …).
        Ok(instructions.headers().map(|(k, v)| (static_name(k), v.to_string())).collect())
    }
}

/// The names `aws-sigv4` puts on a request, as `'static` strings.
fn static_name(name: &str) -> &'static str {
    match name {
        "authorization" => "authorization",
        "x-amz-date" => "x-amz-date",
        "x-amz-security-token" => "x-amz-security-token",
        "x-amz-content-sha256" => "x-amz-content-sha256",
        _ => "x-amz-unknown",
    }
}

/// Characters percent-encoded in a path segment (a label name like `@resource.host.id`).
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'_').remove(b'-').remove(b'~').remove(b'.');

/// The parameters of the metadata calls (`series`, `labels`, label values): the series that
/// `matchers` select between `start` and `end`.
fn selection(matchers: &[String], start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<(&'static str, String)> {
    let mut params: Vec<(&str, String)> = matchers.iter().map(|m| ("match[]", m.clone())).collect();
    params.extend([("start", secs(start)), ("end", secs(end))]);
    params
}

fn secs(t: DateTime<Utc>) -> String {
    format!("{:.3}", t.timestamp_millis() as f64 / 1000.0)
}

/// The PromQL HTTP client, trusting [`crate::tls::roots`].
fn client(timeout: Duration) -> Result<reqwest::Client, PromQlError> {
    let roots = crate::tls::roots().map_err(|e| PromQlError::Transport(e.to_string()))?;
    let certs = roots
        .iter()
        .map(|c| reqwest::Certificate::from_der(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PromQlError::Transport(one_line(&e.to_string())))?;
    reqwest::Client::builder()
        .tls_certs_only(certs)
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(3))
        .user_agent(concat!("sagealarm/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| PromQlError::Transport(truncate(&one_line(&e.to_string()), 300)))
}

#[cfg(test)]
mod tests;
