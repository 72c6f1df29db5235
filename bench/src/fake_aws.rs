//! A fast fake of the AWS APIs enrichment calls, with a fixed delay before every answer, so that
//! the time an enriched alarm takes is made of that delay and the code's own concurrency, not of
//! an emulator's speed (LocalStack takes seconds for a few hundred GetMetricData queries).
//!
//! It speaks what the SDK crates in Cargo.lock send: SageMaker and CloudWatch Logs are awsJson1_1
//! (`X-Amz-Target`), CloudWatch (aws-sdk-cloudwatch ≥ 1.100) is Smithy RPC v2 CBOR
//! (`POST /service/GraniteServiceVersion20100801/operation/<Op>`). The endpoint has `instances`
//! instances × `gpus` GPUs with enhanced metrics, like `testkit`'s worlds; GPU 2 of the second
//! instance runs hot and logs CUDA out-of-memory errors, so the fleet analysis has work to do.

use anyhow::{anyhow, Context, Result};
use ciborium::value::Value as Cbor;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tiny_http::{Header, Response, Server};

pub const ENDPOINT: &str = "deepgram-prod";
pub const VARIANT: &str = "AllTraffic";
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
    server: Arc<Server>,
    counts: Arc<Mutex<BTreeMap<String, u32>>>,
    total: Arc<AtomicU32>,
}

impl FakeAws {
    pub fn start(world: World, delay: Duration) -> Result<Self> {
        let server = Arc::new(Server::http("127.0.0.1:0").map_err(|e| anyhow!("fake AWS: binding 127.0.0.1: {e}"))?);
        let url = format!("http://{}", server.server_addr().to_ip().context("fake AWS address")?);
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let total = Arc::new(AtomicU32::new(0));
        let world = Arc::new(world);
        let (srv, c, t) = (server.clone(), counts.clone(), total.clone());
        std::thread::spawn(move || {
            for req in srv.incoming_requests() {
                let (world, c, t) = (world.clone(), c.clone(), t.clone());
                // Every request is delayed on its own thread, so concurrent calls overlap as they
                // would against AWS.
                std::thread::spawn(move || {
                    t.fetch_add(1, Ordering::SeqCst);
                    serve(&world, req, delay, &c)
                });
            }
        });
        Ok(Self { url, server, counts, total })
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
        self.server.unblock();
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

fn serve(world: &World, mut req: tiny_http::Request, delay: Duration, counts: &Mutex<BTreeMap<String, u32>>) {
    let mut body = vec![];
    let _ = req.as_reader().read_to_end(&mut body);
    let target = req.headers().iter().find(|h| h.field.equiv("X-Amz-Target")).map(|h| h.value.to_string());
    let url = req.url().to_string();
    let (op, answer) = match (&target, url.rsplit_once("/operation/")) {
        (Some(t), _) => {
            let op = t.rsplit('.').next().unwrap_or_default().to_string();
            (op.clone(), json_answer(world, &op, &body))
        }
        (None, Some((_, op))) => (op.to_string(), cbor_answer(world, op, &body)),
        _ => ("unknown".into(), Err(anyhow!("unrecognised request {url}"))),
    };
    if let Ok(mut c) = counts.lock() {
        *c.entry(op.clone()).or_default() += 1;
    }
    std::thread::sleep(delay);
    let response = match answer {
        Ok(Answer::Json(v)) => Response::from_data(serde_json::to_vec(&v).unwrap_or_default())
            .with_header(header("Content-Type", "application/x-amz-json-1.1")),
        Ok(Answer::Cbor(v)) => {
            let mut bytes = vec![];
            ciborium::ser::into_writer(&v, &mut bytes).expect("CBOR to memory");
            Response::from_data(bytes)
                .with_header(header("Content-Type", "application/cbor"))
                .with_header(header("smithy-protocol", "rpc-v2-cbor"))
        }
        Err(e) => {
            eprintln!("fake AWS: {op}: {e:#}");
            Response::from_data(
                serde_json::to_vec(&json!({"__type": "ValidationException", "message": format!("{e:#}")})).unwrap_or_default(),
            )
            .with_status_code(400)
            .with_header(header("Content-Type", "application/x-amz-json-1.1"))
        }
    };
    let _ = req.respond(response);
}

enum Answer {
    Json(Value),
    Cbor(Cbor),
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
        other => return Err(anyhow!("operation {other} is not faked")),
    };
    Ok(Answer::Cbor(v))
}
