//! Both platform sandboxes with real clients pointed at them: where every function test and
//! the demo start.

use crate::ccai_sandbox::{CcaiSandbox, CcaiSandboxOptions, ExportTarget};
use crate::kustomer_sandbox::{KustomerSandbox, SandboxOptions};
use bridge_shared::ccai::CcaiClient;
use bridge_shared::config::Secret;
use bridge_shared::kustomer::KustomerClient;
use bridge_shared::status::sync::{DEFAULT_LEASE, StatusService};
use bridge_shared::storage::{
    ExternalStorage, ExternalStorageSettings, FsExternalStorage, S3ExternalStorage,
};
use bridge_shared::store::StateStore;
use std::sync::Arc;

pub struct SandboxedPlatforms {
    pub ccai: CcaiSandbox,
    pub kustomer: KustomerSandbox,
    /// The tenant's external storage the CCAI sandbox writes its files into (a bucket of its
    /// own in the S3 stand-in, or a folder without one), read the way the bridge reads it.
    pub storage: Arc<dyn ExternalStorage>,
    pub ccai_client: Arc<CcaiClient>,
    pub kustomer_client: Arc<KustomerClient>,
}

/// A write as the sandboxes' logs and the audit both name it: (platform, method, path).
pub type Write = (String, String, String);

impl SandboxedPlatforms {
    /// The lengths of both request logs now: where a later [`Self::writes_since`] starts.
    pub fn log_lengths(&self) -> (usize, usize) {
        (
            self.kustomer.inspect(|w| w.requests.len()),
            self.ccai.requests().len(),
        )
    }

    /// The writes both platforms received since `since` (a search is a read), sorted. The
    /// attachment files' uploads go to their upload URL, outside Kustomer's API and its log.
    pub fn writes_since(&self, since: (usize, usize)) -> Vec<Write> {
        let mut writes: Vec<Write> = self.kustomer.inspect(|w| {
            w.requests[since.0.min(w.requests.len())..]
                .iter()
                .filter(|r| r.method != "GET" && !r.path.ends_with("/search"))
                .map(|r| ("kustomer".to_owned(), r.method.clone(), r.path.clone()))
                .collect()
        });
        let ccai = self.ccai.requests();
        writes.extend(
            ccai[since.1.min(ccai.len())..]
                .iter()
                .filter(|r| r.method != "GET")
                .map(|r| ("ccai".to_owned(), r.method.clone(), r.path.clone())),
        );
        writes.sort();
        writes
    }

    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(CcaiSandboxOptions::default()).await
    }

    /// With the CCAI sandbox's switches set (e.g. where the caller's number is served).
    pub async fn start_with(ccai_options: CcaiSandboxOptions) -> std::io::Result<Self> {
        Self::start_both(ccai_options, SandboxOptions::default()).await
    }

    /// With both sandboxes' switches set.
    pub async fn start_both(
        mut ccai_options: CcaiSandboxOptions,
        kustomer_options: SandboxOptions,
    ) -> std::io::Result<Self> {
        let target = match &ccai_options.external_storage {
            Some(target) => target.clone(),
            None => tenant_bucket().await?,
        };
        ccai_options.external_storage = Some(target.clone());
        let storage = reader(&target, &ccai_options.external_prefix).await;
        let ccai = CcaiSandbox::start(ccai_options).await?;
        let kustomer = KustomerSandbox::start(kustomer_options).await?;
        Ok(Self {
            ccai_client: Arc::new(crate::ccai_support::client(&ccai)),
            kustomer_client: Arc::new(crate::kustomer_support::client(&kustomer)),
            ccai,
            kustomer,
            storage,
        })
    }

    /// Requests either sandbox received for a path its platform does not have. A test that
    /// ends with any has made the bridge send what the real service would refuse.
    pub fn unexpected_requests(&self) -> Vec<String> {
        let mut unexpected = self.ccai.inspect(|w| w.unexpected.clone());
        unexpected.extend(self.kustomer.inspect(|w| w.unexpected.clone()));
        unexpected
    }

    /// An agent both platforms know by `email`, in `ccai_status`; the CCAI agent id.
    /// The Kustomer user id of the agent with this e-mail.
    pub fn kustomer_user(&self, email: &str) -> Option<String> {
        self.kustomer.inspect(|w| {
            w.users
                .iter()
                .find(|u| {
                    u.text("email")
                        .is_some_and(|e| e.eq_ignore_ascii_case(email))
                })
                .map(|u| u.id.clone())
        })
    }

    /// Signs the agent with this e-mail in to the bridge at `bridge_url` through the Kustomer
    /// sandbox's OAuth provider (R-SEC-1); answers the agent session's token.
    pub async fn sign_in(&self, bridge_url: &str, email: &str) -> Result<String, String> {
        let user = self
            .kustomer_user(email)
            .ok_or_else(|| format!("no Kustomer user {email}"))?;
        crate::sign_in_support::sign_in(bridge_url, &self.kustomer.oauth(), &user).await
    }

    pub fn add_agent(&self, email: &str, name: &str, ccai_status: &str) -> u64 {
        self.kustomer.add_user(name, email);
        self.ccai.change(|w| w.add_agent(email, name, ccai_status))
    }

    /// The status service on `store` with these platforms' clients.
    pub fn status_service(&self, store: Arc<dyn StateStore>) -> StatusService {
        StatusService::new(
            store,
            self.ccai_client.clone(),
            self.kustomer_client.clone(),
            DEFAULT_LEASE,
        )
    }

    /// Click-to-call on `store` with these platforms' clients (national numbers read as US).
    pub fn click_to_call(
        &self,
        store: Arc<dyn StateStore>,
    ) -> bridge_shared::click_to_call::ClickToCall {
        bridge_shared::click_to_call::ClickToCall {
            store,
            kustomer: self.kustomer_client.clone(),
            ccai: self.ccai_client.clone(),
            country: Default::default(),
            policy: bridge_shared::click_to_call::policy::CallPolicy::domestic(&Default::default()),
        }
    }
}

/// A bucket of its own in the S3 stand-in playing the tenant's Cloud Storage bucket, when the
/// stand-in runs (`AWS_ENDPOINT_URL_S3`); a folder of its own otherwise (the demo without
/// services).
pub async fn tenant_bucket() -> std::io::Result<ExportTarget> {
    if std::env::var("AWS_ENDPOINT_URL_S3").is_err() {
        return Ok(ExportTarget::Folder(
            std::env::temp_dir().join(crate::unique("tenant-storage")),
        ));
    }
    let client = crate::local::s3_client().await;
    let bucket = crate::unique("tenant");
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .map_err(|err| std::io::Error::other(format!("creating bucket {bucket}: {err:?}")))?;
    Ok(ExportTarget::Bucket { client, bucket })
}

/// The bridge's reader for what the sandbox writes: over the S3 API, as the deployed bridge
/// reads Cloud Storage (path-style, the stand-in's endpoint and keys), or the folder.
pub async fn reader(target: &ExportTarget, prefix: &str) -> Arc<dyn ExternalStorage> {
    match target {
        ExportTarget::Bucket { bucket, .. } => {
            let settings = ExternalStorageSettings {
                bucket: bucket.clone(),
                prefix: prefix.to_owned(),
                endpoint: std::env::var("AWS_ENDPOINT_URL_S3").ok(),
                region: std::env::var("AWS_REGION").ok(),
                access_key_id: std::env::var("AWS_ACCESS_KEY_ID").ok().map(Secret::new),
                secret_access_key: std::env::var("AWS_SECRET_ACCESS_KEY").ok().map(Secret::new),
            };
            let aws = bridge_shared::aws::load_config().await;
            Arc::new(S3ExternalStorage::new(&aws, &settings))
        }
        ExportTarget::Folder(root) => Arc::new(FsExternalStorage::new(root, prefix)),
    }
}
