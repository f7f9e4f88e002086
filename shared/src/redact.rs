//! Redaction: phone numbers, e-mail addresses and credentials never reach a log line.
//!
//! [`redact`] is applied to every formatted log line by the telemetry writer, so a careless
//! `tracing::info!(?request)` cannot leak; call it directly for text that leaves the process by
//! another way (error bodies, reports).

use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

/// What replaces a phone number.
pub const PHONE: &str = "[phone]";
/// What replaces an e-mail address.
pub const EMAIL: &str = "[email]";
/// What replaces a credential.
pub const SECRET: &str = "[redacted]";

struct Rule {
    pattern: Regex,
    replacement: &'static str,
}

fn rule(pattern: &str, replacement: &'static str) -> Rule {
    // The patterns are constants checked by the tests below; a bad one is a build-time bug.
    #[allow(clippy::expect_used)]
    let pattern = Regex::new(pattern).expect("redaction pattern compiles");
    Rule {
        pattern,
        replacement,
    }
}

// ASCII classes (`[0-9]`, `[[:space:]]`, `(?-u:\b)`) rather than Unicode `\d`, `\s`, `\b`: the
// numbers and credentials redacted here are ASCII, and the Unicode tables made compiling these
// rules most of a function's first answer (bench/RESULTS.md).
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        // Authorization header values: `Bearer abc`, `Basic dXNlcjpwYXNz`.
        rule(
            r"(?i)(?-u:\b)(bearer|basic)[[:space:]]+[A-Za-z0-9._~+/=-]+",
            "$1 [redacted]",
        ),
        // `token=…`, `"api_key": "…"`, `secret: …`, `password=…`, `signature=…` in any casing,
        // as JSON or query text. The value stops at a quote, comma, ampersand or whitespace.
        rule(
            r#"(?i)((?:[a-z_]*token|[a-z_]*secret|password|api_?key|[a-z_-]*signature)"?[[:space:]]*[:=][[:space:]]*"?)[^\s",&}]+"#,
            "${1}[redacted]",
        ),
        // `@` also percent-encoded (`%40`): transport errors carry request URLs (review S4).
        rule(
            r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
            EMAIL,
        ),
        // International numbers: `+` (or `%2B`, percent-encoded in a URL) then 7–15 digits,
        // separators (or `%20`) allowed.
        rule(
            r"(?:\+|%2[Bb])[0-9](?:(?:[[:space:]().-]|%20)*[0-9]){6,14}",
            PHONE,
        ),
        // National numbers with separators: 10–15 digits in groups, e.g. `(555) 010-4477`.
        // Dates (8 digits) and times stay readable.
        rule(
            r"\(?(?-u:\b)[0-9]{2,4}\)?[[:space:].-][0-9]{2,4}[[:space:].-][0-9]{3,5}(?:[[:space:].-][0-9]{2,5})?(?-u:\b)",
            PHONE,
        ),
        // A bare run of 10 or 11 digits is a national number (`5550104477`); millisecond
        // timestamps (13 digits) and ids of other lengths stay readable.
        rule(r"(?-u:\b)[0-9]{10,11}(?-u:\b)", PHONE),
    ]
});

/// Returns `text` with phone numbers, e-mail addresses and credentials replaced.
/// Borrows when there is nothing to replace (the common case on the logging path).
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut current = Cow::Borrowed(text);
    for rule in RULES.iter() {
        if rule.pattern.is_match(&current) {
            let replaced = rule
                .pattern
                .replace_all(&current, rule.replacement)
                .into_owned();
            current = Cow::Owned(replaced);
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_replaced_in_every_common_format() {
        for phone in [
            "+15550104477",
            "+1 555 010 4477",
            "+44 20 7946 0958",
            "(555) 010-4477",
            "555-010-4477",
            "555.010.4477",
            "5550104477",
        ] {
            let line = format!("caller {phone} rang");
            let redacted = redact(&line);
            assert_eq!(redacted, "caller [phone] rang", "{phone} was not redacted");
        }
    }

    /// Review S4 (R-SEC-4): a request URL inside a transport error carries the number and the
    /// e-mail percent-encoded.
    #[test]
    fn r_sec_4_percent_encoded_numbers_and_emails_are_replaced() {
        assert_eq!(
            redact(
                "error sending request for url (https://api.kustomerapp.com/v1/customers/phone=%2B15550104477)"
            ),
            "error sending request for url (https://api.kustomerapp.com/v1/customers/phone=[phone])"
        );
        assert_eq!(
            redact("phone=%2b1%20555%20010%204477&x=1"),
            "phone=[phone]&x=1"
        );
        assert_eq!(
            redact("GET /v1/users?email=ana.lima%40example.com failed"),
            "GET /v1/users?email=[email] failed"
        );
    }

    #[test]
    fn emails_are_replaced() {
        assert_eq!(
            redact(r#"{"email":"Ana.Lima+vip@example.co.uk"}"#),
            r#"{"email":"[email]"}"#
        );
    }

    #[test]
    fn credentials_are_replaced() {
        assert_eq!(
            redact("Authorization: Bearer eyJhbGciOi.x-y_z"),
            "Authorization: Bearer [redacted]"
        );
        assert_eq!(redact("Basic dXNlcjpwYXNz"), "Basic [redacted]");
        assert_eq!(
            redact(r#"{"lease_token":"3f2a","api_key": "k-123","status":"ok"}"#),
            r#"{"lease_token":"[redacted]","api_key": "[redacted]","status":"ok"}"#
        );
        assert_eq!(
            redact("url?token=abc&page=2 secret=s3cr3t"),
            "url?token=[redacted]&page=2 secret=[redacted]"
        );
        assert_eq!(
            redact("X-Signature: primary=abc"),
            "X-Signature: [redacted]"
        );
    }

    #[test]
    fn ordinary_log_content_stays_readable() {
        for text in [
            "2026-11-23T10:15:02.123Z call 987 ended after 125 s",
            "session call#987 event 0b7f3c1e-aa11-4c7e-9d5e-0123456789ab",
            "fencing token advanced to 42",
            "occurred_at_ms=1763894400000 part 3 of 12",
            "status 202",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn clean_text_is_borrowed_not_copied() {
        assert!(matches!(redact("nothing here"), Cow::Borrowed(_)));
    }
}
