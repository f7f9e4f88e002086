//! The state-store port: documents, idempotency records and leases, each primitive one atomic
//! conditional write.
//!
//! Two adapters implement it with the same conditional semantics, proven by one contract suite
//! (`tests/src/contract/state_store.rs`) run against both:
//! - [`DynamoStore`]: the production adapter, single-table design (key schema in [`keys`]);
//! - [`EmbeddedStore`]: in-process, for the local demo and fast tests.
//!
//! Time is an argument (`now`), never read inside an adapter: expiry rules stay comparisons that
//! tests can drive to the millisecond, and DynamoDB and the embedded store compare the same
//! numbers. TTL attributes only clean up; every read checks the logical expiry itself, because
//! DynamoDB deletes expired items up to days late.

mod dynamodb;
mod embedded;
mod error;
pub mod keys;
mod once;
mod types;

pub use dynamodb::{DynamoStore, document_from_image, document_image};
pub use embedded::EmbeddedStore;
pub use error::StoreError;
pub use keys::ItemKey;
pub use once::{Once, claim_time, run_once};
pub use types::*;

use crate::clock::UnixMillis;
use async_trait::async_trait;
use std::time::Duration;

/// Plain documents: links, profiles, configuration, inbox events.
#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// The item, unless absent or past its `expires_at`.
    async fn get(&self, key: &ItemKey, now: UnixMillis) -> Result<Option<Item>, StoreError>;

    /// Writes the item whatever is stored.
    async fn put(&self, item: &Item) -> Result<(), StoreError>;

    /// Writes the item only if no live item has its key. When one has, the answer carries it,
    /// learned from the failed write itself (no second read): "the first caller decides".
    async fn put_if_absent(&self, item: &Item, now: UnixMillis) -> Result<PutOutcome, StoreError>;

    /// Writes the item only if the stored one has a lower `version` (or there is none): for
    /// events that arrive out of order. An equal version is not newer.
    async fn put_if_newer(&self, item: &Item) -> Result<PutOutcome, StoreError>;

    async fn delete(&self, key: &ItemKey) -> Result<(), StoreError>;

    /// Every live item of one partition, in sort-key order (e.g. the `AGENTS` index). For
    /// small, bounded partitions only: this reads them whole.
    async fn list_partition(&self, pk: &str, now: UnixMillis) -> Result<Vec<Item>, StoreError>;

    /// The newest `limit` live items of one partition, by sort key from the highest: for a
    /// log keyed by time (the admin's changes), read no further than what is shown.
    async fn newest_of_partition(
        &self,
        pk: &str,
        limit: usize,
        now: UnixMillis,
    ) -> Result<Vec<Item>, StoreError>;

    /// Where a shared schedule kept by [`DocumentStore::reserve_slots`] ends: the end of its
    /// last reservation, `None` when it was never used.
    async fn schedule_end(&self, key: &ItemKey) -> Result<Option<UnixMillis>, StoreError>;

    /// Reserves the next `span` of a shared schedule kept at `key` (the pacing of a platform's
    /// requests across every concurrent function, R-E-8): answers when the reserved span
    /// starts — `now` when the schedule is idle, else where the last reservation ended — and
    /// moves the schedule's end past it. One conditional write when idle; otherwise that
    /// refused write and a conditional increment. `None`, reserving nothing, when the span
    /// would start after `not_after`: a queue is never built beyond what its callers can wait
    /// for (review S3, R-SEC-3).
    async fn reserve_slots(
        &self,
        key: &ItemKey,
        now: UnixMillis,
        span: Duration,
        not_after: UnixMillis,
    ) -> Result<Option<UnixMillis>, StoreError>;
}

/// Idempotency records, after AWS Powertools' algorithm (see `style.md`), with an owner token
/// so that a run whose claim expired cannot complete or release a later run's claim.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` when it is absent, expired, or in progress past its in-progress expiry.
    /// `in_progress_for` bounds how long the claimer may run (the function's remaining time);
    /// `keep_for` is how long the record dedupes. A duplicate learns the existing record from
    /// the failed write.
    async fn claim(
        &self,
        key: &str,
        now: UnixMillis,
        in_progress_for: Duration,
        keep_for: Duration,
    ) -> Result<Claim, StoreError>;

    /// Marks the claim completed with its result; the record then dedupes for `keep_for`.
    /// Fails with [`StoreError::ClaimLost`] when the claim is no longer this caller's.
    async fn complete(
        &self,
        claim: &ClaimTicket,
        result: &serde_json::Value,
        now: UnixMillis,
        keep_for: Duration,
    ) -> Result<(), StoreError>;

    /// Deletes the claim after a failure so that a retry can run. Fails with
    /// [`StoreError::ClaimLost`] when the claim is no longer this caller's.
    async fn release(&self, claim: &ClaimTicket) -> Result<(), StoreError>;
}

/// Leases with fencing tokens (R-S-4), after `amazon-dynamodb-lock-client`, with an absolute
/// expiry instead of a heartbeat thread (a frozen Lambda sandbox runs no heartbeat).
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes the lease when it is free, expired, or already `owner`'s. Every acquisition gets a
    /// fencing token greater than any before it on this resource. When another owner holds a
    /// live lease, the answer names it.
    async fn acquire_lease(
        &self,
        resource: &ItemKey,
        owner: &str,
        now: UnixMillis,
        duration: Duration,
    ) -> Result<LeaseAcquisition, StoreError>;

    /// Extends the lease to `now + duration` if it still carries this owner and fencing token
    /// (even after its expiry, as long as nobody took it over). Otherwise
    /// [`StoreError::LeaseLost`] names the current holder, if any.
    async fn renew_lease(
        &self,
        lease: &Lease,
        now: UnixMillis,
        duration: Duration,
    ) -> Result<Lease, StoreError>;

    /// Frees the lease if it is still this owner's and token's; true when it was. The fencing
    /// counter survives a release, so tokens keep increasing.
    async fn release_lease(&self, lease: &Lease) -> Result<bool, StoreError>;

    /// The current lease record, live or not (absent when never acquired).
    async fn read_lease(&self, resource: &ItemKey) -> Result<Option<Lease>, StoreError>;

    /// Replaces the state kept on the lease item (an agent's sync state) in one conditional
    /// write, only if `lease` is held (same owner and token, not expired at `now`) and the
    /// state's version is still `expected` (0: never written); the version becomes
    /// `expected + 1`. Writers read, decide, and write back against what they read: a write
    /// in between is detected, never overwritten. The answer says which condition failed,
    /// learned from the failed write.
    async fn write_as_holder(
        &self,
        lease: &Lease,
        now: UnixMillis,
        expected: u64,
        state: &serde_json::Value,
    ) -> Result<GuardedWrite, StoreError>;

    /// Replaces the lease item's state if its version is still `expected` (for writers that
    /// hold no lease, such as the session-end handler); the version becomes `expected + 1`.
    /// False when someone wrote in between. The lease itself is untouched.
    async fn replace_state(
        &self,
        resource: &ItemKey,
        expected: u64,
        state: &serde_json::Value,
    ) -> Result<bool, StoreError>;

    /// The lease (if held) and the state kept on its item.
    async fn read_state(&self, resource: &ItemKey) -> Result<Option<LeaseState>, StoreError>;
}

/// Everything the functions need from state.
pub trait StateStore: DocumentStore + IdempotencyStore + LeaseStore {}

impl<T: DocumentStore + IdempotencyStore + LeaseStore> StateStore for T {}
