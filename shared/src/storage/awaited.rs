//! Files a session is waiting for (R-E-6): a file worker that finds no recording or transcript
//! in external storage yet records the wait; every scheduled run looks again — one new inbox
//! trigger per due wait, so the file worker runs again through the same path — with a growing
//! interval, until the file is there or the deadline passes. Only then is "no file" final, and
//! recorded with its reason. Nothing runs while idle beyond the existing schedule.
//!
//! Items: `AWAITING` / `<kind>#<id>#<file>` {since, attempt, next_at, kind, id, file}, removed
//! when the file is found or the wait ends. The partition holds the sessions whose files are
//! late — a few hundred at most in a busy hour — and is read whole by the scheduled run.

use crate::UnixMillis;
use crate::events::{SessionRef, SessionTrigger, TriggerSource, inbox_item};
use crate::store::{DocumentStore, Item, ItemKey, PutOutcome, StateStore, StoreError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const PARTITION: &str = "AWAITING";
/// The longest interval between two looks.
const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// Which file a session waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AwaitedFile {
    Recording,
    Transcript,
    /// The session metadata file (written ~15 minutes after the end).
    Metadata,
}

impl AwaitedFile {
    /// The data type it is (`EXTERNAL_STORAGE_FILES`).
    pub fn data_type(self) -> super::DataType {
        match self {
            AwaitedFile::Recording => super::DataType::Recordings,
            AwaitedFile::Transcript => super::DataType::Transcripts,
            AwaitedFile::Metadata => super::DataType::Metadata,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AwaitedFile::Recording => "recording",
            AwaitedFile::Transcript => "transcript",
            AwaitedFile::Metadata => "metadata",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Wait {
    pub session: SessionRef,
    pub file: AwaitedFile,
    /// When the file was first missed (the deadline counts from here).
    pub since: i64,
    pub attempt: u32,
    pub next_at: i64,
    /// A file found already, watched for a rewrite until then (ms): the wait then ends
    /// quietly, not as "no file" (review L5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite_until: Option<i64>,
}

/// Where a session's file records its progress (`SESSION#<kind>#<id>/RECORDING`, …), and a wait
/// that ended its final outcome.
pub fn progress_key(session: &SessionRef, file: AwaitedFile) -> ItemKey {
    ItemKey::new(
        format!("SESSION#{}#{}", session.kind.as_str(), session.id),
        file.as_str().to_uppercase(),
    )
}

fn key(session: &SessionRef, file: AwaitedFile) -> ItemKey {
    ItemKey::new(
        PARTITION,
        format!("{}#{}#{}", session.kind.as_str(), session.id, file.as_str()),
    )
}

fn malformed(key: &ItemKey, err: impl ToString) -> StoreError {
    StoreError::Malformed {
        key: key.to_string(),
        reason: err.to_string(),
    }
}

/// Records that `session` waits for `file` (looked for again at the next scheduled run); a
/// wait already recorded is kept as it is (its deadline counts from the first miss).
pub async fn await_file(
    store: &dyn StateStore,
    session: &SessionRef,
    file: AwaitedFile,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let wait = Wait {
        session: session.clone(),
        file,
        since: now.0,
        attempt: 0,
        next_at: now.0,
        rewrite_until: None,
    };
    let key = key(session, file);
    let body = serde_json::to_value(&wait).map_err(|e| malformed(&key, e))?;
    match store.put_if_absent(&Item::new(key, body), now).await? {
        PutOutcome::Written | PutOutcome::Kept(_) => Ok(()),
    }
}

/// A file that was found is looked at again for a while, for a rewrite (a new generation)
/// that no push announces: the metadata file is rewritten when the survey's answer comes
/// (ccai-api.md §3). Looks start after `first_look`; the watch ends quietly at `until`.
pub async fn watch_for_rewrite(
    store: &dyn StateStore,
    session: &SessionRef,
    file: AwaitedFile,
    first_look: Duration,
    until: UnixMillis,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let key = key(session, file);
    if let Some(existing) = store.get(&key, now).await?
        && existing.body.get("rewrite_until").is_some()
    {
        return Ok(());
    }
    let wait = Wait {
        session: session.clone(),
        file,
        since: now.0,
        attempt: 0,
        next_at: now.plus(first_look).0,
        rewrite_until: Some(until.0),
    };
    let body = serde_json::to_value(&wait).map_err(|e| malformed(&key, e))?;
    store.put(&Item::new(key, body)).await
}

/// Whether `session` is waiting for `file` (how a push of `metadata-{id}.json`, whose name does
/// not say call or chat, finds its session).
pub async fn is_awaited(
    store: &dyn DocumentStore,
    session: &SessionRef,
    file: AwaitedFile,
    now: UnixMillis,
) -> Result<bool, StoreError> {
    Ok(store
        .get(&key(session, file), now)
        .await?
        .is_some_and(|wait| wait.body.get("rewrite_until").is_none_or(|v| v.is_null())))
}

/// The file arrived (or the wait is over): nothing more to look for.
pub async fn file_found(
    store: &dyn StateStore,
    session: &SessionRef,
    file: AwaitedFile,
) -> Result<(), StoreError> {
    store.delete(&key(session, file)).await
}

/// What a scheduled look did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LookSummary {
    /// Sessions still waiting for a file.
    pub waiting: usize,
    /// Looks triggered now (each an inbox trigger to the file worker).
    pub looked: usize,
    /// Waits ended at the deadline: "no file" is final for them.
    pub given_up: Vec<String>,
}

/// The interval before look number `attempt` (0-based): `base`, doubling, at most an hour.
pub fn interval(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(2u32.saturating_pow(attempt.min(16)))
        .min(MAX_INTERVAL)
}

/// The scheduled look: for each due wait, a new trigger for the worker that reads the file
/// (hinted `<kind>.look.<data type>`, id `look-<kind>-<id>-<file>-<attempt>`), the next look
/// scheduled; a wait
/// past `deadline` ends, recorded at `SESSION#…/<RECORDING|TRANSCRIPT>` as final with its reason
/// and on the session's timeline (R-ADM-2: files given up and why), kept `audit_kept`.
pub async fn look_for_files(
    store: &dyn StateStore,
    base: Duration,
    deadline: Duration,
    audit_kept: Duration,
    now: UnixMillis,
) -> Result<LookSummary, StoreError> {
    let mut summary = LookSummary::default();
    for item in store.list_partition(PARTITION, now).await? {
        let mut wait: Wait =
            serde_json::from_value(item.body.clone()).map_err(|e| malformed(&item.key, e))?;
        if wait.rewrite_until.is_some_and(|until| now.0 > until) {
            store.delete(&item.key).await?;
            continue;
        }
        summary.waiting += 1;
        if wait.next_at > now.0 {
            continue;
        }
        let name = format!(
            "{} of {} {}",
            wait.file.as_str(),
            wait.session.kind.as_str(),
            wait.session.id
        );
        if wait.rewrite_until.is_none() && now.0 - wait.since > deadline.as_millis() as i64 {
            let progress = progress_key(&wait.session, wait.file);
            let reason = format!(
                "no {} in external storage {} hours after the session ended",
                wait.file.as_str(),
                deadline.as_secs() / 3600
            );
            // On the timeline first, once (dated by the deadline, whichever run gets there): a
            // failed entry leaves the wait to the next run.
            let at = UnixMillis(wait.since).plus(deadline);
            give_up_on_timeline(store, &wait, &reason, (at, now), audit_kept).await?;
            store
                .put(&Item::new(
                    progress,
                    serde_json::json!({"final": reason, "at": now.to_iso()}),
                ))
                .await?;
            store.delete(&item.key).await?;
            tracing::warn!(file = %name, "file never arrived; giving up");
            summary.given_up.push(name);
            continue;
        }
        // A rewrite watch's looks have ids of their own: the first wait's were used already
        // (inbox items and claims are remembered for days).
        let watch = if wait.rewrite_until.is_some() {
            "-rewrite"
        } else {
            ""
        };
        let trigger = look_trigger(&wait, &format!("{watch}-{}", wait.attempt), now);
        let inbox = inbox_item(&trigger, now).map_err(|e| malformed(&item.key, e))?;
        store.put_if_absent(&inbox, now).await?;
        // A watch for a rewrite looks less often: a handful of looks over its window.
        let every = if wait.rewrite_until.is_some() {
            base.saturating_mul(15)
        } else {
            base
        };
        wait.next_at = now.0 + interval(every, wait.attempt).as_millis() as i64;
        wait.attempt += 1;
        let body = serde_json::to_value(&wait).map_err(|e| malformed(&item.key, e))?;
        store.put(&Item::new(item.key.clone(), body)).await?;
        summary.looked += 1;
    }
    Ok(summary)
}

/// A trigger of the scheduled look for `wait`'s file: `look-<kind>-<id>-<file><tail>`.
fn look_trigger(wait: &Wait, tail: &str, now: UnixMillis) -> SessionTrigger {
    SessionTrigger {
        id: format!(
            "look-{}-{}-{}{tail}",
            wait.session.kind.as_str(),
            wait.session.id,
            wait.file.as_str()
        ),
        hint: crate::events::hints::look(wait.session.kind, wait.file.data_type().as_str()),
        occurred_at: chrono::DateTime::from_timestamp_millis(now.0).unwrap_or_default(),
        session: wait.session.clone(),
        source: TriggerSource::Poller,
        item: None,
        object: None,
    }
}

/// The worker the timeline names for a file given up: the scheduled run, not a file worker.
pub const LOOK_WORKER: &str = "bridge-reconcile";

/// Keeps the end of a wait on the session's timeline: no file worker runs for it, so the
/// scheduled look writes the entry itself (`look-<kind>-<id>-<file>-final`, outcome
/// `given up: <reason>`, no write).
async fn give_up_on_timeline(
    store: &dyn StateStore,
    wait: &Wait,
    reason: &str,
    (at, now): (UnixMillis, UnixMillis),
    kept_for: Duration,
) -> Result<(), StoreError> {
    let trigger = look_trigger(wait, "-final", now);
    crate::audit::keep_once(
        store,
        LOOK_WORKER,
        &trigger,
        format!("given up: {reason}"),
        at,
        now,
        kept_for,
    )
    .await
}

/// Whether a session's file wait ended as final ("no file"): its progress item says so.
pub fn is_final(progress: &serde_json::Value) -> Option<&str> {
    progress.get("final").and_then(serde_json::Value::as_str)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::events::SessionKind;
    use crate::store::EmbeddedStore;

    const MIN: Duration = Duration::from_secs(60);
    const DAY: Duration = Duration::from_secs(86_400);

    fn call() -> SessionRef {
        SessionRef {
            kind: SessionKind::Call,
            id: 1917,
        }
    }

    #[test]
    fn r_e_6_looks_grow_apart_up_to_an_hour() {
        assert_eq!(interval(MIN, 0), MIN);
        assert_eq!(interval(MIN, 3), 8 * MIN);
        assert_eq!(interval(MIN, 10), MAX_INTERVAL);
        assert_eq!(interval(MIN, u32::MAX), MAX_INTERVAL);
    }

    #[tokio::test]
    async fn r_e_6_a_missing_file_is_looked_for_until_found() {
        let store = EmbeddedStore::new();
        let t0 = UnixMillis(1_800_000_000_000);
        await_file(&store, &call(), AwaitedFile::Recording, t0)
            .await
            .unwrap();
        // A second miss does not restart the wait.
        await_file(&store, &call(), AwaitedFile::Recording, t0.plus(MIN))
            .await
            .unwrap();
        let first = look_for_files(&store, MIN, 24 * 60 * MIN, DAY, t0.plus(MIN))
            .await
            .unwrap();
        assert_eq!((first.waiting, first.looked), (1, 1));
        let trigger = store
            .get(&ItemKey::inbox("look-call-1917-recording-0"), t0.plus(MIN))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(trigger.body["type"], "call.look.recordings");
        // Not due again before its interval.
        let early = look_for_files(&store, MIN, 24 * 60 * MIN, DAY, t0.plus(MIN + MIN / 2))
            .await
            .unwrap();
        assert_eq!(early.looked, 0);
        let again = look_for_files(&store, MIN, 24 * 60 * MIN, DAY, t0.plus(2 * MIN))
            .await
            .unwrap();
        assert_eq!(again.looked, 1);
        file_found(&store, &call(), AwaitedFile::Recording)
            .await
            .unwrap();
        let done = look_for_files(&store, MIN, 24 * 60 * MIN, DAY, t0.plus(60 * MIN))
            .await
            .unwrap();
        assert_eq!(done, LookSummary::default());
    }

    #[tokio::test]
    async fn r_e_6_no_file_is_final_at_the_deadline_and_not_before() {
        let store = EmbeddedStore::new();
        let t0 = UnixMillis(1_800_000_000_000);
        let deadline = 24 * 60 * MIN;
        await_file(&store, &call(), AwaitedFile::Recording, t0)
            .await
            .unwrap();
        let before = look_for_files(&store, MIN, deadline, DAY, t0.plus(deadline))
            .await
            .unwrap();
        assert!(
            before.given_up.is_empty(),
            "exactly at the deadline it still looks"
        );
        let after = look_for_files(&store, MIN, deadline, DAY, t0.plus(deadline + MIN))
            .await
            .unwrap();
        assert_eq!(after.given_up, ["recording of call 1917"]);
        let progress = store
            .get(
                &ItemKey::new("SESSION#call#1917", "RECORDING"),
                t0.plus(deadline + MIN),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            is_final(&progress.body),
            Some("no recording in external storage 24 hours after the session ended")
        );
        assert_eq!(
            look_for_files(&store, MIN, deadline, DAY, t0.plus(deadline + 2 * MIN))
                .await
                .unwrap()
                .waiting,
            0
        );
    }

    #[tokio::test]
    async fn r_adm_2_a_file_given_up_is_on_the_sessions_timeline_with_its_reason() {
        let store = EmbeddedStore::new();
        let t0 = UnixMillis(1_800_000_000_000);
        let deadline = 24 * 60 * MIN;
        await_file(&store, &call(), AwaitedFile::Transcript, t0)
            .await
            .unwrap();
        let at = t0.plus(deadline + MIN);
        look_for_files(&store, MIN, deadline, DAY, at)
            .await
            .unwrap();
        let timeline: Vec<_> = store
            .list_partition("SESSION#call#1917", at)
            .await
            .unwrap()
            .into_iter()
            .filter(|item| item.key.sk.starts_with(crate::audit::PREFIX))
            .collect();
        assert_eq!(timeline.len(), 1, "{timeline:?}");
        let entry: crate::audit::Entry = serde_json::from_value(timeline[0].body.clone()).unwrap();
        assert_eq!(entry.worker, LOOK_WORKER);
        assert_eq!(entry.trigger, "look-call-1917-transcript-final");
        assert_eq!(
            entry.outcome,
            "given up: no transcript in external storage 24 hours after the session ended"
        );
        assert!(entry.writes.is_empty());
        // A run retried after the entry was kept (the wait still there) keeps no second one.
        await_file(&store, &call(), AwaitedFile::Transcript, t0)
            .await
            .unwrap();
        look_for_files(&store, MIN, deadline, DAY, at.plus(MIN))
            .await
            .unwrap();
        let entries = store
            .list_partition("SESSION#call#1917", at)
            .await
            .unwrap()
            .into_iter()
            .filter(|item| item.key.sk.starts_with(crate::audit::PREFIX))
            .count();
        assert_eq!(entries, 1, "given up once on the timeline");
        // Kept as long as the rest of the audit, not for ever.
        assert!(
            store
                .list_partition("SESSION#call#1917", at.plus(DAY + MIN))
                .await
                .unwrap()
                .iter()
                .all(|item| !item.key.sk.starts_with(crate::audit::PREFIX))
        );
    }
}
