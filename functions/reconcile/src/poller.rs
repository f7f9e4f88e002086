//! The session poller (R-E-4): lists the calls and chats the Manager API reports as updated
//! since the last poll (all pages) and stores each change as an inbox event, the same shape the
//! webhook brings, so it flows through the same stream, worker and dedupe.
//!
//! The event id is derived from the session and its `updated_at`
//! (`poll-call-<id>-<updated_at ms>`): re-reading an overlap, or a second run fired at once,
//! stores nothing twice. A change the webhook already delivered arrives once more under the
//! poller's id, and the worker's steps find it done (the session link records them). Against a
//! tenant that sends no webhooks at all, this is the only source, with the poll interval as
//! its latency.

use bridge_shared::UnixMillis;
use bridge_shared::ccai::model::{Call, Chat};
use bridge_shared::ccai::{CcaiClient, CcaiError};
use bridge_shared::events::{SessionEvent, SessionKind, SessionRef, inbox_item};
use bridge_shared::store::{Item, ItemKey, PutOutcome, StateStore, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, json};
use std::time::Duration;

/// Re-read this much before the cursor: a session updated just as the last poll ran may be
/// listed late by the platform.
pub const OVERLAP: Duration = Duration::from_secs(120);
/// Without a cursor (first run), start this far back rather than replay the tenant's history.
pub const FIRST_LOOKBACK: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Ccai(#[from] CcaiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("session event: {0}")]
    Event(#[from] serde_json::Error),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PollSummary {
    pub calls_listed: usize,
    pub chats_listed: usize,
    /// New changes stored in the inbox (each reaches the worker).
    pub events_stored: usize,
    /// Changes stored before (overlap, or a second run).
    pub already_stored: usize,
    /// Sessions without a readable `updated_at` (skipped, logged).
    pub unreadable: usize,
}

/// What the poller knows of one listed session.
pub struct Listed<'a> {
    pub kind: SessionKind,
    pub id: u64,
    pub status: Option<&'a str>,
    pub outbound: bool,
    pub updated_at: Option<&'a str>,
}

impl<'a> From<&'a Call> for Listed<'a> {
    fn from(call: &'a Call) -> Self {
        Self {
            kind: SessionKind::Call,
            id: call.id,
            status: call.status.as_deref(),
            outbound: call
                .call_type
                .as_deref()
                .is_some_and(|t| t.contains("Outbound")),
            updated_at: call.updated_at.as_deref(),
        }
    }
}

impl<'a> From<&'a Chat> for Listed<'a> {
    fn from(chat: &'a Chat) -> Self {
        Self {
            kind: SessionKind::Chat,
            id: chat.id,
            status: chat.status.as_deref(),
            outbound: false,
            updated_at: chat.updated_at.as_deref(),
        }
    }
}

const ENDED: [&str; 8] = [
    "finished",
    "failed",
    "action_only_finished",
    "deflected",
    "abandoned",
    "dismissed",
    "timeout",
    "ended",
];
const VOICEMAIL: [&str; 3] = ["voicemail", "voicemail_received", "voicemail_read"];
const WITH_AGENT: [&str; 5] = [
    "assigned",
    "connecting",
    "connected",
    "switching",
    "recovered",
];

/// The session event a listed change stands for; `None` without a readable `updated_at`.
/// The type only says what stage the session is in; the worker reads the session itself.
pub fn polled_event(session: &Listed<'_>) -> Option<SessionEvent> {
    let updated_at = DateTime::parse_from_rfc3339(session.updated_at?)
        .ok()?
        .with_timezone(&Utc);
    let status = session.status.unwrap_or_default();
    let kind = match session.kind {
        SessionKind::Call => "call",
        SessionKind::Chat => "chat",
    };
    let stage = if ENDED.contains(&status) {
        "ended"
    } else if session.kind == SessionKind::Call && VOICEMAIL.contains(&status) {
        "voicemail"
    } else if session.outbound {
        "outbound"
    } else if WITH_AGENT.contains(&status) {
        "assigned"
    } else {
        "created"
    };
    let mut data = Map::new();
    data.insert("source".into(), json!("poller"));
    Some(SessionEvent {
        id: format!(
            "poll-{kind}-{}-{}",
            session.id,
            updated_at.timestamp_millis()
        ),
        event_type: format!("{kind}.{stage}"),
        occurred_at: updated_at,
        session: SessionRef {
            kind: session.kind,
            id: session.id,
        },
        data: Some(data),
    })
}

fn cursor_key(kind: SessionKind) -> ItemKey {
    ItemKey::config(match kind {
        SessionKind::Call => "CURSOR#calls",
        SessionKind::Chat => "CURSOR#chats",
    })
}

/// Where to list from: the cursor less the overlap, or the first lookback.
async fn since(
    store: &dyn StateStore,
    kind: SessionKind,
    now: UnixMillis,
) -> Result<DateTime<Utc>, PollError> {
    let cursor = store
        .get(&cursor_key(kind), now)
        .await?
        .map(|item| item.version as i64);
    let from_ms = match cursor {
        Some(ms) => ms - OVERLAP.as_millis() as i64,
        None => now.0 - FIRST_LOOKBACK.as_millis() as i64,
    };
    Ok(DateTime::from_timestamp_millis(from_ms).unwrap_or_default())
}

async fn store_changes(
    store: &dyn StateStore,
    kind: SessionKind,
    listed: Vec<Listed<'_>>,
    now: UnixMillis,
    summary: &mut PollSummary,
) -> Result<(), PollError> {
    let mut newest: Option<i64> = None;
    for session in &listed {
        let Some(event) = polled_event(session) else {
            summary.unreadable += 1;
            tracing::warn!(
                session = session.id,
                "listed session without a readable updated_at"
            );
            continue;
        };
        newest = newest.max(Some(event.occurred_at.timestamp_millis()));
        match store.put_if_absent(&inbox_item(&event, now)?, now).await? {
            PutOutcome::Written => summary.events_stored += 1,
            PutOutcome::Kept(_) => summary.already_stored += 1,
        }
    }
    if let Some(newest) = newest {
        // The cursor only moves forward, whatever order two runs finish in.
        let cursor = Item::new(
            cursor_key(kind),
            json!({ "updated_at": DateTime::from_timestamp_millis(newest) }),
        )
        .with_version(newest as u64);
        store.put_if_newer(&cursor).await?;
    }
    Ok(())
}

/// One poll of calls and chats.
pub async fn poll_sessions(
    store: &dyn StateStore,
    ccai: &CcaiClient,
    now: UnixMillis,
) -> Result<PollSummary, PollError> {
    let mut summary = PollSummary::default();
    let (calls, _) = ccai
        .calls_updated_since(since(store, SessionKind::Call, now).await?)
        .await?;
    summary.calls_listed = calls.len();
    let listed = calls.iter().map(Listed::from).collect();
    store_changes(store, SessionKind::Call, listed, now, &mut summary).await?;
    let (chats, _) = ccai
        .chats_updated_since(since(store, SessionKind::Chat, now).await?)
        .await?;
    summary.chats_listed = chats.len();
    let listed = chats.iter().map(Listed::from).collect();
    store_changes(store, SessionKind::Chat, listed, now, &mut summary).await?;
    tracing::info!(?summary, "sessions polled");
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(status: &str, outbound: bool) -> Listed<'static> {
        Listed {
            kind: SessionKind::Call,
            id: 987,
            status: Some(Box::leak(status.to_owned().into_boxed_str())),
            outbound,
            updated_at: Some("2026-11-23T10:15:02.123Z"),
        }
    }

    #[test]
    fn r_e_4_the_event_id_is_the_session_and_its_update_time() {
        let a = polled_event(&listed("connected", false)).unwrap();
        let b = polled_event(&listed("connected", false)).unwrap();
        assert_eq!(a.id, "poll-call-987-1795428902123");
        assert_eq!(
            a.id, b.id,
            "re-reading the same change makes the same event"
        );
        assert_eq!(a.occurred_at.timestamp_millis(), 1_795_428_902_123);
    }

    #[test]
    fn r_e_4_the_type_follows_the_sessions_stage() {
        let stage = |status: &str, outbound: bool| {
            polled_event(&listed(status, outbound)).unwrap().event_type
        };
        assert_eq!(stage("queued", false), "call.created");
        assert_eq!(stage("connected", false), "call.assigned");
        assert_eq!(stage("finished", false), "call.ended");
        assert_eq!(stage("failed", false), "call.ended");
        assert_eq!(stage("voicemail_received", false), "call.voicemail");
        assert_eq!(stage("connected", true), "call.outbound");
        assert_eq!(stage("finished", true), "call.ended");
        assert_eq!(stage("something_new", false), "call.created");
    }

    #[test]
    fn a_session_without_update_time_is_not_an_event() {
        let mut session = listed("connected", false);
        session.updated_at = None;
        assert!(polled_event(&session).is_none());
        session.updated_at = Some("yesterday");
        assert!(polled_event(&session).is_none());
    }
}
