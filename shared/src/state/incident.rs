//! What people did about an alarm, shared by every instance: `incident#<alarm identity>` holds its
//! acknowledgement (who, when) and its snooze (who, until when, and the CloudWatch mute rule put
//! for it, if any). Both end when the alarm resolves ([`StateTable::resolve_incident`]); a snooze
//! also ends at its time (every read compares it with now: TTL deletes lazily).

use super::{epoch_s, expiry, key, n, s, StateError, StateTable};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// An incident's record is kept this long after its last change.
pub const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acked {
    /// The Slack user ID (`U…`).
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snoozed {
    pub by: String,
    pub at: DateTime<Utc>,
    /// `None`: until the alarm is OK again.
    pub until: Option<DateTime<Utc>>,
    /// The CloudWatch alarm mute rule put for the snooze (its name), to delete on unsnooze.
    #[serde(default)]
    pub mute_rule: Option<String>,
}

/// What people did about an alarm.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentState {
    pub ack: Option<Acked>,
    pub snooze: Option<Snoozed>,
}

impl IncidentState {
    /// The snooze, while it lasts at `now`.
    pub fn snoozed_at(&self, now: DateTime<Utc>) -> Option<&Snoozed> {
        self.snooze.as_ref().filter(|s| s.until.is_none_or(|u| u > now))
    }
}

fn json<T: Serialize>(v: &T) -> AttributeValue {
    s(&serde_json::to_string(v).unwrap_or_default())
}

fn read<T: for<'de> Deserialize<'de>>(item: &super::Item, field: &str) -> Option<T> {
    item.get(field).and_then(|v| v.as_s().ok()).and_then(|j| serde_json::from_str(j).ok())
}

impl StateTable {
    /// The incident of `alarm` (its identity); empty when nothing was done about it.
    pub async fn incident(&self, alarm: &str) -> Result<IncidentState, StateError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&key(&["incident", alarm])))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error(&e))?;
        let Some(item) = got.item else { return Ok(IncidentState::default()) };
        let live = item
            .get("expires_at")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|t| t >= epoch_s(SystemTime::now()));
        if !live {
            return Ok(IncidentState::default());
        }
        Ok(IncidentState { ack: read(&item, "ack"), snooze: read(&item, "snooze") })
    }

    /// Records the acknowledgement unless there is one: `Ok(mine)` when this one counts,
    /// `Err(earlier)` when someone acknowledged first (a second click changes nothing).
    pub async fn acknowledge(&self, alarm: &str, ack: &Acked) -> Result<Result<Acked, Acked>, StateError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&key(&["incident", alarm])))
            .update_expression("SET ack = if_not_exists(ack, :ack), expires_at = :keep")
            .expression_attribute_values(":ack", json(ack))
            .expression_attribute_values(":keep", n(expiry(KEEP)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| self.error(&e))?;
        let kept: Option<Acked> = out.attributes().and_then(|a| read(a, "ack"));
        Ok(match kept {
            Some(k) if k != *ack => Err(k),
            _ => Ok(ack.clone()),
        })
    }

    /// Records a snooze (replacing any earlier one).
    pub async fn snooze(&self, alarm: &str, snooze: &Snoozed) -> Result<(), StateError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&key(&["incident", alarm])))
            .update_expression("SET snooze = :snooze, expires_at = :keep")
            .expression_attribute_values(":snooze", json(snooze))
            .expression_attribute_values(":keep", n(expiry(KEEP)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.error(&e))
    }

    /// Ends the snooze; the one that was there, if any.
    pub async fn unsnooze(&self, alarm: &str) -> Result<Option<Snoozed>, StateError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&key(&["incident", alarm])))
            .update_expression("REMOVE snooze SET expires_at = :keep")
            .expression_attribute_values(":keep", n(expiry(KEEP)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| self.error(&e))?;
        Ok(out.attributes().and_then(|a| read(a, "snooze")))
    }

    /// The alarm resolved: its acknowledgement and snooze end (the next ALARM is a new incident).
    pub async fn resolve_incident(&self, alarm: &str) -> Result<(), StateError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(&key(&["incident", alarm])))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.error(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snooze_lasts_until_its_time_or_until_ok() {
        let at = DateTime::parse_from_rfc3339("2026-11-20T14:10:00Z").unwrap().with_timezone(&Utc);
        let timed = IncidentState {
            ack: None,
            snooze: Some(Snoozed { by: "U1".into(), at, until: Some(at + chrono::Duration::hours(1)), mute_rule: None }),
        };
        assert!(timed.snoozed_at(at + chrono::Duration::minutes(59)).is_some());
        assert!(timed.snoozed_at(at + chrono::Duration::minutes(61)).is_none());
        let until_ok = IncidentState { ack: None, snooze: Some(Snoozed { by: "U1".into(), at, until: None, mute_rule: None }) };
        assert!(until_ok.snoozed_at(at + chrono::Duration::days(3)).is_some());
    }
}
