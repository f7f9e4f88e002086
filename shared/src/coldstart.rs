//! What every function builds once at cold start: configuration (secrets from SSM), the state
//! store, and the two platform clients.

use crate::ccai::CcaiClient;
use crate::config::{BridgeConfig, ConfigError, Env, SsmParameterStore};
use crate::http::{HttpSettings, RetryPolicy, build_client};
use crate::kustomer::KustomerClient;
use crate::pacing::SharedPacer;
use crate::store::{DynamoStore, StateStore};
use std::sync::Arc;
use std::time::Duration;

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
    /// Reads the environment (and the SSM parameters of the `secrets` this function uses:
    /// [`crate::config::secrets`]) and builds the adapters.
    pub async fn from_environment(secrets: &[&'static str]) -> Result<Self, ColdStartError> {
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let parameters = SsmParameterStore::new(aws_sdk_ssm::Client::new(&aws));
        let env = Env::from_process();
        let config = BridgeConfig::load_with(&env, Some(&parameters), secrets).await?;
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
        let store: Arc<dyn StateStore> = Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&aws),
            config.table_name.clone(),
        ));
        let mut ccai = CcaiClient::new(&config.ccai, http.clone(), RetryPolicy::default());
        let mut kustomer = KustomerClient::new(&config.kustomer, http, RetryPolicy::default());
        if config.shared_pacing {
            // CCAI: 10 per 1.1 s, the margin the process's own limiter keeps (the platform
            // counts arrivals); Kustomer: the org's budget a minute.
            ccai = ccai.paced_by(Arc::new(SharedPacer::new(
                store.clone(),
                &format!("ccai#{}", config.ccai.base_url),
                10,
                Duration::from_millis(1100),
            )));
            kustomer = kustomer.paced_by(Arc::new(SharedPacer::new(
                store.clone(),
                &format!("kustomer#{}", config.kustomer.base_url),
                config.kustomer_requests_per_minute,
                Duration::from_secs(60),
            )));
        }
        Ok(Self {
            blobs,
            external,
            store,
            ccai: Arc::new(ccai),
            kustomer: Arc::new(kustomer),
            config,
        })
    }
}
