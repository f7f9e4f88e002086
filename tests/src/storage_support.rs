//! External storage as tests need it: a wrapper that counts reads and can cut a body short
//! (the connection to the tenant's bucket breaking half-way).

use async_trait::async_trait;
use bridge_shared::blob::{BlobDownload, BlobError};
use bridge_shared::storage::{ExternalStorage, StoredFile};
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

pub struct WatchedStorage {
    inner: Arc<dyn ExternalStorage>,
    opens: AtomicUsize,
    /// Bodies end with an error after this many bytes (0: no cut).
    cut_after: AtomicU64,
}

impl WatchedStorage {
    pub fn new(inner: Arc<dyn ExternalStorage>) -> Self {
        Self {
            inner,
            opens: AtomicUsize::new(0),
            cut_after: AtomicU64::new(0),
        }
    }

    /// How many objects were opened for reading.
    pub fn opens(&self) -> usize {
        self.opens.load(Ordering::SeqCst)
    }

    pub fn cut_after(&self, bytes: Option<u64>) {
        self.cut_after.store(bytes.unwrap_or(0), Ordering::SeqCst);
    }
}

#[async_trait]
impl ExternalStorage for WatchedStorage {
    async fn stat(&self, name: &str) -> Result<Option<StoredFile>, BlobError> {
        self.inner.stat(name).await
    }

    async fn open(&self, name: &str) -> Result<BlobDownload, BlobError> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        let download = self.inner.open(name).await?;
        let cut = self.cut_after.load(Ordering::SeqCst);
        if cut == 0 {
            return Ok(download);
        }
        let mut sent = 0u64;
        let body = download
            .body
            .map(move |chunk| {
                let chunk = chunk?;
                if sent + chunk.len() as u64 > cut {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "connection to external storage reset",
                    ));
                }
                sent += chunk.len() as u64;
                Ok(chunk)
            })
            .boxed();
        Ok(BlobDownload {
            meta: download.meta,
            body,
        })
    }

    fn describe(&self) -> String {
        format!("watched {}", self.inner.describe())
    }
}
