//! Whether an error is worth retrying.
//!
//! Every layer has its own error enum; each implements [`Retryable`] so that the function
//! entry points can tell Lambda (or the local host) whether to retry an event or send it to the
//! dead-letter queue, without knowing the layer's details.

pub trait Retryable {
    /// True when the same call may succeed later without any change (throttling, timeouts,
    /// unavailable services); false when only a change of input or configuration can help.
    fn is_retryable(&self) -> bool;
}
