//! A state store that lets through only the DynamoDB calls a function's IAM role grants in
//! `template.yaml`, as AWS would: the action must be granted by a statement, and when that
//! statement has a `dynamodb:LeadingKeys` condition (`ForAllValues:StringLike`), the call's
//! partition key must match one of its patterns (review S10). A call the role does not allow is
//! refused (AccessDenied is a non-retryable rejection) and recorded. The local host wraps each
//! function's store in one, so the demo and the host's tests fail on a store call the deployed
//! function could not make.

use crate::intercepted_store::{Intercepted, StoreCall, StoreHook};
use bridge_shared::store::{StateStore, StoreError};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// Calls refused so far: (function, action, operation).
pub type Refusals = Arc<Mutex<Vec<(String, String, String)>>>;

/// One policy statement's grant: its `dynamodb:*` actions and, when conditioned, the
/// partition-key patterns (`*` any run of characters, `?` one) it is limited to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    pub actions: BTreeSet<String>,
    pub leading_keys: Option<Vec<String>>,
}

impl Grant {
    fn allows(&self, call: &StoreCall) -> bool {
        self.actions.contains(call.action)
            && self
                .leading_keys
                .as_ref()
                .is_none_or(|patterns| patterns.iter().any(|p| string_like(p, &call.pk)))
    }
}

/// IAM's `StringLike`: `*` matches any run of characters, `?` exactly one.
pub fn string_like(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    // Classic wildcard matching with backtracking on the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < v.len() {
        if i < p.len() && (p[i] == '?' || p[i] == v[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    while i < p.len() && p[i] == '*' {
        i += 1;
    }
    i == p.len()
}

pub struct Policy {
    function: String,
    grants: Vec<Grant>,
    refused: Refusals,
}

impl StoreHook for Policy {
    fn before(&self, call: StoreCall) -> Result<(), StoreError> {
        if self.grants.iter().any(|grant| grant.allows(&call)) {
            return Ok(());
        }
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((
                self.function.clone(),
                call.action.to_owned(),
                format!("{} on {}", call.operation, call.pk),
            ));
        Err(StoreError::Rejected {
            operation: call.operation,
            message: format!(
                "AccessDenied: {} is not authorized to perform {} on partition {} (template.yaml)",
                self.function, call.action, call.pk
            ),
        })
    }
}

pub type PolicyStore = Intercepted<Policy>;

impl Intercepted<Policy> {
    pub fn new(
        inner: Arc<dyn StateStore>,
        function: &str,
        grants: Vec<Grant>,
        refused: Refusals,
    ) -> Self {
        Self::with_hook(
            inner,
            Policy {
                function: function.to_owned(),
                grants,
                refused,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_like_matches_as_iam_does() {
        assert!(string_like("EVENT#*", "EVENT#abc"));
        assert!(string_like("EVENT#*", "EVENT#"));
        assert!(!string_like("EVENT#*", "EVENTS"));
        assert!(string_like("REJECTED", "REJECTED"));
        assert!(!string_like("REJECTED", "REJECTED#1"));
        assert!(string_like("SESSION#*#*", "SESSION#call#12"));
        assert!(string_like("A?C", "ABC"));
        assert!(!string_like("A?C", "AC"));
    }
}
