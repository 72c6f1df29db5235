//! At most once per receiver: a notification (alarm identity, state, state change time) is
//! claimed before it is posted, across Lambda instances, retries, duplicate SNS deliveries and
//! SNS + EventBridge both wired.
//!
//! The Powertools idempotency pattern: a conditional `PutItem` writes an in-progress record with
//! its own lease (the invocation's deadline) — a concurrent duplicate finds it and does not post;
//! after the post the record becomes delivered and is kept for [`KEEP`]; a failed post deletes it
//! so the retry can deliver. A crashed invocation's record frees itself when its lease passes.

use super::{epoch_ms, expiry, key, n, s, token, Claimed, Item, StateError, StateTable, Ticket};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// How long a delivered notification is remembered: Lambda retries an asynchronous event for at
/// most 6 hours; SNS redeliveries and a second topic come within minutes.
pub const KEEP: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    InProgress,
    Delivered,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    pk: String,
    status: Status,
    /// Whose claim it is: completing or releasing someone else's (after our lease passed) is refused.
    token: String,
    /// Epoch milliseconds; an in-progress record older than this is abandoned and may be claimed.
    lease_until_ms: i64,
    expires_at: i64,
    receiver: String,
    notification: String,
}

/// The answer to a claim.
#[derive(Debug, PartialEq)]
pub enum Claim {
    /// Ours to deliver; [`StateTable::complete`] or [`StateTable::release`] it afterwards.
    Mine(Ticket),
    /// Delivered already (another instance, an earlier attempt, the other topic).
    Delivered,
    /// Another invocation is delivering it right now: it will finish, or release it and be retried.
    InProgress,
}

impl StateTable {
    /// Claims `notification` for `receiver` until `lease` from now (the invocation's time left).
    pub async fn claim(&self, receiver: &str, notification: &str, lease: Duration) -> Result<Claim, StateError> {
        let now = SystemTime::now();
        let pk = key(&["delivery", receiver, notification]);
        let token = token();
        let record = Record {
            pk: pk.clone(),
            status: Status::InProgress,
            token: token.clone(),
            lease_until_ms: epoch_ms(now + lease),
            // Kept at least as long as the lease, then TTL removes an abandoned one.
            expires_at: expiry(lease.max(Duration::from_secs(3600))),
            receiver: receiver.to_string(),
            notification: notification.to_string(),
        };
        let item: Item = serde_dynamo::to_item(&record).map_err(|e| self.bad_item(e))?;
        Ok(match self.put_claim(item, now).await? {
            Claimed::Won => Claim::Mine(Ticket { pk, token }),
            Claimed::Lost(old) => match old.and_then(|i| serde_dynamo::from_item::<_, Record>(i).ok()).map(|r| r.status) {
                Some(Status::InProgress) => Claim::InProgress,
                // Without the old item (an emulator that does not return it): it exists.
                Some(Status::Delivered) | None => Claim::Delivered,
            },
        })
    }

    /// The post went out: remembered as delivered for [`KEEP`].
    pub async fn complete(&self, ticket: &Ticket) -> Result<(), StateError> {
        let done = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&ticket.pk))
            .update_expression("SET #status = :delivered, expires_at = :keep")
            .condition_expression("#token = :token")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":delivered", s("delivered"))
            .expression_attribute_values(":keep", n(expiry(KEEP)))
            .expression_attribute_values(":token", s(&ticket.token))
            .send()
            .await;
        done.map(|_| ()).map_err(|e| self.error(&e))
    }
}
