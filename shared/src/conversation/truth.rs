//! A session's truth — its Manager API object (R-E-5) — read once per change, not once per
//! trigger.
//!
//! The tenant allows 10 Manager API requests a second in all (ccai-api.md §1, H). Every
//! trigger of a session used to read it again: its ESE events in separate batches, the
//! poller's trigger for a change ESE already brought, the metadata file's push, and each of the
//! file workers' pushes and looks — about 15 reads a session, which capped a tenant near 2 000
//! sessions an hour (bench/RESULTS.md, issue 25). Now every read is kept
//! (`SESSION#<kind>#<id>/TRUTH`, versioned by the object's `updated_at`, so only a newer
//! object replaces it), and a trigger that cannot bring anything newer than the kept object is
//! served from it:
//!
//! - **A poll** names the version it listed (`updated_at`): a kept object of that version or
//!   newer is what a read would answer, or newer (ccai-api.md §2: the list and the object are
//!   the same record).
//! - **A file worker** (recordings, transcripts, media) reads only what an ended session no
//!   longer changes — who answered, voicemail, duration, start — and places the session from
//!   it: a kept object that shows the session over (an ended status and its end time) serves.
//! - **An ESE event, an admin's resync, the metadata file's push or look** say "something
//!   changed" without saying what, or come with what only a fresh object completes (a survey's
//!   answer moves the rating and `has_feedback` of the object as the file is rewritten): they
//!   always read.
//!
//! The kept object is written before any worker acts on it, so whatever a worker did was
//! decided from the kept object or an older one: a worker served from it never acts on an
//! older truth than one already acted on.

use super::session::SessionView;
use crate::UnixMillis;
use crate::ccai::model::{Call, Chat};
use crate::ccai::{CcaiClient, CcaiError};
use crate::events::{SessionKind, SessionRef, SessionTrigger, TriggerSource};
use crate::store::{Item, ItemKey, PutOutcome, StateStore, StoreError};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// How long a kept object is kept: as long as the sessions' other records (a file may land
/// days after its session ended).
const KEEP_FOR: Duration = Duration::from_secs(14 * 24 * 3600);

/// A session's truth: the Manager API object.
#[derive(Clone, Debug)]
pub enum Truth {
    Call(Arc<Call>),
    Chat(Arc<Chat>),
}

impl Truth {
    pub fn view(&self) -> SessionView {
        match self {
            Truth::Call(call) => SessionView::from(call.as_ref()),
            Truth::Chat(chat) => SessionView::from(chat.as_ref()),
        }
    }
}

/// What a trigger needs of the truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// A read now: the trigger says the session changed, not how.
    Fresh,
    /// The version the poller listed (`updated_at`, ms) or a newer one.
    AtLeast(u64),
    /// Any object that shows the session over: a file worker's need.
    Ended,
}

impl Need {
    /// What an inbox worker's trigger needs (see the module's comment).
    pub fn of(trigger: &SessionTrigger) -> Need {
        let original = crate::stream::failures::original_id(&trigger.id);
        if trigger.source == TriggerSource::Poller && original.starts_with("poll-") {
            Need::AtLeast(u64::try_from(trigger.occurred_at.timestamp_millis()).unwrap_or(0))
        } else {
            Need::Fresh
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TruthError {
    #[error("fetching the session from CCAI: {0}")]
    Ccai(#[from] CcaiError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn truth_key(session: &SessionRef) -> ItemKey {
    ItemKey::new(
        format!("SESSION#{}#{}", session.kind.as_str(), session.id),
        "TRUTH",
    )
}

/// The version of an object: its `updated_at` in ms; `None` without a readable one (such an
/// object is not kept: nothing could tell a newer one from it).
fn version_of(object: &Value) -> Option<u64> {
    let text = object.get("updated_at")?.as_str()?;
    u64::try_from(
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()?
            .timestamp_millis(),
    )
    .ok()
}

fn decode(kind: SessionKind, object: Value) -> Result<Truth, serde_json::Error> {
    Ok(match kind {
        SessionKind::Call => Truth::Call(Arc::new(serde_json::from_value(object)?)),
        SessionKind::Chat => Truth::Chat(Arc::new(serde_json::from_value(object)?)),
    })
}

/// Whether the kept object serves `need`.
fn serves(need: Need, version: u64, truth: &Truth) -> bool {
    match need {
        Need::Fresh => false,
        Need::AtLeast(listed) => version >= listed,
        Need::Ended => {
            let view = truth.view();
            view.ended && view.ended_at.is_some()
        }
    }
}

/// The kept object, when it serves `need`. A kept object that no longer decodes (an older
/// bridge's) is read again, not an error.
async fn kept(
    store: &dyn StateStore,
    session: &SessionRef,
    need: Need,
    now: UnixMillis,
) -> Result<Option<Truth>, StoreError> {
    if need == Need::Fresh {
        return Ok(None);
    }
    let Some(item) = store.get(&truth_key(session), now).await? else {
        return Ok(None);
    };
    let Some(object) = item.body.get("object").cloned() else {
        return Ok(None);
    };
    match decode(session.kind, object) {
        Ok(truth) if serves(need, item.version, &truth) => Ok(Some(truth)),
        Ok(_) => Ok(None),
        Err(err) => {
            tracing::warn!(error = %err, "a kept session object no longer decodes; read again");
            Ok(None)
        }
    }
}

/// Reads the session and keeps what it read (only a newer version replaces a kept one).
async fn read_and_keep(
    store: &dyn StateStore,
    ccai: &CcaiClient,
    session: &SessionRef,
    now: UnixMillis,
) -> Result<Truth, TruthError> {
    let object = match session.kind {
        SessionKind::Call => ccai.call_object(session.id).await?,
        SessionKind::Chat => ccai.chat_object(session.id).await?,
    };
    let truth = decode(session.kind, object.clone()).map_err(|err| CcaiError::Decode {
        operation: format!("get {}", session.kind.as_str()),
        message: err.to_string(),
    })?;
    if let Some(version) = version_of(&object) {
        let item = Item::new(truth_key(session), json!({ "object": object }))
            .with_version(version)
            .expiring_at(now.plus(KEEP_FOR));
        // Another read (or a lagging replica's answer) kept a newer version meanwhile: that one
        // is the truth, not this read.
        if let PutOutcome::Kept(newer) = store.put_if_newer(&item).await?
            && newer.version > version
            && let Some(kept) = newer.body.get("object").cloned()
            && let Ok(newer_truth) = decode(session.kind, kept)
        {
            return Ok(newer_truth);
        }
    }
    Ok(truth)
}

/// The session's truth for a trigger that needs `need`: the kept object when it serves,
/// else a read of the Manager API (kept for the next trigger).
pub async fn session_truth(
    store: &dyn StateStore,
    ccai: &CcaiClient,
    session: &SessionRef,
    need: Need,
    now: UnixMillis,
) -> Result<Truth, TruthError> {
    if let Some(truth) = kept(store, session, need, now).await? {
        tracing::debug!(?need, "session served from its kept object");
        return Ok(truth);
    }
    read_and_keep(store, ccai, session, now).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::SessionTrigger;

    fn trigger(id: &str, hint: &str, source: TriggerSource) -> SessionTrigger {
        SessionTrigger {
            id: id.into(),
            hint: hint.into(),
            occurred_at: chrono::DateTime::from_timestamp_millis(1_700_000_000_123)
                .unwrap_or_default(),
            session: SessionRef {
                kind: SessionKind::Call,
                id: 7,
            },
            source,
            item: None,
            object: None,
        }
    }

    #[test]
    fn r_e_5_only_a_trigger_that_cannot_bring_a_newer_object_is_served_from_the_kept_one() {
        assert_eq!(
            Need::of(&trigger("e1", "call.ended", TriggerSource::Ese)),
            Need::Fresh
        );
        assert_eq!(
            Need::of(&trigger(
                "resync-call-7-1",
                "call.ended",
                TriggerSource::Poller
            )),
            Need::Fresh
        );
        assert_eq!(
            Need::of(&trigger(
                "poll-call-7-1700000000123",
                "call.ended",
                TriggerSource::Poller
            )),
            Need::AtLeast(1_700_000_000_123)
        );
        // The metadata file comes with what only a fresh object completes (a survey's answer).
        assert_eq!(
            Need::of(&trigger(
                "look-call-7-metadata-0",
                "call.look.metadata",
                TriggerSource::Poller
            )),
            Need::Fresh
        );
        assert_eq!(
            Need::of(&trigger("p", "call.file.metadata", TriggerSource::Storage)),
            Need::Fresh
        );
    }

    #[test]
    fn r_e_5_a_kept_object_serves_a_poll_of_its_version_or_older_and_a_file_once_ended() {
        let live = decode(
            SessionKind::Call,
            json!({"id": 7, "status": "connected", "updated_at": "2026-12-07T10:00:00.000Z"}),
        )
        .unwrap();
        let over = decode(
            SessionKind::Call,
            json!({"id": 7, "status": "finished", "ends_at": "2026-12-07T10:04:59.000Z",
                   "updated_at": "2026-12-07T10:05:00.000Z"}),
        )
        .unwrap();
        // A voicemail still being left: a voicemail, not over.
        let recording = decode(
            SessionKind::Call,
            json!({"id": 7, "status": "voicemail", "voicemail_reason": "no_agent_available",
                   "updated_at": "2026-12-07T10:05:00.000Z"}),
        )
        .unwrap();
        assert!(!serves(Need::Ended, 100, &recording));
        assert!(serves(Need::AtLeast(100), 100, &live));
        assert!(!serves(Need::AtLeast(101), 100, &live));
        assert!(!serves(Need::Ended, 100, &live));
        assert!(serves(Need::Ended, 100, &over));
        assert!(!serves(Need::Fresh, u64::MAX, &over));
        assert_eq!(
            version_of(&json!({"updated_at": "2026-12-07T10:05:00.000Z"})),
            Some(1_796_637_900_000)
        );
        assert_eq!(version_of(&json!({"updated_at": null})), None);
    }
}
