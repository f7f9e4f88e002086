//! The transcript worker (`bridge-transcript`, R-X-1, R-D-3): its queue brings every new inbox
//! trigger of a chat's files (`chat.ended`, and looks and pushes of transcripts and media,
//! handed off by the inbox worker: `bridge_shared::queue`); when the chat's
//! transcript is in the tenant's external storage (`chat-{id}.txt`, JSON 1.0 — CCAI Platform
//! has no endpoint for a chat's messages, ccai-api.md §3) it is rendered to a readable text file
//! (time in the transcript's zone, speaker, text per line), stored in the files bucket
//! under `transcripts/{yyyy}/{mm}/{dd}/chat-{id}.txt`, and attached to a note on the session's
//! conversation — the same resumable steps as recordings
//! (`bridge_shared::conversation::attached_file`), under one claim per chat.

use bridge_shared::UnixMillis;
use bridge_shared::blob::BlobKey;
use bridge_shared::conversation::{
    FileToAttach, FileWorker, FileWorkerError, render_transcript_file,
};
use bridge_shared::events::{SessionKind, SessionRef, SessionTrigger, hints};
use bridge_shared::storage::awaited::{self, AwaitedFile};
use bridge_shared::storage::{DataType, locate, read_whole};
use bridge_shared::store::{Once, run_once};
use bridge_shared::stream::failures::FailurePolicy;
use bridge_shared::stream::{
    BatchError, DynamoDbEventResponse, RecordOutcome, StreamEvent, handle_inbox_batch,
};
use std::time::Duration;

const CONCURRENCY: usize = 4;
/// How long a claimed transcript may be in progress: the timeout of the function that runs
/// this worker (`TranscriptFunction`, 300 s in template.yaml) — a claim shorter than the run lets a
/// second worker in (review finding 8).
const IN_PROGRESS_FOR: Duration = Duration::from_secs(300);
const REMEMBER_FOR: Duration = Duration::from_secs(14 * 24 * 3600);

/// The worker's clients (the same for every file worker).
pub type TranscriptApi = FileWorker;
pub type TranscriptError = FileWorkerError;

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
    api: &TranscriptApi,
    event: StreamEvent,
    now: UnixMillis,
) -> Result<DynamoDbEventResponse, BatchError> {
    let handled = handle_batch(api, event, now).await;
    bridge_shared::shapes::book::flush(api.store.as_ref(), now).await;
    handled
}

async fn handle_batch(
    api: &TranscriptApi,
    event: StreamEvent,
    now: UnixMillis,
) -> Result<DynamoDbEventResponse, BatchError> {
    let failures = FailurePolicy {
        store: api.store.as_ref(),
        step: "bridge-transcript",
        plan: &api.failures,
    };
    handle_inbox_batch(&event, CONCURRENCY, &failures, now, |event| async move {
        transcript_for_event(api, &event, now).await
    })
    .await
}

/// The transcript of the event's chat, attached once.
pub async fn transcript_for_event(
    api: &TranscriptApi,
    event: &SessionTrigger,
    now: UnixMillis,
) -> Result<RecordOutcome, TranscriptError> {
    if event.session.kind != SessionKind::Chat
        || !hints::for_file_worker(&event.hint, SessionKind::Chat)
    {
        return Ok(RecordOutcome::Skipped("not a chat's end or file".into()));
    }
    let chat_id = event.session.id;
    let session = SessionRef {
        kind: SessionKind::Chat,
        id: chat_id,
    };
    if api
        .left_to_shadow(event, AwaitedFile::Transcript, now)
        .await?
    {
        return Ok(RecordOutcome::Skipped(
            "ended in shadow mode: written only by an admin's resync".into(),
        ));
    }
    let pushed = event.object.as_deref();
    // End-user photos and videos of the chat's SmartActions, each once (R-R-1, R-U-7).
    let (media, attached) = api.attach_session_media(&session, pushed, now).await?;
    if media > 0 {
        tracing::info!(chat_id, media, attached, "end-user media");
    }
    if !api.exported.has(DataType::Transcripts) {
        return Ok(RecordOutcome::Skipped(
            "the tenant does not export transcripts".into(),
        ));
    }
    let found = locate(
        api.store.as_ref(),
        api.storage.as_ref(),
        &session,
        DataType::Transcripts,
        pushed,
        now,
    )
    .await?;
    let Some((name, _)) = found else {
        let why = api.wait_for(&session, AwaitedFile::Transcript, now).await?;
        return Ok(RecordOutcome::Skipped(why));
    };
    if let Some(why) = api.shadow_file(&session, "transcripts", &name, now).await? {
        awaited::file_found(api.store.as_ref(), &session, AwaitedFile::Transcript).await?;
        return Ok(RecordOutcome::Skipped(why));
    }
    let key = format!("transcript#{chat_id}");
    let once = run_once(
        api.store.as_ref(),
        &key,
        now,
        IN_PROGRESS_FOR,
        REMEMBER_FOR,
        || attach_transcript(api, chat_id, &name, now),
    )
    .await?;
    awaited::file_found(api.store.as_ref(), &session, AwaitedFile::Transcript).await?;
    match once {
        Once::Ran(outcome) => Ok(outcome),
        Once::AlreadyDone => Ok(RecordOutcome::Skipped("transcript already attached".into())),
        Once::InProgressElsewhere => Err(TranscriptError::InProgressElsewhere(format!(
            "chat {chat_id}"
        ))),
    }
}

/// Largest transcript file read (JSON, a few hundred bytes per entry).
const MAX_TRANSCRIPT_BYTES: u64 = 16 * 1024 * 1024;

async fn attach_transcript(
    api: &TranscriptApi,
    chat_id: u64,
    name: &str,
    now: UnixMillis,
) -> Result<RecordOutcome, TranscriptError> {
    let session = SessionRef {
        kind: SessionKind::Chat,
        id: chat_id,
    };
    let bytes = read_whole(api.storage.as_ref(), name, MAX_TRANSCRIPT_BYTES).await?;
    let rendered = render_transcript_file(chat_id, &bytes);
    let view = api.session_view(&session, now).await?;
    let conversation_id = api
        .contact()
        .conversation_of(&view, now)
        .await?
        .ok_or(TranscriptError::NotPlaced(format!("chat {chat_id}")))?;
    let created = view.started();
    let file = FileToAttach {
        progress: awaited::progress_key(&session, AwaitedFile::Transcript),
        blob: BlobKey::transcript(chat_id, created, "txt")?,
        content_type: "text/plain".into(),
        conversation_id,
        note_body: format!("Chat transcript ({} messages)", rendered.entries),
        note_external_id: format!("ccai-chat-{chat_id}-transcript"),
    };
    let text = rendered.text;
    let outcome = api
        .attach_in_session(
            &view,
            file,
            || async move {
                let bytes = bytes::Bytes::from(text);
                let body: bridge_shared::blob::ByteStream =
                    Box::pin(futures::stream::once(async move { Ok(bytes) }));
                Ok(body)
            },
            now,
        )
        .await?;
    tracing::info!(?outcome, "transcript attached");
    Ok(RecordOutcome::Applied)
}
