//! External storage as a local folder (the demo's stand-in for the tenant's bucket).

use super::{ExternalStorage, StoredFile, object_key};
use crate::blob::{BlobDownload, BlobError, BlobMeta};
use async_trait::async_trait;
use futures::StreamExt;
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct FsExternalStorage {
    root: PathBuf,
    prefix: String,
}

impl FsExternalStorage {
    pub fn new(root: impl Into<PathBuf>, prefix: &str) -> Self {
        Self {
            root: root.into(),
            prefix: prefix.to_owned(),
        }
    }

    fn path(&self, name: &str) -> Result<PathBuf, BlobError> {
        let key = object_key(&self.prefix, name);
        if key.split('/').any(|part| part == ".." || part.is_empty()) {
            return Err(BlobError::InvalidKey {
                key,
                reason: "empty or parent path segment",
            });
        }
        Ok(self.root.join(key))
    }

    fn backend(operation: &'static str, key: &str, err: std::io::Error) -> BlobError {
        BlobError::Backend {
            operation,
            key: key.to_owned(),
            message: err.to_string(),
            retryable: true,
        }
    }
}

#[async_trait]
impl ExternalStorage for FsExternalStorage {
    async fn stat(&self, name: &str) -> Result<Option<StoredFile>, BlobError> {
        let path = self.path(name)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(Some(StoredFile {
                meta: BlobMeta {
                    size: meta.len(),
                    content_type: None,
                },
                generation: meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_nanos().to_string()),
                modified_ms: meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .and_then(|d| i64::try_from(d.as_millis()).ok()),
            })),
            Ok(_) => Ok(None),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(Self::backend("stat", name, err)),
        }
    }

    async fn open(&self, name: &str) -> Result<BlobDownload, BlobError> {
        let path = self.path(name)?;
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::NotFound {
                    key: name.to_owned(),
                });
            }
            Err(err) => return Err(Self::backend("open", name, err)),
        };
        let size = file
            .metadata()
            .await
            .map_err(|e| Self::backend("open", name, e))?
            .len();
        let body = tokio_util::io::ReaderStream::new(file).boxed();
        Ok(BlobDownload {
            meta: BlobMeta {
                size,
                content_type: None,
            },
            body,
        })
    }

    async fn list(&self, start: &str) -> Result<Vec<String>, BlobError> {
        let folder = self.root.join(self.prefix.trim_matches('/'));
        let mut entries = match tokio::fs::read_dir(&folder).await {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(Self::backend("list", start, err)),
        };
        let mut names = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| Self::backend("list", start, e))?
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(start) && !name.starts_with('.') {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn describe(&self) -> String {
        format!("folder {}", self.root.join(&self.prefix).display())
    }
}
