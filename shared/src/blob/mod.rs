//! The blob-store port: recordings and transcripts, streamed in and out.
//!
//! - [`S3BlobStore`]: multipart upload with fixed-size parts, at most two parts in memory (one
//!   uploading while the next fills), the upload aborted on any error; small bodies in one
//!   `PutObject`.
//! - [`FsBlobStore`]: files under a root folder, for the local demo; written to a temporary
//!   file and renamed, so a failed upload leaves nothing behind.
//!
//! Keys are deterministic ([`BlobKey`]): a worker finds an object by computing its key, never by
//! listing a prefix.

mod fs;
mod key;
mod parts;
mod s3;

pub use fs::FsBlobStore;
pub use key::BlobKey;
pub use parts::PartReader;
pub use s3::{DEFAULT_PART_SIZE, MIN_PART_SIZE, S3BlobStore, S3BlobStoreOptions, s3_client};
pub(crate) use s3::{body_stream, classify as classify_s3_error};

use crate::retry::Retryable;
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

/// A body of unknown length, read chunk by chunk.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// What is known about a stored object without reading it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobMeta {
    pub size: u64,
    pub content_type: Option<String>,
}

/// A stored object being read.
pub struct BlobDownload {
    pub meta: BlobMeta,
    pub body: ByteStream,
}

/// How an upload went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadReport {
    pub size: u64,
    /// 0 when the body went in one request, else the number of multipart parts.
    pub parts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("no object at {key}")]
    NotFound { key: String },
    /// The body being uploaded failed (e.g. the recording download broke off).
    #[error("the source of {key} failed after {bytes_read} bytes: {source}")]
    Source {
        key: String,
        bytes_read: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("blob store failed during {operation} on {key}: {message}")]
    Backend {
        operation: &'static str,
        key: String,
        message: String,
        retryable: bool,
    },
    #[error("invalid blob key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    #[error("{0}")]
    InvalidOptions(String),
    #[error("{key} exceeds the largest object this store takes ({limit} bytes)")]
    TooLarge { key: String, limit: u64 },
}

impl Retryable for BlobError {
    fn is_retryable(&self) -> bool {
        match self {
            BlobError::Source { source, .. } => !matches!(
                source.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput
            ),
            BlobError::Backend { retryable, .. } => *retryable,
            BlobError::NotFound { .. }
            | BlobError::InvalidKey { .. }
            | BlobError::InvalidOptions(_)
            | BlobError::TooLarge { .. } => false,
        }
    }
}

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `body` under `key`, replacing what was there. On error nothing is left under the
    /// key that was not there before, and no partial upload lingers.
    async fn upload(
        &self,
        key: &BlobKey,
        content_type: &str,
        body: ByteStream,
    ) -> Result<UploadReport, BlobError>;

    /// Streams the object.
    async fn download(&self, key: &BlobKey) -> Result<BlobDownload, BlobError>;

    /// The object's size and type, or `None` when absent (how a retried worker knows a
    /// recording is already stored).
    async fn stat(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError>;

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;
}
