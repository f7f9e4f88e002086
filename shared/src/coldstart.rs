//! What every function builds once at cold start: configuration (secrets from SSM), the state
//! store, and the two platform clients.

use crate::ccai::CcaiClient;
use crate::config::{BridgeConfig, ConfigError, Env, SsmParameterStore};
use crate::http::{HttpSettings, RetryPolicy, build_client};
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
    /// The tenant's external storage (`EXTERNAL_STORAGE_*`), when configured.
    pub external: Option<Arc<dyn crate::storage::ExternalStorage>>,
}

impl ColdStart {
    /// Reads the environment (and SSM parameters) and builds the adapters.
    pub async fn from_environment() -> Result<Self, ColdStartError> {
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let parameters = SsmParameterStore::new(aws_sdk_ssm::Client::new(&aws));
        let env = Env::from_process();
        let config = BridgeConfig::load(&env, Some(&parameters)).await?;
        let external = crate::storage::ExternalStorageSettings::from_env(&env, Some(&parameters))
            .await?
            .map(|settings| {
                Arc::new(crate::storage::S3ExternalStorage::new(&aws, &settings))
                    as Arc<dyn crate::storage::ExternalStorage>
            });
        let http = build_client(HttpSettings::default())?;
        let blobs = Arc::new(crate::blob::S3BlobStore::new(
            crate::blob::s3_client(&aws),
            config.bucket_name.clone(),
            crate::blob::S3BlobStoreOptions::default(),
        )?);
        Ok(Self {
            blobs,
            external,
            store: Arc::new(DynamoStore::new(
                aws_sdk_dynamodb::Client::new(&aws),
                config.table_name.clone(),
            )),
            ccai: Arc::new(CcaiClient::new(
                &config.ccai,
                http.clone(),
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
