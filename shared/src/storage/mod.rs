//! The tenant's external storage (ccai-api.md §3): where CCAI Platform writes recordings, chat
//! transcripts, session metadata and end-user uploads. Read-only for the bridge.
//!
//! - [`files`]: the documented file names, recognised at any folder depth.
//! - [`ExternalStorage`]: the port — look at an object, stream it; names are relative to the
//!   configured folder prefix.
//! - [`S3ExternalStorage`]: Cloud Storage through its S3-compatible XML API with HMAC keys
//!   (endpoint `https://storage.googleapis.com`, region `auto`, path-style, checksums only when
//!   required — Cloud Storage rejects the SDK's default checksum headers), or an S3 bucket (a
//!   tenant exporting over SFTP to AWS Transfer Family), with the function's role.
//! - [`FsExternalStorage`]: a folder, for the local demo.

pub mod awaited;
pub mod exported;
pub mod files;
mod fs;
pub mod locate;
pub mod metadata;
pub mod push;
mod s3;

pub use exported::{DataType, ExportedTypes};
pub use files::{FileKind, SessionFile, classify};
pub use fs::FsExternalStorage;
pub use locate::{LocateError, locate};
pub use s3::{ExternalStorageSettings, S3ExternalStorage};

use crate::blob::{BlobDownload, BlobError, BlobMeta};
use async_trait::async_trait;

/// What is known about an object without reading it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFile {
    pub meta: BlobMeta,
    /// Changes when the object is rewritten (Cloud Storage's generation, S3's ETag): a new
    /// generation of a metadata file is a new fact.
    pub generation: Option<String>,
}

#[async_trait]
pub trait ExternalStorage: Send + Sync {
    /// The object `name` (below the prefix), or `None` when it is not there (yet).
    async fn stat(&self, name: &str) -> Result<Option<StoredFile>, BlobError>;

    /// Streams the object `name`.
    async fn open(&self, name: &str) -> Result<BlobDownload, BlobError>;

    /// The names (below the prefix) that start with `start` — a narrow prefix such as
    /// `call-1917-photo-`, never the whole bucket.
    async fn list(&self, start: &str) -> Result<Vec<String>, BlobError>;

    /// Where the storage is, for logs and health (no secrets).
    fn describe(&self) -> String;
}

/// A small file (a transcript, a metadata file) read whole, refused over `limit` bytes.
pub async fn read_whole(
    storage: &dyn ExternalStorage,
    name: &str,
    limit: u64,
) -> Result<Vec<u8>, BlobError> {
    use futures::TryStreamExt;
    let download = storage.open(name).await?;
    if download.meta.size > limit {
        return Err(BlobError::TooLarge {
            key: name.to_owned(),
            limit,
        });
    }
    let chunks: Vec<bytes::Bytes> =
        download
            .body
            .try_collect()
            .await
            .map_err(|source| BlobError::Source {
                key: name.to_owned(),
                bytes_read: 0,
                source,
            })?;
    Ok(chunks.concat())
}

/// The name of object `key` below `prefix` (what the port's calls take), or `None` when the
/// object is not under the prefix: CCAI writes only below the configured folder.
pub fn below_prefix<'k>(prefix: &str, key: &'k str) -> Option<&'k str> {
    let prefix = prefix.trim_matches('/');
    let key = key.trim_start_matches('/');
    if prefix.is_empty() {
        return Some(key);
    }
    key.strip_prefix(prefix)?
        .strip_prefix('/')
        .filter(|name| !name.is_empty())
}

/// `prefix/name`, without doubled or leading slashes.
pub fn object_key(prefix: &str, name: &str) -> String {
    let prefix = prefix.trim_matches('/');
    let name = name.trim_start_matches('/');
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_taken_below_the_prefix_only() {
        assert_eq!(below_prefix("", "a/call-1.mp3"), Some("a/call-1.mp3"));
        assert_eq!(
            below_prefix("ccai/", "ccai/2026/call-1.mp3"),
            Some("2026/call-1.mp3")
        );
        assert_eq!(below_prefix("ccai", "ccaix/call-1.mp3"), None);
        assert_eq!(below_prefix("ccai", "other/call-1.mp3"), None);
    }

    #[test]
    fn keys_join_the_prefix_once() {
        assert_eq!(object_key("", "call-1.mp3"), "call-1.mp3");
        assert_eq!(object_key("ccai/", "call-1.mp3"), "ccai/call-1.mp3");
        assert_eq!(
            object_key("/ccai/exports", "/call-1.mp3"),
            "ccai/exports/call-1.mp3"
        );
    }
}
