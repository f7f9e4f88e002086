//! Where a session's file is in the tenant's external storage. The documented layout is flat
//! names under one folder (ccai-api.md §3, 2026-12-03, H), and a pushed object is opened by the
//! key the push names, wherever it is (M): the push's key is remembered for the session
//! (`SESSION#<kind>#<id>/OBJECT#<type>`), so a later trigger without it — the session's end on
//! another shard, a scheduled look — opens the same object instead of missing it (review
//! finding 3).

use super::{DataType, ExternalStorage, StoredFile, classify, files};
use crate::blob::BlobError;
use crate::events::SessionRef;
use crate::store::{DocumentStore, Item, ItemKey, StoreError};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("external storage: {0}")]
    Storage(#[from] BlobError),
}

fn location_key(session: &SessionRef, data: DataType) -> ItemKey {
    ItemKey::new(
        format!("SESSION#{}#{}", session.kind.as_str(), session.id),
        format!("OBJECT#{}", data.as_str()),
    )
}

/// The flat names a session's file of `data` type may have, in the order looked for.
fn flat_names(session: &SessionRef, data: DataType) -> Vec<String> {
    match data {
        DataType::Recordings | DataType::Transcripts => files::expected_names(session),
        DataType::Metadata => vec![files::metadata_name(session)],
        // Media are listed, not named.
        DataType::Media => Vec::new(),
    }
}

/// Whether `name` is a file of `data` type that may belong to `session` (a `metadata-{id}.json`
/// name does not say call or chat: its content is checked by the reader).
fn names_session(name: &str, session: &SessionRef, data: DataType) -> bool {
    classify(name).is_some_and(|file| {
        DataType::of(&file.kind) == data
            && match (&file.session, file.metadata_id) {
                (Some(of), _) => of == session,
                (None, Some(id)) => id == session.id,
                (None, None) => false,
            }
    })
}

/// The session's file of `data` type, when it is there: the object `pushed` names (when it is
/// one of the session's files of that type), else where an earlier push said, else the flat
/// names. `None` while it is not there (yet).
pub async fn locate(
    store: &dyn DocumentStore,
    storage: &dyn ExternalStorage,
    session: &SessionRef,
    data: DataType,
    pushed: Option<&str>,
    now: crate::UnixMillis,
) -> Result<Option<(String, StoredFile)>, LocateError> {
    let key = location_key(session, data);
    let mut candidates = Vec::new();
    match pushed.filter(|name| names_session(name, session, data)) {
        Some(name) => {
            store.put(&Item::new(key, json!({"name": name}))).await?;
            candidates.push(name.to_owned());
        }
        None => {
            if let Some(known) = store.get(&key, now).await?
                && let Some(name) = known.body.get("name").and_then(|n| n.as_str())
            {
                candidates.push(name.to_owned());
            }
        }
    }
    for name in flat_names(session, data) {
        if !candidates.contains(&name) {
            candidates.push(name);
        }
    }
    for name in candidates {
        if let Some(found) = storage.stat(&name).await? {
            return Ok(Some((name, found)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::events::SessionKind;
    use crate::storage::FsExternalStorage;
    use crate::store::EmbeddedStore;

    const CALL: SessionRef = SessionRef {
        kind: SessionKind::Call,
        id: 1917,
    };

    #[tokio::test]
    async fn finding_3_r_e_6_a_pushed_key_is_opened_and_remembered_wherever_it_is() {
        let root = std::env::temp_dir().join(format!("locate-{}", uuid::Uuid::new_v4()));
        let dated = root.join("ccai/2026/12/02");
        std::fs::create_dir_all(&dated).unwrap();
        std::fs::write(dated.join("call-1917.mp3"), b"ID3").unwrap();
        let storage = FsExternalStorage::new(&root, "ccai");
        let store = EmbeddedStore::new();
        let now = crate::UnixMillis(1);
        let data = DataType::Recordings;
        // The flat look alone does not find it.
        assert!(
            locate(&store, &storage, &CALL, data, None, now)
                .await
                .unwrap()
                .is_none()
        );
        // A push of another session's file, or of another type, teaches nothing.
        for other in ["2026/12/02/call-1918.mp3", "2026/12/02/metadata-1917.json"] {
            assert!(
                locate(&store, &storage, &CALL, data, Some(other), now)
                    .await
                    .unwrap()
                    .is_none()
            );
        }
        let pushed = "2026/12/02/call-1917.mp3";
        let (name, _) = locate(&store, &storage, &CALL, data, Some(pushed), now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(name, pushed);
        // Later triggers without the key find it where the push said.
        let (name, _) = locate(&store, &storage, &CALL, data, None, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(name, pushed);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
