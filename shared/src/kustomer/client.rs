//! The Kustomer client: transport, status mapping, retries and the lookup-before-recreate rule.

use super::error::KustomerError;
use super::model::Document;
use crate::config::{KustomerSettings, Secret};
use crate::http::{RetryDecision, RetryPolicy};
use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The time a request needs before the deadline in force to be sent: the client's request
/// timeout (`http::HttpSettings`, 10 s) and a margin for an answer in flight.
pub const SEND_MARGIN: Duration = Duration::from_secs(12);

tokio::task_local! {
    /// Set while the caller holds a lock: a 429 is answered at once instead of waited out.
    static HOLDING_LOCK: ();
}

/// Runs `work` with Kustomer's 429s returned at once (as [`KustomerError::RateLimited`])
/// instead of waited out: work done under a lock must not hold it across a rate-limit wait.
/// The caller releases the lock, waits ([`KustomerClient::rate_limit_pause`]) and retakes it.
pub async fn without_rate_waits<F: std::future::Future>(work: F) -> F::Output {
    HOLDING_LOCK.scope((), work).await
}

/// The kind of resource an operation's answer holds, for the record of what Kustomer sends
/// (`crate::shapes`).
fn answer_kind(operation: &str) -> Option<crate::shapes::DocumentKind> {
    use crate::shapes::DocumentKind;
    match operation {
        "customer by phone" | "customer by externalId" | "customer by email" | "get customer" => {
            Some(DocumentKind::KustomerCustomer)
        }
        "conversation by externalId" | "get conversation" | "customer conversations" => {
            Some(DocumentKind::KustomerConversation)
        }
        "users by email" | "users by email and standing" => Some(DocumentKind::KustomerUser),
        "user work sessions" | "active work sessions" | "get work session" => {
            Some(DocumentKind::KustomerWorkSession)
        }
        _ => None,
    }
}

/// Typed access to Kustomer's REST API. Build one at cold start and share it.
pub struct KustomerClient {
    pub(super) http: reqwest::Client,
    base_url: String,
    api_key: Secret,
    pub(super) retry: RetryPolicy,
    calls: AtomicU64,
    /// Pacing shared across processes (the org's budget, R-E-8), when configured.
    pacer: Option<std::sync::Arc<dyn crate::pacing::Pacer>>,
    /// Shadow mode (R-F-2): only reads leave.
    reads_only: bool,
}

/// One request, re-sendable.
#[derive(Clone, Debug)]
pub(super) struct Call {
    pub operation: &'static str,
    pub method: Method,
    /// Path and query, starting with `/v1/`.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
}

impl Call {
    pub fn get(operation: &'static str, path: impl Into<String>) -> Self {
        Self::new(operation, Method::GET, path, None)
    }

    pub fn new(
        operation: &'static str,
        method: Method,
        path: impl Into<String>,
        body: Option<Value>,
    ) -> Self {
        Self {
            operation,
            method,
            path: path.into(),
            query: Vec::new(),
            body,
        }
    }

    pub fn query(mut self, name: &'static str, value: impl ToString) -> Self {
        self.query.push((name, value.to_string()));
        self
    }
}

/// Percent-encodes a value for a path segment such as `phone={value}`: everything but
/// unreserved characters, so `+` travels as `%2B` and `@` as `%40`.
pub(crate) fn encode_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Kustomer's message from either error shape: `{"errors": [{title, detail, …}]}` or
/// `{"error", "message"}`; otherwise the start of the body.
pub(super) fn error_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        if let Some(errors) = value.get("errors").and_then(Value::as_array) {
            let parts: Vec<String> = errors
                .iter()
                .filter_map(|e| {
                    let title = e.get("title").and_then(Value::as_str);
                    let detail = e.get("detail").and_then(Value::as_str);
                    match (title, detail) {
                        (Some(t), Some(d)) => Some(format!("{t}: {d}")),
                        (Some(t), None) => Some(t.to_owned()),
                        (None, Some(d)) => Some(d.to_owned()),
                        (None, None) => e.get("code").map(|c| c.to_string()),
                    }
                })
                .collect();
            if !parts.is_empty() {
                return parts.join("; ");
            }
        }
        if let Some(message) = value.get("message").and_then(Value::as_str) {
            return message.to_owned();
        }
        if let Some(error) = value.get("error").and_then(Value::as_str) {
            return error.to_owned();
        }
    }
    let text = String::from_utf8_lossy(body);
    let short: String = text.chars().take(200).collect();
    crate::redact::redact(short.trim()).into_owned()
}

fn header_i64(headers: &reqwest::header::HeaderMap, name: &str) -> Option<i64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `x-ratelimit-reset` as epoch seconds: documented as epoch seconds, but a value below 10⁹
/// (before 2001) can only be a delta in seconds, which some answers send
/// (kustomer-api.md, revised).
pub(super) fn reset_epoch_seconds(reset: i64, now: i64) -> i64 {
    if reset < 1_000_000_000 {
        now + reset.max(0)
    } else {
        reset
    }
}

fn now_epoch_seconds() -> i64 {
    crate::clock::UnixMillis::now().0 / 1000
}

impl KustomerClient {
    pub fn new(settings: &KustomerSettings, http: reqwest::Client, retry: RetryPolicy) -> Self {
        Self {
            http,
            base_url: settings.base_url.clone(),
            api_key: settings.api_key.clone(),
            retry,
            calls: AtomicU64::new(0),
            pacer: None,
            reads_only: false,
        }
    }

    /// Shadow mode (`BRIDGE_MODE=shadow`, R-F-2): every write is refused here, unsent
    /// ([`KustomerError::Shadow`]) — whatever path reaches it. Reads go on, among them the
    /// customer search, a `POST` that changes nothing (kustomer-api.md).
    pub fn reading_only(mut self) -> Self {
        self.reads_only = true;
        self
    }

    /// Whether this client writes (`false` in shadow mode): the domain asks before it would.
    pub fn writes(&self) -> bool {
        !self.reads_only
    }

    fn is_write(call: &Call) -> bool {
        call.method != Method::GET && !call.path.ends_with("/search")
    }

    /// Paces this client's requests on `pacer`, shared by every process (R-E-8).
    pub fn paced_by(mut self, pacer: std::sync::Arc<dyn crate::pacing::Pacer>) -> Self {
        self.pacer = Some(pacer);
        self
    }

    /// Requests sent so far (every attempt counts): Kustomer's budget is per request.
    pub fn calls_made(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base_url)
        }
    }

    /// One attempt: send, read, map the status.
    ///
    /// (See [`SEND_MARGIN`] for when an attempt is not sent at all.)
    async fn attempt(&self, call: &Call) -> Result<Bytes, KustomerError> {
        if self.reads_only && Self::is_write(call) {
            return Err(KustomerError::Shadow {
                operation: call.operation.into(),
            });
        }
        let not_sent = |reason: &str| KustomerError::NotSent {
            operation: call.operation.into(),
            reason: reason.into(),
        };
        if let Some(pacer) = &self.pacer
            && !pacer.pace(SEND_MARGIN).await
        {
            return Err(not_sent(
                "the org's request schedule is booked beyond what this request can wait",
            ));
        }
        // The fence travels with the write: a request leaves only when it can end (answer or
        // timeout) before the deadline in force — the invocation's, or the lease of the lock
        // guarding it — so it never lands after another worker took that lock (finding 9).
        if !crate::deadline::allows(SEND_MARGIN) {
            return Err(not_sent("it could not end before the deadline"));
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .http
            .request(call.method.clone(), self.url(&call.path))
            .bearer_auth(self.api_key.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let transport = |err: reqwest::Error| KustomerError::Transport {
            operation: call.operation.into(),
            message: if err.is_timeout() {
                "timed out".into()
            } else {
                crate::http::describe(&err)
            },
        };
        let sent = Self::is_write(call).then(|| crate::audit::Sent {
            platform: "kustomer",
            operation: call.operation,
            method: call.method.as_str(),
            url_or_path: &call.path,
        });
        // Boxed: every platform call's future nests this one, and the passes nest many calls.
        let (status, headers, body) = Box::pin(crate::audit::exchange(request, sent))
            .await
            .map_err(transport)?;
        if status.is_success() {
            return Ok(body);
        }
        let operation = call.operation.to_owned();
        if status == StatusCode::TOO_MANY_REQUESTS {
            crate::metrics::count("KustomerRateLimited", 1);
        }
        Err(match status {
            StatusCode::NOT_FOUND => KustomerError::NotFound {
                what: format!("{} ({})", call.operation, error_message(&body)),
            },
            StatusCode::CONFLICT => KustomerError::Conflict {
                operation,
                message: error_message(&body),
            },
            StatusCode::PAYLOAD_TOO_LARGE => KustomerError::TooLarge { operation },
            StatusCode::TOO_MANY_REQUESTS => KustomerError::RateLimited {
                operation,
                // `x-ratelimit-reset` is documented; `Retry-After` is tolerated if it appears.
                reset_at: header_i64(&headers, "x-ratelimit-reset")
                    .map(|reset| reset_epoch_seconds(reset, now_epoch_seconds()))
                    .or_else(|| {
                        header_i64(&headers, "retry-after").map(|s| now_epoch_seconds() + s)
                    }),
            },
            s if s.is_server_error() => KustomerError::Server {
                operation,
                status: s.as_u16(),
                message: error_message(&body),
            },
            s => KustomerError::Client {
                operation,
                status: s.as_u16(),
                message: error_message(&body),
            },
        })
    }

    /// How long to wait before trying again after `error`, a 429 this client did not wait
    /// out (see [`without_rate_waits`]); `None` for other errors, or a reset later than the
    /// policy allows.
    pub fn rate_limit_pause(&self, error: &KustomerError) -> Option<Duration> {
        match error {
            KustomerError::RateLimited { reset_at, .. } => self.pause_until(*reset_at, 1),
            _ => None,
        }
    }

    /// How long to wait out a 429, or `None` when it resets later than the policy allows or
    /// the caller holds a lock.
    fn rate_limit_wait(&self, reset_at: Option<i64>, retry: u32) -> Option<Duration> {
        if HOLDING_LOCK.try_with(|_| ()).is_ok() {
            return None;
        }
        self.pause_until(reset_at, retry)
    }

    fn pause_until(&self, reset_at: Option<i64>, retry: u32) -> Option<Duration> {
        let wait = match reset_at {
            Some(reset) => {
                Duration::from_secs(u64::try_from(reset - now_epoch_seconds()).unwrap_or(0))
                    .saturating_add(Duration::from_millis(100))
            }
            None => self.retry.backoff(retry),
        };
        (wait <= self.retry.max_rate_limit_wait).then_some(wait)
    }

    /// Sends `call`, waiting out rate limits and, when `repeatable`, retrying failures whose
    /// outcome is unknown (5xx, timeouts) with backoff.
    pub(super) async fn execute(
        &self,
        call: &Call,
        repeatable: bool,
    ) -> Result<Bytes, KustomerError> {
        self.retry
            .run(
                call.operation,
                || self.attempt(call),
                |error, attempt| match error {
                    KustomerError::RateLimited { reset_at, .. } => {
                        match self.rate_limit_wait(*reset_at, attempt) {
                            Some(wait) => RetryDecision::After(wait),
                            None => RetryDecision::Stop,
                        }
                    }
                    e if repeatable && e.outcome_unknown() => RetryDecision::Backoff,
                    _ => RetryDecision::Stop,
                },
            )
            .await
    }

    pub(super) fn decode<T: DeserializeOwned>(
        operation: &'static str,
        body: &[u8],
    ) -> Result<T, KustomerError> {
        if let Some(kind) = answer_kind(operation) {
            crate::shapes::book::observe_resources(kind, body);
        }
        serde_json::from_slice(body).map_err(|err| KustomerError::Decode {
            operation: operation.into(),
            message: err.to_string(),
        })
    }

    /// A read (or an idempotent write such as PATCH or PUT), decoded as a JSON:API document.
    pub(super) async fn fetch<T: DeserializeOwned>(
        &self,
        call: Call,
    ) -> Result<Document<T>, KustomerError> {
        let body = self.execute(&call, true).await?;
        Self::decode(call.operation, &body)
    }

    /// Like [`Self::fetch`], with 404 as `None`.
    pub(super) async fn fetch_optional<T: DeserializeOwned>(
        &self,
        call: Call,
    ) -> Result<Option<T>, KustomerError> {
        match self.fetch::<T>(call).await {
            Ok(document) => Ok(Some(document.data)),
            Err(KustomerError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Every page of a list, following `links.next` (at most `max_pages`).
    pub(super) async fn fetch_all<T: DeserializeOwned>(
        &self,
        first: Call,
        max_pages: usize,
    ) -> Result<Vec<T>, KustomerError> {
        let mut items = Vec::new();
        let mut call = first;
        for _ in 0..max_pages {
            let page: Document<Vec<T>> = self.fetch(call.clone()).await?;
            items.extend(page.data);
            match page.links.next {
                Some(next) if !next.is_empty() => {
                    let Some(next) = crate::http::same_origin_path(&self.base_url, &next) else {
                        return Err(KustomerError::Decode {
                            operation: call.operation.into(),
                            message: "the next page is on another host: not followed (the \
                                      API key goes only to Kustomer)"
                                .into(),
                        });
                    };
                    call = Call::get(call.operation, next);
                }
                _ => return Ok(items),
            }
        }
        Err(KustomerError::Decode {
            operation: call.operation.into(),
            message: format!("more than {max_pages} pages"),
        })
    }

    /// A create that carries an external id: when its outcome is unknown (lost answer, 5xx,
    /// timeout) or conflicts, `lookup` looks for what an earlier attempt created before the
    /// create is sent again, so a lost answer is found instead of duplicated. With
    /// [`Attempt::Repeat`] (an earlier invocation began this write and recorded no outcome), the
    /// lookup comes first.
    pub(super) async fn create<T: DeserializeOwned>(
        &self,
        call: Call,
        lookup: Option<Lookup>,
        attempt_kind: Attempt,
    ) -> Result<T, KustomerError> {
        Ok(self.create_noting(call, lookup, attempt_kind).await?.0)
    }

    /// [`Self::create`], saying whether this call's own request wrote the resource (`true`) or
    /// it was found by its external id (`false`: an earlier attempt or another worker wrote
    /// it, with what they sent, which may differ from this call's body).
    pub(super) async fn create_noting<T: DeserializeOwned>(
        &self,
        call: Call,
        lookup: Option<Lookup>,
        attempt_kind: Attempt,
    ) -> Result<(T, bool), KustomerError> {
        if attempt_kind == Attempt::Repeat
            && let Some(lookup) = &lookup
            && let Some(found) = self.find::<T>(lookup).await?
        {
            tracing::info!(
                operation = call.operation,
                "an earlier attempt wrote it; found, not written again"
            );
            return Ok((found, false));
        }
        let mut attempt = 1;
        loop {
            let error = match self.execute(&call, false).await {
                Ok(body) => {
                    return Ok((
                        Self::decode::<Document<T>>(call.operation, &body)?.data,
                        true,
                    ));
                }
                Err(error) => error,
            };
            // A conflict on a create with an external id means someone (another worker, or an
            // earlier attempt) created it first: what they created is the answer.
            let conflict = matches!(error, KustomerError::Conflict { .. });
            if !(error.outcome_unknown() || conflict) || attempt >= self.retry.max_attempts {
                return Err(error);
            }
            let Some(lookup) = &lookup else {
                return Err(error);
            };
            if let Some(found) = self.find::<T>(lookup).await? {
                tracing::info!(
                    operation = call.operation,
                    "create already applied; found the resource by external id"
                );
                return Ok((found, false));
            }
            if conflict {
                return Err(error);
            }
            tokio::time::sleep(self.retry.backoff(attempt)).await;
            attempt += 1;
        }
    }

    /// What an earlier create left, by its external id.
    pub(super) async fn find<T: DeserializeOwned>(
        &self,
        lookup: &Lookup,
    ) -> Result<Option<T>, KustomerError> {
        match lookup {
            Lookup::Get(call) => self.fetch_optional(call.clone()).await,
            Lookup::Message { external_id } => {
                // Kustomer's pages spell the lookup `externalId=`, its OpenAPI document
                // `externalid=` (kustomer-api.md, revised, M): the second spelling is tried when
                // the first answers 404.
                for spelling in ["externalId", "externalid"] {
                    let call = Call::get(
                        "message by externalId",
                        format!("/v1/messages/{spelling}={}", encode_segment(external_id)),
                    );
                    if let Some(found) = self.fetch_optional(call).await? {
                        return Ok(Some(found));
                    }
                }
                Ok(None)
            }
            Lookup::Note {
                conversation_id,
                external_id,
            } => {
                // No lookup of a note by external id exists (kustomer-api.md, revised): the
                // conversation's notes are listed and matched.
                let notes: Vec<Value> = self
                    .fetch_all(notes_of(conversation_id), MAX_NOTE_PAGES)
                    .await?;
                notes
                    .into_iter()
                    .find(|n| n["attributes"]["externalId"].as_str() == Some(external_id))
                    .map(|n| {
                        serde_json::from_value(n).map_err(|err| KustomerError::Decode {
                            operation: "conversation notes".into(),
                            message: err.to_string(),
                        })
                    })
                    .transpose()
            }
        }
    }
}

/// A conversation's notes, 100 a page.
pub(super) fn notes_of(conversation_id: &str) -> Call {
    Call::get(
        "conversation notes",
        format!(
            "/v1/conversations/{}/notes",
            encode_segment(conversation_id)
        ),
    )
    .query("page", 1)
    .query("pageSize", 100)
}

/// A conversation with more notes than this is not searched further (5000 notes).
pub(super) const MAX_NOTE_PAGES: usize = 50;

/// Whether an earlier attempt may already have written a resource: its intent was recorded
/// before the request and no outcome after it (the invocation ended in between).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    First,
    Repeat,
}

/// How a create's resource is found by its external id.
#[derive(Clone, Debug)]
pub(super) enum Lookup {
    /// A documented `GET …/externalId={id}` (customers, conversations).
    Get(Call),
    /// A message: both spellings of the lookup.
    Message { external_id: String },
    /// A note: the conversation's notes, matched on `externalId`.
    Note {
        conversation_id: String,
        external_id: String,
    },
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_rate_limit_reset_below_1e9_is_a_delta_in_seconds() {
        let now = 1_790_000_000;
        assert_eq!(super::reset_epoch_seconds(42, now), now + 42);
        assert_eq!(super::reset_epoch_seconds(0, now), now);
        assert_eq!(super::reset_epoch_seconds(now + 5, now), now + 5);
    }

    use super::*;

    #[test]
    fn path_values_are_fully_encoded() {
        assert_eq!(encode_segment("+15550104477"), "%2B15550104477");
        assert_eq!(encode_segment("ana@example.com"), "ana%40example.com");
        assert_eq!(encode_segment("ccai-call-9"), "ccai-call-9");
    }

    #[test]
    fn both_error_shapes_are_understood() {
        assert_eq!(
            error_message(br#"{"errors":[{"status":409,"code":"conflict","title":"Stale rev"}]}"#),
            "Stale rev"
        );
        assert_eq!(
            error_message(br#"{"error":"Bad Request","message":"customer is required"}"#),
            "customer is required"
        );
        assert_eq!(error_message(b"<html>oops</html>"), "<html>oops</html>");
    }
}
