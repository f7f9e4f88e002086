//! A placement lock that means what it says (contact sync's per-session and per-customer
//! locks): stamped with the clock when it is taken — not when the batch started, which may
//! be long before — and checked before every write it guards, so a holder whose lock ran out
//! (another worker may hold it now) stops instead of overwriting. A check renews the lease
//! once half its time is gone; the renewal fails when someone else took it.

use crate::UnixMillis;
use crate::store::{ItemKey, Lease, LeaseAcquisition, StateStore, StoreError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why a lock is not (or no longer) ours.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Held by another worker past the wait; the retry finds it free.
    #[error("{resource} is held by {holder}")]
    Held { resource: String, holder: String },
    /// Ours ran out and someone else has it now: nothing more may be written under it.
    #[error("lost {resource}: {reason}")]
    Lost { resource: String, reason: String },
}

pub struct HeldLock<'a> {
    store: &'a dyn StateStore,
    lease: Mutex<Lease>,
    duration: Duration,
}

impl<'a> HeldLock<'a> {
    /// Takes `resource` for `duration`, waiting up to `wait` (looking every `poll`) while
    /// another owner holds it.
    pub async fn take(
        store: &'a dyn StateStore,
        resource: &ItemKey,
        owner: &str,
        duration: Duration,
        wait: Duration,
        poll: Duration,
    ) -> Result<HeldLock<'a>, LockError> {
        let started = Instant::now();
        loop {
            match store
                .acquire_lease(resource, owner, UnixMillis::now(), duration)
                .await?
            {
                LeaseAcquisition::Acquired(lease) => {
                    return Ok(Self {
                        store,
                        lease: Mutex::new(lease),
                        duration,
                    });
                }
                LeaseAcquisition::Held(holder) if started.elapsed() >= wait => {
                    return Err(LockError::Held {
                        resource: resource.to_string(),
                        holder: holder.owner,
                    });
                }
                LeaseAcquisition::Held(_) => tokio::time::sleep(poll).await,
            }
        }
    }

    fn lease(&self) -> Lease {
        self.lease.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Before a guarded write: still ours for at least half its time, else renewed (which
    /// fails when another worker took it after it ran out).
    pub async fn check(&self) -> Result<(), LockError> {
        let lease = self.lease();
        let now = UnixMillis::now();
        if now.plus(self.duration / 2) < lease.expires_at {
            return Ok(());
        }
        match self.store.renew_lease(&lease, now, self.duration).await {
            Ok(renewed) => {
                *self.lease.lock().unwrap_or_else(|p| p.into_inner()) = renewed;
                Ok(())
            }
            Err(err @ StoreError::LeaseLost { .. }) => Err(LockError::Lost {
                resource: lease.resource.to_string(),
                reason: err.to_string(),
            }),
            Err(err) => Err(err.into()),
        }
    }

    /// Runs a guarded write under the lock's fence (finding 9): the lease is renewed first when
    /// half of it is gone (failing when another worker took it), and the write runs with the
    /// lease's expiry as its deadline, so the Kustomer client sends nothing that could land after the lease ran
    /// out and another worker took over.
    pub async fn fenced<F: std::future::Future>(&self, write: F) -> Result<F::Output, LockError> {
        let lease = self.lease();
        // More than half the lease left: its expiry is the fence as it is (no write spent).
        if UnixMillis::now().plus(self.duration / 2) < lease.expires_at {
            return Ok(crate::deadline::within(Some(lease.expires_at), write).await);
        }
        let renewed = match self
            .store
            .renew_lease(&lease, UnixMillis::now(), self.duration)
            .await
        {
            Ok(renewed) => renewed,
            Err(err @ StoreError::LeaseLost { .. }) => {
                return Err(LockError::Lost {
                    resource: lease.resource.to_string(),
                    reason: err.to_string(),
                });
            }
            Err(err) => return Err(err.into()),
        };
        let expires_at = renewed.expires_at;
        *self.lease.lock().unwrap_or_else(|p| p.into_inner()) = renewed;
        Ok(crate::deadline::within(Some(expires_at), write).await)
    }

    /// Frees the lock; one left behind expires on its own.
    pub async fn release(self) {
        let lease = self.lease();
        if let Err(err) = self.store.release_lease(&lease).await {
            tracing::warn!(error = %err, resource = %lease.resource, "lock not released; it expires on its own");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::EmbeddedStore;

    const POLL: Duration = Duration::from_millis(5);

    #[tokio::test]
    async fn a_holder_whose_lock_ran_out_and_was_taken_may_not_write() {
        let store = EmbeddedStore::new();
        let resource = ItemKey::new("SESSION#call#1", "SYNC_LOCK");
        let short = Duration::from_millis(50);
        let first = HeldLock::take(&store, &resource, "first", short, short, POLL)
            .await
            .unwrap();
        // Past its expiry (a deadline passed, not a race): another worker takes it.
        tokio::time::sleep(short * 2).await;
        let second = HeldLock::take(&store, &resource, "second", short * 100, short, POLL)
            .await
            .unwrap();
        assert!(matches!(first.check().await, Err(LockError::Lost { .. })));
        assert!(second.check().await.is_ok());
    }

    #[tokio::test]
    async fn a_lock_near_its_end_is_renewed_by_the_check_when_nobody_took_it() {
        let store = EmbeddedStore::new();
        let resource = ItemKey::new("CUSTOMER#c1", "PLACEMENT");
        let short = Duration::from_millis(40);
        let lock = HeldLock::take(&store, &resource, "first", short, short, POLL)
            .await
            .unwrap();
        tokio::time::sleep(short * 2).await;
        lock.check().await.unwrap();
        // Renewed: another owner is refused now.
        assert!(matches!(
            HeldLock::take(&store, &resource, "second", short, Duration::ZERO, POLL).await,
            Err(LockError::Held { .. })
        ));
        lock.release().await;
        assert!(
            HeldLock::take(&store, &resource, "second", short, Duration::ZERO, POLL)
                .await
                .is_ok()
        );
    }
}
