//! The session poller (R-E-4): tails the calls and chats the Manager API reports as updated,
//! the way Google recommends (ccai-api.md §2, H): `updated_at[from]` = the last `updated_at`
//! seen, oldest first, one page at a time, each change stored as an inbox trigger, the cursor
//! advanced after every stored page. Paging instead (`page=1,2,3…` over one query) skips
//! records whenever sessions change while the list is read.
//!
//! - Calls and chats are tailed side by side, each with its own cursor
//!   (`CONFIG/CURSOR#calls`, `CURSOR#chats`); a page's puts are issued concurrently.
//! - The work is bounded by the invocation's remaining time: a backlog of thousands (after an
//!   outage) is caught up over several runs, each moving the cursor forward, instead of a run
//!   that times out before it saves anything.
//! - A trigger's id is the session and its `updated_at` (`poll-call-<id>-<updated_at ms>`):
//!   re-reading a record, the 2-minute overlap of the next run, or two runs at once store
//!   nothing twice. A change ESE already brought arrives once more under the poller's id and
//!   the worker finds every step done. Against a tenant without ESE this is the only source.

use bridge_shared::UnixMillis;
use bridge_shared::ccai::TAIL_PAGE;
use bridge_shared::ccai::model::{Call, Chat, is_ended_status};
use bridge_shared::ccai::{CcaiClient, CcaiError};
use bridge_shared::events::{SessionKind, SessionRef, SessionTrigger, TriggerSource, inbox_item};
use bridge_shared::store::{Item, ItemKey, PutOutcome, StateStore, StoreError};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

/// Re-read this much before the cursor at the start of a run: a session updated just as the
/// last poll ran may be listed late by the platform.
pub const OVERLAP: Duration = Duration::from_secs(120);
/// Without a cursor (first run), start this far back rather than replay the tenant's history.
pub const FIRST_LOOKBACK: Duration = Duration::from_secs(15 * 60);
/// Puts in flight at once while storing a page.
const PUTS_AT_ONCE: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Ccai(#[from] CcaiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("session trigger: {0}")]
    Trigger(#[from] serde_json::Error),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PollSummary {
    pub calls_listed: usize,
    pub chats_listed: usize,
    /// Pages read (both lists).
    pub pages: usize,
    /// New changes stored in the inbox (each reaches the worker).
    pub events_stored: usize,
    /// Changes stored before (overlap, a record read twice, or a second run).
    pub already_stored: usize,
    /// Sessions without a readable `updated_at` (skipped, logged).
    pub unreadable: usize,
    /// Both lists were read to their end (false: the time ran out; the next run goes on).
    pub caught_up: bool,
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

const WITH_AGENT: [&str; 5] = [
    "assigned",
    "connecting",
    "connected",
    "switching",
    "recovered",
];

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    Some(DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc))
}

/// The trigger a listed change stands for; `None` without a readable `updated_at`. Its hint
/// names the session's stage; the worker reads the session itself.
pub fn polled_trigger(session: &Listed<'_>) -> Option<SessionTrigger> {
    let updated_at = parse_time(session.updated_at?)?;
    let status = session.status.unwrap_or_default();
    let kind = session.kind.as_str();
    let stage = if is_ended_status(status) || status.starts_with("voicemail") {
        "ended"
    } else if session.outbound || WITH_AGENT.contains(&status) {
        "assigned"
    } else {
        "created"
    };
    Some(SessionTrigger {
        id: format!(
            "poll-{kind}-{}-{}",
            session.id,
            updated_at.timestamp_millis()
        ),
        hint: format!("{kind}.{stage}"),
        occurred_at: updated_at,
        session: SessionRef {
            kind: session.kind,
            id: session.id,
        },
        source: TriggerSource::Poller,
        item: None,
        object: None,
    })
}

fn cursor_key(kind: SessionKind) -> ItemKey {
    ItemKey::config(match kind {
        SessionKind::Call => "CURSOR#calls",
        SessionKind::Chat => "CURSOR#chats",
    })
}

/// Where a run starts: after a run that read its list to the end, the cursor less the
/// overlap; after a run the time cut short, the cursor itself (re-reading the overlap there
/// would restart a large backlog from its beginning every run); the first lookback without one.
async fn start_of_run(
    store: &dyn StateStore,
    kind: SessionKind,
    now: UnixMillis,
) -> Result<DateTime<Utc>, PollError> {
    let cursor = store.get(&cursor_key(kind), now).await?;
    let from_ms = match cursor {
        Some(item) if item.body["caught_up"] == false => item.version as i64,
        Some(item) => item.version as i64 - OVERLAP.as_millis() as i64,
        None => now.0 - FIRST_LOOKBACK.as_millis() as i64,
    };
    Ok(DateTime::from_timestamp_millis(from_ms).unwrap_or_default())
}

/// Moves the cursor to `to`; it only moves forward, whatever order two runs write in.
/// `caught_up`: the list was read to its end at `to`.
async fn advance_cursor(
    store: &dyn StateStore,
    kind: SessionKind,
    to: DateTime<Utc>,
    caught_up: bool,
) -> Result<(), PollError> {
    let ms = to.timestamp_millis().max(0);
    let cursor = Item::new(
        cursor_key(kind),
        json!({ "updated_at": to, "caught_up": caught_up }),
    )
    .with_version(ms as u64);
    if let bridge_shared::store::PutOutcome::Kept(stored) = store.put_if_newer(&cursor).await?
        && caught_up
        && stored.version == cursor.version
        && stored.body["caught_up"] == false
    {
        // The same instant, now known to be the end of the list.
        store.put(&cursor).await?;
    }
    Ok(())
}

/// Stores a page's triggers, several puts at once.
async fn store_page(
    store: &dyn StateStore,
    listed: &[Listed<'_>],
    now: UnixMillis,
    summary: &mut PollSummary,
) -> Result<(), PollError> {
    let mut items = Vec::with_capacity(listed.len());
    for session in listed {
        match polled_trigger(session) {
            Some(trigger) => items.push(inbox_item(&trigger, now)?),
            None => {
                summary.unreadable += 1;
                tracing::warn!(
                    session = session.id,
                    "listed session without a readable updated_at"
                );
            }
        }
    }
    // The futures are made first: a closure mapping a borrowing stream would make the
    // caller's future not `Send` for every lifetime (rust-lang/rust#102211).
    let puts: Vec<_> = items
        .iter()
        .map(|item| store.put_if_absent(item, now))
        .collect();
    let outcomes: Vec<Result<PutOutcome, StoreError>> = futures::stream::iter(puts)
        .buffer_unordered(PUTS_AT_ONCE)
        .collect()
        .await;
    for outcome in outcomes {
        match outcome? {
            PutOutcome::Written => summary.events_stored += 1,
            PutOutcome::Kept(_) => summary.already_stored += 1,
        }
    }
    Ok(())
}

/// One page of one list.
async fn page_of(
    ccai: &CcaiClient,
    kind: SessionKind,
    from: DateTime<Utc>,
    page: u32,
) -> Result<Vec<PageRecord>, CcaiError> {
    Ok(match kind {
        SessionKind::Call => ccai
            .calls_page(from, page)
            .await?
            .into_iter()
            .map(|call| PageRecord::Call(Box::new(call)))
            .collect(),
        SessionKind::Chat => ccai
            .chats_page(from, page)
            .await?
            .into_iter()
            .map(|chat| PageRecord::Chat(Box::new(chat)))
            .collect(),
    })
}

enum PageRecord {
    Call(Box<Call>),
    Chat(Box<Chat>),
}

impl PageRecord {
    fn listed(&self) -> Listed<'_> {
        match self {
            PageRecord::Call(call) => Listed::from(call.as_ref()),
            PageRecord::Chat(chat) => Listed::from(chat.as_ref()),
        }
    }
}

/// Tails one list until it is read to its end or `deadline` passes; answers whether it
/// reached the end.
async fn tail(
    store: &dyn StateStore,
    ccai: &CcaiClient,
    kind: SessionKind,
    now: UnixMillis,
    deadline: Instant,
    summary: &mut PollSummary,
) -> Result<bool, PollError> {
    let mut from = start_of_run(store, kind, now).await?;
    let mut page = 1;
    while Instant::now() < deadline {
        let records = page_of(ccai, kind, from, page).await?;
        summary.pages += 1;
        match kind {
            SessionKind::Call => summary.calls_listed += records.len(),
            SessionKind::Chat => summary.chats_listed += records.len(),
        }
        let listed: Vec<Listed<'_>> = records.iter().map(PageRecord::listed).collect();
        store_page(store, &listed, now, summary).await?;
        let last = listed
            .iter()
            .rev()
            .find_map(|s| s.updated_at.and_then(parse_time));
        let at_end = records.len() < TAIL_PAGE;
        if let Some(last) = last {
            advance_cursor(store, kind, last, at_end).await?;
        }
        if at_end {
            return Ok(true);
        }
        match last {
            // A whole page updated at one instant: the next records share it, so read the
            // same query's next page rather than repeat this one.
            Some(last) if last <= from => page += 1,
            Some(last) => {
                from = last;
                page = 1;
            }
            None => page += 1,
        }
    }
    Ok(false)
}

/// One poll of calls and chats, side by side, until both are read to their end or `budget`
/// is spent (a list cut short goes on from its cursor at the next run).
pub async fn poll_sessions(
    store: &dyn StateStore,
    ccai: &CcaiClient,
    now: UnixMillis,
    budget: Duration,
) -> Result<PollSummary, PollError> {
    let deadline = Instant::now() + budget;
    let (mut calls, mut chats) = (PollSummary::default(), PollSummary::default());
    let (calls_done, chats_done) = tokio::join!(
        tail(store, ccai, SessionKind::Call, now, deadline, &mut calls),
        tail(store, ccai, SessionKind::Chat, now, deadline, &mut chats),
    );
    let summary = PollSummary {
        calls_listed: calls.calls_listed,
        chats_listed: chats.chats_listed,
        pages: calls.pages + chats.pages,
        events_stored: calls.events_stored + chats.events_stored,
        already_stored: calls.already_stored + chats.already_stored,
        unreadable: calls.unreadable + chats.unreadable,
        caught_up: calls_done? && chats_done?,
    };
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
    fn r_e_4_the_trigger_id_is_the_session_and_its_update_time() {
        let a = polled_trigger(&listed("connected", false)).unwrap();
        let b = polled_trigger(&listed("connected", false)).unwrap();
        assert_eq!(a.id, "poll-call-987-1795428902123");
        assert_eq!(
            a.id, b.id,
            "re-reading the same change makes the same trigger"
        );
        assert_eq!(a.occurred_at.timestamp_millis(), 1_795_428_902_123);
        assert_eq!(a.source, TriggerSource::Poller);
        assert!(a.item.is_none());
    }

    #[test]
    fn r_e_4_the_hint_follows_the_sessions_stage() {
        let stage =
            |status: &str, outbound: bool| polled_trigger(&listed(status, outbound)).unwrap().hint;
        assert_eq!(stage("queued", false), "call.created");
        assert_eq!(stage("connected", false), "call.assigned");
        assert_eq!(stage("finished", false), "call.ended");
        assert_eq!(stage("failed", false), "call.ended");
        assert_eq!(stage("voicemail_received", false), "call.ended");
        assert_eq!(stage("connected", true), "call.assigned");
        assert_eq!(stage("finished", true), "call.ended");
        assert_eq!(stage("something_new", false), "call.created");
    }

    #[test]
    fn a_session_without_update_time_is_not_a_trigger() {
        let mut session = listed("connected", false);
        session.updated_at = None;
        assert!(polled_trigger(&session).is_none());
        session.updated_at = Some("yesterday");
        assert!(polled_trigger(&session).is_none());
    }
}
