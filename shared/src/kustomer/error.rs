use crate::retry::Retryable;

/// What a Kustomer call can end in, other than its answer.
#[derive(Debug, thiserror::Error)]
pub enum KustomerError {
    /// 404: the lookup found nothing.
    #[error("Kustomer has no {what}")]
    NotFound { what: String },
    /// 409: a stale `rev` or a duplicate.
    #[error("Kustomer refused {operation} with a conflict: {message}")]
    Conflict { operation: String, message: String },
    /// 429 after the waits the retry policy allows; `reset_at` is Kustomer's
    /// `x-ratelimit-reset` (epoch seconds) when it gave one.
    #[error("Kustomer rate limit hit during {operation} (resets at {reset_at:?})")]
    RateLimited {
        operation: String,
        reset_at: Option<i64>,
    },
    /// 413: the request body is over Kustomer's 100 kB.
    #[error("Kustomer refused {operation}: request body too large")]
    TooLarge { operation: String },
    /// Another 4xx, with Kustomer's own message.
    #[error("Kustomer refused {operation} ({status}): {message}")]
    Client {
        operation: String,
        status: u16,
        message: String,
    },
    /// 5xx after every retry.
    #[error("Kustomer failed during {operation} ({status}): {message}")]
    Server {
        operation: String,
        status: u16,
        message: String,
    },
    /// No answer: connection refused or reset, timeout.
    #[error("Kustomer unreachable during {operation}: {message}")]
    Transport { operation: String, message: String },
    /// An answer that does not have the documented shape.
    #[error("Kustomer answered {operation} with something unreadable: {message}")]
    Decode { operation: String, message: String },
    /// The file being uploaded failed (e.g. the blob store stream broke off).
    #[error("attachment source failed: {message}")]
    Source { message: String },
    /// A request this client will not send (e.g. an unusable phone number).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Not sent: it could not finish in the time left — the invocation's, or the lock's that
    /// guards it (findings 8 and 9). Nothing happened; a later pass sends it.
    #[error("{operation} not sent: {reason}")]
    NotSent { operation: String, reason: String },
    /// A write refused in shadow mode (`BRIDGE_MODE=shadow`, R-F-2): never sent.
    #[error("{operation} not sent: the bridge runs in shadow mode and writes nothing to Kustomer")]
    Shadow { operation: String },
}

impl Retryable for KustomerError {
    fn is_retryable(&self) -> bool {
        matches!(
            self,
            KustomerError::RateLimited { .. }
                | KustomerError::Server { .. }
                | KustomerError::Transport { .. }
                | KustomerError::Source { .. }
                | KustomerError::NotSent { .. }
        )
    }
}

impl KustomerError {
    /// True when the request may have been applied although no answer says so: a create after
    /// such an error is looked up by its external id before it is sent again.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            KustomerError::Server { .. } | KustomerError::Transport { .. }
        )
    }
}
