//! What this warm instance has already delivered, receiver by receiver.
//!
//! When one receiver fails retryably the invocation fails so that Lambda retries the event
//! (nothing is dropped). Without this memory the retry would post again to the receivers that
//! already had it: Slack would show the alarm twice. Lambda's asynchronous retries usually land
//! on the same warm instance, so remembering here avoids most repeats; a retry on another
//! instance still repeats (PagerDuty collapses that by `dedup_key`, Slack does not).

use crate::report::Report;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lambda keeps retrying an asynchronous event for at most 6 hours (maximum event age).
pub const KEEP: Duration = Duration::from_secs(6 * 3600);
/// Bounded so that a long-lived instance in a storm cannot grow without limit; the oldest go first.
pub const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct Delivered {
    seen: Mutex<HashMap<(String, String), Instant>>,
}

impl Delivered {
    /// Whether `receiver` already had the notification `key`.
    pub fn contains(&self, key: &str, receiver: &str) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(&(key.to_string(), receiver.to_string())).is_some_and(|at| at.elapsed() < KEEP)
    }

    pub fn insert(&self, key: &str, receiver: &str) {
        self.insert_at(key, receiver, Instant::now());
    }

    fn insert_at(&self, key: &str, receiver: &str, at: Instant) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, t| t.elapsed() < KEEP);
        if seen.len() >= MAX_ENTRIES {
            if let Some(oldest) = seen.iter().min_by_key(|(_, t)| **t).map(|(k, _)| k.clone()) {
                seen.remove(&oldest);
            }
        }
        seen.insert((key.to_string(), receiver.to_string()), at);
    }
}

/// One notification, the same in every retry of its event and the key of its delivery records in
/// the state table: an alarm's identity, state change time and new state (so a second topic, or
/// EventBridge, carrying the same state change is the same notification too); otherwise the SNS
/// message or EventBridge event id. `None`: nothing stable to remember it by.
pub fn key(report: &Report) -> Option<String> {
    match report {
        Report::Alarm(a) => {
            a.alarm.state_change_key().map(|k| format!("{k}#{}", a.alarm.state.as_str())).or_else(|| a.alarm.delivery_key())
        }
        Report::Plain(p) => p.origin.delivery_id().map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_receiver() {
        let d = Delivered::default();
        d.insert("alarm-1", "slack");
        assert!(d.contains("alarm-1", "slack"));
        assert!(!d.contains("alarm-1", "pagerduty"));
        assert!(!d.contains("alarm-2", "slack"));
    }

    #[test]
    fn stays_bounded_dropping_the_oldest() {
        let d = Delivered::default();
        let start = Instant::now();
        for i in 0..MAX_ENTRIES + 5 {
            d.insert_at(&format!("alarm-{i}"), "slack", start + Duration::from_millis(i as u64));
        }
        assert_eq!(d.seen.lock().unwrap().len(), MAX_ENTRIES);
        assert!(!d.contains("alarm-0", "slack"), "the oldest is forgotten first");
        assert!(d.contains(&format!("alarm-{}", MAX_ENTRIES + 4), "slack"));
    }
}

#[cfg(test)]
mod contributor_tests {
    use crate::render::test_support::*;

    #[test]
    fn the_memo_is_per_contributor_and_shared_by_routes() {
        let key = |raw: &str| super::key(&reports_from_str(raw).remove(0)).unwrap();
        let sns = key(&fixture("sns-contributor-gpu-alarm.json"));
        assert_eq!(key(&fixture("eventbridge-contributor-gpu-alarm.json")), sns);
        assert_eq!(key(&fixture("lambda-action-contributor-gpu-alarm.json")), sns);
        assert_ne!(key(&fixture("sns-contributor-gpu-alarm.json").replace("6d442278dba546f6", "a1b2c3d4e5f60718")), sns);
    }
}
