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
    /// The stream filters of the file workers select on it (template.yaml); nothing decides on it.
    #[serde(rename = "type")]
    pub hint: String,
    /// When the source saw the change (ESE `timestamp`, the session's `updated_at`).
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub session: SessionRef,
    pub source: TriggerSource,
    /// The session as the ESE carried it (`item`); the worker keeps the latest per session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<Map<String, Value>>,
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
