//! CloudWatch's PromQL API, stood in on loopback in front of a real Prometheus
//! (`scripts/prometheus.sh`, which holds the LLM worlds in legacy label names). It serves what
//! CloudWatch documents and Prometheus 2 cannot:
//!
//! - **SigV4**: every request must carry a signature for service `monitoring` (or `aps`) that this
//!   stand-in recomputes with the test credentials' secret key (`aws-sigv4`, the signer the SDK
//!   uses) from the headers the request says it signed; otherwise 403, as AWS answers;
//! - **the dialect**: quoted UTF-8 label names in queries (`"aws.sagemaker.endpoint.name"`,
//!   `"@resource.host.id"`) are translated to the legacy names before forwarding, and the answer's
//!   label names back; series carry `__type__` and `__temporality__` as CloudWatch's do;
//! - **native histograms**: with [`Options::native_histograms`], a histogram family is listed under
//!   its own name (no `_bucket` / `_sum` / `_count`), and a `histogram_quantile` over it is
//!   answered from the classic buckets behind it;
//! - **faults**: the first requests answered 422 "TPS limit exceeded" or 429, and answers marked
//!   truncated at 500 series with CloudWatch's warning.

use anyhow::{Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use sagealarm::promql::Label;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What the stand-in does beyond translating.
#[derive(Debug, Clone)]
pub struct Options {
    /// The secret access key the signatures are checked with.
    pub secret: String,
    /// The SigV4 service name expected (`monitoring`, `aps`).
    pub service: String,
    /// Histogram families listed and queried as native histograms.
    pub native_histograms: bool,
    /// The first this many query requests answer 422 `TPS limit exceeded`.
    pub throttle_first: usize,
    /// The first this many query requests answer 429 (too many concurrent queries).
    pub busy_first: usize,
    /// Every answer carries CloudWatch's truncation warning.
    pub truncated: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            secret: crate::TEST_SECRET.into(),
            service: "monitoring".into(),
            native_histograms: true,
            throttle_first: 0,
            busy_first: 0,
            truncated: false,
        }
    }
}

/// What the stand-in saw: every request's path, its translated query, and whether it was signed.
#[derive(Debug, Default)]
pub struct Seen {
    requests: Mutex<Vec<(String, String, bool)>>,
    faults: AtomicUsize,
}

impl Seen {
    /// `(path, query or matchers as forwarded, signature valid)`.
    pub fn requests(&self) -> Vec<(String, String, bool)> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Requests answered with an injected fault.
    pub fn faults(&self) -> usize {
        self.faults.load(Ordering::SeqCst)
    }
}

pub struct CloudWatchPromQl {
    pub url: String,
    pub seen: Arc<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CloudWatchPromQl {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    upstream: String,
    options: Options,
    seen: Arc<Seen>,
    client: reqwest::Client,
    queries: AtomicUsize,
    families: tokio::sync::OnceCell<BTreeSet<String>>,
}

impl CloudWatchPromQl {
    /// A stand-in in front of the Prometheus at `upstream`.
    pub async fn start(upstream: &str, options: Options) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the PromQL stand-in")?;
        let url = format!("http://{}", listener.local_addr()?);
        let seen = Arc::new(Seen::default());
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            options,
            seen: seen.clone(),
            client: reqwest::Client::builder().no_proxy().build()?,
            queries: AtomicUsize::new(0),
            families: tokio::sync::OnceCell::new(),
        });
        let task = crate::http::serve(listener, move |req| handle(req, shared.clone()));
        Ok(Self { url, seen, task })
    }
}

fn reply(status: u16, body: impl Into<String>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.into())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

async fn handle(req: Request<Incoming>, s: Arc<Shared>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let path = parts.uri.path().to_string();
    let query_string = parts.uri.query().unwrap_or("").to_string();
    let host = parts.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1").to_string();
    let full = format!("http://{host}{}", parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let signed = verify(parts.method.as_str(), &full, &parts.headers, &body, &s.options);
    let params: Vec<(String, String)> = if parts.method == hyper::Method::GET {
        form_urlencoded::parse(query_string.as_bytes()).into_owned().collect()
    } else {
        form_urlencoded::parse(&body).into_owned().collect()
    };
    let families = s.families.get_or_init(|| histogram_families(&s)).await;
    let native = if s.options.native_histograms { families.clone() } else { BTreeSet::new() };
    let translated: Vec<(String, String)> =
        params.iter().map(|(k, v)| (k.clone(), if k == "query" || k == "match[]" { to_legacy(v, &native) } else { v.clone() })).collect();
    let shown = translated.iter().filter(|(k, _)| k == "query" || k == "match[]").map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(" ; ");
    if let Ok(mut r) = s.seen.requests.lock() {
        r.push((path.clone(), shown, signed.is_ok()));
    }
    if let Err(why) = signed {
        return Ok(reply(403, serde_json::json!({ "message": why }).to_string()));
    }
    if path.ends_with("/query") || path.ends_with("/query_range") {
        let n = s.queries.fetch_add(1, Ordering::SeqCst);
        if n < s.options.throttle_first {
            s.seen.faults.fetch_add(1, Ordering::SeqCst);
            return Ok(reply(422, r#"{"status":"error","errorType":"execution","error":"TPS limit exceeded for the account"}"#));
        }
        if n < s.options.throttle_first + s.options.busy_first {
            s.seen.faults.fetch_add(1, Ordering::SeqCst);
            return Ok(reply(429, r#"{"message":"Too many concurrent queries"}"#));
        }
    }
    // Label values: the label's name is in the path.
    let upstream_path = match path.strip_prefix("/api/v1/label/").and_then(|r| r.strip_suffix("/values")) {
        Some(name) => {
            let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy().to_string();
            let legacy = Label::from_name(&name).map(|l| l.legacy().to_string()).unwrap_or(name);
            format!("/api/v1/label/{legacy}/values")
        }
        None => path.clone(),
    };
    let form =
        form_urlencoded::Serializer::new(String::new()).extend_pairs(translated.iter().map(|(k, v)| (k.as_str(), v.as_str()))).finish();
    let sent = match parts.method == hyper::Method::GET {
        true => s.client.get(format!("{}{upstream_path}?{form}", s.upstream)).send().await,
        false => {
            s.client
                .post(format!("{}{upstream_path}", s.upstream))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await
        }
    };
    let (status, text) = match sent {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => return Ok(reply(502, serde_json::json!({ "message": format!("upstream: {e}") }).to_string())),
    };
    let mut json: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) => return Ok(reply(status, text)),
    };
    to_cloudwatch(&mut json, &native, upstream_path.ends_with("/__name__/values"), path.ends_with("/series"));
    if s.options.truncated {
        json["warnings"] =
            serde_json::json!(["result truncated to the maximum of 500 series; refine the query or use the limit parameter"]);
    }
    Ok(reply(status, json.to_string()))
}

/// The histogram families the upstream holds (`X` for every `X_bucket`).
async fn histogram_families(s: &Shared) -> BTreeSet<String> {
    let Ok(r) = s.client.get(format!("{}/api/v1/label/__name__/values", s.upstream)).send().await else { return BTreeSet::new() };
    let Ok(v) = r.json::<Value>().await else { return BTreeSet::new() };
    v["data"].as_array().into_iter().flatten().filter_map(|n| n.as_str()?.strip_suffix("_bucket").map(str::to_string)).collect()
}

/// CloudWatch's dialect to the legacy one: quoted label names to their legacy names, and a
/// `histogram_quantile` over a native histogram to one over its classic buckets.
pub fn to_legacy(q: &str, native: &BTreeSet<String>) -> String {
    let mut out = q.to_string();
    for l in Label::ALL {
        for quote in ['"', '\''] {
            out = out.replace(&format!("{quote}{}{quote}", l.cloudwatch()), l.legacy());
        }
    }
    for family in native {
        // `sum by (g) (rate(X{…}[r]))` → `sum by (g, le) (rate(X_bucket{…}[r]))`, as the client writes it.
        for f in ["rate", "sum_over_time", "increase"] {
            let needle = format!("({f}({family}{{");
            while let Some(at) = out.find(&needle) {
                let head = &out[..at];
                let Some(by_end) = head.rfind(") ") else { break };
                out = format!("{}, le{}({f}({family}_bucket{{{}", &head[..by_end], &head[by_end..], &out[at + needle.len()..]);
            }
        }
    }
    out
}

/// The legacy answer in CloudWatch's dialect: label names, native histogram families, and the
/// `__type__` / `__temporality__` labels of series.
fn to_cloudwatch(json: &mut Value, native: &BTreeSet<String>, names: bool, series: bool) {
    let data = &mut json["data"];
    if names {
        if let Some(list) = data.as_array_mut() {
            let kept: Vec<Value> = list
                .iter()
                .filter_map(|v| v.as_str())
                .filter_map(|n| {
                    let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| n.strip_suffix(s)).filter(|f| native.contains(*f));
                    match family {
                        Some(f) if n.ends_with("_bucket") => Some(f.to_string()),
                        Some(_) => None,
                        None => Some(n.to_string()),
                    }
                })
                .map(Value::from)
                .collect();
            *list = kept;
        }
        return;
    }
    let rename = |m: &mut serde_json::Map<String, Value>| {
        for l in Label::ALL {
            if let Some(v) = m.remove(l.legacy()) {
                m.insert(l.cloudwatch().to_string(), v);
            }
        }
    };
    match data {
        Value::Array(items) => {
            for item in items.iter_mut() {
                match item {
                    Value::Object(m) => {
                        rename(m);
                        if series {
                            let name = m.get("__name__").and_then(Value::as_str).unwrap_or("").to_string();
                            let kind = if name.ends_with("_total") {
                                "Sum"
                            } else if native.contains(&name) {
                                "Histogram"
                            } else {
                                "Gauge"
                            };
                            m.insert("__type__".into(), kind.into());
                            m.insert("__temporality__".into(), "cumulative".into());
                        }
                    }
                    Value::String(s) => {
                        if let Some(l) = Label::ALL.into_iter().find(|l| l.legacy() == s) {
                            *s = l.cloudwatch().to_string();
                        }
                    }
                    _ => {}
                }
            }
        }
        Value::Object(d) => {
            for r in d.get_mut("result").and_then(Value::as_array_mut).into_iter().flatten() {
                if let Some(m) = r.get_mut("metric").and_then(Value::as_object_mut) {
                    rename(m);
                }
            }
        }
        _ => {}
    }
}

/// Recomputes the request's SigV4 signature from the headers it says it signed.
fn verify(method: &str, url: &str, headers: &hyper::HeaderMap, body: &[u8], o: &Options) -> Result<(), String> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let auth = header("authorization").ok_or("Missing Authentication Token")?;
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256 ").ok_or("not a SigV4 authorization")?;
    let field = |name: &str| rest.split(", ").find_map(|p| p.strip_prefix(&format!("{name}="))).map(str::to_string);
    let credential = field("Credential").ok_or("no Credential")?;
    let signed_headers = field("SignedHeaders").ok_or("no SignedHeaders")?;
    let given = field("Signature").ok_or("no Signature")?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [akid, _date, region, service, "aws4_request"] = scope.as_slice() else {
        return Err(format!("malformed credential scope {credential}"));
    };
    if *service != o.service {
        return Err(format!("signed for service {service}, expected {}", o.service));
    }
    let date = header("x-amz-date").ok_or("no x-amz-date")?;
    let at = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ").map_err(|e| format!("x-amz-date {date}: {e}"))?.and_utc();
    let token = header("x-amz-security-token").map(str::to_string);
    let identity = aws_credential_types::Credentials::new(*akid, &o.secret, token, None, "stand-in").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(at.into())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    // The signer adds host, date and token itself, as the client's did.
    let regenerated = ["host", "x-amz-date", "x-amz-security-token"];
    let others: Vec<(&str, &str)> =
        signed_headers.split(';').filter(|h| !regenerated.contains(h)).filter_map(|h| Some((h, header(h)?))).collect();
    let signable = SignableRequest::new(method, url, others.into_iter(), SignableBody::Bytes(body)).map_err(|e| e.to_string())?;
    let (_, expected) = sign(signable, &params).map_err(|e| e.to_string())?.into_parts();
    if expected == given {
        Ok(())
    } else {
        Err("The request signature we calculated does not match the signature you provided.".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_translated_to_legacy_names_and_native_histograms_to_buckets() {
        let native: BTreeSet<String> = ["vllm:time_to_first_token_seconds".to_string()].into();
        let q = r#"histogram_quantile(0.99, sum by ("aws.sagemaker.inference_component.name") (rate(vllm:time_to_first_token_seconds{"aws.sagemaker.endpoint.name"="llm-prod"}[5m])))"#;
        assert_eq!(
            to_legacy(q, &native),
            r#"histogram_quantile(0.99, sum by (aws_sagemaker_inference_component_name, le) (rate(vllm:time_to_first_token_seconds_bucket{aws_sagemaker_endpoint_name="llm-prod"}[5m])))"#
        );
        assert_eq!(to_legacy(r#"max by ("@resource.host.id") (up)"#, &native), "max by (host_id) (up)");
    }

    #[test]
    fn answers_are_renamed_and_histogram_families_listed_once() {
        let native: BTreeSet<String> = ["h".to_string()].into();
        let mut names = serde_json::json!({"data": ["h_bucket", "h_sum", "h_count", "g"]});
        to_cloudwatch(&mut names, &native, true, false);
        assert_eq!(names["data"], serde_json::json!(["h", "g"]));
        let mut vector =
            serde_json::json!({"data": {"resultType": "vector", "result": [{"metric": {"host_id": "i-1"}, "value": [1, "1"]}]}});
        to_cloudwatch(&mut vector, &native, false, false);
        assert_eq!(vector["data"]["result"][0]["metric"]["@resource.host.id"], "i-1");
    }
}
