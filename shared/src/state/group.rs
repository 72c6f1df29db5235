//! One Slack parent per group of alarms (`group#<receiver>#<group key>`): the parent's channel and
//! `ts`, every alarm of the group with its state, and what the parent shows.
//!
//! Alarms of one group arrive at the same moment on different Lambda instances, so every step is
//! one conditional write:
//! - [`StateTable::open_group`]: exactly one invocation opens a group (a new incarnation, with a
//!   posting lease) and posts its parent; the others find it and join.
//! - [`StateTable::join_group`]: each alarm writes its own entry of the `members` map and bumps
//!   `version` in one `UpdateItem`, so concurrent joins never overwrite one another.
//! - [`StateTable::claim_update`]: the parent is updated at most once per [`UPDATE_EVERY`]: the
//!   invocation that takes the slot renders the members as the write returns them and sets
//!   `shown` to the version it saw. One whose version is not shown yet waits for the next slot,
//!   so the last alarm in is always in the parent's final version.
//! - [`StateTable::parents_pending`]: parents go first. Slack takes one message per second per
//!   channel, thread replies included; in a storm, a group's parent would otherwise wait its turn
//!   behind every other group's replies. Each opener marks its parent pending at the receiver
//!   (`group#<receiver>#~parents`, a map of incarnation → lease) until it is posted; replies wait
//!   while any unexpired mark is there.

use super::{epoch_ms, epoch_s, expiry, key, n, s, token, Item, StateError, StateTable, ABSENT};
use crate::model::{AlarmState, Severity};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// How long a group is kept after its last change.
pub const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// The parent is updated at most this often per group: `chat.update` is a Tier 3 method
/// (about 50 a minute per workspace), and a storm would otherwise spend it on one message.
pub const UPDATE_EVERY: Duration = Duration::from_secs(3);

/// One alarm of a group, as the parent lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub state: AlarmState,
    /// Its latest state change time.
    pub at: DateTime<Utc>,
    /// `at` in epoch seconds, for the condition that keeps a late, older notification from winning.
    pub at_s: i64,
    pub severity: Severity,
}

impl Member {
    pub fn new(name: &str, state: AlarmState, at: DateTime<Utc>, severity: Severity) -> Self {
        Self { name: name.to_string(), state, at, at_s: at.timestamp(), severity }
    }
}

/// A group's parent message and its alarms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupThread {
    /// A fresh token per parent: a join that finds another incarnation starts over.
    pub incarnation: String,
    pub channel: String,
    /// The parent's `ts`; absent while the opener is posting it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    /// While `ts` is absent: until when (epoch ms) the opener may post; after that another may.
    #[serde(default)]
    pub posting_until_ms: i64,
    /// The group's title (`ep1-prod · us-east-1`).
    pub title: String,
    pub opened_at: DateTime<Utc>,
    /// Epoch seconds of the latest join: a resolved group takes new alarms for its window after it.
    pub changed_at_s: i64,
    /// Bumped by every join.
    pub version: i64,
    /// The version the parent shows (or is being updated to).
    pub shown: i64,
    /// Epoch ms: no parent update before this.
    pub next_update_ms: i64,
    /// By member id ([`member_id`]).
    pub members: BTreeMap<String, Member>,
}

impl GroupThread {
    /// A group about to be opened by `member`, its parent not posted yet (`ts` absent).
    pub fn open(channel: &str, title: &str, id: &str, member: Member, posting: Duration) -> Self {
        let now = SystemTime::now();
        Self {
            incarnation: token(),
            channel: channel.to_string(),
            ts: None,
            posting_until_ms: epoch_ms(now + posting),
            title: title.to_string(),
            opened_at: member.at.min(Utc::now()),
            changed_at_s: epoch_s(now),
            version: 1,
            // The first post shows the opener; the next update waits for the slot.
            shown: 1,
            next_update_ms: epoch_ms(now + UPDATE_EVERY),
            members: BTreeMap::from([(id.to_string(), member)]),
        }
    }

    /// While `ts` is absent: whether the opener's posting lease has passed (another may post).
    pub fn posting_lapsed(&self) -> bool {
        epoch_ms(SystemTime::now()) > self.posting_until_ms
    }

    /// How long until the next parent update may be taken (zero: now).
    pub fn until_next_update(&self) -> Duration {
        Duration::from_millis((self.next_update_ms - epoch_ms(SystemTime::now())).max(0) as u64)
    }

    /// Whether a new alarm joins this group: any of it in ALARM, or a change within `window`.
    pub fn takes_new_alarms(&self, window: Duration) -> bool {
        let quiet = epoch_s(SystemTime::now()) - self.changed_at_s;
        self.members.values().any(|m| m.state == AlarmState::Alarm) || quiet <= window.as_secs() as i64
    }
}

/// A member's key in the `members` map: short and safe whatever the alarm ARN holds.
pub fn member_id(alarm_identity: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(alarm_identity.as_bytes())[..8])
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    pk: String,
    #[serde(flatten)]
    group: GroupThread,
    expires_at: i64,
}

/// The answer to a join.
#[derive(Debug, PartialEq)]
pub enum Joined {
    /// In, at this version; the group as the write left it.
    In(i64, GroupThread),
    /// The member already has a newer state change: not written (a late notification).
    Older(GroupThread),
    /// The group is gone or another incarnation took its place: look again.
    Gone,
}

/// The receiver's pending-parents item: under `group#` (the same IAM scope); a group key is
/// `label=value`, never this.
const PARENTS: &str = "~parents";

impl StateTable {
    fn group_key(receiver: &str, group: &str) -> String {
        key(&["group", receiver, group])
    }

    /// An `UpdateItem` of the group item (or the receiver's pending-parents item).
    fn update_group(&self, receiver: &str, group: &str) -> UpdateItemFluentBuilder {
        self.client.update_item().table_name(&self.table).key("pk", s(&Self::group_key(receiver, group)))
    }

    /// Marks the parent of group `incarnation` pending at `receiver` until `lease` from now.
    pub async fn parent_pending(&self, receiver: &str, incarnation: &str, lease: Duration) -> Result<(), StateError> {
        // A nested SET needs the map: created once per receiver (idempotent), then our entry.
        let ensure = self
            .update_group(receiver, PARENTS)
            .update_expression("SET pending = if_not_exists(pending, :empty), expires_at = :keep")
            .expression_attribute_values(":empty", AttributeValue::M(Item::new()))
            .expression_attribute_values(":keep", n(expiry(KEEP)))
            .send()
            .await;
        ensure.map_err(|e| self.error(&e))?;
        let mark = self
            .update_group(receiver, PARENTS)
            .update_expression("SET pending.#i = :until")
            .expression_attribute_names("#i", incarnation)
            .expression_attribute_values(":until", n(epoch_ms(SystemTime::now() + lease)))
            .send()
            .await;
        mark.map(|_| ()).map_err(|e| self.error(&e))
    }

    /// The parent of group `incarnation` is posted (or given up): its mark goes.
    pub async fn parent_done(&self, receiver: &str, incarnation: &str) -> Result<(), StateError> {
        let unmark = self
            .update_group(receiver, PARENTS)
            .update_expression("REMOVE pending.#i")
            .expression_attribute_names("#i", incarnation)
            .send()
            .await;
        unmark.map(|_| ()).map_err(|e| self.error(&e))
    }

    /// How many parents are being posted at `receiver` now (unexpired marks).
    pub async fn parents_pending(&self, receiver: &str) -> Result<usize, StateError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&Self::group_key(receiver, PARENTS)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error(&e))?;
        let now = epoch_ms(SystemTime::now());
        let pending = got.item.as_ref().and_then(|i| i.get("pending")).and_then(|p| p.as_m().ok());
        Ok(pending.map_or(0, |m| m.values().filter(|v| v.as_n().ok().and_then(|n| n.parse::<i64>().ok()).is_some_and(|t| t > now)).count()))
    }

    /// The group at `receiver`, if kept and not expired.
    pub async fn group(&self, receiver: &str, group: &str) -> Result<Option<GroupThread>, StateError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&Self::group_key(receiver, group)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error(&e))?;
        self.live(got.item)
    }

    fn live(&self, item: Option<Item>) -> Result<Option<GroupThread>, StateError> {
        let Some(item) = item else { return Ok(None) };
        let record: Record = serde_dynamo::from_item(item).map_err(|e| self.bad_item(e))?;
        Ok((record.expires_at >= epoch_s(SystemTime::now())).then_some(record.group))
    }

    /// Opens `fresh` in place of nothing (or of `replacing`, a group that takes no new alarms):
    /// `false` when another invocation opened one first.
    pub async fn open_group(
        &self,
        receiver: &str,
        group: &str,
        fresh: &GroupThread,
        replacing: Option<&GroupThread>,
    ) -> Result<bool, StateError> {
        let record = Record { pk: Self::group_key(receiver, group), group: fresh.clone(), expires_at: expiry(KEEP) };
        let item: Item = serde_dynamo::to_item(&record).map_err(|e| self.bad_item(e))?;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .expression_attribute_values(":now", n(epoch_s(SystemTime::now())));
        put = match replacing {
            Some(old) => {
                put.condition_expression(format!("{ABSENT} OR incarnation = :old")).expression_attribute_values(":old", s(&old.incarnation))
            }
            None => put.condition_expression(ABSENT),
        };
        self.written(put.send().await)
    }

    /// Writes `member` into the group `incarnation` and bumps its version.
    pub async fn join_group(
        &self,
        receiver: &str,
        group: &str,
        incarnation: &str,
        id: &str,
        member: &Member,
    ) -> Result<Joined, StateError> {
        let now = SystemTime::now();
        let value: Item = serde_dynamo::to_item(member).map_err(|e| self.bad_item(e))?;
        let update = self
            .update_group(receiver, group)
            .update_expression("SET members.#m = :member, changed_at_s = :now, expires_at = :keep ADD version :one")
            .condition_expression(
                "incarnation = :inc AND expires_at >= :now AND (attribute_not_exists(members.#m) OR members.#m.at_s <= :at_s)",
            )
            .expression_attribute_names("#m", id)
            .expression_attribute_values(":member", AttributeValue::M(value))
            .expression_attribute_values(":now", n(epoch_s(now)))
            .expression_attribute_values(":keep", n(expiry(KEEP)))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":inc", s(incarnation))
            .expression_attribute_values(":at_s", n(member.at_s))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match self.updated(update)? {
            Some(g) => Ok(Joined::In(g.version, g)),
            // Refused: a newer state of this member, or another incarnation (or none).
            None => Ok(match self.group(receiver, group).await? {
                Some(g) if g.incarnation == incarnation => Joined::Older(g),
                _ => Joined::Gone,
            }),
        }
    }

    /// The opener posted the parent: its `ts` is kept for everyone else.
    pub async fn parent_posted(&self, receiver: &str, group: &str, incarnation: &str, ts: &str) -> Result<bool, StateError> {
        let update = self
            .update_group(receiver, group)
            .update_expression("SET ts = :ts")
            .condition_expression("incarnation = :inc AND attribute_not_exists(ts)")
            .expression_attribute_values(":ts", s(ts))
            .expression_attribute_values(":inc", s(incarnation))
            .send()
            .await;
        self.updated_plain(update)
    }

    /// Takes over (or gives up, `lease` zero) posting the parent of a group whose `ts` is still
    /// absent: taking over succeeds only once the current lease has passed.
    pub async fn posting_lease(
        &self,
        receiver: &str,
        group: &str,
        incarnation: &str,
        lease: Duration,
        give_up: bool,
    ) -> Result<bool, StateError> {
        let now = SystemTime::now();
        let until = if give_up { 0 } else { epoch_ms(now + lease) };
        let mut cond = "incarnation = :inc AND attribute_not_exists(ts)".to_string();
        let mut update = self
            .update_group(receiver, group)
            .update_expression("SET posting_until_ms = :until")
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":inc", s(incarnation));
        if !give_up {
            cond.push_str(" AND posting_until_ms < :now_ms");
            update = update.expression_attribute_values(":now_ms", n(epoch_ms(now)));
        }
        self.updated_plain(update.condition_expression(cond).send().await)
    }

    /// Takes the next parent update, if its slot has come and the parent does not show `version`
    /// yet: the group as of this moment, to render; `None` when not (someone else has it, or the
    /// slot is not open yet).
    pub async fn claim_update(
        &self,
        receiver: &str,
        group: &str,
        incarnation: &str,
        version: i64,
    ) -> Result<Option<GroupThread>, StateError> {
        let now = SystemTime::now();
        let update = self
            .update_group(receiver, group)
            .update_expression("SET shown = version, next_update_ms = :next")
            .condition_expression("incarnation = :inc AND attribute_exists(ts) AND next_update_ms <= :now_ms AND shown < :version")
            .expression_attribute_values(":next", n(epoch_ms(now + UPDATE_EVERY)))
            .expression_attribute_values(":inc", s(incarnation))
            .expression_attribute_values(":now_ms", n(epoch_ms(now)))
            .expression_attribute_values(":version", n(version))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        self.updated(update)
    }

    /// A conditional `UpdateItem` returning the new item: `None` when its condition refused it.
    fn updated(
        &self,
        update: Result<UpdateItemOutput, SdkError<UpdateItemError, HttpResponse>>,
    ) -> Result<Option<GroupThread>, StateError> {
        let Some(out) = self.applied(update)? else { return Ok(None) };
        let mut item = out.attributes.unwrap_or_default();
        // `live` wants the whole record; the new image has every attribute.
        item.entry("pk".into()).or_insert_with(|| s(""));
        self.live(Some(item))
    }

    fn updated_plain(&self, update: Result<UpdateItemOutput, SdkError<UpdateItemError, HttpResponse>>) -> Result<bool, StateError> {
        Ok(self.applied(update)?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_takes_new_alarms_while_one_is_in_alarm_or_within_its_window() {
        let at = Utc::now() - chrono::Duration::hours(3);
        let mut g = GroupThread::open("C1", "ep1", "a", Member::new("a", AlarmState::Alarm, at, Severity::Error), Duration::ZERO);
        g.changed_at_s -= 3 * 3600;
        assert!(g.takes_new_alarms(Duration::from_secs(600)), "still in ALARM, however long ago");
        g.members.values_mut().for_each(|m| m.state = AlarmState::Ok);
        assert!(!g.takes_new_alarms(Duration::from_secs(600)), "resolved three hours ago: a new incident");
        assert!(g.takes_new_alarms(Duration::from_secs(4 * 3600)), "within a longer window");
    }

    #[test]
    fn member_ids_are_short_and_stable() {
        let id = member_id("arn:aws:cloudwatch:us-east-1:1:alarm:x");
        assert_eq!(id.len(), 16);
        assert_eq!(id, member_id("arn:aws:cloudwatch:us-east-1:1:alarm:x"));
        assert_ne!(id, member_id("arn:aws:cloudwatch:us-east-1:1:alarm:y"));
    }
}
