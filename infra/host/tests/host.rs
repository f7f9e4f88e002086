//! The local host: routes read from template.yaml, real API Gateway (REST and HTTP API) and
//! function-URL events reaching the functions' own handlers, and requests over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_local::functions::{Platforms, Tokens, handlers};
use bridge_local::host::LocalHost;
use bridge_local::routes::{Route, TEMPLATE, template_routes};
use bridge_shared::UnixMillis;
use bridge_shared::config::Secret;
use bridge_shared::store::{EmbeddedStore, StateStore};
use bridge_status::{StatusApi, handle};
use bridge_tests::platforms::SandboxedPlatforms;
use lambda_http::Body;
use serde_json::Value;
use std::sync::Arc;

#[test]
fn every_route_of_the_template_is_read_with_its_function() {
    let routes = template_routes(TEMPLATE).unwrap();
    let has = |function: &str, method: &str, path: &str| {
        routes.contains(&Route {
            function: function.into(),
            method: method.into(),
            path: path.into(),
        })
    };
    assert!(has("status", "POST", "/agents/instances"));
    assert!(has("status", "PUT", "/agents/instances/{instance_id}"));
    assert!(has("status", "DELETE", "/agents/instances/{instance_id}"));
    assert!(has("status", "POST", "/webhooks/kustomer/status"));
    assert!(has("admin", "PUT", "/admin/status-mapping"));
    assert!(has("admin", "GET", "/admin/health"));
    assert!(has("intake", "POST", "/webhooks/ccai"));
    assert!(has("admin", "GET", "/admin/rejected"));
    assert!(has("intake", "POST", "/webhooks/storage"));
    assert!(has("admin", "GET", "/admin/dead-letters"));
    assert!(has("admin", "POST", "/admin/dead-letters/replay"));
    assert!(has("admin", "GET", "/admin/custom-fields"));
    assert!(has("admin", "POST", "/admin/custom-fields"));
    assert!(has("admin", "DELETE", "/admin/custom-fields/{field}"));
    assert!(has("admin", "GET", "/admin/sdk-keys"));
    assert!(has("admin", "PUT", "/admin/sdk-keys"));
    assert!(has("status", "POST", "/click-to-call"));
    assert!(has("status", "GET", "/agents/sign-in"));
    assert!(has("status", "GET", "/agents/sign-in/callback"));
    assert!(has("status", "GET", "/agents/session"));
    assert!(has("status", "DELETE", "/agents/session"));
    assert!(has("status", "GET", "/widget/{asset}"));
    assert!(has("admin", "GET", "/admin/sessions/{kind}/{id}"));
    assert!(has("admin", "POST", "/admin/sessions/{kind}/{id}/resync"));
    assert!(has("admin", "DELETE", "/admin/agents/{email}/sessions"));
    assert!(has("admin", "GET", "/admin/shapes"));
    assert!(has("admin", "GET", "/admin/shadow"));
    assert_eq!(routes.len(), 35);
}

#[test]
fn path_parameters_match_one_segment() {
    let route = Route {
        function: "f".into(),
        method: "PUT".into(),
        path: "/agents/instances/{instance_id}".into(),
    };
    assert!(route.matches("PUT", "/agents/instances/tab-1"));
    assert!(route.matches("put", "/agents/instances/tab-1/"));
    assert!(!route.matches("PUT", "/agents/instances"));
    assert!(!route.matches("PUT", "/agents/instances/tab-1/extra"));
    assert!(!route.matches("POST", "/agents/instances/tab-1"));
}

/// The agent session the fixtures' requests carry (`Authorization: Bearer …`).
const FIXTURE_SESSION: &str = "fixture-agent-session-token-000000000000000";

async fn status_api(store: Arc<dyn StateStore>) -> (StatusApi, SandboxedPlatforms) {
    let platforms = SandboxedPlatforms::start().await.unwrap();
    platforms.add_agent("fixture.agent@example.com", "Fixture", "Available");
    let user = platforms
        .kustomer_user("fixture.agent@example.com")
        .unwrap();
    bridge_tests::sign_in_support::put_session(
        store.as_ref(),
        FIXTURE_SESSION,
        "fixture.agent@example.com",
        &user,
        UnixMillis::now(),
    )
    .await;
    let api = StatusApi {
        service: platforms.status_service(store.clone()),
        store: store.clone(),
        oauth: None,
        public_url: None,
        click: platforms.click_to_call(store),
        widget: Default::default(),
    };
    (api, platforms)
}

fn body_json(response: &lambda_http::Response<Body>) -> Value {
    match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        other => panic!("unexpected body {other:?}"),
    }
}

/// The same handler takes the events API Gateway's REST API (the stack's, the stage in front of
/// the path: review S6), an HTTP API (payload 2.0) and a function URL (base64 body) deliver.
#[tokio::test]
async fn real_lambda_events_reach_the_status_handler() {
    let (api, _platforms) = status_api(Arc::new(EmbeddedStore::new())).await;
    let rest =
        lambda_http::request::from_str(include_str!("fixtures/apigw-v1-claim.json")).unwrap();
    assert_eq!(
        rest.uri().path(),
        "/bridge/agents/instances",
        "lambda_http keeps the stage in the path"
    );
    let response = handle(&api, rest, UnixMillis::now()).await;
    assert_eq!(response.status(), 201, "{:?}", response.body());
    assert_eq!(body_json(&response)["lease_token"], 1);
    let release = lambda_http::request::from_str(
        &include_str!("fixtures/apigw-v1-claim.json")
            .replace("\"httpMethod\": \"POST\"", "\"httpMethod\": \"DELETE\"")
            .replace("/agents/instances\"", "/agents/instances/tab-2\"")
            .replace(r#"\"instance_id\":\"tab-2\""#, r#"\"lease_token\":1"#),
    )
    .unwrap();
    let response = handle(&api, release, UnixMillis::now()).await;
    assert_eq!(response.status(), 204, "{:?}", response.body());

    let gateway =
        lambda_http::request::from_str(include_str!("fixtures/apigw-v2-claim.json")).unwrap();
    let response = handle(&api, gateway, UnixMillis::now()).await;
    assert_eq!(response.status(), 201, "{:?}", response.body());
    assert_eq!(
        body_json(&response)["lease_token"],
        2,
        "the lease released above is taken again"
    );

    let function_url =
        lambda_http::request::from_str(include_str!("fixtures/function-url-claim.json")).unwrap();
    let response = handle(&api, function_url, UnixMillis::now()).await;
    assert_eq!(
        response.status(),
        409,
        "the second tab is refused: {:?}",
        response.body()
    );
    assert!(
        body_json(&response).get("held_by").is_none(),
        "no other tab is named (S2)"
    );
}

#[tokio::test]
async fn the_host_serves_the_template_routes_over_http() {
    let store: Arc<dyn StateStore> = Arc::new(EmbeddedStore::new());
    let sandboxes = SandboxedPlatforms::start().await.unwrap();
    let platforms = Platforms::of(&sandboxes);
    let tokens = Tokens {
        sign_in: None,
        admin: bridge_shared::bearer::BearerTokens::of("a"),
        admin_emails: Default::default(),
        ccai_events: vec![bridge_shared::config::BasicCredential {
            user: "u".into(),
            password: Secret::new("w"),
        }],
        storage_push: None,
        lease: bridge_shared::status::sync::DEFAULT_LEASE,
        widget: Default::default(),
        click_policy: bridge_shared::click_to_call::policy::CallPolicy::domestic(
            &Default::default(),
        ),
        kustomer_ui: None,
    };
    let mut functions = handlers(store, &platforms, &tokens, "http://127.0.0.1");
    functions.remove("admin");
    let host = LocalHost::start("127.0.0.1:0", template_routes(TEMPLATE).unwrap(), functions)
        .await
        .unwrap();
    let http = bridge_shared::http::builder().build().unwrap();

    let claim = http
        .post(format!("{}/agents/instances", host.base_url))
        .bearer_auth("b")
        .json(&serde_json::json!({"instance_id": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        claim.status(),
        401,
        "the status handler answered: no agent session"
    );
    assert!(
        claim
            .text()
            .await
            .unwrap()
            .contains("sign in with Kustomer")
    );

    let unknown = http
        .get(format!("{}/nowhere", host.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let missing = http
        .get(format!("{}/admin/health", host.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing.status(),
        501,
        "a route whose function is not loaded says so"
    );
}

/// Each function is given (and its role may read) exactly the secrets its code reads
/// (`bridge_shared::config::secrets`), nothing else (issue 17).
#[test]
fn each_function_gets_only_the_secrets_it_reads() {
    use bridge_shared::config::secrets;
    use yaml_rust2::YamlLoader;
    let documents = YamlLoader::load_from_str(TEMPLATE).unwrap();
    let resources = documents[0]["Resources"].as_hash().unwrap();
    for (function, wanted) in [
        ("intake", secrets::INTAKE),
        ("status", &[secrets::STATUS, secrets::SIGN_IN].concat()),
        ("admin", secrets::ADMIN),
        ("sync", secrets::WORKER),
        ("recording", secrets::WORKER),
        ("transcript", secrets::WORKER),
        ("reconcile", secrets::WORKER),
    ] {
        let resource = resources
            .values()
            .find(|r| r["Properties"]["Handler"].as_str() == Some(function))
            .unwrap();
        let mut given: Vec<String> = resource["Properties"]["Environment"]["Variables"]
            .as_hash()
            .into_iter()
            .flatten()
            .filter_map(|(k, _)| k.as_str())
            .filter(|k| k.ends_with("_PARAM") && !k.starts_with("EXTERNAL_STORAGE"))
            .map(|k| k.trim_end_matches("_PARAM").to_owned())
            .collect();
        given.sort();
        let mut wanted: Vec<String> = wanted.iter().map(|s| (*s).to_owned()).collect();
        wanted.sort();
        assert_eq!(given, wanted, "{function}'s secrets");
        let readable = resource["Properties"]["Policies"]
            .as_vec()
            .unwrap()
            .iter()
            .filter(|p| !p["SSMParameterReadPolicy"].is_badvalue())
            .count();
        let storage = if resource["Properties"]["Environment"]["Variables"]
            ["EXTERNAL_STORAGE_ACCESS_KEY_ID_PARAM"]
            .is_badvalue()
        {
            0
        } else {
            2
        };
        assert_eq!(
            readable,
            wanted.len() + storage,
            "{function}'s readable parameters"
        );
    }
    assert!(
        !TEMPLATE.contains("KUSTOMER_WEBHOOK_SECRET"),
        "no function reads it"
    );
}

/// Writes an empty item at each of `allowed` and of `forbidden` through a function's store as
/// the local host scopes it: the first must be written, the second refused as IAM refuses.
async fn assert_writes(
    scoped: &Arc<dyn StateStore>,
    allowed: &[bridge_shared::store::ItemKey],
    forbidden: &[bridge_shared::store::ItemKey],
) {
    use bridge_shared::store::Item;
    for key in allowed {
        scoped
            .put(&Item::new(key.clone(), serde_json::json!({})))
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    for key in forbidden {
        let refused = scoped
            .put(&Item::new(key.clone(), serde_json::json!({})))
            .await
            .expect_err(&key.to_string());
        assert!(
            refused.to_string().contains("AccessDenied"),
            "{key}: {refused}"
        );
    }
}

/// Review S10: the intake's role is limited to its own partitions (`dynamodb:LeadingKeys` in
/// template.yaml), and the local host enforces it as IAM would: an inbox item and a rejected
/// event may be written, the mapping or a session link may not (whatever a bug tried).
#[tokio::test]
async fn s10_the_intake_may_write_only_its_own_partitions() {
    use bridge_shared::store::ItemKey;
    let store: Arc<dyn StateStore> = Arc::new(EmbeddedStore::new());
    let intake = bridge_local::policies::scoped(&store, "intake");
    assert_writes(
        &intake,
        &[ItemKey::inbox("e-1"), ItemKey::rejected_event(1, "r-1")],
        &[
            ItemKey::config("STATUS_MAP"),
            ItemKey::session_link(bridge_shared::events::SessionKind::Call, 7),
            ItemKey::agent_lease("ana@example.com"),
        ],
    )
    .await;
    // Reading a session's link (is it placed?) is allowed; reading the mapping is not.
    let now = UnixMillis::now();
    intake
        .get(
            &ItemKey::session_link(bridge_shared::events::SessionKind::Call, 7),
            now,
        )
        .await
        .unwrap();
    assert!(
        intake
            .get(&ItemKey::config("STATUS_MAP"), now)
            .await
            .is_err()
    );
}

/// Review S10: the status function (reached from agents' browsers) keeps to the agents'
/// partitions: leases, sign-ins, click-to-call attempts and the CCAI agent's owner may be
/// written; the mapping may be read, not written; sessions' links, the inbox, customers' links
/// and the dead letters may not be touched at all.
#[tokio::test]
async fn s10_the_status_function_keeps_to_the_agents_partitions() {
    use bridge_shared::events::SessionKind;
    use bridge_shared::store::ItemKey;
    let store: Arc<dyn StateStore> = Arc::new(EmbeddedStore::new());
    let status = bridge_local::policies::scoped(&store, "status");
    assert_writes(
        &status,
        &[
            ItemKey::agent_lease("ana@example.com"),
            ItemKey::new("AGENT_SESSIONS", "digest"),
            ItemKey::new("CCAI_AGENT#7", "OWNER"),
            bridge_shared::click_to_call::clicked_key(12),
        ],
        &[
            ItemKey::config("STATUS_MAP"),
            ItemKey::session_link(SessionKind::Call, 7),
            ItemKey::inbox("e-1"),
            ItemKey::customer_by_phone("+15550100"),
            ItemKey::new("DEAD", "x"),
        ],
    )
    .await;
    let now = UnixMillis::now();
    status
        .get(&ItemKey::config("STATUS_MAP"), now)
        .await
        .unwrap();
    assert!(
        status
            .get(&ItemKey::session_link(SessionKind::Chat, 7), now)
            .await
            .is_err(),
        "a session's link is not the status function's to read"
    );
}

/// Review S10 with issue 27's split: the inbox worker and the file workers keep to the
/// sessions' partitions — never an inbox item (only the intake and the scheduled run write
/// them), an agent's sign-in or browser session, or a click-to-call attempt.
#[tokio::test]
async fn s10_the_workers_keep_to_the_sessions_partitions() {
    use bridge_shared::events::SessionKind;
    use bridge_shared::store::ItemKey;
    let store: Arc<dyn StateStore> = Arc::new(EmbeddedStore::new());
    for function in ["sync", "recording", "transcript"] {
        let worker = bridge_local::policies::scoped(&store, function);
        assert_writes(
            &worker,
            &[
                ItemKey::session_link(SessionKind::Call, 7),
                ItemKey::customer_by_phone("+15550100"),
                ItemKey::idempotency("recording#7"),
                ItemKey::new("RETRY", "bridge-sync#e-1"),
                ItemKey::new("DEAD", "bridge-sync#e-1"),
                ItemKey::config("CUSTOMER_ATTR#x"),
                ItemKey::new("CCAI_AGENT#7", "UNRESOLVED"),
            ],
            &[
                ItemKey::inbox("e-1"),
                ItemKey::new("SIGN_IN#state", "x"),
                ItemKey::new("AGENT_SESSIONS", "digest"),
                ItemKey::new("C2C#ana@example.com", "x"),
                ItemKey::new("REJECTED", "x"),
            ],
        )
        .await;
    }
}

/// What the functions take from API Gateway's REST API event rather than from the caller: the
/// route without the stage, the base URL browsers reach (domain and stage: the sign-in's
/// `redirect_uri`), the caller's address (click-to-call's audit).
#[test]
fn a_rest_api_event_gives_the_route_the_public_base_and_the_caller() {
    let rest =
        lambda_http::request::from_str(include_str!("fixtures/apigw-v1-claim.json")).unwrap();
    assert_eq!(
        bridge_shared::lambda::route_path(&rest),
        "/agents/instances"
    );
    assert_eq!(
        bridge_shared::lambda::gateway_base_url(&rest).as_deref(),
        Some("https://k3x9q2w7la.execute-api.us-east-1.amazonaws.com/bridge")
    );
    assert_eq!(
        bridge_shared::lambda::source_ip(&rest).as_deref(),
        Some("203.0.113.10")
    );
}

/// Issue 28 (R-F): every function that records what the platforms sent may write its record
/// (`SHAPES`): a role without it would refuse the write at every interval, unseen.
#[tokio::test]
async fn r_f_3_every_function_may_write_the_record_of_shapes() {
    use bridge_shared::UnixMillis;
    use bridge_shared::shapes::DocumentKind;
    use bridge_shared::shapes::book::ShapeBook;
    let store: Arc<dyn StateStore> = Arc::new(EmbeddedStore::new());
    for function in [
        "intake",
        "status",
        "admin",
        "sync",
        "recording",
        "transcript",
        "reconcile",
    ] {
        let scoped = bridge_local::policies::scoped(&store, function);
        let book = ShapeBook::new();
        book.observe(
            DocumentKind::CcaiCall,
            &serde_json::json!({"id": 1}),
            UnixMillis::now(),
        );
        book.flush_now(scoped.as_ref(), UnixMillis::now())
            .await
            .unwrap_or_else(|err| panic!("{function} may not write SHAPES: {err}"));
    }
}
