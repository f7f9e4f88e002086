//! The admin API against DynamoDB Local and both sandboxes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_admin::{AdminApi, handle};
use bridge_shared::UnixMillis;
use bridge_shared::config::Secret;
use bridge_shared::http::RetryPolicy;
use bridge_shared::kustomer::KustomerUi;
use bridge_shared::sign_in::Scope;
use bridge_shared::store::StateStore;
use bridge_tests::platforms::SandboxedPlatforms;
use lambda_http::Body;
use serde_json::{Value, json};
use std::sync::Arc;

struct Rig {
    platforms: SandboxedPlatforms,
    api: AdminApi,
}

async fn rig_with_ccai_password(password: Option<&str>) -> Rig {
    let mut platforms = SandboxedPlatforms::start().await.unwrap();
    if let Some(password) = password {
        platforms.ccai_client = Arc::new(bridge_tests::ccai_support::client_with(
            &platforms.ccai,
            "acme",
            password,
            RetryPolicy::immediate(2),
        ));
    }
    rig_on(platforms).await
}

/// The admin API on DynamoDB Local with these platforms' clients.
async fn rig_on(platforms: SandboxedPlatforms) -> Rig {
    rig_on_store(
        platforms,
        Arc::new(bridge_tests::local::dynamo_store().await),
    )
}

/// The admin's tokens: the current one and the next (rotation, review S11).
const ADMIN_TOKEN: &str = "admin-token-of-the-tests";
const NEXT_ADMIN_TOKEN: &str = "next-admin-token-of-the-tests";
/// The Kustomer user on `ADMIN_EMAILS` (R-ADM-3).
const ADMIN_EMAIL: &str = "Admin@Example.com";

fn rig_on_store(platforms: SandboxedPlatforms, store: Arc<dyn StateStore>) -> Rig {
    let api = AdminApi {
        status: platforms.status_service(store.clone()),
        store,
        ccai: platforms.ccai_client.clone(),
        kustomer: platforms.kustomer_client.clone(),
        admin_tokens: bridge_shared::bearer::RotatingTokens::fixed(
            bridge_shared::bearer::BearerTokens::parse(
                "ADMIN_TOKEN",
                &Secret::new(format!("{ADMIN_TOKEN},{NEXT_ADMIN_TOKEN}")),
            )
            .unwrap(),
        ),
        admins: bridge_admin::access::AdminEmails::parse(Some(ADMIN_EMAIL)).unwrap(),
        public_url: None,
        changes_kept: bridge_shared::audit::DEFAULT_KEPT,
        pacing_schedules: vec![(
            "kustomer",
            format!("kustomer#admin-test-{}", uuid::Uuid::new_v4().simple()),
        )],
        kustomer_ui: Some(KustomerUi::of_org("acme").unwrap()),
    };
    Rig { platforms, api }
}

/// The request's query string as API Gateway hands it to the function (parsed, beside the
/// path), as the local host does.
fn with_query(request: http::Request<Body>) -> http::Request<Body> {
    let listed: Vec<(String, String)> = request
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let mut pairs: std::collections::HashMap<String, Vec<String>> = Default::default();
    for (name, value) in listed {
        pairs.entry(name).or_default().push(value);
    }
    lambda_http::RequestExt::with_query_string_parameters(request, pairs)
}

async fn call(rig: &Rig, method: &str, path: &str, body: Value) -> (u16, Value) {
    call_as(rig, Some(ADMIN_TOKEN), method, path, body).await
}

#[tokio::test]
async fn the_mapping_page_gets_both_status_lists_and_saves_a_valid_mapping() {
    let rig = rig_with_ccai_password(None).await;
    let (status, page) = call(&rig, "GET", "/admin/status-mapping", json!({})).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["kustomer_statuses"].as_array().unwrap().len(), 6);
    let ccai = page["ccai_statuses"].as_array().unwrap();
    assert!(
        ccai.iter()
            .any(|s| s["name"] == "In-call" && s["system"] == true)
    );
    assert!(
        ccai.iter()
            .any(|s| s["name"] == "Break" && s["id"] == -2 && s["can_be_target"] == true)
    );
    // R-S-2: ids are signed; a name two statuses share is shown as such.
    let meals: Vec<&Value> = ccai.iter().filter(|s| s["name"] == "Meal").collect();
    assert_eq!(meals.len(), 2);
    assert!(
        meals
            .iter()
            .all(|s| s["name_shared"] == true && s["can_be_target"] == false)
    );
    assert!(
        ccai.iter()
            .any(|s| s["id"] == 0 && s["name"] == "Available")
    );

    let lunch = rig.platforms.kustomer.status_id("Lunch").unwrap();
    let busy = rig.platforms.kustomer.status_id("Busy").unwrap();
    let mapping = json!({"to_ccai": {lunch.clone(): -2, busy: 0}, "to_kustomer": {"-2": lunch}, "priority": "crm_overrides", "two_way": true});
    let (status, saved) = call(&rig, "PUT", "/admin/status-mapping", mapping).await;
    assert_eq!(status, 200, "{saved}");
    let (_, page) = call(&rig, "GET", "/admin/status-mapping", json!({})).await;
    assert_eq!(page["mapping"]["priority"], "crm_overrides");
    assert_eq!(page["mapping"]["to_ccai"].as_object().unwrap().len(), 2);
    assert_eq!(page["mapping"]["to_ccai"][&lunch], -2);
    assert_eq!(
        page["mapping"]["ccai_names"],
        json!({"-2": "Break", "0": "Available"}),
        "the names CCAI is sent, resolved at save time"
    );
}

#[tokio::test]
async fn r_s_2_an_invalid_mapping_is_refused_naming_the_entry() {
    let rig = rig_with_ccai_password(None).await;
    let lunch = rig.platforms.kustomer.status_id("Lunch").unwrap();
    for (mapping, expected) in [
        (json!({"to_ccai": {"5fnope": -2}}), "to_ccai.5fnope"),
        (
            json!({"to_ccai": {lunch.clone(): 77}}),
            "no status with the id 77",
        ),
        (
            json!({"to_ccai": {lunch.clone(): -7}}),
            "set by CCAI itself",
        ),
        (
            json!({"to_ccai": {lunch.clone(): -6}}),
            "Wrap-up (-6) is set by CCAI itself",
        ),
        (
            json!({"to_ccai": {lunch.clone(): 5}}),
            "named \"Meal\" like status -4",
        ),
        (
            json!({"to_ccai": {lunch.clone(): -4}}),
            "named \"Meal\" like status 5",
        ),
        (json!({"to_ccai": {lunch.clone(): "Break"}}), "invalid body"),
        (json!({"to_kustomer": {"-2": "5fnope"}}), "to_kustomer.-2"),
        (
            json!({"to_kustomer": {"Break": lunch.clone()}}),
            "to_kustomer.Break",
        ),
        (
            json!({"to_ccai": {lunch.clone(): -2}, "priority": "whoever"}),
            "invalid body",
        ),
    ] {
        let (status, body) = call(&rig, "PUT", "/admin/status-mapping", mapping.clone()).await;
        assert_eq!(status, 400, "{mapping}");
        assert!(
            body["error"].as_str().unwrap().contains(expected),
            "{mapping}: {body}"
        );
    }
}

#[tokio::test]
async fn agents_are_listed_with_their_lease_and_sync_state() {
    let rig = rig_with_ccai_password(None).await;
    let email = format!("{}@example.com", bridge_tests::unique("agent"));
    rig.platforms.add_agent(&email, "Ana", "Available");
    rig.api
        .status
        .claim(&email, "tab-9", UnixMillis::now())
        .await
        .unwrap();
    let (status, agents) = call(&rig, "GET", "/admin/agents", json!({})).await;
    assert_eq!(status, 200);
    let ours = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == email.as_str())
        .unwrap()
        .clone();
    assert_eq!(ours["sync"]["lease_holder"], "tab-9");
}

/// R-S-7 (experimental): the work-session update body is a guess; when Kustomer refuses it, the
/// admin sees why on the agent, and the mapping page says two-way sync is experimental.
#[tokio::test]
async fn r_s_7_a_refused_two_way_update_is_shown_on_the_agent_and_two_way_is_marked_experimental() {
    use bridge_tests::kustomer_sandbox::{SandboxOptions, WorkSessionPut};
    let platforms = SandboxedPlatforms::start_both(
        Default::default(),
        SandboxOptions {
            work_session_put: WorkSessionPut::Refuse,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let rig = rig_on(platforms).await;
    let email = format!("{}@example.com", bridge_tests::unique("agent"));
    let agent = rig.platforms.add_agent(&email, "Ana", "Available");
    let kustomer = &rig.platforms.kustomer;
    let available = kustomer.status_id("Available").unwrap();
    let lunch = kustomer.status_id("Lunch").unwrap();
    use bridge_tests::ccai_sandbox::state::status_id;
    let mut mapping =
        bridge_tests::ccai_sandbox::state::mapping_by_name(&[(available.clone(), "Available")]);
    mapping.two_way = true;
    mapping.to_kustomer = [(status_id("Break").to_string(), lunch)].into();
    let (status, saved) = call(&rig, "PUT", "/admin/status-mapping", json!(mapping)).await;
    assert_eq!(status, 200, "{saved}");
    assert!(
        saved["experimental"]["two_way"]
            .as_str()
            .unwrap()
            .contains("does not document")
    );
    let (_, page) = call(&rig, "GET", "/admin/status-mapping", json!({})).await;
    assert!(page["experimental"]["two_way"].is_string());

    let user = kustomer.inspect(|w| w.find_by("user", "email", &email).unwrap().id.clone());
    kustomer.set_work_session(&user, "Available").unwrap();
    rig.api
        .status
        .claim(&email, "tab-1", UnixMillis::now())
        .await
        .unwrap();
    rig.platforms
        .ccai
        .change(|w| w.move_agent(agent, "Break", "agent"));
    assert!(
        rig.api
            .status
            .reflect_ccai_status(&email, UnixMillis::now())
            .await
            .is_err()
    );
    let (_, agents) = call(&rig, "GET", "/admin/agents", json!({})).await;
    let ours = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == email.as_str())
        .unwrap()
        .clone();
    let error = ours["sync"]["state"]["two_way_error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.contains("Kustomer refused the work-session update"),
        "{ours}"
    );
    assert!(
        error.contains("not allowed"),
        "Kustomer's own words: {ours}"
    );
}

#[tokio::test]
async fn health_names_the_dependency_that_fails() {
    let rig = rig_with_ccai_password(None).await;
    let (status, body) = call(&rig, "GET", "/admin/health", json!({})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("ok")),
        "{body}"
    );
    let broken = rig_with_ccai_password(Some("wrong")).await;
    let (status, body) = call(&broken, "GET", "/admin/health", json!({})).await;
    assert_eq!(status, 503);
    assert_eq!(body["checks"]["kustomer"], "ok");
    assert!(
        body["checks"]["ccai"].as_str().unwrap().contains("401"),
        "{body}"
    );
}

/// R-ADM-1: the health page shows each shared pacing schedule's lag — how long a request
/// asking now would wait for its turn — and says when each process paces itself.
#[tokio::test]
async fn r_adm_1_health_shows_the_pacing_lag_of_each_shared_schedule() {
    let mut rig = rig_with_ccai_password(None).await;
    let (_, body) = call(&rig, "GET", "/admin/health", json!({})).await;
    assert_eq!(
        body["work"]["pacing"]["kustomer"]["booked_ahead_ms"], 0,
        "idle: {body}"
    );
    // Ten turns of a second each booked now: the next request waits about ten seconds.
    let name = rig.api.pacing_schedules[0].1.clone();
    let key = bridge_shared::store::ItemKey::new("PACE", name);
    for _ in 0..10 {
        rig.api
            .store
            .reserve_slots(
                &key,
                UnixMillis::now(),
                std::time::Duration::from_secs(1),
                UnixMillis::now().plus(std::time::Duration::from_secs(60)),
            )
            .await
            .unwrap();
    }
    let (_, body) = call(&rig, "GET", "/admin/health", json!({})).await;
    let lag = body["work"]["pacing"]["kustomer"]["booked_ahead_ms"]
        .as_u64()
        .unwrap();
    assert!((8_000..=10_000).contains(&lag), "{body}");
    rig.api.pacing_schedules.clear();
    let (_, body) = call(&rig, "GET", "/admin/health", json!({})).await;
    assert_eq!(
        body["work"]["pacing"], "per process (SHARED_PACING off)",
        "{body}"
    );
}

/// R-ADM-2: with the org known (`KUSTOMER_ORG`), a session's report links its customer, its
/// conversation and each Kustomer write into Kustomer's web app.
#[tokio::test]
async fn r_adm_2_a_session_report_links_into_kustomer() {
    let rig = rig_with_ccai_password(None).await;
    let id = 800_000 + (UnixMillis::now().0 % 100_000) as u64;
    let session = bridge_shared::events::SessionRef {
        kind: bridge_shared::events::SessionKind::Chat,
        id,
    };
    rig.api
        .store
        .put(&bridge_shared::store::Item::new(
            bridge_shared::store::ItemKey::session_link(session.kind, id),
            json!({"customer_id": "cu1", "conversation_id": "co1"}),
        ))
        .await
        .unwrap();
    let trigger = bridge_shared::conversation::report::resync_trigger(&session, UnixMillis::now());
    let (_, noted) = bridge_shared::audit::recording(async {
        bridge_shared::audit::note(
            "kustomer",
            "create conversation",
            "POST",
            "/v1/customers/cu1/conversations",
            Some(201),
            Some(br#"{"data":{"id":"co1"}}"#),
        );
    })
    .await;
    bridge_shared::audit::keep(
        rig.api.store.as_ref(),
        "bridge-sync",
        &trigger,
        "applied".into(),
        noted,
        UnixMillis::now(),
        bridge_shared::audit::DEFAULT_KEPT,
    )
    .await
    .unwrap();
    let (status, report) = call(
        &rig,
        "GET",
        &format!("/admin/sessions/chat/{id}"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    let app = "https://acme.kustomerapp.com/app";
    assert_eq!(
        report["link"]["customer_url"],
        format!("{app}/customers/cu1")
    );
    assert_eq!(
        report["timeline"][0]["writes"][0]["url"],
        format!("{app}/conversations/co1"),
        "{report}"
    );
}

/// Review S11: the current and the next admin token both work (rotation without a lockout);
/// none, a wrong one, or both at once is a 401.
#[tokio::test]
async fn s11_requests_without_an_admin_token_are_refused_and_the_next_token_works() {
    let rig = rig_with_ccai_password(None).await;
    let status = |authorization: Option<String>| {
        let mut request = http::Request::builder().method("GET").uri("/admin/agents");
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let request = request.body(Body::Empty).unwrap();
        let api = &rig.api;
        async move { handle(api, request, UnixMillis::now()).await.status() }
    };
    assert_eq!(status(None).await, 401);
    assert_eq!(status(Some("Bearer admin".into())).await, 401);
    assert_eq!(
        status(Some(format!("Bearer {ADMIN_TOKEN},{NEXT_ADMIN_TOKEN}"))).await,
        401
    );
    assert_eq!(
        status(Some(format!("Bearer {NEXT_ADMIN_TOKEN}"))).await,
        200
    );
    assert_eq!(status(Some(format!("Bearer {ADMIN_TOKEN}"))).await, 200);
    assert_eq!(
        call(&rig, "DELETE", "/admin/agents", json!({})).await.0,
        405
    );
}

#[tokio::test]
async fn r_e_1_rejected_session_events_are_listed_newest_first() {
    let rig = rig_with_ccai_password(None).await;
    let now = UnixMillis::now();
    let mark = bridge_tests::unique("rejected");
    for n in 0..2 {
        let item = bridge_shared::store::Item::new(
            bridge_shared::store::ItemKey::rejected_event(now.0 + n, &format!("{mark}-{n}")),
            json!({"index": n, "field": "item", "error": "item: is required", "event": mark}),
        );
        rig.api.store.put(&item).await.unwrap();
    }
    let (status, list) = call(&rig, "GET", "/admin/rejected", json!({})).await;
    assert_eq!(status, 200);
    let ours: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["event"] == mark.as_str())
        .collect();
    assert_eq!(ours.len(), 2);
    assert_eq!(ours[0]["index"], 1, "newest first");
}

/// The Kustomer sandbox set to the stricter reading of `PUT /v1/metadata` (it replaces the
/// properties), with attributes another app defined before the bridge. On a store of its own:
/// created fields apply to every session the table's workers see, and the DynamoDB Local
/// table is shared by the test binaries (the settings' store calls are in the contract suite).
async fn rig_with_existing_attributes() -> Rig {
    let platforms = SandboxedPlatforms::start_both(
        Default::default(),
        bridge_tests::kustomer_sandbox::SandboxOptions {
            metadata_put_merges: false,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    platforms.kustomer.inspect_mut(|w| {
        w.metadata.entry("message".into()).or_default().insert(
            "orderNumberStr".into(),
            json!({"displayName": "Order number", "type": "string", "modifiedAt": "2026-01-01T00:00:00Z", "modifiedBy": "other-app"}),
        );
        w.metadata.entry("customer".into()).or_default().insert(
            "vipBool".into(),
            json!({"displayName": "VIP", "type": "boolean", "modifiedAt": "2026-01-01T00:00:00Z", "modifiedBy": "other-app"}),
        );
    });
    rig_on_store(
        platforms,
        Arc::new(bridge_shared::store::EmbeddedStore::new()),
    )
}

/// R-CF-1, R-CF-2: each of the twelve fields is created in Kustomer's metadata with its type
/// suffix and display name, on the message (and the customer for the custom user id); what
/// was there is kept although the sandbox's PUT replaces; creating twice is harmless; an
/// unknown field names the valid ones; deleting stops filling and says Kustomer keeps it.
#[tokio::test]
async fn r_cf_1_r_cf_2_every_field_is_provisioned_with_its_name_type_and_display_name() {
    let rig = rig_with_existing_attributes().await;
    let (status, listed) = call(&rig, "GET", "/admin/custom-fields", json!({})).await;
    assert_eq!(status, 200, "{listed}");
    let fields = listed["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 12);
    assert!(fields.iter().all(|f| f["created"].is_null()));
    assert_eq!(fields[0]["group"], "account");

    for field in fields {
        let (status, created) = call(
            &rig,
            "POST",
            "/admin/custom-fields",
            json!({"field": field["id"], "created_by": "Ada (admin)"}),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["created"]["created_by"], "Ada (admin)");
    }
    let metadata = rig.platforms.kustomer.inspect(|w| w.metadata.clone());
    let message = &metadata["message"];
    let expected = [
        ("ccaiCustomUserIdStr", "Custom User ID", "string"),
        ("ccaiQueueNameStr", "Queue Name", "string"),
        ("ccaiSessionTypeStr", "Session Type", "string"),
        ("ccaiSessionIdStr", "Session ID", "string"),
        ("ccaiFromPhoneStr", "From Phone Number", "string"),
        ("ccaiCallDurationNum", "Call Duration", "number"),
        ("ccaiHoldTimeNum", "Hold Time", "number"),
        ("ccaiWaitTimeNum", "Wait Time", "number"),
        ("ccaiCsatRatingNum", "CSAT Rating", "number"),
        ("ccaiCsatCommentTxt", "CSAT Comment", "text"),
        ("ccaiMenuSelectionStr", "Customer Menu Selection", "string"),
        ("ccaiInwebEmailStr", "Email using In-Web", "string"),
    ];
    for (attribute, display, kind) in expected {
        assert_eq!(message[attribute]["displayName"], display, "{attribute}");
        assert_eq!(message[attribute]["type"], kind, "{attribute}");
    }
    assert_eq!(
        message["orderNumberStr"]["displayName"], "Order number",
        "kept"
    );
    assert_eq!(message.len(), 13);
    let customer = &metadata["customer"];
    assert_eq!(
        customer["ccaiCustomUserIdStr"]["displayName"],
        "Custom User ID"
    );
    assert_eq!(customer["vipBool"]["displayName"], "VIP", "kept");
    assert!(rig.platforms.unexpected_requests().is_empty());

    // Creating again changes nothing: the first creation stands, no metadata written.
    let puts = rig.platforms.kustomer.requests_to("PUT", "/v1/metadata");
    let (status, again) = call(
        &rig,
        "POST",
        "/admin/custom-fields",
        json!({"field": "queue_name"}),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["created"]["created_by"], "Ada (admin)");
    assert_eq!(
        rig.platforms.kustomer.requests_to("PUT", "/v1/metadata"),
        puts
    );

    let (status, refused) = call(
        &rig,
        "POST",
        "/admin/custom-fields",
        json!({"field": "queue"}),
    )
    .await;
    assert_eq!(status, 400);
    let message = refused["error"]
        .as_str()
        .or(refused["message"].as_str())
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("queue_name") && message.contains("inweb_email"),
        "{refused}"
    );
    let (status, refused) = call(
        &rig,
        "POST",
        "/admin/custom-fields",
        json!({"name": "queue_name"}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");

    let (status, deleted) = call(&rig, "DELETE", "/admin/custom-fields/hold_time", json!({})).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["was_created"], true);
    assert!(
        deleted["note"]
            .as_str()
            .unwrap()
            .contains("Kustomer keeps the attribute")
    );
    let (_, listed) = call(&rig, "GET", "/admin/custom-fields", json!({})).await;
    let hold = listed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "hold_time")
        .unwrap()
        .clone();
    assert!(hold["created"].is_null(), "{hold}");
    assert!(
        rig.platforms
            .kustomer
            .inspect(|w| w.metadata["message"].contains_key("ccaiHoldTimeNum")),
        "Kustomer keeps the attribute"
    );
    let (status, _) = call(&rig, "DELETE", "/admin/custom-fields/nope", json!({})).await;
    assert_eq!(status, 400);
}

/// R-CF-5: SDK keys map to one of the twelve (by id or attribute) or to an attribute the
/// message metadata defines; anything else is refused naming the key.
#[tokio::test]
async fn r_cf_5_sdk_keys_map_to_a_field_or_an_existing_message_attribute() {
    let rig = rig_with_existing_attributes().await;
    let (status, saved) = call(
        &rig,
        "PUT",
        "/admin/sdk-keys",
        json!({"keys": {"order": "orderNumberStr", "queue": "queue_name", "comment": "ccaiCsatCommentTxt"}}),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        saved["keys"],
        json!({"order": "orderNumberStr", "queue": "ccaiQueueNameStr", "comment": "ccaiCsatCommentTxt"})
    );
    assert_eq!(saved["mapped"]["queue"]["field"], "queue_name");
    let first_mapped = saved["mapped"]["order"]["mapped_at_ms"].clone();
    let (status, listed) = call(&rig, "GET", "/admin/sdk-keys", json!({})).await;
    assert_eq!((status, &listed["keys"]), (200, &saved["keys"]));

    for (target, why) in [
        ("tierStr", "neither one of the fields"),
        ("vipBool", "neither one of the fields"),
    ] {
        let (status, refused) = call(
            &rig,
            "PUT",
            "/admin/sdk-keys",
            json!({"keys": {"tier": target}}),
        )
        .await;
        assert_eq!(status, 400, "{refused}");
        let text = refused.to_string();
        assert!(text.contains("tier") && text.contains(why), "{text}");
    }
    // Unchanged targets keep when they were first mapped.
    let (_, again) = call(
        &rig,
        "PUT",
        "/admin/sdk-keys",
        json!({"keys": {"order": "orderNumberStr"}}),
    )
    .await;
    assert_eq!(again["mapped"]["order"]["mapped_at_ms"], first_mapped);
    assert_eq!(
        again["keys"].as_object().unwrap().len(),
        1,
        "the mapping is replaced whole"
    );
}

/// Review finding 13 (events.md §4): what the bridge knows of one session, and a resync — a
/// new trigger in the inbox, hinted as the session's end, stored once per request; bad kinds
/// and ids are named; a session the bridge never saw is a 404.
#[tokio::test]
async fn finding_13_a_session_is_shown_and_resynced_by_its_kind_and_id() {
    let rig = rig_with_ccai_password(None).await;
    let id = 900_000 + (UnixMillis::now().0 % 100_000) as u64;
    let (status, _) = call(
        &rig,
        "GET",
        &format!("/admin/sessions/call/{id}"),
        json!({}),
    )
    .await;
    assert_eq!(status, 404);
    for (path, field) in [
        (format!("/admin/sessions/email/{id}"), "kind"),
        ("/admin/sessions/call/abc".to_owned(), "id"),
    ] {
        let (status, body) = call(&rig, "GET", &path, json!({})).await;
        assert_eq!(status, 400, "{path}");
        assert!(body["error"].as_str().unwrap().starts_with(field), "{body}");
    }
    // A session waiting for its caller's number (as the inbox worker records it).
    rig.api
        .store
        .put(&bridge_shared::store::Item::new(
            bridge_shared::store::ItemKey::session_link(
                bridge_shared::events::SessionKind::Call,
                id,
            ),
            json!({"waiting": {"reason": "the caller's number or an SDK identifier", "since": 1}}),
        ))
        .await
        .unwrap();
    let (status, report) = call(
        &rig,
        "GET",
        &format!("/admin/sessions/call/{id}"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["state"],
        "waiting for the caller's number or an SDK identifier"
    );
    let (status, answer) = call(
        &rig,
        "POST",
        &format!("/admin/sessions/call/{id}/resync"),
        json!({}),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let stored = queued(&rig, &answer).await;
    assert_eq!(stored.body["type"], "call.ended");
    assert_eq!(stored.body["session"]["id"], id);
    // A dry run (R-ADM-2): a trigger only the inbox worker reads, which writes nothing.
    let (status, answer) = call(
        &rig,
        "POST",
        &format!("/admin/sessions/call/{id}/resync?dry_run=true"),
        json!({}),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert!(
        answer["trigger"]
            .as_str()
            .unwrap()
            .starts_with("preview-call-"),
        "{answer}"
    );
    let stored = queued(&rig, &answer).await;
    assert_eq!(stored.body["type"], "call.preview");
    // R-ADM-3 (review of 0587da5): the change record tells a dry run from a resync.
    let (_, health) = call(&rig, "GET", "/admin/health", json!({})).await;
    let routes: Vec<&str> = health["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["route"]
                .as_str()
                .unwrap()
                .contains(&format!("/call/{id}/"))
        })
        .map(|c| c["route"].as_str().unwrap())
        .collect();
    assert_eq!(
        routes,
        [
            format!("/admin/sessions/call/{id}/resync?dry_run=true"),
            format!("/admin/sessions/call/{id}/resync"),
        ],
        "{health}"
    );
    let (status, refused) = call(
        &rig,
        "POST",
        &format!("/admin/sessions/call/{id}/resync?dry_run=maybe"),
        json!({}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        refused["error"].as_str().unwrap().starts_with("dry_run"),
        "{refused}"
    );
    let (status, _) = call(
        &rig,
        "GET",
        &format!("/admin/sessions/call/{id}/resync"),
        json!({}),
    )
    .await;
    assert_eq!(status, 405);
}

/// The inbox trigger a resync's answer (`{trigger}`) names, as stored.
async fn queued(rig: &Rig, answer: &Value) -> bridge_shared::store::Item {
    let trigger = answer["trigger"].as_str().unwrap();
    rig.api
        .store
        .get(
            &bridge_shared::store::ItemKey::inbox(trigger),
            UnixMillis::now(),
        )
        .await
        .unwrap()
        .unwrap()
}

/// `call` with another bearer (`None`: no authorization header).
async fn call_as(
    rig: &Rig,
    bearer: Option<&str>,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let mut request = http::Request::builder().method(method).uri(path);
    if let Some(bearer) = bearer {
        request = request.header("authorization", format!("Bearer {bearer}"));
    }
    let response = handle(
        &rig.api,
        with_query(request.body(Body::Text(body.to_string())).unwrap()),
        UnixMillis::now(),
    )
    .await;
    let status = response.status().as_u16();
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, body)
}

#[tokio::test]
async fn r_adm_3_a_kustomer_user_on_admin_emails_is_an_admin_and_recorded_as_themselves() {
    let rig = rig_with_ccai_password(None).await;
    let admin_email = ADMIN_EMAIL.to_lowercase();
    rig.platforms.add_agent(&admin_email, "Ada", "Available");
    rig.platforms
        .add_agent("eve@example.com", "Eve", "Available");
    let sessions = bridge_shared::sign_in::AgentSessions::new(rig.api.store.as_ref());
    let now = UnixMillis::now();
    let admin_user = rig.platforms.kustomer_user(&admin_email).unwrap();
    let eve_user = rig.platforms.kustomer_user("eve@example.com").unwrap();
    let (admin, identity) = sessions
        .open_for(Scope::Admin, &admin_user, &admin_email, now)
        .await
        .unwrap();
    // The same admin's widget session is an agent's: no admin credential.
    let (widget, _) = sessions.open(&admin_user, &admin_email, now).await.unwrap();
    let (eve, _) = sessions
        .open_for(Scope::Admin, &eve_user, "eve@example.com", now)
        .await
        .unwrap();

    let (status, me) = call_as(&rig, Some(&admin), "GET", "/admin/whoami", json!({})).await;
    assert_eq!(
        (status, &me["kind"], &me["session"]),
        (200, &json!("kustomer"), &json!(identity.id))
    );
    let (status, me) = call_as(&rig, Some(ADMIN_TOKEN), "GET", "/admin/whoami", json!({})).await;
    assert_eq!((status, &me["kind"]), (200, &json!("token")));
    let (status, refused) = call_as(&rig, Some(&widget), "GET", "/admin/whoami", json!({})).await;
    assert_eq!(status, 403, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("agent's session")
    );
    // Signed in, not an admin: told so, and refused every change.
    let (status, refused) = call_as(&rig, Some(&eve), "GET", "/admin/whoami", json!({})).await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("ADMIN_EMAILS"));
    let (status, _) = call_as(
        &rig,
        Some(&eve),
        "POST",
        "/admin/custom-fields",
        json!({"field": "session_id"}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call_as(&rig, None, "GET", "/admin/agents", json!({})).await;
    assert_eq!(status, 401);

    // The admin's change names them, whatever the body claims.
    let (status, field) = call_as(
        &rig,
        Some(&admin),
        "POST",
        "/admin/custom-fields",
        json!({"field": "session_id", "created_by": "someone else"}),
    )
    .await;
    assert_eq!(status, 201, "{field}");
    let (_, fields) = call(&rig, "GET", "/admin/custom-fields", json!({})).await;
    let created = fields["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "session_id")
        .unwrap();
    assert_eq!(created["created"]["created_by"], json!(admin_email));
    // The change is kept in the table naming the admin (the log names the session only); a
    // caller refused before any route changed nothing and is not listed (R-ADM-3).
    // (The table is shared with the other tests: their changes are listed too.)
    let (_, health) = call(&rig, "GET", "/admin/health", json!({})).await;
    let changes = health["changes"].as_array().unwrap();
    let by = |who: &str| -> Vec<&Value> { changes.iter().filter(|c| c["by"] == who).collect() };
    assert_eq!(
        by(&admin_email),
        vec![
            &json!({"at": by(&admin_email)[0]["at"], "by": admin_email, "method": "POST",
                     "route": "/admin/custom-fields", "status": 201})
        ],
        "{health}"
    );
    assert!(by("eve@example.com").is_empty(), "{health}");

    // Kustomer deactivates the admin: out at the first request after the standing's
    // recheck (as an agent is), every session ended.
    rig.platforms.kustomer.deactivate_user(&admin_user);
    let later =
        now.plus(bridge_shared::sign_in::standing::RECHECK + std::time::Duration::from_secs(1));
    let request = http::Request::builder()
        .uri("/admin/whoami")
        .header("authorization", format!("Bearer {admin}"))
        .body(Body::Empty)
        .unwrap();
    assert_eq!(
        handle(&rig.api, request, later).await.status().as_u16(),
        401
    );
    assert!(
        sessions
            .authenticate(&admin, later)
            .await
            .unwrap()
            .is_none()
    );

    // The console needs no token; it holds no data.
    let (status, _) = call_as(&rig, None, "GET", "/admin/", json!({})).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn r_adm_3_without_admin_emails_a_signed_in_user_is_refused_as_unknown() {
    let mut rig = rig_with_ccai_password(None).await;
    rig.api.admins = Default::default();
    rig.platforms
        .add_agent("ada@example.com", "Ada", "Available");
    let user = rig.platforms.kustomer_user("ada@example.com").unwrap();
    let (token, _) = bridge_shared::sign_in::AgentSessions::new(rig.api.store.as_ref())
        .open(&user, "ada@example.com", UnixMillis::now())
        .await
        .unwrap();
    let (status, _) = call_as(&rig, Some(&token), "GET", "/admin/whoami", json!({})).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn r_adm_2_sessions_are_found_by_a_customers_number_or_id_and_bad_queries_are_named() {
    use bridge_shared::store::keys::SessionKind;
    use bridge_shared::store::{Item, ItemKey};
    let rig = rig_with_ccai_password(None).await;
    let store = rig.api.store.as_ref();
    store
        .put(&Item::new(
            ItemKey::customer_by_phone("+15550100001"),
            json!({"customer_id": "c1"}),
        ))
        .await
        .unwrap();
    for (kind, id, at) in [
        (SessionKind::Call, 12, "2026-12-01T10:00:00Z"),
        (SessionKind::Chat, 13, "2026-12-02T10:00:00Z"),
    ] {
        store
            .put(&Item::new(
                ItemKey::customer_session("c1", kind, id),
                json!({ "at": at }),
            ))
            .await
            .unwrap();
    }
    let (status, found) = call(
        &rig,
        "GET",
        "/admin/sessions?phone=%2B15550100001",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["customer"], "c1");
    assert_eq!(
        found["sessions"],
        json!([{"kind": "chat", "id": "13", "at": "2026-12-02T10:00:00Z", "customer": "c1"},
               {"kind": "call", "id": "12", "at": "2026-12-01T10:00:00Z", "customer": "c1"}])
    );
    let (_, by_id) = call(&rig, "GET", "/admin/sessions?customer=c1", json!({})).await;
    assert_eq!(by_id["sessions"], found["sessions"]);
    let (_, unknown) = call(
        &rig,
        "GET",
        "/admin/sessions?phone=%2B15550100002",
        json!({}),
    )
    .await;
    assert_eq!(
        unknown,
        json!({"customer": null, "customers": [], "sessions": []})
    );
    // A customer whose profile holds the number but whom the bridge never found by it (a
    // click-to-call or SDK session's customer): Kustomer finds it, and its sessions are listed.
    let clicked = rig
        .platforms
        .kustomer_client
        .create_customer(&bridge_shared::kustomer::requests::NewCustomer {
            name: Some("Clicked".into()),
            phones: vec![bridge_shared::kustomer::requests::NewPhone {
                kind: Some("mobile".into()),
                phone: "+15550100004".into(),
            }],
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    store
        .put(&Item::new(
            ItemKey::customer_session(&clicked, SessionKind::Call, 14),
            json!({"at": "2026-12-03T10:00:00Z"}),
        ))
        .await
        .unwrap();
    let (status, by_kustomer) = call(
        &rig,
        "GET",
        "/admin/sessions?phone=%2B15550100004",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{by_kustomer}");
    assert_eq!(by_kustomer["customer"], clicked.as_str());
    assert_eq!(
        by_kustomer["sessions"],
        json!([{"kind": "call", "id": "14", "at": "2026-12-03T10:00:00Z", "customer": clicked}])
    );
    for (query, named) in [
        ("phone=5550100001", "phone"),
        ("customer=c1%27%20OR", "customer"),
        ("", "give phone"),
    ] {
        let (status, refused) =
            call(&rig, "GET", &format!("/admin/sessions?{query}"), json!({})).await;
        assert_eq!(status, 400, "{query}");
        assert!(
            refused["error"].as_str().unwrap().starts_with(named),
            "{refused}"
        );
    }
}
