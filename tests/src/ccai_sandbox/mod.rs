//! A stateful CCAI Platform sandbox over real HTTP (ccai-api.md, events.md): agents with their
//! statuses (documented signed ids), teams, menus, calls and chats moving through the
//! documented statuses, end users, transfers; Manager and Apps API paths with Basic auth,
//! pagination headers and the 10 requests/s limit, and nothing else (no recording download, no
//! chat-messages endpoint: a path the platform lacks answers 404 and is recorded); the
//! tenant's external storage as a folder it writes recordings and transcripts into; and a
//! scenario driver that plays sessions and pushes the matching External Session Events.

mod routes;
pub use routes::recording_byte;
pub mod scenarios;
pub mod state;

pub use scenarios::{Delivery, EventSink, Played, ScenarioDriver};
pub use state::{AgentRecord, CcaiWorld, SYSTEM_STATUSES};

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
    /// The tenant's external storage, as a folder (ccai-api.md §3): each ended session's
    /// recording (`call-{id}.mp3`) and chat transcript (`chat-{id}.txt`, JSON 1.0) are written
    /// there under `external_prefix` when [`CcaiSandbox::publish_files`] runs. `None`: no
    /// external storage configured (the platform then keeps no recordings at all).
    pub external_files: Option<std::path::PathBuf>,
    pub external_prefix: String,
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
            external_files: None,
            external_prefix: "ccai-exports".into(),
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
        });
        let app = routes::router(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                eprintln!("ccai sandbox stopped: {err}");
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

    /// Writes the files of ended sessions that are not in external storage yet, except those
    /// withheld (a recording that never comes). Answers the names written.
    pub fn publish_files(&self) -> std::io::Result<Vec<String>> {
        let options = self.options();
        let Some(root) = options.external_files else {
            return Ok(Vec::new());
        };
        let folder = root.join(&options.external_prefix);
        std::fs::create_dir_all(&folder)?;
        let due: Vec<(String, state::ExportedFile)> = self.change(|world| {
            let digest = |file: &state::ExportedFile| {
                use std::hash::{Hash, Hasher};
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                match file {
                    state::ExportedFile::Recording { size, .. } => size.hash(&mut hasher),
                    state::ExportedFile::Bytes(bytes) => bytes.hash(&mut hasher),
                }
                hasher.finish()
            };
            let due: Vec<(String, state::ExportedFile)> = world
                .exported_files()
                .into_iter()
                .filter(|(name, file)| {
                    world.published.get(name) != Some(&digest(file))
                        && !world.withheld.contains(name)
                })
                .collect();
            for (name, file) in &due {
                world.published.insert(name.clone(), digest(file));
            }
            due
        });
        let mut written = Vec::new();
        for (name, file) in due {
            let path = folder.join(&name);
            let partial = folder.join(format!(".{name}.partial"));
            match file {
                state::ExportedFile::Recording { call_id, size } => {
                    use std::io::Write;
                    let mut out = std::io::BufWriter::new(std::fs::File::create(&partial)?);
                    let mut offset = 0;
                    while offset < size {
                        let chunk: Vec<u8> = (offset..(offset + 65_536).min(size))
                            .map(|o| routes::recording_byte(call_id, o))
                            .collect();
                        out.write_all(&chunk)?;
                        offset += chunk.len() as u64;
                    }
                    out.flush()?;
                }
                state::ExportedFile::Bytes(bytes) => std::fs::write(&partial, bytes)?,
            }
            // Whole or not at all, as an object store finalizes an upload.
            std::fs::rename(&partial, &path)?;
            written.push(name);
        }
        Ok(written)
    }

    pub fn inspect<T>(&self, read: impl FnOnce(&CcaiWorld) -> T) -> T {
        read(&self.shared.world())
    }

    pub fn change<T>(&self, write: impl FnOnce(&mut CcaiWorld) -> T) -> T {
        write(&mut self.shared.world())
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
