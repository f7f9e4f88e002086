//! The inbox stream worker (`bridge-sync`): the DynamoDB stream delivers every new inbox item
//! (filtered in template.yaml); each session event is applied exactly once in effect (R-E-2):
//! an idempotency claim on the event id makes redelivered records no-ops, and every action
//! starts from the platform's current truth, fetched from the Manager API (R-E-5).
//!
//! For every call and chat event: contact sync (`bridge_shared::conversation::contact`:
//! customer, conversation, assignee, phone note), then, when a session ends (or is transferred away), the pending status change
//! of each agent whose part is over (R-S-6), at once rather than at the next scheduled
//! reconciliation. SmartAction, CSAT, custom-data and voicemail-update events are not handled
//! yet (acknowledged and skipped, logged).

pub mod session_end;

use bridge_shared::UnixMillis;
use bridge_shared::ccai::model::{Call, Chat};
use bridge_shared::ccai::{CcaiClient, CcaiError};
use bridge_shared::conversation::{
    ContactError, ContactSync, ConversationUpdate, SessionView, update_for,
};
use bridge_shared::events::{SessionEvent, SessionKind};
use bridge_shared::kustomer::KustomerClient;
use bridge_shared::kustomer::KustomerError;
use bridge_shared::kustomer::requests::{ConversationPatch, NewNote};
use bridge_shared::status::PendingOutcome;
use bridge_shared::status::sync::{StatusError, StatusService};
use bridge_shared::store::{ItemKey, keys};
use bridge_shared::store::{Once, StateStore, StoreError, run_once};
use bridge_shared::stream::{
    BatchError, DynamoDbEventResponse, InboxError, RecordOutcome, StreamEvent, handle_inbox_batch,
};
use session_end::{SessionAgents, agents_released};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Sessions handled at once within one batch (each costs a few platform calls; the CCAI
/// tenant allows 10 requests per second in all).
const CONCURRENCY: usize = 4;
/// How long a claimed event may be in progress: the function's timeout (template.yaml).
const IN_PROGRESS_FOR: Duration = Duration::from_secs(60);
/// How long an applied event id is remembered: the inbox keeps events 14 days, and the stream
/// redelivers at most for its 24 h retention.
const REMEMBER_FOR: Duration = Duration::from_secs(14 * 24 * 3600);

pub struct SyncApi {
    pub store: Arc<dyn StateStore>,
    pub ccai: Arc<CcaiClient>,
    pub kustomer: Arc<KustomerClient>,
    pub status: StatusService,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Inbox(#[from] InboxError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("fetching the session from CCAI: {0}")]
    Ccai(#[from] CcaiError),
    #[error(transparent)]
    Status(#[from] StatusError),
    #[error(transparent)]
    Contact(#[from] ContactError),
    /// Another worker holds the event's claim; the retry finds it completed (or expired).
    #[error("event {0} is being applied by another worker")]
    InProgressElsewhere(String),
}

/// One Lambda invocation: a stream batch in, the failed records out.
pub async fn handle(
    api: &SyncApi,
    event: StreamEvent,
    now: UnixMillis,
) -> Result<DynamoDbEventResponse, BatchError> {
    let sessions = SessionsSeen::default();
    let sessions = &sessions;
    handle_inbox_batch(&event, CONCURRENCY, |event| async move {
        apply_once(api, &event, sessions, now).await
    })
    .await
}

/// A session's truth, as fetched from the Manager API.
#[derive(Clone)]
enum Truth {
    Call(Arc<Call>),
    Chat(Arc<Chat>),
}

/// The sessions fetched while handling one batch. Every event of the batch was stored before
/// the batch began, so a session fetched for its first event is at least as new as all of
/// them: one fetch per session per batch, not one per event (the tenant allows 10 requests a
/// second in all; a call's created, assigned and ended usually arrive together).
#[derive(Default)]
pub struct SessionsSeen(Mutex<HashMap<(SessionKind, u64), Truth>>);

impl SessionsSeen {
    async fn get(&self, ccai: &CcaiClient, event: &SessionEvent) -> Result<Truth, CcaiError> {
        let key = (event.session.kind, event.session.id);
        if let Some(truth) = self.0.lock().ok().and_then(|seen| seen.get(&key).cloned()) {
            return Ok(truth);
        }
        let truth = match event.session.kind {
            SessionKind::Call => Truth::Call(Arc::new(ccai.call(event.session.id).await?)),
            SessionKind::Chat => Truth::Chat(Arc::new(ccai.chat(event.session.id).await?)),
        };
        if let Ok(mut seen) = self.0.lock() {
            seen.insert(key, truth.clone());
        }
        Ok(truth)
    }
}

/// The event's work under an idempotency claim on its id (R-E-2).
pub async fn apply_once(
    api: &SyncApi,
    event: &SessionEvent,
    sessions: &SessionsSeen,
    now: UnixMillis,
) -> Result<RecordOutcome, SyncError> {
    let key = format!("sync#{}", event.id);
    let once = run_once(
        api.store.as_ref(),
        &key,
        now,
        IN_PROGRESS_FOR,
        REMEMBER_FOR,
        || apply(api, event, sessions, now),
    )
    .await?;
    match once {
        Once::Ran(outcome) => Ok(outcome),
        Once::AlreadyDone => {
            tracing::info!(event_id = %event.id, "event already applied");
            Ok(RecordOutcome::Skipped("already applied".into()))
        }
        Once::InProgressElsewhere => Err(SyncError::InProgressElsewhere(event.id.clone())),
    }
}

/// The events of a call or chat's life: each one syncs the session's contact and conversation
/// (the last four also add to it: R-U-7, R-U-8, R-U-10, R-U-11).
const SESSION_TYPES: [&str; 14] = [
    "call.created",
    "call.assigned",
    "call.transferred",
    "call.ended",
    "call.voicemail",
    "call.outbound",
    "chat.created",
    "chat.assigned",
    "chat.transferred",
    "chat.ended",
    "csat.submitted",
    "smart_action.completed",
    "smart_action.failed",
    "voicemail.updated",
];

/// Writes an update into the session's conversation; false when it has none yet.
async fn apply_update(
    api: &SyncApi,
    view: &SessionView,
    event: &SessionEvent,
    update: &ConversationUpdate,
    now: UnixMillis,
) -> Result<bool, SyncError> {
    let kind = match view.kind {
        SessionKind::Call => keys::SessionKind::Call,
        SessionKind::Chat => keys::SessionKind::Chat,
    };
    let Some(conversation) = api
        .store
        .get(&ItemKey::session_link(kind, view.id), now)
        .await?
        .and_then(|item| item.body["conversation_id"].as_str().map(str::to_owned))
    else {
        tracing::warn!(event_type = %event.event_type, "the session has no conversation to update");
        return Ok(false);
    };
    let written = api
        .kustomer
        .create_note(
            &conversation,
            &NewNote {
                body: update.note.clone(),
                external_id: Some(format!("ccai-{}-{}", event.id, update.purpose)),
                ..Default::default()
            },
        )
        .await;
    match written {
        // Taken external id: an earlier attempt wrote the note and lost the answer.
        Ok(_) | Err(KustomerError::Conflict { .. }) => {}
        Err(err) => return Err(SyncError::Contact(ContactError::Kustomer(err))),
    }
    if update.close {
        api.kustomer
            .patch_conversation(
                &conversation,
                &ConversationPatch {
                    status: Some("done".into()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|err| SyncError::Contact(ContactError::Kustomer(err)))?;
    }
    Ok(true)
}

/// What one event means for the bridge, decided on the session's current truth (R-E-5).
async fn apply(
    api: &SyncApi,
    event: &SessionEvent,
    sessions: &SessionsSeen,
    now: UnixMillis,
) -> Result<RecordOutcome, SyncError> {
    let event_type = event.event_type.as_str();
    if !SESSION_TYPES.contains(&event_type) {
        tracing::info!(event_type, "event type not handled yet");
        return Ok(RecordOutcome::Skipped(format!(
            "{event_type}: not implemented yet"
        )));
    }
    let (view, agents, rating) = match sessions.get(&api.ccai, event).await? {
        Truth::Call(call) => (
            SessionView::from(call.as_ref()),
            SessionAgents::from(call.as_ref()),
            call.rating,
        ),
        Truth::Chat(chat) => (
            SessionView::from(chat.as_ref()),
            SessionAgents::from(chat.as_ref()),
            chat.rating,
        ),
    };
    let contact = ContactSync {
        store: api.store.as_ref(),
        kustomer: &api.kustomer,
        ccai: &api.ccai,
        status: &api.status,
    }
    .sync(&view, now)
    .await?;
    tracing::info!(?contact, "contact sync");
    let mut resolved = usize::from(contact.changed_anything());
    if let Some(update) = update_for(event, rating) {
        resolved += usize::from(apply_update(api, &view, event, &update, now).await?);
    }
    for agent in agents_released(event_type, &agents) {
        let Some(email) = api.status.email_for_ccai_agent(agent, now).await? else {
            continue;
        };
        let outcome = api.status.session_ended(&email, now).await?;
        tracing::info!(ccai_agent = agent, outcome = ?outcome, "agent's session ended");
        resolved += usize::from(matches!(
            outcome,
            Some(PendingOutcome::Apply(_) | PendingOutcome::Drop(_))
        ));
    }
    Ok(if resolved > 0 {
        RecordOutcome::Applied
    } else {
        RecordOutcome::Skipped("nothing left to change".into())
    })
}
