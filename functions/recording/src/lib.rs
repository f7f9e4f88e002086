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
use bridge_shared::blob::BlobKey;
use bridge_shared::conversation::{
    AttachError, FileToAttach, FileWorker, FileWorkerError, SessionView,
};
use bridge_shared::events::{SessionKind, SessionTrigger};
use bridge_shared::store::{ItemKey, Once, run_once};
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
    event: &SessionTrigger,
    now: UnixMillis,
) -> Result<RecordOutcome, RecordingError> {
    if !matches!(event.hint.as_str(), "call.ended" | "call.voicemail")
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
        Once::InProgressElsewhere => Err(RecordingError::InProgressElsewhere(format!(
            "call {call_id}"
        ))),
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
    let ese = bridge_shared::conversation::kept_ese_item(
        api.store.as_ref(),
        SessionKind::Call,
        call_id,
        now,
    )
    .await
    .map_err(bridge_shared::conversation::ContactError::from)?;
    let view = SessionView::from(&call).with_ese(ese.as_ref());
    let conversation_id = api
        .contact()
        .conversation_of(&view, now)
        .await?
        .ok_or(RecordingError::NotPlaced(format!("call {call_id}")))?;
    let created = view.started();
    // The key is known before any download (from the URL's extension), so a retry can find
    // the stored file without asking CCAI again.
    let extension = extension_for_url(&url);
    let duration = call
        .call_duration
        .map(|s| format!(" ({}:{:02})", s as u64 / 60, s as u64 % 60))
        .unwrap_or_default();
    let file = FileToAttach {
        progress: ItemKey::new(format!("SESSION#call#{call_id}"), "RECORDING"),
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
    let outcome = api
        .attached_file()
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
