//! What reaches the workers: a trigger that names a session which may have changed
//! (architecture.md, "Level-triggered, not edge-triggered"). CCAI's External Session Events
//! ([`crate::ese`]) and the session poller both become triggers, stored once each in the inbox
//! (`EVENT#<id>` / `INBOX`); the table's stream hands them to the workers, which reconcile the
//! whole session from its truth rather than act on one trigger.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionKind {
    Call,
    Chat,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Call => "call",
            SessionKind::Chat => "chat",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionRef {
    pub kind: SessionKind,
    pub id: u64,
}

/// Who noticed the change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TriggerSource {
    /// CCAI Platform pushed an External Session Event.
    Ese,
    /// The session poller saw the session listed as updated (R-E-4), or the scheduled look
    /// for a file the session waits for (R-E-6).
    Poller,
    /// A file of the session landed in external storage (the bucket's push, R-E-6).
    Storage,
}

/// "Session S may have changed", as stored in the inbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionTrigger {
    /// The ESE `event_id`, or the poller's `poll-<kind>-<id>-<updated_at ms>`.
    pub id: String,
    /// A hint only (`call.created`, `call.assigned`, `call.ended`, …): the stage the source saw.
    /// The inbox worker hands file work to the file queues by it (`bridge_shared::queue`); no
    /// session's state is decided on it.
    #[serde(rename = "type")]
    pub hint: String,
    /// When the source saw the change (ESE `timestamp`, the session's `updated_at`).
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub session: SessionRef,
    pub source: TriggerSource,
    /// The session as the ESE carried it (`item`); the worker keeps the latest per session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<Map<String, Value>>,
    /// The object a storage push named (below the configured prefix): the worker opens this
    /// key, wherever it is (ccai-api.md §3, 2026-12-03; review finding 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
}

/// The hints the stream filters select on (template.yaml): a session's stage (`call.ended`), a
/// scheduled look for one data type (`call.look.metadata`), or a pushed file of one data type
/// (`call.file.recordings`). A look or a push reaches only the worker that reads that type, so
/// a missing metadata file never wakes the file workers (review finding 10).
pub mod hints {
    use super::SessionKind;

    /// The data types only the file workers read: their looks and pushes skip the inbox worker.
    pub const FILE_WORKER_TYPES: [&str; 3] = ["recordings", "transcripts", "media"];

    pub fn ended(kind: SessionKind) -> String {
        format!("{}.ended", kind.as_str())
    }

    /// An admin's dry run of a resync: only the inbox worker reads it.
    pub fn preview(kind: SessionKind) -> String {
        format!("{}.preview", kind.as_str())
    }

    /// Whether the hint is a resync's dry run.
    pub fn is_preview(hint: &str) -> bool {
        hint.split_once('.')
            .is_some_and(|(_, rest)| rest == "preview")
    }

    /// The scheduled look for a file of `data` type (`recordings`, `transcripts`, `metadata`).
    pub fn look(kind: SessionKind, data: &str) -> String {
        format!("{}.look.{data}", kind.as_str())
    }

    /// A pushed file of `data` type.
    pub fn file(kind: SessionKind, data: &str) -> String {
        format!("{}.file.{data}", kind.as_str())
    }

    /// The data type a look or a push hint names (`None` for a stage).
    pub fn data_type(hint: &str) -> Option<&str> {
        let (_, rest) = hint.split_once('.')?;
        rest.strip_prefix("look.")
            .or_else(|| rest.strip_prefix("file."))
    }

    /// Whether the hint is a scheduled look.
    pub fn is_look(hint: &str) -> bool {
        hint.split_once('.')
            .is_some_and(|(_, rest)| rest.starts_with("look."))
    }

    /// Whether a file worker acts on this hint for a session of `kind`: the session's end, or a
    /// look or push of a type it reads.
    pub fn for_file_worker(hint: &str, kind: SessionKind) -> bool {
        hint == ended(kind)
            || data_type(hint).is_some_and(|t| FILE_WORKER_TYPES.contains(&t))
                && hint.starts_with(kind.as_str())
    }

    /// Whether the inbox worker acts on this hint (everything but the file workers' own).
    pub fn for_sync_worker(hint: &str) -> bool {
        !data_type(hint).is_some_and(|t| FILE_WORKER_TYPES.contains(&t))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn finding_10_looks_and_pushes_reach_only_the_worker_that_reads_them() {
            let call = SessionKind::Call;
            assert!(for_file_worker("call.ended", call));
            assert!(for_file_worker(&look(call, "recordings"), call));
            assert!(for_file_worker(&file(call, "media"), call));
            assert!(!for_file_worker(&look(call, "metadata"), call));
            assert!(!for_file_worker("chat.ended", call));
            assert!(!for_file_worker(&preview(call), call));
            assert!(for_sync_worker(&preview(call)) && is_preview("call.preview"));
            assert!(!is_preview("call.ended"));
            assert!(!for_file_worker(
                &look(SessionKind::Chat, "transcripts"),
                call
            ));
            assert!(for_sync_worker("call.ended") && for_sync_worker("call.created"));
            assert!(for_sync_worker(&look(call, "metadata")));
            assert!(for_sync_worker(&file(call, "metadata")));
            assert!(!for_sync_worker(&look(call, "recordings")));
            assert!(!for_sync_worker(&file(SessionKind::Chat, "transcripts")));
            assert!(is_look("call.look.metadata") && !is_look("call.file.metadata"));
        }
    }
}

/// Why a body or an event is refused; `field` names what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct EventError {
    pub field: String,
    pub reason: String,
}

pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> EventError {
    EventError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// How long an inbox item dedupes (and then is cleaned up by TTL).
pub const INBOX_RETENTION: std::time::Duration = std::time::Duration::from_secs(14 * 24 * 3600);

/// The inbox item of a trigger received at `now` (by the intake, or made by the session
/// poller): the trigger, when it arrived, kept for [`INBOX_RETENTION`]. Its stream record is
/// what the workers receive.
pub fn inbox_item(
    trigger: &SessionTrigger,
    now: crate::UnixMillis,
) -> Result<crate::store::Item, serde_json::Error> {
    let mut stored = serde_json::to_value(trigger)?;
    stored["received_at"] = serde_json::json!(now.0);
    Ok(
        crate::store::Item::new(crate::store::ItemKey::inbox(&trigger.id), stored)
            .expiring_at(now.plus(INBOX_RETENTION)),
    )
}
