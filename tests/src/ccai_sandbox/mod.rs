//! A stateful CCAI Platform sandbox over real HTTP (ccai-api.md, events.md): agents with their
//! statuses (documented signed ids), teams, menus, calls and chats moving through the
//! documented statuses, end users, transfers; Manager and Apps API paths with Basic auth,
//! pagination headers and the 10 requests/s limit, and nothing else (no recording download, no
//! chat-messages endpoint: a path the platform lacks answers 404 and is recorded); the
//! tenant's external storage, a bucket of the S3 stand-in it writes each session's files into
//! late, with the bucket's signed Pub/Sub pushes (`exports`); and a scenario driver that plays
//! sessions and pushes the matching External Session Events.

pub mod exports;
mod routes;
pub mod twists;
pub use routes::recording_byte;
pub mod scenarios;
pub mod state;

pub use exports::{ExportLayout, ExportTarget, FileDelays, Published, PushTarget};
pub use scenarios::{Delivery, EventSink, Played, ScenarioDriver};
pub use state::{AgentRecord, CcaiWorld, SYSTEM_STATUSES};

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Where SDK custom data shows (ccai-api.md §4: where it reaches an integration is not
/// documented, L): on the call or chat object (`custom_data`), in the metadata file, or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CustomDataIn {
    Session,
    MetadataFile,
    Both,
}

/// Where a callback names the call it returns (ccai-api.md lists `parent_id` without saying
/// what it means; `previous_call_id` is not in the field list: L).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallbackLink {
    PreviousCallId,
    ParentId,
    /// Not linked at all: the callback is placed by the conversation rules alone.
    Unlinked,
}

impl CallbackLink {
    pub fn key(self) -> Option<&'static str> {
        match self {
            Self::PreviousCallId => Some("previous_call_id"),
            Self::ParentId => Some("parent_id"),
            Self::Unlinked => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct CcaiSandboxOptions {
    pub subdomain: String,
    pub api_token: String,
    /// Also accepted, as the legacy company key and secret.
    pub company_key: String,
    pub company_secret: String,
    pub requests_per_second: usize,
    pub max_per_page: usize,
    /// Serve the caller's number on the Manager API call's `end_user` participant and the Apps
    /// API end user (true), or only where the platform documents it (false): the ESE external
    /// participant's `dn` and the metadata file (ccai-api.md §2: "not a documented call field";
    /// the Apps API end user documents only `{id, identifier}`).
    pub phone_on_participant: bool,
    /// A pause before every list page (the real lists take their time under load).
    pub list_delay: Option<Duration>,
    /// Lists change while they are read: after answering a page, this many of the sessions
    /// it returned are updated again (each session once), so they move to the list's end.
    /// A reader paging one query (`page=2,3…`) then skips records; a tail reader does not.
    pub list_churn: usize,
    /// The tenant's external storage (ccai-api.md §3): each ended session's recording
    /// (`call-{id}.mp3`), chat transcript (`chat-{id}.txt`, JSON 1.0), uploads and metadata
    /// file are written there under `external_prefix`, each after its delay in `file_delays`.
    /// `None`: no external storage configured (the platform then keeps no recordings at all).
    pub external_storage: Option<ExportTarget>,
    pub external_prefix: String,
    /// The folders below the prefix (flat, as documented, unless a test says otherwise).
    pub export_layout: ExportLayout,
    pub file_delays: FileDelays,
    /// The bucket's notifications pushed here (`None`: the tenant set up no Pub/Sub push).
    pub push: Option<PushTarget>,
    /// Files are published by a background round this often (real time), as the platform
    /// does; `None`: only when the driver or a test calls [`CcaiSandbox::publish_due`].
    pub publish_every: Option<Duration>,
    pub callback_link: CallbackLink,
    pub custom_data_in: CustomDataIn,
    /// Random Manager and Apps API faults (a soak's CCAI edge); `None`: none.
    pub faults: Option<CcaiFaultRates>,
    /// Documents sent in another shape than documented: a key added, dropped or renamed per
    /// document kind (issue 28).
    pub shape_twists: twists::ShapeTwists,
}

/// Random faults of the CCAI API, reproducible from a seed: a 429 beyond the tenant's own
/// limit (the platform throttles for reasons of its own too), a 5xx, a slow answer. None is
/// applied: the request is refused before it does anything.
#[derive(Clone, Copy, Debug, Default)]
pub struct CcaiFaultRates {
    pub rate_limited: f64,
    pub server_error: f64,
    pub slow: f64,
    pub slow_for: Duration,
    pub seed: u64,
}

impl Default for CcaiSandboxOptions {
    fn default() -> Self {
        Self {
            subdomain: "acme".into(),
            api_token: "sandbox-ccai-token".into(),
            company_key: "company-key".into(),
            company_secret: "company-secret".into(),
            requests_per_second: 10,
            max_per_page: 100,
            phone_on_participant: true,
            list_delay: None,
            list_churn: 0,
            external_storage: None,
            external_prefix: "ccai-exports".into(),
            export_layout: ExportLayout::Flat,
            file_delays: FileDelays::default(),
            push: None,
            publish_every: None,
            callback_link: CallbackLink::PreviousCallId,
            custom_data_in: CustomDataIn::Both,
            faults: None,
            shape_twists: Default::default(),
        }
    }
}

/// One request as the sandbox saw it.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub authorised: bool,
}

pub struct CcaiShared {
    pub(crate) options: Mutex<CcaiSandboxOptions>,
    world: Mutex<CcaiWorld>,
    pub(crate) recent: Mutex<VecDeque<Instant>>,
    pub(crate) seen: Mutex<Vec<SeenRequest>>,
    pub(crate) base_url: String,
    /// How far tests moved the file clock ahead of the wall clock.
    pub(crate) file_skew: Mutex<Duration>,
    pub(crate) publishing: tokio::sync::Mutex<()>,
    /// Google's key for the bucket's pushes; its JWKS is served at `/oauth2/v3/certs`.
    pub(crate) signer: crate::pubsub::PushSigner,
    /// Status changes (`POST /apps/api/v1/agent_statuses`) wait here while a test holds them.
    pub(crate) status_gate: Mutex<Option<Arc<crate::gate::Gate>>>,
    /// Only the next status change waits at the gate (it takes the gate with it).
    pub(crate) status_gate_once: std::sync::atomic::AtomicBool,
    /// The random faults' generator state, and the faults played by kind.
    pub(crate) faults: Mutex<(u64, std::collections::HashMap<&'static str, u64>)>,
}

impl CcaiShared {
    pub fn world(&self) -> MutexGuard<'_, CcaiWorld> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn options(&self) -> CcaiSandboxOptions {
        self.options
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A sandbox serving on a loopback port; stops when dropped.
pub struct CcaiSandbox {
    pub shared: Arc<CcaiShared>,
    pub base_url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for CcaiSandbox {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl CcaiSandbox {
    pub async fn start(options: CcaiSandboxOptions) -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0", options).await
    }

    pub async fn start_on(address: &str, options: CcaiSandboxOptions) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(address).await?;
        let port = listener.local_addr()?.port();
        let base_url = format!("http://127.0.0.1:{port}");
        let shared = Arc::new(CcaiShared {
            options: Mutex::new(options),
            world: Mutex::new(CcaiWorld::seeded()),
            recent: Mutex::default(),
            seen: Mutex::default(),
            base_url: base_url.clone(),
            file_skew: Mutex::default(),
            publishing: tokio::sync::Mutex::default(),
            signer: crate::pubsub::PushSigner::new(),
            status_gate: Mutex::default(),
            status_gate_once: Default::default(),
            faults: Mutex::default(),
        });
        let app = routes::router(shared.clone());
        let publisher = shared.clone();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app);
            let Some(every) = publisher.options().publish_every else {
                if let Err(err) = serve.await {
                    eprintln!("ccai sandbox stopped: {err}");
                }
                return;
            };
            let rounds = async move {
                loop {
                    tokio::time::sleep(every).await;
                    if let Err(err) = exports::publish_due(&publisher).await {
                        eprintln!("ccai sandbox: writing external-storage files: {err}");
                    }
                }
            };
            tokio::select! {
                served = serve => if let Err(err) = served {
                    eprintln!("ccai sandbox stopped: {err}");
                },
                () = rounds => {}
            }
        });
        Ok(Self {
            shared,
            base_url,
            server,
        })
    }

    pub fn options(&self) -> CcaiSandboxOptions {
        self.shared.options()
    }

    /// Holds every status change from now on until the returned gate is opened.
    pub fn hold_status_changes(&self) -> Arc<crate::gate::Gate> {
        let gate = crate::gate::Gate::closed();
        *self
            .shared
            .status_gate
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(gate.clone());
        gate
    }

    /// Holds only the next status change (a slow answer for one request: later ones go
    /// through at once) until the returned gate is opened.
    pub fn hold_next_status_change(&self) -> Arc<crate::gate::Gate> {
        self.shared
            .status_gate_once
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.hold_status_changes()
    }

    /// The JWKS URL of the key the bucket's pushes are signed with (the bridge's
    /// `GOOGLE_JWKS_URL` locally).
    pub fn jwks_url(&self) -> String {
        format!("{}/oauth2/v3/certs", self.base_url)
    }

    /// What the bridge is configured with to accept this sandbox's pushes (`None` without a
    /// push target).
    pub fn push_settings(&self) -> Option<bridge_shared::storage::push::PushSettings> {
        let options = self.options();
        let push = options.push?;
        Some(bridge_shared::storage::push::PushSettings {
            audience: push.audience,
            service_account: push.service_account,
            jwks_url: self.jwks_url(),
            bucket: options.external_storage.map(|t| t.bucket_id()),
            prefix: options.external_prefix,
        })
    }

    /// Changes the sandbox's switches while it runs (e.g. the push target once the bridge's
    /// address is known).
    pub fn reconfigure(&self, change: impl FnOnce(&mut CcaiSandboxOptions)) {
        change(
            &mut self
                .shared
                .options
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
    }

    pub fn inspect<T>(&self, read: impl FnOnce(&CcaiWorld) -> T) -> T {
        read(&self.shared.world())
    }

    pub fn change<T>(&self, write: impl FnOnce(&mut CcaiWorld) -> T) -> T {
        write(&mut self.shared.world())
    }

    /// How many random faults of each kind were played.
    pub fn faults_played(&self) -> std::collections::HashMap<&'static str, u64> {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone()
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The largest number of requests the sandbox received within any one second.
    pub fn busiest_second(&self) -> usize {
        let times: Vec<Instant> = self.requests().iter().map(|r| r.at).collect();
        (0..times.len())
            .map(|i| {
                times[i..]
                    .iter()
                    .take_while(|t| t.duration_since(times[i]) < Duration::from_secs(1))
                    .count()
            })
            .max()
            .unwrap_or(0)
    }
}
