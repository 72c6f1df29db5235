//! A quota-enforcing stand-in for AWS in front of the emulators (issue 18): a loopback HTTP proxy
//! that names each request's operation, takes a token from that operation's bucket at the real
//! per-account-and-Region quota (`/work/shared/reference/aws-limits.md`: FilterLogEvents 5/s,
//! GetMetricData 50/s, ListMetrics 25/s, DescribeAlarms 9/s), answers a call without a token the
//! way the service does (HTTP 400 `ThrottlingException` "Rate exceeded", in the protocol's own
//! error shape, so the SDK classifies it as throttling), forwards the others, and counts calls
//! and throttles per operation. LocalStack and moto enforce no quota at all.
//!
//! One emulator gap is filled on the way: moto's unimplemented DescribeScalingActivities (HTTP
//! 500) is answered with no activities, as AWS answers for a quiet target.
//!
//! The operation, as the SDK sends it: `X-Amz-Target: Logs_20140328.FilterLogEvents` (JSON 1.1:
//! Logs, SageMaker, Application Auto Scaling, DynamoDB), or the URL path
//! `/service/GraniteServiceVersion20100801/operation/GetMetricData` (CloudWatch's RPCv2 CBOR).

use anyhow::{Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The real quotas (requests per second per account and Region) of the calls enrichment makes.
pub const REAL_QUOTAS: &[(&str, f64)] =
    &[("FilterLogEvents", 5.0), ("GetMetricData", 50.0), ("ListMetrics", 25.0), ("DescribeAlarms", 9.0)];

/// Calls and throttles of one operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub calls: u64,
    pub throttled: u64,
}

/// A token bucket holding one second of the quota (the burst), refilled continuously.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn take(&mut self, now: Instant) -> bool {
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.rate.max(1.0));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return true;
        }
        false
    }
}

/// The buckets and counts of one account and Region: one per test, shared by its proxies.
#[derive(Debug, Default)]
pub struct Quotas {
    buckets: Mutex<HashMap<String, Bucket>>,
    counts: Mutex<BTreeMap<String, Counts>>,
}

impl Quotas {
    /// `quotas`: operation → requests per second; others pass unlimited (and are counted).
    pub fn new(quotas: &[(&str, f64)]) -> Arc<Self> {
        let now = Instant::now();
        let buckets = quotas.iter().map(|(op, rate)| (op.to_string(), Bucket { rate: *rate, tokens: rate.max(1.0), at: now })).collect();
        Arc::new(Self { buckets: Mutex::new(buckets), counts: Mutex::default() })
    }

    pub fn real() -> Arc<Self> {
        Self::new(REAL_QUOTAS)
    }

    /// Counts the call; `false` when it is over its quota (throttled).
    fn admit(&self, op: &str) -> bool {
        let ok = match self.buckets.lock() {
            Ok(mut b) => b.get_mut(op).is_none_or(|b| b.take(Instant::now())),
            Err(_) => true,
        };
        if let Ok(mut c) = self.counts.lock() {
            let e = c.entry(op.to_string()).or_default();
            e.calls += 1;
            e.throttled += u64::from(!ok);
        }
        ok
    }

    /// Per operation, so far.
    pub fn counts(&self) -> BTreeMap<String, Counts> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// All operations together.
    pub fn total(&self) -> Counts {
        self.counts().values().fold(Counts::default(), |a, c| Counts { calls: a.calls + c.calls, throttled: a.throttled + c.throttled })
    }
}

/// The operation a request calls, as the SDK names it on the wire.
pub fn operation(target: Option<&str>, path: &str) -> String {
    if let Some(t) = target {
        return t.rsplit('.').next().unwrap_or(t).to_string();
    }
    match path.rsplit_once("/operation/") {
        Some((_, op)) => op.trim_end_matches('/').to_string(),
        None => "unknown".to_string(),
    }
}

/// CloudWatch (RPCv2 CBOR, query-compatible) says `Throttling` in `x-amzn-query-error`, as its
/// query API always did; the JSON services say `ThrottlingException` in the body and header.
fn throttled(cbor: bool) -> Response<Full<Bytes>> {
    let builder = Response::builder().status(400).header("x-amzn-requestid", "quota-stand-in");
    let built = if cbor {
        builder
            .header("smithy-protocol", "rpc-v2-cbor")
            .header("content-type", "application/cbor")
            .header("x-amzn-query-error", "Throttling;Sender")
            .body(Full::new(Bytes::from(cbor_error("com.amazonaws.cloudwatch#ThrottlingException", "Rate exceeded"))))
    } else {
        builder
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amzn-ErrorType", "ThrottlingException")
            .body(Full::new(Bytes::from(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#)))
    };
    built.unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// `{"__type": kind, "message": message}` in CBOR (RFC 8949): a map of two text pairs.
fn cbor_error(kind: &str, message: &str) -> Vec<u8> {
    fn text(out: &mut Vec<u8>, s: &str) {
        match s.len() {
            n @ 0..=23 => out.push(0x60 | n as u8),
            n @ 24..=255 => out.extend([0x78, n as u8]),
            n => {
                out.push(0x79);
                out.extend((n as u16).to_be_bytes());
            }
        }
        out.extend(s.as_bytes());
    }
    let mut out = vec![0xa2];
    for s in ["__type", kind, "message", message] {
        text(&mut out, s);
    }
    out
}

/// What the stand-in answers for the world the demo seeded, where an emulator cannot: moto stamps an
/// endpoint's `CreationTime` and `LastModifiedTime` with the moment it was seeded (after the
/// alarm's time, for a world built around it), where AWS would answer with the day the endpoint
/// was created. `None`: the emulator's answer as it is.
#[derive(Debug, Clone, Default)]
pub struct Fills {
    pub endpoint_created: Option<chrono::DateTime<chrono::Utc>>,
    /// DescribeScalingActivities' `ScalingActivities`, as AWS would list them for the world
    /// (moto does not implement the call); `None`: none, as for a quiet target.
    pub scaling_activities: Option<serde_json::Value>,
    /// The variants' instance type, where moto could not be seeded with it
    /// ([`crate::seeded_instance_type`]): DescribeEndpointConfig answers with it.
    pub instance_type: Option<String>,
}

/// One listener on loopback forwarding to `upstream` under the shared [`Quotas`].
pub struct QuotaProxy {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for QuotaProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl QuotaProxy {
    pub async fn start(upstream: &str, quotas: Arc<Quotas>) -> Result<Self> {
        Self::start_with(upstream, quotas, Fills::default(), "127.0.0.1:0").await
    }

    /// On `listen` (`127.0.0.1:0`: any free port), with the world's [`Fills`].
    pub async fn start_with(upstream: &str, quotas: Arc<Quotas>, fills: Fills, listen: &str) -> Result<Self> {
        let fills = Arc::new(fills);
        let listener = tokio::net::TcpListener::bind(listen).await.context("binding the quota stand-in")?;
        let url = format!("http://{}", listener.local_addr()?);
        let upstream = upstream.trim_end_matches('/').to_string();
        // Without a pool limit: 30 – 200 "Lambda instances" call through it at once.
        let client = reqwest::Client::builder().no_proxy().build()?;
        let task = crate::http::serve(listener, move |req| forward(req, quotas.clone(), client.clone(), upstream.clone(), fills.clone()));
        Ok(Self { url, task })
    }
}

async fn forward(
    req: Request<Incoming>,
    quotas: Arc<Quotas>,
    client: reqwest::Client,
    upstream: String,
    fills: Arc<Fills>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).map(str::to_string);
    let path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    let op = operation(target.as_deref(), req.uri().path());
    if !quotas.admit(&op) {
        return Ok(throttled(target.is_none() && path.contains("/operation/")));
    }
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap_or(reqwest::Method::POST);
    let mut out = client.request(method, format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        // The host is the upstream's; the body length is set again.
        if name != "host" && name != "content-length" {
            out = out.header(name.as_str(), value.as_bytes());
        }
    }
    let answer = match out.body(body).send().await {
        // moto has not implemented DescribeScalingActivities (HTTP 500): answered here as AWS
        // answers for a target without recent activity, so that the storm measures quotas, not
        // an emulator gap that the SDK would retry until the deadline.
        Ok(r) if op == "DescribeScalingActivities" && r.status().is_server_error() => Response::builder()
            .status(200)
            .header("content-type", "application/x-amz-json-1.1")
            .body(Full::new(Bytes::from(
                serde_json::json!({ "ScalingActivities": fills.scaling_activities.clone().unwrap_or_else(|| serde_json::json!([])) })
                    .to_string(),
            )))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))),
        Ok(r) => {
            let status_ok = r.status().is_success();
            let mut resp = Response::builder().status(r.status().as_u16());
            for (name, value) in r.headers() {
                if name != "content-length" && name != "transfer-encoding" && name != "connection" {
                    resp = resp.header(name.as_str(), value.as_bytes());
                }
            }
            let mut bytes = r.bytes().await.unwrap_or_default();
            if let (Some(created), "DescribeEndpoint", true) = (fills.endpoint_created, op.as_str(), status_ok) {
                bytes = with_creation_time(&bytes, created);
            }
            if let (Some(t), "DescribeEndpointConfig", true) = (&fills.instance_type, op.as_str(), status_ok) {
                bytes = with_instance_type(&bytes, t);
            }
            resp.body(Full::new(bytes)).unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
        }
        Err(e) => {
            let mut r = Response::new(Full::new(Bytes::from(format!("quota stand-in: upstream {upstream}: {e}"))));
            *r.status_mut() = hyper::StatusCode::BAD_GATEWAY;
            r
        }
    };
    Ok(answer)
}

/// A DescribeEndpoint answer (JSON 1.1) with `CreationTime` and `LastModifiedTime` set to `created`
/// (epoch seconds, as the protocol writes timestamps); anything unparsable passes unchanged.
fn with_creation_time(body: &Bytes, created: chrono::DateTime<chrono::Utc>) -> Bytes {
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(body) else { return body.clone() };
    let Some(o) = v.as_object_mut() else { return body.clone() };
    let at = serde_json::json!(created.timestamp_millis() as f64 / 1000.0);
    o.insert("CreationTime".into(), at.clone());
    o.insert("LastModifiedTime".into(), at);
    serde_json::to_vec(&v).map(Bytes::from).unwrap_or_else(|_| body.clone())
}

/// A DescribeEndpointConfig answer (JSON 1.1) whose instance-backed variants run on `instance_type`;
/// anything unparsable passes unchanged.
fn with_instance_type(body: &Bytes, instance_type: &str) -> Bytes {
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(body) else { return body.clone() };
    let Some(variants) = v.get_mut("ProductionVariants").and_then(|p| p.as_array_mut()) else { return body.clone() };
    for variant in variants.iter_mut().filter_map(|p| p.as_object_mut()) {
        if variant.contains_key("InstanceType") {
            variant.insert("InstanceType".into(), instance_type.into());
        }
    }
    serde_json::to_vec(&v).map(Bytes::from).unwrap_or_else(|_| body.clone())
}

/// The SDK configuration from the environment, with CloudWatch, Logs, SageMaker and Application
/// Auto Scaling going through quota stand-ins in front of their emulators (one proxy per
/// upstream, all under `quotas`); DynamoDB (the state table) goes straight to its emulator.
pub async fn sdk_behind_quotas(quotas: Arc<Quotas>) -> Result<(aws_config::SdkConfig, Vec<QuotaProxy>)> {
    let base = crate::sdk().await;
    let services = [
        ("CloudWatch", "AWS_ENDPOINT_URL_CLOUDWATCH"),
        ("CloudWatch Logs", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"),
        ("SageMaker", "AWS_ENDPOINT_URL_SAGEMAKER"),
        ("Application Auto Scaling", "AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING"),
    ];
    let mut proxies: Vec<(String, QuotaProxy)> = vec![];
    let mut urls = HashMap::new();
    for (service, env) in services {
        let upstream = std::env::var(env).with_context(|| format!("{env} (the emulators' env)"))?;
        let url = match proxies.iter().find(|(u, _)| *u == upstream) {
            Some((_, p)) => p.url.clone(),
            None => {
                let p = QuotaProxy::start(&upstream, quotas.clone()).await?;
                let url = p.url.clone();
                proxies.push((upstream, p));
                url
            }
        };
        urls.insert(service.to_string(), url);
    }
    let sdk = base.to_builder().service_config(Endpoints { urls, inner: base.clone() }).build();
    Ok((sdk, proxies.into_iter().map(|(_, p)| p).collect()))
}

/// Per-service endpoint URLs: these services to their stand-in, the rest as the environment says.
#[derive(Debug)]
struct Endpoints {
    urls: HashMap<String, String>,
    /// The configuration from the environment, for every other key.
    inner: aws_config::SdkConfig,
}

impl aws_types::service_config::LoadServiceConfig for Endpoints {
    fn load_config(&self, key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        if key.env() == "AWS_ENDPOINT_URL" {
            if let Some(url) = self.urls.get(key.service_id()) {
                return Some(url.clone());
            }
        }
        self.inner.service_config()?.load_config(key)
    }
}

/// Sample alarms about one endpoint, each with its own metric: a storm cycles through them.
pub const STORM_FIXTURES: &[&str] = &[
    "sns-gpu-utilization-alarm.json",
    "sns-5xx-errors-alarm.json",
    "sns-first-chunk-latency-p99-alarm.json",
    "sns-high-concurrency-alarm.json",
    "sns-instance-gpu-normalized-alarm.json",
    "sns-model-latency-p99-alarm.json",
    "sns-metric-math-error-rate-alarm.json",
    "sns-anomaly-detection-alarm.json",
];

/// Alarm `i` of a storm as the SNS event Lambda gets: a sample alarm (cycling through
/// [`STORM_FIXTURES`]) renamed `storm<i>-…` (own ARN, own SNS message id), about `endpoint`,
/// whose state changed at `at`.
pub fn storm_event(i: usize, endpoint: &str, at: chrono::DateTime<chrono::Utc>) -> Result<serde_json::Value> {
    let fixture = STORM_FIXTURES[i % STORM_FIXTURES.len()];
    let path = format!("{}/../events/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read_to_string(&path).with_context(|| path.clone())?;
    let mut ev: serde_json::Value = serde_json::from_str(&raw)?;
    let sns = &mut ev["Records"][0]["Sns"];
    let message = sns["Message"].as_str().context("an SNS message")?.to_string();
    let name = serde_json::from_str::<serde_json::Value>(&message)?["AlarmName"].as_str().context("AlarmName")?.to_string();
    let anchor = at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
    let swap = |s: &str| {
        s.replace(&name, &format!("storm{i:03}-{name}")).replace("deepgram-prod", endpoint).replace("2026-11-20T14:07:31.512+0000", &anchor)
    };
    sns["Message"] = swap(&message).into();
    if let Some(subject) = sns["Subject"].as_str().map(swap) {
        sns["Subject"] = subject.into();
    }
    sns["MessageId"] = format!("5707a9e1-0000-4000-8000-{i:012}").into();
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named_as_the_sdk_sends_them() {
        assert_eq!(operation(Some("Logs_20140328.FilterLogEvents"), "/"), "FilterLogEvents");
        assert_eq!(operation(None, "/service/GraniteServiceVersion20100801/operation/GetMetricData"), "GetMetricData");
        assert_eq!(operation(None, "/"), "unknown");
    }

    #[test]
    fn a_world_newer_than_moto_is_described_with_its_own_instance_type() {
        let moto = Bytes::from(
            r#"{"EndpointConfigName":"c","ProductionVariants":[{"VariantName":"AllTraffic","InstanceType":"ml.g4dn.12xlarge"},{"VariantName":"S","ServerlessConfig":{}}]}"#,
        );
        let v: serde_json::Value = serde_json::from_slice(&with_instance_type(&moto, "ml.p5.48xlarge")).unwrap();
        assert_eq!(v["ProductionVariants"][0]["InstanceType"], "ml.p5.48xlarge");
        assert!(v["ProductionVariants"][1].get("InstanceType").is_none(), "a serverless variant stays without one");
        assert_eq!(with_instance_type(&Bytes::from("not json"), "ml.p5.48xlarge"), Bytes::from("not json"));
        assert_eq!(
            crate::seeded_instance_type(&aws_sdk_sagemaker::types::ProductionVariantInstanceType::MlP548Xlarge),
            aws_sdk_sagemaker::types::ProductionVariantInstanceType::MlG4Dn12Xlarge
        );
    }

    #[test]
    fn a_bucket_admits_its_quota_per_second() {
        let q = Quotas::new(&[("FilterLogEvents", 5.0)]);
        let admitted = (0..20).filter(|_| q.admit("FilterLogEvents")).count();
        assert_eq!(admitted, 5, "a burst of one second's quota");
        assert!((0..100).all(|_| q.admit("DescribeEndpoint")), "no quota, no throttle");
        assert_eq!(q.counts()["FilterLogEvents"], Counts { calls: 20, throttled: 15 });
        assert_eq!(q.total(), Counts { calls: 120, throttled: 15 });
    }

    /// The SDK reads the stand-in's answers as throttling (its retry classifier's code list).
    #[tokio::test]
    async fn the_sdk_reads_a_throttle_as_throttling_in_both_protocols() {
        let quotas = Quotas::new(&[("FilterLogEvents", 0.0), ("ListMetrics", 0.0)]);
        // No upstream is reached: every call is over its quota.
        let proxy = QuotaProxy::start("http://127.0.0.1:9", quotas.clone()).await.unwrap();
        let sdk =
            aws_config::SdkConfig::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_cloudwatch::config::SharedCredentialsProvider::new(
                    aws_sdk_cloudwatch::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"),
                ))
                .endpoint_url(&proxy.url)
                .retry_config(aws_config::retry::RetryConfig::disabled())
                .build();
        use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
        // A bucket of zero rate still holds one token (a burst of at least one call): spend it.
        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        let _ = logs.filter_log_events().log_group_name("g").send().await;
        let e = logs.filter_log_events().log_group_name("g").send().await.unwrap_err();
        assert_eq!(e.code(), Some("ThrottlingException"), "{e:?}");
        assert_eq!(e.message(), Some("Rate exceeded"));
        let cw = aws_sdk_cloudwatch::Client::new(&sdk);
        let _ = cw.list_metrics().send().await;
        let e = cw.list_metrics().send().await.unwrap_err();
        assert_eq!(e.code(), Some("Throttling"), "{e:?}");
        assert_eq!(quotas.counts()["ListMetrics"], Counts { calls: 2, throttled: 1 });
    }
}
