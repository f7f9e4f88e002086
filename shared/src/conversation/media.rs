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
use crate::storage::{DataType, FileKind, classify};
use crate::store::{ItemKey, Once, run_once};
use std::time::Duration;

/// How long one media file's claim protects its attach: the files function's timeout
/// (template.yaml), the longest a run holding it can last.
const MEDIA_CLAIM_FOR: Duration = Duration::from_secs(300);
const REMEMBER_FOR: Duration = Duration::from_secs(14 * 24 * 3600);

/// A file's own name, without the folders above it.
fn base_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

impl FileWorker {
    /// The session's photo and video files present in external storage: the pushed object
    /// when the trigger names one of them, and those of the flat layout (H); none when the
    /// tenant does not export media.
    pub async fn media_names(
        &self,
        session: &SessionRef,
        pushed: Option<&str>,
    ) -> Result<Vec<String>, FileWorkerError> {
        if !self.exported.has(DataType::Media) {
            return Ok(Vec::new());
        }
        let stem = format!("{}-{}-", session.kind.as_str(), session.id);
        let mut names = self.storage.list(&format!("{stem}photo-")).await?;
        names.extend(self.storage.list(&format!("{stem}video-")).await?);
        names.retain(|name| {
            classify(name).is_some_and(|f| {
                matches!(f.kind, FileKind::Photo { .. } | FileKind::Video { .. })
                    && f.session.as_ref() == Some(session)
            })
        });
        if let Some(pushed) = pushed.filter(|name| {
            classify(name).is_some_and(|f| {
                DataType::of(&f.kind) == DataType::Media && f.session.as_ref() == Some(session)
            })
        }) && !names.iter().any(|n| base_name(n) == base_name(pushed))
        {
            names.push(pushed.to_owned());
        }
        Ok(names)
    }

    /// The session's photos and videos, each attached once; answers how many there are and
    /// how many this call attached. Costs two narrow listings when there are none.
    pub async fn attach_session_media(
        &self,
        session: &SessionRef,
        pushed: Option<&str>,
        now: UnixMillis,
    ) -> Result<(usize, usize), FileWorkerError> {
        let names = self.media_names(session, pushed).await?;
        if names.is_empty() {
            return Ok((0, 0));
        }
        if !self.kustomer.writes() {
            for name in &names {
                self.shadow_file(session, &format!("media:{name}"), name, now)
                    .await?;
            }
            return Ok((names.len(), 0));
        }
        let view = self.session_view(session, now).await?;
        let attached = self.attach_media(session, &names, &view, now).await?;
        Ok((names.len(), attached))
    }

    /// Attaches each of `names` once, each under a claim of its own: two triggers of one session
    /// (two shards at its end, a push) never both upload and note it (review finding 6).
    /// Answers how many were attached by this call.
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
            let file_name = base_name(name);
            let (label, content_type) = match classify(name).map(|f| f.kind) {
                Some(FileKind::Video { .. }) => ("End-user video", "video/mp4"),
                _ => ("End-user photo", "image/jpeg"),
            };
            let file = FileToAttach {
                progress: ItemKey::new(
                    format!("SESSION#{kind}#{id}"),
                    format!("MEDIA#{file_name}"),
                ),
                blob: BlobKey::media(file_name, created)?,
                content_type: content_type.to_owned(),
                conversation_id: conversation_id.clone(),
                note_body: format!("{label} (SmartAction): {file_name}"),
                note_external_id: format!("ccai-{kind}-{id}-media-{file_name}"),
            };
            let claim = format!("media#{kind}#{id}#{file_name}");
            let once =
                run_once(
                    self.store.as_ref(),
                    &claim,
                    now,
                    MEDIA_CLAIM_FOR,
                    REMEMBER_FOR,
                    || async {
                        let storage = self.storage.clone();
                        self.attach_in_session(
                            view,
                            file,
                            || async move {
                                let download = storage.open(name).await.map_err(|err| {
                                    AttachError::Source {
                                        retryable: crate::Retryable::is_retryable(&err),
                                        message: err.to_string(),
                                    }
                                })?;
                                Ok(download.body)
                            },
                            now,
                        )
                        .await
                    },
                )
                .await?;
            match once {
                Once::Ran(outcome) => attached += usize::from(outcome.noted),
                Once::AlreadyDone => {}
                Once::InProgressElsewhere => {
                    return Err(FileWorkerError::InProgressElsewhere(format!(
                        "{kind} {id}, {file_name}"
                    )));
                }
            }
        }
        Ok(attached)
    }
}
