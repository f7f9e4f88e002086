//! The recording worker (`bridge-recording`, R-R-1, R-R-2, R-U-3): the table's stream brings
//! every new `call.ended` inbox event (template.yaml filters on the event type); for a call
//! with a `recording_url`:
//! 1. the recording is streamed from CCAI Platform into the files bucket under its
//!    deterministic key (multipart, bounded memory whatever the size) — unless the key already
//!    holds it (a retry never downloads twice);
//! 2. the stored file is streamed to Kustomer's attachment flow (create, presigned POST);
//! 3. a note on the session's conversation references it (external id
//!    `ccai-call-<id>-recording`).
//!
//! Progress is kept at `SESSION#call#<id>/RECORDING` after each step, and the whole transfer
//! runs under an idempotency claim on the call (not the event: the webhook's and the poller's
//! `call.ended` are two events of one recording). The conversation comes from the same
//! contact-sync step the inbox worker uses, so it does not matter which worker runs first.

use bridge_shared::UnixMillis;
use bridge_shared::blob::{BlobError, BlobKey, BlobStore};
use bridge_shared::ccai::{CcaiClient, CcaiError};
use bridge_shared::conversation::{
    AttachError, AttachedFile, ContactError, ContactSync, FileToAttach, SessionView,
};
use bridge_shared::events::{SessionEvent, SessionKind};
use bridge_shared::kustomer::KustomerClient;
use bridge_shared::status::sync::StatusService;
use bridge_shared::store::{ItemKey, Once, StateStore, StoreError, run_once};
use bridge_shared::stream::{
    BatchError, DynamoDbEventResponse, InboxError, RecordOutcome, StreamEvent, handle_inbox_batch,
};
use std::sync::Arc;
use std::time::Duration;

/// Recordings transferred at once per batch (each holds two multipart parts in memory).
const CONCURRENCY: usize = 2;
/// How long a claimed transfer may run: the function's timeout (template.yaml).
const IN_PROGRESS_FOR: Duration = Duration::from_secs(300);
const REMEMBER_FOR: Duration = Duration::from_secs(14 * 24 * 3600);

pub struct RecordingApi {
    pub store: Arc<dyn StateStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub ccai: Arc<CcaiClient>,
    pub kustomer: Arc<KustomerClient>,
    pub status: StatusService,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error(transparent)]
    Inbox(#[from] InboxError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("CCAI: {0}")]
    Ccai(#[from] CcaiError),
    #[error("files bucket: {0}")]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Attach(#[from] AttachError),
    #[error(transparent)]
    Contact(#[from] ContactError),
    /// The session has no conversation yet (an IVR call never answered nor abandoned): the
    /// retry finds it placed.
    #[error("call {0} has no conversation yet")]
    NotPlaced(u64),
    #[error("the recording of call {0} is being transferred by another worker")]
    InProgressElsewhere(u64),
}

fn progress_key(call_id: u64) -> ItemKey {
    ItemKey::new(format!("SESSION#call#{call_id}"), "RECORDING")
}

/// One Lambda invocation: a stream batch in, the failed records out.
pub async fn handle(
    api: &RecordingApi,
    event: StreamEvent,
    now: UnixMillis,
) -> Result<DynamoDbEventResponse, BatchError> {
    handle_inbox_batch(&event, CONCURRENCY, |event| async move {
        transfer_for_event(api, &event, now).await
    })
    .await
}

/// The recording of the event's call, transferred once.
pub async fn transfer_for_event(
    api: &RecordingApi,
    event: &SessionEvent,
    now: UnixMillis,
) -> Result<RecordOutcome, RecordingError> {
    if !matches!(event.event_type.as_str(), "call.ended" | "call.voicemail")
        || event.session.kind != SessionKind::Call
    {
        return Ok(RecordOutcome::Skipped(
            "not a call's end or voicemail".into(),
        ));
    }
    let call_id = event.session.id;
    let key = format!("recording#{call_id}");
    let once = run_once(
        api.store.as_ref(),
        &key,
        now,
        IN_PROGRESS_FOR,
        REMEMBER_FOR,
        || transfer(api, call_id, now),
    )
    .await?;
    match once {
        Once::Ran(outcome) => Ok(outcome),
        Once::AlreadyDone => Ok(RecordOutcome::Skipped("recording already handled".into())),
        Once::InProgressElsewhere => Err(RecordingError::InProgressElsewhere(call_id)),
    }
}

/// The recording's extension, from its URL's file name (`mp3` when it has none we know).
pub fn extension_for_url(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.rsplit('/').next().unwrap_or_default();
    match name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
    {
        Some(ext) if ext == "wav" => "wav",
        Some(ext) if ext == "ogg" => "ogg",
        Some(ext) if ext == "m4a" => "m4a",
        _ => "mp3",
    }
}

fn content_type_for(extension: &str) -> &'static str {
    match extension {
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        "m4a" => "audio/mp4",
        _ => "audio/mpeg",
    }
}

async fn transfer(
    api: &RecordingApi,
    call_id: u64,
    now: UnixMillis,
) -> Result<RecordOutcome, RecordingError> {
    let call = api.ccai.call(call_id).await?;
    let Some(url) = call.recording_url.clone().filter(|u| !u.is_empty()) else {
        return Ok(RecordOutcome::Skipped("the call has no recording".into()));
    };
    // The conversation: the same idempotent step as the inbox worker's.
    let view = SessionView::from(&call);
    let conversation_id = ContactSync {
        store: api.store.as_ref(),
        kustomer: &api.kustomer,
        ccai: &api.ccai,
        status: &api.status,
    }
    .conversation_of(&view, now)
    .await?
    .ok_or(RecordingError::NotPlaced(call_id))?;
    let created = view.started();
    // The key is known before any download (from the URL's extension), so a retry can find
    // the stored file without asking CCAI again.
    let extension = extension_for_url(&url);
    let duration = call
        .call_duration
        .map(|s| format!(" ({}:{:02})", s as u64 / 60, s as u64 % 60))
        .unwrap_or_default();
    let file = FileToAttach {
        progress: progress_key(call_id),
        blob: BlobKey::recording(call_id, created, extension)?,
        content_type: content_type_for(extension).to_owned(),
        conversation_id,
        note_body: if view.facts.voicemail {
            format!("Voicemail{duration}")
        } else {
            format!("Call recording{duration}")
        },
        note_external_id: format!("ccai-call-{call_id}-recording"),
    };
    let ccai = api.ccai.clone();
    let outcome = AttachedFile {
        store: api.store.as_ref(),
        blobs: api.blobs.as_ref(),
        kustomer: &api.kustomer,
    }
    .attach(
        &file,
        || async move {
            let download =
                ccai.download_recording(&url)
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
    fn the_extension_follows_the_recording_url() {
        assert_eq!(
            extension_for_url("https://t.example/recordings/call-1.mp3"),
            "mp3"
        );
        assert_eq!(
            extension_for_url("https://t.example/r/call-1.WAV?sig=x.ogg"),
            "wav"
        );
        assert_eq!(extension_for_url("https://t.example/r/1"), "mp3");
        assert_eq!(content_type_for("wav"), "audio/wav");
    }
}
