//! The invocation's deadline, known to everything a stream batch runs (review finding 8): a
//! record is not started, a rate limit not waited out and a pacing slot not waited for when
//! the time left could not cover it — the work is reported failed before Lambda times the
//! whole batch out (which would skip the failure policy, and bisect and retry blind).
//!
//! Kept task-local, like the rate-wait switch (`kustomer::without_rate_waits`): the batch
//! handler sets it once, the clients deep below read it, nothing threads it through.

use crate::UnixMillis;
use std::future::Future;
use std::time::Duration;

tokio::task_local! {
    static DEADLINE: UnixMillis;
}

/// Runs `work` with `deadline` (none: no limit, as in tests and the local host by default);
/// inside another deadline, the earlier of the two holds.
pub async fn within<F: Future>(deadline: Option<UnixMillis>, work: F) -> F::Output {
    let outer = DEADLINE.try_with(|at| *at).ok();
    match (deadline, outer) {
        (Some(at), Some(outer)) => DEADLINE.scope(at.min(outer), work).await,
        (Some(at), None) => DEADLINE.scope(at, work).await,
        (None, _) => work.await,
    }
}

/// Time left before the deadline (`None` without one).
pub fn remaining() -> Option<Duration> {
    DEADLINE.try_with(|at| UnixMillis::now().until(*at)).ok()
}

/// Whether `needed` still fits before the deadline (always, without one).
pub fn allows(needed: Duration) -> bool {
    remaining().is_none_or(|left| left > needed)
}

/// Lambda's context deadline (epoch ms) as a time.
pub fn from_context(deadline_ms: u64) -> Option<UnixMillis> {
    i64::try_from(deadline_ms)
        .ok()
        .filter(|ms| *ms > 0)
        .map(UnixMillis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn finding_8_the_deadline_is_seen_below_and_only_inside() {
        assert!(allows(Duration::from_secs(3600)), "no deadline: no limit");
        let soon = UnixMillis::now().plus(Duration::from_secs(5));
        within(Some(soon), async {
            assert!(allows(Duration::from_secs(1)));
            assert!(!allows(Duration::from_secs(20)));
            assert!(remaining().is_some_and(|r| r <= Duration::from_secs(5)));
        })
        .await;
        assert!(remaining().is_none());
    }
}
