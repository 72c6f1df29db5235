//! `sagealarm-bench`: the measurements behind `scripts/bench.sh`. Each subcommand appends rows
//! (figure, how measured, median, min, max, runs) to a TSV file; `table` prints them as one table.
//! Figures, not pass/fail: a run only fails when the function did not do its job.

mod cost;
mod fake_aws;
mod quota_storm;
mod receivers;
mod runtime_api;
mod state;
mod synthetic;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use receivers::Receivers;
use runtime_api::RuntimeApi;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "sagealarm benchmarks (run them through scripts/bench.sh)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Exec → first GET /runtime/invocation/next, for the Rust function and the Python baseline.
    ColdStart {
        #[arg(long)]
        bootstrap: PathBuf,
        /// The bench venv's python (boto3 + awslambdaric).
        #[arg(long)]
        python: PathBuf,
        /// Directory of handler.py and seed.py.
        #[arg(long)]
        python_dir: PathBuf,
        /// moto on loopback (SSM + Secrets Manager).
        #[arg(long)]
        aws: String,
        /// The CA (PEM) of an `https://` moto: the functions trust it, and every figure says "over
        /// TLS" (Lambda's AWS calls are; the first handshake has costs plain http never shows).
        #[arg(long)]
        ca: Option<PathBuf>,
        #[arg(long)]
        event: PathBuf,
        #[arg(long, default_value_t = 10)]
        runs: usize,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        logs: PathBuf,
    },
    /// One enriched alarm against the fake AWS with a fixed latency per call, per endpoint size.
    Enriched {
        #[arg(long)]
        bootstrap: PathBuf,
        #[arg(long)]
        event: PathBuf,
        #[arg(long, default_value_t = 100)]
        latency_ms: u64,
        #[arg(long, value_delimiter = ',', default_value = "3,16,64")]
        sizes: Vec<usize>,
        #[arg(long, default_value_t = 4)]
        gpus: usize,
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Also read the LLM signals with PromQL (the fake answers CloudWatch's PromQL API, with
        /// the same delay); without it, `SAGEALARM_PROMQL=off`.
        #[arg(long)]
        promql: bool,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        logs: PathBuf,
    },
    /// USD per 1,000 alarms from counted calls (see bench/src/cost.rs) against published prices.
    Cost {
        /// moto on loopback (DynamoDB), for the state table's requests.
        #[arg(long)]
        aws: String,
        #[arg(long, default_value_t = 100)]
        latency_ms: u64,
        #[arg(long, default_value_t = 10)]
        alarms: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// One alarm and its OK through the library's `App` (Slack app + PagerDuty receivers on
    /// loopback), with the state table off and on (DynamoDB on moto at `--aws`).
    State {
        /// moto on loopback (DynamoDB).
        #[arg(long)]
        aws: String,
        #[arg(long, default_value_t = 20)]
        runs: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Rendering the chart (render::chart::draw: plan, draw, PNG encode) of an alarm over a
    /// synthetic `instances` × 4-GPU fleet, in process; the first, warm-up draw is not counted.
    Chart {
        #[arg(long)]
        event: PathBuf,
        #[arg(long, default_value_t = 64)]
        instances: usize,
        #[arg(long, default_value_t = 21)]
        runs: usize,
        #[arg(long)]
        out: PathBuf,
        /// Also write the chart here, to look at.
        #[arg(long)]
        png: Option<PathBuf>,
    },
    /// Alarm storms against the real AWS quotas (the emulators of `scripts/emulators.sh env` behind
    /// testkit's quota stand-in), with the function's concurrency bounded, sharing off and on.
    QuotaStorm {
        #[arg(long, value_delimiter = ',', default_value = "30,200")]
        alarms: Vec<usize>,
        #[arg(long, value_delimiter = ',', default_value = "1,3,20")]
        endpoints: Vec<usize>,
        /// The function's reserved concurrency (template.yaml's EnrichConcurrency default).
        #[arg(long, default_value_t = 10)]
        concurrency: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Appends one row from values measured elsewhere (sizes, instruction counts).
    Row {
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        figure: String,
        #[arg(long)]
        how: String,
        #[arg(long)]
        unit: String,
        #[arg(long, value_delimiter = ',', num_args = 1..)]
        values: Vec<f64>,
    },
    /// Prints the rows as one Markdown table.
    Table {
        #[arg(long)]
        rows: PathBuf,
    },
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::ColdStart { bootstrap, python, python_dir, aws, ca, event, runs, out, logs } => {
            cold_start(&bootstrap, &python, &python_dir, &aws, ca.as_deref(), &event, runs, &out, &logs)
        }
        Cmd::Enriched { bootstrap, event, latency_ms, sizes, gpus, runs, promql, out, logs } => {
            enriched(&bootstrap, &event, Duration::from_millis(latency_ms), &sizes, gpus, runs, promql, &out, &logs)
        }
        Cmd::State { aws, runs, out } => state::run(&aws, runs, &out),
        Cmd::Cost { aws, latency_ms, alarms, out } => cost::run(&aws, Duration::from_millis(latency_ms), alarms, &out),
        Cmd::Chart { event, instances, runs, out, png } => chart(&event, instances, runs, &out, png.as_deref()),
        Cmd::QuotaStorm { alarms, endpoints, concurrency, out } => quota_storm::run(&alarms, &endpoints, concurrency, &out),
        Cmd::Row { out, figure, how, unit, values } => append(&out, &figure, &how, &unit, &values),
        Cmd::Table { rows } => table(&rows),
    }
}

/// A tiny_http server (the Runtime API, the receivers) on a free loopback port, with TCP_NODELAY
/// on its listener (Linux hands it down to every accepted connection). tiny_http writes a response
/// in pieces (the headers, then 8 KiB at a time, or chunks with their framing); with Nagle's
/// algorithm a piece smaller than a segment waits for the ACK of the one before, which the
/// function's side may delay by ~40 ms: a stall of the harness that would be counted as the
/// function's time.
fn loopback_server(what: &str) -> Result<std::sync::Arc<tiny_http::Server>> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").with_context(|| format!("{what}: binding 127.0.0.1"))?;
    socket2::SockRef::from(&listener).set_tcp_nodelay(true).with_context(|| format!("{what}: setting TCP_NODELAY"))?;
    Ok(std::sync::Arc::new(tiny_http::Server::from_listener(listener, None).map_err(|e| anyhow::anyhow!("{what}: {e}"))?))
}

// ---------------------------------------------------------------------------------------------
// Rows and the table

/// Median (mean of the middle two for an even count), min, max.
fn summary(values: &[f64]) -> (f64, f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    (median, v[0], v[n - 1])
}

fn fmt(x: f64, unit: &str) -> String {
    let n = if x.fract() == 0.0 && x.abs() < 1e15 {
        group(x as i64)
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    };
    if unit.is_empty() {
        n
    } else {
        format!("{n} {unit}")
    }
}

/// 1234567 → 1,234,567.
fn group(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn append(out: &Path, figure: &str, how: &str, unit: &str, values: &[f64]) -> Result<()> {
    if values.is_empty() {
        bail!("{figure}: no values");
    }
    let (med, min, max) = summary(values);
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(out).with_context(|| format!("opening {}", out.display()))?;
    writeln!(f, "{figure}\t{how}\t{}\t{}\t{}\t{}", fmt(med, unit), fmt(min, unit), fmt(max, unit), values.len())?;
    eprintln!("bench: {figure}: median {} (min {}, max {}, {} runs)", fmt(med, unit), fmt(min, unit), fmt(max, unit), values.len());
    Ok(())
}

fn table(rows: &Path) -> Result<()> {
    let text = std::fs::read_to_string(rows).with_context(|| format!("reading {}", rows.display()))?;
    println!("| figure | how measured | median | min | max | runs |");
    println!("|---|---|---:|---:|---:|---:|");
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        println!("| {} |", line.split('\t').collect::<Vec<_>>().join(" | "));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The chart

fn chart(event: &Path, instances: usize, runs: usize, out: &Path, png: Option<&Path>) -> Result<()> {
    use sagealarm::model::Notification;
    let bytes = std::fs::read(event).with_context(|| format!("reading {}", event.display()))?;
    let Some(Notification::Alarm(alarm)) = sagealarm::intake::parse_bytes(&bytes)?.into_iter().next() else {
        bail!("{}: no alarm", event.display());
    };
    let enrichment = synthetic::synthetic(&alarm, instances);
    let target = sagealarm::subject::resolve(&alarm);
    let report = sagealarm::report::build_alarm(*alarm, target, enrichment);
    let first = sagealarm::render::chart::draw(&report)?;
    if let Some(p) = png {
        std::fs::write(p, &first.png).with_context(|| format!("writing {}", p.display()))?;
    }
    let mut ms = vec![];
    for _ in 0..runs {
        let started = Instant::now();
        std::hint::black_box(sagealarm::render::chart::draw(std::hint::black_box(&report))?);
        ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    append(
        out,
        &format!("Chart: render, {instances} × 4 GPUs ({} lines, {} KB PNG)", instances * 4, first.png.len() / 1024),
        "render::chart::draw in process (plan, draw 1000 × 500, PNG encode), release build; warm-up draw not counted",
        "ms",
        &ms,
    )
}

// ---------------------------------------------------------------------------------------------
// Running a function under the Runtime API harness

/// A function process, killed (by its own PID) when dropped.
struct Function {
    child: Child,
}

impl Function {
    fn spawn(program: &Path, args: &[&str], dir: Option<&Path>, env: &[(String, String)], log: &Path) -> Result<Self> {
        let log = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = Command::new(program);
        cmd.args(args).env_clear().stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
        // A clean environment: nothing from the user's AWS profile or shell leaks into a run.
        for keep in ["PATH", "LANG", "SYSTEMROOT"] {
            if let Ok(v) = std::env::var(keep) {
                cmd.env(keep, v);
            }
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        if let Some(d) = dir {
            cmd.current_dir(d);
        }
        Ok(Self { child: cmd.spawn().with_context(|| format!("starting {}", program.display()))? })
    }

    /// Peak resident set size so far (VmHWM), in KiB.
    fn peak_rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).context("reading /proc/PID/status")?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM in /proc/PID/status")?;
        line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).context("VmHWM value")
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the Lambda service sets for every runtime, plus AWS access to `aws`.
fn lambda_env(api: &RuntimeApi, aws: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", api.addr.as_str()),
        ("AWS_LAMBDA_FUNCTION_NAME", "enrich-alarm"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/enrich-alarm"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_ENDPOINT_URL", aws),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The alarm event with its state change time moved to a minute ago: enrichment anchors its
/// window there, and CloudWatch's period depends on the data's age.
fn fresh_event(path: &Path) -> Result<String> {
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?)?;
    let at = (chrono::Utc::now() - chrono::Duration::minutes(1)).format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
    for r in event["Records"].as_array_mut().context("an SNS event with Records")? {
        let msg = r["Sns"]["Message"].as_str().context("Sns.Message")?;
        let mut alarm: Value = serde_json::from_str(msg).context("Sns.Message is an alarm")?;
        alarm["StateChangeTime"] = json!(at);
        r["Sns"]["Message"] = json!(alarm.to_string());
    }
    Ok(event.to_string())
}

// ---------------------------------------------------------------------------------------------
// Row 1: cold start

#[allow(clippy::too_many_arguments)]
fn cold_start(
    bootstrap: &Path,
    python: &Path,
    python_dir: &Path,
    aws: &str,
    ca: Option<&Path>,
    event: &Path,
    runs: usize,
    out: &Path,
    logs: &Path,
) -> Result<()> {
    let receivers = Receivers::start()?;
    // Rust reads SSL_CERT_FILE (added to its compiled-in roots), boto3 AWS_CA_BUNDLE.
    let ca = ca.map(std::path::absolute).transpose().context("the CA file")?;
    let trust: Vec<(String, String)> = match &ca {
        Some(ca) => vec![("SSL_CERT_FILE".into(), ca.display().to_string()), ("AWS_CA_BUNDLE".into(), ca.display().to_string())],
        None => vec![],
    };
    let tls = if ca.is_some() { " over TLS" } else { "" };
    // Every run's environment: a Lambda's, the routing document's parameter, the CA if any.
    let env_of = |api: &RuntimeApi| {
        let mut env = lambda_env(api, aws);
        env.push(("SAGEALARM_ROUTES_SSM".into(), "/sagealarm/bench/routes".into()));
        env.extend(trust.iter().cloned());
        env
    };
    // The same routing document and secrets for both: JSON is YAML, so the Rust function and the
    // Python handler read the very same SSM parameter.
    let seeded = Command::new(python)
        .arg(python_dir.join("seed.py"))
        .args([aws, &receivers.url])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .envs(trust.iter().map(|(k, v)| (k, v)))
        .status()
        .context("running seed.py")?;
    if !seeded.success() {
        bail!("seed.py failed: {seeded}");
    }
    let event = fresh_event(event)?;
    let handler_dir = std::fs::canonicalize(python_dir)?;
    // Absolute: the Python runtime starts in the handler's directory.
    let python = &std::path::absolute(python).context("the venv's python")?;
    let mut medians = vec![];
    for (name, figure) in [
        ("rust", "Cold start: Rust `enrich-alarm` (release x86_64)"),
        ("rust-state", "Cold start: Rust `enrich-alarm` (release x86_64), with SAGEALARM_STATE_TABLE"),
        ("python", "Cold start: Python 3 baseline (boto3 + urllib, awslambdaric)"),
    ] {
        let mut ms = vec![];
        for run in 0..runs {
            let mut api = RuntimeApi::start()?;
            let mut env = env_of(&api);
            env.push(("SAGEALARM_LOG".into(), "info".into()));
            let log = logs.join(format!("cold-{name}-{run}.log"));
            let started = Instant::now();
            let f = match name {
                "rust" => Function::spawn(bootstrap, &[], None, &env, &log)?,
                // The state table's client is built at init too (no request to it there); the
                // first run's alarm finds no such table on moto and is delivered saying so.
                "rust-state" => {
                    env.push(("SAGEALARM_STATE_TABLE".into(), "sagealarm-bench-cold".into()));
                    Function::spawn(bootstrap, &[], None, &env, &log)?
                }
                _ => {
                    env.push(("LAMBDA_TASK_ROOT".into(), handler_dir.display().to_string()));
                    env.push(("_HANDLER".into(), "handler.handler".into()));
                    Function::spawn(python, &["-m", "awslambdaric", "handler.handler"], Some(&handler_dir), &env, &log)?
                }
            };
            let first =
                api.wait_first_next(Duration::from_secs(60)).with_context(|| format!("{name} cold start; see {}", log.display()))?;
            ms.push(first.duration_since(started).as_secs_f64() * 1000.0);
            // The first run also proves the function works: one alarm in, two deliveries out.
            if run == 0 {
                let before = receivers.received();
                let id = api.invoke(&event);
                let answer = api.wait_answer(&id, Duration::from_secs(60))?;
                if !answer.ok || receivers.received() < before + 2 {
                    bail!("{name}: the alarm was not delivered (answer {}; see {})", answer.body, log.display());
                }
            }
            drop(f);
        }
        append(out, &format!("{figure}{tls}"), "spawn of the process → its first `GET /2018-06-01/runtime/invocation/next` at the bench's Runtime API on 127.0.0.1; the routing document is an SSM parameter (moto on loopback): Python reads it at init, Rust starts reading it there, in the background", "ms", &ms)?;
        medians.push(summary(&ms).0);
    }
    append(
        out,
        &format!("Cold start ratio: Python / Rust{tls}"),
        "ratio of the Python median to the Rust one without a table",
        "×",
        &[medians[2] / medians[0]],
    )?;
    // What the first alarm after a cold start waits: the event is there when the process starts,
    // as on Lambda. Enrichment off: against moto (no such endpoint, retried 5xx) it is hundreds of
    // milliseconds of noise; routing, secrets and delivery are what init used to do.
    let mut ms = vec![];
    for run in 0..runs {
        let mut api = RuntimeApi::start()?;
        let mut env = env_of(&api);
        env.push(("SAGEALARM_ENRICH".into(), "off".into()));
        let log = logs.join(format!("cold-answer-{run}.log"));
        let (id, before) = (api.invoke(&event), receivers.received());
        let started = Instant::now();
        let f = Function::spawn(bootstrap, &[], None, &env, &log)?;
        let answer = api.wait_answer(&id, Duration::from_secs(60)).with_context(|| format!("first answer; see {}", log.display()))?;
        let took = started.elapsed();
        if !answer.ok || receivers.received() < before + 2 {
            bail!("first answer: the alarm was not delivered (answer {}; see {})", answer.body, log.display());
        }
        ms.push(took.as_secs_f64() * 1000.0);
        drop(f);
    }
    append(
        out,
        &format!("Cold start to the first alarm delivered: Rust `enrich-alarm` (release x86_64){tls}"),
        "spawn of the process, with the event already queued → its response at the Runtime API: init, the routing document and two secrets from SSM / Secrets Manager (moto), a Slack and a PagerDuty delivery to loopback stand-ins; enrichment off (SAGEALARM_ENRICH=off)",
        "ms",
        &ms,
    )
}

// ---------------------------------------------------------------------------------------------
// Rows 2 and 3: an enriched alarm under injected latency; peak memory

#[allow(clippy::too_many_arguments)]
fn enriched(
    bootstrap: &Path,
    event: &Path,
    latency: Duration,
    sizes: &[usize],
    gpus: usize,
    runs: usize,
    promql: bool,
    out: &Path,
    logs: &Path,
) -> Result<()> {
    let receivers = Receivers::start()?;
    let routes = json!({
        "receivers": [
            {"name": "bench-slack", "slack": {"webhook_url": "env:BENCH_SLACK_WEBHOOK"}},
            {"name": "bench-pagerduty", "pagerduty": {"routing_key": "env:BENCH_PD_KEY", "events_url": format!("{}/pd", receivers.url)}},
        ],
        "route": {"receivers": ["bench-slack", "bench-pagerduty"], "severity": "critical"},
    });
    let lat_ms = latency.as_millis() as f64;
    for &n in sizes {
        let fake = fake_aws::FakeAws::start(fake_aws::World { instances: n, gpus }, latency)?;
        let (mut calls, mut walls, mut chains, mut ratios, mut rss) = (vec![], vec![], vec![], vec![], vec![]);
        for run in 0..runs {
            let mut api = RuntimeApi::start()?;
            let mut env = lambda_env(&api, &fake.url);
            env.extend(
                [
                    ("SAGEALARM_ROUTES", routes.to_string()),
                    ("SAGEALARM_ALLOW_PLAINTEXT_SECRETS", "1".into()),
                    ("BENCH_SLACK_WEBHOOK", format!("{}/slack", receivers.url)),
                    ("BENCH_PD_KEY", "0123456789abcdef0123456789abcdef".into()),
                    ("SAGEALARM_LOG", "info".into()),
                    ("SAGEALARM_PROMQL", if promql { "cloudwatch" } else { "off" }.into()),
                    ("SAGEALARM_PROMQL_URL", fake.url.clone()),
                ]
                .map(|(k, v)| (k.to_string(), v)),
            );
            let log = logs.join(format!("enriched-{n}x{gpus}{}-{run}.log", if promql { "-promql" } else { "" }));
            let f = Function::spawn(bootstrap, &[], None, &env, &log)?;
            api.wait_first_next(Duration::from_secs(30)).with_context(|| format!("see {}", log.display()))?;
            let (at_fake, delivered) = (fake.total(), receivers.received());
            let id = api.invoke(&fresh_event(event)?);
            let answer = api.wait_answer(&id, Duration::from_secs(60)).with_context(|| format!("see {}", log.display()))?;
            let peak = f.peak_rss_kib()?;
            drop(f);
            if !answer.ok || receivers.received() < delivered + 2 {
                bail!("{n} instances: the alarm was not delivered (answer {}; see {})", answer.body, log.display());
            }
            let stats = enriched_line(&log)?;
            // AWS calls and PromQL requests, both answered by the fake.
            // ... and the alarm's tag lookup, beside the enrichment (its own `alarm tags` line).
            let tag_calls = log_line(&log, "alarm tags").map(|t| t["calls"].as_f64().unwrap_or(0.0)).unwrap_or(0.0);
            let made = stats["calls"].as_f64().context("calls")? + stats["promql_calls"].as_f64().unwrap_or(0.0) + tag_calls;
            let chain = stats["critical_path_calls"].as_f64().context("critical_path_calls")?;
            if promql && stats["promql_calls"].as_u64().unwrap_or(0) == 0 {
                bail!("{n} instances: no PromQL request was made; see {}", log.display());
            }
            if made as u32 != fake.total() - at_fake {
                bail!(
                    "{n} instances: the function counted {made} AWS calls, the fake answered {} ({:?})",
                    fake.total() - at_fake,
                    fake.counts()
                );
            }
            if stats["notes"].as_u64() != Some(0) {
                bail!("{n} instances: enrichment left notes (something failed); see {}", log.display());
            }
            let wall = answer.wall.as_secs_f64() * 1000.0;
            calls.push(made);
            chains.push(chain * lat_ms);
            walls.push(wall);
            ratios.push(wall / (chain * lat_ms));
            rss.push(peak as f64 / 1024.0);
        }
        eprintln!("bench: {n}×{gpus}: calls by operation over {runs} runs: {:?}", fake.counts());
        let size = format!("{n} instances × {gpus} GPUs{}", if promql { ", with PromQL" } else { "" });
        let how = format!("{} ms added to every AWS call by a fake AWS on 127.0.0.1", latency.as_millis());
        append(
            out,
            &format!("Enriched alarm, {size}: AWS calls"),
            "counted by the function (`enriched` log line) and checked against the requests the fake answered",
            "",
            &calls,
        )?;
        append(
            out,
            &format!("Enriched alarm, {size}: critical path"),
            &format!("longest chain of dependent calls (`critical_path_calls`) × {} ms", latency.as_millis()),
            "ms",
            &chains,
        )?;
        append(
            out,
            &format!("Enriched alarm, {size}: wall time"),
            &format!("event handed out → response posted, at the Runtime API; cold process, Slack + PagerDuty delivery on loopback; {how}"),
            "ms",
            &walls,
        )?;
        append(
            out,
            &format!("Enriched alarm, {size}: wall / critical path"),
            "1.0 would be perfect concurrency; the rest is CPU, delivery and process warm-up",
            "×",
            &ratios,
        )?;
        if Some(&n) == sizes.iter().max() {
            append(
                out,
                &format!("Peak memory, {size} alarm"),
                "VmHWM of the function process (/proc/PID/status) after its response",
                "MiB",
                &rss,
            )?;
        }
    }
    Ok(())
}

/// The fields of the function's `enriched` log line.
fn enriched_line(log: &Path) -> Result<Value> {
    log_line(log, "enriched")
}

/// The fields of the function's first JSON log line with `message`.
fn log_line(log: &Path, message: &str) -> Result<Value> {
    let text = std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["fields"]["message"] == message)
        .map(|v| v["fields"].clone())
        .with_context(|| format!("no `{message}` log line in {}", log.display()))
}
