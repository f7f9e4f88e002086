//! The functions the local host runs, built from the same crates Lambda runs, against the
//! chosen backends and platform endpoints.

use crate::host::Handler;
use crate::stream::{
    FeedSource, Pace, StreamHandler, StreamRunner, Subscription, template_queue_subscriptions,
    template_queues,
};
use bridge_admin::AdminApi;
use bridge_intake::IntakeApi;
use bridge_shared::UnixMillis;
use bridge_shared::blob::BlobStore;
use bridge_shared::ccai::CcaiClient;
use bridge_shared::config::CountryCode;
use bridge_shared::config::{BasicCredential, Secret};
use bridge_shared::conversation::FileWorker;
use bridge_shared::kustomer::KustomerClient;
use bridge_shared::queue::memory::MemoryQueues;
use bridge_shared::sign_in::{CALLBACK_PATH, KustomerOAuth, OAuthSettings};
use bridge_shared::status::sync::{DEFAULT_LEASE, StatusService};
use bridge_shared::storage::ExternalStorage;
use bridge_shared::storage::push::PushVerifier;
use bridge_shared::store::StateStore;
use bridge_status::StatusApi;
use bridge_sync::SyncApi;
use std::collections::HashMap;
use std::sync::Arc;

pub struct Platforms {
    pub ccai: Arc<CcaiClient>,
    pub kustomer: Arc<KustomerClient>,
    /// The tenant's external storage (recordings, transcripts).
    pub storage: Arc<dyn ExternalStorage>,
}

impl Platforms {
    /// Clients of both sandboxes and the tenant storage their CCAI side writes into.
    pub fn of(sandboxes: &bridge_tests::platforms::SandboxedPlatforms) -> Self {
        Self {
            ccai: sandboxes.ccai_client.clone(),
            kustomer: sandboxes.kustomer_client.clone(),
            storage: sandboxes.storage.clone(),
        }
    }
}

/// Kustomer's OAuth provider for a host whose sign-in callback is the given URL (a stand-in
/// registers a client for it; a real org's settings ignore it).
pub type SignInProvider = Arc<dyn Fn(&str) -> OAuthSettings + Send + Sync>;

pub struct Tokens {
    /// Agent sign-in (R-SEC-1); `None`: agent routes answer 401.
    pub sign_in: Option<SignInProvider>,
    pub admin: bridge_shared::bearer::BearerTokens,
    /// ADMIN_EMAILS: the Kustomer users let into the admin console (R-ADM-3).
    pub admin_emails: bridge_admin::access::AdminEmails,
    /// CCAI_EVENTS_CREDENTIALS: the Basic credentials of External Session Events.
    pub ccai_events: Vec<BasicCredential>,
    /// STORAGE_PUSH_*: who may push storage notifications (`None`: the route is off).
    pub storage_push: Option<Arc<PushVerifier>>,
    /// LEASE_SECONDS: how long an agent tab's lease lasts.
    pub lease: std::time::Duration,
    /// The widget's page settings (KUSTOMER_APP_ORIGINS, KUSTOMER_CARDS_SDK_URL, WIDGET_POLL_SECONDS).
    pub widget: bridge_status::widget::WidgetSettings,
    /// Which calls click-to-call may start (CLICK_TO_CALL_COUNTRIES, CLICK_TO_CALL_PER_HOUR).
    pub click_policy: bridge_shared::click_to_call::policy::CallPolicy,
    /// KUSTOMER_ORG's web app: the console's links into Kustomer (`None`: no links).
    pub kustomer_ui: Option<bridge_shared::kustomer::KustomerUi>,
}

/// The demo's credentials (local only): the admin's bearer token, and the Basic credential its
/// External Session Events are sent with (agents sign in through the Kustomer sandbox).
pub const DEMO_ADMIN_TOKEN: &str = "demo-admin-token";
pub const DEMO_EVENTS_USER: &str = "ccai-events";
pub const DEMO_EVENTS_PASSWORD: &str = "demo-events-password";

impl Tokens {
    /// The demo scenarios' tokens; `storage_push` turns `/webhooks/storage` on.
    pub fn demo(storage_push: Option<Arc<PushVerifier>>) -> Self {
        Self {
            sign_in: None,
            admin: bridge_shared::bearer::BearerTokens::of(DEMO_ADMIN_TOKEN),
            admin_emails: Default::default(),
            ccai_events: vec![BasicCredential {
                user: DEMO_EVENTS_USER.into(),
                password: Secret::new(DEMO_EVENTS_PASSWORD),
            }],
            storage_push,
            lease: DEFAULT_LEASE,
            widget: Default::default(),
            click_policy: bridge_shared::click_to_call::policy::CallPolicy::domestic(
                &Default::default(),
            ),
            kustomer_ui: None,
        }
    }

    /// With agents signing in through this Kustomer sandbox's OAuth provider.
    pub fn signing_in_with(
        mut self,
        sandbox: &bridge_tests::kustomer_sandbox::KustomerSandbox,
    ) -> Self {
        let sandbox = sandbox.oauth();
        self.sign_in = Some(Arc::new(move |redirect: &str| {
            bridge_tests::sign_in_support::sandbox_oauth(&sandbox, redirect)
        }));
        self
    }
}

/// A local host serving every route of `template.yaml` with the functions' handlers on these
/// clients, on a free loopback port (the demo scenarios).
pub async fn demo_host(
    store: Arc<dyn StateStore>,
    platforms: &Platforms,
    tokens: &Tokens,
) -> Result<crate::host::LocalHost, String> {
    let bound = crate::host::LocalHost::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let functions = handlers(store, platforms, tokens, &bound.base_url);
    Ok(bound.serve(
        crate::routes::template_routes(crate::routes::TEMPLATE)?,
        functions,
    ))
}

/// Handlers by function (handler) name, as `template.yaml` names them.
/// `public_url`: the host's own URL as browsers reach it (the sign-in's callback is there).
pub fn handlers(
    store: Arc<dyn StateStore>,
    platforms: &Platforms,
    tokens: &Tokens,
    public_url: &str,
) -> HashMap<String, Handler> {
    let scoped = |function| crate::policies::scoped(&store, function);
    let service = |function| {
        StatusService::new(
            scoped(function),
            platforms.ccai.clone(),
            platforms.kustomer.clone(),
            tokens.lease,
        )
    };
    let oauth = tokens.sign_in.as_ref().and_then(|provider| {
        Some(KustomerOAuth {
            settings: provider(&format!("{public_url}{CALLBACK_PATH}")),
            http: bridge_shared::http::build_client(Default::default()).ok()?,
        })
    });
    let status = Arc::new(StatusApi {
        service: service("status"),
        store: scoped("status"),
        oauth,
        public_url: Some(public_url.to_owned()),
        click: bridge_shared::click_to_call::ClickToCall {
            store: scoped("status"),
            kustomer: platforms.kustomer.clone(),
            ccai: platforms.ccai.clone(),
            country: Default::default(),
            policy: tokens.click_policy.clone(),
        },
        widget: tokens.widget.clone(),
    });
    let admin = Arc::new(AdminApi {
        status: service("admin"),
        store: scoped("admin"),
        ccai: platforms.ccai.clone(),
        kustomer: platforms.kustomer.clone(),
        admin_tokens: bridge_shared::bearer::RotatingTokens::fixed(tokens.admin.clone()),
        admins: tokens.admin_emails.clone(),
        public_url: Some(public_url.to_owned()),
        changes_kept: bridge_shared::audit::DEFAULT_KEPT,
        pacing_schedules: Vec::new(),
        kustomer_ui: tokens.kustomer_ui.clone(),
    });
    let intake = Arc::new(IntakeApi {
        store: scoped("intake"),
        credentials: tokens.ccai_events.clone(),
        storage_push: tokens.storage_push.clone(),
    });
    let mut functions: HashMap<String, Handler> = HashMap::new();
    functions.insert(
        "intake".into(),
        Arc::new(move |request| {
            let api = intake.clone();
            Box::pin(async move { bridge_intake::handle(&api, request, UnixMillis::now()).await })
        }),
    );
    functions.insert(
        "status".into(),
        Arc::new(move |request| {
            let api = status.clone();
            Box::pin(async move { bridge_status::handle(&api, request, UnixMillis::now()).await })
        }),
    );
    functions.insert(
        "admin".into(),
        Arc::new(move |request| {
            let api = admin.clone();
            Box::pin(async move { bridge_admin::handle(&api, request, UnixMillis::now()).await })
        }),
    );
    functions
}

/// A stream- or queue-triggered function as the host calls it: the Lambda event as JSON
/// (DynamoDB stream or SQS), parsed by the function's own event type, handed to its
/// `handle`; its answer as JSON.
macro_rules! stream_handler {
    ($api:expr, $handle:path) => {{
        let api = Arc::new($api);
        let handler: StreamHandler = Arc::new(move |payload| {
            let api = api.clone();
            Box::pin(async move {
                let event = serde_json::from_value(payload)
                    .map_err(|err| format!("not the function's event: {err}"))?;
                let answer = $handle(&api, event, UnixMillis::now())
                    .await
                    .map_err(|err| err.to_string())?;
                serde_json::to_value(answer).map_err(|err| err.to_string())
            })
        });
        handler
    }};
}

/// `EXTERNAL_STORAGE_FILES` as the functions read it (all four when unset or unreadable: the
/// host's own checks report a bad value at start).
fn exported_types() -> bridge_shared::storage::ExportedTypes {
    bridge_shared::storage::ExportedTypes::parse(
        &std::env::var("EXTERNAL_STORAGE_FILES").unwrap_or_default(),
    )
    .unwrap_or_else(|err| {
        tracing::error!(error = %err, "EXTERNAL_STORAGE_FILES: every type is read");
        Default::default()
    })
}

/// Stream- and queue-triggered handlers by function name, each with its own clients, as on
/// AWS: the inbox worker hands file work to `queues`, which the file workers read.
pub fn stream_handlers(
    store: Arc<dyn StateStore>,
    blobs: Arc<dyn BlobStore>,
    platforms: &Platforms,
    queues: Arc<MemoryQueues>,
) -> HashMap<String, StreamHandler> {
    let scoped = |function| crate::policies::scoped(&store, function);
    let status = || {
        StatusService::new(
            scoped("sync"),
            platforms.ccai.clone(),
            platforms.kustomer.clone(),
            DEFAULT_LEASE,
        )
    };
    // `DEFAULT_COUNTRY` as the functions read it (US when unset).
    let country = std::env::var("DEFAULT_COUNTRY")
        .ok()
        .and_then(|c| CountryCode::parse(&c))
        .unwrap_or_default();
    let sync = SyncApi {
        storage: Some(platforms.storage.clone()),
        status: status(),
        store: scoped("sync"),
        ccai: platforms.ccai.clone(),
        kustomer: platforms.kustomer.clone(),
        caller_country: country.clone(),
        exported: exported_types(),
        failures: Default::default(),
        file_work: Some(queues),
    };
    let worker = |function| {
        FileWorker::new(
            scoped(function),
            blobs.clone(),
            platforms.storage.clone(),
            platforms.ccai.clone(),
            platforms.kustomer.clone(),
        )
        .reading_numbers_in(country.clone())
        .exporting(exported_types())
    };
    HashMap::from([
        (
            "sync".to_owned(),
            stream_handler!(sync, bridge_sync::handle),
        ),
        (
            "recording".to_owned(),
            stream_handler!(worker("recording"), bridge_recording::handle_queue),
        ),
        (
            "transcript".to_owned(),
            stream_handler!(worker("transcript"), bridge_transcript::handle_queue),
        ),
    ])
}

/// Every event-triggered function of `template.yaml` on these backends: the stream's
/// `subscriptions` (as the caller adjusted them) and the file queues, whose visibility timeout
/// is capped at the pace's longest retry. `wrap` may wrap each handler (the soak cuts some
/// invocations off).
pub async fn start_triggered(
    source: &FeedSource,
    subscriptions: Vec<Subscription>,
    store: Arc<dyn StateStore>,
    blobs: Arc<dyn BlobStore>,
    platforms: &Platforms,
    pace: Pace,
    wrap: impl Fn(StreamHandler) -> StreamHandler,
) -> Result<StreamRunner, String> {
    let queues = Arc::new(MemoryQueues::new(template_queues(
        crate::routes::TEMPLATE,
        pace.retry_max,
    )?));
    let handlers: HashMap<String, StreamHandler> =
        stream_handlers(store, blobs, platforms, queues.clone())
            .into_iter()
            .map(|(name, handler)| (name, wrap(handler)))
            .collect();
    let mut runner = StreamRunner::start(source, subscriptions, &handlers, pace).await?;
    runner.serve_queues(
        &queues,
        template_queue_subscriptions(crate::routes::TEMPLATE)?,
        &handlers,
        pace,
    );
    Ok(runner)
}
