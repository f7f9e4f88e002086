//! An audit record per click-to-call attempt (R-SEC-2, review S20), and the agent's hourly
//! count the rate is checked against.
//!
//! Items: `C2C#<email>#<yyyy-mm-ddThh>` / `<ms>#<random>`, body {at, agent, session,
//! customer_id, conversation_id, source_ip, outcome}, kept 90 days. No number, not even hashed
//! (a phone number's hash is found again by trying every number): the number called is one of
//! the customer's, by the policy. One partition per agent and clock hour:
//! counting the hour reads only that hour's attempts.

use crate::UnixMillis;
use crate::store::{Item, ItemKey, StateStore, StoreError};
use serde::Serialize;
use std::time::Duration;

/// How long audit records are kept.
pub const AUDIT_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

/// Who asked, as the status function knows it.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// The signed-in agent's e-mail (from the session).
    pub email: String,
    /// The agent session's public id.
    pub session: String,
    /// The request's source address, as API Gateway saw it.
    pub source_ip: Option<String>,
}

/// One attempt.
#[derive(Clone, Debug, Serialize)]
pub struct AuditEntry {
    pub at: String,
    pub agent: String,
    pub session: String,
    pub customer_id: Option<String>,
    pub conversation_id: Option<String>,
    pub source_ip: Option<String>,
    pub outcome: String,
}

fn partition(email: &str, now: UnixMillis) -> String {
    let hour = chrono::DateTime::from_timestamp_millis(now.0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H");
    format!("C2C#{}#{hour}", email.trim().to_lowercase())
}

/// Takes one of the agent's `per_hour` attempts of the current clock hour, or answers false
/// when all are taken. Each attempt is a slot item written only if absent (`SLOT#<n>`): two
/// clicks at once can never both take the last one (review of issue 26: a count read, then a
/// write, let concurrent clicks past the rate).
pub async fn take_attempt(
    store: &dyn StateStore,
    email: &str,
    per_hour: u32,
    now: UnixMillis,
) -> Result<bool, StoreError> {
    let partition = partition(email, now);
    let taken = store
        .list_partition(&partition, now)
        .await?
        .iter()
        .filter(|item| item.key.sk.starts_with(SLOT))
        .count();
    for slot in taken..per_hour as usize {
        let item = Item::new(
            ItemKey::new(partition.clone(), format!("{SLOT}{slot:05}")),
            serde_json::json!({}),
        )
        .expiring_at(now.plus(Duration::from_secs(2 * 3600)));
        if matches!(
            store.put_if_absent(&item, now).await?,
            crate::store::PutOutcome::Written
        ) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The sort-key prefix of an hour's attempt slots (beside the audit records).
const SLOT: &str = "SLOT#";

/// Records an attempt.
pub async fn record(
    store: &dyn StateStore,
    entry: &AuditEntry,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let key = ItemKey::new(
        partition(&entry.agent, now),
        format!("{:013}#{}", now.0, uuid::Uuid::new_v4().simple()),
    );
    let body = serde_json::to_value(entry).map_err(|e| StoreError::Malformed {
        key: key.to_string(),
        reason: e.to_string(),
    })?;
    store
        .put(&Item::new(key, body).expiring_at(now.plus(AUDIT_RETENTION)))
        .await
}
