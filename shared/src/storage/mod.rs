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
mod jwt_ring;
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
    /// When the object was last written (epoch ms), when the store says.
    pub modified_ms: Option<i64>,
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

/// A small file (a transcript, a metadata file) read whole, refused over `limit` bytes — by
/// its stated size, and again while reading (review S15: a size the storage misstates never
/// makes the worker hold more than `limit`).
pub async fn read_whole(
    storage: &dyn ExternalStorage,
    name: &str,
    limit: u64,
) -> Result<Vec<u8>, BlobError> {
    use futures::StreamExt;
    let too_large = || BlobError::TooLarge {
        key: name.to_owned(),
        limit,
    };
    let mut download = storage.open(name).await?;
    if download.meta.size > limit {
        return Err(too_large());
    }
    let mut whole = Vec::with_capacity(usize::try_from(download.meta.size).unwrap_or(0));
    while let Some(chunk) = download.body.next().await {
        let chunk = chunk.map_err(|source| BlobError::Source {
            key: name.to_owned(),
            bytes_read: whole.len() as u64,
            source,
        })?;
        if (whole.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        whole.extend_from_slice(&chunk);
    }
    Ok(whole)
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

    /// Storage whose stated size is `stated` whatever the body holds.
    struct Misstated {
        stated: u64,
        body: Vec<u8>,
    }

    #[async_trait]
    impl ExternalStorage for Misstated {
        async fn stat(&self, _: &str) -> Result<Option<StoredFile>, BlobError> {
            Ok(None)
        }
        async fn open(&self, _: &str) -> Result<BlobDownload, BlobError> {
            let chunks: Vec<std::io::Result<bytes::Bytes>> = self
                .body
                .chunks(1024)
                .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
                .collect();
            Ok(BlobDownload {
                meta: BlobMeta {
                    size: self.stated,
                    content_type: None,
                },
                body: Box::pin(futures::stream::iter(chunks)),
            })
        }
        async fn list(&self, _: &str) -> Result<Vec<String>, BlobError> {
            Ok(Vec::new())
        }
        fn describe(&self) -> String {
            "misstated".into()
        }
    }

    #[tokio::test]
    async fn s15_a_file_is_refused_over_its_limit_while_read_whatever_its_stated_size() {
        let fits = Misstated {
            stated: 10,
            body: vec![b'x'; 4096],
        };
        assert_eq!(read_whole(&fits, "t", 4096).await.unwrap().len(), 4096);
        let lies = Misstated {
            stated: 10,
            body: vec![b'x'; 4097],
        };
        assert!(matches!(
            read_whole(&lies, "t", 4096).await,
            Err(BlobError::TooLarge { limit: 4096, .. })
        ));
        let says = Misstated {
            stated: 5000,
            body: Vec::new(),
        };
        assert!(matches!(
            read_whole(&says, "t", 4096).await,
            Err(BlobError::TooLarge { .. })
        ));
    }

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
