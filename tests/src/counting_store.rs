//! A state store that counts the reads and writes passing through it to another store: how
//! tests hold a hot path to its budget of store calls.

use async_trait::async_trait;
use bridge_shared::UnixMillis;
use bridge_shared::store::*;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub struct CountingStore {
    inner: Arc<dyn StateStore>,
    reads: AtomicUsize,
    writes: AtomicUsize,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn StateStore>) -> Self {
        Self {
            inner,
            reads: AtomicUsize::new(0),
            writes: AtomicUsize::new(0),
        }
    }

    /// (reads, writes) so far.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.reads.load(Ordering::SeqCst),
            self.writes.load(Ordering::SeqCst),
        )
    }

    fn read(&self) {
        self.reads.fetch_add(1, Ordering::SeqCst);
    }

    fn write(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl DocumentStore for CountingStore {
    async fn get(&self, key: &ItemKey, now: UnixMillis) -> Result<Option<Item>, StoreError> {
        self.read();
        self.inner.get(key, now).await
    }
    async fn put(&self, item: &Item) -> Result<(), StoreError> {
        self.write();
        self.inner.put(item).await
    }
    async fn put_if_absent(&self, item: &Item, now: UnixMillis) -> Result<PutOutcome, StoreError> {
        self.write();
        self.inner.put_if_absent(item, now).await
    }
    async fn put_if_newer(&self, item: &Item) -> Result<PutOutcome, StoreError> {
        self.write();
        self.inner.put_if_newer(item).await
    }
    async fn delete(&self, key: &ItemKey) -> Result<(), StoreError> {
        self.write();
        self.inner.delete(key).await
    }
    async fn reserve_slots(
        &self,
        key: &ItemKey,
        now: UnixMillis,
        span: std::time::Duration,
    ) -> Result<UnixMillis, StoreError> {
        self.write();
        self.inner.reserve_slots(key, now, span).await
    }
    async fn list_partition(&self, pk: &str, now: UnixMillis) -> Result<Vec<Item>, StoreError> {
        self.read();
        self.inner.list_partition(pk, now).await
    }
}

#[async_trait]
impl IdempotencyStore for CountingStore {
    async fn claim(
        &self,
        key: &str,
        now: UnixMillis,
        in_progress_for: Duration,
        keep_for: Duration,
    ) -> Result<Claim, StoreError> {
        self.write();
        self.inner.claim(key, now, in_progress_for, keep_for).await
    }
    async fn complete(
        &self,
        claim: &ClaimTicket,
        result: &Value,
        now: UnixMillis,
        keep_for: Duration,
    ) -> Result<(), StoreError> {
        self.write();
        self.inner.complete(claim, result, now, keep_for).await
    }
    async fn release(&self, claim: &ClaimTicket) -> Result<(), StoreError> {
        self.write();
        self.inner.release(claim).await
    }
}

#[async_trait]
impl LeaseStore for CountingStore {
    async fn acquire_lease(
        &self,
        resource: &ItemKey,
        owner: &str,
        now: UnixMillis,
        duration: Duration,
    ) -> Result<LeaseAcquisition, StoreError> {
        self.write();
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
        self.write();
        self.inner.renew_lease(lease, now, duration).await
    }
    async fn release_lease(&self, lease: &Lease) -> Result<bool, StoreError> {
        self.write();
        self.inner.release_lease(lease).await
    }
    async fn read_lease(&self, resource: &ItemKey) -> Result<Option<Lease>, StoreError> {
        self.read();
        self.inner.read_lease(resource).await
    }
    async fn write_as_holder(
        &self,
        lease: &Lease,
        now: UnixMillis,
        expected: u64,
        state: &Value,
    ) -> Result<GuardedWrite, StoreError> {
        self.write();
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
        self.write();
        self.inner.replace_state(resource, expected, state).await
    }
    async fn read_state(&self, resource: &ItemKey) -> Result<Option<LeaseState>, StoreError> {
        self.read();
        self.inner.read_state(resource).await
    }
}
