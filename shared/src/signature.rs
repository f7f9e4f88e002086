//! Webhook authentication (R-E-1): checked before anything is stored.
//!
//! - CCAI External Session Events (events.md §1, ccai-api.md §1, H): HTTP Basic with one of the
//!   configured `user:password` credentials ([`check_basic`]). CCAI Platform documents no
//!   signature on these requests.
//! - Kustomer outbound webhooks: `X-Kustomer-Webhook-Signature` = lowercase hex
//!   HMAC-SHA256(token, body).
//!
//! Comparisons are constant-time (`Mac::verify_slice`; Basic credentials through SHA-256
//! digests compared with `subtle`, so neither content nor length leaks through timing).

use crate::config::{BasicCredential, Secret};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use sha2::Digest;
use subtle::ConstantTimeEq;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing {0} header")]
    Missing(&'static str),
    #[error("malformed {0} header")]
    Malformed(&'static str),
    #[error("signature does not match")]
    Mismatch,
    #[error("credentials do not match")]
    WrongCredentials,
}

fn mac(secret: &str) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts any key length"),
    }
}

/// The `Authorization` value for Basic credentials (what CCAI Platform sends).
pub fn basic_header(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// Checks an `Authorization: Basic …` header against every configured credential (each one is
/// compared, so the time taken does not tell which matched). Answers the matching user.
pub fn check_basic<'a>(
    header: Option<&str>,
    credentials: &'a [BasicCredential],
) -> Result<&'a str, SignatureError> {
    let header = header.ok_or(SignatureError::Missing("Authorization"))?;
    let (scheme, encoded) = header
        .trim()
        .split_once(' ')
        .ok_or(SignatureError::Malformed("Authorization"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(SignatureError::Malformed("Authorization"));
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| SignatureError::Malformed("Authorization"))?;
    let given = sha2::Sha256::digest(&decoded);
    let mut matched = None;
    for credential in credentials {
        let expected = sha2::Sha256::digest(
            format!("{}:{}", credential.user, credential.password.expose()).as_bytes(),
        );
        if bool::from(given.ct_eq(&expected)) && matched.is_none() {
            matched = Some(credential.user.as_str());
        }
    }
    matched.ok_or(SignatureError::WrongCredentials)
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

    const BODY: &[u8] = br#"{"id":"e1","type":"call.ended","session":{"kind":"call","id":987}}"#;

    fn credentials() -> Vec<BasicCredential> {
        ["calls:c-pass", "chats:h:pass"]
            .iter()
            .map(|entry| {
                let (user, password) = entry.split_once(':').unwrap();
                BasicCredential {
                    user: user.into(),
                    password: Secret::new(password),
                }
            })
            .collect()
    }

    #[test]
    fn r_e_1_basic_credentials_of_either_feed_are_accepted() {
        let configured = credentials();
        assert_eq!(
            check_basic(Some(&basic_header("calls", "c-pass")), &configured),
            Ok("calls")
        );
        assert_eq!(
            check_basic(Some(&basic_header("chats", "h:pass")), &configured),
            Ok("chats")
        );
        // The scheme is case-insensitive (RFC 7617).
        let lower = basic_header("calls", "c-pass").replace("Basic", "basic");
        assert_eq!(check_basic(Some(&lower), &configured), Ok("calls"));
    }

    #[test]
    fn r_e_1_wrong_missing_and_malformed_credentials_are_refused() {
        let configured = credentials();
        for (header, expected) in [
            (None, SignatureError::Missing("Authorization")),
            (
                Some("Bearer abc".to_owned()),
                SignatureError::Malformed("Authorization"),
            ),
            (
                Some("Basic ***".to_owned()),
                SignatureError::Malformed("Authorization"),
            ),
            (
                Some("Basic".to_owned()),
                SignatureError::Malformed("Authorization"),
            ),
            (
                Some(basic_header("calls", "h:pass")),
                SignatureError::WrongCredentials,
            ),
            (
                Some(basic_header("calls", "c-pass ")),
                SignatureError::WrongCredentials,
            ),
            (Some(basic_header("", "")), SignatureError::WrongCredentials),
        ] {
            assert_eq!(
                check_basic(header.as_deref(), &configured),
                Err(expected),
                "{header:?}"
            );
        }
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
