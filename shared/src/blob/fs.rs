use super::*;
use futures::StreamExt;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Objects as files under a root folder. The content type is not kept (files have none).
#[derive(Clone, Debug)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, key: &BlobKey) -> PathBuf {
        // BlobKey refuses `..`, empty and absolute segments, so this stays under the root.
        self.root.join(key.as_str())
    }
}

fn backend(operation: &'static str, key: &BlobKey, err: std::io::Error) -> BlobError {
    BlobError::Backend {
        operation,
        key: key.to_string(),
        retryable: false,
        message: err.to_string(),
    }
}

async fn write_all(
    key: &BlobKey,
    temporary: &Path,
    mut body: ByteStream,
) -> Result<u64, BlobError> {
    let mut file = tokio::fs::File::create(temporary)
        .await
        .map_err(|err| backend("create", key, err))?;
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|source| BlobError::Source {
            key: key.to_string(),
            bytes_read: size,
            source,
        })?;
        size += chunk.len() as u64;
        file.write_all(&chunk)
            .await
            .map_err(|err| backend("write", key, err))?;
    }
    file.flush()
        .await
        .map_err(|err| backend("flush", key, err))?;
    file.sync_all()
        .await
        .map_err(|err| backend("sync", key, err))?;
    Ok(size)
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn upload(
        &self,
        key: &BlobKey,
        _content_type: &str,
        body: ByteStream,
    ) -> Result<UploadReport, BlobError> {
        let path = self.path(key);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|err| backend("create_dir", key, err))?;
        }
        let temporary = path.with_file_name(format!(
            ".{}.partial-{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("blob"),
            uuid::Uuid::new_v4()
        ));
        match write_all(key, &temporary, body).await {
            Ok(size) => {
                tokio::fs::rename(&temporary, &path)
                    .await
                    .map_err(|err| backend("rename", key, err))?;
                Ok(UploadReport { size, parts: 0 })
            }
            Err(err) => {
                // Best effort: the temporary file is ours alone, and the error that matters is
                // the one being returned.
                let _ = tokio::fs::remove_file(&temporary).await;
                Err(err)
            }
        }
    }

    async fn download(&self, key: &BlobKey) -> Result<BlobDownload, BlobError> {
        let file = match tokio::fs::File::open(self.path(key)).await {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::NotFound {
                    key: key.to_string(),
                });
            }
            Err(err) => return Err(backend("open", key, err)),
        };
        let size = file
            .metadata()
            .await
            .map_err(|err| backend("stat", key, err))?
            .len();
        Ok(BlobDownload {
            meta: BlobMeta {
                size,
                content_type: None,
            },
            body: tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024).boxed(),
        })
    }

    async fn stat(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError> {
        match tokio::fs::metadata(self.path(key)).await {
            Ok(meta) if meta.is_file() => Ok(Some(BlobMeta {
                size: meta.len(),
                content_type: None,
            })),
            Ok(_) => Ok(None),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(backend("stat", key, err)),
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path(key)).await {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(backend("delete", key, err)),
        }
    }
}
