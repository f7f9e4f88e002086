//! End-user photos and videos a session's SmartActions collected (`call|chat-{id}-photo-{n}.jpg`,
//! `…-video-{n}.mp4` in external storage, ccai-api.md §3): each stored in the files bucket under
//! `media/{yyyy}/{mm}/{dd}/{name}` and attached on a note of its own in the session's
//! conversation, once (R-R-1, R-U-7). A note of its own because a note cannot be given an
//! attachment after it is written (no such call is documented), and the SmartAction's own note
//! may come first, from the metadata file.

use super::{AttachError, FileToAttach, FileWorker, FileWorkerError, SessionView};
use crate::UnixMillis;
use crate::blob::BlobKey;
use crate::events::SessionRef;
use crate::storage::{FileKind, classify};
use crate::store::ItemKey;

impl FileWorker {
    /// The session's photo and video files present in external storage.
    pub async fn media_names(&self, session: &SessionRef) -> Result<Vec<String>, FileWorkerError> {
        let stem = format!("{}-{}-", session.kind.as_str(), session.id);
        let mut names = self.storage.list(&format!("{stem}photo-")).await?;
        names.extend(self.storage.list(&format!("{stem}video-")).await?);
        names.retain(|name| {
            classify(name).is_some_and(|f| {
                matches!(f.kind, FileKind::Photo { .. } | FileKind::Video { .. })
                    && f.session.as_ref() == Some(session)
            })
        });
        Ok(names)
    }

    /// The session's photos and videos, each attached once; answers how many there are and
    /// how many this call attached. Costs two narrow listings when there are none.
    pub async fn attach_session_media(
        &self,
        session: &SessionRef,
        now: UnixMillis,
    ) -> Result<(usize, usize), FileWorkerError> {
        let names = self.media_names(session).await?;
        if names.is_empty() {
            return Ok((0, 0));
        }
        let view = self.session_view(session, now).await?;
        let attached = self.attach_media(session, &names, &view, now).await?;
        Ok((names.len(), attached))
    }

    /// Attaches each of `names` once; answers how many were attached by this call.
    pub async fn attach_media(
        &self,
        session: &SessionRef,
        names: &[String],
        view: &SessionView,
        now: UnixMillis,
    ) -> Result<usize, FileWorkerError> {
        let conversation_id = self
            .contact()
            .conversation_of(view, now)
            .await?
            .ok_or_else(|| FileWorkerError::NotPlaced(view.external_id()))?;
        let created = view.started();
        let (kind, id) = (session.kind.as_str(), session.id);
        let mut attached = 0;
        for name in names {
            let (label, content_type) = match classify(name).map(|f| f.kind) {
                Some(FileKind::Video { .. }) => ("End-user video", "video/mp4"),
                _ => ("End-user photo", "image/jpeg"),
            };
            let file = FileToAttach {
                progress: ItemKey::new(format!("SESSION#{kind}#{id}"), format!("MEDIA#{name}")),
                blob: BlobKey::media(name, created)?,
                content_type: content_type.to_owned(),
                conversation_id: conversation_id.clone(),
                note_body: format!("{label} (SmartAction): {name}"),
                note_external_id: format!("ccai-{kind}-{id}-media-{name}"),
            };
            let storage = self.storage.clone();
            let outcome = self
                .attached_file()
                .attach(
                    &file,
                    || async move {
                        let download =
                            storage
                                .open(name)
                                .await
                                .map_err(|err| AttachError::Source {
                                    retryable: crate::Retryable::is_retryable(&err),
                                    message: err.to_string(),
                                })?;
                        Ok(download.body)
                    },
                    now,
                )
                .await?;
            attached += usize::from(outcome.noted);
        }
        Ok(attached)
    }
}
