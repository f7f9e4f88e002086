//! Pacing shared by every concurrent function (R-E-8, issue 14): CCAI Platform allows 10
//! requests a second per tenant and Kustomer a per-org budget a minute, across all clients —
//! so ten Lambda processes pacing themselves alone would send ten times the limit. A
//! [`SharedPacer`] spaces one platform's requests on one schedule kept in the state table
//! ([`crate::store::DocumentStore::reserve_slots`]): each request reserves the next slot
//! (one DynamoDB write while idle; under load a refused conditional write and an atomic
//! increment) and waits for it. A 429 still backs off to the platform's reset time.

use crate::UnixMillis;
use crate::store::{ItemKey, StateStore, StoreError};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// Something that makes a request wait its turn.
#[async_trait]
pub trait Pacer: Send + Sync {
    /// Returns when the caller may send one request: `true`, or `false` when its turn leaves
    /// less than `needed` (the request's own time) before the deadline in force (findings 8,
    /// 9) and the request must not be sent. No slot is taken when even now would be too late.
    async fn pace(&self, needed: Duration) -> bool;
}

/// One platform's requests, spaced `interval` apart across every process.
pub struct SharedPacer {
    store: Arc<dyn StateStore>,
    key: ItemKey,
    interval: Duration,
}

impl SharedPacer {
    /// `requests` per `window` for the schedule called `name` (e.g. `ccai#acme.uc1…`).
    pub fn new(store: Arc<dyn StateStore>, name: &str, requests: u32, window: Duration) -> Self {
        Self {
            store,
            key: schedule_key(name),
            interval: window / requests.max(1),
        }
    }
}

/// The name of one platform's schedule (`ccai`, `kustomer`): one per platform and base URL, so
/// every function speaking to the same tenant or org shares it.
pub fn schedule_name(platform: &str, base_url: &str) -> String {
    format!("{platform}#{base_url}")
}

/// Where the schedule called `name` is kept.
fn schedule_key(name: &str) -> ItemKey {
    ItemKey::new("PACE", name)
}

/// The pacing lag (R-ADM-1's health page): how far ahead of `now` the schedule called `name`
/// is booked — what a request asking now would wait before its turn. Zero while idle.
pub async fn booked_ahead(
    store: &dyn StateStore,
    name: &str,
    now: UnixMillis,
) -> Result<Duration, StoreError> {
    Ok(store
        .schedule_end(&schedule_key(name))
        .await?
        .map_or(Duration::ZERO, |end| now.until(end)))
}

/// How late a request may leave after its slot: a slot missed by more (the table answered
/// slowly) is given up and a new one taken, so arrivals stay within their slots' spacing.
const SLACK: Duration = Duration::from_millis(40);

/// The longest a request queues for its turn when no invocation deadline is in force (review
/// S3): a burst cannot book the schedule minutes ahead for everyone after it.
pub const MAX_QUEUE: Duration = Duration::from_secs(20);

#[async_trait]
impl Pacer for SharedPacer {
    async fn pace(&self, needed: Duration) -> bool {
        if !crate::deadline::allows(needed) {
            return false;
        }
        for _ in 0..3 {
            let now = UnixMillis::now();
            // The latest turn worth taking: one that still leaves `needed` before the
            // invocation's deadline, and never more than MAX_QUEUE ahead. A later one is not
            // reserved at all (review S3): nobody waits for a turn nobody can use.
            let bound = crate::deadline::remaining()
                .map_or(MAX_QUEUE, |left| left.saturating_sub(needed).min(MAX_QUEUE));
            let not_after = now.plus(bound);
            match self
                .store
                .reserve_slots(&self.key, now, self.interval, not_after)
                .await
            {
                Ok(Some(start)) => {
                    // Measured after the reservation: the table's own latency is not added.
                    let now = UnixMillis::now();
                    if start >= now {
                        crate::metrics::count("PacingWaits", 1);
                        let wait = now.until(start);
                        if !crate::deadline::allows(wait + needed) {
                            tracing::warn!("pacing slot beyond the invocation's deadline");
                            return false;
                        }
                        tokio::time::sleep(wait).await;
                        return true;
                    }
                    if start.until(now) <= SLACK {
                        return true;
                    }
                }
                Ok(None) => {
                    crate::metrics::count("PacingRefusals", 1);
                    tracing::warn!(
                        "the platform's schedule is full beyond what this request can wait; not sent"
                    );
                    return false;
                }
                // The table is out of reach: the request goes unpaced rather than not at all
                // (a 429 is still waited out); the next one tries the schedule again.
                Err(err) => {
                    tracing::warn!(error = %err, "shared pacing unavailable; request not paced");
                    return true;
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::EmbeddedStore;

    /// Review gap of finding 8: a request that could not be sent before the deadline takes no
    /// slot (every other process would wait for a turn nobody uses); one that can, does.
    #[tokio::test]
    async fn finding_8_a_request_too_late_to_send_takes_no_slot() {
        let store: Arc<dyn StateStore> = Arc::new(EmbeddedStore::new());
        let pacer = SharedPacer::new(store.clone(), "kustomer#test", 1, Duration::from_secs(60));
        let schedule = ItemKey::new("PACE", "kustomer#test");
        let soon = UnixMillis::now().plus(Duration::from_secs(5));
        let refused = crate::deadline::within(Some(soon), pacer.pace(Duration::from_secs(12)));
        assert!(!refused.await, "12 s needed, 5 s left");
        assert!(
            store
                .get(&schedule, UnixMillis::now())
                .await
                .unwrap()
                .is_none(),
            "no slot reserved"
        );
        let sent = crate::deadline::within(Some(soon), pacer.pace(Duration::from_secs(1)));
        assert!(sent.await, "1 s needed, 5 s left, the first slot is now");
        assert!(
            store
                .get(&schedule, UnixMillis::now())
                .await
                .unwrap()
                .is_some()
        );
        // The next slot is a minute away: not waited for with 5 s left.
        let later = crate::deadline::within(Some(soon), pacer.pace(Duration::from_secs(1)));
        assert!(!later.await);
    }

    /// Review S3 (R-SEC-3): the pacer never queues a request beyond what its invocation can
    /// wait, nor more than `MAX_QUEUE` without a deadline — and a refused request books no
    /// slot, so a burst cannot push everyone after it minutes into the future.
    #[tokio::test]
    async fn s3_r_sec_3_a_booked_schedule_refuses_without_booking_further() {
        let store: Arc<dyn StateStore> = Arc::new(EmbeddedStore::new());
        let pacer = SharedPacer::new(store.clone(), "kustomer#s3", 1, Duration::from_secs(30));
        let schedule = ItemKey::new("PACE", "kustomer#s3");
        let booked_until = || async {
            store
                .get(&schedule, UnixMillis::now())
                .await
                .unwrap()
                .unwrap()
                .body["pace_next_ms"]
                .as_i64()
                .unwrap()
        };
        // The first request goes at once and books the next 30 s.
        assert!(pacer.pace(Duration::from_secs(1)).await);
        let end = booked_until().await;
        // Without a deadline: 30 s ahead is beyond MAX_QUEUE (20 s): refused, nothing booked.
        assert!(!pacer.pace(Duration::from_secs(1)).await);
        assert_eq!(booked_until().await, end, "a refusal books nothing");
        // Within an invocation that ends in 10 s: refused too, nothing booked.
        let soon = UnixMillis::now().plus(Duration::from_secs(10));
        assert!(!crate::deadline::within(Some(soon), pacer.pace(Duration::from_secs(1))).await);
        assert_eq!(booked_until().await, end);
        // A 503 tells the caller when to come back.
        let answer = crate::lambda::busy(5, "booked");
        assert_eq!(answer.status(), 503);
        assert_eq!(answer.headers()["retry-after"], "5");
    }
}
