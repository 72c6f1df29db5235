//! A fast fake of the AWS APIs enrichment calls, with a fixed delay before every answer, so that
//! the time an enriched alarm takes is made of that delay and the code's own concurrency, not of
//! an emulator's speed (LocalStack takes seconds for a few hundred GetMetricData queries).
//!
//! It speaks what the SDK crates in Cargo.lock send: SageMaker, CloudWatch Logs and Application
//! Auto Scaling are awsJson1_1 (`X-Amz-Target`), CloudWatch (aws-sdk-cloudwatch ≥ 1.100) is Smithy RPC v2 CBOR
//! (`POST /service/GraniteServiceVersion20100801/operation/<Op>`). The endpoint has `instances`
//! instances × `gpus` GPUs with enhanced metrics, like `testkit`'s worlds; GPU 2 of the second
//! instance runs hot and logs CUDA out-of-memory errors, so the fleet analysis has work to do.
//! The variant is autoscaled (2 up to twice its size, target tracking on invocations per
//! instance) and scaled out once half an hour before the alarm, so capacity has work to do too.
//!
//! It also answers the Prometheus HTTP API (`/api/v1/…`, CloudWatch's PromQL endpoint): one vLLM
//! inference component on every instance, the second instance's KV cache full. The answers are
//! small and shaped like CloudWatch's (quoted UTF-8 label names); they exist so the PromQL
//! requests take their place among the calls, with the same delay, not to test the queries
//! (`shared/tests/llm.rs` does, against a real Prometheus).

use anyhow::{anyhow, Context, Result};
use ciborium::value::Value as Cbor;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const ENDPOINT: &str = "deepgram-prod";
pub const VARIANT: &str = "AllTraffic";
const SCALABLE_ID: &str = "endpoint/deepgram-prod/variant/AllTraffic";
const ENDPOINTS_NS: &str = "/aws/sagemaker/Endpoints";
const INVOCATIONS_NS: &str = "AWS/SageMaker";
/// ListMetrics' page size in AWS.
const LIST_PAGE: usize = 500;

#[derive(Clone)]
pub struct World {
    pub instances: usize,
    pub gpus: usize,
}

struct MetricStream {
    namespace: &'static str,
    name: &'static str,
    dims: Vec<(&'static str, String)>,
}

impl World {
    pub fn instance_id(i: usize) -> String {
        format!("i-0{:016x}", 0x5a9e_0000_u64 + i as u64)
    }

    const HOT: (usize, usize) = (1, 2);

    fn streams(&self) -> Vec<MetricStream> {
        let base = |i: usize| {
            vec![("EndpointName", ENDPOINT.to_string()), ("VariantName", VARIANT.to_string()), ("InstanceId", Self::instance_id(i))]
        };
        let mut out = vec![];
        // Variant-level streams exist too; enrichment must skip them.
        for (ns, name) in [(ENDPOINTS_NS, "GPUUtilization"), (INVOCATIONS_NS, "Invocations")] {
            out.push(MetricStream { namespace: ns, name, dims: vec![("EndpointName", ENDPOINT.into()), ("VariantName", VARIANT.into())] });
        }
        for i in 0..self.instances {
            for g in 0..self.gpus {
                for name in ["GPUUtilization", "GPUUtilizationNormalized", "GPUMemoryUtilizationNormalized"] {
                    let mut dims = base(i);
                    dims.push(("GpuId", g.to_string()));
                    out.push(MetricStream { namespace: ENDPOINTS_NS, name, dims });
                }
            }
            for name in ["CPUUtilizationNormalized", "MemoryUtilization"] {
                out.push(MetricStream { namespace: ENDPOINTS_NS, name, dims: base(i) });
            }
            for name in ["ConcurrentRequestsPerModel", "Invocations"] {
                out.push(MetricStream { namespace: INVOCATIONS_NS, name, dims: base(i) });
            }
        }
        out
    }

    /// A steady fleet around 40 % with a small per-member wobble; the hot GPU at 99 %.
    fn value(&self, metric: &str, instance: Option<usize>, gpu: Option<usize>, step: i64) -> f64 {
        let i = instance.unwrap_or(0);
        let wobble = ((i * 7 + gpu.unwrap_or(0) * 3 + step as usize) % 5) as f64;
        let hot_instance = instance == Some(Self::HOT.0);
        match metric {
            m if m.starts_with("GPU") && hot_instance && gpu == Some(Self::HOT.1) => 99.0,
            m if m.starts_with("GPU") => 38.0 + wobble,
            "CPUUtilizationNormalized" => 30.0 + wobble,
            "MemoryUtilization" => 60.0 + wobble,
            "ConcurrentRequestsPerModel" => {
                if hot_instance {
                    9.0
                } else {
                    3.0
                }
            }
            _ => {
                if hot_instance {
                    420.0
                } else {
                    150.0 + wobble
                }
            }
        }
    }
}

pub struct FakeAws {
    pub url: String,
    counts: Arc<Mutex<BTreeMap<String, u32>>>,
    total: Arc<AtomicU32>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The metrics GetMetricData requests asked for (what CloudWatch bills), over all requests.
static METRICS_REQUESTED: AtomicU32 = AtomicU32::new(0);

impl FakeAws {
    pub fn start(world: World, delay: Duration) -> Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("fake AWS: binding 127.0.0.1")?;
        listener.set_nonblocking(true).context("fake AWS: a non-blocking listener")?;
        let url = format!("http://{}", listener.local_addr().context("fake AWS address")?);
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let total = Arc::new(AtomicU32::new(0));
        let world = Arc::new(world);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        // Its own runtime on its own thread: the bench starts it from plain code and from inside
        // a runtime (the cost row, the tests) alike, and it keeps off the function's cores'
        // schedule as much as two cores allow.
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("fake AWS runtime")?;
        let (c, t) = (counts.clone(), total.clone());
        std::thread::spawn(move || {
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                let task = sagealarm_testkit::http::serve(listener, move |req| answer(req, world.clone(), delay, c.clone(), t.clone()));
                let _ = stopped.await;
                task.abort();
            })
        });
        Ok(Self { url, counts, total, stop: Some(stop) })
    }

    /// Metrics requested through GetMetricData so far (every fake in this process).
    pub fn metrics_requested(&self) -> u32 {
        METRICS_REQUESTED.load(Ordering::SeqCst)
    }

    /// Requests answered so far.
    pub fn total(&self) -> u32 {
        self.total.load(Ordering::SeqCst)
    }

    pub fn counts(&self) -> BTreeMap<String, u32> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl Drop for FakeAws {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// One request, answered `delay` after it arrived. The delay stands for everything AWS does
/// before its answer reaches the function, its own work included: the fake's work (parsing a
/// 500-query GetMetricData request and building its answer takes ~7 ms) is done within the delay,
/// not added to it, each request on a thread of its own so that concurrent ones overlap as they
/// would against AWS.
async fn answer(
    req: Request<Incoming>,
    world: Arc<World>,
    delay: Duration,
    counts: Arc<Mutex<BTreeMap<String, u32>>>,
    total: Arc<AtomicU32>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let arrived = std::time::Instant::now();
    total.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).map(str::to_string);
    let url = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let response = tokio::task::spawn_blocking(move || {
        let response = respond(&world, target, &url, &body, &counts);
        // A thread's sleep, not the runtime's timer, which rounds up to its next millisecond tick.
        std::thread::sleep(delay.saturating_sub(arrived.elapsed()));
        response
    })
    .await
    .unwrap_or_else(|e| reply(500, "application/json", format!("{{\"message\": \"fake AWS: {e}\"}}").into_bytes(), None));
    Ok(response)
}

fn reply(status: u16, content_type: &str, body: Vec<u8>, protocol: Option<&str>) -> Response<Full<Bytes>> {
    let mut r = Response::builder().status(status).header("Content-Type", content_type);
    if let Some(p) = protocol {
        r = r.header("smithy-protocol", p);
    }
    r.body(Full::new(Bytes::from(body))).unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn respond(world: &World, target: Option<String>, url: &str, body: &[u8], counts: &Mutex<BTreeMap<String, u32>>) -> Response<Full<Bytes>> {
    let (op, answer) = match (&target, url.rsplit_once("/operation/")) {
        _ if url.starts_with("/api/v1/") => {
            let path = url.trim_start_matches("/api/v1/").split('?').next().unwrap_or_default().to_string();
            (format!("PromQL {path}"), promql_answer(world, &path, body))
        }
        (Some(t), _) => {
            let op = t.rsplit('.').next().unwrap_or_default().to_string();
            (op.clone(), json_answer(world, &op, body))
        }
        (None, Some((_, op))) => (op.to_string(), cbor_answer(world, op, body)),
        _ => ("unknown".into(), Err(anyhow!("unrecognised request {url}"))),
    };
    if let Ok(mut c) = counts.lock() {
        *c.entry(op.clone()).or_default() += 1;
    }
    match answer {
        Ok(Answer::Json(v)) if op.starts_with("PromQL") => reply(200, "application/json", serde_json::to_vec(&v).unwrap_or_default(), None),
        Ok(Answer::Json(v)) => reply(200, "application/x-amz-json-1.1", serde_json::to_vec(&v).unwrap_or_default(), None),
        Ok(Answer::Cbor(v)) => {
            let mut bytes = vec![];
            ciborium::ser::into_writer(&v, &mut bytes).expect("CBOR to memory");
            reply(200, "application/cbor", bytes, Some("rpc-v2-cbor"))
        }
        Err(e) => {
            eprintln!("fake AWS: {op}: {e:#}");
            let body = json!({"__type": "ValidationException", "message": format!("{e:#}")});
            reply(400, "application/x-amz-json-1.1", serde_json::to_vec(&body).unwrap_or_default(), None)
        }
    }
}

enum Answer {
    Json(Value),
    Cbor(Cbor),
}

/// The Prometheus HTTP API: the metric names of a vLLM endpoint, no delta temporality, and per
/// instance one series of the component `ic-bench` for every query.
fn promql_answer(world: &World, path: &str, body: &[u8]) -> Result<Answer> {
    let form: BTreeMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    // `key`: "values" (a range query's points) or "value" (an instant query's one sample).
    let series = |key: &str, value: &dyn Fn(usize) -> Value| -> Vec<Value> {
        (0..world.instances)
            .map(|i| {
                let mut v = json!({
                    "metric": {
                        "aws.sagemaker.endpoint.name": ENDPOINT,
                        "aws.sagemaker.inference_component.name": "ic-bench",
                        "@resource.host.id": World::instance_id(i),
                        "@resource.cloud.availability_zone": if i % 2 == 0 { "us-east-1a" } else { "us-east-1b" },
                    }
                });
                v[key] = value(i);
                v
            })
            .collect()
    };
    let kv = |i: usize| if i == World::HOT.0 { 0.99 } else { 0.4 };
    let data = match path {
        "label/__name__/values" => json!([
            "vllm:kv_cache_usage_perc",
            "vllm:num_requests_running",
            "vllm:num_requests_waiting",
            "vllm:time_to_first_token_seconds",
        ]),
        "series" => json!([]),
        "query_range" => {
            let num = |k: &str| form.get(k).and_then(|v| v.parse::<f64>().ok()).with_context(|| format!("query_range without {k}"));
            let (start, end, step) = (num("start")?, num("end")?, num("step")?.max(1.0));
            let points = |v: f64| {
                let n = ((end - start) / step) as usize + 1;
                Value::Array((0..n).map(|k| json!([start + k as f64 * step, v.to_string()])).collect())
            };
            json!({ "resultType": "matrix", "result": series("values", &|i| points(kv(i))) })
        }
        "query" => {
            let at = form.get("time").and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            json!({ "resultType": "vector", "result": series("value", &|i| json!([at, kv(i).to_string()])) })
        }
        other => return Err(anyhow!("no fake for /api/v1/{other}")),
    };
    Ok(Answer::Json(json!({ "status": "success", "data": data })))
}

fn json_answer(world: &World, op: &str, body: &[u8]) -> Result<Answer> {
    let req: Value = serde_json::from_slice(body).context("JSON body")?;
    let created = 1_763_000_000.0;
    let v = match op {
        "DescribeEndpoint" => json!({
            "EndpointName": ENDPOINT,
            "EndpointArn": format!("arn:aws:sagemaker:us-east-1:123456789012:endpoint/{ENDPOINT}"),
            "EndpointConfigName": format!("{ENDPOINT}-config"),
            "EndpointStatus": "InService",
            "CreationTime": created,
            "LastModifiedTime": created,
            "ProductionVariants": [{"VariantName": VARIANT, "CurrentInstanceCount": world.instances, "DesiredInstanceCount": world.instances}],
        }),
        "DescribeEndpointConfig" => json!({
            "EndpointConfigName": format!("{ENDPOINT}-config"),
            "EndpointConfigArn": format!("arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/{ENDPOINT}-config"),
            "CreationTime": created,
            "ProductionVariants": [{"VariantName": VARIANT, "ModelName": "deepgram-nova", "InstanceType": "ml.g5.12xlarge", "InitialInstanceCount": world.instances}],
            "MetricsConfig": {"EnableEnhancedMetrics": true, "MetricPublishFrequencyInSeconds": 10},
        }),
        "FilterLogEvents" => {
            let start = req["startTime"].as_i64().unwrap_or(0);
            let mut events = vec![];
            // A few routine lines per instance (capped like a busy fleet's filtered page) and the
            // hot instance's failures.
            for i in 0..world.instances.min(20) {
                for k in 0..3 {
                    events.push((i, k, format!("ERROR request {k}{i} failed: upstream timeout after 30000 ms")));
                }
            }
            for k in 0..3 {
                events.push((
                    World::HOT.0,
                    10 + k,
                    format!("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.{k} GiB (GPU 2; 22.2 GiB total)"),
                ));
            }
            let events: Vec<Value> = events
                .into_iter()
                .enumerate()
                .map(|(n, (i, k, message))| {
                    json!({"logStreamName": format!("{VARIANT}/{}", World::instance_id(i)), "timestamp": start + 60_000 * k as i64, "ingestionTime": start, "message": message, "eventId": n.to_string()})
                })
                .collect();
            json!({"events": events, "searchedLogStreams": []})
        }
        "DescribeScalableTargets" => json!({"ScalableTargets": [{
            "ServiceNamespace": "sagemaker",
            "ResourceId": SCALABLE_ID,
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "MinCapacity": 2,
            "MaxCapacity": (world.instances * 2).max(2),
            "RoleARN": "arn:aws:iam::123456789012:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
            "CreationTime": created,
        }]}),
        "DescribeScalingPolicies" => json!({"ScalingPolicies": [{
            "PolicyARN": "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:bench",
            "PolicyName": "invocations-per-instance",
            "ServiceNamespace": "sagemaker",
            "ResourceId": SCALABLE_ID,
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 200.0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                "ScaleOutCooldown": 300,
                "ScaleInCooldown": 600,
            },
            "Alarms": [],
            "CreationTime": created,
        }]}),
        "DescribeScalingActivities" => {
            // Half an hour before now (the bench's alarm fired a minute ago).
            let at =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(created) - 1800.0;
            json!({"ScalingActivities": [{
                "ActivityId": "bench-1",
                "ServiceNamespace": "sagemaker",
                "ResourceId": SCALABLE_ID,
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                "Description": format!("Setting desired instance count to {}.", world.instances),
                "Cause": "monitor alarm TargetTracking-bench-AlarmHigh in state ALARM triggered policy invocations-per-instance",
                "StartTime": at,
                "EndTime": at + 480.0,
                "StatusCode": "Successful",
                "StatusMessage": format!("Successfully set desired instance count to {}. Change successfully fulfilled by sagemaker.", world.instances),
            }]})
        }
        other => return Err(anyhow!("operation {other} is not faked")),
    };
    Ok(Answer::Json(v))
}

fn get<'a>(v: &'a Cbor, key: &str) -> Option<&'a Cbor> {
    v.as_map()?.iter().find(|(k, _)| k.as_text() == Some(key)).map(|(_, v)| v)
}

fn text(v: Option<&Cbor>) -> Option<String> {
    v?.as_text().map(str::to_string)
}

fn epoch_s(v: Option<&Cbor>) -> Option<f64> {
    let v = match v? {
        Cbor::Tag(1, inner) => inner.as_ref(),
        other => other,
    };
    match v {
        Cbor::Float(f) => Some(*f),
        Cbor::Integer(i) => Some(i128::from(*i) as f64),
        _ => None,
    }
}

fn map(entries: Vec<(&str, Cbor)>) -> Cbor {
    Cbor::Map(entries.into_iter().map(|(k, v)| (Cbor::Text(k.to_string()), v)).collect())
}

fn cbor_answer(world: &World, op: &str, body: &[u8]) -> Result<Answer> {
    let req: Cbor = ciborium::de::from_reader(body).context("CBOR body")?;
    let v = match op {
        "ListMetrics" => {
            let ns = text(get(&req, "Namespace")).unwrap_or_default();
            let filters: Vec<(String, Option<String>)> = get(&req, "Dimensions")
                .and_then(Cbor::as_array)
                .map(|a| a.iter().map(|d| (text(get(d, "Name")).unwrap_or_default(), text(get(d, "Value")))).collect())
                .unwrap_or_default();
            let from: usize = text(get(&req, "NextToken")).and_then(|t| t.parse().ok()).unwrap_or(0);
            let all: Vec<MetricStream> = world
                .streams()
                .into_iter()
                .filter(|s| s.namespace == ns)
                .filter(|s| filters.iter().all(|(n, v)| s.dims.iter().any(|(dn, dv)| dn == n && v.as_ref().is_none_or(|v| v == dv))))
                .collect();
            let page: Vec<Cbor> = all
                .iter()
                .skip(from)
                .take(LIST_PAGE)
                .map(|s| {
                    let dims = s
                        .dims
                        .iter()
                        .map(|(n, v)| map(vec![("Name", Cbor::Text(n.to_string())), ("Value", Cbor::Text(v.clone()))]))
                        .collect();
                    map(vec![
                        ("Namespace", Cbor::Text(s.namespace.into())),
                        ("MetricName", Cbor::Text(s.name.into())),
                        ("Dimensions", Cbor::Array(dims)),
                    ])
                })
                .collect();
            let mut out = vec![("Metrics", Cbor::Array(page))];
            if from + LIST_PAGE < all.len() {
                out.push(("NextToken", Cbor::Text((from + LIST_PAGE).to_string())));
            }
            map(out)
        }
        "GetMetricData" => {
            let start = epoch_s(get(&req, "StartTime")).context("StartTime")? as i64;
            let end = epoch_s(get(&req, "EndTime")).context("EndTime")? as i64;
            let queries = get(&req, "MetricDataQueries").and_then(Cbor::as_array).context("MetricDataQueries")?;
            METRICS_REQUESTED.fetch_add(queries.len() as u32, Ordering::SeqCst);
            let results = queries
                .iter()
                .map(|q| {
                    let id = text(get(q, "Id")).unwrap_or_default();
                    let stat = get(q, "MetricStat");
                    let metric = stat.and_then(|s| get(s, "Metric"));
                    let name = text(metric.and_then(|m| get(m, "MetricName"))).unwrap_or_default();
                    let dim = |want: &str| {
                        metric
                            .and_then(|m| get(m, "Dimensions"))
                            .and_then(Cbor::as_array)
                            .and_then(|a| a.iter().find(|d| text(get(d, "Name")).as_deref() == Some(want)))
                            .and_then(|d| text(get(d, "Value")))
                    };
                    let instance = dim("InstanceId").and_then(|i| (0..world.instances).find(|n| World::instance_id(*n) == i));
                    let gpu = dim("GpuId").and_then(|g| g.parse().ok());
                    let period =
                        stat.and_then(|s| get(s, "Period")).and_then(|p| p.as_integer()).map(|p| i128::from(p) as i64).unwrap_or(60).max(1);
                    let steps: Vec<i64> = (0..).map(|k| start - start.rem_euclid(period) + k * period).take_while(|t| *t < end).collect();
                    let stamps = steps.iter().map(|t| Cbor::Tag(1, Box::new(Cbor::Float(*t as f64)))).collect();
                    let values = steps.iter().enumerate().map(|(k, _)| Cbor::Float(world.value(&name, instance, gpu, k as i64))).collect();
                    map(vec![
                        ("Id", Cbor::Text(id)),
                        ("Label", Cbor::Text(name)),
                        ("Timestamps", Cbor::Array(stamps)),
                        ("Values", Cbor::Array(values)),
                        ("StatusCode", Cbor::Text("Complete".into())),
                    ])
                })
                .collect();
            map(vec![("MetricDataResults", Cbor::Array(results)), ("Messages", Cbor::Array(vec![]))])
        }
        // The alarm's tags, as an alarm owned by a team with a runbook carries them.
        "ListTagsForResource" => map(vec![(
            "Tags",
            Cbor::Array(vec![
                map(vec![("Key", Cbor::Text("team".into())), ("Value", Cbor::Text("ml-platform".into()))]),
                map(vec![("Key", Cbor::Text("runbook".into())), ("Value", Cbor::Text("https://runbooks.example.com/gpu".into()))]),
            ]),
        )]),
        other => return Err(anyhow!("operation {other} is not faked")),
    };
    Ok(Answer::Cbor(v))
}

#[cfg(test)]
mod tests {
    //! The fake against the library itself, in-process: every call enrichment makes is answered
    //! (no notes) and the critical path is the one the README's benchmark table shows (2 calls for
    //! 3 and 16 instances, 3 for 64), with capacity's three calls beside it.
    use super::*;
    use sagealarm::enrich::{EnrichSettings, Enricher};
    use sagealarm::model::Notification;

    async fn enrich(instances: usize) -> (sagealarm::enrich::Enrichment, BTreeMap<String, u32>) {
        let fake = FakeAws::start(World { instances, gpus: 4 }, Duration::from_millis(5)).unwrap();
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&fake.url)
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(aws_credential_types::Credentials::new(
                "test", "test", None, None, "bench",
            )))
            .build();
        let raw = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/sns-gpu-utilization-alarm.json")).unwrap();
        // The alarm fired a minute ago, as `fresh_event` makes it for the bench.
        let anchor = (chrono::Utc::now() - chrono::Duration::minutes(1)).format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
        let raw = raw.replace("2026-11-20T14:07:31.512+0000", &anchor);
        let Notification::Alarm(a) = sagealarm::intake::parse_bytes(raw.as_bytes()).unwrap().remove(0) else { panic!("not an alarm") };
        let target = sagealarm::subject::resolve(&a);
        let e = Enricher::new(&sdk, EnrichSettings::default()).enrich(&a, &target).await;
        (e, fake.counts())
    }

    #[tokio::test]
    async fn every_call_is_answered_and_the_critical_path_is_unchanged() {
        for (instances, critical) in [(3, 2), (64, 3)] {
            let (e, counts) = enrich(instances).await;
            assert_eq!(e.notes, vec![], "{instances} instances: {counts:?}");
            let st = e.stats.as_ref().unwrap();
            assert_eq!(st.critical_path_calls, critical, "{instances} instances: {counts:?}");
            for op in ["DescribeScalableTargets", "DescribeScalingPolicies", "DescribeScalingActivities"] {
                assert_eq!(counts.get(op), Some(&1), "{op}: {counts:?}");
            }
            let c = e.capacity.as_ref().expect("the fake's scalable target");
            assert_eq!((c.scaled[0].range, c.scaled[0].at_max), (Some((2, (instances * 2) as i32)), false));
            assert_eq!(c.scaled[0].activities.len(), 1);
            assert_eq!(st.calls, counts.values().sum::<u32>());
        }
    }
}
