//! Enrich once, share many (issue 18). When an endpoint goes bad, 10 – 50 alarms about it fire
//! within a minute, each its own Lambda invocation; FilterLogEvents allows 5 requests per second
//! per account and Region, so when each fetched its own logs most were throttled and the messages
//! lost their evidence exactly when it was needed.
//!
//! What does not depend on the individual alarm — the endpoint's description and its container
//! logs around the state change — is fetched once per endpoint and [`BUCKET`] and shared through
//! the state table (`evidence#…`, [`crate::state::evidence`]): the first invocation claims the
//! record, fetches and publishes; the others poll until it is ready, bounded by their own
//! deadline, and reuse it with the notes of what the fetch could not do. Metrics stay per alarm
//! (they depend on the alarm's own metric; GetMetricData and ListMetrics allow 50 and 25 a second,
//! which adaptive retries absorb). Without a state table, or when it fails, each alarm fetches for
//! itself as before: sharing never costs a delivery.

use super::{endpoint, llm, logs, Chain, Ctx, EndpointInfo, Enricher, Llm, LogReport, LogSettings, Note, Window};
use crate::state::evidence::Evidence;
use crate::subject::SageMakerTarget;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;

/// Alarms about one endpoint whose state changed within the same 5 minutes share one fetch: a
/// storm fires within a minute or two, and the shared log window (the first alarm's, read up to
/// now) covers their state changes. Two storms in a row are two buckets: the second gets fresh
/// evidence. A storm across a bucket boundary costs one fetch more, no more.
pub const BUCKET: Duration = Duration::from_secs(300);

/// A ready record is reused this long: the alarms of a storm arrive within seconds (SNS → Lambda),
/// a retried or late one within minutes. Later ones fetch fresh evidence.
const KEEP: Duration = Duration::from_secs(15 * 60);

/// How often a waiting invocation reads the record: about 4 reads a second per waiting alarm,
/// against a fetch that takes 0.5 – 3 s.
const POLL: Duration = Duration::from_millis(250);

/// The leader's lease outlasts its enrichment deadline by the time to publish.
const PUBLISH_MARGIN: Duration = Duration::from_secs(2);

/// How an alarm got its endpoint description and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sharing {
    /// Fetched them and shared them.
    Fetched,
    /// Reused what another invocation fetched.
    Reused,
    /// Waited for another invocation until the deadline.
    Waited,
    /// The state table failed, or the shared record could not be used: fetched them itself.
    Own,
}

/// What is stored: what rendering needs, with the notes of what the fetch could not do.
#[derive(Debug, Serialize, Deserialize)]
struct Shared {
    endpoint: Option<EndpointInfo>,
    logs: Option<LogReport>,
    /// The LLM signals (PromQL); absent in records written before they were shared.
    #[serde(default)]
    llm: Option<Llm>,
    /// The time range the logs were read over (the leader's window).
    window: Window,
    notes: Vec<Note>,
}

/// The notes that belong to the logs (dropped when a follower reads its logs itself).
const LOGS_SOURCE: &str = "FilterLogEvents";

/// What one alarm gets of the shared evidence.
pub(super) type Evidence3 = (Option<EndpointInfo>, Option<LogReport>, Option<Llm>);

/// What the leader's logs cover is enough for an alarm when it includes the alarm's own
/// evaluation window up to its state change, where the cause is.
fn covers(shared: &Window, own: &Window) -> bool {
    shared.start <= own.alarm_start && shared.end >= own.anchor
}

/// The bucket of an alarm: endpoint, the log streams searched (variant or inference component:
/// the logs differ) and the state change floored to [`BUCKET`].
fn bucket(endpoint: &str, sm: &SageMakerTarget, window: &Window) -> [String; 3] {
    let scope = match (&sm.inference_component, logs::stream_prefix(sm)) {
        (Some(ic), _) => format!("ic:{ic}"),
        (None, Some(prefix)) => prefix,
        (None, None) => "*".to_string(),
    };
    let b = BUCKET.as_secs() as i64;
    let start = window.anchor.timestamp().div_euclid(b) * b;
    [endpoint.to_string(), scope, start.to_string()]
}

impl Enricher {
    /// The endpoint's description (on `chains[0]`), container logs (on `chains[1]`) and LLM
    /// signals (on `chains[2]`): shared through the state table when there is one, fetched here
    /// otherwise.
    /// `log_settings`: this alarm's own way of reading the logs (a log alarm's query): then the
    /// evidence is not shared, since what it matched is this alarm's.
    pub(super) async fn endpoint_evidence(
        &self,
        ctx: &Ctx,
        chains: [&Chain; 3],
        endpoint: Option<&str>,
        sm: &SageMakerTarget,
        window: &Window,
        log_settings: Option<&LogSettings>,
    ) -> Evidence3 {
        let Some(name) = endpoint else { return (None, None, None) };
        if let Some(l) = log_settings {
            return Box::pin(self.own_with(ctx, chains, name, sm, window, l)).await;
        }
        let Some(state) = &self.state else { return self.own(ctx, chains, name, sm, window).await };
        let key = bucket(name, sm, window);
        let parts: Vec<&str> = key.iter().map(String::as_str).collect();
        let mut claim = true;
        loop {
            let left = ctx.deadline.saturating_duration_since(Instant::now());
            let got = match claim {
                true => state.evidence_claim(&parts, left + PUBLISH_MARGIN, KEEP).await.map(Some),
                false => state.evidence_read(&parts).await,
            };
            match got {
                Err(e) => {
                    tracing::warn!(error = %e, "shared evidence unavailable: this alarm fetches its own");
                    ctx.sharing(Sharing::Own);
                    return self.own(ctx, chains, name, sm, window).await;
                }
                Ok(Some(Evidence::Mine(lease))) => {
                    ctx.sharing(Sharing::Fetched);
                    let sub = Ctx::until(ctx.deadline, ctx.budget);
                    let (info, logs, llm) = self.own(&sub, chains, name, sm, window).await;
                    let shared = Shared { endpoint: info, logs, llm, window: window.clone(), notes: sub.notes_so_far() };
                    // A fetch cut short by the deadline is not shared: the next alarm, with time
                    // left, takes the claim and tries again.
                    let publish = match sub.timed_out() {
                        true => None,
                        false => serde_json::to_vec(&shared).ok(),
                    };
                    let published = match publish {
                        Some(json) => state.evidence_publish(&lease, &json, KEEP).await,
                        None => Ok(false),
                    };
                    if !matches!(published, Ok(true)) {
                        if let Err(e) = &published {
                            tracing::warn!(error = %e, "shared evidence not published");
                        }
                        if let Err(e) = state.release(&lease).await {
                            tracing::warn!(error = %e, "shared evidence claim not released: the others wait for its lease");
                        }
                    }
                    ctx.absorb(sub);
                    return (shared.endpoint, shared.logs, shared.llm);
                }
                Ok(Some(Evidence::Ready(Some(payload)))) => match serde_json::from_slice::<Shared>(&payload) {
                    Ok(shared) => return self.reuse(ctx, chains, shared, name, sm, window).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "shared evidence unreadable: this alarm fetches its own");
                        ctx.sharing(Sharing::Own);
                        return self.own(ctx, chains, name, sm, window).await;
                    }
                },
                Ok(Some(Evidence::Ready(None))) => {
                    ctx.sharing(Sharing::Own);
                    return self.own(ctx, chains, name, sm, window).await;
                }
                // Someone fetches right now: wait for it. A lapsed lease (or no record) is claimed.
                Ok(Some(Evidence::InProgress { lapsed })) => claim = lapsed,
                Ok(None) => claim = true,
            }
            if Instant::now() + POLL >= ctx.deadline {
                ctx.sharing(Sharing::Waited);
                ctx.note(
                    "enrichment",
                    format!(
                        "another invocation was still fetching the endpoint's description and logs for this storm at the {} ms enrichment deadline",
                        ctx.budget.as_millis()
                    ),
                );
                return (None, None, None);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Every lookup side by side, for this alarm alone. Boxed: awaited from six places of
    /// `endpoint_evidence`, the lookups' futures inline would make its frame overflow a test
    /// thread's stack in debug builds.
    async fn own(&self, ctx: &Ctx, chains: [&Chain; 3], name: &str, sm: &SageMakerTarget, window: &Window) -> Evidence3 {
        Box::pin(self.own_with(ctx, chains, name, sm, window, &self.settings.logs)).await
    }

    async fn own_with(
        &self,
        ctx: &Ctx,
        chains: [&Chain; 3],
        name: &str,
        sm: &SageMakerTarget,
        window: &Window,
        log_settings: &LogSettings,
    ) -> Evidence3 {
        tokio::join!(
            Box::pin(endpoint::fetch(ctx, chains[0], &self.sagemaker, name, sm.inference_component.as_deref(), self.settings.read_tags)),
            Box::pin(logs::fetch(ctx, chains[1], &self.logs, name, sm, window, log_settings)),
            async {
                match &self.promql {
                    Some(q) => llm::fetch(ctx, chains[2], q, &self.catalogs, sm, window).await,
                    None => None,
                }
            },
        )
    }

    /// Another invocation's evidence, with its notes; the logs and LLM signals too when they
    /// cover this alarm's state change (otherwise read here).
    async fn reuse(&self, ctx: &Ctx, chains: [&Chain; 3], shared: Shared, name: &str, sm: &SageMakerTarget, window: &Window) -> Evidence3 {
        ctx.sharing(Sharing::Reused);
        let covered = covers(&shared.window, window);
        for n in shared.notes.iter().filter(|n| covered || (n.source != LOGS_SOURCE && n.source != llm::SOURCE)) {
            ctx.note(&n.source, n.message.clone());
        }
        if covered {
            return (shared.endpoint, shared.logs, shared.llm);
        }
        let (logs, llm) = tokio::join!(logs::fetch(ctx, chains[1], &self.logs, name, sm, window, &self.settings.logs), async {
            match &self.promql {
                Some(q) => llm::fetch(ctx, chains[2], q, &self.catalogs, sm, window).await,
                None => None,
            }
        });
        (shared.endpoint, logs, llm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn window(anchor_s: i64, span_min: i64) -> Window {
        let anchor = Utc.timestamp_opt(anchor_s, 0).unwrap();
        Window {
            start: anchor - chrono::Duration::minutes(span_min + 30),
            alarm_start: anchor - chrono::Duration::minutes(span_min),
            anchor,
            end: anchor + chrono::Duration::minutes(1),
            period_s: 60,
        }
    }

    #[test]
    fn alarms_of_one_storm_share_a_bucket_per_endpoint_and_streams() {
        let sm = SageMakerTarget { endpoint: Some("ep".into()), variant: Some("AllTraffic".into()), ..Default::default() };
        let t = 1_763_647_500; // a multiple of 300
        assert_eq!(bucket("ep", &sm, &window(t + 10, 5)), ["ep".to_string(), "AllTraffic/".into(), t.to_string()]);
        assert_eq!(bucket("ep", &sm, &window(t + 10, 5)), bucket("ep", &sm, &window(t + 299, 15)));
        assert_ne!(bucket("ep", &sm, &window(t + 10, 5)), bucket("ep", &sm, &window(t + 300, 5)));
        let ic = SageMakerTarget { inference_component: Some("ic-1".into()), ..sm.clone() };
        assert_eq!(bucket("ep", &ic, &window(t, 5))[1], "ic:ic-1");
        let whole = SageMakerTarget { variant: None, ..sm };
        assert_eq!(bucket("ep", &whole, &window(t, 5))[1], "*");
    }

    #[test]
    fn shared_logs_serve_an_alarm_only_up_to_its_state_change() {
        let leader = window(1_000_000, 5);
        assert!(covers(&leader, &window(1_000_000 - 30, 5)), "an earlier alarm of the storm");
        assert!(covers(&leader, &window(1_000_000 + 50, 20)), "a later one within the leader's read, longer evaluation window");
        assert!(!covers(&leader, &window(1_000_000 + 120, 5)), "state change after the leader read");
        assert!(!covers(&leader, &window(1_000_000, 60)), "evaluation window before the leader's context");
    }

    #[tokio::test]
    async fn what_is_stored_round_trips_and_stays_far_below_the_item_limit() {
        let e = crate::enrich::tests::sample_enrichment().await;
        assert!(e.endpoint.is_some() && e.logs.as_ref().is_some_and(|l| !l.streams.is_empty()), "{e:?}");
        let shared = Shared {
            endpoint: e.endpoint.clone(),
            logs: e.logs.clone(),
            llm: e.llm.clone(),
            window: e.window.clone().unwrap(),
            notes: e.notes.clone(),
        };
        let json = serde_json::to_vec(&shared).unwrap();
        let back: Shared = serde_json::from_slice(&json).unwrap();
        assert_eq!((back.endpoint, back.logs, back.notes), (e.endpoint, e.logs, e.notes));
        assert!(json.len() < crate::state::evidence::MAX_PAYLOAD / 4, "{} bytes before deflating", json.len());
    }
}
