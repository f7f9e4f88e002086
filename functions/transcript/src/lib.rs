//! The transcript worker (`bridge-transcript`, R-X-1, R-D-3): the table's stream brings every
//! new `chat.ended` inbox event (template.yaml filters on the event type); the chat's messages
//! are rendered to a readable text file (time and speaker per line), stored in the files bucket
//! under `transcripts/{yyyy}/{mm}/{dd}/chat-{id}.txt`, and attached to a note on the session's
//! conversation — the same resumable steps as recordings
//! (`bridge_shared::conversation::attached_file`), under one claim per chat.

use bridge_shared::UnixMillis;
use bridge_shared::blob::BlobKey;
use bridge_shared::conversation::{
    FileToAttach, FileWorker, FileWorkerError, SessionView, render_transcript,
};
use bridge_shared::events::{SessionKind, SessionTrigger};
use bridge_shared::store::{ItemKey, Once, run_once};
use bridge_shared::stream::{
    BatchError, DynamoDbEventResponse, RecordOutcome, StreamEvent, handle_inbox_batch,
};
use std::time::Duration;

const CONCURRENCY: usize = 4;
const IN_PROGRESS_FOR: Duration = Duration::from_secs(60);
const REMEMBER_FOR: Duration = Duration::from_secs(14 * 24 * 3600);

/// The worker's clients (the same for every file worker).
pub type TranscriptApi = FileWorker;
pub type TranscriptError = FileWorkerError;

/// One Lambda invocation: a stream batch in, the failed records out.
pub async fn handle(
    api: &TranscriptApi,
    event: StreamEvent,
    now: UnixMillis,
) -> Result<DynamoDbEventResponse, BatchError> {
    handle_inbox_batch(&event, CONCURRENCY, |event| async move {
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
    if event.hint != "chat.ended" || event.session.kind != SessionKind::Chat {
        return Ok(RecordOutcome::Skipped("not a chat's end".into()));
    }
    let chat_id = event.session.id;
    let key = format!("transcript#{chat_id}");
    let once = run_once(
        api.store.as_ref(),
        &key,
        now,
        IN_PROGRESS_FOR,
        REMEMBER_FOR,
        || attach_transcript(api, chat_id, now),
    )
    .await?;
    match once {
        Once::Ran(outcome) => Ok(outcome),
        Once::AlreadyDone => Ok(RecordOutcome::Skipped("transcript already attached".into())),
        Once::InProgressElsewhere => Err(TranscriptError::InProgressElsewhere(format!(
            "chat {chat_id}"
        ))),
    }
}

async fn attach_transcript(
    api: &TranscriptApi,
    chat_id: u64,
    now: UnixMillis,
) -> Result<RecordOutcome, TranscriptError> {
    let chat = api.ccai.chat(chat_id).await?;
    let messages = api.ccai.chat_messages(chat_id).await?;
    if messages.is_empty() {
        return Ok(RecordOutcome::Skipped("the chat has no messages".into()));
    }
    let ese = bridge_shared::conversation::kept_ese_item(
        api.store.as_ref(),
        SessionKind::Chat,
        chat_id,
        now,
    )
    .await
    .map_err(bridge_shared::conversation::ContactError::from)?;
    let view = SessionView::from(&chat).with_ese(ese.as_ref());
    let conversation_id = api
        .contact()
        .conversation_of(&view, now)
        .await?
        .ok_or(TranscriptError::NotPlaced(format!("chat {chat_id}")))?;
    let created = view.started();
    let file = FileToAttach {
        progress: ItemKey::new(format!("SESSION#chat#{chat_id}"), "TRANSCRIPT"),
        blob: BlobKey::transcript(chat_id, created, "txt")?,
        content_type: "text/plain".into(),
        conversation_id,
        note_body: format!("Chat transcript ({} messages)", messages.len()),
        note_external_id: format!("ccai-chat-{chat_id}-transcript"),
    };
    let text = render_transcript(&chat, &messages);
    let outcome = api
        .attached_file()
        .attach(
            &file,
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
