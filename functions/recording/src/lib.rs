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
use bridge_shared::conversation::{ContactError, ContactSync, SessionView};
use bridge_shared::events::{SessionEvent, SessionKind};
use bridge_shared::kustomer::requests::{AttachmentRef, NewNote};
use bridge_shared::kustomer::{AttachmentFile, KustomerClient, KustomerError};
use bridge_shared::status::sync::StatusService;
use bridge_shared::store::{Claim, IdempotencyStatus, Item, ItemKey, StateStore, StoreError};
use bridge_shared::stream::{
    BatchError, DynamoDbEventResponse, InboxError, RecordOutcome, StreamEvent, StreamRecord,
    inbox_event, process_batch,
};
use bridge_shared::telemetry;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

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
    #[error("Kustomer: {0}")]
    Kustomer(#[from] KustomerError),
    #[error(transparent)]
    Contact(#[from] ContactError),
    /// The session has no conversation yet (an IVR call never answered nor abandoned): the
    /// retry finds it placed.
    #[error("call {0} has no conversation yet")]
    NotPlaced(u64),
    #[error("the recording of call {0} is being transferred by another worker")]
    InProgressElsewhere(u64),
}

/// What is done for one call's recording, kept at `SESSION#call#<id>/RECORDING`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingProgress {
    pub key: Option<String>,
    pub size: Option<u64>,
    pub content_type: Option<String>,
    pub attachment: Option<AttachmentRef>,
    #[serde(default)]
    pub note: bool,
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
    let (response, summary) = process_batch(&event.records, CONCURRENCY, call_of, |record| {
        transfer_record(api, record, now)
    })
    .await?;
    tracing::info!(?summary, "stream batch processed");
    Ok(response)
}

fn call_of(record: &StreamRecord) -> String {
    match inbox_event(record) {
        Ok(Some(event)) => format!("call#{}", event.session.id),
        _ => record.event_id.clone(),
    }
}

async fn transfer_record(
    api: &RecordingApi,
    record: &StreamRecord,
    now: UnixMillis,
) -> Result<RecordOutcome, RecordingError> {
    let Some(event) = inbox_event(record)? else {
        return Ok(RecordOutcome::Skipped("not a new inbox event".into()));
    };
    let span = telemetry::event_span(&telemetry::correlation_id(Some(&event.id)));
    transfer_for_event(api, &event, now).instrument(span).await
}

/// The recording of the event's call, transferred once.
pub async fn transfer_for_event(
    api: &RecordingApi,
    event: &SessionEvent,
    now: UnixMillis,
) -> Result<RecordOutcome, RecordingError> {
    if event.event_type != "call.ended" || event.session.kind != SessionKind::Call {
        return Ok(RecordOutcome::Skipped("not a call's end".into()));
    }
    let call_id = event.session.id;
    let claim_key = format!("recording#{call_id}");
    let ticket = match api
        .store
        .claim(&claim_key, now, IN_PROGRESS_FOR, REMEMBER_FOR)
        .await?
    {
        Claim::Claimed(ticket) => ticket,
        Claim::Duplicate(record) if record.status == IdempotencyStatus::Completed => {
            return Ok(RecordOutcome::Skipped("recording already handled".into()));
        }
        Claim::Duplicate(_) => return Err(RecordingError::InProgressElsewhere(call_id)),
    };
    match transfer(api, call_id, now).await {
        Ok(outcome) => {
            let result = json!({ "outcome": format!("{outcome:?}") });
            api.store
                .complete(&ticket, &result, now, REMEMBER_FOR)
                .await?;
            Ok(outcome)
        }
        Err(err) => {
            if let Err(release) = api.store.release(&ticket).await {
                tracing::warn!(error = %release, "claim not released; it expires on its own");
            }
            Err(err)
        }
    }
}

/// The file extension for a recording, from its content type (`mp3` when unknown).
pub fn extension_for(content_type: Option<&str>) -> &'static str {
    match content_type.map(|t| t.split(';').next().unwrap_or(t).trim()) {
        Some("audio/wav" | "audio/x-wav" | "audio/wave") => "wav",
        Some("audio/ogg") => "ogg",
        Some("audio/mp4" | "audio/m4a" | "audio/x-m4a") => "m4a",
        _ => "mp3",
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
    ContactSync {
        store: api.store.as_ref(),
        kustomer: &api.kustomer,
        ccai: &api.ccai,
        status: &api.status,
    }
    .sync(&view, now)
    .await?;
    let link = api
        .store
        .get(
            &bridge_shared::store::ItemKey::session_link(
                bridge_shared::store::keys::SessionKind::Call,
                call_id,
            ),
            now,
        )
        .await?
        .and_then(|item| item.body["conversation_id"].as_str().map(str::to_owned));
    let Some(conversation_id) = link else {
        return Err(RecordingError::NotPlaced(call_id));
    };

    let key = progress_key(call_id);
    let mut progress: RecordingProgress = match api.store.get(&key, now).await? {
        Some(item) => serde_json::from_value(item.body).map_err(|e| StoreError::Malformed {
            key: key.to_string(),
            reason: e.to_string(),
        })?,
        None => RecordingProgress::default(),
    };
    let save = |progress: &RecordingProgress| {
        let item = serde_json::to_value(progress).map(|body| Item::new(key.clone(), body));
        let store = api.store.clone();
        async move {
            let item = item.map_err(|e| StoreError::Malformed {
                key: "recording progress".into(),
                reason: e.to_string(),
            })?;
            store.put(&item).await
        }
    };

    // 1. Into the bucket, unless it is there already (R-R-2).
    if progress.size.is_none() {
        let created = call
            .created_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_else(chrono::Utc::now);
        let download = api.ccai.download_recording(&url).await?;
        let content_type = download
            .content_type
            .clone()
            .unwrap_or_else(|| "audio/mpeg".into());
        let blob = BlobKey::recording(call_id, created, extension_for(Some(&content_type)))?;
        let size = match api.blobs.stat(&blob).await? {
            Some(meta) => {
                tracing::info!(key = %blob, "recording already stored; not downloaded again");
                meta.size
            }
            None => {
                let report = api
                    .blobs
                    .upload(&blob, &content_type, download.body)
                    .await?;
                tracing::info!(key = %blob, size = report.size, parts = report.parts, "recording stored");
                report.size
            }
        };
        progress.key = Some(blob.to_string());
        progress.size = Some(size);
        progress.content_type = Some(content_type);
        save(&progress).await?;
    }

    // 2. Into Kustomer's attachment flow, from the bucket.
    let (Some(stored), Some(size)) = (progress.key.clone(), progress.size) else {
        return Err(RecordingError::NotPlaced(call_id));
    };
    if progress.attachment.is_none() {
        let blob = BlobKey::parse(&stored)?;
        let file = api.blobs.download(&blob).await?;
        let name = stored
            .rsplit('/')
            .next()
            .unwrap_or("recording.mp3")
            .to_owned();
        let attachment = api
            .kustomer
            .upload_attachment(AttachmentFile {
                name,
                content_type: progress
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "audio/mpeg".into()),
                content_length: size,
                body: file.body,
            })
            .await?;
        progress.attachment = Some(attachment);
        save(&progress).await?;
    }

    // 3. The note that shows it in the conversation (R-U-3).
    if !progress.note {
        let duration = call
            .call_duration
            .map(|s| format!(" ({}:{:02})", s as u64 / 60, s as u64 % 60))
            .unwrap_or_default();
        let written = api
            .kustomer
            .create_note(
                &conversation_id,
                &NewNote {
                    body: format!("Call recording{duration}"),
                    attachments: progress.attachment.clone().into_iter().collect(),
                    external_id: Some(format!("ccai-call-{call_id}-recording")),
                },
            )
            .await;
        match written {
            // The external id is taken: an earlier attempt wrote the note and lost the answer.
            Ok(_) | Err(KustomerError::Conflict { .. }) => {}
            Err(err) => return Err(err.into()),
        }
        progress.note = true;
        save(&progress).await?;
    }
    Ok(RecordOutcome::Applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_follows_the_content_type() {
        assert_eq!(extension_for(Some("audio/mpeg")), "mp3");
        assert_eq!(extension_for(Some("audio/wav; codecs=1")), "wav");
        assert_eq!(extension_for(Some("application/octet-stream")), "mp3");
        assert_eq!(extension_for(None), "mp3");
    }
}
