//! What a function builds at cold start. [`ColdStart::from_environment`] reads the configuration
//! (the function's secrets from SSM in one batched call, only when some are parameters); each
//! adapter is then built only by the functions that use it ([`ColdStart::store`],
//! [`ColdStart::platforms`], [`ColdStart::blobs`], [`ColdStart::external_storage`]): the intake
//! never builds an HTTP client or an S3 client. bench/RESULTS.md measures what that saves.

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

/// The window Kustomer's budget is spread over: its minute plus the arrival jitter the CCAI
/// schedule keeps too (`ccai::limiter::ARRIVAL_JITTER`), so no sliding minute at Kustomer
/// sees more than the budget (R-E-8).
pub const KUSTOMER_WINDOW: Duration =
    Duration::from_millis(60_000 + crate::ccai::limiter::ARRIVAL_JITTER.as_millis() as u64);

pub struct ColdStart {
    pub config: BridgeConfig,
    env: Env,
    aws: aws_config::SdkConfig,
}

/// The two platform clients, sharing one connection pool.
pub struct Platforms {
    pub ccai: Arc<CcaiClient>,
    pub kustomer: Arc<KustomerClient>,
}

impl ColdStart {
    /// Reads the environment and the SSM parameters of the `secrets` this function uses
    /// ([`crate::config::secrets`]).
    pub async fn from_environment(secrets: &[&'static str]) -> Result<Self, ColdStartError> {
        let aws = crate::aws::load_config().await;
        let env = Env::from_process();
        let config = if secrets
            .iter()
            .any(|name| env.get(&format!("{name}_PARAM")).is_some())
        {
            let parameters = SsmParameterStore::lazy(&aws);
            BridgeConfig::load_with(&env, Some(&parameters), secrets).await?
        } else {
            BridgeConfig::load_with(&env, None, secrets).await?
        };
        Ok(Self { config, env, aws })
    }

    /// A configuration variable as this function's environment has it (settings only its own
    /// crate reads, such as the admin function's `ADMIN_EMAILS`).
    pub fn var(&self, name: &str) -> Option<&str> {
        self.env.get(name)
    }

    /// `BRIDGE_PUBLIC_URL`, checked (an absolute http(s) URL), when set.
    pub fn public_url(&self) -> Result<Option<String>, ColdStartError> {
        Ok(crate::sign_in::settings::public_url(&self.env)?)
    }

    /// `ADMIN_TOKEN`'s accepted tokens (review S11): from SSM (`ADMIN_TOKEN_PARAM`), read
    /// again every few minutes so a revoked token stops working without a redeploy.
    pub fn admin_tokens(&self) -> Result<crate::bearer::RotatingTokens, ColdStartError> {
        use crate::bearer::{BearerTokens, RotatingTokens};
        let tokens = BearerTokens::parse("ADMIN_TOKEN", &self.config.admin_token)?;
        Ok(match self.env.get("ADMIN_TOKEN_PARAM") {
            Some(parameter) => RotatingTokens::from_parameter(
                "ADMIN_TOKEN",
                parameter,
                Arc::new(SsmParameterStore::lazy(&self.aws)),
                tokens,
            ),
            None => RotatingTokens::fixed(tokens),
        })
    }

    /// The state table (its client built on the first call).
    pub fn store(&self) -> Arc<dyn StateStore> {
        Arc::new(DynamoStore::lazy(
            self.aws.clone(),
            self.config.table_name.clone(),
        ))
    }

    /// The shared pacing schedules the platforms' clients use (`SHARED_PACING` on), by
    /// platform; none when each process paces itself.
    pub fn pacing_schedules(&self) -> Vec<(&'static str, String)> {
        if self.config.shared_pacing {
            self.pacing_schedules_of().into()
        } else {
            Vec::new()
        }
    }

    fn pacing_schedules_of(&self) -> [(&'static str, String); 2] {
        [
            (
                "ccai",
                crate::pacing::schedule_name("ccai", &self.config.ccai.base_url),
            ),
            (
                "kustomer",
                crate::pacing::schedule_name("kustomer", &self.config.kustomer.base_url),
            ),
        ]
    }

    /// CCAI Platform's and Kustomer's clients; paced through `store` when `SHARED_PACING` is on.
    pub fn platforms(&self, store: &Arc<dyn StateStore>) -> Result<Platforms, ColdStartError> {
        let config = &self.config;
        let http = build_client(HttpSettings::default())?;
        let mut ccai = CcaiClient::new(&config.ccai, http.clone(), RetryPolicy::default());
        let mut kustomer = KustomerClient::new(&config.kustomer, http, RetryPolicy::default());
        if config.shared_pacing {
            // CCAI: 10 per second plus the arrival jitter, the margin the process's own
            // limiter keeps (the platform counts arrivals); Kustomer: the org's budget a
            // minute, with the same margin.
            let [(_, ccai_schedule), (_, kustomer_schedule)] = self.pacing_schedules_of();
            ccai = ccai.paced_by(Arc::new(SharedPacer::new(
                store.clone(),
                &ccai_schedule,
                crate::ccai::limiter::TENANT_REQUESTS_PER_SECOND as u32,
                crate::ccai::limiter::TENANT_WINDOW,
            )));
            kustomer = kustomer.paced_by(Arc::new(SharedPacer::new(
                store.clone(),
                &kustomer_schedule,
                config.kustomer_requests_per_minute,
                KUSTOMER_WINDOW,
            )));
        }
        if config.mode.is_shadow() {
            // The last guard of shadow mode: whatever path reaches a write, it is not sent.
            ccai = ccai.reading_only();
            kustomer = kustomer.reading_only();
        }
        Ok(Platforms {
            ccai: Arc::new(ccai),
            kustomer: Arc::new(kustomer),
        })
    }

    /// Kustomer's OAuth provider for agent sign-in (R-SEC-1), when configured
    /// ([`crate::sign_in::settings`]), with `BRIDGE_PUBLIC_URL`.
    pub async fn sign_in(
        &self,
    ) -> Result<(Option<crate::sign_in::KustomerOAuth>, Option<String>), ColdStartError> {
        let parameters = SsmParameterStore::lazy(&self.aws);
        let settings = crate::sign_in::settings::oauth_settings(
            &self.env,
            Some(&parameters),
            &self.config.kustomer.base_url,
        )
        .await?;
        let oauth = match settings {
            Some(settings) => Some(crate::sign_in::KustomerOAuth {
                settings,
                http: build_client(HttpSettings::default())?,
            }),
            None => None,
        };
        Ok((oauth, self.public_url()?))
    }

    /// The files bucket (recordings, transcripts).
    pub fn blobs(&self) -> Result<Arc<dyn crate::blob::BlobStore>, ColdStartError> {
        let aws = self.aws.clone();
        Ok(Arc::new(crate::blob::S3BlobStore::new(
            crate::aws::LazyClient::new(move || crate::blob::s3_client(&aws)),
            self.config.bucket_name.clone(),
            crate::blob::S3BlobStoreOptions::default(),
        )?))
    }

    /// A file worker's clients (`bridge-recording`, `bridge-transcript`): the tenant's
    /// external storage (required), the files bucket, both platforms, `DEFAULT_COUNTRY`,
    /// `EXTERNAL_STORAGE_FILES`, `MAX_ATTACHMENT_MIB`.
    pub async fn file_worker(
        &self,
    ) -> Result<crate::conversation::FileWorker, Box<dyn std::error::Error + Send + Sync>> {
        let storage = self.external_storage().await?.ok_or(
            "EXTERNAL_STORAGE_BUCKET is required: files come from the tenant's external storage",
        )?;
        let store = self.store();
        let platforms = self.platforms(&store)?;
        Ok(crate::conversation::FileWorker::new(
            store,
            self.blobs()?,
            storage,
            platforms.ccai,
            platforms.kustomer,
        )
        .reading_numbers_in(self.config.default_country.clone())
        .exporting(self.exported_types()?)
        .attaching_at_most(crate::conversation::attached_file::max_attachment_bytes(
            self.env.get("MAX_ATTACHMENT_MIB"),
        )?)
        .keeping_audit_for(self.audit_kept()?))
    }

    /// `AUDIT_DAYS`: how long the workers' audit entries are kept ([`crate::audit`]).
    pub fn audit_kept(&self) -> Result<Duration, ColdStartError> {
        Ok(crate::audit::kept_for(self.env.get("AUDIT_DAYS"))?)
    }

    /// The file workers' queues (`RECORDING_QUEUE_URL`, `TRANSCRIPT_QUEUE_URL`), both required:
    /// the inbox worker hands every trigger of a session's files to them.
    pub fn file_queues(&self) -> Result<Arc<dyn crate::queue::WorkQueues>, ColdStartError> {
        let url = |queue: crate::queue::FileQueue| self.env.get(queue.url_variable());
        let (Some(recordings), Some(transcripts)) = (
            url(crate::queue::FileQueue::Recordings),
            url(crate::queue::FileQueue::Transcripts),
        ) else {
            let missing = crate::queue::FileQueue::ALL
                .into_iter()
                .filter(|q| url(*q).is_none())
                .map(|q| q.url_variable().to_owned())
                .collect();
            return Err(ConfigError::Missing(missing).into());
        };
        let aws = self.aws.clone();
        Ok(Arc::new(crate::queue::sqs::SqsQueues::new(
            crate::aws::LazyClient::new(move || crate::queue::sqs::sqs_client(&aws)),
            recordings.to_owned(),
            transcripts.to_owned(),
        )))
    }

    /// The data types the tenant exports (`EXTERNAL_STORAGE_FILES`, default all four).
    pub fn exported_types(&self) -> Result<crate::storage::ExportedTypes, ColdStartError> {
        Ok(crate::storage::ExportedTypes::from_env(&self.env)?)
    }

    /// The tenant's external storage (`EXTERNAL_STORAGE_*`), when configured; its HMAC key may
    /// be an SSM parameter.
    pub async fn external_storage(
        &self,
    ) -> Result<Option<Arc<dyn crate::storage::ExternalStorage>>, ColdStartError> {
        let parameters = SsmParameterStore::lazy(&self.aws);
        let settings =
            crate::storage::ExternalStorageSettings::from_env(&self.env, Some(&parameters)).await?;
        Ok(settings.map(|settings| {
            Arc::new(crate::storage::S3ExternalStorage::new(&self.aws, &settings))
                as Arc<dyn crate::storage::ExternalStorage>
        }))
    }
}
