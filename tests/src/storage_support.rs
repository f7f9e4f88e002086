//! External storage as tests need it: a wrapper that counts reads and can cut a body short
//! (the connection to the tenant's bucket breaking half-way).

use crate::pubsub::PushSigner;
pub use crate::pubsub::TokenClaims;
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
    /// Opens wait here while a test holds them.
    gate: std::sync::Mutex<Option<Arc<crate::gate::Gate>>>,
}

impl WatchedStorage {
    pub fn new(inner: Arc<dyn ExternalStorage>) -> Self {
        Self {
            inner,
            opens: AtomicUsize::new(0),
            cut_after: AtomicU64::new(0),
            gate: Default::default(),
        }
    }

    /// Holds every open from now on until the returned gate is opened.
    pub fn hold_opens(&self) -> Arc<crate::gate::Gate> {
        let gate = crate::gate::Gate::closed();
        *self.gate.lock().unwrap_or_else(|p| p.into_inner()) = Some(gate.clone());
        gate
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
        let gate = self.gate.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(gate) = gate {
            gate.pass().await;
        }
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

    async fn list(&self, start: &str) -> Result<Vec<String>, BlobError> {
        self.inner.list(start).await
    }

    fn describe(&self) -> String {
        format!("watched {}", self.inner.describe())
    }
}

/// A JWKS server of its own and signed pushes, for tests of the push route alone (the CCAI
/// sandbox serves the same key and sends its own pushes when a push target is set).
pub struct StoragePusher {
    pub jwks_url: String,
    pub audience: String,
    pub service_account: String,
    pub bucket: String,
    signer: Arc<PushSigner>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StoragePusher {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl StoragePusher {
    /// Google's keys become unreachable (the JWKS server stops).
    pub fn stop_keys(&self) {
        self.server.abort();
    }

    pub async fn start(bucket: &str) -> Self {
        let signer = Arc::new(PushSigner::new());
        let jwks = signer.jwks();
        let app = axum::Router::new().route(
            "/oauth2/v3/certs",
            axum::routing::get(move || {
                let jwks = jwks.clone();
                async move { axum::Json(jwks) }
            }),
        );
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(err) => panic!("no port for the JWKS server: {err}"),
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            jwks_url: format!("http://127.0.0.1:{port}/oauth2/v3/certs"),
            audience: "https://bridge.example.com/webhooks/storage".into(),
            service_account: "push@tenant-project.iam.gserviceaccount.com".into(),
            bucket: bucket.to_owned(),
            signer,
            server,
        }
    }

    /// The settings the bridge is given to accept this pusher.
    pub fn settings(&self) -> bridge_shared::storage::push::PushSettings {
        bridge_shared::storage::push::PushSettings {
            audience: self.audience.clone(),
            service_account: self.service_account.clone(),
            jwks_url: self.jwks_url.clone(),
            bucket: Some(self.bucket.clone()),
            prefix: String::new(),
        }
    }

    pub fn good_claims(&self) -> TokenClaims {
        TokenClaims::google(&self.audience, &self.service_account)
    }

    pub fn token(&self, claims: &TokenClaims) -> String {
        self.signer.token(claims)
    }

    /// The push envelope for an object of the bucket.
    pub fn envelope(&self, object: &str, generation: u64) -> serde_json::Value {
        crate::pubsub::envelope(&self.bucket, object, generation)
    }
}
