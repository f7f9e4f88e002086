//! A stateful Kustomer sandbox over real HTTP (kustomer-api.md): customers, conversations,
//! messages, notes, attachments (presigned POST to itself or to the S3 stand-in), metadata,
//! users, teams, routing statuses and work sessions, outbound webhooks; Kustomer's status codes,
//! both error shapes, pagination, rate limits and injectable faults.
//!
//! Start one in-process with [`KustomerSandbox::start`]; read its state with the inspection
//! methods. The `kustomer-sandbox` binary serves one on a port for the demo.

mod custom;
mod gate;
pub use gate::Caller;
pub mod oauth;
pub mod options;
mod routes;
pub mod state;
pub mod webhooks;

pub use options::{
    ErrorShape, Fault, FaultMatch, FaultRates, MessageLookup, SandboxOptions, UploadTarget,
    WorkSessionPut,
};
pub use state::{Record, Upload, World};

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

pub type Shared = Arc<Sandbox>;

pub struct Sandbox {
    options: SandboxOptions,
    world: Mutex<World>,
    faults: Mutex<VecDeque<(FaultMatch, Fault)>>,
    /// Requests held at a gate until a test opens it (forced interleavings).
    holds: Mutex<Vec<(FaultMatch, Arc<crate::gate::Gate>)>>,
    random_faults: Mutex<Option<FaultRates>>,
    /// Random faults played so far, by kind.
    faults_played: Mutex<HashMap<&'static str, u64>>,
    base_url: OnceLock<String>,
    http: reqwest::Client,
}

impl Sandbox {
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock is a sandbox bug; keep serving what is there.
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn base_url(&self) -> String {
        self.base_url.get().cloned().unwrap_or_default()
    }

    /// The gate a matching request waits at, if a test holds such requests.
    pub(crate) fn hold_for(
        &self,
        method: &Method,
        path: &str,
        body: &[u8],
    ) -> Option<Arc<crate::gate::Gate>> {
        self.holds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(m, _)| m.matches(method, path, body))
            .map(|(_, gate)| gate.clone())
    }

    fn next_fault(&self, method: &Method, path: &str, body: &[u8]) -> Option<Fault> {
        {
            let mut queue = self.faults.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(index) = queue
                .iter()
                .position(|(m, _)| m.matches(method, path, body))
            {
                return queue.remove(index).map(|(_, fault)| fault);
            }
        }
        let rates = (*self.random_faults.lock().unwrap_or_else(|p| p.into_inner()))?;
        let roll = {
            let mut world = self.world();
            // xorshift: reproducible from the seed, no dependency.
            let mut x = if world.random_state == 0 {
                rates.seed | 1
            } else {
                world.random_state
            };
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            world.random_state = x;
            (x % 1_000_000) as f64 / 1_000_000.0
        };
        let faults = [
            (rates.rate_limited, Fault::RateLimited),
            (rates.server_error, Fault::ServerError),
            (rates.hang, Fault::Hang(rates.hang_for)),
            (rates.lose_answer, Fault::LoseAnswer),
            (rates.apply_then_hang, Fault::ApplyThenHang(rates.hang_for)),
        ];
        let mut bound = 0.0;
        let fault = faults.into_iter().find_map(|(rate, fault)| {
            bound += rate;
            (roll < bound).then_some(fault)
        })?;
        *self
            .faults_played
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(fault.name())
            .or_default() += 1;
        Some(fault)
    }

    fn window_reset_epoch(&self, started: Instant) -> i64 {
        let remaining = self.options.rate_window.saturating_sub(started.elapsed());
        // Rounded up: the client must not come back before the window really resets.
        chrono::Utc::now().timestamp()
            + remaining.as_secs() as i64
            + i64::from(remaining.subsec_nanos() > 0)
    }

    /// A 429 with Kustomer's headers.
    pub(crate) fn rate_limited(&self) -> Response {
        let reset = {
            let world = self.world();
            world.org_window.map(|(started, _)| started)
        }
        .map_or_else(
            || chrono::Utc::now().timestamp() + 1,
            |started| self.window_reset_epoch(started),
        );
        let mut response = routes::error(self, StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        let headers = response.headers_mut();
        let limit = self
            .options
            .org_budget
            .unwrap_or(self.options.customer_create_budget);
        headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(0));
        let header = if self.options.rate_reset_as_delta {
            (reset - chrono::Utc::now().timestamp()).max(0)
        } else {
            reset
        };
        headers.insert("x-ratelimit-reset", HeaderValue::from(header));
        if self.options.retry_after_header {
            let wait = (reset - chrono::Utc::now().timestamp()).max(0);
            headers.insert("retry-after", HeaderValue::from(wait));
        }
        response
    }

    /// Counts a request against the org budget; `Some(429)` when over it.
    fn take_org_request(&self) -> Option<Response> {
        let budget = self.options.org_budget?;
        let over = {
            let mut world = self.world();
            let window = self.options.rate_window;
            let entry = world.org_window.get_or_insert((Instant::now(), 0));
            if entry.0.elapsed() >= window {
                *entry = (Instant::now(), 0);
            }
            entry.1 += 1;
            entry.1 > budget
        };
        over.then(|| self.rate_limited())
    }

    fn add_rate_headers(&self, response: &mut Response) {
        let Some(budget) = self.options.org_budget else {
            return;
        };
        let used = self.world().org_window.map_or(0, |(_, n)| n);
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-limit", HeaderValue::from(budget));
        headers.insert(
            "x-ratelimit-remaining",
            HeaderValue::from(budget.saturating_sub(used)),
        );
    }

    /// Counts a conversation, message or note create for `customer`; false when over budget.
    fn take_customer_create(&self, world: &mut World, customer: &str) -> bool {
        let window = self.options.rate_window;
        let entry = world
            .customer_windows
            .entry(customer.to_owned())
            .or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= window {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
        entry.1 <= self.options.customer_create_budget
    }

    /// Whether the attachment's bytes arrived with the declared length (checked on S3 with a
    /// HEAD of the object when the upload went there).
    async fn attachment_uploaded(&self, id: &str) -> bool {
        let (declared, uploaded, name) = {
            let world = self.world();
            let Some(record) = world.find("attachment", id) else {
                return false;
            };
            (
                record
                    .attributes
                    .get("contentLength")
                    .and_then(Value::as_u64),
                record.attributes.get("uploaded") == Some(&json!(true)),
                record.text("name").unwrap_or_default().to_owned(),
            )
        };
        if uploaded {
            return true;
        }
        let UploadTarget::S3 { endpoint, bucket } = &self.options.upload_target else {
            return false;
        };
        // The bucket is private: read it as its owner (the stand-in's local credentials).
        let config = bridge_shared::aws::load_config().await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .endpoint_url(endpoint)
                .force_path_style(true)
                .build(),
        );
        let length = s3
            .head_object()
            .bucket(bucket)
            .key(format!("attachments/{id}/{name}"))
            .send()
            .await
            .ok()
            .and_then(|head| head.content_length())
            .and_then(|n| u64::try_from(n).ok());
        let ok = length.is_some() && length == declared;
        if ok && let Some(record) = self.world().find_mut("attachment", id) {
            record.attributes.insert("uploaded".into(), json!(true));
        }
        ok
    }
}

/// A sandbox serving on a loopback port; stops when dropped.
pub struct KustomerSandbox {
    pub sandbox: Shared,
    pub base_url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for KustomerSandbox {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl KustomerSandbox {
    /// Starts on a free loopback port.
    pub async fn start(options: SandboxOptions) -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0", options).await
    }

    pub async fn start_on(address: &str, options: SandboxOptions) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(address).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let mut world = World::default();
        world.seed();
        let sandbox = Arc::new(Sandbox {
            options,
            world: Mutex::new(world),
            faults: Mutex::default(),
            holds: Mutex::default(),
            random_faults: Mutex::default(),
            faults_played: Mutex::default(),
            base_url: OnceLock::from(base_url.clone()),
            http: bridge_shared::http::builder().build().unwrap(),
        });
        let app = routes::router(sandbox.clone());
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                eprintln!("kustomer sandbox stopped: {err}");
            }
        });
        Ok(Self {
            sandbox,
            base_url,
            server,
        })
    }

    pub fn api_key(&self) -> &str {
        &self.sandbox.options.api_key
    }

    /// Plays `fault` on the next request that `matcher` matches.
    /// Holds matching requests (before they are applied) until the returned gate is opened.
    pub fn hold(&self, matcher: FaultMatch) -> Arc<crate::gate::Gate> {
        let gate = crate::gate::Gate::closed();
        self.sandbox
            .holds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((matcher, gate.clone()));
        gate
    }

    pub fn inject(&self, matcher: FaultMatch, fault: Fault) {
        self.sandbox
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back((matcher, fault));
    }

    /// Drops the injected faults not played yet.
    pub fn clear_faults(&self) {
        self.sandbox
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Random faults on every request from now on (`None` to stop).
    pub fn random_faults(&self, rates: Option<FaultRates>) {
        *self
            .sandbox
            .random_faults
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = rates;
    }

    /// How many random faults of each kind were played (a soak shows each class exercised).
    pub fn faults_played(&self) -> HashMap<&'static str, u64> {
        self.sandbox
            .faults_played
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads the org's state.
    pub fn inspect<T>(&self, read: impl FnOnce(&World) -> T) -> T {
        read(&self.sandbox.world())
    }

    /// Changes the org's state behind the API's back (what an admin or another app does).
    pub fn inspect_mut<T>(&self, change: impl FnOnce(&mut World) -> T) -> T {
        change(&mut self.sandbox.world())
    }

    /// An agent merges customer `from` into `into` in Kustomer: `from`'s phones and
    /// conversations move to `into`, and `from` is gone (its id answers 404).
    pub fn merge_customers(&self, from: &str, into: &str) {
        self.inspect_mut(|w| {
            let Some(index) = w.customers.iter().position(|c| c.id == from) else {
                return;
            };
            let gone = w.customers.remove(index);
            if let Some(survivor) = w.customers.iter_mut().find(|c| c.id == into) {
                let mut phones = survivor
                    .attributes
                    .get("phones")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                phones.extend(
                    gone.attributes
                        .get("phones")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                );
                survivor
                    .attributes
                    .insert("phones".into(), Value::Array(phones));
            }
            for conversation in &mut w.conversations {
                if conversation.related("customer") == Some(from) {
                    conversation.relationships.insert(
                        "customer".into(),
                        json!({"data": {"type": "customer", "id": into}}),
                    );
                }
            }
        });
    }

    /// An agent deletes a conversation in Kustomer: its id answers 404 from now on.
    pub fn delete_conversation(&self, id: &str) {
        self.inspect_mut(|w| w.conversations.retain(|c| c.id != id));
    }

    /// Requests received whose method and path match (`path` as a prefix).
    pub fn requests_to(&self, method: &str, path_prefix: &str) -> usize {
        self.inspect(|w| {
            w.requests
                .iter()
                .filter(|r| r.method == method && r.path.starts_with(path_prefix))
                .count()
        })
    }

    pub fn request_count(&self) -> usize {
        self.inspect(|w| w.requests.len())
    }

    /// Adds an agent (a Kustomer user); returns its id.
    pub fn add_user(&self, name: &str, email: &str) -> String {
        let mut world = self.sandbox.world();
        let id = world.new_id();
        let attributes = routes::seeded_map(
            json!({"name": name, "displayName": name, "email": email, "userType": "user"}),
        );
        world
            .users
            .push(Record::new(id.clone(), "user", attributes));
        id
    }

    /// An admin deactivates the user (Kustomer's OpenAPI document, `UpdateUserByIdData`: "To
    /// delete a user, set deleted to true"): it leaves the active users' list and joins the
    /// deactivated ones (`GetUsersData.deleted`). How a deactivated user is shown elsewhere is
    /// not documented, so nothing else changes.
    pub fn deactivate_user(&self, user_id: &str) {
        self.sandbox
            .world()
            .deactivated_users
            .insert(user_id.to_owned());
    }

    /// A session token for the user, as if they were signed in to Kustomer: requests made with
    /// it are the user's own (`GET /v1/users/current`, work sessions with `user=true`).
    pub fn agent_token(&self, user_id: &str) -> String {
        let token = format!("agent-session-{user_id}");
        self.sandbox
            .world()
            .agent_tokens
            .insert(token.clone(), user_id.to_owned());
        token
    }

    /// The sandbox's OAuth provider, as a handle that outlives no server (closures keep it).
    pub fn oauth(&self) -> oauth::OAuthProvider {
        oauth::OAuthProvider {
            sandbox: self.sandbox.clone(),
            base_url: self.base_url.clone(),
        }
    }

    /// Installs an app as an OAuth client (see [`oauth::OAuthProvider::register_client`]).
    pub fn register_oauth_client(&self, title: &str, redirect_uris: &[&str]) -> oauth::OAuthClient {
        self.oauth().register_client(title, redirect_uris)
    }

    /// The URL that signs a browser in to Kustomer as the user, then sends it to `next`.
    pub fn browser_sign_in_url(&self, user_id: &str, next: &str) -> String {
        self.oauth().browser_sign_in_url(user_id, next)
    }

    pub fn add_team(&self, name: &str, members: &[&str]) -> String {
        let mut world = self.sandbox.world();
        let id = world.new_id();
        world.teams.push(Record::new(
            id.clone(),
            "team",
            routes::seeded_map(json!({"name": name, "displayName": name})),
        ));
        for member in members {
            world
                .user_teams
                .entry((*member).to_owned())
                .or_default()
                .push(id.clone());
        }
        id
    }

    /// The id of the seeded routing status called `name`.
    pub fn status_id(&self, name: &str) -> Option<String> {
        self.inspect(|w| {
            w.find_by("routing-status", "name", name)
                .map(|r| r.id.clone())
        })
    }

    /// Starts (or moves) the user's active work session to the status called `status`, in the
    /// shape Kustomer serves (kustomer-api.md, revised): type `work_session`, no `active`
    /// attribute — a session is active while `signedOutAt` is absent — and the status in
    /// `relationships.status` (type `status`). An `offline`-type status signs the session out.
    pub fn set_work_session(&self, user_id: &str, status: &str) -> Option<String> {
        let status_id = self.status_id(status)?;
        let mut world = self.sandbox.world();
        let status_type = world
            .find("routing-status", &status_id)?
            .text("statusType")?
            .to_owned();
        let now = world.timestamp();
        if let Some(session) = world.work_sessions.iter_mut().find(|s| {
            s.related("user") == Some(user_id) && !s.attributes.contains_key("signedOutAt")
        }) {
            routes::move_work_session(session, &status_id, &status_type, &now);
            return Some(session.id.clone());
        }
        let id = world.new_id();
        let attributes = routes::seeded_map(json!({
            "routable": status_type == "available",
            "signedInAt": now,
            "statusType": status_type,
            "updatedAt": now,
            "rev": 1,
        }));
        let session = Record::new(id.clone(), "work_session", attributes)
            .relate("user", "user", user_id)
            .relate("status", "status", &status_id);
        world.work_sessions.push(session);
        Some(id)
    }
}
