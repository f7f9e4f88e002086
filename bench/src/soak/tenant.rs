//! One tenant of a soak: its own state table (DynamoDB Local), the files bucket (the S3
//! stand-in), both platform sandboxes, the functions as deployed — every HTTP route of
//! `template.yaml` on the local host, the stream subscriptions with their batching, retries,
//! bisection and dead letters, several lanes at once — and the scheduled run's parts. The plan
//! is played through it with the faults it is given; then the faults stop and it settles.

use super::cutoff::Cutter;
use super::faults::Faults;
use super::plan::{Kind, Plan, Step};
use bridge_local::functions::{Platforms, Tokens, handlers, start_triggered};
use bridge_local::host::LocalHost;
use bridge_local::routes::{TEMPLATE, template_routes};
use bridge_local::stream::{Pace, StreamRunner, template_subscriptions};
use bridge_shared::UnixMillis;
use bridge_shared::ccai::limiter::{TENANT_REQUESTS_PER_SECOND, TENANT_WINDOW};
use bridge_shared::coldstart::KUSTOMER_WINDOW;
use bridge_shared::http::RetryPolicy;
use bridge_shared::pacing::SharedPacer;
use bridge_shared::storage::push::PushVerifier;
use bridge_shared::store::{DynamoStore, StateStore};
use bridge_tests::ccai_sandbox::{
    CcaiSandboxOptions, EventSink, FileDelays, Played, PushTarget, ScenarioDriver,
};
use bridge_tests::counting_store::CountingStore;
use bridge_tests::kustomer_sandbox::{FaultRates, SandboxOptions};
use bridge_tests::platforms::SandboxedPlatforms;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MINUTE: Duration = Duration::from_secs(60);
/// Scheduled runs at most while settling (each a drain and a pause of up to 10 s: claims a
/// cut-off invocation left expire in real time, a file transfer's after 300 s). Settling ends
/// as soon as every session is complete; this only bounds a run that never settles.
const SETTLE_ROUNDS: usize = 40;
/// Sessions played between two scheduled ticks.
pub const WAVE: usize = 20;
/// How far ahead of the bridge's clock the scheduled run's view of time goes while sessions
/// are played. Each tick moves the platform's file clock a minute and the scheduled run's view
/// with it, so that what the bridge scheduled a minute ahead is due at the next tick; but the
/// bridge's workers stamp their windows with the real clock. A lead that grew with every tick
/// (250 minutes by step 5 000) closed windows the bridge had opened before their time: the
/// look ended the 2-hour watch for a metadata file's rewrite as soon as the lead passed about
/// 110 minutes, so from about step 2 000 on a survey comment whose rewrite's push was lost was
/// never read (the 56 differences of the 5 000-step run on `3ae26a1`). Bounded well under the
/// bridge's shortest such window (that watch), and above its first look (5 minutes) and the
/// soak's retry backoffs (2 s at most), the lead keeps the bridge's first looks and retries due
/// at the next tick and no window shortened by more than a quarter; the later, longer spaced
/// looks (15 minutes and more) come in real time, as on AWS. Settling moves further (a day at the end, to give up what never
/// came), as a scheduler run late would.
const MAX_LEAD: Duration = Duration::from_secs(30 * 60);
/// The tenant's own tokens (local only; the log check looks for them).
pub const EVENTS_USER: &str = "ccai-events-soak";
pub const EVENTS_PASSWORD: &str = "soak-events-password-4f9c2a";
pub const ADMIN_TOKEN: &str = "soak-admin-token-8d1e77";

/// One session as played: which step made it, and what the platform did.
#[derive(Clone, Debug)]
pub struct PlayedSession {
    /// `s<step>` (`s<step>.2` for a callback): the same name in every run of the plan.
    pub name: String,
    pub step: usize,
    pub kind: &'static str,
    pub id: u64,
    /// The file the platform exports for it (recording or transcript), if any.
    pub file: Option<String>,
    pub file_never: bool,
    pub ended: Instant,
}

/// What a run measured beside the end state.
#[derive(Clone, Debug, Default)]
pub struct RunStats {
    pub elapsed: Duration,
    pub events_sent: usize,
    pub events_dropped: usize,
    pub events_duplicated: usize,
    pub events_late: usize,
    pub pushes_lost: usize,
    pub push_outages: usize,
    /// Pushes sent twice (each acknowledged one, while duplication is on).
    pub pushes_duplicated: usize,
    /// Waves sent in a shuffled order.
    pub waves_reordered: usize,
    /// Sessions the Manager API's lists moved while they were read (`churned`).
    pub sessions_churned: usize,
    pub files_late: usize,
    pub invocations_cut: u64,
    pub invocations_chosen: u64,
    pub invocations: u64,
    pub store_reads: usize,
    pub store_writes: usize,
    pub kustomer_requests: usize,
    pub kustomer_429: usize,
    pub ccai_requests: usize,
    pub ccai_429: usize,
    pub kustomer_faults: std::collections::HashMap<&'static str, u64>,
    pub ccai_faults: std::collections::HashMap<&'static str, u64>,
    pub stream_dead_letters: usize,
    pub replayed: usize,
    pub settle_rounds: usize,
    /// Completion time of each session after its end (None: never complete).
    pub completion: Vec<Option<Duration>>,
    /// Sessions completed by the end of each tick: (seconds since start, completed).
    pub progress: Vec<(f64, usize)>,
    pub kustomer_by_kind: std::collections::BTreeMap<String, usize>,
    pub ccai_by_kind: std::collections::BTreeMap<String, usize>,
}

pub struct Tenant {
    pub sandboxes: SandboxedPlatforms,
    pub store: Arc<CountingStore>,
    pub platforms: Platforms,
    pub agents: Vec<u64>,
    pub host: LocalHost,
    pub streams: StreamRunner,
    pub cutter: Arc<Cutter>,
    pub faults: Faults,
    sink: EventSink,
    http: reqwest::Client,
    push: PushTarget,
    push_url: String,
    /// How far the scheduled run's view of time is ahead of the bridge's clock (see
    /// [`MAX_LEAD`]).
    skew: Duration,
    rng: StdRng,
    pub sessions: Vec<PlayedSession>,
    late_events: Vec<(usize, Value)>,
    late_files: Vec<String>,
    pub stats: RunStats,
    started: Instant,
    /// When the custom fields' creation began and ended (R-CF-3).
    pub fields_from: Option<UnixMillis>,
    pub fields_until: Option<UnixMillis>,
    /// Why settling ended without every session complete, if it did.
    pub unsettled: Option<String>,
    /// The run's own table, deleted when the run is over ([`Tenant::drop_table`]).
    table: (aws_sdk_dynamodb::Client, String),
}

/// A fresh table with the state table's definition (`TABLE_NAME`, created from template.yaml),
/// so each run has its own cursors, settings and sessions.
async fn fresh_table(client: &aws_sdk_dynamodb::Client) -> Result<String, String> {
    use aws_sdk_dynamodb::types::{BillingMode, StreamSpecification, StreamViewType};
    let source = std::env::var("TABLE_NAME")
        .map_err(|_| "TABLE_NAME is not set: run the soak inside infra/local/with-services")?;
    let table = client
        .describe_table()
        .table_name(&source)
        .send()
        .await
        .map_err(|e| format!("DescribeTable {source}: {e:?}"))?
        .table
        .ok_or("DescribeTable: no table")?;
    let name = format!("{source}-soak-{}", uuid::Uuid::new_v4().simple());
    client
        .create_table()
        .table_name(&name)
        .set_key_schema(table.key_schema)
        .set_attribute_definitions(table.attribute_definitions)
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(|e| format!("CreateTable {name}: {e:?}"))?;
    Ok(name)
}

impl Tenant {
    /// Starts a tenant with `lanes` concurrent stream lanes per function, its Kustomer org's
    /// budget `kustomer_per_minute`, and these faults (`Faults::none()`: the oracle).
    pub async fn start(
        plan: &Plan,
        faults: Faults,
        lanes: usize,
        kustomer_per_minute: u32,
    ) -> Result<Self, String> {
        let aws = bridge_tests::local::aws_config().await;
        let tables = aws_sdk_dynamodb::Client::new(&aws);
        let table = fresh_table(&tables).await?;
        let dynamo: Arc<dyn StateStore> = Arc::new(DynamoStore::new(tables.clone(), table.clone()));
        let store = Arc::new(CountingStore::new(dynamo));
        let shared_store: Arc<dyn StateStore> = store.clone();
        let push = PushTarget {
            duplicate: faults.push_duplicate,
            ..PushTarget::to("http://127.0.0.1:9/webhooks/storage")
        };
        let ccai_options = CcaiSandboxOptions {
            phone_on_participant: false,
            file_delays: FileDelays::realistic(),
            push: Some(push.clone()),
            list_churn: if faults.ccai_list_churn { 3 } else { 0 },
            faults: (faults.ccai_429 + faults.ccai_5xx + faults.ccai_slow > 0.0).then(|| {
                bridge_tests::ccai_sandbox::CcaiFaultRates {
                    rate_limited: faults.ccai_429,
                    server_error: faults.ccai_5xx,
                    slow: faults.ccai_slow,
                    slow_for: Duration::from_millis(1500),
                    seed: plan.seed ^ 0xcca1,
                }
            }),
            ..CcaiSandboxOptions::default()
        };
        let kustomer_options = SandboxOptions {
            org_budget: Some(kustomer_per_minute),
            ..SandboxOptions::default()
        };
        let sandboxes = SandboxedPlatforms::start_both(ccai_options, kustomer_options)
            .await
            .map_err(|e| e.to_string())?;
        // The metadata file carries the wrap-up under the spec's reading of its key (L): a
        // dropped Final event is recovered from it. Off, a dropped Final loses the wrap-up.
        sandboxes
            .ccai
            .change(|w| w.metadata_disposition_key = Some("dispositions"));
        if faults.kustomer_429
            + faults.kustomer_5xx
            + faults.kustomer_lost_answer
            + faults.kustomer_slow
            > 0.0
        {
            sandboxes.kustomer.random_faults(Some(FaultRates {
                rate_limited: faults.kustomer_429,
                server_error: faults.kustomer_5xx,
                hang: 0.0,
                hang_for: Duration::from_secs(3),
                lose_answer: faults.kustomer_lost_answer,
                apply_then_hang: faults.kustomer_slow,
                seed: plan.seed ^ 0x4b05,
            }));
        }
        // The clients as deployed: default retries, paced on the shared schedule in the table.
        let ccai_settings = sandboxes.ccai.options();
        let ccai = bridge_tests::ccai_support::client_with(
            &sandboxes.ccai,
            &ccai_settings.subdomain,
            &ccai_settings.api_token,
            RetryPolicy::default(),
        )
        .paced_by(Arc::new(SharedPacer::new(
            shared_store.clone(),
            &format!("ccai#{}", sandboxes.ccai.base_url),
            TENANT_REQUESTS_PER_SECOND as u32,
            TENANT_WINDOW,
        )));
        let kustomer = bridge_tests::kustomer_support::client_with(
            &sandboxes.kustomer,
            sandboxes.kustomer.api_key(),
            RetryPolicy::default(),
            Duration::from_secs(2),
        )
        .paced_by(Arc::new(SharedPacer::new(
            shared_store.clone(),
            &format!("kustomer#{}", sandboxes.kustomer.base_url),
            kustomer_per_minute,
            KUSTOMER_WINDOW,
        )));
        let platforms = Platforms {
            ccai: Arc::new(ccai),
            kustomer: Arc::new(kustomer),
            storage: sandboxes.storage.clone(),
        };
        let http = bridge_shared::http::builder()
            .build()
            .map_err(|e| e.to_string())?;
        let push_settings = sandboxes
            .ccai
            .push_settings()
            .ok_or("the CCAI sandbox has no push target")?;
        let mut tokens = Tokens::demo(Some(Arc::new(PushVerifier::new(
            push_settings,
            http.clone(),
        ))));
        tokens.admin = bridge_shared::bearer::BearerTokens::of(ADMIN_TOKEN);
        tokens.ccai_events = vec![bridge_shared::config::BasicCredential {
            user: EVENTS_USER.into(),
            password: bridge_shared::config::Secret::new(EVENTS_PASSWORD),
        }];
        let cutter = Cutter::new(faults.cut_off, plan.seed);
        let bound = LocalHost::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let mut functions = handlers(shared_store.clone(), &platforms, &tokens, &bound.base_url);
        for name in ["intake", "status"] {
            if let Some(handler) = functions.remove(name) {
                functions.insert(name.into(), cutter.http(handler));
            }
        }
        let host = bound.serve(template_routes(TEMPLATE)?, functions);
        let push_url = format!("{}/webhooks/storage", host.base_url);
        sandboxes.ccai.reconfigure(|o| {
            o.push = Some(PushTarget {
                url: push_url.clone(),
                ..push.clone()
            })
        });
        let blobs: Arc<dyn bridge_shared::blob::BlobStore> =
            Arc::new(bridge_tests::local::s3_blob_store(8 * 1024 * 1024).await);
        let own_table = (tables.clone(), table.clone());
        let feed = bridge_local::backends::dynamodb_changes(&aws, tables, table);
        let mut subscriptions = template_subscriptions(TEMPLATE)?;
        for subscription in &mut subscriptions {
            subscription.parallelization = lanes;
        }
        let streams = start_triggered(
            &feed,
            subscriptions,
            shared_store.clone(),
            blobs,
            &platforms,
            Pace {
                retry_base: Duration::from_millis(200),
                retry_max: Duration::from_secs(2),
                poll_interval: Duration::from_millis(100),
            },
            |handler| cutter.stream(handler),
        )
        .await?;
        let agents = (0..plan.agents)
            .map(|a| sandboxes.add_agent(&plan.agent_email(a), &Plan::agent_name(a), "Available"))
            .collect();
        let sink = EventSink::new(
            &format!("{}/webhooks/ccai", host.base_url),
            EVENTS_USER,
            EVENTS_PASSWORD,
        );
        Ok(Self {
            sandboxes,
            store,
            platforms,
            agents,
            host,
            streams,
            cutter,
            faults,
            sink,
            http,
            push,
            push_url,
            skew: Duration::ZERO,
            rng: StdRng::seed_from_u64(plan.seed ^ 0xfa17),
            sessions: Vec::new(),
            late_events: Vec::new(),
            late_files: Vec::new(),
            stats: RunStats::default(),
            started: Instant::now(),
            fields_from: None,
            fields_until: None,
            unsettled: None,
            table: own_table,
        })
    }

    /// A progress line on stderr (the run's own log lines are captured, not printed).
    fn say(&self, text: &str) {
        eprintln!(
            "[{:>6.1} s] {} {text}",
            self.started.elapsed().as_secs_f64(),
            if self.faults.is_none() {
                "oracle:"
            } else {
                "faulty:"
            }
        );
    }

    /// Deletes the run's table once it has been compared: DynamoDB Local keeps every table and
    /// its stream in its heap, and a second seed in the same process slows to a crawl.
    pub async fn drop_table(&self) {
        let (client, name) = &self.table;
        if let Err(err) = client.delete_table().table_name(name).send().await {
            eprintln!("soak: table {name} not deleted: {err:?}");
        }
    }

    /// The scheduled run's view of time: the real clock plus how far the platform's moved.
    fn virtual_now(&self) -> UnixMillis {
        UnixMillis::now().plus(self.skew)
    }

    fn chance(&mut self, rate: f64) -> bool {
        rate > 0.0 && self.rng.random_bool(rate.min(1.0))
    }

    /// Plays the whole plan, wave by wave, then settles.
    pub async fn play(&mut self, plan: &Plan) -> Result<(), String> {
        self.started = Instant::now();
        let mut wave: Vec<Value> = Vec::new();
        for (index, step) in plan.steps.iter().enumerate() {
            if index == plan.fields_created_before {
                self.create_custom_fields().await?;
            }
            let played = self.play_step(plan, index, step).await;
            for session in played {
                for event in session.events {
                    self.route_event(index, event.body, &mut wave);
                }
            }
            if (index + 1) % WAVE == 0 || index + 1 == plan.steps.len() {
                // Events held back since an earlier wave go out with this one.
                let due: Vec<Value> = {
                    let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.late_events)
                        .into_iter()
                        .partition(|(at, _)| *at + 2 * WAVE <= index);
                    self.late_events = later;
                    due.into_iter().map(|(_, e)| e).collect()
                };
                wave.extend(due);
                self.send_wave(std::mem::take(&mut wave)).await;
                self.tick().await?;
                // Closed loop: the next wave waits for the functions to take this one, at most
                // 30 s (an invocation cut off holds its claims a minute; settling waits that).
                self.streams.drain(Duration::from_secs(30)).await;
                let done = self.completed_now();
                self.stats
                    .progress
                    .push((self.started.elapsed().as_secs_f64(), done));
                self.say(&format!(
                    "wave to step {}: {done} of {} sessions complete",
                    index + 1,
                    self.sessions.len()
                ));
            }
        }
        let rest: Vec<Value> = std::mem::take(&mut self.late_events)
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        self.send_wave(rest).await;
        self.settle().await?;
        self.stats.elapsed = self.started.elapsed();
        Ok(())
    }

    /// The faults' say over one event: dropped, held back, duplicated, or sent with its wave.
    fn route_event(&mut self, index: usize, event: Value, wave: &mut Vec<Value>) {
        if self.chance(self.faults.ese_drop) {
            self.stats.events_dropped += 1;
            return;
        }
        if self.chance(self.faults.ese_duplicate) {
            self.stats.events_duplicated += 1;
            wave.push(event.clone());
        }
        if self.chance(self.faults.ese_late) {
            self.stats.events_late += 1;
            self.late_events.push((index, event));
            return;
        }
        wave.push(event);
    }

    /// Sends a wave's events in batches of one to five, shuffled when reordering is on.
    async fn send_wave(&mut self, mut events: Vec<Value>) {
        if self.faults.ese_reorder {
            self.stats.waves_reordered += usize::from(events.len() > 1);
            for i in (1..events.len()).rev() {
                let j = self.rng.random_range(0..=i);
                events.swap(i, j);
            }
        }
        let mut rest = events.as_slice();
        while !rest.is_empty() {
            let size = if self.faults.is_none() {
                3
            } else {
                self.rng.random_range(1..=5)
            }
            .min(rest.len());
            let (batch, tail) = rest.split_at(size);
            rest = tail;
            self.stats.events_sent += batch.len();
            // A batch answered with an error is sent once more, as a careful sender would; a
            // second failure loses it (the poller is the safety net; ESE retries are L).
            for _ in 0..2 {
                if self
                    .sink
                    .send(batch)
                    .await
                    .is_some_and(|s| (200..300).contains(&s))
                {
                    break;
                }
            }
        }
    }

    /// Plays one step on the CCAI sandbox; the events it made.
    async fn play_step(&mut self, plan: &Plan, index: usize, step: &Step) -> Vec<Played> {
        let mut driver = ScenarioDriver::new(&self.sandboxes.ccai, None);
        driver.publish_files = false;
        driver.recording_size = 64 * 1024;
        let agent = |a: usize| self.agents[a];
        let phone = |c: usize| plan.phones[c].clone();
        let played: Vec<Played> = match &step.kind {
            Kind::IvrAnswered { agent: a, caller } => {
                vec![driver.ivr_call_answered(agent(*a), &phone(*caller)).await]
            }
            Kind::Abandoned { caller } => vec![driver.abandoned_call(&phone(*caller)).await],
            Kind::Voicemail { caller, action } => {
                vec![driver.voicemail(&phone(*caller), *action).await]
            }
            Kind::Transfer { from, to, caller } => {
                vec![
                    driver
                        .transfer(agent(*from), agent(*to), &phone(*caller))
                        .await,
                ]
            }
            Kind::Outbound { agent: a, caller } => {
                vec![
                    driver
                        .outbound_call(agent(*a), &phone(*caller), false, None)
                        .await,
                ]
            }
            Kind::CallAndCallback { agent: a, caller } => {
                let (short, callback) = driver
                    .short_call_and_callback(agent(*a), &phone(*caller))
                    .await;
                vec![short, callback]
            }
            Kind::Sdk { agent: a, user } => {
                vec![driver.sdk_call(agent(*a), &plan.users[*user]).await]
            }
            Kind::Chat {
                agent: a,
                user,
                lines,
            } => {
                let lines: Vec<(&str, &str)> = (0..*lines)
                    .map(|n| {
                        if n % 2 == 0 {
                            ("end_user", "Where is my order?")
                        } else {
                            ("agent", "It ships today.")
                        }
                    })
                    .collect();
                vec![
                    driver
                        .chat_with_transcript(agent(*a), &plan.users[*user], &lines)
                        .await,
                ]
            }
            Kind::UnknownCaller { agent: a } => {
                vec![driver.ivr_call_answered(agent(*a), "anonymous").await]
            }
        };
        let first = &played[0];
        if let Some((rating, comment)) = &step.csat {
            driver.csat(first.kind, first.session_id, *rating, comment.as_deref());
        }
        if let Some(success) = step.smart_action {
            driver.smart_action(first.session_id, success);
        }
        for (part, session) in played.iter().enumerate() {
            let file = match (session.kind, step.kind.answered()) {
                ("chat", _) => Some(format!("chat-{}.txt", session.session_id)),
                ("call", true) => Some(format!("call-{}.mp3", session.session_id)),
                _ => None,
            };
            if let Some(file) = &file {
                if step.file_never {
                    self.sandboxes
                        .ccai
                        .change(|w| w.withheld.insert(file.clone()));
                } else if self.chance(self.faults.file_late) {
                    self.sandboxes
                        .ccai
                        .change(|w| w.withheld.insert(file.clone()));
                    self.late_files.push(file.clone());
                    self.stats.files_late += 1;
                }
            }
            self.sessions.push(PlayedSession {
                name: if part == 0 {
                    format!("s{index}")
                } else {
                    format!("s{index}.{}", part + 1)
                },
                step: index,
                kind: session.kind,
                id: session.session_id,
                file,
                file_never: step.file_never,
                ended: Instant::now(),
            });
        }
        played
    }

    /// Every custom field created from the admin API, as an admin would mid-run (R-CF-2). The
    /// platform's clock runs ahead of real time when sessions are played faster than one per
    /// millisecond of its stamps: it is let catch up first, so that every session played
    /// before started before the fields (R-CF-3: never back-filled) and every later one after.
    async fn create_custom_fields(&mut self) -> Result<(), String> {
        let ahead = self.sandboxes.ccai.inspect(|w| w.last_ms()) - UnixMillis::now().0;
        if ahead >= 0 {
            tokio::time::sleep(Duration::from_millis(ahead as u64 + 5)).await;
        }
        self.fields_from = Some(UnixMillis::now());
        let url = format!("{}/admin/custom-fields", self.host.base_url);
        let listed: Value = self
            .http
            .get(&url)
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        for field in listed["fields"].as_array().into_iter().flatten() {
            let Some(id) = field["id"].as_str() else {
                continue;
            };
            // Refused or cut off: asked again until it stands (201 new, 200 created before).
            for _ in 0..10 {
                let answer = self
                    .http
                    .post(&url)
                    .bearer_auth(ADMIN_TOKEN)
                    .json(&json!({"field": id, "created_by": "soak"}))
                    .send()
                    .await;
                if answer.is_ok_and(|a| a.status().is_success()) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        // Sessions played from now on start after every field's creation.
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.fields_until = Some(UnixMillis::now());
        Ok(())
    }

    /// One scheduled minute: the platform's files clock moves on and its due files land (and
    /// are pushed), then the scheduled run polls sessions, looks for awaited files and puts
    /// due retries back.
    async fn tick(&mut self) -> Result<(), String> {
        self.skew = (self.skew + MINUTE).min(MAX_LEAD);
        self.sandboxes.ccai.advance_files(MINUTE);
        // Pushes: an outage keeps this tick's pushes for the next (Pub/Sub redelivers); a lost
        // push is gone for good (the scheduled look must find its file).
        let outage = self.chance(self.faults.push_outage);
        let lossy = self.faults.push_lost > 0.0;
        self.stats.push_outages += usize::from(outage);
        if outage || lossy {
            self.set_push_url("http://127.0.0.1:9/unreachable");
        }
        self.publish().await?;
        if lossy {
            let pending = self.sandboxes.ccai.inspect(|w| w.pending_pushes.len());
            let lost: Vec<bool> = (0..pending)
                .map(|_| self.chance(self.faults.push_lost))
                .collect();
            self.stats.pushes_lost += lost.iter().filter(|l| **l).count();
            self.sandboxes.ccai.change(|w| {
                let mut n = 0;
                w.pending_pushes.retain(|_| {
                    n += 1;
                    !lost.get(n - 1).copied().unwrap_or(false)
                });
            });
        }
        let url = self.push_url.clone();
        self.set_push_url(&url);
        if lossy && !outage {
            self.publish().await?;
        }
        self.scheduled_run().await;
        Ok(())
    }

    /// The platform writes the files due by its clock and pushes their notifications.
    async fn publish(&mut self) -> Result<(), String> {
        let published = self
            .sandboxes
            .ccai
            .publish_due()
            .await
            .map_err(|e| e.to_string())?;
        if self.faults.push_duplicate {
            self.stats.pushes_duplicated += published.pushes_acked;
        }
        Ok(())
    }

    fn set_push_url(&self, url: &str) {
        let push = PushTarget {
            url: url.to_owned(),
            ..self.push.clone()
        };
        self.sandboxes.ccai.reconfigure(|o| o.push = Some(push));
    }

    /// The scheduled reconcile's session poll, file looks and retries (bridge-reconcile's
    /// parts, at the run's view of time), an invocation that may be cut off like any other. A
    /// failure is the next run's to repeat.
    async fn scheduled_run(&self) {
        let store: Arc<dyn StateStore> = self.store.clone();
        let ccai = self.platforms.ccai.clone();
        let now = self.virtual_now();
        let agents = bridge_shared::status::sync::StatusService::new(
            store.clone(),
            self.platforms.ccai.clone(),
            self.platforms.kustomer.clone(),
            bridge_shared::status::sync::DEFAULT_LEASE,
        );
        let run = async move {
            let store = store.as_ref();
            if let Err(err) = bridge_reconcile::poller::poll_sessions(
                store,
                &ccai,
                UnixMillis::now(),
                Duration::from_secs(20),
            )
            .await
            {
                tracing::warn!(error = %err, "soak: session poll failed");
            }
            if let Err(err) = bridge_shared::storage::awaited::look_for_files(
                store,
                MINUTE,
                24 * 60 * MINUTE,
                bridge_shared::audit::DEFAULT_KEPT,
                now,
            )
            .await
            {
                tracing::warn!(error = %err, "soak: file look failed");
            }
            if let Err(err) = bridge_shared::stream::failures::requeue_due(store, now).await {
                tracing::warn!(error = %err, "soak: requeue failed");
            }
            if let Err(err) = bridge_reconcile::reconcile_agents(&agents, UnixMillis::now()).await {
                tracing::warn!(error = %err, "soak: agent reconciliation failed");
            }
        };
        self.cutter.run(Box::pin(run)).await;
    }

    /// The faults stop; late files land; the scheduled run goes on until every session is
    /// complete or nothing moves; dead letters are replayed; what never comes is given up.
    async fn settle(&mut self) -> Result<(), String> {
        self.sandboxes.kustomer.random_faults(None);
        self.sandboxes.ccai.reconfigure(|o| {
            o.faults = None;
            o.list_churn = 0;
        });
        self.cutter.stop();
        let url = self.push_url.clone();
        self.set_push_url(&url);
        for file in std::mem::take(&mut self.late_files) {
            self.sandboxes.ccai.change(|w| w.withheld.remove(&file));
        }
        let mut replayed = false;
        let never = self.sessions.iter().filter(|s| s.file_never).count();
        self.unsettled = Some("settling ran out of rounds".into());
        for round in 0..SETTLE_ROUNDS {
            self.stats.settle_rounds = round + 1;
            self.skew += 10 * MINUTE;
            self.sandboxes.ccai.advance_files(10 * MINUTE);
            self.publish().await?;
            self.scheduled_run().await;
            let drained = self.streams.drain(Duration::from_secs(120)).await;
            // A session whose file never comes counts as complete with its message.
            let waiting = self.sessions.len() - self.completed_now();
            self.say(&format!(
                "settling, round {}: {waiting} session(s) incomplete ({never} with a file never exported)",
                round + 1
            ));
            // Done when every session is, the last metadata rewrite (20 min) is behind the
            // file clock, and no failed work waits for a retry.
            let store: &dyn StateStore = self.store.as_ref();
            let retries = store
                .list_partition(
                    bridge_shared::stream::failures::RETRY_PARTITION,
                    self.virtual_now(),
                )
                .await
                .map(|items| items.len())
                .unwrap_or(1);
            if round >= 2
                && drained
                && waiting == 0
                && retries == 0
                && self.never_exported_have_messages()
            {
                self.unsettled = None;
                break;
            }
            // Claims and leases an invocation left behind when it was cut off expire in real
            // time (a file transfer's after 300 s, an event's after 60 s, a lease's after 30 s):
            // work dead-lettered meanwhile because a claim was still held is replayed again
            // every few rounds until that time has passed, as an operator replays once the
            // cause is gone (seed 750191: a recording whose transfer was cut off).
            if round >= 3 && (!replayed || round % 6 == 0) {
                self.stats.replayed += self.replay_dead_letters().await;
                replayed = true;
            }
            tokio::time::sleep(Duration::from_secs(if round < 2 { 2 } else { 10 })).await;
        }
        // A day later: what never came is given up, with its reason.
        self.skew += 25 * 60 * MINUTE;
        self.scheduled_run().await;
        self.streams.drain(Duration::from_secs(120)).await;
        self.stats.stream_dead_letters = self.streams.dead_letters().len();
        self.stats.sessions_churned = self.sandboxes.ccai.inspect(|w| w.churned.len());
        self.collect_stats();
        Ok(())
    }

    /// Dead letters put back: the bridge's own (`POST /admin/dead-letters/replay`), and each
    /// session of the stream's on-failure destination resynced (its records name them).
    async fn replay_dead_letters(&self) -> usize {
        let mut replayed = 0;
        if let Ok(answer) = self
            .http
            .post(format!("{}/admin/dead-letters/replay", self.host.base_url))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"all": true}))
            .send()
            .await
            && let Ok(body) = answer.json::<Value>().await
        {
            replayed += body["replayed"].as_u64().unwrap_or(0) as usize;
        }
        let mut sessions = std::collections::BTreeSet::new();
        for letter in self.streams.dead_letters() {
            for record in &letter.records {
                let trigger = serde_json::from_value::<
                    aws_lambda_events::event::dynamodb::EventRecord,
                >(record.clone())
                .ok()
                .and_then(|r| bridge_shared::stream::inbox::inbox_event(&r).ok().flatten());
                if let Some(trigger) = trigger {
                    sessions.insert((trigger.session.kind.as_str().to_owned(), trigger.session.id));
                }
            }
        }
        for (kind, id) in sessions {
            let url = format!("{}/admin/sessions/{kind}/{id}/resync", self.host.base_url);
            if self
                .http
                .post(url)
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .is_ok_and(|a| a.status().is_success())
            {
                replayed += 1;
            }
        }
        replayed
    }

    /// Whether every session whose file never comes has its message (the rest of it is done).
    fn never_exported_have_messages(&self) -> bool {
        let messages = self.sandboxes.kustomer.inspect(|w| {
            w.messages
                .iter()
                .filter_map(|m| m.text("externalId").map(str::to_owned))
                .collect::<std::collections::HashSet<String>>()
        });
        self.sessions
            .iter()
            .filter(|s| s.file_never)
            .all(|s| messages.contains(&format!("ccai-{}-{}-session", s.kind, s.id)))
    }

    /// Sessions complete in Kustomer now (their message, and their file's note when one is
    /// exported), recording when each became so.
    pub fn completed_now(&mut self) -> usize {
        let (messages, notes) = self.sandboxes.kustomer.inspect(|w| {
            let ids = |records: &Vec<bridge_tests::kustomer_sandbox::Record>| {
                records
                    .iter()
                    .filter_map(|r| r.text("externalId").map(str::to_owned))
                    .collect::<std::collections::HashSet<String>>()
            };
            (ids(&w.messages), ids(&w.notes))
        });
        if self.stats.completion.len() < self.sessions.len() {
            self.stats.completion.resize(self.sessions.len(), None);
        }
        let mut done = 0;
        for (n, session) in self.sessions.iter().enumerate() {
            if self.stats.completion[n].is_some() {
                done += 1;
                continue;
            }
            let base = format!("ccai-{}-{}", session.kind, session.id);
            let message = messages.contains(&format!("{base}-session"));
            let file = match &session.file {
                Some(name) if !session.file_never => {
                    let purpose = if name.ends_with(".txt") {
                        "transcript"
                    } else {
                        "recording"
                    };
                    notes.contains(&format!("{base}-{purpose}"))
                }
                _ => true,
            };
            if message && file {
                self.stats.completion[n] = Some(session.ended.elapsed());
                done += 1;
            }
        }
        done
    }

    fn collect_stats(&mut self) {
        let (reads, writes) = self.store.counts();
        self.stats.store_reads = reads;
        self.stats.store_writes = writes;
        self.stats.invocations_cut = self.cutter.cut.load(std::sync::atomic::Ordering::Relaxed);
        self.stats.invocations_chosen = self
            .cutter
            .chosen
            .load(std::sync::atomic::Ordering::Relaxed);
        self.stats.invocations = self
            .cutter
            .invocations
            .load(std::sync::atomic::Ordering::Relaxed);
        let (requests, by_kind, limited) = self.sandboxes.kustomer.inspect(|w| {
            let mut by_kind = std::collections::BTreeMap::new();
            for r in &w.requests {
                *by_kind.entry(request_kind(&r.method, &r.path)).or_insert(0) += 1;
            }
            (
                w.requests.len(),
                by_kind,
                w.requests.iter().filter(|r| r.status == 429).count(),
            )
        });
        self.stats.kustomer_requests = requests;
        self.stats.kustomer_by_kind = by_kind;
        self.stats.kustomer_429 = limited;
        let ccai = self.sandboxes.ccai.requests();
        self.stats.ccai_requests = ccai.len();
        self.stats.ccai_429 = ccai.iter().filter(|r| r.status == 429).count();
        for r in &ccai {
            *self
                .stats
                .ccai_by_kind
                .entry(request_kind(&r.method, &r.path))
                .or_insert(0) += 1;
        }
        self.stats.kustomer_faults = self.sandboxes.kustomer.faults_played();
        self.stats.ccai_faults = self.sandboxes.ccai.faults_played();
    }
}

/// A request's kind for the report: the method and the path with ids and queries cut.
fn request_kind(method: &str, path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    let shape: Vec<&str> = path
        .split('/')
        .map(|part| {
            if part.chars().any(|c| c.is_ascii_digit()) && part.len() > 6 {
                "{id}"
            } else {
                part
            }
        })
        .collect();
    format!("{method} {}", shape.join("/"))
}
