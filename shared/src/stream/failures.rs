//! What becomes of a trigger whose work failed (R-E-7, issue 14): nothing is silently lost.
//!
//! - A **permanent** error (a platform's 4xx other than 408/409/429, data that cannot be
//!   placed) is not retried: the work becomes a **dead letter** at once.
//! - A **transient** one (timeouts, 429, 5xx, a claim or lock held elsewhere) is first retried
//!   by Lambda (the record is reported failed) while it is young — a few attempts within a
//!   couple of minutes, fewer than the event source mapping's `MaximumRetryAttempts` — then
//!   handed to the scheduled run: the record is let go and a `RETRY` item remembers the work;
//!   each run puts the trigger back into the inbox when it is due, with backoff and jitter over
//!   minutes, until it succeeds or a day has passed — then it is a dead letter too.
//! - A **dead letter** holds the work itself — the session, the step, the trigger, the reason,
//!   the attempts, the first and last error — in the table (`DEAD` partition), listed by
//!   `GET /admin/dead-letters` and replayed by `POST /admin/dead-letters/replay`. The SQS
//!   on-failure destination stays the last resort for records no trigger can be read from.

use super::RecordOutcome;
use crate::UnixMillis;
use crate::events::{SessionTrigger, inbox_item};
use crate::retry::Retryable;
use crate::store::{Item, ItemKey, StateStore, StoreError};
use serde::{Deserialize, Serialize};
use std::fmt::Display;
use std::time::Duration;

pub const RETRY_PARTITION: &str = "RETRY";
pub const DEAD_PARTITION: &str = "DEAD";
/// How long a dead letter is kept for a replay.
pub const DEAD_LETTER_KEPT: Duration = Duration::from_secs(30 * 24 * 3600);

/// How failures are retried (per worker; tests scale it down).
#[derive(Clone, Debug)]
pub struct FailurePlan {
    /// Lambda retries a transient failure this many times at most, while it is young.
    pub quick_attempts: u32,
    pub quick_window: Duration,
    /// The scheduled retries: first after `base`, doubling up to `max`, with jitter.
    pub base: Duration,
    pub max: Duration,
    /// Given up (a dead letter) this long after the first failure.
    pub give_up_after: Duration,
    /// How long each trigger's audit entry is kept (`AUDIT_DAYS`, [`crate::audit`]).
    pub audit_kept: Duration,
}

impl Default for FailurePlan {
    fn default() -> Self {
        Self {
            // The template's MaximumRetryAttempts is 5: hand over before Lambda gives up.
            quick_attempts: 3,
            quick_window: Duration::from_secs(120),
            base: Duration::from_secs(60),
            max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(24 * 3600),
            audit_kept: crate::audit::DEFAULT_KEPT,
        }
    }
}

impl FailurePlan {
    /// For a queue-fed worker (`bridge-recording`, `bridge-transcript`): no quick retries by
    /// redelivery. A failed SQS message comes back only after its visibility timeout, sized to
    /// six times the function's timeout (30 minutes, as AWS asks: Lambda Developer Guide,
    /// "Configuring an Amazon SQS queue to trigger a Lambda function"), so every transient
    /// failure goes at once to the scheduled retries (from a minute, doubling) and the message
    /// is done; redelivery is left to crashes and timeouts.
    pub fn queued() -> Self {
        Self {
            quick_attempts: 0,
            ..Self::default()
        }
    }
}

/// A worker's failures, kept in its state store.
pub struct FailurePolicy<'a> {
    pub store: &'a dyn StateStore,
    /// The function (`bridge-sync`, `bridge-recording`, …): the step a dead letter names.
    pub step: &'static str,
    pub plan: &'a FailurePlan,
}

/// The record of one trigger's failures in one step (`RETRY/<step>#<trigger id>`), and, once
/// given up, its dead letter (`DEAD/<step>#<trigger id>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedWork {
    pub id: String,
    pub step: String,
    pub trigger: SessionTrigger,
    pub attempts: u32,
    pub first_error: String,
    pub last_error: String,
    pub first_at: UnixMillis,
    pub last_at: UnixMillis,
    /// When the scheduled run puts the trigger back (slow retries only).
    #[serde(default)]
    pub next_at: Option<UnixMillis>,
    /// How often it was put back into the inbox.
    #[serde(default)]
    pub requeued: u32,
    pub permanent: bool,
}

/// The trigger a retry or a replay was made from (`retry-<n>-<step>/<id>`, `replay-<n>-<id>`;
/// retries before issue 27 named no step: `retry-<n>-<id>`).
pub fn original_id(trigger_id: &str) -> &str {
    for prefix in ["retry-", "replay-"] {
        if let Some(rest) = trigger_id.strip_prefix(prefix)
            && let Some((count, original)) = rest.split_once('-')
            && count.bytes().all(|b| b.is_ascii_digit())
        {
            let original = match original.split_once('/') {
                Some((step, id)) if step.starts_with("bridge-") => id,
                _ => original,
            };
            return original_id(original);
        }
    }
    trigger_id
}

fn key(partition: &str, step: &str, id: &str) -> ItemKey {
    ItemKey::new(partition, format!("{step}#{id}"))
}

fn malformed(key: &ItemKey, err: impl ToString) -> StoreError {
    StoreError::Malformed {
        key: key.to_string(),
        reason: err.to_string(),
    }
}

/// How long past its give-up time a retry record is kept (then its TTL removes it: a record
/// nothing will read again must not grow the partition the scheduled run reads whole).
const RETRY_KEPT_BEYOND: Duration = Duration::from_secs(24 * 3600);

async fn put_work(
    store: &dyn StateStore,
    key: ItemKey,
    work: &FailedWork,
    plan: &FailurePlan,
) -> Result<(), StoreError> {
    let body = serde_json::to_value(work).map_err(|e| malformed(&key, e))?;
    let until = work
        .first_at
        .plus(plan.give_up_after)
        .plus(RETRY_KEPT_BEYOND);
    store.put(&Item::new(key, body).expiring_at(until)).await
}

/// The backoff before scheduled retry number `attempt` (1-based), with jitter (±20 %).
fn backoff(plan: &FailurePlan, attempt: u32) -> Duration {
    let doubled = plan
        .base
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(16)))
        .min(plan.max);
    let jitter = 0.8 + rand::random::<f64>() * 0.4;
    doubled.mul_f64(jitter)
}

impl FailurePolicy<'_> {
    /// Decides what becomes of `trigger` after `error`: `Err(error text)` to fail the record
    /// (Lambda retries it soon), or a record outcome when the failure is kept (a scheduled
    /// retry, or a dead letter).
    pub async fn keep<E: Display + Retryable>(
        &self,
        trigger: &SessionTrigger,
        error: &E,
        now: UnixMillis,
    ) -> Result<RecordOutcome, String> {
        match self.record(trigger, error, now).await {
            Ok(Some(outcome)) => Ok(outcome),
            Ok(None) => Err(error.to_string()),
            // Keeping it failed: Lambda retries the record, nothing is lost.
            Err(store) => Err(format!("{error} (and keeping the failure failed: {store})")),
        }
    }

    async fn record<E: Display + Retryable>(
        &self,
        trigger: &SessionTrigger,
        error: &E,
        now: UnixMillis,
    ) -> Result<Option<RecordOutcome>, StoreError> {
        let original = original_id(&trigger.id).to_owned();
        let retry_key = key(RETRY_PARTITION, self.step, &original);
        let message = error.to_string();
        let mut work = match self.store.get(&retry_key, now).await? {
            Some(item) => serde_json::from_value::<FailedWork>(item.body)
                .map_err(|e| malformed(&retry_key, e))?,
            None => FailedWork {
                id: original.clone(),
                step: self.step.to_owned(),
                trigger: SessionTrigger {
                    id: original.clone(),
                    ..trigger.clone()
                },
                attempts: 0,
                first_error: message.clone(),
                last_error: message.clone(),
                first_at: now,
                last_at: now,
                next_at: None,
                requeued: 0,
                permanent: false,
            },
        };
        work.attempts += 1;
        work.last_error = message;
        work.last_at = now;
        work.permanent = !error.is_retryable();
        let age = Duration::from_millis(u64::try_from(now.0 - work.first_at.0).unwrap_or(0));
        if work.permanent || age >= self.plan.give_up_after {
            let dead = key(DEAD_PARTITION, self.step, &original);
            let body = serde_json::to_value(&work).map_err(|e| malformed(&dead, e))?;
            self.store
                .put(&Item::new(dead, body).expiring_at(now.plus(DEAD_LETTER_KEPT)))
                .await?;
            self.store.delete(&retry_key).await?;
            crate::metrics::count("DeadLettered", 1);
            tracing::warn!(
                step = self.step,
                trigger = %original,
                attempts = work.attempts,
                permanent = work.permanent,
                "work given up: a dead letter"
            );
            return Ok(Some(RecordOutcome::Skipped("kept as a dead letter".into())));
        }
        crate::metrics::count("Retried", 1);
        let young = work.attempts <= self.plan.quick_attempts && age < self.plan.quick_window;
        let slow = !young;
        // A young failure is Lambda's to retry; should Lambda stop first (a timeout or a crash
        // on every attempt, its retry limit), the scheduled run takes it over once the quick
        // window is past, so the work is never stranded (review finding 5).
        work.next_at = Some(if slow {
            now.plus(backoff(self.plan, work.attempts))
        } else {
            work.first_at.plus(self.plan.quick_window)
        });
        put_work(self.store, retry_key, &work, self.plan).await?;
        Ok(slow.then(|| RecordOutcome::Skipped("retried later by the scheduled run".into())))
    }

    /// After a trigger's work succeeded: its retry record, if an earlier attempt left one, is
    /// done — also when Lambda's own retry of the original record succeeded (review finding
    /// 5: such records were never deleted). One delete per success.
    pub async fn succeeded(&self, trigger: &SessionTrigger) -> Result<(), StoreError> {
        self.store
            .delete(&key(RETRY_PARTITION, self.step, original_id(&trigger.id)))
            .await
    }
}

/// What one scheduled pass over the retries did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RetrySummary {
    pub waiting: usize,
    pub requeued: usize,
    /// The inbox triggers stored (`retry-<n>-<trigger id>`).
    pub triggers: Vec<String>,
}

/// The scheduled run: every slow retry that is due goes back into the inbox (a new inbox item,
/// `retry-<n>-<id>`, which the stream delivers to the workers again).
pub async fn requeue_due(
    store: &dyn StateStore,
    now: UnixMillis,
) -> Result<RetrySummary, StoreError> {
    let mut summary = RetrySummary::default();
    for item in store.list_partition(RETRY_PARTITION, now).await? {
        let Ok(mut work) = serde_json::from_value::<FailedWork>(item.body) else {
            continue;
        };
        // Records written before quick failures had a time are due after the quick window.
        let next_at = work
            .next_at
            .unwrap_or_else(|| work.last_at.plus(FailurePlan::default().quick_window));
        summary.waiting += 1;
        if next_at > now {
            continue;
        }
        work.requeued += 1;
        // The step is in the id: two steps' retries of one trigger (the inbox worker's and a
        // file worker's, say) are two inbox items, neither written over by the other.
        let trigger = SessionTrigger {
            id: format!("retry-{}-{}/{}", work.requeued, work.step, work.id),
            ..work.trigger.clone()
        };
        let inbox = inbox_item(&trigger, now).map_err(|e| malformed(&item.key, e))?;
        store.put_if_absent(&inbox, now).await?;
        summary.triggers.push(trigger.id);
        // Not due again until the retry itself failed (it sets the next time).
        work.next_at = Some(now.plus(Duration::from_secs(3600)));
        put_work(store, item.key.clone(), &work, &FailurePlan::default()).await?;
        summary.requeued += 1;
    }
    Ok(summary)
}

/// Every dead letter, newest first.
pub async fn dead_letters(
    store: &dyn StateStore,
    now: UnixMillis,
) -> Result<Vec<FailedWork>, StoreError> {
    let mut letters: Vec<FailedWork> = store
        .list_partition(DEAD_PARTITION, now)
        .await?
        .into_iter()
        .filter_map(|item| serde_json::from_value(item.body).ok())
        .collect();
    letters.sort_by_key(|l| std::cmp::Reverse(l.last_at));
    Ok(letters)
}

/// What a replay did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Replayed {
    /// `<step>#<trigger id>` of each dead letter put back into the inbox.
    pub replayed: Vec<String>,
    /// The inbox triggers the replays were stored as (`replay-<ms>-<trigger id>`).
    pub triggers: Vec<String>,
    /// Asked for, but no such dead letter (never was, or replayed already).
    pub missing: Vec<String>,
}

/// Puts dead letters back into the inbox (`ids`: `<step>#<trigger id>`; `None`: all), each
/// once: the letter is removed when its replay is stored. The work is level-triggered and
/// idempotent, so a replay applies what is missing, once.
pub async fn replay(
    store: &dyn StateStore,
    ids: Option<&[String]>,
    now: UnixMillis,
) -> Result<Replayed, StoreError> {
    let letters = store.list_partition(DEAD_PARTITION, now).await?;
    let mut result = Replayed::default();
    let wanted = |sk: &str| ids.is_none_or(|ids| ids.iter().any(|id| id == sk));
    for item in &letters {
        if !wanted(&item.key.sk) {
            continue;
        }
        let work: FailedWork =
            serde_json::from_value(item.body.clone()).map_err(|e| malformed(&item.key, e))?;
        let trigger = SessionTrigger {
            id: format!("replay-{}-{}", now.0, work.id),
            ..work.trigger.clone()
        };
        let inbox = inbox_item(&trigger, now).map_err(|e| malformed(&item.key, e))?;
        // Stored (or already there from an interrupted replay): the letter is done.
        store.put_if_absent(&inbox, now).await?;
        store.delete(&item.key).await?;
        result.replayed.push(item.key.sk.clone());
        result.triggers.push(trigger.id);
    }
    if let Some(ids) = ids {
        result.missing = ids
            .iter()
            .filter(|id| !result.replayed.contains(id))
            .cloned()
            .collect();
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::DocumentStore;

    #[test]
    fn retries_and_replays_name_their_original_trigger() {
        assert_eq!(original_id("ese-41"), "ese-41");
        assert_eq!(original_id("retry-3-ese-41"), "ese-41");
        assert_eq!(original_id("replay-1790000000000-retry-2-ese-41"), "ese-41");
        assert_eq!(original_id("retry-x-ese-41"), "retry-x-ese-41");
        assert_eq!(original_id("retry-2-bridge-recording/ese-41"), "ese-41");
        assert_eq!(
            original_id("replay-1790000000000-retry-1-bridge-sync/ese-41"),
            "ese-41"
        );
    }

    #[test]
    fn scheduled_retries_back_off_to_the_maximum_with_jitter() {
        let plan = FailurePlan::default();
        let first = backoff(&plan, 1);
        assert!(first >= Duration::from_secs(48) && first <= Duration::from_secs(72));
        let late = backoff(&plan, 20);
        assert!(late <= Duration::from_secs(4320) && late >= Duration::from_secs(2880));
    }

    #[derive(Debug)]
    struct Busy;
    impl std::fmt::Display for Busy {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("lock held elsewhere")
        }
    }
    impl Retryable for Busy {
        fn is_retryable(&self) -> bool {
            true
        }
    }

    fn trigger() -> SessionTrigger {
        SessionTrigger {
            id: "ese-77".into(),
            hint: "call.ended".into(),
            occurred_at: chrono::Utc::now(),
            session: crate::events::SessionRef {
                kind: crate::events::SessionKind::Call,
                id: 77,
            },
            source: crate::events::TriggerSource::Ese,
            item: None,
            object: None,
        }
    }

    fn sync_policy<'a>(store: &'a dyn StateStore, plan: &'a FailurePlan) -> FailurePolicy<'a> {
        FailurePolicy {
            store,
            step: "bridge-sync",
            plan,
        }
    }

    #[tokio::test]
    async fn finding_5_r_e_7_a_quick_failure_that_succeeds_on_lambdas_retry_leaves_nothing() {
        let store = crate::store::EmbeddedStore::new();
        let plan = FailurePlan::default();
        let policy = sync_policy(&store, &plan);
        let now = UnixMillis(1_800_000_000_000);
        assert!(
            policy.keep(&trigger(), &Busy, now).await.is_err(),
            "Lambda retries it"
        );
        assert_eq!(
            store
                .list_partition(RETRY_PARTITION, now)
                .await
                .unwrap()
                .len(),
            1
        );
        // Lambda's retry of the same record succeeds.
        policy.succeeded(&trigger()).await.unwrap();
        assert!(
            store
                .list_partition(RETRY_PARTITION, now)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn finding_5_r_e_7_a_quick_failure_lambda_stopped_retrying_is_requeued() {
        let store = crate::store::EmbeddedStore::new();
        let plan = FailurePlan::default();
        let policy = sync_policy(&store, &plan);
        let now = UnixMillis(1_800_000_000_000);
        assert!(policy.keep(&trigger(), &Busy, now).await.is_err());
        // Every later attempt timed out (no `keep`), and Lambda gave up on the record.
        let early = requeue_due(&store, now.plus(Duration::from_secs(60)))
            .await
            .unwrap();
        assert!(early.triggers.is_empty(), "still Lambda's to retry");
        let due = requeue_due(&store, now.plus(plan.quick_window))
            .await
            .unwrap();
        assert_eq!(due.triggers, ["retry-1-bridge-sync/ese-77"]);
        // The record is not kept for ever.
        let kept = store
            .get(&key(RETRY_PARTITION, "bridge-sync", "ese-77"), now)
            .await
            .unwrap()
            .unwrap();
        assert!(
            kept.expires_at
                .is_some_and(|at| at <= now.plus(plan.give_up_after).plus(RETRY_KEPT_BEYOND))
        );
    }

    /// Review of issue 27: the inbox worker and a file worker both failed on one trigger; the
    /// scheduled run puts back one inbox item for each (one id for both let the second be
    /// dropped and its retry wait another hour).
    #[tokio::test]
    async fn two_steps_retries_of_one_trigger_are_two_inbox_items() {
        let store = crate::store::EmbeddedStore::new();
        let plan = FailurePlan::queued();
        let now = UnixMillis(1_800_000_000_000);
        for step in ["bridge-sync", "bridge-recording"] {
            let policy = FailurePolicy {
                store: &store,
                step,
                plan: &plan,
            };
            assert!(policy.keep(&trigger(), &Busy, now).await.is_ok(), "{step}");
        }
        let due = requeue_due(&store, now.plus(plan.max)).await.unwrap();
        let mut triggers = due.triggers.clone();
        triggers.sort();
        assert_eq!(
            triggers,
            [
                "retry-1-bridge-recording/ese-77",
                "retry-1-bridge-sync/ese-77"
            ]
        );
        for id in &triggers {
            assert!(
                store
                    .get(&crate::store::ItemKey::inbox(id), now)
                    .await
                    .unwrap()
                    .is_some(),
                "{id} is in the inbox"
            );
        }
    }
}
