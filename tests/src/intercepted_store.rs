//! A state store that passes every call to another store after asking a hook: the one place
//! the whole store interface is forwarded, for the test stores that watch calls (counting
//! them, or refusing what an IAM role would).

use async_trait::async_trait;
use bridge_shared::UnixMillis;
use bridge_shared::store::*;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// One store call: its name, the DynamoDB action it needs (shared/src/store/dynamodb.rs), and
/// whether it writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreCall {
    pub operation: &'static str,
    pub action: &'static str,
    pub writes: bool,
    /// The partition key the call reads or writes (`dynamodb:LeadingKeys`).
    pub pk: String,
}

const GET: &str = "dynamodb:GetItem";
const PUT: &str = "dynamodb:PutItem";
const UPDATE: &str = "dynamodb:UpdateItem";
const DELETE: &str = "dynamodb:DeleteItem";
const QUERY: &str = "dynamodb:Query";

fn read(operation: &'static str, action: &'static str, pk: &str) -> StoreCall {
    StoreCall {
        operation,
        action,
        writes: false,
        pk: pk.to_owned(),
    }
}

fn write(operation: &'static str, action: &'static str, pk: &str) -> StoreCall {
    StoreCall {
        operation,
        action,
        writes: true,
        pk: pk.to_owned(),
    }
}

/// The partition an idempotency claim lives in.
fn claim_pk(key: &str) -> String {
    ItemKey::idempotency(key).pk
}

/// Asked before each call; an error is the call's answer (the inner store is not asked).
pub trait StoreHook: Send + Sync {
    fn before(&self, call: StoreCall) -> Result<(), StoreError>;
}

pub struct Intercepted<H> {
    inner: Arc<dyn StateStore>,
    pub hook: H,
}

impl<H: StoreHook> Intercepted<H> {
    pub fn with_hook(inner: Arc<dyn StateStore>, hook: H) -> Self {
        Self { inner, hook }
    }
}

#[async_trait]
impl<H: StoreHook> DocumentStore for Intercepted<H> {
    async fn get(&self, key: &ItemKey, now: UnixMillis) -> Result<Option<Item>, StoreError> {
        self.hook.before(read("get", GET, &key.pk))?;
        self.inner.get(key, now).await
    }
    async fn put(&self, item: &Item) -> Result<(), StoreError> {
        self.hook.before(write("put", PUT, &item.key.pk))?;
        self.inner.put(item).await
    }
    async fn put_if_absent(&self, item: &Item, now: UnixMillis) -> Result<PutOutcome, StoreError> {
        self.hook
            .before(write("put_if_absent", PUT, &item.key.pk))?;
        self.inner.put_if_absent(item, now).await
    }
    async fn put_if_newer(&self, item: &Item) -> Result<PutOutcome, StoreError> {
        self.hook.before(write("put_if_newer", PUT, &item.key.pk))?;
        self.inner.put_if_newer(item).await
    }
    async fn delete(&self, key: &ItemKey) -> Result<(), StoreError> {
        self.hook.before(write("delete", DELETE, &key.pk))?;
        self.inner.delete(key).await
    }
    async fn reserve_slots(
        &self,
        key: &ItemKey,
        now: UnixMillis,
        span: Duration,
        not_after: UnixMillis,
    ) -> Result<Option<UnixMillis>, StoreError> {
        self.hook.before(write("reserve_slots", UPDATE, &key.pk))?;
        self.inner.reserve_slots(key, now, span, not_after).await
    }
    async fn list_partition(&self, pk: &str, now: UnixMillis) -> Result<Vec<Item>, StoreError> {
        self.hook.before(read("list_partition", QUERY, pk))?;
        self.inner.list_partition(pk, now).await
    }
    async fn newest_of_partition(
        &self,
        pk: &str,
        limit: usize,
        now: UnixMillis,
    ) -> Result<Vec<Item>, StoreError> {
        self.hook.before(read("newest_of_partition", QUERY, pk))?;
        self.inner.newest_of_partition(pk, limit, now).await
    }
    async fn schedule_end(&self, key: &ItemKey) -> Result<Option<UnixMillis>, StoreError> {
        self.hook.before(read("schedule_end", GET, &key.pk))?;
        self.inner.schedule_end(key).await
    }
}

#[async_trait]
impl<H: StoreHook> IdempotencyStore for Intercepted<H> {
    async fn claim(
        &self,
        key: &str,
        now: UnixMillis,
        in_progress_for: Duration,
        keep_for: Duration,
    ) -> Result<Claim, StoreError> {
        self.hook.before(write("claim", PUT, &claim_pk(key)))?;
        self.inner.claim(key, now, in_progress_for, keep_for).await
    }
    async fn complete(
        &self,
        claim: &ClaimTicket,
        result: &Value,
        now: UnixMillis,
        keep_for: Duration,
    ) -> Result<(), StoreError> {
        self.hook
            .before(write("complete", UPDATE, &claim_pk(&claim.key)))?;
        self.inner.complete(claim, result, now, keep_for).await
    }
    async fn release(&self, claim: &ClaimTicket) -> Result<(), StoreError> {
        self.hook
            .before(write("release", DELETE, &claim_pk(&claim.key)))?;
        self.inner.release(claim).await
    }
}

#[async_trait]
impl<H: StoreHook> LeaseStore for Intercepted<H> {
    async fn acquire_lease(
        &self,
        resource: &ItemKey,
        owner: &str,
        now: UnixMillis,
        duration: Duration,
    ) -> Result<LeaseAcquisition, StoreError> {
        self.hook
            .before(write("acquire_lease", UPDATE, &resource.pk))?;
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
        self.hook
            .before(write("renew_lease", UPDATE, &lease.resource.pk))?;
        self.inner.renew_lease(lease, now, duration).await
    }
    async fn release_lease(&self, lease: &Lease) -> Result<bool, StoreError> {
        self.hook
            .before(write("release_lease", UPDATE, &lease.resource.pk))?;
        self.inner.release_lease(lease).await
    }
    async fn read_lease(&self, resource: &ItemKey) -> Result<Option<Lease>, StoreError> {
        self.hook.before(read("read_lease", GET, &resource.pk))?;
        self.inner.read_lease(resource).await
    }
    async fn write_as_holder(
        &self,
        lease: &Lease,
        now: UnixMillis,
        expected: u64,
        state: &Value,
    ) -> Result<GuardedWrite, StoreError> {
        self.hook
            .before(write("write_as_holder", UPDATE, &lease.resource.pk))?;
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
        self.hook
            .before(write("replace_state", UPDATE, &resource.pk))?;
        self.inner.replace_state(resource, expected, state).await
    }
    async fn read_state(&self, resource: &ItemKey) -> Result<Option<LeaseState>, StoreError> {
        self.hook.before(read("read_state", GET, &resource.pk))?;
        self.inner.read_state(resource).await
    }
}
