//! Enrichment: what AWS can tell about the target around the alarm time.
//!
//! Four independent lookups run concurrently under one deadline: the endpoint ([`endpoint`]),
//! the per-instance and per-GPU metrics ([`metrics`], analysed by [`fleet`]) — or, for a
//! serverless variant, its own metric set ([`serverless`]) — the container logs ([`logs`]) and
//! the autoscaling state ([`capacity`], with the recent changes). Whatever does not arrive in time or fails becomes a [`Note`] naming the call
//! and the reason; the alarm is delivered anyway. Retries are the SDK's (CloudWatch and Logs:
//! adaptive mode, until the deadline; SageMaker, Application Auto Scaling: standard, 3 attempts),
//! never a loop of ours. With a state table, the endpoint's description and logs are
//! fetched once per endpoint and storm and shared by its alarms ([`shared`]).

pub mod alarms;
pub mod capacity;
pub mod diagnosis;
pub mod endpoint;
pub mod fleet;
pub mod hardware;
pub mod llm;
pub mod logs;
pub mod metrics;
pub mod promql_alarm;
pub mod redact;
pub mod serverless;
pub mod shared;
mod window;

pub use capacity::{Capacity, Change};
pub use endpoint::EndpointInfo;
pub use fleet::Fleet;
pub use llm::Llm;
pub use logs::{LogReport, LogSettings};
pub use window::Window;

use crate::aws::{error_code, error_line, Lazy};
use crate::clock::Clock;
use crate::model::{Alarm, AlarmKind, Statistic};
use crate::promql::{PromQl, PromQlError, Source};
use crate::subject::{insights, SageMakerTarget, Subject, Target};
use aws_config::retry::RetryConfig;
use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// One thing enrichment could not do, and why: shown in the message, one line each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// The call or source (`DescribeEndpoint`, `enrichment`).
    pub source: String,
    pub message: String,
}

/// How many AWS calls enrichment made and how long it took, for logs and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CallStats {
    pub calls: u32,
    /// The longest chain of calls that had to wait for one another: with every call taking the
    /// same time, enrichment can take no less than this many call times. See [`Chain`].
    pub critical_path_calls: u32,
    /// PromQL API calls (each counted once, however often it was retried), beside `calls`.
    #[serde(skip_serializing_if = "is_zero")]
    pub promql_calls: u32,
    pub elapsed_ms: u64,
    /// With a state table: whether this alarm fetched the endpoint's description and logs for
    /// the storm, reused them, or waited for them in vain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sharing: Option<shared::Sharing>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What enrichment found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Enrichment {
    /// Why enrichment did not run at all, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<EndpointInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fleet: Option<Fleet>,
    /// For a serverless variant, what its own metrics say (instead of a fleet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serverless: Option<serverless::Diagnosis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<LogReport>,
    /// For an LLM endpoint: KV cache, queueing, TTFT… per inference component and instance, and
    /// where the fleet runs (detailed observability, through PromQL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<Llm>,
    /// Application Auto Scaling: the range, policies and recent activities of the variant (and
    /// component); `None` when it could not be looked up (a note says why).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    /// Endpoint updates, scaling activities and sagealarm's own last action near the alarm,
    /// oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// A composite's children are SageMaker alarms about this (DescribeAlarms): the app keeps it
    /// in the report's target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub composite_about: Option<SageMakerTarget>,
    /// For a multi-time-series alarm: its contributors in ALARM now (DescribeAlarmContributors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contributors: Option<alarms::Contributors>,
    /// What a PromQL or log alarm evaluates, from DescribeAlarms, when its notification left it
    /// out: the report shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub described: Option<crate::model::AlarmKind>,
    /// The alarm's tags from ListTagsForResource, when the notification carried none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// A PromQL alarm's own query over the window: this contributor against the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub own_query: Option<promql_alarm::OwnQuery>,
    /// Every cause the evidence shows, ranked: the lead heads the message ([`diagnosis`]).
    #[serde(skip_serializing_if = "diagnosis::Explanation::is_empty")]
    pub explanation: diagnosis::Explanation,
    /// What to do or check, derived from what was found (enhanced metrics off, serverless…).
    pub advice: Vec<String>,
    pub notes: Vec<Note>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<CallStats>,
}

/// Why a generic alarm is not enriched, said in its message.
const NOT_SAGEMAKER: &str = "not a SageMaker alarm: no endpoint lookups";

impl Enrichment {
    pub fn skipped(reason: impl Into<String>) -> Self {
        Self { skipped: Some(reason.into()), ..Self::default() }
    }

    /// `Some(skipped)` when there is nothing to look up for `target`: neither a SageMaker alarm
    /// nor a composite whose children may be one, nor a PromQL or log alarm whose notification left
    /// out what it evaluates. Whether enrichment is on or off.
    pub fn not_applicable(alarm: &Alarm, target: &Target) -> Option<Self> {
        let composite = matches!(target.subject, Subject::Composite { .. });
        let undescribed = alarms::needs_description(alarm);
        (target.sagemaker().is_none() && !composite && !undescribed).then(|| Self::skipped(NOT_SAGEMAKER))
    }
}

#[derive(Debug, Clone)]
pub struct EnrichSettings {
    /// Every enrichment call must answer by then; must fit well inside the Lambda timeout.
    pub deadline: Duration,
    /// At most this many metric streams are fetched (64 instances × 4 GPUs × 4 metrics ≈ 1,300).
    pub max_series: usize,
    pub logs: LogSettings,
    /// Read the endpoint's tags: `sagealarm:remediate` for the Slack buttons, `sagealarm:last-action`
    /// for "Recent changes". On when remediation is deployed (the role then has ListTags).
    pub read_tags: bool,
    /// Where the LLM signals are read (`SAGEALARM_PROMQL`; off unless configured: the library
    /// makes no PromQL call by itself, the Lambda's settings default to CloudWatch).
    pub promql: crate::promql::PromQlSettings,
}

impl Default for EnrichSettings {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(10),
            max_series: 2000,
            logs: LogSettings::default(),
            read_tags: false,
            promql: crate::promql::PromQlSettings { source: crate::promql::Source::Off, ..Default::default() },
        }
    }
}

/// The SDK clients enrichment uses, each built at its first call (an alarm that is not about
/// SageMaker builds none) and kept for the life of the instance.
#[derive(Clone)]
pub struct Enricher {
    sagemaker: Lazy<aws_sdk_sagemaker::Client>,
    cloudwatch: Lazy<aws_sdk_cloudwatch::Client>,
    logs: Lazy<aws_sdk_cloudwatchlogs::Client>,
    autoscaling: Lazy<aws_sdk_applicationautoscaling::Client>,
    settings: EnrichSettings,
    /// Where the alarms of a storm share the endpoint's description and logs ([`shared`]).
    state: Option<crate::state::StateTable>,
    /// "Now" for the window: which periods CloudWatch still keeps for an alarm this old.
    clock: Clock,
    /// The LLM signals' source, when one is configured.
    promql: Option<Arc<PromQl>>,
    /// Which LLM metric names each endpoint publishes, discovered once per endpoint.
    catalogs: Arc<llm::Catalogs>,
    /// Alarm tags per alarm ARN.
    tag_cache: Arc<alarms::TagCache>,
}

/// Attempts per call: enough that throttling is retried until the enrichment deadline, which
/// stops it first (10 attempts with backoff up to [`MAX_BACKOFF`] outlast the 10 s default).
const MAX_ATTEMPTS: u32 = 10;
/// Backoff between attempts, capped: a throttled call in a storm tries again within a second or two.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// One retry partition per client and per enricher: the SDK keeps adaptive mode's send rate and
/// the retry quota in process-wide state per partition. A Lambda instance has one enricher, so
/// this changes nothing there; the tests and benchmarks that run many "instances" in one process
/// get one rate limiter each, as separate Lambda instances have.
fn retry_partition(service: &str) -> aws_sdk_cloudwatchlogs::config::retry::RetryPartition {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    aws_sdk_cloudwatchlogs::config::retry::RetryPartition::new(format!(
        "sagealarm-enrich-{service}-{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

impl Enricher {
    /// CloudWatch and Logs clients (the calls with per-account quotas a storm meets: GetMetricData,
    /// ListMetrics, FilterLogEvents) in the SDK's adaptive retry mode: throttling is retried with
    /// jittered backoff inside the SDK until the enrichment deadline, and after a throttle the
    /// client slows its own sending (a token bucket whose rate follows the throttles). SageMaker
    /// and Application Auto Scaling keep the standard mode's 3 attempts: their reads are shared or
    /// few, and a service failing with 5xx must not hold every alarm until the deadline.
    pub fn new(sdk: &aws_config::SdkConfig, settings: EnrichSettings) -> Self {
        let retry = RetryConfig::adaptive()
            .with_max_attempts(MAX_ATTEMPTS)
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(MAX_BACKOFF);
        let steady = RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(200));
        // Partitions are named now: the clients of one enricher share them whenever they are built.
        let (sm, cw, logs, aas) =
            (retry_partition("sagemaker"), retry_partition("cloudwatch"), retry_partition("logs"), retry_partition("autoscaling"));
        let (steady2, retry2) = (steady.clone(), retry.clone());
        use aws_sdk_applicationautoscaling as autoscaling;
        Self {
            sagemaker: Lazy::from_config(sdk, move |sdk| {
                let conf = aws_sdk_sagemaker::config::Builder::from(sdk).retry_config(steady).retry_partition(sm);
                aws_sdk_sagemaker::Client::from_conf(conf.build())
            }),
            cloudwatch: Lazy::from_config(sdk, move |sdk| {
                let conf = aws_sdk_cloudwatch::config::Builder::from(sdk).retry_config(retry).retry_partition(cw);
                aws_sdk_cloudwatch::Client::from_conf(conf.build())
            }),
            logs: Lazy::from_config(sdk, move |sdk| {
                let conf = aws_sdk_cloudwatchlogs::config::Builder::from(sdk).retry_config(retry2).retry_partition(logs);
                aws_sdk_cloudwatchlogs::Client::from_conf(conf.build())
            }),
            autoscaling: Lazy::from_config(sdk, move |sdk| {
                let conf = autoscaling::config::Builder::from(sdk).retry_config(steady2).retry_partition(aas);
                autoscaling::Client::from_conf(conf.build())
            }),
            promql: (settings.promql.source != Source::Off).then(|| Arc::new(PromQl::new(&settings.promql, sdk))),
            catalogs: Arc::default(),
            tag_cache: Arc::default(),
            settings,
            state: None,
            clock: Clock::system(),
        }
    }

    /// Shares the endpoint's description and logs among the alarms of a storm through `state`.
    pub fn with_state(mut self, state: crate::state::StateTable) -> Self {
        self.state = Some(state);
        self
    }

    /// Reads the LLM signals through `promql` (tests hand in a client for their Prometheus).
    pub fn with_promql(mut self, promql: PromQl) -> Self {
        self.promql = Some(Arc::new(promql));
        self
    }

    /// Reads "now" from `clock` (tests pin it relative to their fixture's alarm time).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn from_clients(
        sagemaker: aws_sdk_sagemaker::Client,
        cloudwatch: aws_sdk_cloudwatch::Client,
        logs: aws_sdk_cloudwatchlogs::Client,
        autoscaling: aws_sdk_applicationautoscaling::Client,
        settings: EnrichSettings,
    ) -> Self {
        Self {
            sagemaker: Lazy::ready(sagemaker),
            cloudwatch: Lazy::ready(cloudwatch),
            logs: Lazy::ready(logs),
            autoscaling: Lazy::ready(autoscaling),
            settings,
            state: None,
            clock: Clock::system(),
            promql: None,
            catalogs: Arc::default(),
            tag_cache: Arc::default(),
        }
    }

    pub fn settings(&self) -> &EnrichSettings {
        &self.settings
    }

    /// The alarm's tags (ListTagsForResource, cached per ARN) when its notification carried none:
    /// routes match them and the message links its runbook. `(tags, note, AWS calls made)`;
    /// nothing without an ARN. Logged as `alarm tags` with its calls, beside the `enriched` line.
    pub async fn alarm_tags(&self, alarm: &Alarm) -> (Vec<(String, String)>, Option<Note>, u32) {
        let Some(arn) = alarm.arn.as_deref().filter(|_| alarm.tags.is_empty()) else { return (vec![], None, 0) };
        let ctx = Ctx::new(self.settings.deadline);
        let tags = alarms::tags(&ctx, &Chain::default(), &self.cloudwatch, arn, &self.tag_cache).await;
        let calls = ctx.calls.into_inner();
        tracing::info!(calls, tags = tags.len(), "alarm tags");
        (tags, ctx.notes.into_inner().unwrap_or_default().into_iter().next(), calls)
    }

    /// Everything AWS can tell about `target` around the alarm's own time. Never fails: what is
    /// missing is said in the notes.
    pub async fn enrich(&self, alarm: &Alarm, target: &Target) -> Enrichment {
        // On the heap: every lookup runs concurrently inside this future, which makes it tens of
        // kilobytes; moved around by value (join_all, select) it overflowed a 2 MiB test thread's
        // stack in debug builds.
        Box::pin(self.enrich_here(alarm, target)).await
    }

    async fn enrich_here(&self, alarm: &Alarm, target: &Target) -> Enrichment {
        let started = Instant::now();
        let ctx = Ctx::new(self.settings.deadline);
        // The chain of calls this function waits for, one after another.
        let chain = Chain::default();
        // A PromQL or log alarm whose notification left out what it evaluates: DescribeAlarms
        // first, then the alarm is about what its query or log groups name.
        let described = match alarms::needs_description(alarm) {
            true => alarms::describe_kind(&ctx, &chain, &self.cloudwatch, alarm).await,
            false => None,
        };
        let described_alarm = described.clone().map(|kind| Alarm { kind, ..alarm.clone() });
        let resolved = described_alarm.as_ref().map(crate::subject::resolve);
        let (alarm, target) = match (&described_alarm, &resolved) {
            (Some(a), Some(t)) => (a, t),
            _ => (alarm, target),
        };
        // A composite is about what its children are about: their metrics come first.
        let mut composite_about = None;
        let sm = match (&target.subject, target.sagemaker()) {
            (_, Some(sm)) => sm.clone(),
            (Subject::Composite { children, .. }, _) => {
                let metrics = alarms::children_metrics(&ctx, &chain, &self.cloudwatch, children).await;
                match crate::subject::from_metrics(&metrics.iter().collect::<Vec<_>>()) {
                    Subject::SageMaker(sm) => {
                        composite_about = Some(sm.clone());
                        sm
                    }
                    _ => {
                        let mut e = Enrichment::skipped("a composite whose children are not SageMaker alarms: no endpoint lookups");
                        e.notes = ctx.notes.into_inner().unwrap_or_default();
                        return e;
                    }
                }
            }
            _ => return Enrichment { described, notes: ctx.notes.into_inner().unwrap_or_default(), ..Enrichment::skipped(NOT_SAGEMAKER) },
        };
        let window = Window::for_alarm(alarm, self.clock.now());
        let mut sm = sm;

        // An inference-component alarm may name only the component: its endpoint comes first.
        let mut component = None;
        if sm.endpoint.is_none() {
            if let Some(ic) = sm.inference_component.clone() {
                component = endpoint::describe_component(&ctx, &chain, &self.sagemaker, &ic).await;
                if let Some(c) = &component {
                    sm.endpoint = c.endpoint.clone();
                    sm.variant = sm.variant.take().or_else(|| c.variant.clone());
                }
            }
        }
        let endpoint_name = sm.endpoint.clone();
        if endpoint_name.is_none() && sm.inference_component.is_none() {
            ctx.note("enrichment", "the alarm names no endpoint or inference component to look up");
            return ctx.finish(Enrichment { window: Some(window), composite_about, described, ..Enrichment::default() }, &chain, started);
        }

        // Without an endpoint (its component could not be described) the component's own
        // metrics are still worth fetching.
        let own = own_metric(alarm);
        let settings = &self.settings;
        // A `Serverless…` metric names a serverless variant before DescribeEndpoint can: its
        // metric set is fetched at once, with no instance discovery.
        let serverless_first = match (&endpoint_name, &sm.variant, &own) {
            (Some(e), Some(v), Some(o)) if o.name.starts_with("Serverless") && sm.inference_component.is_none() => Some((e, v)),
            _ => None,
        };
        // Six independent branches (contributors only for multi-time-series alarms, LLM signals only
        // with PromQL), each on its own chain; together they last the longest.
        // Capacity is keyed by names the alarm already gave: it waits for none of the others.
        let branches: [Chain; 7] = Default::default();
        let scalable = capacity::resources(&sm);
        let multi_time_series = is_multi_time_series(alarm);
        let own_query = match (&alarm.kind, &self.promql) {
            (AlarmKind::PromQl(p), Some(q)) => p.query.as_deref().map(|query| (q, query)),
            _ => None,
        };
        // A log alarm's own query says which lines matter: they come first.
        let log_settings = match &alarm.kind {
            AlarmKind::Log(l) => l.query.as_deref().and_then(|q| self.settings.logs.with_alarm_query(q)),
            _ => None,
        };
        let ((info, logs, llm), (series, readings), scaling, contributors, own_query) = tokio::join!(
            self.endpoint_evidence(
                &ctx,
                [&branches[0], &branches[2], &branches[5]],
                endpoint_name.as_deref(),
                &sm,
                &window,
                log_settings.as_ref()
            ),
            async {
                match serverless_first {
                    Some((e, v)) => (vec![], Some(serverless::fetch(&ctx, &branches[1], &self.cloudwatch, e, v, &window).await)),
                    None => {
                        let m = endpoint_name.as_deref();
                        (
                            metrics::fetch(&ctx, &branches[1], &self.cloudwatch, &sm, m, own.as_ref(), &window, settings.max_series).await,
                            None,
                        )
                    }
                }
            },
            capacity::fetch(&ctx, &branches[3], &self.autoscaling, scalable),
            async {
                match multi_time_series {
                    true => alarms::contributors(&ctx, &branches[4], &self.cloudwatch, &alarm.name).await,
                    false => None,
                }
            },
            async {
                let (q, query) = own_query?;
                promql_alarm::fetch(&ctx, &branches[6], q, query, alarm.contributor.as_ref(), &window).await
            },
        );
        chain.then_longest(&branches);
        // Per-member series for the fleet; the variant- and component-level ones the policies track.
        let (series, levels): (Vec<_>, Vec<_>) = series.into_iter().partition(|s: &metrics::Series| !s.member.is_empty());
        let mut info = info;
        if let (Some(info), Some(c)) = (info.as_mut(), component) {
            if !info.components.iter().any(|x| x.name == c.name) {
                info.components.push(c);
            }
        }

        // Per-instance metrics exist only with enhanced metrics on, whatever the API left out.
        if let Some(i) = info.as_mut() {
            if i.enhanced_metrics.is_none() && series.iter().any(|s| s.member.instance.is_some()) {
                i.enhanced_metrics = Some(endpoint::EnhancedMetrics { enabled: true, frequency_s: None, inferred: true });
            }
        }
        // Otherwise a serverless variant shows itself in DescribeEndpoint: its metrics come next
        // (ListMetrics found no instances to fetch, so this is the branch's second call).
        let variant = info.as_ref().and_then(|i| i.variant(sm.variant.as_deref()));
        let mut readings = readings;
        if let (None, Some(e), Some(v)) = (&readings, &endpoint_name, variant.filter(|v| v.serverless.is_some())) {
            readings = Some(serverless::fetch(&ctx, &chain, &self.cloudwatch, e, &v.name, &window).await);
        }
        // Diagnosed unless the endpoint says the variant has instances.
        let serverless = readings
            .filter(|_| variant.is_none_or(|v| v.serverless.is_some()))
            .map(|r| serverless::analyse(&r, &window, variant.and_then(|v| v.serverless)));
        let hardware = variant.and_then(|v| v.instance_type.as_deref()).map(hardware::of).unwrap_or_default();
        let fleet = fleet::analyse(&series, &window, own.as_ref().map(|m| m.name.as_str()), sm.instance.as_deref(), hardware);
        let mut logs = logs;
        if let Some(l) = logs.as_mut() {
            // The instance the alarm is about (one GPU's contributor, a per-instance alarm), then the outlier's.
            let first: Vec<&str> = sm.instance.as_deref().into_iter().chain(fleet.iter().flat_map(|f| f.priority_instances())).collect();
            l.put_first(&first);
        }
        let serverless_advice = serverless.as_ref().map(serverless::advice);
        let advice = endpoint::advice(info.as_ref(), &sm, fleet.as_ref(), series.is_empty(), serverless_advice);
        let capacity = capacity::analyse(scaling, info.as_ref(), &series, &levels, &window);
        let changes = capacity::changes(info.as_ref(), capacity.as_ref(), &window);
        let mut e = ctx.finish(
            Enrichment {
                window: Some(window),
                endpoint: info,
                fleet,
                serverless,
                logs,
                llm,
                capacity,
                changes,
                composite_about,
                contributors,
                described,
                own_query,
                advice,
                ..Enrichment::default()
            },
            &chain,
            started,
        );
        e.explanation = diagnosis::rank(&e, own.as_ref().map(|m| m.name.as_str()));
        // What to do about the diagnosis comes before the general advice.
        let first = e.explanation.advice();
        e.advice.splice(0..0, first);
        e
    }
}

/// A contributor of a Metrics Insights GROUP BY alarm (or a PromQL or log alarm), or such an
/// alarm's own notification.
fn is_multi_time_series(alarm: &Alarm) -> bool {
    alarm.contributor.is_some()
        || matches!(alarm.kind, AlarmKind::PromQl(_))
        || match &alarm.kind {
            AlarmKind::MetricMath { queries, .. } => {
                queries.iter().filter_map(|q| q.expression.as_deref()).any(|e| e.to_ascii_uppercase().contains("GROUP BY"))
            }
            _ => false,
        }
}

/// The alarm's own metric and statistic, fetched per instance where it exists.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnMetric {
    pub namespace: String,
    pub name: String,
    pub stat: Statistic,
}

/// What the alarm itself evaluates: its metric, or the one a Metrics Insights query selects.
pub fn own_metric(alarm: &Alarm) -> Option<OwnMetric> {
    let stat = match &alarm.kind {
        AlarmKind::Metric { stat, .. } => stat.clone(),
        // A Metrics Insights alarm names its metric and statistic in the query.
        AlarmKind::MetricMath { queries, .. } if alarm.kind.metric_stats().is_empty() => {
            let q = queries.iter().filter_map(|q| q.expression.as_deref()).find_map(|e| insights::parse(e).ok())?;
            return Some(OwnMetric { namespace: q.namespace, name: q.metric, stat: q.statistic });
        }
        kind => kind.metric_stats().into_iter().next()?.clone(),
    };
    Some(OwnMetric { namespace: stat.metric.namespace, name: stat.metric.name, stat: stat.stat })
}

/// A call that did not answer: its error code (when the service sent one) and the line to show.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub code: Option<String>,
    pub line: String,
}

impl Failure {
    /// Modeled errors do not always carry their code in the metadata; the line starts with it.
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code) || self.line.starts_with(&format!("{code}:"))
    }
}

/// The length, in calls, of one line of work whose calls wait for one another (a page for the
/// previous page's token, DescribeEndpointConfig for DescribeEndpoint's config name). Every call
/// made through [`Ctx::call`] adds one to the chain it is given; a group of calls awaited
/// together gets one chain each and adds only its longest ([`Chain::then_longest`]). The
/// endpoint's critical path is then a count taken from the code as it ran, not from timings, so
/// a benchmark can compare the wall time with `critical_path_calls × latency`.
#[derive(Debug, Default)]
pub(crate) struct Chain(AtomicU32);

impl Chain {
    fn step(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn len(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }

    /// After a group of concurrent branches: this chain grows by the longest of them.
    pub fn then_longest<'a>(&self, branches: impl IntoIterator<Item = &'a Chain>) {
        let longest = branches.into_iter().map(Chain::len).max().unwrap_or(0);
        self.0.fetch_add(longest, Ordering::Relaxed);
    }
}

/// What every lookup shares: the one deadline, the notes, the call count.
pub(crate) struct Ctx {
    deadline: Instant,
    budget: Duration,
    notes: Mutex<Vec<Note>>,
    calls: AtomicU32,
    promql_calls: AtomicU32,
    /// A call ran out of time (its result is missing for want of time, not for an answer).
    timed_out: std::sync::atomic::AtomicBool,
    sharing: Mutex<Option<shared::Sharing>>,
}

impl Ctx {
    pub fn new(budget: Duration) -> Self {
        Self::until(Instant::now() + budget, budget)
    }

    /// A context with the same deadline as another: its notes and calls kept apart (what is
    /// shared with other alarms), then [`Ctx::absorb`]ed.
    pub fn until(deadline: Instant, budget: Duration) -> Self {
        Self {
            deadline,
            budget,
            notes: Mutex::default(),
            calls: AtomicU32::new(0),
            promql_calls: AtomicU32::new(0),
            timed_out: Default::default(),
            sharing: Mutex::default(),
        }
    }

    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Relaxed)
    }

    pub fn notes_so_far(&self) -> Vec<Note> {
        self.notes.lock().map(|n| n.clone()).unwrap_or_default()
    }

    /// Takes over another context's calls and notes.
    pub fn absorb(&self, other: Ctx) {
        self.calls.fetch_add(other.calls.into_inner(), Ordering::Relaxed);
        self.promql_calls.fetch_add(other.promql_calls.into_inner(), Ordering::Relaxed);
        if other.timed_out.into_inner() {
            self.timed_out.store(true, Ordering::Relaxed);
        }
        // Logged when they were written; only merged here.
        if let Ok(mut notes) = self.notes.lock() {
            for n in other.notes.into_inner().unwrap_or_default() {
                if !notes.contains(&n) {
                    notes.push(n);
                }
            }
        }
    }

    pub fn sharing(&self, how: shared::Sharing) {
        if let Ok(mut s) = self.sharing.lock() {
            *s = Some(how);
        }
    }

    /// Runs one AWS call under the shared deadline, as the next link of `chain`.
    pub async fn call<T, E>(&self, chain: &Chain, fut: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>) -> Result<T, Failure>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        self.calls.fetch_add(1, Ordering::Relaxed);
        chain.step();
        match tokio::time::timeout_at(self.deadline, fut).await {
            Err(_) => {
                self.timed_out.store(true, Ordering::Relaxed);
                Err(Failure { code: None, line: format!("no answer within the {} ms enrichment deadline", self.budget.as_millis()) })
            }
            Ok(Err(e)) => Err(Failure { code: error_code(&e).map(str::to_string), line: error_line(&e) }),
            Ok(Ok(v)) => Ok(v),
        }
    }

    /// Runs one PromQL call (the client retries inside it) under the shared deadline, as the next
    /// link of `chain`.
    pub async fn promql<T>(&self, chain: &Chain, fut: impl Future<Output = Result<T, PromQlError>>) -> Result<T, PromQlError> {
        self.promql_calls.fetch_add(1, Ordering::Relaxed);
        chain.step();
        match tokio::time::timeout_at(self.deadline, fut).await {
            Err(_) | Ok(Err(PromQlError::Deadline)) => {
                self.timed_out.store(true, Ordering::Relaxed);
                Err(PromQlError::Deadline)
            }
            Ok(r) => r,
        }
    }

    pub fn note(&self, source: &str, message: impl Into<String>) {
        let note = Note { source: source.to_string(), message: message.into() };
        tracing::warn!(source = %note.source, message = %note.message, "enrichment incomplete");
        if let Ok(mut notes) = self.notes.lock() {
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
    }

    pub fn fail(&self, source: &str, f: Failure) {
        self.note(source, f.line);
    }

    fn finish(self, mut e: Enrichment, chain: &Chain, started: Instant) -> Enrichment {
        e.notes = self.notes.into_inner().unwrap_or_default();
        let stats = CallStats {
            calls: self.calls.into_inner(),
            critical_path_calls: chain.len(),
            promql_calls: self.promql_calls.into_inner(),
            elapsed_ms: started.elapsed().as_millis() as u64,
            sharing: self.sharing.into_inner().unwrap_or_default(),
        };
        tracing::info!(
            calls = stats.calls,
            critical_path_calls = stats.critical_path_calls,
            promql_calls = stats.promql_calls,
            elapsed_ms = stats.elapsed_ms,
            notes = e.notes.len(),
            sharing = ?stats.sharing,
            "enriched"
        );
        e.stats = Some(stats);
        e
    }
}

#[cfg(test)]
mod tests;
