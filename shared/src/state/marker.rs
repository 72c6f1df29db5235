//! Markers shared by every instance: a thing seen once (a Slack request: the replay check) and a
//! lock with an expiry (one remediation of an endpoint at a time, whoever asks).

use super::{epoch_s, expiry, key, n, s, StateError, StateTable, ABSENT};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use std::time::{Duration, SystemTime};

/// A lock held by this invocation; [`StateTable::unlock`] it when done (or it expires).
#[derive(Debug, Clone, PartialEq)]
pub struct Lock {
    pk: String,
    holder: String,
}

impl StateTable {
    /// `true` the first time `what` is seen within `keep`, `false` after (across instances).
    pub async fn first_time(&self, what: &str, keep: Duration) -> Result<bool, StateError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&key(&["once", what])))
            .item("expires_at", n(expiry(keep)))
            .condition_expression(ABSENT)
            .expression_attribute_values(":now", n(epoch_s(SystemTime::now())))
            .send()
            .await;
        self.written(put)
    }

    /// Takes the lock `what` for `holder` (said to whoever finds it taken) for at most `hold`.
    /// `Err(holder)`: someone else holds it.
    pub async fn lock(&self, what: &str, holder: &str, hold: Duration) -> Result<Result<Lock, String>, StateError> {
        let pk = key(&["lock", what]);
        let holder = format!("{holder} ({:08x})", fastrand::u32(..));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&pk))
            .item("holder", s(&holder))
            .item("expires_at", n(expiry(hold)))
            .condition_expression(ABSENT)
            .expression_attribute_values(":now", n(epoch_s(SystemTime::now())))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match put {
            Ok(_) => Ok(Ok(Lock { pk, holder })),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(c)) => {
                    let by = c.item().and_then(|i| i.get("holder")).and_then(|v| v.as_s().ok()).cloned();
                    Ok(Err(by.unwrap_or_else(|| "another invocation".into())))
                }
                _ => Err(self.error(&e)),
            },
        }
    }

    /// Gives the lock back (only if it is still ours).
    pub async fn unlock(&self, lock: &Lock) -> Result<(), StateError> {
        let gone = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(&lock.pk))
            .condition_expression("holder = :holder")
            .expression_attribute_values(":holder", AttributeValue::S(lock.holder.clone()))
            .send()
            .await;
        gone.map(|_| ()).map_err(|e| self.error(&e))
    }
}
