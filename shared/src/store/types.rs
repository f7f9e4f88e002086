use super::keys::ItemKey;
use crate::clock::UnixMillis;
use serde_json::Value;

/// A document: a JSON object under a key, with a version for ordered writes and an optional
/// logical expiry (after which reads treat it as absent).
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub key: ItemKey,
    /// A JSON object; stored as a native DynamoDB map so stream filters can match its fields.
    pub body: Value,
    pub version: u64,
    pub expires_at: Option<UnixMillis>,
}

impl Item {
    pub fn new(key: ItemKey, body: Value) -> Self {
        Self {
            key,
            body,
            version: 0,
            expires_at: None,
        }
    }

    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    pub fn expiring_at(mut self, expires_at: UnixMillis) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Live until its expiry (exclusive).
    pub fn is_live(&self, now: UnixMillis) -> bool {
        self.expires_at.is_none_or(|expiry| now < expiry)
    }
}

/// The answer of a conditional document write.
#[derive(Clone, Debug, PartialEq)]
pub enum PutOutcome {
    Written,
    /// The condition failed; this is what is stored and stays.
    Kept(Item),
}

/// The answer of an idempotency claim.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// The caller runs the work, then completes or releases the ticket.
    Claimed(ClaimTicket),
    /// Another run has (or is doing) the work.
    Duplicate(IdempotencyRecord),
}

/// Proof of a claim: completing or releasing requires the token it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimTicket {
    pub key: String,
    pub token: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdempotencyStatus {
    InProgress,
    Completed,
}

impl IdempotencyStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            IdempotencyStatus::InProgress => "IN_PROGRESS",
            IdempotencyStatus::Completed => "COMPLETED",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "IN_PROGRESS" => Some(IdempotencyStatus::InProgress),
            "COMPLETED" => Some(IdempotencyStatus::Completed),
            _ => None,
        }
    }
}

/// An idempotency record as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct IdempotencyRecord {
    pub key: String,
    pub status: IdempotencyStatus,
    /// While in progress: when the claimer's time runs out and another run may take over.
    pub in_progress_until: Option<UnixMillis>,
    /// When the record stops deduplicating.
    pub expires_at: UnixMillis,
    /// The completed run's result.
    pub result: Option<Value>,
}

/// A held lease. The fencing token is what a holder presents with every guarded action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub resource: ItemKey,
    pub owner: String,
    pub fencing_token: u64,
    pub expires_at: UnixMillis,
}

impl Lease {
    /// Live until its expiry (exclusive).
    pub fn is_live(&self, now: UnixMillis) -> bool {
        now < self.expires_at
    }
}

/// The answer of a lease acquisition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseAcquisition {
    Acquired(Lease),
    /// Another owner holds a live lease.
    Held(Lease),
}

/// The state kept on a lease item, with the lease when one is held.
#[derive(Clone, Debug, PartialEq)]
pub struct LeaseState {
    pub lease: Option<Lease>,
    pub state: Value,
    /// 0 when no state was ever written.
    pub version: u64,
}

/// The answer of [`super::LeaseStore::write_as_holder`].
#[derive(Clone, Debug, PartialEq)]
pub enum GuardedWrite {
    Written,
    /// The writer does not hold the lease; the current holder, if any.
    NotHolder(Option<Lease>),
    /// Someone wrote the state since it was read.
    Changed {
        stored_version: u64,
    },
}
