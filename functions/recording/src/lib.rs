//! The recording worker (`bridge-recording`, R-R-1, R-R-2, R-U-3): its queue brings every new
//! inbox trigger of a call's files (`call.ended`, and looks and pushes of recordings and media,
//! handed off by the inbox worker: `bridge_shared::queue`); for a call
//! whose recording is in the tenant's external storage (`call-{id}.mp3|wav`, ccai-api.md §3 —
//! CCAI Platform keeps no recordings itself, and `recording_url`'s access rules are not
//! documented, so it is never downloaded):
//! 1. the recording is streamed from external storage into the files bucket under its
//!    deterministic key (multipart, bounded memory whatever the size) — unless the key already
//!    holds it (a retry never reads twice);
//! 2. the stored file is streamed to Kustomer's attachment flow (create, presigned POST);
//! 3. a note on the session's conversation references it (external id
//!    `ccai-call-<id>-recording`).
//!
//! Progress is kept at `SESSION#call#<id>/RECORDING` after each step, and the whole transfer
//! runs under an idempotency claim on the call (not the event: the webhook's and the poller's
//! `call.ended` are two events of one recording). The conversation comes from the same
//! contact-sync step the inbox worker uses, so it does not matter which worker runs first.

use bridge_shared::UnixMillis;
use bridge_shared::blob::BlobKey;
use bridge_shared::ccai::CcaiError;
use bridge_shared::conversation::{
    AttachError, ContactError, FileToAttach, FileWorker, FileWorkerError, SessionView, Truth,
    kept_ese_item,
};
use bridge_shared::events::{SessionKind, SessionRef, SessionTrigger, hints};
use bridge_shared::storage::awaited::{self, AwaitedFile};
use bridge_shared::storage::{DataType, FileKind, locate};
use bridge_shared::store::{Once, run_once};
use bridge_shared::stream::failures::FailurePolicy;
use bridge_shared::stream::{
    BatchError, DynamoDbEventResponse, RecordOutcome, StreamEvent, handle_inbox_batch,
};
use std::time::Duration;

/// Recordings transferred at once per batch (each holds two multipart parts in memory).
const CONCURRENCY: usize = 2;
/// How long a claimed transfer may run: the function's timeout (template.yaml).
const IN_PROGRESS_FOR: Duration = Duration::from_secs(300);
const REMEMBER_FOR: Duration = Duration::from_secs(14 * 24 * 3600);

/// The worker's clients (the same for every file worker).
pub type RecordingApi = FileWorker;
pub type RecordingError = FileWorkerError;

pub mod run;

/// One Lambda invocation: an SQS batch of handed-off stream records in (the inbox worker's
/// hand-off, `bridge_shared::queue`), the failed messages out.
pub async fn handle_queue(
    api: &FileWorker,
    event: bridge_shared::queue::wire::SqsEvent,
    now: UnixMillis,
) -> Result<bridge_shared::queue::wire::SqsBatchResponse, BatchError> {
    bridge_shared::queue::wire::as_stream(&event, |batch| handle(api, batch, now)).await
}

/// A batch of stream records in (the queue's messages, read back), the failed records out.
pub async fn handle(
    api: &RecordingApi,
    event: StreamEvent,
    now: UnixMillis,
) -> Result<DynamoDbEventResponse, BatchError> {
    let handled = handle_batch(api, event, now).await;
    bridge_shared::shapes::book::flush(api.store.as_ref(), now).await;
    handled
}

async fn handle_batch(
    api: &RecordingApi,
    event: StreamEvent,
    now: UnixMillis,
) -> Result<DynamoDbEventResponse, BatchError> {
    let failures = FailurePolicy {
        store: api.store.as_ref(),
        step: "bridge-recording",
        plan: &api.failures,
    };
    handle_inbox_batch(&event, CONCURRENCY, &failures, now, |event| async move {
        transfer_for_event(api, &event, now).await
    })
    .await
}

/// The names a call's recording may have in the flat layout, in the order looked for.
#[cfg(test)]
fn recording_names(call_id: u64) -> Vec<String> {
    bridge_shared::storage::files::expected_names(&SessionRef {
        kind: SessionKind::Call,
        id: call_id,
    })
}

/// The call's recording in external storage, if it is there: its name and extension (the
/// pushed object, where a push said, or the flat names).
async fn find_recording(
    api: &RecordingApi,
    session: &SessionRef,
    pushed: Option<&str>,
    now: UnixMillis,
) -> Result<Option<(String, String)>, RecordingError> {
    let found = locate(
        api.store.as_ref(),
        api.storage.as_ref(),
        session,
        DataType::Recordings,
        pushed,
        now,
    )
    .await?;
    Ok(found.map(|(name, _)| {
        let extension = match bridge_shared::storage::classify(&name).map(|f| f.kind) {
            Some(FileKind::Recording { extension }) => extension,
            _ => "mp3".to_owned(),
        };
        (name, extension)
    }))
}

/// The recording of the trigger's call, transferred once — when it is in external storage.
/// Not there (yet) is not a failure: the file may land minutes later.
pub async fn transfer_for_event(
    api: &RecordingApi,
    event: &SessionTrigger,
    now: UnixMillis,
) -> Result<RecordOutcome, RecordingError> {
    if event.session.kind != SessionKind::Call
        || !hints::for_file_worker(&event.hint, SessionKind::Call)
    {
        return Ok(RecordOutcome::Skipped("not a call's end or file".into()));
    }
    let call_id = event.session.id;
    let session = SessionRef {
        kind: SessionKind::Call,
        id: call_id,
    };
    if api
        .left_to_shadow(event, AwaitedFile::Recording, now)
        .await?
    {
        return Ok(RecordOutcome::Skipped(
            "ended in shadow mode: written only by an admin's resync".into(),
        ));
    }
    let pushed = event.object.as_deref();
    // End-user photos and videos of the call's SmartActions, each once (R-R-1, R-U-7).
    let (media, attached) = api.attach_session_media(&session, pushed, now).await?;
    if media > 0 {
        tracing::info!(call_id, media, attached, "end-user media");
    }
    if !api.exported.has(DataType::Recordings) {
        return Ok(RecordOutcome::Skipped(
            "the tenant does not export recordings".into(),
        ));
    }
    let Some((name, extension)) = find_recording(api, &session, pushed, now).await? else {
        // Not there yet: wait for it (R-E-6) when the call is one that leaves a recording —
        // answered by an agent, or a voicemail.
        let view = api.session_view(&session, now).await?;
        if !(view.facts.answered || view.facts.voicemail) {
            return Ok(RecordOutcome::Skipped(
                "the call leaves no recording".into(),
            ));
        }
        let why = api.wait_for(&session, AwaitedFile::Recording, now).await?;
        return Ok(RecordOutcome::Skipped(why));
    };
    if let Some(why) = api.shadow_file(&session, "recordings", &name, now).await? {
        awaited::file_found(api.store.as_ref(), &session, AwaitedFile::Recording).await?;
        return Ok(RecordOutcome::Skipped(why));
    }
    let key = format!("recording#{call_id}");
    let once = run_once(
        api.store.as_ref(),
        &key,
        now,
        IN_PROGRESS_FOR,
        REMEMBER_FOR,
        || transfer(api, call_id, name, extension, now),
    )
    .await?;
    awaited::file_found(api.store.as_ref(), &session, AwaitedFile::Recording).await?;
    match once {
        Once::Ran(outcome) => Ok(outcome),
        Once::AlreadyDone => Ok(RecordOutcome::Skipped("recording already handled".into())),
        Once::InProgressElsewhere => Err(RecordingError::InProgressElsewhere(format!(
            "call {call_id}"
        ))),
    }
}

fn content_type_for(extension: &str) -> &'static str {
    match extension {
        "wav" => "audio/wav",
        _ => "audio/mpeg",
    }
}

async fn transfer(
    api: &RecordingApi,
    call_id: u64,
    name: String,
    extension: String,
    now: UnixMillis,
) -> Result<RecordOutcome, RecordingError> {
    let session = SessionRef {
        kind: SessionKind::Call,
        id: call_id,
    };
    let call = match api.session_truth(&session, now).await? {
        Truth::Call(call) => call,
        // Unreachable: a call's object decodes as a call (truth.rs).
        Truth::Chat(_) => {
            return Err(RecordingError::Ccai(CcaiError::Decode {
                operation: "get call".into(),
                message: "a chat's object kept for a call".into(),
            }));
        }
    };
    // The conversation: the same idempotent step as the inbox worker's.
    let ese = kept_ese_item(api.store.as_ref(), SessionKind::Call, call_id, now)
        .await
        .map_err(ContactError::from)?;
    let view = SessionView::from(call.as_ref()).with_ese(ese.as_ref());
    let conversation_id = api
        .contact()
        .conversation_of(&view, now)
        .await?
        .ok_or(RecordingError::NotPlaced(format!("call {call_id}")))?;
    let created = view.started();
    let duration = call
        .call_duration
        .map(|s| format!(" ({}:{:02})", s as u64 / 60, s as u64 % 60))
        .unwrap_or_default();
    let file = FileToAttach {
        progress: awaited::progress_key(&session, AwaitedFile::Recording),
        blob: BlobKey::recording(call_id, created, &extension)?,
        content_type: content_type_for(&extension).to_owned(),
        conversation_id,
        note_body: if view.facts.voicemail {
            format!("Voicemail{duration}")
        } else {
            format!("Call recording{duration}")
        },
        note_external_id: format!("ccai-call-{call_id}-recording"),
    };
    let storage = api.storage.clone();
    let outcome = api
        .attach_in_session(
            &view,
            file,
            || async move {
                let download = storage
                    .open(&name)
                    .await
                    .map_err(|err| AttachError::Source {
                        retryable: bridge_shared::Retryable::is_retryable(&err),
                        message: err.to_string(),
                    })?;
                Ok(download.body)
            },
            now,
        )
        .await?;
    tracing::info!(?outcome, "recording attached");
    Ok(RecordOutcome::Applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_r_1_a_calls_recording_is_looked_for_under_both_documented_names() {
        assert_eq!(recording_names(7), ["call-7.mp3", "call-7.wav"]);
        assert_eq!(content_type_for("wav"), "audio/wav");
        assert_eq!(content_type_for("mp3"), "audio/mpeg");
    }
}
