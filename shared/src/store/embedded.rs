//! In-process adapter: the same conditions as [`super::DynamoStore`], evaluated under one lock.

use super::*;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

#[derive(Clone, Debug)]
enum Row {
    Document(Item),
    Idempotency(IdemRow),
    Lease(LeaseRow),
}

#[derive(Clone, Debug)]
struct IdemRow {
    record: IdempotencyRecord,
    token: String,
}

#[derive(Clone, Debug)]
struct LeaseRow {
    owner: Option<String>,
    fence: u64,
    expires_at: UnixMillis,
    state: Option<serde_json::Value>,
    version: u64,
}

/// Everything in one `HashMap` behind a `Mutex`: each primitive reads and writes under the lock,
/// which is what makes it one atomic conditional write, as on DynamoDB.
#[derive(Default)]
pub struct EmbeddedStore {
    rows: Mutex<HashMap<ItemKey, Row>>,
}

impl EmbeddedStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn rows(&self) -> Result<MutexGuard<'_, HashMap<ItemKey, Row>>, StoreError> {
        // A poisoned lock means a panic mid-write elsewhere: refuse rather than serve state that
        // may be half-written.
        self.rows.lock().map_err(|_| StoreError::Unavailable {
            operation: "lock",
            message: "embedded store poisoned by an earlier panic".into(),
        })
    }
}

fn wrong_kind(key: &ItemKey, expected: &str) -> StoreError {
    StoreError::Malformed {
        key: key.to_string(),
        reason: format!("expected {expected} item"),
    }
}

fn document<'a>(key: &ItemKey, row: Option<&'a Row>) -> Result<Option<&'a Item>, StoreError> {
    match row {
        None => Ok(None),
        Some(Row::Document(item)) => Ok(Some(item)),
        Some(_) => Err(wrong_kind(key, "a document")),
    }
}

#[async_trait]
impl DocumentStore for EmbeddedStore {
    async fn get(&self, key: &ItemKey, now: UnixMillis) -> Result<Option<Item>, StoreError> {
        let rows = self.rows()?;
        Ok(document(key, rows.get(key))?
            .filter(|item| item.is_live(now))
            .cloned())
    }

    async fn put(&self, item: &Item) -> Result<(), StoreError> {
        self.rows()?
            .insert(item.key.clone(), Row::Document(item.clone()));
        Ok(())
    }

    async fn put_if_absent(&self, item: &Item, now: UnixMillis) -> Result<PutOutcome, StoreError> {
        let mut rows = self.rows()?;
        if let Some(existing) = document(&item.key, rows.get(&item.key))?
            && existing.is_live(now)
        {
            return Ok(PutOutcome::Kept(existing.clone()));
        }
        rows.insert(item.key.clone(), Row::Document(item.clone()));
        Ok(PutOutcome::Written)
    }

    async fn put_if_newer(&self, item: &Item) -> Result<PutOutcome, StoreError> {
        let mut rows = self.rows()?;
        if let Some(existing) = document(&item.key, rows.get(&item.key))?
            && existing.version >= item.version
        {
            return Ok(PutOutcome::Kept(existing.clone()));
        }
        rows.insert(item.key.clone(), Row::Document(item.clone()));
        Ok(PutOutcome::Written)
    }

    async fn delete(&self, key: &ItemKey) -> Result<(), StoreError> {
        self.rows()?.remove(key);
        Ok(())
    }

    async fn reserve_slots(
        &self,
        key: &ItemKey,
        now: UnixMillis,
        span: std::time::Duration,
        not_after: UnixMillis,
    ) -> Result<Option<UnixMillis>, StoreError> {
        let mut rows = self.rows()?;
        let end_of = |row: Option<&Row>| match row {
            Some(Row::Document(item)) => item.body["pace_next_ms"].as_i64(),
            _ => None,
        };
        let start = end_of(rows.get(key)).map_or(now, |end| UnixMillis(end.max(now.0)));
        if start > now && start > not_after {
            return Ok(None);
        }
        let end = start.plus(span);
        rows.insert(
            key.clone(),
            Row::Document(Item::new(
                key.clone(),
                serde_json::json!({ "pace_next_ms": end.0 }),
            )),
        );
        Ok(Some(start))
    }

    async fn newest_of_partition(
        &self,
        pk: &str,
        limit: usize,
        now: UnixMillis,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = self.list_partition(pk, now).await?;
        items.reverse();
        items.truncate(limit);
        Ok(items)
    }

    async fn schedule_end(&self, key: &ItemKey) -> Result<Option<UnixMillis>, StoreError> {
        Ok(match self.rows()?.get(key) {
            Some(Row::Document(item)) => item.body["pace_next_ms"].as_i64().map(UnixMillis),
            _ => None,
        })
    }

    async fn list_partition(&self, pk: &str, now: UnixMillis) -> Result<Vec<Item>, StoreError> {
        let rows = self.rows()?;
        let mut items: Vec<Item> = rows
            .iter()
            .filter(|(key, _)| key.pk == pk)
            .filter_map(|(_, row)| match row {
                Row::Document(item) if item.is_live(now) => Some(item.clone()),
                _ => None,
            })
            .collect();
        items.sort_by(|a, b| a.key.sk.cmp(&b.key.sk));
        Ok(items)
    }
}

#[async_trait]
impl IdempotencyStore for EmbeddedStore {
    async fn claim(
        &self,
        key: &str,
        now: UnixMillis,
        in_progress_for: Duration,
        keep_for: Duration,
    ) -> Result<Claim, StoreError> {
        let item_key = ItemKey::idempotency(key);
        let mut rows = self.rows()?;
        match rows.get(&item_key) {
            None => {}
            Some(Row::Idempotency(row)) => {
                let record = &row.record;
                let expired = record.expires_at < now;
                let abandoned = record.status == IdempotencyStatus::InProgress
                    && record.in_progress_until.is_some_and(|until| until < now);
                if !expired && !abandoned {
                    return Ok(Claim::Duplicate(record.clone()));
                }
            }
            Some(_) => return Err(wrong_kind(&item_key, "an idempotency")),
        }
        let token = uuid::Uuid::new_v4().to_string();
        let record = IdempotencyRecord {
            key: key.to_owned(),
            status: IdempotencyStatus::InProgress,
            in_progress_until: Some(now.plus(in_progress_for)),
            expires_at: now.plus(keep_for),
            result: None,
        };
        rows.insert(
            item_key,
            Row::Idempotency(IdemRow {
                record,
                token: token.clone(),
            }),
        );
        Ok(Claim::Claimed(ClaimTicket {
            key: key.to_owned(),
            token,
        }))
    }

    async fn complete(
        &self,
        claim: &ClaimTicket,
        result: &serde_json::Value,
        now: UnixMillis,
        keep_for: Duration,
    ) -> Result<(), StoreError> {
        let item_key = ItemKey::idempotency(&claim.key);
        let mut rows = self.rows()?;
        match rows.get_mut(&item_key) {
            Some(Row::Idempotency(row))
                if row.token == claim.token
                    && row.record.status == IdempotencyStatus::InProgress =>
            {
                row.record.status = IdempotencyStatus::Completed;
                row.record.in_progress_until = None;
                row.record.expires_at = now.plus(keep_for);
                row.record.result = Some(result.clone());
                Ok(())
            }
            _ => Err(StoreError::ClaimLost {
                key: claim.key.clone(),
            }),
        }
    }

    async fn release(&self, claim: &ClaimTicket) -> Result<(), StoreError> {
        let item_key = ItemKey::idempotency(&claim.key);
        let mut rows = self.rows()?;
        match rows.get(&item_key) {
            Some(Row::Idempotency(row)) if row.token == claim.token => {
                rows.remove(&item_key);
                Ok(())
            }
            _ => Err(StoreError::ClaimLost {
                key: claim.key.clone(),
            }),
        }
    }
}

fn lease_row<'a>(key: &ItemKey, row: Option<&'a Row>) -> Result<Option<&'a LeaseRow>, StoreError> {
    match row {
        None => Ok(None),
        Some(Row::Lease(lease)) => Ok(Some(lease)),
        Some(_) => Err(wrong_kind(key, "a lease")),
    }
}

fn held(resource: &ItemKey, row: &LeaseRow) -> Option<Lease> {
    row.owner.as_ref().map(|owner| Lease {
        resource: resource.clone(),
        owner: owner.clone(),
        fencing_token: row.fence,
        expires_at: row.expires_at,
    })
}

#[async_trait]
impl LeaseStore for EmbeddedStore {
    async fn acquire_lease(
        &self,
        resource: &ItemKey,
        owner: &str,
        now: UnixMillis,
        duration: Duration,
    ) -> Result<LeaseAcquisition, StoreError> {
        let mut rows = self.rows()?;
        let (previous_fence, state, version) = match lease_row(resource, rows.get(resource))? {
            None => (0, None, 0),
            Some(row) => {
                if let Some(holder) = held(resource, row)
                    && holder.owner != owner
                    && holder.is_live(now)
                {
                    return Ok(LeaseAcquisition::Held(holder));
                }
                (row.fence, row.state.clone(), row.version)
            }
        };
        let row = LeaseRow {
            owner: Some(owner.to_owned()),
            fence: previous_fence + 1,
            expires_at: now.plus(duration),
            // As on DynamoDB: acquisition creates an empty state map.
            state: state.or_else(|| Some(serde_json::Value::Object(serde_json::Map::new()))),
            version,
        };
        let lease = held(resource, &row);
        rows.insert(resource.clone(), Row::Lease(row));
        lease
            .map(LeaseAcquisition::Acquired)
            .ok_or_else(|| wrong_kind(resource, "an owned lease"))
    }

    async fn renew_lease(
        &self,
        lease: &Lease,
        now: UnixMillis,
        duration: Duration,
    ) -> Result<Lease, StoreError> {
        let mut rows = self.rows()?;
        let current = match rows.get_mut(&lease.resource) {
            Some(Row::Lease(row)) => row,
            Some(_) => return Err(wrong_kind(&lease.resource, "a lease")),
            None => return Err(lease_lost(lease, None)),
        };
        if current.owner.as_deref() != Some(lease.owner.as_str())
            || current.fence != lease.fencing_token
        {
            return Err(lease_lost(lease, held(&lease.resource, current)));
        }
        current.expires_at = now.plus(duration);
        Ok(Lease {
            expires_at: current.expires_at,
            ..lease.clone()
        })
    }

    async fn release_lease(&self, lease: &Lease) -> Result<bool, StoreError> {
        let mut rows = self.rows()?;
        match rows.get_mut(&lease.resource) {
            Some(Row::Lease(row))
                if row.owner.as_deref() == Some(lease.owner.as_str())
                    && row.fence == lease.fencing_token =>
            {
                row.owner = None;
                row.expires_at = UnixMillis(0);
                Ok(true)
            }
            Some(Row::Lease(_)) | None => Ok(false),
            Some(_) => Err(wrong_kind(&lease.resource, "a lease")),
        }
    }

    async fn read_lease(&self, resource: &ItemKey) -> Result<Option<Lease>, StoreError> {
        let rows = self.rows()?;
        Ok(lease_row(resource, rows.get(resource))?.and_then(|row| held(resource, row)))
    }

    async fn write_as_holder(
        &self,
        lease: &Lease,
        now: UnixMillis,
        expected: u64,
        state: &serde_json::Value,
    ) -> Result<GuardedWrite, StoreError> {
        let mut rows = self.rows()?;
        let row = match rows.get_mut(&lease.resource) {
            Some(Row::Lease(row)) => row,
            Some(_) => return Err(wrong_kind(&lease.resource, "a lease")),
            None => return Ok(GuardedWrite::NotHolder(None)),
        };
        let holds = row.owner.as_deref() == Some(lease.owner.as_str())
            && row.fence == lease.fencing_token
            && now < row.expires_at;
        if !holds {
            return Ok(GuardedWrite::NotHolder(held(&lease.resource, row)));
        }
        if row.version != expected {
            return Ok(GuardedWrite::Changed {
                stored_version: row.version,
            });
        }
        row.state = Some(state.clone());
        row.version = expected + 1;
        Ok(GuardedWrite::Written)
    }

    async fn replace_state(
        &self,
        resource: &ItemKey,
        expected: u64,
        state: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let mut rows = self.rows()?;
        match rows.get_mut(resource) {
            Some(Row::Lease(row)) if row.version == expected => {
                row.state = Some(state.clone());
                row.version = expected + 1;
                Ok(true)
            }
            Some(Row::Lease(_)) => Ok(false),
            None if expected == 0 => {
                rows.insert(
                    resource.clone(),
                    Row::Lease(LeaseRow {
                        owner: None,
                        fence: 0,
                        expires_at: UnixMillis(0),
                        state: Some(state.clone()),
                        version: 1,
                    }),
                );
                Ok(true)
            }
            None => Ok(false),
            Some(_) => Err(wrong_kind(resource, "a lease")),
        }
    }

    async fn read_state(&self, resource: &ItemKey) -> Result<Option<LeaseState>, StoreError> {
        let rows = self.rows()?;
        Ok(
            lease_row(resource, rows.get(resource))?.map(|row| LeaseState {
                lease: held(resource, row),
                state: row.state.clone().unwrap_or(serde_json::Value::Null),
                version: row.version,
            }),
        )
    }
}

pub(super) fn lease_lost(lease: &Lease, holder: Option<Lease>) -> StoreError {
    StoreError::LeaseLost {
        resource: lease.resource.to_string(),
        owner: lease.owner.clone(),
        holder: holder.map(Box::new),
    }
}
