//! A state store that lets through only the DynamoDB actions a function's IAM role grants in
//! `template.yaml`, as AWS would: a call the role does not allow is refused (AccessDenied is a
//! non-retryable rejection) and recorded. The local host wraps each function's store in one, so
//! the demo and the host's tests fail on a store call the deployed function could not make.

use crate::intercepted_store::{Intercepted, StoreCall, StoreHook};
use bridge_shared::store::{StateStore, StoreError};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// Calls refused so far: (function, action, operation).
pub type Refusals = Arc<Mutex<Vec<(String, String, String)>>>;

pub struct Policy {
    function: String,
    allowed: BTreeSet<String>,
    refused: Refusals,
}

impl StoreHook for Policy {
    fn before(&self, call: StoreCall) -> Result<(), StoreError> {
        if self.allowed.contains(call.action) {
            return Ok(());
        }
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((
                self.function.clone(),
                call.action.to_owned(),
                call.operation.to_owned(),
            ));
        Err(StoreError::Rejected {
            operation: call.operation,
            message: format!(
                "AccessDenied: {} is not authorized to perform {} (template.yaml)",
                self.function, call.action
            ),
        })
    }
}

pub type PolicyStore = Intercepted<Policy>;

impl Intercepted<Policy> {
    pub fn new(
        inner: Arc<dyn StateStore>,
        function: &str,
        allowed: BTreeSet<String>,
        refused: Refusals,
    ) -> Self {
        Self::with_hook(
            inner,
            Policy {
                function: function.to_owned(),
                allowed,
                refused,
            },
        )
    }
}
