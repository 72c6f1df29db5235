//! Enrich once, share many: `evidence#<bucket>` holds what one invocation fetched about an
//! endpoint (its description, its container logs) for the other alarms of the same storm, on
//! other Lambda instances, to reuse instead of calling AWS again (issue 18: FilterLogEvents allows
//! 5 requests per second per account and Region, and a bad endpoint fires 10 – 50 alarms at once).
//!
//! The claim follows [`super::delivery`]: the first invocation puts an in-progress record with its
//! own lease (its enrichment deadline) and a token ([`StateTable::put_claim`], the same put as a
//! delivery's); the others find it and poll
//! ([`StateTable::evidence_read`]) until it is ready or its lease passes (then one of them takes
//! it over). The payload is opaque here (the enrich layer's JSON), stored deflated in a Binary
//! attribute and refused above [`MAX_PAYLOAD`], well under DynamoDB's 400 KB item limit.

use super::{epoch_ms, epoch_s, expiry, key, n, s, token, Claimed, Item, StateError, StateTable, Ticket};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use std::io::{Read, Write};
use std::time::{Duration, SystemTime};

/// Deflated payloads above this are not stored (the record says so and every alarm fetches for
/// itself): DynamoDB items stop at 400 KB including names and the other attributes.
pub const MAX_PAYLOAD: usize = 300 * 1024;

/// A payload is never inflated beyond this: a corrupt or hostile item cannot exhaust memory.
const MAX_INFLATED: u64 = 8 * 1024 * 1024;

/// What the table says about a bucket's evidence.
#[derive(Debug, PartialEq)]
pub enum Evidence {
    /// Ours to fetch: [`StateTable::evidence_publish`] it (or [`StateTable::release`]).
    Mine(Ticket),
    /// Another invocation fetches it; `lapsed`: its lease has passed, so it may be claimed.
    InProgress { lapsed: bool },
    /// Fetched: the payload, or `None` when it was too large to share (fetch for yourself).
    Ready(Option<Vec<u8>>),
}

/// The partition key of a bucket's evidence (`evidence#<parts…>`).
pub fn evidence_key(parts: &[&str]) -> String {
    let mut all = vec!["evidence"];
    all.extend_from_slice(parts);
    key(&all)
}

impl StateTable {
    /// Claims the evidence of `bucket` (the parts of its key) until `lease` from now; when it is
    /// someone else's, says whether it is ready (with its payload) or still being fetched. Records
    /// live for `keep`, then any claim takes their place.
    pub async fn evidence_claim(&self, bucket: &[&str], lease: Duration, keep: Duration) -> Result<Evidence, StateError> {
        let now = SystemTime::now();
        let pk = evidence_key(bucket);
        let token = token();
        let lease_until = epoch_ms(now + lease);
        let item: Item = [
            ("pk".to_string(), s(&pk)),
            ("status".to_string(), s("in_progress")),
            ("token".to_string(), s(&token)),
            ("lease_until_ms".to_string(), n(lease_until)),
            ("expires_at".to_string(), n(expiry(keep.max(lease)))),
        ]
        .into();
        match self.put_claim(item, now).await? {
            Claimed::Won => Ok(Evidence::Mine(Ticket { pk, token })),
            Claimed::Lost(Some(item)) => self.evidence_of(&item),
            // An emulator that does not return the item in the way: read it.
            Claimed::Lost(None) => Ok(self.evidence_read(bucket).await?.unwrap_or(Evidence::InProgress { lapsed: false })),
        }
    }

    /// The evidence of `bucket` as it stands (a strongly consistent read: a poll must see the
    /// record the moment it is ready); `None` when there is none, or only an expired one.
    pub async fn evidence_read(&self, bucket: &[&str]) -> Result<Option<Evidence>, StateError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&evidence_key(bucket)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error(&e))?;
        match got.item() {
            Some(item) if number(item, "expires_at").is_some_and(|t| t >= epoch_s(SystemTime::now())) => self.evidence_of(item).map(Some),
            _ => Ok(None),
        }
    }

    /// Stores the fetched payload (deflated) under our lease: the record becomes ready. A payload
    /// too large to store leaves a ready record without one, so that the others fetch for
    /// themselves at once instead of waiting. `Ok(false)`: the lease was lost (taken over after
    /// it passed) and nothing was written.
    pub async fn evidence_publish(&self, lease: &Ticket, payload: &[u8], keep: Duration) -> Result<bool, StateError> {
        let packed = deflate(payload).map_err(|e| StateError { table: self.table.clone(), message: format!("deflating evidence: {e}") })?;
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&lease.pk))
            .condition_expression("#token = :token")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":ready", s("ready"))
            .expression_attribute_values(":keep", n(expiry(keep)))
            .expression_attribute_values(":token", s(&lease.token));
        update = if packed.len() <= MAX_PAYLOAD {
            update
                .update_expression("SET #status = :ready, expires_at = :keep, payload = :payload, raw_bytes = :raw")
                .expression_attribute_values(":payload", AttributeValue::B(Blob::new(packed)))
        } else {
            tracing::warn!(bytes = packed.len(), max = MAX_PAYLOAD, "shared evidence too large to store: each alarm fetches its own");
            update.update_expression("SET #status = :ready, expires_at = :keep, raw_bytes = :raw")
        };
        let done = update.expression_attribute_values(":raw", n(payload.len() as i64)).send().await;
        Ok(self.applied(done)?.is_some())
    }

    fn evidence_of(&self, item: &Item) -> Result<Evidence, StateError> {
        let bad = |what: &str| StateError { table: self.table.clone(), message: format!("unreadable evidence item: {what}") };
        match item.get("status").and_then(|v| v.as_s().ok()).map(String::as_str) {
            Some("in_progress") => {
                let lease_until_ms = number(item, "lease_until_ms").unwrap_or(0);
                Ok(Evidence::InProgress { lapsed: lease_until_ms < epoch_ms(SystemTime::now()) })
            }
            Some("ready") => match item.get("payload") {
                None => Ok(Evidence::Ready(None)),
                Some(v) => {
                    let blob = v.as_b().map_err(|_| bad("payload is not binary"))?;
                    inflate(blob.as_ref()).map(|p| Evidence::Ready(Some(p))).map_err(|e| bad(&format!("payload: {e}")))
                }
            },
            other => Err(bad(&format!("status {other:?}"))),
        }
    }
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

fn deflate(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes)?;
    enc.finish()
}

fn inflate(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    DeflateDecoder::new(bytes).take(MAX_INFLATED + 1).read_to_end(&mut out)?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("inflates beyond {MAX_INFLATED} bytes")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_deflated_and_a_bomb_is_refused() {
        let json = serde_json::json!({"lines": vec!["ERROR CUDA out of memory. Tried to allocate 2.00 GiB"; 200]}).to_string();
        let packed = deflate(json.as_bytes()).unwrap();
        assert!(packed.len() * 10 < json.len(), "repetitive log lines deflate well: {} → {}", json.len(), packed.len());
        assert_eq!(inflate(&packed).unwrap(), json.as_bytes());
        let bomb = deflate(&vec![0u8; (MAX_INFLATED + 10) as usize]).unwrap();
        assert!(inflate(&bomb).unwrap_err().to_string().contains("inflates beyond"));
        assert!(inflate(b"not deflate at all").is_err());
    }

    #[test]
    fn keys_are_prefixed_and_bounded() {
        assert_eq!(evidence_key(&["ep", "AllTraffic/", "1763647500"]), "evidence#ep#AllTraffic/#1763647500");
        assert!(evidence_key(&[&"x".repeat(5000)]).len() < 1100);
    }
}
