//! Slack request signing (v0): HMAC-SHA256 of `v0:{timestamp}:{raw body}` with the app's
//! signing secret, compared in constant time; requests older than five minutes are replays.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Slack's replay window.
pub const MAX_AGE_S: i64 = 5 * 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Slack-Signature or X-Slack-Request-Timestamp")]
    Missing,
    #[error("X-Slack-Request-Timestamp is not a number")]
    BadTimestamp,
    #[error("request is {0} s away from now (more than 5 minutes): refused as a possible replay")]
    Stale(i64),
    #[error("X-Slack-Signature is not v0=<64 hex digits>")]
    Malformed,
    #[error("signature does not match the body")]
    Mismatch,
}

/// Checks one request. `now` is Unix seconds (passed in so tests control the clock).
pub fn verify(secret: &[u8], timestamp: Option<&str>, signature: Option<&str>, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let (ts, sig) = match (timestamp, signature) {
        (Some(t), Some(s)) if !t.is_empty() && !s.is_empty() => (t.trim(), s.trim()),
        _ => return Err(SignatureError::Missing),
    };
    let at: i64 = ts.parse().map_err(|_| SignatureError::BadTimestamp)?;
    let skew = now.saturating_sub(at);
    if skew.abs() > MAX_AGE_S {
        return Err(SignatureError::Stale(skew));
    }
    let given = sig.strip_prefix("v0=").and_then(|h| hex::decode(h).ok()).filter(|b| b.len() == 32).ok_or(SignatureError::Malformed)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(b"v0:");
    mac.update(ts.as_bytes());
    mac.update(b":");
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&given).map_err(|_| SignatureError::Mismatch)
}

/// The signature Slack would send: for tests and local tools.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's published example ("Verifying requests from Slack").
    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slacks_published_example_verifies() {
        assert_eq!(sign(SECRET, TS, BODY.as_bytes()), SIG);
        assert_eq!(verify(SECRET, Some(TS), Some(SIG), BODY.as_bytes(), 1531420618 + 10), Ok(()));
    }

    #[test]
    fn tampered_stale_replayed_unsigned_and_malformed_requests_are_refused() {
        let now = 1531420618;
        let tampered = BODY.replace("roadrunner", "coyote");
        assert_eq!(verify(SECRET, Some(TS), Some(SIG), tampered.as_bytes(), now), Err(SignatureError::Mismatch));
        assert_eq!(verify(b"another-secret", Some(TS), Some(SIG), BODY.as_bytes(), now), Err(SignatureError::Mismatch));
        // The same signed request replayed six minutes later.
        assert_eq!(verify(SECRET, Some(TS), Some(SIG), BODY.as_bytes(), now + 360), Err(SignatureError::Stale(360)));
        // A new timestamp with the old signature.
        assert_eq!(verify(SECRET, Some("1531420700"), Some(SIG), BODY.as_bytes(), now + 82), Err(SignatureError::Mismatch));
        assert_eq!(verify(SECRET, None, Some(SIG), BODY.as_bytes(), now), Err(SignatureError::Missing));
        assert_eq!(verify(SECRET, Some(TS), None, BODY.as_bytes(), now), Err(SignatureError::Missing));
        assert_eq!(verify(SECRET, Some("soon"), Some(SIG), BODY.as_bytes(), now), Err(SignatureError::BadTimestamp));
        assert_eq!(verify(SECRET, Some(TS), Some("v1=abc"), BODY.as_bytes(), now), Err(SignatureError::Malformed));
        assert_eq!(verify(SECRET, Some(TS), Some("v0=zz"), BODY.as_bytes(), now), Err(SignatureError::Malformed));
    }
}
