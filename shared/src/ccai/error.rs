use crate::retry::Retryable;

#[derive(Debug, thiserror::Error)]
pub enum CcaiError {
    #[error("CCAI Platform has no {what}")]
    NotFound { what: String },
    #[error("CCAI Platform rate limit hit during {operation}")]
    RateLimited { operation: String },
    /// A 4xx with the platform's `{"message"}`.
    #[error("CCAI Platform refused {operation} ({status}): {message}")]
    Client {
        operation: String,
        status: u16,
        message: String,
    },
    #[error("CCAI Platform failed during {operation} ({status}): {message}")]
    Server {
        operation: String,
        status: u16,
        message: String,
    },
    #[error("CCAI Platform unreachable during {operation}: {message}")]
    Transport { operation: String, message: String },
    #[error("CCAI Platform answered {operation} with something unreadable: {message}")]
    Decode { operation: String, message: String },
    /// A recording download that ended early or broke off.
    #[error("recording download broke off: {message}")]
    Truncated { message: String },
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A write refused in shadow mode (`BRIDGE_MODE=shadow`, R-F-2): never sent.
    #[error(
        "{operation} not sent: the bridge runs in shadow mode and writes nothing to CCAI Platform"
    )]
    Shadow { operation: String },
}

impl Retryable for CcaiError {
    fn is_retryable(&self) -> bool {
        matches!(
            self,
            CcaiError::RateLimited { .. }
                | CcaiError::Server { .. }
                | CcaiError::Transport { .. }
                | CcaiError::Truncated { .. }
        )
    }
}
