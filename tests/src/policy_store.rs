//! A state store that lets through only the DynamoDB actions a function's IAM role grants in
//! `template.yaml`, as AWS would: a call the role does not allow is refused (AccessDenied is a
//! non-retryable rejection) and recorded. The local host wraps each function's store in one, so
//! the demo and the host's tests fail on a store call the deployed function could not make.

use async_trait::async_trait;
use bridge_shared::UnixMillis;
use bridge_shared::store::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The DynamoDB action each store call needs (shared/src/store/dynamodb.rs).
const GET: &str = "dynamodb:GetItem";
const PUT: &str = "dynamodb:PutItem";
const UPDATE: &str = "dynamodb:UpdateItem";
const DELETE: &str = "dynamodb:DeleteItem";
const QUERY: &str = "dynamodb:Query";

/// Calls refused so far: (function, action, operation).
pub type Refusals = Arc<Mutex<Vec<(String, String, String)>>>;

pub struct PolicyStore {
    inner: Arc<dyn StateStore>,
    function: String,
    allowed: BTreeSet<String>,
    refused: Refusals,
}

impl PolicyStore {
    pub fn new(
        inner: Arc<dyn StateStore>,
        function: &str,
        allowed: BTreeSet<String>,
        refused: Refusals,
    ) -> Self {
        Self {
            inner,
            function: function.to_owned(),
            allowed,
            refused,
        }
    }

    fn check(&self, action: &str, operation: &'static str) -> Result<(), StoreError> {
        if self.allowed.contains(action) {
            return Ok(());
        }
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((
                self.function.clone(),
                action.to_owned(),
                operation.to_owned(),
            ));
        Err(StoreError::Rejected {
            operation,
            message: format!(
                "AccessDenied: {} is not authorized to perform {action} (template.yaml)",
                self.function
            ),
        })
    }
}

#[async_trait]
impl DocumentStore for PolicyStore {
    async fn get(&self, key: &ItemKey, now: UnixMillis) -> Result<Option<Item>, StoreError> {
        self.check(GET, "get")?;
        self.inner.get(key, now).await
    }
    async fn put(&self, item: &Item) -> Result<(), StoreError> {
        self.check(PUT, "put")?;
        self.inner.put(item).await
    }
    async fn put_if_absent(&self, item: &Item, now: UnixMillis) -> Result<PutOutcome, StoreError> {
        self.check(PUT, "put_if_absent")?;
        self.inner.put_if_absent(item, now).await
    }
    async fn put_if_newer(&self, item: &Item) -> Result<PutOutcome, StoreError> {
        self.check(PUT, "put_if_newer")?;
        self.inner.put_if_newer(item).await
    }
    async fn delete(&self, key: &ItemKey) -> Result<(), StoreError> {
        self.check(DELETE, "delete")?;
        self.inner.delete(key).await
    }
    async fn list_partition(&self, pk: &str, now: UnixMillis) -> Result<Vec<Item>, StoreError> {
        self.check(QUERY, "list_partition")?;
        self.inner.list_partition(pk, now).await
    }
    async fn reserve_slots(
        &self,
        key: &ItemKey,
        now: UnixMillis,
        spacing: Duration,
    ) -> Result<UnixMillis, StoreError> {
        self.check(UPDATE, "reserve_slots")?;
        self.inner.reserve_slots(key, now, spacing).await
    }
}

#[async_trait]
impl IdempotencyStore for PolicyStore {
    async fn claim(
        &self,
        key: &str,
        now: UnixMillis,
        in_progress_for: Duration,
        keep_for: Duration,
    ) -> Result<Claim, StoreError> {
        self.check(PUT, "claim")?;
        self.inner.claim(key, now, in_progress_for, keep_for).await
    }
    async fn complete(
        &self,
        claim: &ClaimTicket,
        result: &Value,
        now: UnixMillis,
        keep_for: Duration,
    ) -> Result<(), StoreError> {
        self.check(UPDATE, "complete")?;
        self.inner.complete(claim, result, now, keep_for).await
    }
    async fn release(&self, claim: &ClaimTicket) -> Result<(), StoreError> {
        self.check(DELETE, "release")?;
        self.inner.release(claim).await
    }
}

#[async_trait]
impl LeaseStore for PolicyStore {
    async fn acquire_lease(
        &self,
        resource: &ItemKey,
        owner: &str,
        now: UnixMillis,
        duration: Duration,
    ) -> Result<LeaseAcquisition, StoreError> {
        self.check(UPDATE, "acquire_lease")?;
        self.inner
            .acquire_lease(resource, owner, now, duration)
            .await
    }
    async fn renew_lease(
        &self,
        lease: &Lease,
        now: UnixMillis,
        duration: Duration,
    ) -> Result<Lease, StoreError> {
        self.check(UPDATE, "renew_lease")?;
        self.inner.renew_lease(lease, now, duration).await
    }
    async fn release_lease(&self, lease: &Lease) -> Result<bool, StoreError> {
        self.check(UPDATE, "release_lease")?;
        self.inner.release_lease(lease).await
    }
    async fn read_lease(&self, resource: &ItemKey) -> Result<Option<Lease>, StoreError> {
        self.check(GET, "read_lease")?;
        self.inner.read_lease(resource).await
    }
    async fn write_as_holder(
        &self,
        lease: &Lease,
        now: UnixMillis,
        expected: u64,
        state: &Value,
    ) -> Result<GuardedWrite, StoreError> {
        self.check(UPDATE, "write_as_holder")?;
        self.inner
            .write_as_holder(lease, now, expected, state)
            .await
    }
    async fn replace_state(
        &self,
        resource: &ItemKey,
        expected: u64,
        state: &Value,
    ) -> Result<bool, StoreError> {
        self.check(UPDATE, "replace_state")?;
        self.inner.replace_state(resource, expected, state).await
    }
    async fn read_state(&self, resource: &ItemKey) -> Result<Option<LeaseState>, StoreError> {
        self.check(GET, "read_state")?;
        self.inner.read_state(resource).await
    }
}
