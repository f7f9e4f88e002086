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

    async fn list(&self, start: &str) -> Result<Vec<String>, BlobError> {
        self.inner.list(start).await
    }

    fn describe(&self) -> String {
        format!("watched {}", self.inner.describe())
    }
}

/// Plays Google's side of a bucket notification: a local signing key whose JWKS it serves
/// over HTTP (the bridge's `GOOGLE_JWKS_URL` in tests), and Pub/Sub push requests signed with
/// it. The key is test material (`tests/fixtures`), trusted by nothing deployed.
pub struct StoragePusher {
    pub jwks_url: String,
    pub audience: String,
    pub service_account: String,
    pub bucket: String,
    key: jsonwebtoken::EncodingKey,
    kid: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StoragePusher {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// What the token of one push says (to make bad ones).
#[derive(Clone, Debug)]
pub struct TokenClaims {
    pub audience: String,
    pub email: String,
    pub email_verified: bool,
    pub issuer: String,
    /// Seconds from now; negative = expired.
    pub expires_in: i64,
}

impl StoragePusher {
    pub async fn start(bucket: &str) -> Self {
        let jwk: serde_json::Value =
            serde_json::from_str(include_str!("../fixtures/storage-push-test-jwk.json"))
                .unwrap_or_default();
        let kid = jwk["kid"].as_str().unwrap_or_default().to_owned();
        let jwks = serde_json::json!({ "keys": [jwk] });
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
        let key = jsonwebtoken::EncodingKey::from_rsa_der(include_bytes!(
            "../fixtures/storage-push-test-key.der"
        ));
        Self {
            jwks_url: format!("http://127.0.0.1:{port}/oauth2/v3/certs"),
            audience: "https://bridge.example.com/webhooks/storage".into(),
            service_account: "push@tenant-project.iam.gserviceaccount.com".into(),
            bucket: bucket.to_owned(),
            key,
            kid,
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
        }
    }

    pub fn good_claims(&self) -> TokenClaims {
        TokenClaims {
            audience: self.audience.clone(),
            email: self.service_account.clone(),
            email_verified: true,
            issuer: "https://accounts.google.com".into(),
            expires_in: 3600,
        }
    }

    /// A signed token with these claims.
    pub fn token(&self, claims: &TokenClaims) -> String {
        let now = chrono::Utc::now().timestamp();
        let body = serde_json::json!({"aud": claims.audience, "iss": claims.issuer,
            "email": claims.email, "email_verified": claims.email_verified,
            "iat": now - 10, "exp": now + claims.expires_in, "sub": "1234567890"});
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        match jsonwebtoken::encode(&header, &body, &self.key) {
            Ok(token) => token,
            Err(err) => panic!("signing a test token: {err}"),
        }
    }

    /// The push envelope for an object of the bucket.
    pub fn envelope(&self, object: &str, generation: u64) -> serde_json::Value {
        serde_json::json!({"message": {"attributes": {"bucketId": self.bucket, "objectId": object,
            "objectGeneration": generation.to_string(), "eventType": "OBJECT_FINALIZE",
            "payloadFormat": "JSON_API_V1"}, "data": "e30=", "messageId": generation.to_string(),
            "publishTime": chrono::Utc::now().to_rfc3339()},
            "subscription": "projects/tenant-project/subscriptions/bridge-storage"})
    }
}
