//! Issue 28 (R-F): the readiness check passes against the sandboxes and a local host set up as
//! a tenant would, and each broken setting yields its own ✖ with the fix.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_local::doctor::{self, Check, DoctorSettings, Verdict};
use bridge_local::functions::{DEMO_ADMIN_TOKEN, Platforms, Tokens, demo_host};
use bridge_local::host::LocalHost;
use bridge_shared::config::Secret;
use bridge_shared::store::{EmbeddedStore, StateStore};
use bridge_tests::ccai_sandbox::ExportTarget;
use bridge_tests::ccai_sandbox::ScenarioDriver;
use bridge_tests::kustomer_sandbox::{Fault, FaultMatch, SandboxOptions};
use bridge_tests::platforms::SandboxedPlatforms;
use serde_json::{Value, json};
use std::sync::Arc;

struct Tenant {
    platforms: SandboxedPlatforms,
    _host: LocalHost,
    settings: DoctorSettings,
    store: Arc<dyn StateStore>,
}

/// The admin's first steps: a status mapping saved (Kustomer Lunch → CCAI Break) and a
/// custom field created, through the admin API as the docs say.
async fn configure(host: &LocalHost) {
    let http = bridge_shared::http::builder().build().unwrap();
    let admin = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{}{path}", host.base_url))
            .bearer_auth(DEMO_ADMIN_TOKEN)
    };
    let lists: Value = admin(reqwest::Method::GET, "/admin/status-mapping")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_of = |list: &str, name: &str| {
        lists[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name && s["can_be_target"] != false)
            .unwrap()["id"]
            .clone()
    };
    let (lunch, brk) = (
        id_of("kustomer_statuses", "Lunch"),
        id_of("ccai_statuses", "Break"),
    );
    let saved = admin(reqwest::Method::PUT, "/admin/status-mapping")
        .json(&json!({"to_ccai": {lunch.as_str().unwrap(): brk}}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let fields: Value = admin(reqwest::Method::GET, "/admin/custom-fields")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created = admin(reqwest::Method::POST, "/admin/custom-fields")
        .json(&json!({"field": fields["fields"][0]["id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
}

/// A tenant as the docs set it up, its admin's first steps taken ([`configure`]).
async fn tenant(kustomer: SandboxOptions) -> Tenant {
    let tenant = unconfigured_tenant(kustomer).await;
    configure(&tenant._host).await;
    tenant
}

/// A tenant as the docs set it up: agents in both platforms, sessions whose files CCAI wrote
/// to the bucket, the Kustomer app registered with the stack's redirect URI, a stack serving.
async fn unconfigured_tenant(kustomer: SandboxOptions) -> Tenant {
    let kustomer_key = kustomer.api_key.clone();
    let platforms = SandboxedPlatforms::start_both(Default::default(), kustomer)
        .await
        .unwrap();
    let ana = format!("{}@example.com", bridge_tests::unique("ana"));
    let agent = platforms.add_agent(&ana, "Ana", "Available");
    let driver = ScenarioDriver::new(&platforms.ccai, None);
    driver.ivr_call_answered(agent, "+15550104477").await;
    driver
        .chat_with_transcript(
            agent,
            "app-user-1",
            &[("end_user", "Hello"), ("agent", "Hi")],
        )
        .await;
    platforms.ccai.publish_due().await.unwrap();

    let store: Arc<dyn StateStore> = Arc::new(EmbeddedStore::new());
    let host = demo_host(
        store.clone(),
        &Platforms::of(&platforms),
        &Tokens::demo(None),
    )
    .await
    .unwrap();
    let redirect = format!("{}/agents/sign-in/callback", host.base_url);
    let app = platforms
        .kustomer
        .oauth()
        .register_client("CCAI bridge", &[redirect.as_str()]);
    let ccai = platforms.ccai.options();
    let bucket = match &ccai.external_storage {
        Some(ExportTarget::Bucket { bucket, .. }) => bucket.clone(),
        other => panic!("the doctor reads a bucket over the S3 API; the sandbox writes {other:?}"),
    };
    let env = |name: &str| std::env::var(name).ok();
    let settings = DoctorSettings {
        ccai_base_url: Some(platforms.ccai.base_url.clone()),
        ccai_subdomain: Some(ccai.subdomain.clone()),
        ccai_api_token: Some(Secret::new(ccai.api_token.clone())),
        kustomer_base_url: Some(platforms.kustomer.base_url.clone()),
        kustomer_api_key: Some(Secret::new(kustomer_key)),
        kustomer_requests_per_minute: None,
        kustomer_org: None,
        oauth_client_id: Some(app.client_id.clone()),
        oauth_client_secret: Some(Secret::new(app.client_secret.clone())),
        oauth_authorize_url: Some(format!(
            "{}/oauth/authorize",
            platforms.kustomer.base_url.clone()
        )),
        storage_bucket: Some(bucket),
        storage_prefix: ccai.external_prefix.clone(),
        storage_endpoint: env("AWS_ENDPOINT_URL_S3"),
        storage_region: env("AWS_REGION"),
        storage_access_key_id: env("AWS_ACCESS_KEY_ID").map(Secret::new),
        storage_secret_access_key: env("AWS_SECRET_ACCESS_KEY").map(Secret::new),
        // What this tenant exports: no SmartAction media.
        storage_files: Some("recordings,transcripts,metadata".into()),
        api_url: Some(host.base_url.clone()),
        admin_token: Some(Secret::new(DEMO_ADMIN_TOKEN)),
    };
    Tenant {
        platforms,
        _host: host,
        settings,
        store,
    }
}

fn check<'a>(checks: &'a [Check], id: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id} in {checks:#?}"))
}

#[tokio::test]
async fn r_f_1_the_doctor_passes_against_a_tenant_set_up_as_documented() {
    let tenant = tenant(SandboxOptions::default()).await;
    let checks = doctor::run(&tenant.settings).await;
    let report = doctor::render::text(&checks);
    println!("{report}");
    assert!(doctor::ready(&checks), "{report}");
    for id in [
        "ccai.credentials",
        "ccai.menus_teams",
        "ccai.agents",
        "kustomer.key",
        "kustomer.read_statuses",
        "kustomer.read_work_sessions",
        "kustomer.read_metadata",
        "kustomer.agents",
        "kustomer.sign_in",
        "storage.bucket",
        "storage.files",
        "storage.types",
        "stack.events_endpoint",
        "stack.health",
        "stack.dead_letters",
        "stack.mapping",
        "stack.custom_fields",
    ] {
        assert_eq!(check(&checks, id).verdict, Verdict::Pass, "{id}\n{report}");
    }
    // Its sessions were played without session events (the poll finds them): said, not failed.
    assert_eq!(
        check(&checks, "stack.events_received").verdict,
        Verdict::Warn,
        "{report}"
    );
    assert_eq!(
        check(&checks, "storage.ages").verdict,
        Verdict::Pass,
        "{report}"
    );
    // The sandbox, like a real tenant may, has a custom "Meal" beside the built-in one.
    assert_eq!(
        check(&checks, "ccai.statuses").verdict,
        Verdict::Warn,
        "{report}"
    );
    // Read as the workers read them; known keys or not, the file was read.
    for id in ["storage.metadata_file", "storage.transcript"] {
        assert_ne!(check(&checks, id).verdict, Verdict::Fail, "{id}\n{report}");
        assert_ne!(
            check(&checks, id).verdict,
            Verdict::Unchecked,
            "{id}\n{report}"
        );
    }
    assert_eq!(
        check(&checks, "kustomer.writes").verdict,
        Verdict::Unchecked
    );
    // No secret in the report.
    for secret in [
        tenant.settings.ccai_api_token.as_ref().unwrap().expose(),
        tenant.settings.kustomer_api_key.as_ref().unwrap().expose(),
        tenant
            .settings
            .oauth_client_secret
            .as_ref()
            .unwrap()
            .expose(),
    ] {
        assert!(!report.contains(secret));
        assert!(!doctor::render::html(&checks).contains(secret));
    }
    assert!(tenant.platforms.unexpected_requests().is_empty());
    // Nothing written: no customer, conversation, note or status change.
    assert_eq!(
        tenant
            .platforms
            .kustomer
            .requests_to("POST", "/v1/customers")
            + tenant
                .platforms
                .kustomer
                .requests_to("POST", "/v1/conversations")
            + tenant.platforms.kustomer.requests_to("PATCH", "/v1/"),
        0
    );
}

/// Each broken setting: the check that fails, and a fix given.
#[tokio::test]
async fn r_f_1_each_broken_setting_yields_its_own_failure_with_the_fix() {
    type Break = fn(&mut DoctorSettings, &SandboxedPlatforms);
    let broken: [(&str, &str, Break); 13] = [
        ("a wrong CCAI token", "ccai.credentials", |s, _| {
            s.ccai_api_token = Some(Secret::new("not-the-token"))
        }),
        ("a wrong CCAI host", "ccai.credentials", |s, _| {
            s.ccai_base_url = Some("http://127.0.0.1:9".into())
        }),
        ("a wrong Kustomer key", "kustomer.key", |s, _| {
            s.kustomer_api_key = Some(Secret::new("not-the-key"))
        }),
        (
            "a Kustomer key without routing permissions",
            "kustomer.read_statuses",
            |_, p| {
                p.kustomer.inject(
                    FaultMatch {
                        method: Some(http::Method::GET),
                        path_prefix: Some("/v1/routing/statuses".into()),
                        ..Default::default()
                    },
                    Fault::Answer(403, r#"{"errors":[{"status":403,"title":"Forbidden"}]}"#),
                )
            },
        ),
        ("no OAuth client id", "kustomer.sign_in", |s, _| {
            s.oauth_client_id = None
        }),
        ("a wrong OAuth client id", "kustomer.sign_in", |s, _| {
            s.oauth_client_id = Some("client-nobody".into())
        }),
        (
            "a redirect URI the app does not declare",
            "kustomer.sign_in",
            |s, _| {
                s.api_url = s.api_url.as_ref().map(|u| format!("{u}/elsewhere"));
            },
        ),
        ("an unreadable bucket", "storage.bucket", |s, _| {
            s.storage_bucket = Some("no-such-tenant-bucket".into())
        }),
        ("a wrong prefix", "storage.files", |s, _| {
            s.storage_prefix = "not-the-exports".into()
        }),
        ("a type listed but not exported", "storage.types", |s, _| {
            s.storage_files = Some("recordings,transcripts,metadata,media".into())
        }),
        ("a wrong ApiUrl", "stack.events_endpoint", |s, p| {
            s.api_url = Some(p.kustomer.base_url.clone())
        }),
        ("a wrong admin token", "stack.health", |s, _| {
            s.admin_token = Some(Secret::new("not-the-admin-token"))
        }),
        (
            "a created field's attribute deleted in Kustomer",
            "stack.custom_fields",
            |_, p| {
                p.kustomer.inspect_mut(|w| {
                    for properties in w.metadata.values_mut() {
                        properties.clear();
                    }
                })
            },
        ),
    ];
    for (what, id, breaks) in broken {
        let mut tenant = tenant(SandboxOptions::default()).await;
        breaks(&mut tenant.settings, &tenant.platforms);
        let checks = doctor::run(&tenant.settings).await;
        let report = doctor::render::text(&checks);
        let failed = check(&checks, id);
        assert_eq!(failed.verdict, Verdict::Fail, "{what}: {id}\n{report}");
        assert!(
            failed.fix.as_deref().is_some_and(|f| f.len() > 10),
            "{what}: a fix is given\n{report}"
        );
        assert!(!doctor::ready(&checks), "{what}");
    }
}

/// The org's plan allows fewer requests than the bridge is set to use.
#[tokio::test]
async fn r_f_1_a_budget_above_the_plans_is_a_failure() {
    let mut tenant = tenant(SandboxOptions {
        org_budget: Some(300),
        ..Default::default()
    })
    .await;
    let checks = doctor::run(&tenant.settings).await;
    assert_eq!(check(&checks, "kustomer.budget").verdict, Verdict::Pass);
    tenant.settings.kustomer_requests_per_minute = Some(1000);
    let checks = doctor::run(&tenant.settings).await;
    let budget = check(&checks, "kustomer.budget");
    assert_eq!(budget.verdict, Verdict::Fail, "{budget:?}");
    assert!(budget.found.contains("300"), "{budget:?}");
}

/// The mapping was saved; a target was deleted in CCAI Platform since (or renamed).
#[tokio::test]
async fn r_f_1_a_mapping_whose_target_is_gone_is_a_failure() {
    use bridge_shared::status::StatusMapping;
    // Saved before the admin function first reads it (each function keeps it a while).
    let tenant = unconfigured_tenant(SandboxOptions::default()).await;
    let lunch = tenant.platforms.kustomer.status_id("Lunch").unwrap();
    let service = tenant.platforms.status_service(tenant.store.clone());
    let mut gone = StatusMapping::default();
    gone.to_ccai.insert(lunch, 987_654);
    gone.ccai_names.insert("987654".into(), "Coaching".into());
    service.save_mapping(&gone).await.unwrap();
    let checks = doctor::run(&tenant.settings).await;
    let mapping = check(&checks, "stack.mapping");
    assert_eq!(mapping.verdict, Verdict::Fail, "{mapping:?}");
    assert!(
        mapping.found.contains("Coaching (987654) no longer exists"),
        "{mapping:?}"
    );
    assert!(!doctor::ready(&checks));
}
