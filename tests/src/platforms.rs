//! Both platform sandboxes with real clients pointed at them: where every function test and
//! the demo start.

use crate::ccai_sandbox::{CcaiSandbox, CcaiSandboxOptions};
use crate::kustomer_sandbox::{KustomerSandbox, SandboxOptions};
use bridge_shared::ccai::CcaiClient;
use bridge_shared::kustomer::KustomerClient;
use bridge_shared::status::sync::{DEFAULT_LEASE, StatusService};
use bridge_shared::storage::{ExternalStorage, FsExternalStorage};
use bridge_shared::store::StateStore;
use std::sync::Arc;

pub struct SandboxedPlatforms {
    pub ccai: CcaiSandbox,
    pub kustomer: KustomerSandbox,
    /// The tenant's external storage the CCAI sandbox writes its files into (a folder of its
    /// own unless the options name one), read the way the bridge reads it.
    pub storage: Arc<dyn ExternalStorage>,
    pub ccai_client: Arc<CcaiClient>,
    pub kustomer_client: Arc<KustomerClient>,
}

impl SandboxedPlatforms {
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(CcaiSandboxOptions::default()).await
    }

    /// With the CCAI sandbox's switches set (e.g. where the caller's number is served).
    pub async fn start_with(mut ccai_options: CcaiSandboxOptions) -> std::io::Result<Self> {
        let root = ccai_options
            .external_files
            .get_or_insert_with(|| std::env::temp_dir().join(crate::unique("tenant-storage")))
            .clone();
        let storage: Arc<dyn ExternalStorage> =
            Arc::new(FsExternalStorage::new(root, &ccai_options.external_prefix));
        let ccai = CcaiSandbox::start(ccai_options).await?;
        let kustomer = KustomerSandbox::start(SandboxOptions::default()).await?;
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
}
