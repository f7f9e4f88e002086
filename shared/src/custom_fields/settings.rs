//! Which fields the admin created and where SDK keys go, in the state table (partition
//! `FIELDS`): one item per created field (`FIELD#<id>`: two admins creating two fields at once
//! cannot lose one) and one for the SDK key mapping (`SDK_KEYS`, replaced whole by its PUT).
//! A worker reads the partition once per pass (one Query).

use super::catalogue::FieldId;
use crate::UnixMillis;
use crate::store::{Item, ItemKey, PutOutcome, StateStore, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const PARTITION: &str = "FIELDS";
const SDK_KEYS: &str = "SDK_KEYS";

/// A field the admin created (R-CF-3: written for sessions that start after `created_at`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedField {
    pub created_at: String,
    pub created_at_ms: i64,
    pub created_by: String,
}

/// Where one SDK custom-data key goes (R-CF-5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdkKeyTarget {
    /// The Kustomer message attribute written.
    pub attribute: String,
    /// Set when the target is one of the twelve fields: then that field's creation decides
    /// which sessions get it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<FieldId>,
    /// From when the mapping applies (sessions that start later get it).
    pub mapped_at_ms: i64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSettings {
    pub fields: BTreeMap<FieldId, CreatedField>,
    pub sdk_keys: BTreeMap<String, SdkKeyTarget>,
}

fn malformed(key: &ItemKey, err: impl ToString) -> StoreError {
    StoreError::Malformed {
        key: key.to_string(),
        reason: err.to_string(),
    }
}

fn field_key(id: FieldId) -> ItemKey {
    ItemKey::new(PARTITION, format!("FIELD#{}", id.as_str()))
}

impl FieldSettings {
    pub async fn load(store: &dyn StateStore, now: UnixMillis) -> Result<Self, StoreError> {
        let mut settings = Self::default();
        for item in store.list_partition(PARTITION, now).await? {
            if item.key.sk == SDK_KEYS {
                settings.sdk_keys =
                    serde_json::from_value(item.body).map_err(|e| malformed(&item.key, e))?;
            } else if let Some(id) = item.key.sk.strip_prefix("FIELD#") {
                // A field this version does not know (a later one's) is skipped, not a failure.
                if let Some(id) = FieldId::parse(id) {
                    let created =
                        serde_json::from_value(item.body).map_err(|e| malformed(&item.key, e))?;
                    settings.fields.insert(id, created);
                }
            }
        }
        Ok(settings)
    }

    /// Whether a target that became active at `since_ms` applies to a session that started at
    /// `started_ms` (R-CF-3: strictly after; an unknown start gets nothing, since it cannot be
    /// told from a session that started before).
    pub fn applies(since_ms: i64, started_ms: Option<i64>) -> bool {
        started_ms.is_some_and(|started| started > since_ms)
    }
}

/// Records a field as created, keeping the first creation (creating twice is harmless: the
/// sessions it applies to do not change). Answers the stored record and whether it is new.
pub async fn record_created(
    store: &dyn StateStore,
    id: FieldId,
    by: &str,
    now: UnixMillis,
) -> Result<(CreatedField, bool), StoreError> {
    let key = field_key(id);
    let created = CreatedField {
        created_at: now.to_iso(),
        created_at_ms: now.0,
        created_by: by.to_owned(),
    };
    let body = serde_json::to_value(&created).map_err(|e| malformed(&key, e))?;
    match store
        .put_if_absent(&Item::new(key.clone(), body), now)
        .await?
    {
        PutOutcome::Written => Ok((created, true)),
        PutOutcome::Kept(item) => Ok((
            serde_json::from_value(item.body).map_err(|e| malformed(&key, e))?,
            false,
        )),
    }
}

/// Stops filling a field; answers whether it was created.
pub async fn record_deleted(
    store: &dyn StateStore,
    id: FieldId,
    now: UnixMillis,
) -> Result<bool, StoreError> {
    let key = field_key(id);
    let existed = store.get(&key, now).await?.is_some();
    store.delete(&key).await?;
    Ok(existed)
}

pub async fn save_sdk_keys(
    store: &dyn StateStore,
    keys: &BTreeMap<String, SdkKeyTarget>,
) -> Result<(), StoreError> {
    let key = ItemKey::new(PARTITION, SDK_KEYS);
    let body = serde_json::to_value(keys).map_err(|e| malformed(&key, e))?;
    store.put(&Item::new(key, body)).await
}
