//! Webhook signatures (R-E-1): checked before anything is stored.
//!
//! - CCAI session events (events.md §1): `X-Signature: primary=<b64> secondary=<b64>` and
//!   `X-Signature-Timestamp: <unix s>`; signature = Base64(HMAC-SHA256(secret, ts + body));
//!   valid when either given signature matches either configured secret (rotation); refused
//!   when the timestamp is more than 300 s from now (replay).
//! - Kustomer outbound webhooks: `X-Kustomer-Webhook-Signature` = lowercase hex
//!   HMAC-SHA256(token, body).
//!
//! Comparisons are constant-time (`Mac::verify_slice`).

use crate::config::Secret;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How far a session event's timestamp may be from now, either way.
pub const REPLAY_WINDOW_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing {0} header")]
    Missing(&'static str),
    #[error("malformed {0} header")]
    Malformed(&'static str),
    #[error("timestamp is {skew_secs} s from now (allowed: {REPLAY_WINDOW_SECS} s)")]
    OutsideWindow { skew_secs: i64 },
    #[error("signature does not match")]
    Mismatch,
}

fn mac(secret: &str) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts any key length"),
    }
}

/// Base64(HMAC-SHA256(secret, "<timestamp><body>")).
pub fn sign_session_event(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The `X-Signature` value for a body signed with one or two secrets.
pub fn session_signature_header(
    timestamp: i64,
    body: &[u8],
    primary: &str,
    secondary: Option<&str>,
) -> String {
    let mut header = format!("primary={}", sign_session_event(primary, timestamp, body));
    if let Some(secondary) = secondary {
        header.push_str(&format!(
            " secondary={}",
            sign_session_event(secondary, timestamp, body)
        ));
    }
    header
}

/// Checks a CCAI session event: `signature` and `timestamp` are the raw header values.
pub fn verify_session_event(
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    secrets: &[Secret],
    now_secs: i64,
) -> Result<(), SignatureError> {
    let signature = signature.ok_or(SignatureError::Missing("X-Signature"))?;
    let timestamp_text = timestamp.ok_or(SignatureError::Missing("X-Signature-Timestamp"))?;
    let timestamp: i64 = timestamp_text
        .trim()
        .parse()
        .map_err(|_| SignatureError::Malformed("X-Signature-Timestamp"))?;
    let skew = now_secs.saturating_sub(timestamp);
    if skew.abs() > REPLAY_WINDOW_SECS {
        return Err(SignatureError::OutsideWindow { skew_secs: skew });
    }
    let mut given = Vec::new();
    for part in signature.split([' ', ',']).filter(|p| !p.is_empty()) {
        let (name, value) = part
            .split_once('=')
            .ok_or(SignatureError::Malformed("X-Signature"))?;
        if name != "primary" && name != "secondary" {
            continue;
        }
        // Base64 itself may end in '='; split_once keeps them in `value`.
        let bytes = STANDARD
            .decode(value)
            .map_err(|_| SignatureError::Malformed("X-Signature"))?;
        given.push(bytes);
    }
    if given.is_empty() {
        return Err(SignatureError::Malformed("X-Signature"));
    }
    let prefix = timestamp_text.trim().as_bytes();
    let matched = secrets.iter().any(|secret| {
        given.iter().any(|candidate| {
            let mut mac = mac(secret.expose());
            mac.update(prefix);
            mac.update(body);
            mac.verify_slice(candidate).is_ok()
        })
    });
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Lowercase hex HMAC-SHA256(token, body): Kustomer's outbound-webhook signature.
pub fn sign_kustomer_webhook(token: &str, body: &[u8]) -> String {
    let mut mac = mac(token);
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks `X-Kustomer-Webhook-Signature`.
pub fn verify_kustomer_webhook(
    signature: Option<&str>,
    body: &[u8],
    token: &Secret,
) -> Result<(), SignatureError> {
    let signature = signature.ok_or(SignatureError::Missing("X-Kustomer-Webhook-Signature"))?;
    let bytes = hex::decode(signature.trim())
        .map_err(|_| SignatureError::Malformed("X-Kustomer-Webhook-Signature"))?;
    let mut mac = mac(token.expose());
    mac.update(body);
    mac.verify_slice(&bytes)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const BODY: &[u8] = br#"{"id":"e1","type":"call.ended","session":{"kind":"call","id":987}}"#;

    fn secrets(list: &[&str]) -> Vec<Secret> {
        list.iter().map(|s| Secret::new(*s)).collect()
    }

    fn verify(
        header: &str,
        ts: i64,
        body: &[u8],
        configured: &[&str],
    ) -> Result<(), SignatureError> {
        verify_session_event(
            Some(header),
            Some(&ts.to_string()),
            body,
            &secrets(configured),
            NOW,
        )
    }

    #[test]
    fn r_e_1_a_good_signature_verifies() {
        let header = session_signature_header(NOW, BODY, "s1", None);
        assert_eq!(verify(&header, NOW, BODY, &["s1"]), Ok(()));
    }

    #[test]
    fn r_e_1_a_tampered_body_or_timestamp_is_refused() {
        let header = session_signature_header(NOW, BODY, "s1", None);
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            verify(&header, NOW, &tampered, &["s1"]),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&header, NOW - 1, BODY, &["s1"]),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&header, NOW, BODY, &["other"]),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn r_e_1_rotation_accepts_either_signature_against_either_secret() {
        // Sender signs with its new primary and old secondary; we still have the old one first.
        let header = session_signature_header(NOW, BODY, "new", Some("old"));
        assert_eq!(verify(&header, NOW, BODY, &["old"]), Ok(()));
        assert_eq!(verify(&header, NOW, BODY, &["new"]), Ok(()));
        assert_eq!(verify(&header, NOW, BODY, &["unrelated", "new"]), Ok(()));
        let secondary_only = format!("secondary={}", sign_session_event("old", NOW, BODY));
        assert_eq!(verify(&secondary_only, NOW, BODY, &["x", "old"]), Ok(()));
    }

    #[test]
    fn r_e_1_old_and_future_timestamps_are_refused_as_replays() {
        for ts in [NOW - 301, NOW + 301] {
            let header = session_signature_header(ts, BODY, "s1", None);
            assert!(matches!(
                verify(&header, ts, BODY, &["s1"]),
                Err(SignatureError::OutsideWindow { .. })
            ));
        }
        let header = session_signature_header(NOW - 300, BODY, "s1", None);
        assert_eq!(verify(&header, NOW - 300, BODY, &["s1"]), Ok(()));
    }

    #[test]
    fn r_e_1_missing_and_malformed_headers_are_named() {
        let configured = secrets(&["s1"]);
        assert_eq!(
            verify_session_event(None, Some("1"), BODY, &configured, NOW),
            Err(SignatureError::Missing("X-Signature"))
        );
        assert_eq!(
            verify_session_event(Some("primary=abc="), None, BODY, &configured, NOW),
            Err(SignatureError::Missing("X-Signature-Timestamp"))
        );
        assert_eq!(
            verify("primary=***", NOW, BODY, &["s1"]),
            Err(SignatureError::Malformed("X-Signature"))
        );
        assert_eq!(
            verify("nonsense", NOW, BODY, &["s1"]),
            Err(SignatureError::Malformed("X-Signature"))
        );
        assert_eq!(
            verify_session_event(Some("primary=YQ=="), Some("soon"), BODY, &configured, NOW),
            Err(SignatureError::Malformed("X-Signature-Timestamp"))
        );
    }

    #[test]
    fn r_e_1_kustomer_webhook_signatures_are_hex_hmacs() {
        let token = Secret::new("tok");
        let signature = sign_kustomer_webhook("tok", BODY);
        assert_eq!(signature.len(), 64);
        assert_eq!(
            verify_kustomer_webhook(Some(&signature), BODY, &token),
            Ok(())
        );
        assert_eq!(
            verify_kustomer_webhook(Some(&signature), b"{}", &token),
            Err(SignatureError::Mismatch)
        );
        assert!(verify_kustomer_webhook(Some("zz"), BODY, &token).is_err());
        assert!(verify_kustomer_webhook(None, BODY, &token).is_err());
    }
}
