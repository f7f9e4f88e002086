//! `bridge-local`: the bridge on one machine.
//!
//! - `bridge-local demo [--json]`: plays the demo scenarios and writes `demo-report.html`.
//! - `bridge-local serve [--port 3000] [--json]`: serves every route of `template.yaml` with
//!   the functions' own handlers, delivers the store's stream to the stream-triggered functions
//!   as their event source mappings would, until interrupted.
//!
//! Embedded store and files under `.local/demo-files` by default; DynamoDB Local and the S3
//! stand-in when their endpoints are set (`infra/local/with-services cargo run -p bridge-local
//! -- demo`). Kustomer and CCAI are in-process sandboxes unless `KUSTOMER_BASE_URL` (with
//! `KUSTOMER_API_KEY`) and `CCAI_BASE_URL` (with `CCAI_SUBDOMAIN`, `CCAI_API_TOKEN`) are set.

use bridge_local::backends::Backends;
use bridge_local::functions::{Platforms, Tokens, handlers, start_triggered};
use bridge_local::host::LocalHost;
use bridge_local::routes::{TEMPLATE, template_routes};
use bridge_local::stream::{Pace, template_subscriptions};
use bridge_shared::ccai::CcaiClient;
use bridge_shared::config::{Env, KustomerSettings, Secret};
use bridge_shared::http::{HttpSettings, RetryPolicy, build_client};
use bridge_shared::kustomer::KustomerClient;
use bridge_shared::status::sync::{DEFAULT_LEASE, StatusService};
use bridge_shared::storage::push::{PushSettings, PushVerifier};
use bridge_shared::storage::{
    ExternalStorage, ExternalStorageSettings, FsExternalStorage, S3ExternalStorage,
};
use bridge_shared::telemetry::{self, LogFormat};
use bridge_tests::ccai_sandbox::{CcaiSandbox, CcaiSandboxOptions, ExportTarget};
use bridge_tests::kustomer_sandbox::{KustomerSandbox, SandboxOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `CCAI_EVENTS_CREDENTIALS` when unset: what a local ESE sender (the sandbox's `--play-to`) uses.
const LOCAL_EVENTS_CREDENTIALS: &str = "ccai-events:local-events-password";

fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `demo [--keep]`: every scenario, the report; with `--keep`, the console of the session
/// events' scenario stays open (with the sandboxes behind it) until Ctrl-C.
async fn demo(backends: Backends) -> ExitCode {
    let mut step = 0;
    let report = bridge_local::demo::run(&backends, &mut |name| {
        step += 1;
        eprintln!("[{step}/{}] {name} …", bridge_local::demo::SCENARIOS);
    })
    .await;
    println!("{}", report.to_text());
    match std::fs::write("demo-report.html", report.to_html()) {
        Ok(()) => println!("report written to demo-report.html"),
        Err(err) => eprintln!("demo: could not write demo-report.html: {err}"),
    }
    if report.failures() > 0 {
        return ExitCode::FAILURE;
    }
    if let Some(console) = backends.kept.as_ref().and_then(|kept| kept.take()) {
        // Its workers again, from the feed's end: a resync from the console is carried out.
        let workers =
            match bridge_local::sessions::start_streams(&backends, &console.platforms).await {
                Ok(workers) => workers,
                Err(err) => {
                    eprintln!("demo: the console's workers did not start: {err}");
                    return ExitCode::FAILURE;
                }
            };
        println!(
            "The console stays open (the links above, under 'CCAI External Session Events'); Ctrl-C to stop."
        );
        if let Err(err) = tokio::signal::ctrl_c().await {
            eprintln!("demo: cannot wait for Ctrl-C: {err}");
        }
        drop((workers, console));
    }
    ExitCode::SUCCESS
}

/// Agent sign-in: the Kustomer sandbox's OAuth provider when the host started one, else the
/// configured org's (`KUSTOMER_ORG`, `KUSTOMER_OAUTH_*`), else none (agent routes answer 401).
async fn sign_in_provider(
    sandbox: Option<&KustomerSandbox>,
    kustomer_url: &str,
) -> Result<Option<bridge_local::functions::SignInProvider>, String> {
    if let Some(sandbox) = sandbox {
        let provider = sandbox.oauth();
        return Ok(Some(Arc::new(move |redirect: &str| {
            bridge_tests::sign_in_support::sandbox_oauth(&provider, redirect)
        })));
    }
    let settings =
        bridge_shared::sign_in::settings::oauth_settings(&Env::from_process(), None, kustomer_url)
            .await
            .map_err(|e| e.to_string())?;
    Ok(settings.map(|settings| {
        Arc::new(move |_: &str| settings.clone()) as bridge_local::functions::SignInProvider
    }))
}

async fn serve(backends: Backends) -> Result<(), String> {
    let settings = HttpSettings::default();
    let http = build_client(settings).map_err(|e| e.to_string())?;
    // Sandboxes unless real endpoints are configured; kept alive for the whole run.
    let mut kustomer_sandbox = None;
    let kustomer_settings = match env("KUSTOMER_BASE_URL") {
        Some(base_url) => KustomerSettings {
            base_url,
            api_key: Secret::new(env("KUSTOMER_API_KEY").unwrap_or_default()),
        },
        None => {
            let sandbox = KustomerSandbox::start(SandboxOptions::default())
                .await
                .map_err(|e| e.to_string())?;
            let settings = KustomerSettings {
                base_url: sandbox.base_url.clone(),
                api_key: Secret::new(sandbox.api_key()),
            };
            println!("Kustomer sandbox on {}", sandbox.base_url);
            kustomer_sandbox = Some(sandbox);
            settings
        }
    };
    // The tenant's external storage: the configured bucket (EXTERNAL_STORAGE_*), else a folder
    // the in-process CCAI sandbox writes its files into.
    let local_storage = PathBuf::from(".local/tenant-storage");
    let storage_settings = ExternalStorageSettings::from_env(&Env::from_process(), None)
        .await
        .map_err(|e| e.to_string())?;
    let storage: Arc<dyn ExternalStorage> = match &storage_settings {
        Some(settings) => {
            let aws = bridge_shared::aws::load_config().await;
            Arc::new(S3ExternalStorage::new(&aws, settings))
        }
        None => Arc::new(FsExternalStorage::new(&local_storage, "ccai-exports")),
    };
    println!("external storage: {}", storage.describe());
    let mut ccai_sandbox = None;
    let ccai = match env("CCAI_BASE_URL") {
        Some(base_url) => CcaiClient::with_credentials(
            &base_url,
            &env("CCAI_SUBDOMAIN").unwrap_or_default(),
            Secret::new(env("CCAI_API_TOKEN").unwrap_or_default()),
            http.clone(),
            RetryPolicy::default(),
        ),
        None => {
            let sandbox = CcaiSandbox::start(CcaiSandboxOptions {
                external_storage: Some(ExportTarget::Folder(local_storage.clone())),
                // Files land as the platform writes them, without a test moving time.
                publish_every: Some(std::time::Duration::from_secs(2)),
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?;
            let options = sandbox.options();
            println!("CCAI sandbox on {}", sandbox.base_url);
            let client = CcaiClient::with_credentials(
                &sandbox.base_url,
                &options.subdomain,
                Secret::new(options.api_token),
                http.clone(),
                RetryPolicy::default(),
            );
            ccai_sandbox = Some(sandbox);
            client
        }
    };
    let mut kustomer =
        KustomerClient::new(&kustomer_settings, http.clone(), RetryPolicy::default());
    let mut ccai = ccai;
    // BRIDGE_MODE=shadow (R-F-2): as at a function's cold start, the clients send reads only.
    let mode = bridge_shared::config::BridgeMode::parse(env("BRIDGE_MODE").as_deref())
        .map_err(|e| e.to_string())?;
    if mode.is_shadow() {
        println!("shadow mode: nothing is written to Kustomer or CCAI Platform");
        ccai = ccai.reading_only();
        kustomer = kustomer.reading_only();
    }
    let platforms = Platforms {
        ccai: Arc::new(ccai),
        kustomer: Arc::new(kustomer),
        storage,
    };
    let tokens = Tokens {
        sign_in: sign_in_provider(kustomer_sandbox.as_ref(), &kustomer_settings.base_url).await?,
        admin: bridge_shared::bearer::BearerTokens::parse(
            "ADMIN_TOKEN",
            &Secret::new(env("ADMIN_TOKEN").unwrap_or_else(|| "local-admin-token".into())),
        )
        .map_err(|e| e.to_string())?,
        admin_emails: bridge_admin::access::AdminEmails::parse(env("ADMIN_EMAILS").as_deref())?,
        ccai_events: bridge_shared::config::split_credentials(&Secret::new(
            env("CCAI_EVENTS_CREDENTIALS").unwrap_or_else(|| LOCAL_EVENTS_CREDENTIALS.into()),
        ))
        .map_err(|e| e.to_string())?,
        storage_push: PushSettings::from_env(&Env::from_process())
            .map_err(|e| e.to_string())?
            .map(|settings| Arc::new(PushVerifier::new(settings, http.clone()))),
        lease: bridge_shared::config::seconds_setting(
            "LEASE_SECONDS",
            env("LEASE_SECONDS").as_deref(),
            5,
        )
        .map_err(|e| e.to_string())?
        .unwrap_or(bridge_shared::status::sync::DEFAULT_LEASE),
        widget: bridge_status::widget::WidgetSettings::from_env(env)?,
        click_policy: bridge_shared::click_to_call::policy::CallPolicy::from_env(
            env,
            &bridge_shared::config::CountryCode::parse(
                &env("DEFAULT_COUNTRY").unwrap_or_else(|| "US".into()),
            )
            .ok_or("DEFAULT_COUNTRY: expected a two-letter country code")?,
        )?,
        kustomer_ui: bridge_admin::kustomer_ui(env("KUSTOMER_ORG").as_deref())?,
    };
    let port = flag("--port").unwrap_or_else(|| "3000".into());
    let routes = template_routes(TEMPLATE)?;
    let bound = LocalHost::bind(&format!("127.0.0.1:{port}"))
        .await
        .map_err(|e| e.to_string())?;
    let public_url = env("BRIDGE_PUBLIC_URL").unwrap_or_else(|| bound.base_url.clone());
    let functions = handlers(backends.store.clone(), &platforms, &tokens, &public_url);
    let host = bound.serve(routes.clone(), functions);
    println!(
        "bridge on {} ({}; {})",
        host.base_url, backends.store_name, backends.blobs_name
    );
    for route in &routes {
        println!("  {:6} {:40} {}", route.method, route.path, route.function);
    }
    // Stream-triggered functions read the store's changes, as their event source mappings do.
    let streams = start_triggered(
        &backends.changes,
        template_subscriptions(TEMPLATE)?,
        backends.store.clone(),
        backends.blobs.clone(),
        &platforms,
        Pace::default(),
        |handler| handler,
    )
    .await?;
    for mapping in &streams.mappings {
        println!("  stream {}", mapping.describe());
    }
    for mapping in &streams.queue_mappings {
        let s = &mapping.subscription;
        println!(
            "  queue {:?} -> {} (batch {}, failed messages reported)",
            s.queue, s.function, s.batch_size
        );
    }
    // Scheduled functions run on their interval, as EventBridge would run them.
    let every = env("RECONCILE_SECONDS")
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let reconcile = StatusService::new(
        backends.store.clone(),
        platforms.ccai.clone(),
        platforms.kustomer.clone(),
        DEFAULT_LEASE,
    );
    let (store, ccai) = (backends.store.clone(), platforms.ccai.clone());
    let files = bridge_reconcile::FileLooks::from_env().map_err(|e| e.to_string())?;
    let scheduler = tokio::spawn(async move {
        let every = std::time::Duration::from_secs(every);
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            let run = bridge_reconcile::scheduled_run(
                &reconcile,
                store.as_ref(),
                &ccai,
                None,
                every,
                files,
            )
            .await;
            for error in &run.errors {
                tracing::warn!(%error, "scheduled reconciliation failed");
            }
        }
    });
    println!("  every {every} s: bridge-reconcile, session poller and agents (RECONCILE_SECONDS)");
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    scheduler.abort();
    drop(streams);
    drop((kustomer_sandbox, ccai_sandbox));
    Ok(())
}

/// `bridge-local doctor`: the readiness check (issue 28). With `--settings` and `--secrets`,
/// reads `scripts/deploy`'s files; else the functions' own variables. Exit 0 when nothing
/// failed, 1 otherwise; the report is also written to `doctor-report.html`.
async fn doctor() -> ExitCode {
    use bridge_local::doctor::{self, DoctorSettings, settings::read_pairs};
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let mut settings = match (value("--settings"), value("--secrets")) {
        (Some(settings), Some(secrets)) => {
            match (
                read_pairs(std::path::Path::new(&settings)),
                read_pairs(std::path::Path::new(&secrets)),
            ) {
                (Ok(settings), Ok(secrets)) => {
                    DoctorSettings::from_deploy_files(&settings, &secrets)
                }
                (Err(err), _) | (_, Err(err)) => {
                    eprintln!("bridge-local doctor: {err}");
                    return ExitCode::from(2);
                }
            }
        }
        (None, None) => DoctorSettings::from_variables(&std::env::vars().collect()),
        _ => {
            eprintln!("bridge-local doctor: give --settings and --secrets together");
            return ExitCode::from(2);
        }
    };
    if let Some(url) = value("--api-url") {
        settings.api_url = Some(url);
    }
    let checks = doctor::run(&settings).await;
    print!("{}", doctor::render::text(&checks));
    if let Err(err) = std::fs::write("doctor-report.html", doctor::render::html(&checks)) {
        eprintln!("bridge-local doctor: could not write doctor-report.html: {err}");
    } else {
        println!("report written to doctor-report.html");
    }
    if doctor::ready(&checks) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let format = if std::env::args().any(|a| a == "--json") {
        LogFormat::Json
    } else {
        LogFormat::Pretty
    };
    telemetry::init(format);
    let command = std::env::args().nth(1).unwrap_or_default();
    if command == "doctor" {
        return doctor().await;
    }
    let backends = match Backends::from_env(PathBuf::from(".local/demo-files")).await {
        Ok(backends) => backends,
        Err(err) => {
            eprintln!("bridge-local: cannot set up the stores: {err}");
            return ExitCode::FAILURE;
        }
    };
    match command.as_str() {
        "demo" if std::env::args().any(|a| a == "--keep") => demo(backends.keeping()).await,
        "demo" => demo(backends).await,
        "serve" => match serve(backends).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("bridge-local serve: {err}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!(
                "usage: bridge-local demo [--json] | bridge-local serve [--port 3000] [--json] | \
                 bridge-local doctor [--settings deploy/tenant.env --secrets deploy/tenant.secrets] [--api-url URL]"
            );
            ExitCode::from(2)
        }
    }
}
