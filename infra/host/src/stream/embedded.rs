//! The embedded store's stream: a wrapper that records every document write as a stream
//! record (INSERT, MODIFY, REMOVE with new and old images, as `NEW_AND_OLD_IMAGES` does), and
//! readers that follow the log by sequence number.
//!
//! Differences from DynamoDB, on purpose: only documents are recorded (leases and idempotency
//! records are never stream inputs; the template's filter drops them on AWS); INSERT vs MODIFY
//! is told from a read just before the write, which concurrent writers of the same key can
//! blur (not an issue for inbox items, written once by a conditional put).

use super::feed::ChangeFeed;
use super::subscriptions::StartingPosition;
use async_trait::async_trait;
use bridge_shared::UnixMillis;
use bridge_shared::store::*;
use bridge_shared::stream::ChangeRecord;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records kept (DynamoDB keeps 24 hours; a local run never needs more than this).
const RETAINED: usize = 100_000;
const STREAM_ARN: &str = "arn:aws:dynamodb:local:000000000000:table/embedded/stream/local";

#[derive(Default)]
pub struct ChangeLog {
    records: Mutex<VecDeque<(u64, Value)>>,
    next_sequence: Mutex<u64>,
    appended: tokio::sync::Notify,
}

impl ChangeLog {
    fn append(&self, event_name: &str, new: Option<&Item>, old: Option<&Item>) {
        let Ok(mut next) = self.next_sequence.lock() else {
            return;
        };
        *next += 1;
        let sequence = *next;
        let record = ChangeRecord {
            event_id: &uuid::Uuid::new_v4().simple().to_string(),
            event_name,
            sequence_number: &format!("{sequence:021}"),
            new_image: new,
            old_image: old,
            created_at_s: UnixMillis::now().0 as f64 / 1000.0,
            stream_arn: STREAM_ARN,
            region: "local",
        }
        .to_lambda_json();
        match (record, self.records.lock()) {
            (Ok(record), Ok(mut records)) => {
                records.push_back((sequence, record));
                while records.len() > RETAINED {
                    records.pop_front();
                }
            }
            (Err(err), _) => {
                tracing::warn!(error = %err, "change not recorded in the local stream")
            }
            (_, Err(_)) => tracing::warn!("local stream poisoned by an earlier panic"),
        }
        drop(next);
        self.appended.notify_waiters();
    }

    fn after(&self, sequence: u64) -> Vec<(u64, Value)> {
        self.records
            .lock()
            .map(|records| {
                records
                    .iter()
                    .filter(|(s, _)| *s > sequence)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    fn last(&self) -> u64 {
        self.next_sequence.lock().map(|n| *n).unwrap_or_default()
    }
}

/// One subscription's position in the log.
pub struct EmbeddedFeed {
    log: Arc<ChangeLog>,
    position: u64,
}

impl EmbeddedFeed {
    pub fn new(log: Arc<ChangeLog>, start: StartingPosition) -> Self {
        let position = match start {
            StartingPosition::TrimHorizon => 0,
            StartingPosition::Latest => log.last(),
        };
        Self { log, position }
    }
}

#[async_trait]
impl ChangeFeed for EmbeddedFeed {
    async fn next(&mut self) -> Result<Vec<Value>, String> {
        let mut records = self.log.after(self.position);
        if records.is_empty() {
            // Wake on the next append rather than on a timer (bounded, in case it raced).
            let appended = self.log.appended.notified();
            let _ = tokio::time::timeout(Duration::from_millis(250), appended).await;
            records = self.log.after(self.position);
        }
        if let Some((last, _)) = records.last() {
            self.position = *last;
        }
        Ok(records.into_iter().map(|(_, record)| record).collect())
    }
}

/// A state store whose document writes are recorded in a [`ChangeLog`].
pub struct StreamingStore {
    inner: Arc<dyn StateStore>,
    log: Arc<ChangeLog>,
}

impl StreamingStore {
    pub fn new(inner: Arc<dyn StateStore>) -> (Self, Arc<ChangeLog>) {
        let log = Arc::new(ChangeLog::default());
        (
            Self {
                inner,
                log: log.clone(),
            },
            log,
        )
    }

    /// The stored document whatever its expiry (the stream's old image). A key holding a
    /// lease or idempotency record has no document image: `None`.
    async fn stored(&self, key: &ItemKey) -> Result<Option<Item>, StoreError> {
        match self.inner.get(key, UnixMillis(i64::MIN)).await {
            Err(StoreError::Malformed { .. }) => Ok(None),
            other => other,
        }
    }

    fn written(&self, item: &Item, old: Option<Item>) {
        let name = if old.is_some() { "MODIFY" } else { "INSERT" };
        self.log.append(name, Some(item), old.as_ref());
    }
}

#[async_trait]
impl DocumentStore for StreamingStore {
    async fn get(&self, key: &ItemKey, now: UnixMillis) -> Result<Option<Item>, StoreError> {
        self.inner.get(key, now).await
    }
    async fn put(&self, item: &Item) -> Result<(), StoreError> {
        let old = self.stored(&item.key).await?;
        self.inner.put(item).await?;
        self.written(item, old);
        Ok(())
    }
    async fn put_if_absent(&self, item: &Item, now: UnixMillis) -> Result<PutOutcome, StoreError> {
        let old = self.stored(&item.key).await?;
        let outcome = self.inner.put_if_absent(item, now).await?;
        if outcome == PutOutcome::Written {
            self.written(item, old);
        }
        Ok(outcome)
    }
    async fn put_if_newer(&self, item: &Item) -> Result<PutOutcome, StoreError> {
        let old = self.stored(&item.key).await?;
        let outcome = self.inner.put_if_newer(item).await?;
        if outcome == PutOutcome::Written {
            self.written(item, old);
        }
        Ok(outcome)
    }
    async fn delete(&self, key: &ItemKey) -> Result<(), StoreError> {
        let old = self.stored(key).await?;
        self.inner.delete(key).await?;
        if let Some(old) = old {
            self.log.append("REMOVE", None, Some(&old));
        }
        Ok(())
    }
    async fn reserve_slots(
        &self,
        key: &ItemKey,
        now: UnixMillis,
        span: std::time::Duration,
        not_after: UnixMillis,
    ) -> Result<Option<UnixMillis>, StoreError> {
        self.inner.reserve_slots(key, now, span, not_after).await
    }
    async fn list_partition(&self, pk: &str, now: UnixMillis) -> Result<Vec<Item>, StoreError> {
        self.inner.list_partition(pk, now).await
    }
    async fn newest_of_partition(
        &self,
        pk: &str,
        limit: usize,
        now: UnixMillis,
    ) -> Result<Vec<Item>, StoreError> {
        self.inner.newest_of_partition(pk, limit, now).await
    }
    async fn schedule_end(&self, key: &ItemKey) -> Result<Option<UnixMillis>, StoreError> {
        self.inner.schedule_end(key).await
    }
}

#[async_trait]
impl IdempotencyStore for StreamingStore {
    async fn claim(
        &self,
        key: &str,
        now: UnixMillis,
        in_progress_for: Duration,
        keep_for: Duration,
    ) -> Result<Claim, StoreError> {
        self.inner.claim(key, now, in_progress_for, keep_for).await
    }
    async fn complete(
        &self,
        claim: &ClaimTicket,
        result: &Value,
        now: UnixMillis,
        keep_for: Duration,
    ) -> Result<(), StoreError> {
        self.inner.complete(claim, result, now, keep_for).await
    }
    async fn release(&self, claim: &ClaimTicket) -> Result<(), StoreError> {
        self.inner.release(claim).await
    }
}

#[async_trait]
impl LeaseStore for StreamingStore {
    async fn acquire_lease(
        &self,
        resource: &ItemKey,
        owner: &str,
        now: UnixMillis,
        duration: Duration,
    ) -> Result<LeaseAcquisition, StoreError> {
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
        self.inner.renew_lease(lease, now, duration).await
    }
    async fn release_lease(&self, lease: &Lease) -> Result<bool, StoreError> {
        self.inner.release_lease(lease).await
    }
    async fn read_lease(&self, resource: &ItemKey) -> Result<Option<Lease>, StoreError> {
        self.inner.read_lease(resource).await
    }
    async fn write_as_holder(
        &self,
        lease: &Lease,
        now: UnixMillis,
        expected: u64,
        state: &Value,
    ) -> Result<GuardedWrite, StoreError> {
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
        self.inner.replace_state(resource, expected, state).await
    }
    async fn read_state(&self, resource: &ItemKey) -> Result<Option<LeaseState>, StoreError> {
        self.inner.read_state(resource).await
    }
}
