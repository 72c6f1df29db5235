//! Incident state in one DynamoDB table (`SAGEALARM_STATE_TABLE`): what invocations on different
//! Lambda instances must agree on.
//!
//! One partition key, `pk` (a string whose prefix says what the item is), and one TTL attribute,
//! `expires_at` (epoch seconds). DynamoDB deletes expired items lazily ("typically within a few
//! days"), so every condition here also treats `expires_at < now` as absent.
//!
//! - [`delivery`]: `delivery#<receiver>#<notification>`: at-most-once delivery per receiver
//!   (in progress with its own lease, then delivered), in the style of AWS Lambda Powertools'
//!   idempotency.
//! - [`thread`]: `thread#<receiver>#<alarm identity>`: the Slack parent message of an alarm, its
//!   state and a short history.
//! - [`group`]: `group#<receiver>#<group key>`: the Slack parent of a group of alarms (a route's
//!   `group`), every alarm of it with its state, and what the parent shows.
//! - [`evidence`]: `evidence#<endpoint>#<streams>#<window>`: what one invocation fetched about an
//!   endpoint (description, container logs), shared with the other alarms of a storm (in progress
//!   with a lease, then ready with the deflated payload).
//! - [`incident`]: `incident#<alarm identity>`: its acknowledgement and snooze (the Slack
//!   controls), ended when the alarm resolves.
//! - [`marker`]: `once#…` (a Slack request seen once: replay check) and `lock#…` (one remediation
//!   of an endpoint at a time).
//!
//! Every call is one request; a failure is a [`StateError`] the caller degrades on (the alarm is
//! still delivered, saying state was unavailable), never a reason to drop a notification.

pub mod delivery;
pub mod evidence;
pub mod group;
pub mod incident;
pub mod marker;
pub mod thread;

use crate::aws::{error_line, Lazy};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The environment variable naming the table; unset: no shared state (per-instance memory only).
pub const TABLE_ENV: &str = "SAGEALARM_STATE_TABLE";

/// The table, with its client built at the first call and kept for the life of the instance.
#[derive(Clone, Debug)]
pub struct StateTable {
    client: Lazy<aws_sdk_dynamodb::Client>,
    table: String,
}

/// The table could not be read or written: missing, throttled, unreachable, denied. One line,
/// said in the message that still goes out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("state table {table}: {message}")]
pub struct StateError {
    pub table: String,
    pub message: String,
}

type Item = HashMap<String, AttributeValue>;

/// The start of every condition that may take an item's place: none there, or an expired one
/// (TTL deletes lazily, moto never). Needs `:now` (epoch seconds).
const ABSENT: &str = "attribute_not_exists(pk) OR expires_at < :now";

/// A claim held by this invocation (a delivery, a storm's evidence): its item and the token that
/// proves it is still ours.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pk: String,
    token: String,
}

/// The answer to [`StateTable::put_claim`].
enum Claimed {
    /// Written: the claim is ours.
    Won,
    /// Refused: a live claim or a finished record is there (the item in the way, when the table
    /// returns it).
    Lost(Option<Item>),
}

/// A fresh claim token.
fn token() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

impl StateTable {
    pub fn new(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self { client: Lazy::from_config(sdk, aws_sdk_dynamodb::Client::new), table: table.into() }
    }

    pub fn from_client(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client: Lazy::ready(client), table: table.into() }
    }

    /// From `SAGEALARM_STATE_TABLE`; `None` when it is unset or empty.
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Option<Self> {
        table_from_env().map(|t| Self::new(sdk, t))
    }

    pub fn name(&self) -> &str {
        &self.table
    }

    fn error<E>(&self, e: &SdkError<E, HttpResponse>) -> StateError
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        StateError { table: self.table.clone(), message: error_line(e) }
    }

    /// A conditional `PutItem`'s answer: written (`true`), or refused by its condition (`false`).
    fn written(&self, put: Result<PutItemOutput, SdkError<PutItemError, HttpResponse>>) -> Result<bool, StateError> {
        match put {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => Ok(false),
            Err(e) => Err(self.error(&e)),
        }
    }

    /// A conditional `UpdateItem`'s answer: applied (its output), or refused by its condition (`None`).
    fn applied(
        &self,
        update: Result<UpdateItemOutput, SdkError<UpdateItemError, HttpResponse>>,
    ) -> Result<Option<UpdateItemOutput>, StateError> {
        match update {
            Ok(out) => Ok(Some(out)),
            Err(e) if matches!(e.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_))) => Ok(None),
            Err(e) => Err(self.error(&e)),
        }
    }

    /// The Powertools idempotency claim, for every kind of claim: puts `item` (with `status`
    /// `in_progress`, `token` and `lease_until_ms`) unless a live record is there — absent,
    /// expired, or an in-progress claim whose lease has passed may be taken.
    async fn put_claim(&self, item: Item, now: SystemTime) -> Result<Claimed, StateError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(format!("{ABSENT} OR (#status = :in_progress AND lease_until_ms < :now_ms)"))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", n(epoch_s(now)))
            .expression_attribute_values(":now_ms", n(epoch_ms(now)))
            .expression_attribute_values(":in_progress", s("in_progress"))
            // The record in the way comes back with the refusal: no second read.
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match put {
            Ok(_) => Ok(Claimed::Won),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(c)) => Ok(Claimed::Lost(c.item().cloned())),
                _ => Err(self.error(&e)),
            },
        }
    }

    /// Gives a claim back (the delivery failed, the fetch could not complete): its record goes,
    /// so that a retry or another invocation can claim it at once. Only while it is still ours.
    pub async fn release(&self, ticket: &Ticket) -> Result<(), StateError> {
        let gone = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(&ticket.pk))
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":token", s(&ticket.token))
            .send()
            .await;
        gone.map(|_| ()).map_err(|e| self.error(&e))
    }

    fn bad_item(&self, e: serde_dynamo::Error) -> StateError {
        StateError { table: self.table.clone(), message: format!("unreadable item: {e}") }
    }
}

/// The table `SAGEALARM_STATE_TABLE` names, if any.
pub fn table_from_env() -> Option<String> {
    std::env::var(TABLE_ENV).ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

/// Seconds since the Unix epoch (DynamoDB's TTL unit).
fn epoch_s(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

/// Milliseconds since the Unix epoch (leases are shorter than a second can say well).
fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

/// `expires_at` for an item kept `keep` from now.
fn expiry(keep: Duration) -> i64 {
    epoch_s(SystemTime::now() + keep)
}

/// A partition key: readable (operators look at the table), within DynamoDB's 2,048-byte limit.
/// Alarm ARNs and receiver names are far shorter; an oversized key keeps its start and a hash.
fn key(parts: &[&str]) -> String {
    let k = parts.join("#");
    if k.len() <= 1024 {
        return k;
    }
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(k.as_bytes()));
    let mut cut = 900;
    while !k.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…{digest}", &k[..cut])
}

#[cfg(test)]
pub(crate) mod tests;
