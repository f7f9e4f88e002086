//! Work done once per key under an idempotency claim (after AWS Powertools' algorithm, see
//! `style.md`): claim, run, complete with the result; on failure release the claim so that the
//! retry runs the work again.

use super::{Claim, IdempotencyStatus, IdempotencyStore, StoreError};
use crate::UnixMillis;
use std::future::Future;
use std::time::Duration;

/// How a keyed piece of work went.
#[derive(Debug, PartialEq, Eq)]
pub enum Once<T> {
    /// It ran now; its result.
    Ran(T),
    /// It had run before (completed).
    AlreadyDone,
    /// Another run holds the claim right now; retry later.
    InProgressElsewhere,
}

/// The time a claim is taken or completed at: the clock now, never earlier than the `now` a
/// caller passes. A batch's work is handed the batch's start, and a claim taken 90 s into
/// the batch with that start would expire 90 s early and let a second worker in (review
/// finding 8); a caller's later `now` (a test's simulated clock) still counts.
pub fn claim_time(now: UnixMillis) -> UnixMillis {
    now.max(UnixMillis::now())
}

/// Runs `work` unless `key` was completed before. `in_progress_for` bounds how long the claim
/// protects a run (the function's timeout); `keep_for` how long completion is remembered.
/// Claimed and completed at [`claim_time`].
pub async fn run_once<T, E, F, Fut>(
    store: &dyn IdempotencyStore,
    key: &str,
    now: UnixMillis,
    in_progress_for: Duration,
    keep_for: Duration,
    work: F,
) -> Result<Once<T>, E>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    T: serde::Serialize,
    E: From<StoreError>,
{
    let ticket = match store
        .claim(key, claim_time(now), in_progress_for, keep_for)
        .await?
    {
        Claim::Claimed(ticket) => ticket,
        Claim::Duplicate(record) if record.status == IdempotencyStatus::Completed => {
            return Ok(Once::AlreadyDone);
        }
        Claim::Duplicate(_) => return Ok(Once::InProgressElsewhere),
    };
    match work().await {
        Ok(result) => {
            let recorded = serde_json::to_value(&result).unwrap_or(serde_json::Value::Null);
            store
                .complete(&ticket, &recorded, claim_time(now), keep_for)
                .await?;
            Ok(Once::Ran(result))
        }
        Err(err) => {
            if let Err(release) = store.release(&ticket).await {
                tracing::warn!(error = %release, "claim not released; it expires on its own");
            }
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::EmbeddedStore;

    /// Review finding 8: work handed the batch's start time 90 s ago claims at the clock's
    /// time, so its 60 s claim still protects it from a second worker now.
    #[tokio::test]
    async fn finding_8_a_claim_taken_late_in_a_batch_is_not_born_expired() {
        let store = EmbeddedStore::new();
        let batch_start = UnixMillis(UnixMillis::now().0 - 90_000);
        let minute = Duration::from_secs(60);
        let gate = tokio::sync::Notify::new();
        let first = run_once(
            &store,
            "transcript#1",
            batch_start,
            minute,
            minute,
            || async {
                gate.notified().await;
                Ok::<_, StoreError>(())
            },
        );
        let second = async {
            tokio::task::yield_now().await;
            let again = run_once(
                &store,
                "transcript#1",
                UnixMillis::now(),
                minute,
                minute,
                || async { Ok::<_, StoreError>(()) },
            )
            .await
            .unwrap();
            gate.notify_one();
            again
        };
        let (first, second) = tokio::join!(first, second);
        assert_eq!(first.unwrap(), Once::Ran(()));
        assert_eq!(second, Once::InProgressElsewhere);
    }
}
