//! `sagealarm`: render, graph, send and check alarms from the command line, on the same code path as
//! the Lambda. Exit 0 on success, 2 with one line on stderr for input it cannot use, 1 when a
//! delivery fails.

use clap::{Parser, Subcommand, ValueEnum};
use sagealarm::app::{self, settings, App, EnrichMode};
use sagealarm::deliver::http::RetryPolicy;
use sagealarm::deliver::{pagerduty, q_developer, slack, teams, Routing};
use sagealarm::intake;
use sagealarm::model::Severity;
use sagealarm::report::Report;
use sagealarm::route::Facts;
use sagealarm::secrets::SecretResolver;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "sagealarm", version, about = "SageMaker alarm enrichment and routing")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print, one JSON object per line, exactly the bodies that would be sent.
    Render {
        event: String,
        #[arg(long, value_enum, default_value = "slack")]
        format: Format,
        /// Do not call AWS for enrichment.
        #[arg(long)]
        no_enrich: bool,
        /// Routing document: print one body per routed receiver of this format, at its severity.
        #[arg(long)]
        config: Option<String>,
    },
    /// Run the Lambda's path: parse, route, resolve secrets, deliver. Prints the delivery summary.
    Send {
        event: String,
        /// Routing document (default: SAGEALARM_ROUTES / _FILE / _SSM, as the Lambda reads it).
        #[arg(long)]
        config: Option<String>,
        #[arg(long)]
        no_enrich: bool,
    },
    /// Write the chart the alarm's message would get (PNG), enriching like `render`; prints
    /// one JSON line (out, bytes, title, alt). Exit 2 when there is nothing to draw.
    Graph {
        event: String,
        #[arg(long)]
        out: String,
        #[arg(long)]
        no_enrich: bool,
    },
    /// Validate a routing document (every fault, each with its place) and list its receivers.
    CheckConfig { routes: String },
    /// Print the routing document's JSON Schema (draft 2020-12), generated from the parser's types.
    Schema,
    /// Run the remediation decision for an alarm: one JSON object per action with `decision`
    /// (`done`, `dry-run`, `refused`), `reason`, and the before/after values.
    Remediate {
        event: String,
        /// Default: both actions.
        #[arg(long, value_enum)]
        action: Option<RemediateAction>,
        /// Publish frequency for enable-enhanced-metrics (10, 30, 60, 120, 180, 240, 300).
        #[arg(long, default_value_t = 10)]
        frequency: i32,
        /// Do every check, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum RemediateAction {
    ScaleOut,
    EnableEnhancedMetrics,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Format {
    Slack,
    Pagerduty,
    /// A Microsoft Teams Workflows webhook's message (an Adaptive Card).
    Teams,
    /// An Amazon Q Developer custom notification (published to SNS).
    QDeveloper,
}

/// Stands in for the routing key `render` does not resolve; 32 chars like a real one.
const PLACEHOLDER_ROUTING_KEY: &str = "R0UT1NGKEYPLACEH0LDER00000000000";

fn main() -> ExitCode {
    let cli = Cli::parse();
    if std::env::var_os("SAGEALARM_LOG").is_some() {
        sagealarm::logging::init();
    }
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(1, &format!("cannot start the runtime: {e}")),
    };
    rt.block_on(run(cli))
}

fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("sagealarm: {}", msg.split_whitespace().collect::<Vec<_>>().join(" "));
    ExitCode::from(code)
}

fn read_event(path: &str) -> Result<serde_json::Value, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{path}: {}", intake::IntakeError::NotJson(e.to_string())))
}

/// Enrichment uses the SDK's usual configuration: credentials and region from the environment,
/// `AWS_ENDPOINT_URL_<SERVICE>` for emulators.
/// The event's reports, enriched as the Lambda would (`render` and `graph`).
async fn enriched_reports(event: &str, no_enrich: bool) -> Result<Vec<Report>, String> {
    let notifications = read_event(event).and_then(|v| intake::parse_event(&v).map_err(|e| format!("{event}: {e}")))?;
    let enrich = enrich_mode(no_enrich).await?;
    Ok(app::reports(notifications, &enrich).await)
}

async fn enrich_mode(no_enrich: bool) -> Result<EnrichMode, String> {
    if no_enrich {
        return Ok(EnrichMode::Off("disabled (--no-enrich)".into()));
    }
    let sdk = sagealarm::aws_config().await;
    EnrichMode::from_env(&sdk).map_err(|e| e.to_string())
}

async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::CheckConfig { routes } => match check_config(&routes) {
            Ok(r) => {
                for rec in &r.receivers {
                    println!(
                        "{}",
                        serde_json::json!({ "receiver": rec.name, "kind": rec.kind, "secret": rec.settings.secret().map(|s| s.describe()) })
                    );
                }
                ExitCode::SUCCESS
            }
            Err(faults) => {
                for f in &faults {
                    eprintln!("sagealarm: {}", f.split_whitespace().collect::<Vec<_>>().join(" "));
                }
                ExitCode::from(2)
            }
        },
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&sagealarm::deliver::schema::routing_document()).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Command::Render { event, format, no_enrich, config } => {
            let routing = match config.as_deref().map(app::routing_from_file).transpose() {
                Ok(r) => r,
                Err(e) => return fail(2, &e.to_string()),
            };
            let reports = match enriched_reports(&event, no_enrich).await {
                Ok(r) => r,
                Err(e) => return fail(2, &e),
            };
            for report in reports {
                for severity in severities(&report, routing.as_ref(), format) {
                    let body = match format {
                        Format::Slack => slack::render::render(&report, &[]),
                        Format::Pagerduty => pagerduty::render::render(&report, PLACEHOLDER_ROUTING_KEY, severity),
                        Format::Teams => teams::render::message(teams::render::render(&report, None)),
                        Format::QDeveloper => q_developer::render::render(&report, severity, None),
                    };
                    println!("{body}");
                }
            }
            ExitCode::SUCCESS
        }
        Command::Graph { event, out, no_enrich } => {
            let reports = match enriched_reports(&event, no_enrich).await {
                Ok(r) => r,
                Err(e) => return fail(2, &e),
            };
            // The first alarm of the event that has a chart; otherwise the first alarm's reason.
            let mut why = None;
            for report in reports {
                let Report::Alarm(alarm) = report else { continue };
                match sagealarm::render::chart::draw(&alarm) {
                    Ok(chart) => {
                        if let Err(e) = std::fs::write(&out, &chart.png) {
                            return fail(1, &format!("{out}: {e}"));
                        }
                        let line = serde_json::json!({ "out": out, "bytes": chart.png.len(), "title": chart.title, "alt": chart.alt });
                        println!("{line}");
                        return ExitCode::SUCCESS;
                    }
                    Err(e) => {
                        why.get_or_insert(format!("{event}: {}: {e}", alarm.alarm.name));
                    }
                }
            }
            fail(2, &why.unwrap_or_else(|| format!("{event}: no alarm in this event")))
        }
        Command::Remediate { event, action, frequency, dry_run } => {
            use sagealarm::remediate::{aws::Remediator, Action};
            let alarms = match read_event(&event).and_then(|v| intake::parse_event(&v).map_err(|e| format!("{event}: {e}"))) {
                Ok(n) => n,
                Err(e) => return fail(2, &e),
            };
            let actions: Vec<Action> = match action {
                Some(RemediateAction::ScaleOut) => vec![Action::ScaleOut],
                Some(RemediateAction::EnableEnhancedMetrics) => vec![Action::EnableEnhancedMetrics { frequency_s: frequency }],
                None => vec![Action::ScaleOut, Action::EnableEnhancedMetrics { frequency_s: frequency }],
            };
            // The same limits as the remediation function: SAGEALARM_REMEDIATE_* variables.
            let policy = match settings::remediation() {
                Ok(r) => r.policy,
                Err(e) => return fail(2, &e.to_string()),
            };
            let remediator = Remediator::new(&sagealarm::aws_config().await, policy);
            let mut any = false;
            for n in alarms {
                if let sagealarm::model::Notification::Alarm(a) = n {
                    any = true;
                    let target = sagealarm::subject::resolve(&a);
                    let alarm = match sagealarm::remediate::AlarmRef::of(&a, &target) {
                        Ok(r) => r,
                        Err(e) => return fail(2, &format!("{event}: {}: {e}", a.name)),
                    };
                    for act in &actions {
                        let outcome = remediator.run(&alarm, *act, dry_run, chrono::Utc::now()).await;
                        println!("{}", serde_json::to_string(&outcome).unwrap_or_default());
                    }
                }
            }
            if any {
                ExitCode::SUCCESS
            } else {
                fail(2, &format!("{event}: no alarm in this event"))
            }
        }
        Command::Send { event, config, no_enrich } => {
            // AWS is only needed for SSM/Secrets Manager references (and routes from SSM).
            let routing = match config {
                Some(path) => app::routing_from_file(&path),
                None => app::load_routing(Some(&sagealarm::aws_config().await)).await,
            };
            let routing = match routing {
                Ok(r) => r,
                Err(e) => return fail(2, &e.to_string()),
            };
            // The state table (SAGEALARM_STATE_TABLE, with AWS_ENDPOINT_URL_DYNAMODB for moto)
            // makes repeated sends behave as the Lambda does: one thread, never posted twice.
            let wants_state = sagealarm::state::table_from_env().is_some();
            let needs_aws = wants_state || routing.receivers.iter().any(|r| r.settings.secret().is_none_or(|s| s.needs_aws()));
            let sdk = if needs_aws { Some(sagealarm::aws_config().await) } else { None };
            let value = match read_event(&event) {
                Ok(v) => v,
                Err(e) => return fail(2, &e),
            };
            let secrets = SecretResolver::new(sdk.as_ref(), settings::allow_plaintext_secrets());
            let enrich = match enrich_mode(no_enrich).await {
                Ok(m) => m,
                Err(e) => return fail(2, &e),
            };
            let mut app = match App::new(routing, secrets, enrich, RetryPolicy::default()) {
                Ok(a) => a,
                Err(e) => return fail(1, &e.to_string()),
            };
            if let Some(state) = sdk.as_ref().and_then(sagealarm::state::StateTable::from_env) {
                app = app.with_state(state);
            }
            match app.handle(&value).await {
                Ok(summary) => {
                    println!("{}", serde_json::to_string(&summary).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Err(app::HandleError::Intake(e)) => fail(2, &format!("{event}: {e}")),
                Err(e) => fail(1, &e.to_string()),
            }
        }
    }
}

/// The routing document at `path`, or every fault found in it: first against the JSON Schema
/// (every structural fault: unknown keys, wrong types, values outside their lists, each with its
/// place), then, when the structure holds, the parser's own checks (unknown receivers, bad globs
/// and regexes, destination settings), all of them.
fn check_config(path: &str) -> Result<Routing, Vec<String>> {
    let text = settings::routes_file(path).map_err(|e| vec![e.to_string()])?;
    let doc: serde_json::Value =
        serde_yaml_ng::from_str(&text).map_err(|e| vec![sagealarm::route::ConfigError::Syntax(e.to_string()).to_string()])?;
    let schema = sagealarm::deliver::schema::routing_document();
    let validator = jsonschema::validator_for(&schema).map_err(|e| vec![format!("the routing document's schema is invalid: {e}")])?;
    let mut structural: Vec<String> =
        validator.iter_errors(&doc).map(|e| format!("routing document: {}: {}", place(&e.instance_path().to_string()), e)).collect();
    structural.dedup();
    if !structural.is_empty() {
        return Err(structural);
    }
    Routing::parse(&text).map_err(|e| e.faults().into_iter().map(|f| f.to_string()).collect())
}

/// A JSON pointer (`/route/routes/0/severity`) as the parser names places (`route.routes[0].severity`).
fn place(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if part.chars().all(|c| c.is_ascii_digit()) && !part.is_empty() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&part);
        }
    }
    if out.is_empty() {
        "the document".into()
    } else {
        out
    }
}

/// Without a routing document: one body at the default severity. With one: one body per routed
/// receiver of the requested format, at that route's severity.
fn severities(report: &Report, routing: Option<&Routing>, format: Format) -> Vec<Severity> {
    let Some(routing) = routing else { return vec![Severity::Error] };
    // The Slack app posts the same blocks as the webhook.
    let kinds: &[&str] = match format {
        Format::Slack => &[slack::REGISTRATION.kind, sagealarm::deliver::slack_app::REGISTRATION.kind],
        Format::Pagerduty => &[pagerduty::REGISTRATION.kind],
        Format::Teams => &[teams::REGISTRATION.kind],
        Format::QDeveloper => &[q_developer::REGISTRATION.kind],
    };
    routing
        .routes
        .evaluate(&Facts::of(report))
        .deliveries
        .into_iter()
        .filter(|d| routing.kind_of(&d.receiver.name).is_some_and(|k| kinds.contains(&k)))
        .map(|d| d.severity)
        .collect()
}
