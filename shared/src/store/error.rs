use crate::retry::Retryable;

/// What can go wrong talking to the state store. Conditional-write refusals are not errors:
/// they are outcomes ([`super::PutOutcome`], [`super::Claim`], [`super::LeaseAcquisition`]),
/// except where the caller's own claim or lease was lost.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store refused for load (throttling, provisioned throughput); try again later.
    #[error("state store throttled during {operation}: {message}")]
    Throttled {
        operation: &'static str,
        message: String,
    },
    /// The store could not be reached or failed inside (timeouts, 5xx, connection errors).
    #[error("state store unavailable during {operation}: {message}")]
    Unavailable {
        operation: &'static str,
        message: String,
    },
    /// The store refused the request as invalid (a bug or a misconfigured table).
    #[error("state store rejected {operation}: {message}")]
    Rejected {
        operation: &'static str,
        message: String,
    },
    /// A stored item does not have the shape this code expects.
    #[error("stored item {key} is malformed: {reason}")]
    Malformed { key: String, reason: String },
    /// The idempotency claim expired and was taken by another run, or was already released.
    #[error("idempotency claim on {key} is no longer ours")]
    ClaimLost { key: String },
    /// The lease is no longer this owner's (expired and taken over, released, or never held).
    #[error("lease on {resource} is no longer held by {owner}")]
    LeaseLost {
        resource: String,
        owner: String,
        holder: Option<Box<super::Lease>>,
    },
}

impl Retryable for StoreError {
    fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Throttled { .. } | StoreError::Unavailable { .. }
        )
    }
}
