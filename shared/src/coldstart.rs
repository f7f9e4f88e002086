//! What every function builds once at cold start: configuration (secrets from SSM), the state
//! store, and the two platform clients.

use crate::ccai::CcaiClient;
use crate::config::{BridgeConfig, ConfigError, Env, SsmParameterStore};
use crate::http::{HttpSettings, RetryPolicy, build_client, build_download_client};
use crate::kustomer::KustomerClient;
use crate::store::{DynamoStore, StateStore};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ColdStartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("blob store: {0}")]
    Blob(#[from] crate::blob::BlobError),
}

pub struct ColdStart {
    pub config: BridgeConfig,
    pub store: Arc<dyn StateStore>,
    pub ccai: Arc<CcaiClient>,
    pub kustomer: Arc<KustomerClient>,
    /// The files bucket (recordings, transcripts).
    pub blobs: Arc<dyn crate::blob::BlobStore>,
}

impl ColdStart {
    /// Reads the environment (and SSM parameters) and builds the adapters.
    pub async fn from_environment() -> Result<Self, ColdStartError> {
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let parameters = SsmParameterStore::new(aws_sdk_ssm::Client::new(&aws));
        let config = BridgeConfig::load(&Env::from_process(), Some(&parameters)).await?;
        let http = build_client(HttpSettings::default())?;
        let downloads = build_download_client(HttpSettings::default())?;
        let blobs = Arc::new(crate::blob::S3BlobStore::new(
            crate::blob::s3_client(&aws),
            config.bucket_name.clone(),
            crate::blob::S3BlobStoreOptions::default(),
        )?);
        Ok(Self {
            blobs,
            store: Arc::new(DynamoStore::new(
                aws_sdk_dynamodb::Client::new(&aws),
                config.table_name.clone(),
            )),
            ccai: Arc::new(CcaiClient::new(
                &config.ccai,
                http.clone(),
                downloads,
                RetryPolicy::default(),
            )),
            kustomer: Arc::new(KustomerClient::new(
                &config.kustomer,
                http,
                RetryPolicy::default(),
            )),
            config,
        })
    }
}
