//! One Slack thread per alarm and receiver: the parent message's channel and `ts`, the alarm's
//! state as last told, when it opened and changed, and a short history for the parent's summary.

use super::{epoch_s, expiry, key, n, s, Item, StateError, StateTable, ABSENT};
use crate::model::AlarmState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// How long a thread is kept after its last change. A new ALARM after that starts a new parent
/// (so does one long after a resolve: [`Thread::continues`]).
pub const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// The longest history kept on the item (and shown on the parent).
pub const HISTORY: usize = 12;

/// A state change the thread told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub state: AlarmState,
    pub at: DateTime<Utc>,
}

/// The parent message of an alarm at one receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thread {
    /// The channel ID the post answered with (`chat.update` needs the ID, not a name).
    pub channel: String,
    /// The parent's `ts`: every reply's `thread_ts`.
    pub ts: String,
    /// The state the parent shows now.
    pub state: AlarmState,
    /// The state change time of the notification that posted the parent.
    pub opened_at: DateTime<Utc>,
    /// The state change time of the latest notification told.
    pub changed_at: DateTime<Utc>,
    /// Oldest first, at most [`HISTORY`].
    pub history: Vec<Change>,
}

/// A new ALARM this long after the thread resolved starts a new parent instead of reopening it:
/// a flapping alarm stays in one thread, tomorrow's incident gets its own.
pub const REOPEN_WITHIN: Duration = Duration::from_secs(3600);

impl Thread {
    /// A new thread for a parent just posted.
    pub fn start(channel: String, ts: String, state: AlarmState, at: DateTime<Utc>) -> Self {
        Self { channel, ts, state, opened_at: at, changed_at: at, history: vec![Change { state, at }] }
    }

    /// Whether a notification of `state` at `at` belongs in this thread (else: a new parent).
    pub fn continues(&self, state: AlarmState, at: DateTime<Utc>) -> bool {
        let quiet = (at - self.changed_at).to_std().unwrap_or_default();
        !(state == AlarmState::Alarm && self.state != AlarmState::Alarm && quiet > REOPEN_WITHIN)
    }

    /// This thread after a later notification of `state` at `at`. An older one arriving late is
    /// told in the thread but does not move the parent's state back.
    pub fn told(&self, state: AlarmState, at: DateTime<Utc>) -> Self {
        let mut next = self.clone();
        if at >= self.changed_at {
            next.state = state;
            next.changed_at = at;
        }
        next.history.push(Change { state, at });
        next.history.sort_by_key(|c| c.at);
        if next.history.len() > HISTORY {
            // The first entry (when it opened) stays; the oldest of the rest go.
            let extra = next.history.len() - HISTORY;
            next.history.drain(1..=extra);
        }
        next
    }

    /// When the latest run of ALARM began (the parent says "resolved after 23 min").
    pub fn alarm_since(&self) -> Option<DateTime<Utc>> {
        let mut since = None;
        let mut before = None;
        for c in &self.history {
            if c.state == AlarmState::Alarm && before != Some(AlarmState::Alarm) {
                since = Some(c.at);
            }
            before = Some(c.state);
        }
        since
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    pk: String,
    #[serde(flatten)]
    thread: Thread,
    /// `changed_at` as a number, for the condition that keeps a late, older write from winning.
    changed_at_s: i64,
    expires_at: i64,
}

impl StateTable {
    /// The alarm's thread at `receiver`, if one is kept and not expired.
    pub async fn thread(&self, receiver: &str, alarm: &str) -> Result<Option<Thread>, StateError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&key(&["thread", receiver, alarm])))
            // A reply must find the parent another instance posted a moment ago.
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error(&e))?;
        let Some(item) = got.item else { return Ok(None) };
        let record: Record = serde_dynamo::from_item(item).map_err(|e| self.bad_item(e))?;
        Ok((record.expires_at >= epoch_s(SystemTime::now())).then_some(record.thread))
    }

    /// Keeps `thread` as the alarm's thread at `receiver` unless a newer state change is already
    /// kept (two notifications of one alarm told at the same moment): `false` then.
    pub async fn save_thread(&self, receiver: &str, alarm: &str, thread: &Thread) -> Result<bool, StateError> {
        let record = Record {
            pk: key(&["thread", receiver, alarm]),
            thread: thread.clone(),
            changed_at_s: thread.changed_at.timestamp(),
            expires_at: expiry(KEEP),
        };
        let item: Item = serde_dynamo::to_item(&record).map_err(|e| self.bad_item(e))?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(format!("{ABSENT} OR changed_at_s <= :mine OR ts = :ts"))
            .expression_attribute_values(":now", n(epoch_s(SystemTime::now())))
            .expression_attribute_values(":mine", n(record.changed_at_s))
            .expression_attribute_values(":ts", s(&thread.ts))
            .send()
            .await;
        self.written(put)
    }
}
