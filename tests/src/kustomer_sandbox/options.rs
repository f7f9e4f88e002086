//! What a test can switch in the Kustomer sandbox, including the facts the spec marks M or L.

use std::time::Duration;

/// Which documented error shape the sandbox answers with (M: older endpoints use the legacy one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorShape {
    /// `{"errors": [{"status", "code", "title", "source"?}]}`
    JsonApi,
    /// `{"error", "message"}`
    Legacy,
}

/// Where `POST /v1/attachments` points the presigned POST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UploadTarget {
    /// The sandbox's own `/__upload/{id}` (any size; counts and hashes the bytes).
    Sandbox,
    /// A bucket on an S3 stand-in (moto), path-style: `{endpoint}/{bucket}`.
    S3 { endpoint: String, bucket: String },
}

/// What `PUT /v1/routing/work-sessions/{id}` does with the bridge's guessed body
/// (`{status}`; the body is undocumented, L).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkSessionPut {
    /// Moves the session to the status.
    AcceptGuess,
    /// 400: the real endpoint wants something else.
    Refuse,
}

/// Which spelling of the message external-id lookup the sandbox serves (Kustomer's pages say
/// `externalId=`, its OpenAPI document `externalid=`; M).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageLookup {
    CamelCase,
    Lowercase,
}

#[derive(Clone, Debug)]
pub struct SandboxOptions {
    pub api_key: String,
    /// Requests per window for the whole org (Kustomer: 300–2000 per minute); `None`: unlimited.
    pub org_budget: Option<u32>,
    /// Conversations, messages or notes created per customer per window (Kustomer: 120).
    pub customer_create_budget: u32,
    /// The rate-limit window (Kustomer: one minute); tests shorten it.
    pub rate_window: Duration,
    pub error_shape: ErrorShape,
    /// Also send `Retry-After` with a 429 (undocumented, M).
    pub retry_after_header: bool,
    /// `x-ratelimit-reset` as seconds until the reset instead of epoch seconds (both are seen:
    /// kustomer-api.md, revised).
    pub rate_reset_as_delta: bool,
    pub upload_target: UploadTarget,
    /// 204 (S3's default) or 201 for a successful presigned POST.
    pub upload_success_status: u16,
    /// `PUT /v1/metadata` merges properties (true) or replaces them (false) (L).
    pub metadata_put_merges: bool,
    /// Phone lookups also match non-E.164 spellings (L: unknown whether Kustomer normalises).
    pub phone_lookup_normalises: bool,
    /// Bodies over this many bytes answer 413 (Kustomer: 100 kB).
    pub max_body_bytes: usize,
    /// Page size cap for lists (Kustomer: 100).
    pub max_page_size: usize,
    pub work_session_put: WorkSessionPut,
    /// A reused note or message `externalId` answers 409 (undocumented; off: a second one is
    /// created, as nothing documented prevents it).
    pub child_external_id_conflict: bool,
    /// A reused conversation `externalId` answers 409 (undocumented, L; review finding 7: off,
    /// a second conversation is created, and the bridge must never re-post blind).
    pub conversation_external_id_conflict: bool,
    pub message_lookup: MessageLookup,
    /// `PATCH /v1/messages/{id}` merges `custom` and `meta` key by key (true) or replaces
    /// them (false): not documented (L).
    pub message_patch_merges: bool,
    /// `GET /v1/users?deleted=false` lists only active users and `deleted=true` only
    /// deactivated ones (Kustomer's OpenAPI document, M); off: the filter is ignored and every
    /// user is listed. Without the filter, every user is listed either way (undocumented).
    pub users_deleted_filter: bool,
    /// A customer's attributes as a lookup answers them, in another shape than documented (a
    /// key added, dropped or renamed: issue 28).
    pub customer_twist: crate::ccai_sandbox::twists::Twist,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            api_key: "sandbox-kustomer-key".into(),
            org_budget: None,
            customer_create_budget: 120,
            rate_window: Duration::from_secs(60),
            error_shape: ErrorShape::JsonApi,
            retry_after_header: false,
            rate_reset_as_delta: false,
            upload_target: UploadTarget::Sandbox,
            upload_success_status: 204,
            metadata_put_merges: true,
            phone_lookup_normalises: false,
            max_body_bytes: 100 * 1000,
            max_page_size: 100,
            work_session_put: WorkSessionPut::AcceptGuess,
            child_external_id_conflict: false,
            conversation_external_id_conflict: false,
            // The spelling of the OpenAPI document (generated from the service).
            message_lookup: MessageLookup::Lowercase,
            // PATCH merges attributes elsewhere (customers, conversations: kustomer-api.md).
            message_patch_merges: true,
            users_deleted_filter: true,
            customer_twist: Default::default(),
        }
    }
}

/// A fault the sandbox plays instead of (or after) a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 429 with the rate-limit headers, the request not applied.
    RateLimited,
    /// 500, the request not applied.
    ServerError,
    /// No answer for this long, the request not applied (past the client's timeout).
    Hang(Duration),
    /// The request is applied, but the answer is a 502: the client cannot know it succeeded.
    LoseAnswer,
    /// The request is applied, then the answer is held this long (the client times out).
    ApplyThenHang(Duration),
    /// 200 with a body cut half-way (truncated JSON).
    TruncatedBody,
    /// This status and body instead of the real answer, the request not applied (hostile or
    /// malformed answers).
    Answer(u16, &'static str),
}

impl Fault {
    /// The fault's kind, for counts.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::RateLimited => "429",
            Fault::ServerError => "5xx",
            Fault::Hang(_) => "hang",
            Fault::LoseAnswer => "answer lost",
            Fault::ApplyThenHang(_) => "applied, answer late",
            Fault::TruncatedBody => "truncated body",
            Fault::Answer(..) => "answer",
        }
    }
}

/// Which requests a queued fault applies to.
#[derive(Clone, Debug, Default)]
pub struct FaultMatch {
    pub method: Option<http::Method>,
    /// The path starts with this.
    pub path_prefix: Option<String>,
    /// The path ends with this (`/notes`, whatever the conversation).
    pub path_suffix: Option<String>,
    /// The request body contains this (one note's external id, say).
    pub body_contains: Option<String>,
}

impl FaultMatch {
    pub fn any() -> Self {
        Self::default()
    }

    pub fn on(method: http::Method, path_prefix: &str) -> Self {
        Self {
            method: Some(method),
            path_prefix: Some(path_prefix.to_owned()),
            ..Self::default()
        }
    }

    /// A `method` request whose path ends with `suffix` and whose body contains `text`.
    pub fn body(method: http::Method, suffix: &str, text: &str) -> Self {
        Self {
            method: Some(method),
            path_suffix: Some(suffix.to_owned()),
            body_contains: Some(text.to_owned()),
            ..Self::default()
        }
    }

    pub(super) fn matches(&self, method: &http::Method, path: &str, body: &[u8]) -> bool {
        self.method.as_ref().is_none_or(|m| m == method)
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|p| path.starts_with(p))
            && self
                .path_suffix
                .as_deref()
                .is_none_or(|s| path.ends_with(s))
            && self.body_contains.as_deref().is_none_or(|text| {
                body.windows(text.len().max(1))
                    .any(|w| w == text.as_bytes())
            })
    }
}

/// Random faults, reproducible from a seed.
#[derive(Clone, Copy, Debug, Default)]
pub struct FaultRates {
    pub rate_limited: f64,
    pub server_error: f64,
    pub hang: f64,
    pub hang_for: Duration,
    /// The request is applied, the answer lost ([`Fault::LoseAnswer`]).
    pub lose_answer: f64,
    /// The request is applied, the answer held for `hang_for` ([`Fault::ApplyThenHang`]).
    pub apply_then_hang: f64,
    pub seed: u64,
}
