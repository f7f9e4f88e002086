//! What the file workers (recordings, transcripts) stand on: their clients, their one error
//! type, and the two shared steps they take (contact sync for the conversation, the resumable
//! attach flow).

use super::truth::{Need, Truth, TruthError};
use super::{
    AttachError, AttachOutcome, AttachedFile, ContactError, ContactSync, FileToAttach, SessionView,
    kept_ese_item,
};
use crate::UnixMillis;
use crate::blob::{BlobError, BlobStore};
use crate::ccai::{CcaiClient, CcaiError};
use crate::config::CountryCode;
use crate::events::SessionRef;
use crate::kustomer::KustomerClient;
use crate::status::sync::{DEFAULT_LEASE, StatusService};
use crate::storage::ExternalStorage;
use crate::storage::awaited::{self, AwaitedFile};
use crate::store::{StateStore, StoreError};
use crate::stream::InboxError;
use std::sync::Arc;

/// A file worker's clients, built once per container.
pub struct FileWorker {
    pub store: Arc<dyn StateStore>,
    pub blobs: Arc<dyn BlobStore>,
    /// Where CCAI Platform writes the files (the tenant's bucket).
    pub storage: Arc<dyn ExternalStorage>,
    /// The data types the tenant exports there (`EXTERNAL_STORAGE_FILES`): no other is waited
    /// for or looked up.
    pub exported: crate::storage::ExportedTypes,
    pub ccai: Arc<CcaiClient>,
    pub kustomer: Arc<KustomerClient>,
    pub status: StatusService,
    /// `DEFAULT_COUNTRY`: national caller numbers are read in it.
    pub caller_country: CountryCode,
    /// How failed triggers are retried, then kept as dead letters (R-E-7).
    pub failures: crate::stream::failures::FailurePlan,
    /// The largest file attached in Kustomer (`MAX_ATTACHMENT_MIB`, review S15).
    pub max_attachment_bytes: u64,
}

impl crate::Retryable for FileWorkerError {
    fn is_retryable(&self) -> bool {
        match self {
            FileWorkerError::Inbox(_) => false,
            FileWorkerError::Store(e) => e.is_retryable(),
            FileWorkerError::Ccai(e) => e.is_retryable(),
            FileWorkerError::Blob(e) => e.is_retryable(),
            FileWorkerError::Locate(crate::storage::LocateError::Store(e)) => e.is_retryable(),
            FileWorkerError::Locate(crate::storage::LocateError::Storage(e)) => e.is_retryable(),
            FileWorkerError::Attach(e) => e.is_retryable(),
            FileWorkerError::Contact(e) => e.is_retryable(),
            FileWorkerError::NotPlaced(_) | FileWorkerError::InProgressElsewhere(_) => true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FileWorkerError {
    #[error(transparent)]
    Inbox(#[from] InboxError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("CCAI: {0}")]
    Ccai(#[from] CcaiError),
    #[error("files bucket or external storage: {0}")]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Locate(#[from] crate::storage::LocateError),
    #[error(transparent)]
    Attach(#[from] AttachError),
    #[error(transparent)]
    Contact(#[from] ContactError),
    /// The session has no conversation yet (an IVR call never answered nor abandoned): the
    /// retry finds it placed.
    #[error("{0} has no conversation yet")]
    NotPlaced(String),
    #[error("the file of {0} is being handled by another worker")]
    InProgressElsewhere(String),
}

impl From<TruthError> for FileWorkerError {
    fn from(err: TruthError) -> Self {
        match err {
            TruthError::Ccai(err) => FileWorkerError::Ccai(err),
            TruthError::Store(err) => FileWorkerError::Store(err),
        }
    }
}

impl FileWorker {
    pub fn new(
        store: Arc<dyn StateStore>,
        blobs: Arc<dyn BlobStore>,
        storage: Arc<dyn ExternalStorage>,
        ccai: Arc<CcaiClient>,
        kustomer: Arc<KustomerClient>,
    ) -> Self {
        Self {
            status: StatusService::new(
                store.clone(),
                ccai.clone(),
                kustomer.clone(),
                DEFAULT_LEASE,
            ),
            store,
            blobs,
            storage,
            exported: Default::default(),
            ccai,
            kustomer,
            caller_country: CountryCode::default(),
            // Fed by SQS: failures go to the scheduled retries at once.
            failures: crate::stream::failures::FailurePlan::queued(),
            max_attachment_bytes: super::attached_file::DEFAULT_MAX_ATTACHMENT_MIB * 1024 * 1024,
        }
    }

    /// How long its audit entries are kept (`AUDIT_DAYS`).
    pub fn keeping_audit_for(mut self, kept: std::time::Duration) -> Self {
        self.failures.audit_kept = kept;
        self
    }

    /// Shadow mode (R-F-2): a file found is noted as what would be attached, and not waited
    /// for any more; `None` in live mode. The reason says so.
    pub async fn shadow_file(
        &self,
        session: &SessionRef,
        data_type: &str,
        name: &str,
        now: UnixMillis,
    ) -> Result<Option<String>, FileWorkerError> {
        if self.kustomer.writes() {
            return Ok(None);
        }
        crate::shadow::plan::note_file(self.store.as_ref(), session, data_type, name, now).await?;
        Ok(Some(format!("shadow mode: would attach {name}")))
    }

    /// Live mode: a session that ended in shadow mode is left alone unless an admin resyncs
    /// it (switching shadow off replays no backlog into Kustomer); the wait for its `file`
    /// ends then, so no look goes on for it and no "no file" is recorded a day later.
    pub async fn left_to_shadow(
        &self,
        trigger: &crate::events::SessionTrigger,
        file: AwaitedFile,
        now: UnixMillis,
    ) -> Result<bool, FileWorkerError> {
        let left = self.kustomer.writes()
            && !super::report::is_resync(trigger)
            && crate::shadow::planned_only(self.store.as_ref(), &trigger.session, now).await?;
        if left {
            awaited::file_found(self.store.as_ref(), &trigger.session, file).await?;
        }
        Ok(left)
    }

    /// Attaching files of at most `bytes` (`MAX_ATTACHMENT_MIB`).
    pub fn attaching_at_most(mut self, bytes: u64) -> Self {
        self.max_attachment_bytes = bytes;
        self
    }

    /// Exporting only these data types (`EXTERNAL_STORAGE_FILES`).
    pub fn exporting(mut self, exported: crate::storage::ExportedTypes) -> Self {
        self.exported = exported;
        self
    }

    /// With national caller numbers read in `country` (`DEFAULT_COUNTRY`).
    pub fn reading_numbers_in(mut self, country: CountryCode) -> Self {
        self.caller_country = country;
        self
    }

    /// The contact-sync step, shared with the inbox worker.
    pub fn contact(&self) -> ContactSync<'_> {
        ContactSync {
            store: self.store.as_ref(),
            kustomer: &self.kustomer,
            ccai: &self.ccai,
            status: &self.status,
            country: &self.caller_country,
            audit_kept: self.failures.audit_kept,
        }
    }

    /// The session's Manager API object, as a file worker needs it: any that shows the session
    /// ended (`truth`).
    pub async fn session_truth(
        &self,
        session: &SessionRef,
        now: UnixMillis,
    ) -> Result<Truth, FileWorkerError> {
        Ok(
            super::truth::session_truth(self.store.as_ref(), &self.ccai, session, Need::Ended, now)
                .await?,
        )
    }

    /// The session as the inbox worker sees it: the Manager API object with the latest ESE
    /// item kept for it (R-E-5).
    pub async fn session_view(
        &self,
        session: &SessionRef,
        now: UnixMillis,
    ) -> Result<SessionView, FileWorkerError> {
        // A file worker reads only what an ended session no longer changes (truth.rs).
        let view = self.session_truth(session, now).await?.view();
        let ese = kept_ese_item(self.store.as_ref(), session.kind, session.id, now)
            .await
            .map_err(ContactError::from)?;
        Ok(view.with_ese(ese.as_ref()))
    }

    /// A file not in external storage (yet): the session waits for it (R-E-6), unless its wait
    /// already ended. Answers why the trigger did nothing.
    pub async fn wait_for(
        &self,
        session: &SessionRef,
        file: AwaitedFile,
        now: UnixMillis,
    ) -> Result<String, FileWorkerError> {
        let progress = self
            .store
            .get(&awaited::progress_key(session, file), now)
            .await?;
        if let Some(reason) = progress.as_ref().and_then(|p| awaited::is_final(&p.body)) {
            return Ok(reason.to_owned());
        }
        awaited::await_file(self.store.as_ref(), session, file, now).await?;
        tracing::info!(
            kind = session.kind.as_str(),
            id = session.id,
            file = file.as_str(),
            "not in external storage yet; waiting for it"
        );
        Ok(format!(
            "waiting for the {} in external storage",
            file.as_str()
        ))
    }

    /// Attaches `file` in the session's conversation; when its note finds the conversation
    /// gone from Kustomer (deleted or merged away after the bridge placed the session), the
    /// session is placed again and the note written in the new conversation, once — the
    /// file is not fetched or uploaded again (its progress keeps both).
    pub async fn attach_in_session<F, Fut>(
        &self,
        view: &SessionView,
        mut file: FileToAttach,
        source: F,
        now: UnixMillis,
    ) -> Result<AttachOutcome, FileWorkerError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<crate::blob::ByteStream, AttachError>>,
    {
        // Boxed: a contact-sync pass is a large future, and this one holds two attaches.
        match Box::pin(self.attached_file().attach(&file, source, now)).await {
            Err(AttachError::ConversationGone { conversation_id }) => {
                tracing::warn!("the session's conversation is gone from Kustomer; placed again");
                let contact = self.contact();
                if !contact
                    .conversation_gone(view, &conversation_id, now)
                    .await?
                {
                    return Err(AttachError::ConversationGone { conversation_id }.into());
                }
                file.conversation_id = Box::pin(contact.conversation_of(view, now))
                    .await?
                    .ok_or_else(|| FileWorkerError::NotPlaced(view.external_id()))?;
                // Stored and uploaded already (the gone note is step 3): no source is read.
                let stored = || async {
                    Err(AttachError::Source {
                        message: "the file was stored already".into(),
                        retryable: true,
                    })
                };
                Ok(Box::pin(self.attached_file().attach(&file, stored, now)).await?)
            }
            answer => Ok(answer?),
        }
    }

    /// The resumable bucket → attachment → note flow.
    pub fn attached_file(&self) -> AttachedFile<'_> {
        AttachedFile {
            store: self.store.as_ref(),
            blobs: self.blobs.as_ref(),
            kustomer: &self.kustomer,
            max_bytes: self.max_attachment_bytes,
        }
    }
}
