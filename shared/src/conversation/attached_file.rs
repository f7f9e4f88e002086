//! A file shown in a session's conversation (recordings R-R, transcripts R-X, R-D-3), in three
//! resumable steps, each recorded when done:
//! 1. stored in the files bucket under its deterministic key — skipped when the key already
//!    holds it (a retry never fetches the source again);
//! 2. streamed from the bucket into Kustomer's attachment flow (create, presigned POST);
//! 3. referenced by a note with its own external id, exactly once: the note's intent is
//!    recorded with step 2's progress, so a pass that finds it recorded but the note not done
//!    looks for the note (Kustomer has no note lookup: the conversation's notes are listed)
//!    before writing it.
//!
//! Callers hold an idempotency claim for the file, so one writer advances its progress item.

use crate::UnixMillis;
use crate::blob::{BlobError, BlobKey, BlobStore, ByteStream};
use crate::kustomer::requests::{AttachmentRef, NewNote};
use crate::kustomer::{AttachmentFile, Attempt, KustomerClient, KustomerError};
use crate::store::{Item, ItemKey, StateStore, StoreError};
use serde::{Deserialize, Serialize};
use std::future::Future;

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("files bucket: {0}")]
    Blob(#[from] BlobError),
    #[error("Kustomer: {0}")]
    Kustomer(#[from] KustomerError),
    /// The file's source (CCAI) failed; retryable when the source says so.
    #[error("source: {message}")]
    Source { message: String, retryable: bool },
    /// Larger than the bridge attaches (`MAX_ATTACHMENT_MIB`, review S15): permanent — the
    /// file stays in the files bucket; raise the limit and replay the dead letter to attach it.
    #[error(
        "the file is {size} bytes, over the {limit} bytes the bridge attaches (MAX_ATTACHMENT_MIB); it stays in the files bucket"
    )]
    TooLarge { size: u64, limit: u64 },
    /// The conversation the note was for is gone from Kustomer (an agent deleted it, or it
    /// was merged away): the session is placed again and the note written there.
    #[error("conversation {conversation_id} is gone from Kustomer")]
    ConversationGone { conversation_id: String },
}

impl crate::Retryable for AttachError {
    fn is_retryable(&self) -> bool {
        match self {
            AttachError::Store(e) => e.is_retryable(),
            AttachError::Blob(e) => e.is_retryable(),
            AttachError::Kustomer(e) => e.is_retryable(),
            AttachError::Source { retryable, .. } => *retryable,
            AttachError::ConversationGone { .. } => true,
            AttachError::TooLarge { .. } => false,
        }
    }
}

/// What is done for one file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileProgress {
    pub size: Option<u64>,
    pub attachment: Option<AttachmentRef>,
    /// The note was (or was about to be) sent: an invocation that ended before recording its
    /// outcome may have written it.
    #[serde(default)]
    pub note_begun: bool,
    #[serde(default)]
    pub note: bool,
}

/// One file to show in a conversation.
pub struct FileToAttach {
    /// Where progress is kept, e.g. `SESSION#call#<id>/RECORDING`.
    pub progress: ItemKey,
    pub blob: BlobKey,
    pub content_type: String,
    pub conversation_id: String,
    pub note_body: String,
    pub note_external_id: String,
}

pub struct AttachedFile<'a> {
    pub store: &'a dyn StateStore,
    pub blobs: &'a dyn BlobStore,
    pub kustomer: &'a KustomerClient,
    /// The largest file sent to Kustomer (Kustomer documents no maximum, L).
    pub max_bytes: u64,
}

/// `MAX_ATTACHMENT_MIB` unset: 1 GiB, the largest recording the bridge is measured with.
pub const DEFAULT_MAX_ATTACHMENT_MIB: u64 = 1024;

/// `MAX_ATTACHMENT_MIB` (1 to 5120; unset: [`DEFAULT_MAX_ATTACHMENT_MIB`]) in bytes; a bad value
/// is an error naming the variable.
pub fn max_attachment_bytes(value: Option<&str>) -> Result<u64, crate::config::ConfigError> {
    let mib = match value.map(str::trim) {
        None => DEFAULT_MAX_ATTACHMENT_MIB,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=5120).contains(n))
            .ok_or_else(|| crate::config::ConfigError::Malformed {
                var: "MAX_ATTACHMENT_MIB".into(),
                reason: format!("expected a size in MiB from 1 to 5120, got {text:?}"),
            })?,
    };
    Ok(mib * 1024 * 1024)
}

/// What this pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AttachOutcome {
    pub fetched: bool,
    pub uploaded: bool,
    pub noted: bool,
}

impl AttachedFile<'_> {
    /// Runs the steps not yet done; `source` is called only when the bucket lacks the file.
    pub async fn attach<F, Fut>(
        &self,
        file: &FileToAttach,
        source: F,
        now: UnixMillis,
    ) -> Result<AttachOutcome, AttachError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<ByteStream, AttachError>>,
    {
        let mut progress: FileProgress = match self.store.get(&file.progress, now).await? {
            Some(item) => serde_json::from_value(item.body).map_err(|e| StoreError::Malformed {
                key: file.progress.to_string(),
                reason: e.to_string(),
            })?,
            None => FileProgress::default(),
        };
        let mut outcome = AttachOutcome::default();

        // 1. Into the bucket, unless it is there already.
        let size = match progress.size {
            Some(size) => size,
            None => {
                let size = match self.blobs.stat(&file.blob).await? {
                    Some(meta) => {
                        tracing::info!(key = %file.blob, "file already stored; not fetched again");
                        meta.size
                    }
                    None => {
                        let body = source().await?;
                        let report = self
                            .blobs
                            .upload(&file.blob, &file.content_type, body)
                            .await?;
                        tracing::info!(key = %file.blob, size = report.size, parts = report.parts, "file stored");
                        outcome.fetched = true;
                        report.size
                    }
                };
                progress.size = Some(size);
                self.save(&file.progress, &progress).await?;
                size
            }
        };

        // 2. Into Kustomer's attachment flow, from the bucket.
        if progress.attachment.is_none() && size > self.max_bytes {
            return Err(AttachError::TooLarge {
                size,
                limit: self.max_bytes,
            });
        }
        if progress.attachment.is_none() {
            let stored = self.blobs.download(&file.blob).await?;
            let name = file
                .blob
                .to_string()
                .rsplit('/')
                .next()
                .unwrap_or("file")
                .to_owned();
            let attachment = self
                .kustomer
                .upload_attachment(AttachmentFile {
                    name,
                    content_type: file.content_type.clone(),
                    content_length: size,
                    body: stored.body,
                })
                .await?;
            progress.attachment = Some(attachment);
            outcome.uploaded = true;
            // The note comes next: its intent travels with this save (no write of its own).
            progress.note_begun = true;
            self.save(&file.progress, &progress).await?;
        }

        // 3. The note that shows it in the conversation, exactly once.
        if !progress.note {
            let attempt = if progress.note_begun && !outcome.uploaded {
                Attempt::Repeat
            } else {
                Attempt::First
            };
            if !progress.note_begun {
                progress.note_begun = true;
                self.save(&file.progress, &progress).await?;
            }
            self.kustomer
                .create_note(
                    &file.conversation_id,
                    &NewNote {
                        body: file.note_body.clone(),
                        attachments: progress.attachment.clone().into_iter().collect(),
                        external_id: Some(file.note_external_id.clone()),
                    },
                    attempt,
                )
                .await
                .map_err(|err| match err {
                    KustomerError::NotFound { .. } => AttachError::ConversationGone {
                        conversation_id: file.conversation_id.clone(),
                    },
                    err => err.into(),
                })?;
            progress.note = true;
            outcome.noted = true;
            crate::metrics::count("FilesStored", 1);
            self.save(&file.progress, &progress).await?;
        }
        Ok(outcome)
    }

    async fn save(&self, key: &ItemKey, progress: &FileProgress) -> Result<(), StoreError> {
        let body = serde_json::to_value(progress).map_err(|e| StoreError::Malformed {
            key: key.to_string(),
            reason: e.to_string(),
        })?;
        self.store.put(&Item::new(key.clone(), body)).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn s15_max_attachment_mib_is_read_in_range_or_refused_naming_the_variable() {
        assert_eq!(max_attachment_bytes(None).unwrap(), 1024 * 1024 * 1024);
        assert_eq!(
            max_attachment_bytes(Some(" 20 ")).unwrap(),
            20 * 1024 * 1024
        );
        for bad in ["0", "5121", "1.5", "big", ""] {
            let err = max_attachment_bytes(Some(bad)).unwrap_err();
            assert!(err.to_string().starts_with("MAX_ATTACHMENT_MIB"), "{err}");
        }
    }
}
