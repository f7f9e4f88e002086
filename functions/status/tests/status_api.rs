//! The status function end to end: its HTTP handler, the state store on DynamoDB Local, and the
//! CCAI and Kustomer sandboxes over real HTTP. One test per rule (R-S-…).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_shared::UnixMillis;
use bridge_shared::sign_in::standing::{RECHECK, UNSURE_FOR};
use bridge_shared::status::report_gate::REPORT_INTERVAL;
use bridge_shared::status::{PendingOutcome, PriorityMode, StatusMapping};
use bridge_status::{StatusApi, handle};
use bridge_tests::ccai_sandbox::CcaiSandbox;
use bridge_tests::kustomer_sandbox::KustomerSandbox;
use bridge_tests::platforms::SandboxedPlatforms;
use lambda_http::{Body, Request};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

struct Rig {
    /// The agent's session (R-SEC-1): every request of the rig carries it.
    session: String,
    ccai: CcaiSandbox,
    kustomer: KustomerSandbox,
    api: StatusApi,
    email: String,
    agent: u64,
    /// Kustomer routing-status ids by name: K1 Available, K2 Coaching, K3 Lunch, K4 Training.
    k: BTreeMap<&'static str, String>,
}

/// The rig's Kustomer routing statuses by the names the tests use.
const K_NAMES: [(&str, &str); 4] = [
    ("K1", "Available"),
    ("K2", "Coaching"),
    ("K3", "Lunch"),
    ("K4", "Training"),
];

fn k_name(k: &str) -> &'static str {
    K_NAMES
        .iter()
        .find(|(name, _)| *name == k)
        .map(|(_, status)| *status)
        .unwrap()
}

/// The example of R-S-2: K1→A, K2→A, K3→B, K4→D (A = Available, B = Break, D = Lunch).
fn mapping(
    k: &BTreeMap<&'static str, String>,
    priority: PriorityMode,
    apply_at_login: bool,
) -> StatusMapping {
    StatusMapping {
        priority,
        apply_at_login,
        ..bridge_tests::ccai_sandbox::state::mapping_by_name(&[
            (k["K1"].clone(), "Available"),
            (k["K2"].clone(), "Available"),
            (k["K3"].clone(), "Break"),
            (k["K4"].clone(), "Lunch"),
        ])
    }
}

async fn rig_with(priority: PriorityMode, apply_at_login: bool, ccai_status: &str) -> Rig {
    let store = Arc::new(bridge_tests::local::dynamo_store().await);
    rig_on(store, priority, apply_at_login, ccai_status).await
}

async fn rig_on(
    store: Arc<dyn bridge_shared::store::StateStore>,
    priority: PriorityMode,
    apply_at_login: bool,
    ccai_status: &str,
) -> Rig {
    let platforms = SandboxedPlatforms::start().await.unwrap();
    rig_of(platforms, store, priority, apply_at_login, ccai_status).await
}

async fn rig_of(
    platforms: SandboxedPlatforms,
    store: Arc<dyn bridge_shared::store::StateStore>,
    priority: PriorityMode,
    apply_at_login: bool,
    ccai_status: &str,
) -> Rig {
    let email = format!("{}@example.com", bridge_tests::unique("ana"));
    let agent = platforms.add_agent(&email, "Ana", ccai_status);
    let user = platforms.kustomer_user(&email).unwrap();
    let session =
        bridge_tests::sign_in_support::session_for(store.as_ref(), &email, &user, at(-3600)).await;
    // The widget spaces its reports (429 `too_soon` otherwise); these tests play reports at
    // the instants their sequences need, and the gate has tests of its own.
    let service = platforms
        .status_service(store.clone())
        .with_report_interval(Duration::ZERO);
    let store_for_api = store.clone();
    let click = platforms.click_to_call(store);
    let SandboxedPlatforms { ccai, kustomer, .. } = platforms;
    let k: BTreeMap<&'static str, String> = K_NAMES
        .iter()
        .map(|(k, name)| (*k, kustomer.status_id(name).unwrap()))
        .collect();
    service
        .save_mapping(&mapping(&k, priority, apply_at_login))
        .await
        .unwrap();
    Rig {
        session,
        ccai,
        kustomer,
        api: StatusApi {
            service,
            store: store_for_api,
            oauth: None,
            public_url: None,
            click,
            widget: Default::default(),
        },
        email,
        agent,
        k,
    }
}

/// A rig whose state store no other test writes (for tests that save a mapping of their own).
async fn own_store_rig() -> Rig {
    rig_on(
        Arc::new(bridge_shared::store::EmbeddedStore::new()),
        PriorityMode::LatestWins,
        false,
        "Available",
    )
    .await
}

async fn rig() -> Rig {
    rig_with(PriorityMode::LatestWins, false, "Available").await
}

impl Rig {
    fn request(&self, method: &str, path: &str, body: Value) -> Request {
        request_with(&self.session, method, path, body)
    }
}

fn request_with(session: &str, method: &str, path: &str, body: Value) -> Request {
    http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {session}"))
        .header("content-type", "application/json")
        .body(Body::Text(body.to_string()))
        .unwrap()
}

async fn call(rig: &Rig, request: Request, now: UnixMillis) -> (u16, Value) {
    let response = handle(&rig.api, request, now).await;
    let status = response.status().as_u16();
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, body)
}

fn at(seconds: i64) -> UnixMillis {
    UnixMillis(1_900_000_000_000 + seconds * 1000)
}

async fn claim(rig: &Rig, instance: &str, now: UnixMillis) -> (u16, Value) {
    call(
        rig,
        rig.request(
            "POST",
            "/agents/instances",
            json!({"email": rig.email, "instance_id": instance}),
        ),
        now,
    )
    .await
}

/// The agent sets status `k` in Kustomer (their work session moves), then their tab reports
/// it (the first widgets' body, whose fields are only a trigger now: R-S-4).
async fn change(
    rig: &Rig,
    instance: &str,
    token: &Value,
    k: &str,
    changed: UnixMillis,
    now: UnixMillis,
) -> (u16, Value) {
    rig.kustomer
        .set_work_session(&user_of(rig), k_name(k))
        .unwrap();
    report(rig, instance, token, k, changed, now).await
}

/// The tab's report alone: it says `k`, whatever Kustomer records.
async fn report(
    rig: &Rig,
    instance: &str,
    token: &Value,
    k: &str,
    changed: UnixMillis,
    now: UnixMillis,
) -> (u16, Value) {
    let body = json!({"email": rig.email, "instance_id": instance, "lease_token": token, "status_id": rig.k[k], "changed_at": changed.to_iso()});
    call(
        rig,
        rig.request("POST", "/webhooks/kustomer/status", body),
        now,
    )
    .await
}

/// One scheduled run for the rig's agent: every active work session read, then the agent's
/// reconciliation.
async fn reconcile(
    rig: &Rig,
    now: UnixMillis,
) -> Result<bridge_shared::status::sync::AgentReconciled, bridge_shared::status::sync::StatusError>
{
    let sessions = rig.api.service.active_work_sessions().await?;
    rig.api
        .service
        .reconcile_agent(&rig.email, &sessions, now)
        .await
}

/// A report answered 202 `applied`.
fn assert_applied((status, body): (u16, Value)) {
    assert_eq!(
        (status, body["outcome"].as_str()),
        (202, Some("applied")),
        "{body}"
    );
}

/// How many status changes the bridge sent CCAI so far.
fn status_sets(rig: &Rig) -> usize {
    rig.ccai
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/agent_statuses"))
        .count()
}

fn ccai_status(rig: &Rig) -> String {
    rig.ccai.inspect(|w| w.agent_status(rig.agent)).unwrap()
}

#[tokio::test]
async fn r_s_1_r_s_2_each_kustomer_status_becomes_its_mapped_ccai_status() {
    let rig = rig().await;
    let (status, lease) = claim(&rig, "tab-1", at(0)).await;
    assert_eq!(status, 201, "{lease}");
    let token = &lease["lease_token"];
    for (n, (k, expected, outcome)) in [
        ("K3", "Break", "applied"),
        ("K1", "Available", "applied"),
        ("K4", "Lunch", "applied"),
        ("K2", "Available", "applied"),
        ("K1", "Available", "already_there"),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, body) =
            change(&rig, "tab-1", token, k, at(n as i64 + 1), at(n as i64 + 1)).await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (202, Some(outcome)),
            "{k}: {body}"
        );
        assert_eq!(ccai_status(&rig), expected, "after {k}");
    }
}

#[tokio::test]
async fn r_s_2_an_unmapped_status_is_refused_and_recorded_for_the_agent() {
    // A store of its own: the mapping is one item, which other tests' rigs write too.
    let rig = own_store_rig().await;
    let mut unmapped = mapping(&rig.k, PriorityMode::LatestWins, false);
    unmapped.to_ccai.remove(&rig.k["K4"]);
    rig.api.service.save_mapping(&unmapped).await.unwrap();
    let (_, lease) = claim(&rig, "tab-1", at(0)).await;
    let (status, answer) = change(&rig, "tab-1", &lease["lease_token"], "K4", at(1), at(1)).await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("not mapped"));
    assert_eq!(ccai_status(&rig), "Available");
    let state = rig
        .api
        .service
        .agent_state(&rig.email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state["state"]["outcome"]["outcome"], "unmapped");
    assert!(state["outcome"].as_str().unwrap().contains("not mapped"));
}

/// The rig's mapping with Kustomer status `also` mapped to CCAI `ccai` too, saved; the agent
/// picks K3 (applied), then `also` in Kustomer. Answers the time of the pick.
async fn applied_then_in_kustomer(rig: &Rig, also: &str, ccai: &'static str) -> UnixMillis {
    let mut entries: Vec<(String, &'static str)> = vec![
        (rig.k["K1"].clone(), "Available"),
        (rig.k["K2"].clone(), "Available"),
        (rig.k["K3"].clone(), "Break"),
        (rig.k["K4"].clone(), "Lunch"),
    ];
    entries.push((rig.kustomer.status_id(also).unwrap(), ccai));
    let with_also = bridge_tests::ccai_sandbox::state::mapping_by_name(&entries);
    rig.api.service.save_mapping(&with_also).await.unwrap();
    let now = UnixMillis::now();
    assert_eq!(
        change(rig, "tab-1", &json!(null), "K3", now, now).await.1["outcome"],
        "applied"
    );
    rig.kustomer.set_work_session(&user_of(rig), also).unwrap();
    now
}

/// R-S-4 (issue 26): Kustomer's own busy status during a call (`system`, type `busy`) is not
/// the agent's choice: a report of it, and the scheduled run, change nothing — as the widget
/// never reported it — mapped or not (here the admin mapped it).
#[tokio::test]
async fn r_s_4_kustomers_own_busy_status_is_not_followed() {
    let rig = own_store_rig().await;
    let now = applied_then_in_kustomer(&rig, "Busy", "Available").await;
    let (status, answer) = report(&rig, "tab-1", &json!(null), "K2", now, now).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (202, Some("nothing_to_follow")),
        "{answer}"
    );
    reconcile(&rig, now).await.unwrap();
    assert_eq!(ccai_status(&rig), "Break");
    assert_settled_on(&rig, "K3").await;
}

#[tokio::test]
async fn r_s_3_a_kustomer_user_sharing_the_email_is_refused() {
    let rig = rig().await;
    rig.kustomer
        .add_user("Ana's twin", &rig.email.to_uppercase());
    let (status, body) = claim(&rig, "tab-1", at(0)).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("share"));
}

#[tokio::test]
async fn r_s_3_s13_a_signed_in_user_with_no_ccai_agent_is_a_404_remembered_a_while() {
    let rig = rig().await;
    let nobody = rig.kustomer.add_user("Nobody", "nobody@example.com");
    let stranger = bridge_tests::sign_in_support::session_for(
        rig.api.store.as_ref(),
        "nobody@example.com",
        &nobody,
        at(-60),
    )
    .await;
    let body = json!({"instance_id": "tab-1"});
    let (status, answer) = call(
        &rig,
        request_with(&stranger, "POST", "/agents/instances", body.clone()),
        at(0),
    )
    .await;
    assert_eq!(status, 404, "{answer}");
    // Review S13: asked again within minutes, the answer comes from memory — no second
    // listing of every CCAI agent.
    let listings = || {
        rig.ccai
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/agents"))
            .count()
    };
    let before = listings();
    let (status, _) = call(
        &rig,
        request_with(&stranger, "POST", "/agents/instances", body),
        at(60),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(listings(), before, "no second lookup");
}

/// R-SEC-1 (review S1): the agent is the session's. A body naming another agent is refused on
/// every agent route, and nothing reaches the other agent's lease or CCAI status; without a
/// live session every agent route is a 401.
#[tokio::test]
async fn r_sec_1_a_request_naming_another_agent_is_refused_on_every_route() {
    let rig = rig().await;
    let (_, lease) = claim(&rig, "tab-1", at(0)).await;
    let other = "ben@example.com";
    for (method, path, body) in [
        (
            "POST",
            "/agents/instances",
            json!({"email": other, "instance_id": "tab-9"}),
        ),
        (
            "PUT",
            "/agents/instances/tab-1",
            json!({"email": other, "lease_token": lease["lease_token"]}),
        ),
        (
            "DELETE",
            "/agents/instances/tab-1",
            json!({"email": other, "lease_token": lease["lease_token"]}),
        ),
        (
            "POST",
            "/webhooks/kustomer/status",
            json!({"email": other, "instance_id": "tab-1", "lease_token": lease["lease_token"], "status_id": rig.k["K3"], "changed_at": at(1).to_iso()}),
        ),
        (
            "POST",
            "/click-to-call",
            json!({"agent_email": other, "phone": "+16502530000"}),
        ),
    ] {
        let (status, answer) = call(&rig, rig.request(method, path, body), at(1)).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains("another agent"));
    }
    assert_eq!(ccai_status(&rig), "Available", "nothing reached CCAI");
    // The agent's own tab still holds its lease: the refused release released nothing.
    let renew = json!({"lease_token": lease["lease_token"]});
    let (status, _) = call(
        &rig,
        rig.request("PUT", "/agents/instances/tab-1", renew),
        at(2),
    )
    .await;
    assert_eq!(status, 200);
    for (method, path) in [
        ("POST", "/agents/instances"),
        ("PUT", "/agents/instances/tab-1"),
        ("POST", "/webhooks/kustomer/status"),
        ("POST", "/click-to-call"),
        ("GET", "/agents/session"),
    ] {
        let anonymous = http::Request::builder()
            .method(method)
            .uri(path)
            .body(Body::Text("{}".into()))
            .unwrap();
        assert_eq!(call(&rig, anonymous, at(2)).await.0, 401, "{method} {path}");
    }
}

/// Review S2: a refused claim names no other tab, and a tab's id is its own session's — the
/// same id claimed from another session (even the same agent's, another browser) does not
/// take the lease over.
#[tokio::test]
async fn s2_a_tab_id_seen_elsewhere_does_not_take_the_lease_over() {
    let rig = rig().await;
    let (status, first) = claim(&rig, "tab-1", at(0)).await;
    assert_eq!(status, 201);
    let (status, refused) = claim(&rig, "tab-2", at(1)).await;
    assert_eq!(status, 409);
    assert!(refused.get("held_by").is_none(), "{refused}");
    assert!(!refused.to_string().contains("tab-1"), "{refused}");
    // The same agent signed in again in another browser, reusing the first tab's id.
    let user = rig.kustomer.inspect(|w| {
        w.users
            .iter()
            .find(|u| u.text("email") == Some(rig.email.as_str()))
            .map(|u| u.id.clone())
            .unwrap()
    });
    let elsewhere = bridge_shared::sign_in::AgentSessions::new(rig.api.store.as_ref())
        .open(&user, &rig.email, at(1))
        .await
        .unwrap()
        .0;
    let body = json!({"instance_id": "tab-1"});
    let (status, _) = call(
        &rig,
        request_with(&elsewhere, "POST", "/agents/instances", body),
        at(2),
    )
    .await;
    assert_eq!(status, 409, "another session cannot reuse tab-1's id");
    let renew = json!({"lease_token": first["lease_token"]});
    let (status, _) = call(
        &rig,
        request_with(&elsewhere, "PUT", "/agents/instances/tab-1", renew.clone()),
        at(2),
    )
    .await;
    assert_eq!(status, 409, "nor renew it with its lease token");
    let (status, _) = call(
        &rig,
        rig.request("PUT", "/agents/instances/tab-1", renew),
        at(3),
    )
    .await;
    assert_eq!(status, 200, "the tab keeps its lease");
}

/// R-S-4 (issue 26): one tab watches (the lease elects it; a second tab's claim is refused
/// without naming the first), yet every tab of the agent works — another tab, another
/// computer's session — because a report is only a trigger and Kustomer says what is true.
#[tokio::test]
async fn r_s_4_two_tabs_of_one_agent_both_work() {
    let rig = rig().await;
    let (_, first) = claim(&rig, "tab-1", at(0)).await;
    let (status, refused) = claim(&rig, "tab-2", at(10)).await;
    assert_eq!(status, 409);
    assert!(
        refused.get("held_by").is_none(),
        "no other tab is named (S2)"
    );
    assert_eq!(refused["expires_in_s"], 20);
    assert_applied(change(&rig, "tab-2", &json!(null), "K3", at(11), at(11)).await);
    assert_eq!(ccai_status(&rig), "Break");
    assert_applied(change(&rig, "tab-1", &first["lease_token"], "K4", at(12), at(12)).await);
    assert_eq!(ccai_status(&rig), "Lunch");
    // A second computer: another sign-in of the same agent.
    let elsewhere = bridge_shared::sign_in::AgentSessions::new(rig.api.store.as_ref())
        .open(&user_of(&rig), &rig.email, at(13))
        .await
        .unwrap()
        .0;
    rig.kustomer
        .set_work_session(&user_of(&rig), "Available")
        .unwrap();
    assert_applied(
        call(
            &rig,
            request_with(&elsewhere, "POST", "/webhooks/kustomer/status", json!({})),
            at(14),
        )
        .await,
    );
    assert_eq!(ccai_status(&rig), "Available");
}

#[tokio::test]
async fn r_s_4_an_unrenewed_lease_is_taken_over_and_the_stale_tab_is_fenced_off() {
    let rig = rig().await;
    let (_, first) = claim(&rig, "tab-1", at(0)).await;
    let renew = json!({"email": rig.email, "lease_token": first["lease_token"]});
    let (status, renewed) = call(
        &rig,
        rig.request("PUT", "/agents/instances/tab-1", renew.clone()),
        at(20),
    )
    .await;
    assert_eq!(status, 200, "{renewed}");
    let (status, _) = claim(&rig, "tab-2", at(49)).await;
    assert_eq!(status, 409, "renewed until 50 s");
    let (status, second) = claim(&rig, "tab-2", at(51)).await;
    assert_eq!(status, 201);
    assert!(second["lease_token"].as_u64() > first["lease_token"].as_u64());
    let (status, _) = call(
        &rig,
        rig.request("PUT", "/agents/instances/tab-1", renew),
        at(53),
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = change(&rig, "tab-2", &second["lease_token"], "K4", at(54), at(54)).await;
    assert_eq!(status, 202);
    assert_eq!(ccai_status(&rig), "Lunch");
}

#[tokio::test]
async fn r_s_4_a_released_lease_frees_the_agent_at_once() {
    let rig = rig().await;
    let (_, first) = claim(&rig, "tab-1", at(0)).await;
    let body = json!({"email": rig.email, "lease_token": first["lease_token"]});
    let response = handle(
        &rig.api,
        rig.request("DELETE", "/agents/instances/tab-1", body),
        at(1),
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_eq!(claim(&rig, "tab-2", at(2)).await.0, 201);
}

#[tokio::test]
async fn r_s_4_fifty_tabs_racing_leave_exactly_one_holder() {
    let rig = Arc::new(rig().await);
    let tasks: Vec<_> = (0..50)
        .map(|n| {
            let rig = rig.clone();
            tokio::spawn(async move { claim(&rig, &format!("tab-{n}"), at(0)).await.0 })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1);
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 49);
}

/// R-S-4, R-SEC-1 (issue 26): the agent's own tab forges a report — another status, a time
/// far ahead — while Kustomer records Lunch. CCAI follows Kustomer, and the forged status never
/// reaches it, whatever the report says or how often.
#[tokio::test]
async fn r_s_4_a_forged_status_report_changes_nothing_in_ccai() {
    let rig = rig().await;
    let (_, lease) = claim(&rig, "tab-1", at(0)).await;
    let token = &lease["lease_token"];
    assert_eq!(
        change(&rig, "tab-1", token, "K4", at(20), at(21)).await.1["outcome"],
        "applied"
    );
    assert_eq!(ccai_status(&rig), "Lunch");
    let before = status_sets(&rig);
    for (k, said_at) in [("K3", at(3600)), ("K1", at(22)), ("K3", at(-3600))] {
        let (status, body) = report(&rig, "tab-1", token, k, said_at, at(23)).await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (202, Some("applied")),
            "Kustomer's Lunch, already applied: {body}"
        );
    }
    assert_eq!(ccai_status(&rig), "Lunch");
    assert_eq!(status_sets(&rig), before, "nothing sent to CCAI");
    assert_settled_on(&rig, "K4").await;
}

#[tokio::test]
async fn r_s_6_changes_for_an_offline_agent_are_recorded_not_applied() {
    let rig = rig_with(PriorityMode::LatestWins, false, "Offline").await;
    let (_, lease) = claim(&rig, "tab-1", at(0)).await;
    let (status, body) = change(&rig, "tab-1", &lease["lease_token"], "K3", at(1), at(1)).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (202, Some("ignored_offline"))
    );
    assert_eq!(ccai_status(&rig), "Offline");
    let state = rig
        .api
        .service
        .agent_state(&rig.email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state["state"]["outcome"]["outcome"], "ignored_offline");
    assert_eq!(state["state"]["outcome"]["ccai_status"], "Break");
    assert_eq!(state["outcome"], "ignored: agent offline");
}

#[tokio::test]
async fn r_s_6_a_change_during_a_call_waits_and_applies_when_the_call_ends() {
    let rig = rig_with(PriorityMode::LatestWins, false, "In-call").await;
    let (_, lease) = claim(&rig, "tab-1", at(0)).await;
    let (status, body) = change(&rig, "tab-1", &lease["lease_token"], "K3", at(1), at(1)).await;
    assert_eq!((status, body["outcome"].as_str()), (202, Some("pending")));
    assert_eq!(ccai_status(&rig), "In-call");
    assert_eq!(
        rig.api
            .service
            .session_ended(&rig.email, None, at(2))
            .await
            .unwrap(),
        Some(PendingOutcome::Wait)
    );

    // The call ends: wrap-up, then the platform's default.
    rig.ccai.change(|w| {
        w.move_agent(rig.agent, "Wrap-up", "platform");
        w.finish_session_for(rig.agent);
    });
    let outcome = rig
        .api
        .service
        .session_ended(&rig.email, None, at(3))
        .await
        .unwrap();
    assert_eq!(outcome, Some(PendingOutcome::Apply("Break".into())));
    assert_eq!(ccai_status(&rig), "Break");
    let state = rig
        .api
        .service
        .agent_state(&rig.email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state["state"]["outcome"]["outcome"], "applied");
    assert_eq!(state["state"]["last_applied"]["ccai_status"], "Break");
    assert_eq!(
        rig.api
            .service
            .session_ended(&rig.email, None, at(4))
            .await
            .unwrap(),
        None,
        "nothing left pending"
    );
}

async fn pending_then_agent_chooses_lunch(priority: PriorityMode) -> Rig {
    let rig = rig_with(priority, false, "In-call").await;
    // Real time: the agent's choice below is stamped by the sandbox's clock.
    let now = UnixMillis::now();
    let (_, lease) = claim(&rig, "tab-1", now).await;
    let (_, body) = change(&rig, "tab-1", &lease["lease_token"], "K3", now, now).await;
    assert_eq!(body["outcome"], "pending");
    // After the pending CRM change, the agent picks Lunch in CCAI as their next status.
    tokio::time::sleep(Duration::from_millis(5)).await;
    rig.ccai.change(|w| {
        w.agent_mut(rig.agent).unwrap().next_status = Some("Lunch".into());
        w.move_agent(rig.agent, "Wrap-up", "platform");
        w.finish_session_for(rig.agent);
    });
    rig
}

/// R-S-5, issue 13 sequence 6: the agent picked Lunch as their next status during the call,
/// after the CRM change; it became current when the call ended. CCAI does not say when a next
/// status was chosen, so the CRM change made during the call wins (README) — with latest
/// wins as with CRM overrides.
#[tokio::test]
async fn r_s_5_a_next_status_chosen_during_the_call_loses_to_the_crm_change_in_either_mode() {
    for mode in [PriorityMode::LatestWins, PriorityMode::CrmOverrides] {
        let rig = pending_then_agent_chooses_lunch(mode).await;
        let outcome = rig
            .api
            .service
            .session_ended(&rig.email, Some(UnixMillis::now()), UnixMillis::now())
            .await
            .unwrap();
        assert_eq!(
            outcome,
            Some(PendingOutcome::Apply("Break".into())),
            "{mode:?}"
        );
        assert_eq!(ccai_status(&rig), "Break", "{mode:?}");
    }
}

/// R-S-5: a status the agent chose in CCAI after the session ended is provably later than the
/// CRM change made during it: it stands.
#[tokio::test]
async fn r_s_5_latest_wins_keeps_a_choice_made_in_ccai_after_the_session() {
    let rig = rig_with(PriorityMode::LatestWins, false, "In-call").await;
    let now = UnixMillis::now();
    let (_, lease) = claim(&rig, "tab-1", now).await;
    let (_, body) = change(&rig, "tab-1", &lease["lease_token"], "K3", now, now).await;
    assert_eq!(body["outcome"], "pending");
    rig.ccai.change(|w| {
        w.move_agent(rig.agent, "Wrap-up", "platform");
        w.finish_session_for(rig.agent);
        w.move_agent(rig.agent, "Lunch", "agent");
    });
    // The session ended a minute before the agent's choice.
    let ended = UnixMillis(now.0 - 60_000);
    let outcome = rig
        .api
        .service
        .session_ended(&rig.email, Some(ended), UnixMillis::now())
        .await
        .unwrap();
    assert!(
        matches!(outcome, Some(PendingOutcome::Drop(_))),
        "{outcome:?}"
    );
    assert_eq!(ccai_status(&rig), "Lunch");
}

#[tokio::test]
async fn r_s_8_the_kustomer_status_is_applied_when_the_tab_claims_its_lease() {
    let rig = rig_with(PriorityMode::LatestWins, true, "Available").await;
    let user = user_of(&rig);
    rig.kustomer.set_work_session(&user, "Training").unwrap();
    let (status, body) = claim(&rig, "tab-1", UnixMillis::now()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["applied_at_login"]["outcome"], "applied");
    assert_eq!(ccai_status(&rig), "Lunch");
}

#[tokio::test]
async fn requests_without_the_token_or_with_bad_bodies_are_refused_plainly() {
    let rig = rig().await;
    let mut unauthorised = rig.request(
        "POST",
        "/agents/instances",
        json!({"email": rig.email, "instance_id": "t"}),
    );
    unauthorised
        .headers_mut()
        .insert("authorization", "Bearer wrong".parse().unwrap());
    assert_eq!(call(&rig, unauthorised, at(0)).await.0, 401);
    let (status, body) = call(
        &rig,
        rig.request("POST", "/agents/instances", json!({"email": rig.email})),
        at(0),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("instance_id"),
        "{body}"
    );
    // A report is a trigger: what it says of the status is not read (R-S-4), but it must be
    // a JSON object; without a work session in Kustomer there is nothing to follow.
    let mut garbled = rig.request("POST", "/webhooks/kustomer/status", json!({}));
    *garbled.body_mut() = Body::Text("status=K3".into());
    let (status, body) = call(&rig, garbled, at(0)).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = call(
        &rig,
        rig.request(
            "POST",
            "/webhooks/kustomer/status",
            json!({"status_id": "x", "changed_at": "yesterday"}),
        ),
        at(0),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("no work session"),
        "{body}"
    );
    assert_eq!(
        call(
            &rig,
            rig.request("GET", "/agents/instances", json!({})),
            at(0)
        )
        .await
        .0,
        405
    );
    assert_eq!(
        call(&rig, rig.request("POST", "/nowhere", json!({})), at(0))
            .await
            .0,
        404
    );
}

/// R-S-7: in two-way mode an agent's own CCAI change reaches their Kustomer work session; the
/// tab's report of that change sends nothing back to CCAI, and the bridge's own changes are not
/// echoed.
#[tokio::test]
async fn r_s_7_two_way_reflects_ccai_changes_without_an_echo_loop() {
    let rig = rig().await;
    // By CCAI status id: Break is the built-in −2, Lunch a custom status.
    two_way(&rig, &[("Break", "K3"), ("Lunch", "K4")]).await;
    let user = user_of(&rig);
    let session = rig.kustomer.set_work_session(&user, "Available").unwrap();
    let now = UnixMillis::now();
    let (_, lease) = claim(&rig, "tab-1", now).await;

    // The agent picks Break in CCAI themselves.
    rig.ccai
        .change(|w| w.move_agent(rig.agent, "Break", "agent"));
    let reflected = rig
        .api
        .service
        .reflect_ccai_status(&rig.email, now)
        .await
        .unwrap();
    assert_eq!(reflected.as_deref(), Some(rig.k["K3"].as_str()));
    let kustomer_status = rig.kustomer.inspect(|w| {
        w.find("work_session", &session)
            .unwrap()
            .related("status")
            .map(str::to_owned)
    });
    assert_eq!(kustomer_status.as_deref(), Some(rig.k["K3"].as_str()));
    assert_eq!(
        rig.api
            .service
            .reflect_ccai_status(&rig.email, now)
            .await
            .unwrap(),
        None,
        "reflected once"
    );

    // The tab reports the Kustomer change it now sees: CCAI already has Break, nothing is sent.
    let changes_before = rig.ccai.inspect(|w| w.status_history.len());
    let later = UnixMillis(now.0 + 10);
    let (_, body) = change(&rig, "tab-1", &lease["lease_token"], "K3", later, later).await;
    assert_eq!(body["outcome"], "already_there");
    assert_eq!(rig.ccai.inspect(|w| w.status_history.len()), changes_before);

    // A change the bridge makes (K4 → Lunch) is not reflected back to Kustomer.
    let later = UnixMillis(now.0 + 20);
    change(&rig, "tab-1", &lease["lease_token"], "K4", later, later).await;
    assert_eq!(ccai_status(&rig), "Lunch");
    assert_eq!(
        rig.api
            .service
            .reflect_ccai_status(&rig.email, later)
            .await
            .unwrap(),
        None
    );
}

/// The hot path's budget: once the container has the mapping and the agent's identity in
/// memory, a status change costs one read of the agent's session (R-SEC-1), one consistent
/// read of the agent's state and two conditional writes — the claim before CCAI is called and the record after it answered (issue 13: a
/// change is never recorded as applied before CCAI confirmed it).
#[tokio::test]
async fn a_status_change_costs_three_store_reads_and_three_writes_once_caches_are_warm() {
    use bridge_tests::counting_store::CountingStore;
    let counting = Arc::new(CountingStore::new(Arc::new(
        bridge_tests::local::dynamo_store().await,
    )));
    let rig = rig_on(
        counting.clone(),
        PriorityMode::LatestWins,
        false,
        "Available",
    )
    .await;
    let rig = Rig {
        api: StatusApi {
            service: rig.api.service.with_report_interval(REPORT_INTERVAL),
            ..rig.api
        },
        ..rig
    };
    let (_, lease) = claim(&rig, "tab-1", at(0)).await;
    change(&rig, "tab-1", &lease["lease_token"], "K3", at(1), at(1)).await;
    let before = counting.counts();
    let (status, body) = change(&rig, "tab-1", &lease["lease_token"], "K4", at(4), at(4)).await;
    assert_eq!((status, body["outcome"].as_str()), (202, Some("applied")));
    let after = counting.counts();
    // Reads: the user's standing (issue 26), the agent's state twice; writes: the report's
    // turn (one work-session read per agent per interval), the effect claimed, the outcome.
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (3, 3),
        "(reads, writes) per change"
    );
}

/// Issue 26 (the review of R-S-4): a report is only a trigger, but each one followed costs a
/// read from the tenant's shared Kustomer budget. A tab reporting in a loop gets one read per
/// agent per interval; the rest are refused with the time left, and a change reported too soon
/// is followed when the widget sends it again.
#[tokio::test]
async fn r_s_4_a_report_loop_costs_one_read_per_interval_and_a_change_sent_again_is_followed() {
    let rig = rig().await;
    let rig = Rig {
        api: StatusApi {
            service: rig.api.service.with_report_interval(REPORT_INTERVAL),
            ..rig.api
        },
        ..rig
    };
    let reads = || rig.kustomer.requests_to("GET", "/v1/routing/users/");
    let (_, lease) = claim(&rig, "tab-1", at(0)).await;
    let token = &lease["lease_token"];
    assert_applied(change(&rig, "tab-1", token, "K3", at(10), at(10)).await);
    assert_eq!(ccai_status(&rig), "Break");
    let after_first = reads();
    assert!(after_first > 0, "the report read the agent's work session");

    // Lunch is picked half a second later: too soon. Nothing is read; the answer says when.
    let soon = UnixMillis(at(10).0 + 500);
    let response = handle(
        &rig.api,
        rig.request("POST", "/webhooks/kustomer/status", json!({})),
        soon,
    )
    .await;
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("2")
    );
    rig.kustomer
        .set_work_session(&user_of(&rig), k_name("K4"))
        .unwrap();
    // A loop within the interval: every report refused, not one more read.
    for ms in (600..2000).step_by(70) {
        let (status, body) = report(
            &rig,
            "tab-1",
            token,
            "K4",
            at(10),
            UnixMillis(at(10).0 + ms),
        )
        .await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (429, Some("too_soon")),
            "{body}"
        );
    }
    assert_eq!(reads(), after_first, "a refused report reads nothing");
    assert_eq!(ccai_status(&rig), "Break");

    // Sent again after Retry-After: Lunch is followed.
    assert_applied(report(&rig, "tab-1", token, "K4", at(10), at(12)).await);
    assert_eq!(ccai_status(&rig), "Lunch");

    // Ten reports racing after the interval take one turn between them.
    rig.kustomer
        .set_work_session(&user_of(&rig), k_name("K3"))
        .unwrap();
    let racing = (0..10).map(|_| report(&rig, "tab-1", token, "K3", at(20), at(20)));
    let statuses: Vec<u16> = futures::future::join_all(racing)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    assert_eq!(
        (
            statuses.iter().filter(|s| **s == 202).count(),
            statuses.iter().filter(|s| **s == 429).count()
        ),
        (1, 9),
        "{statuses:?}"
    );
    assert_eq!(ccai_status(&rig), "Break");
}

/// Issue 26 (review low): an agent session ended only with its 12 hours, whatever became of
/// the Kustomer user. Once an admin deactivates the user, their sessions end at their next
/// request after the recheck interval.
#[tokio::test]
async fn r_sec_1_a_deactivated_kustomer_user_loses_their_bridge_session() {
    // Its own store: sandboxes number their users alike, and revoking a user's sessions in a
    // shared table would end other tests' sessions.
    let rig = own_store_rig().await;
    let (status, _) = claim(&rig, "tab-1", at(0)).await;
    assert_eq!(status, 201);
    let lookups = || rig.kustomer.requests_to("GET", "/v1/users");
    let asked = lookups();
    assert_eq!(
        asked, 2,
        "the first request looked the agent up (R-S-3) and asked whether the user is active"
    );
    // Within the recheck interval the answer is remembered: no more lookups.
    let (status, _) = claim(&rig, "tab-2", at(10)).await;
    assert_eq!(status, 409);
    assert_eq!(lookups(), asked);

    rig.kustomer.deactivate_user(&user_of(&rig));
    let later = UnixMillis(at(0).0 + RECHECK.as_millis() as i64 + 1000);
    let (status, body) = claim(&rig, "tab-2", later).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("no longer active")),
        "{body}"
    );
    // The session itself is gone, not only this request refused.
    let sessions = bridge_shared::sign_in::AgentSessions::new(rig.api.store.as_ref())
        .list(later)
        .await
        .unwrap();
    assert!(
        !sessions.iter().any(|s| s.email == rig.email),
        "the deactivated user's sessions ended"
    );
}

/// Where Kustomer ignored the list's `deleted` filter (M), a deactivated user would still be
/// listed: the check then lets the session live out its hours, and never ends an active one.
#[tokio::test]
async fn r_sec_1_an_ignored_deleted_filter_ends_no_session() {
    let platforms = SandboxedPlatforms::start_both(
        Default::default(),
        bridge_tests::kustomer_sandbox::SandboxOptions {
            users_deleted_filter: false,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let store = Arc::new(bridge_tests::local::dynamo_store().await);
    let rig = rig_of(
        platforms,
        store,
        PriorityMode::LatestWins,
        false,
        "Available",
    )
    .await;
    let (status, _) = claim(&rig, "tab-1", at(0)).await;
    assert_eq!(status, 201);
    let later = UnixMillis(at(0).0 + RECHECK.as_millis() as i64 + 1000);
    rig.kustomer.deactivate_user(&user_of(&rig));
    let (status, body) = claim(&rig, "tab-2", later).await;
    assert_eq!(status, 201, "the session lives on: {body}");
}

/// A lookup that misses the user (an e-mail changed in Kustomer since sign-in, a filter that
/// compares case) is no evidence of deactivation: the session goes on.
#[tokio::test]
async fn r_sec_1_a_user_the_lookup_misses_keeps_their_session() {
    let rig = rig().await;
    let (status, _) = claim(&rig, "tab-1", at(0)).await;
    assert_eq!(status, 201);
    let user = user_of(&rig);
    rig.kustomer.inspect_mut(|w| {
        let record = w.users.iter_mut().find(|u| u.id == user).unwrap();
        record
            .attributes
            .insert("email".into(), "ana.renamed@example.com".into());
    });
    let later = UnixMillis(at(0).0 + RECHECK.as_millis() as i64 + 1000);
    let (status, body) = claim(&rig, "tab-2", later).await;
    assert_eq!(status, 201, "the session goes on: {body}");
}

/// The login read (apply-at-login, R-S-8) takes the agent's report turn: claiming the lease
/// again and again is no way around the gate (review of the gate, M3).
#[tokio::test]
async fn r_s_8_r_s_4_claiming_again_and_again_reads_kustomer_once_per_interval() {
    let rig = rig_with(PriorityMode::LatestWins, true, "Available").await;
    let rig = Rig {
        api: StatusApi {
            service: rig.api.service.with_report_interval(REPORT_INTERVAL),
            ..rig.api
        },
        ..rig
    };
    rig.kustomer
        .set_work_session(&user_of(&rig), k_name("K3"))
        .unwrap();
    let reads = || rig.kustomer.requests_to("GET", "/v1/routing/users/");
    let (status, first) = claim(&rig, "tab-1", at(0)).await;
    assert_eq!(status, 201);
    assert_eq!(first["applied_at_login"]["outcome"], "applied", "{first}");
    let after_first = reads();
    for ms in (100..2000).step_by(100) {
        let (status, again) = claim(&rig, "tab-1", UnixMillis(at(0).0 + ms)).await;
        assert_eq!(status, 201, "{again}");
        assert!(again["applied_at_login"].is_null(), "{again}");
    }
    assert_eq!(reads(), after_first, "no read within the interval");
    let (status, body) = report(&rig, "tab-1", &first["lease_token"], "K3", at(1), at(1)).await;
    assert_eq!((status, body["outcome"].as_str()), (429, Some("too_soon")));
}

/// A Kustomer that fails or is slow to say whether the user stands ends no session and holds
/// no request long; the question is not asked again for a minute, then the answer counts.
#[tokio::test]
async fn r_sec_1_a_failing_user_lookup_ends_no_session_and_is_asked_again_later() {
    use bridge_tests::kustomer_sandbox::{Fault, FaultMatch};
    // Its own store: sandboxes number their users alike, and revoking a user's sessions in a
    // shared table would end other tests' sessions.
    let rig = own_store_rig().await;
    let (status, _) = claim(&rig, "tab-1", at(0)).await;
    assert_eq!(status, 201);
    rig.kustomer.deactivate_user(&user_of(&rig));
    for _ in 0..8 {
        rig.kustomer.inject(
            FaultMatch {
                method: Some(lambda_http::http::Method::GET),
                path_prefix: Some("/v1/users".into()),
                ..Default::default()
            },
            Fault::ServerError,
        );
    }
    let lookups = || rig.kustomer.requests_to("GET", "/v1/users");
    let later = UnixMillis(at(0).0 + RECHECK.as_millis() as i64 + 1000);
    let started = std::time::Instant::now();
    let (status, body) = claim(&rig, "tab-2", later).await;
    assert_eq!(
        status, 201,
        "Kustomer could not say: the session goes on: {body}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the lookup is bounded"
    );
    let after_failure = lookups();
    // Within the minute, not asked again.
    let soon = UnixMillis(later.0 + 10_000);
    let (status, _) = claim(&rig, "tab-3", soon).await;
    assert_eq!(status, 409);
    assert_eq!(lookups(), after_failure);
    // After it, with Kustomer answering again, the deactivation counts.
    rig.kustomer.clear_faults();
    let then = UnixMillis(later.0 + UNSURE_FOR.as_millis() as i64 + 1000);
    let (status, body) = claim(&rig, "tab-3", then).await;
    assert_eq!(status, 401, "{body}");
}

// ---- Issue 13: the sequences that used to end in the wrong status, each forced ----

/// Turns two-way mode on with these reverse entries (CCAI status name → K…).
async fn two_way(rig: &Rig, to_kustomer: &[(&str, &str)]) {
    use bridge_tests::ccai_sandbox::state::status_id;
    let mut mapping = mapping(&rig.k, PriorityMode::LatestWins, false);
    mapping.two_way = true;
    mapping.to_kustomer = to_kustomer
        .iter()
        .map(|(ccai, k)| (status_id(ccai).to_string(), rig.k[k].clone()))
        .collect();
    rig.api.service.save_mapping(&mapping).await.unwrap();
}

fn user_of(rig: &Rig) -> String {
    rig.kustomer.inspect(|w| {
        w.users
            .iter()
            .find(|u| u.text("email") == Some(rig.email.as_str()))
            .unwrap()
            .id
            .clone()
    })
}

async fn sync_state(rig: &Rig) -> Value {
    rig.api
        .service
        .agent_state(&rig.email)
        .await
        .unwrap()
        .unwrap()
}

/// The agent's record agrees with their last choice: it is the desired one, settled, and no
/// effect is left in flight.
async fn assert_settled_on(rig: &Rig, k: &str) {
    let state = sync_state(rig).await;
    assert_eq!(
        state["state"]["desired"]["kustomer_status_id"],
        rig.k[k].as_str(),
        "{state}"
    );
    let outcome = state["state"]["outcome"]["outcome"].as_str().unwrap();
    assert!(["applied", "already_there"].contains(&outcome), "{state}");
    assert!(state["state"]["in_flight"].is_null(), "{state}");
}

/// Sequence 1 (R-S-6): the worker applies the pending Lunch after the call while the agent
/// picks Available; the worker's CCAI call is held at the platform until the agent's change
/// is in. The agent's newer choice wins: it is applied after the worker's call, not lost.
#[tokio::test]
async fn r_s_6_a_pending_change_never_overrides_a_choice_made_while_it_is_applied() {
    let rig = rig_with(PriorityMode::LatestWins, false, "In-call").await;
    let now = UnixMillis::now();
    let (_, lease) = claim(&rig, "tab-1", now).await;
    let token = &lease["lease_token"];
    let (_, body) = change(&rig, "tab-1", token, "K3", now, now).await;
    assert_eq!(body["outcome"], "pending");
    rig.ccai.change(|w| {
        w.move_agent(rig.agent, "Wrap-up", "platform");
        w.finish_session_for(rig.agent);
    });
    let gate = rig.ccai.hold_status_changes();
    let worker = rig.api.service.session_ended(&rig.email, Some(now), now);
    let agent = async {
        gate.arrivals(1).await;
        let later = UnixMillis(now.0 + 1_000);
        let answer = change(&rig, "tab-1", token, "K1", later, later).await;
        gate.open();
        answer
    };
    let (ended, (status, body)) = tokio::join!(worker, agent);
    ended.unwrap();
    assert_eq!(
        (status, body["outcome"].as_str()),
        (202, Some("in_progress"))
    );
    assert_eq!(ccai_status(&rig), "Available");
    assert_settled_on(&rig, "K1").await;
}

/// Sequence 3 (R-S-6): two changes of one tab in flight at once; the first one's CCAI call
/// is held until the second is in. CCAI ends with the later choice, and the earlier request
/// is told it was superseded. (Reads arriving out of Kustomer's order are ordered by its
/// record: `agent_state` unit tests, and the scheduled run's same-status record in
/// `reconcile.rs`.)
#[tokio::test]
async fn r_s_6_two_changes_in_flight_from_one_tab_reach_ccai_in_their_order() {
    let rig = rig().await;
    let now = UnixMillis::now();
    let (_, lease) = claim(&rig, "tab-1", now).await;
    let token = &lease["lease_token"];
    let gate = rig.ccai.hold_status_changes();
    let t1 = UnixMillis(now.0 + 1_000);
    let t2 = UnixMillis(now.0 + 2_000);
    let first = change(&rig, "tab-1", token, "K3", t1, t1);
    let second = async {
        gate.arrivals(1).await;
        let answer = change(&rig, "tab-1", token, "K4", t2, t2).await;
        gate.open();
        answer
    };
    let ((_, first), (_, second)) = tokio::join!(first, second);
    assert_eq!(first["outcome"], "superseded", "{first}");
    assert_eq!(second["outcome"], "in_progress", "{second}");
    assert_eq!(ccai_status(&rig), "Lunch");
    assert_settled_on(&rig, "K4").await;
}

/// Sequence 4 (R-S-6, R-S-7): CCAI fails the change. It is recorded as failed — not applied —
/// and the widget is told it will be retried; two-way mode does not push CCAI's old status
/// back into Kustomer meanwhile; the scheduled run applies it once CCAI works again.
#[tokio::test]
async fn r_s_6_r_s_7_a_failed_ccai_change_is_kept_retried_and_never_reverted() {
    let rig = rig().await;
    two_way(&rig, &[("Available", "K1"), ("Break", "K3")]).await;
    let user = user_of(&rig);
    let session = rig.kustomer.set_work_session(&user, "Available").unwrap();
    let now = UnixMillis::now();
    let (_, lease) = claim(&rig, "tab-1", now).await;
    // The agent picks Lunch in Kustomer (K3 → CCAI Break); CCAI fails.
    rig.kustomer.set_work_session(&user, "Lunch").unwrap();
    rig.ccai.change(|w| w.failing_status_changes = 100);
    let (status, body) = change(&rig, "tab-1", &lease["lease_token"], "K3", now, now).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (202, Some("failed")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().ends_with("will retry"));
    assert_eq!(ccai_status(&rig), "Available");
    let reflected = reconcile(&rig, now).await.unwrap_or_default().reflected;
    assert_eq!(reflected, None, "no reflection while a change waits");
    let kustomer_status = || {
        rig.kustomer.inspect(|w| {
            w.find("work_session", &session)
                .and_then(|s| s.related("status"))
                .map(str::to_owned)
        })
    };
    assert_eq!(kustomer_status().as_deref(), Some(rig.k["K3"].as_str()));
    let state = sync_state(&rig).await;
    assert!(
        state["outcome"].as_str().unwrap().starts_with("failed: "),
        "{state}"
    );
    // CCAI works again: the scheduled run applies the change.
    rig.ccai.change(|w| w.failing_status_changes = 0);
    reconcile(&rig, now).await.unwrap();
    assert_eq!(ccai_status(&rig), "Break");
    assert_eq!(kustomer_status().as_deref(), Some(rig.k["K3"].as_str()));
    assert_settled_on(&rig, "K3").await;
}

/// Sequence 2 (R-S-7): the scheduled run reflects CCAI's Break into Kustomer; its Kustomer
/// write is held while the agent picks Training in Kustomer. The reflection's write is
/// conditional (the work session's `rev`) and so refused; the agent's choice stands in
/// Kustomer and is brought to CCAI.
#[tokio::test]
async fn r_s_7_two_way_never_reverts_a_choice_the_agent_makes_meanwhile() {
    let rig = rig().await;
    two_way(&rig, &[("Break", "K3")]).await;
    let user = user_of(&rig);
    let session = rig.kustomer.set_work_session(&user, "Available").unwrap();
    let now = UnixMillis::now();
    let (_, lease) = claim(&rig, "tab-1", now).await;
    // The agent picks Break in CCAI themselves.
    rig.ccai
        .change(|w| w.move_agent(rig.agent, "Break", "agent"));
    let gate = rig
        .kustomer
        .hold(bridge_tests::kustomer_sandbox::FaultMatch::on(
            http::Method::PUT,
            "/v1/routing/work-sessions/",
        ));
    let reflect = rig.api.service.reflect_ccai_status(&rig.email, now);
    let agent = async {
        gate.arrivals(1).await;
        // Meanwhile the agent picks Training in Kustomer, and the tab reports it.
        rig.kustomer.set_work_session(&user, "Training").unwrap();
        let later = UnixMillis(now.0 + 1_000);
        let answer = change(&rig, "tab-1", &lease["lease_token"], "K4", later, later).await;
        gate.open();
        answer
    };
    let (reflected, (status, body)) = tokio::join!(reflect, agent);
    assert_eq!(
        (status, body["outcome"].as_str()),
        (202, Some("in_progress"))
    );
    assert_eq!(reflected.unwrap(), None);
    let kustomer_status = rig.kustomer.inspect(|w| {
        w.find("work_session", &session)
            .and_then(|s| s.related("status"))
            .map(str::to_owned)
    });
    assert_eq!(kustomer_status.as_deref(), Some(rig.k["K4"].as_str()));
    assert_eq!(ccai_status(&rig), "Lunch");
    assert_settled_on(&rig, "K4").await;
}

/// Sequence 5 (R-S-6, R-S-4): order comes from Kustomer's record of the changes, never from a
/// tab's clock (issue 26). A tab whose clock is 30 s slow is not dropped after apply-at-login;
/// a computer whose clock ran minutes fast does not block the next computer; one six minutes
/// off is neither refused nor blocked.
#[tokio::test]
async fn r_s_6_r_s_8_tab_clocks_that_are_off_neither_drop_nor_block_changes() {
    let rig = rig_with(PriorityMode::LatestWins, true, "Available").await;
    let user = user_of(&rig);
    rig.kustomer.set_work_session(&user, "Training").unwrap();
    let now = UnixMillis::now();
    let (status, lease) = claim(&rig, "tab-1", now).await;
    assert_eq!(status, 201);
    assert_eq!(lease["applied_at_login"]["outcome"], "applied");
    assert_eq!(ccai_status(&rig), "Lunch");
    let token = &lease["lease_token"];
    // tab-1's clock is 30 s slow.
    let slow = UnixMillis(now.0 - 30_000);
    let (_, body) = change(&rig, "tab-1", token, "K3", slow, now).await;
    assert_eq!(body["outcome"], "applied", "{body}");
    // Later, its clock runs four minutes fast.
    let fast = UnixMillis(now.0 + 240_000);
    assert_eq!(
        change(&rig, "tab-1", token, "K1", fast, now).await.1["outcome"],
        "applied"
    );
    // The agent moves to another computer, whose clock is right (Kustomer shows their last
    // choice, Available, which apply-at-login finds in place).
    rig.kustomer.set_work_session(&user, "Available").unwrap();
    let release = json!({"lease_token": token});
    let (status, _) = call(
        &rig,
        rig.request("DELETE", "/agents/instances/tab-1", release),
        now,
    )
    .await;
    assert_eq!(status, 204);
    let (_, other) = claim(&rig, "tab-2", now).await;
    let right = UnixMillis(now.0 + 1_000);
    let (_, body) = change(&rig, "tab-2", &other["lease_token"], "K4", right, right).await;
    assert_eq!(body["outcome"], "applied", "{body}");
    assert_eq!(ccai_status(&rig), "Lunch");
    // Six minutes off: not blocked (review L1), taken in the order it arrived.
    let off = UnixMillis(now.0 + 360_000);
    assert_applied(change(&rig, "tab-2", &other["lease_token"], "K3", off, now).await);
    assert_settled_on(&rig, "K3").await;
}

// ---- Issue 13: random schedules for one agent, checked after quiescence ----

/// What the agent did, as a schedule step.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// The agent picks a Kustomer status; the tab reports it.
    Tab(&'static str),
    /// The same, while CCAI fails (the scheduled run retries it right after).
    TabWhileCcaiFails(&'static str),
    CallStarts,
    /// During a call: the agent picks their next status in CCAI.
    NextStatus(&'static str),
    CallEnds,
    /// Outside a call: the agent picks a status in CCAI itself.
    CcaiChoice(&'static str),
    ScheduledRun,
}

fn mapped(k: &str) -> &'static str {
    match k {
        "K1" | "K2" => "Available",
        "K3" => "Break",
        _ => "Lunch",
    }
}

/// The status CCAI should show once everything settled: the agent's last choice, where a
/// Kustomer change made during a call wins over the next status chosen in CCAI during it (its
/// moment is unknown, README).
#[derive(Default)]
struct Model {
    ccai: String,
    in_call: bool,
    next: Option<&'static str>,
    pending: Option<&'static str>,
}

impl Model {
    fn apply(&mut self, step: Step) {
        match step {
            Step::Tab(k) | Step::TabWhileCcaiFails(k) if self.in_call => {
                self.pending = Some(mapped(k))
            }
            Step::Tab(k) | Step::TabWhileCcaiFails(k) => self.ccai = mapped(k).into(),
            Step::CallStarts => self.in_call = true,
            Step::NextStatus(status) => self.next = Some(status),
            Step::CallEnds => {
                self.in_call = false;
                self.ccai = self.next.take().unwrap_or("Available").into();
                if let Some(pending) = self.pending.take() {
                    self.ccai = pending.into();
                }
            }
            Step::CcaiChoice(status) => self.ccai = status.into(),
            Step::ScheduledRun => {}
        }
    }
}

fn schedule(seed: u64, length: usize) -> Vec<Step> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut roll = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let ks = ["K1", "K2", "K3", "K4"];
    let statuses = ["Available", "Break", "Lunch", "Training"];
    let mut in_call = false;
    let mut steps = Vec::new();
    while steps.len() < length {
        let step = match (in_call, roll(8)) {
            (_, 0 | 1) => Step::Tab(ks[roll(4) as usize]),
            (_, 2) => Step::TabWhileCcaiFails(ks[roll(4) as usize]),
            (false, 3 | 4) => Step::CallStarts,
            (false, 5) => Step::CcaiChoice(statuses[roll(4) as usize]),
            (true, 3 | 4) => Step::NextStatus(statuses[roll(4) as usize]),
            (true, 5) => Step::CallEnds,
            _ => Step::ScheduledRun,
        };
        match step {
            Step::CallStarts => in_call = true,
            Step::CallEnds => in_call = false,
            _ => {}
        }
        steps.push(step);
    }
    if in_call {
        steps.push(Step::CallEnds);
    }
    steps.push(Step::ScheduledRun);
    steps
}

async fn play(seed: u64) {
    let rig = rig().await;
    let steps = schedule(seed, 16);
    let mut model = Model {
        ccai: "Available".into(),
        ..Model::default()
    };
    let (_, lease) = claim(&rig, "tab-1", UnixMillis::now()).await;
    let token = lease["lease_token"].clone();
    let mut last = 0;
    for step in &steps {
        let now = UnixMillis::now();
        let changed_at = UnixMillis(now.0.max(last + 1));
        last = changed_at.0;
        match *step {
            Step::Tab(k) => {
                let (status, body) = change(&rig, "tab-1", &token, k, changed_at, now).await;
                assert_eq!(status, 202, "seed {seed} {step:?}: {body}");
            }
            Step::TabWhileCcaiFails(k) => {
                rig.ccai.change(|w| w.failing_status_changes = 100);
                let (status, body) = change(&rig, "tab-1", &token, k, changed_at, now).await;
                assert_eq!(status, 202, "seed {seed} {step:?}: {body}");
                rig.ccai.change(|w| w.failing_status_changes = 0);
                reconcile(&rig, now).await.unwrap();
            }
            Step::CallStarts => rig
                .ccai
                .change(|w| w.move_agent(rig.agent, "In-call", "platform")),
            Step::NextStatus(status) => rig
                .ccai
                .change(|w| w.agent_mut(rig.agent).unwrap().next_status = Some(status.into())),
            Step::CallEnds => {
                let ended = UnixMillis::now();
                rig.ccai.change(|w| {
                    w.move_agent(rig.agent, "Wrap-up", "platform");
                    w.finish_session_for(rig.agent);
                });
                rig.api
                    .service
                    .session_ended(&rig.email, Some(ended), now)
                    .await
                    .unwrap();
            }
            Step::CcaiChoice(status) => rig
                .ccai
                .change(|w| w.move_agent(rig.agent, status, "agent")),
            Step::ScheduledRun => {
                reconcile(&rig, now).await.unwrap();
            }
        }
        model.apply(*step);
    }
    assert_eq!(
        ccai_status(&rig),
        model.ccai,
        "seed {seed}: CCAI after {steps:?}"
    );
    if let Some(state) = rig.api.service.agent_state(&rig.email).await.unwrap() {
        assert!(
            state["state"]["in_flight"].is_null(),
            "seed {seed}: {state}"
        );
        if !state["state"]["desired"].is_null() {
            let outcome = state["state"]["outcome"]["outcome"]
                .as_str()
                .unwrap_or("none");
            assert!(
                !["pending", "failed", "in_progress", "none"].contains(&outcome),
                "seed {seed}: nothing should be left to do after {steps:?}: {state}"
            );
        }
    }
}

/// Issue 13: random schedules of tab changes, calls, next statuses, CCAI-side choices, CCAI
/// failures and scheduled runs (seeded, reproducible); after each, CCAI shows the agent's
/// last choice and nothing is left pending.
#[tokio::test]
async fn r_s_5_r_s_6_random_schedules_end_with_the_agents_last_choice() {
    let seeds: Vec<u64> = (1..=16).collect();
    let runs: Vec<_> = seeds.iter().map(|seed| play(*seed)).collect();
    futures::future::join_all(runs).await;
}

/// Review finding 12 (R-S-5): the tab's Lunch reaches CCAI slowly (held at the platform past
/// its 30 s claim); meanwhile the tab picks Available, and the scheduled run, finding the claim
/// expired, settles it. Then the stale Lunch lands. The bridge must not stay "applied:
/// Available" over a CCAI that shows Lunch: the newer choice is made again.
#[tokio::test]
async fn finding_12_r_s_5_a_stale_effect_landing_after_a_newer_one_is_corrected() {
    let rig = rig().await;
    let now = UnixMillis::now();
    let (_, lease) = claim(&rig, "tab-1", now).await;
    let token = &lease["lease_token"];
    let gate = rig.ccai.hold_next_status_change();
    let slow = change(&rig, "tab-1", token, "K3", now, now);
    let meanwhile = async {
        gate.arrivals(1).await;
        let t20 = now.plus(Duration::from_secs(20));
        let (_, second) = change(&rig, "tab-1", token, "K1", t20, t20).await;
        assert_eq!(second["outcome"], "in_progress", "{second}");
        reconcile(&rig, now.plus(Duration::from_secs(31)))
            .await
            .unwrap();
        assert_eq!(ccai_status(&rig), "Available");
        gate.open();
    };
    let ((_, first), ()) = tokio::join!(slow, meanwhile);
    assert_eq!(first["outcome"], "superseded", "{first}");
    assert_eq!(ccai_status(&rig), "Available", "the newer choice stands");
    assert_settled_on(&rig, "K1").await;
}

/// Review L1 (events.md §3): a tab whose clock is two hours slow is not blocked, and the next
/// change still follows the first (the tab's `changed_at` is not read at all since issue 26).
#[tokio::test]
async fn l1_r_s_1_a_tab_with_a_drifted_clock_still_syncs() {
    let rig = rig().await;
    let now = UnixMillis::now();
    let (_, lease) = claim(&rig, "tab-1", now).await;
    let token = &lease["lease_token"];
    let slow = |at: UnixMillis| UnixMillis(at.0 - 2 * 3600 * 1000);
    assert_applied(change(&rig, "tab-1", token, "K3", slow(now), now).await);
    assert_eq!(ccai_status(&rig), "Break");
    let later = now.plus(Duration::from_secs(5));
    assert_applied(change(&rig, "tab-1", token, "K1", slow(later), later).await);
    assert_eq!(ccai_status(&rig), "Available");
}

/// Review L4 (R-S-2): CCAI refuses the change for good — the mapped status was renamed in CCAI
/// since the mapping was saved (400 "Status not found"). The agent is told, and the scheduled
/// run does not send it again every minute; a 503 would be retried.
#[tokio::test]
async fn l4_r_s_2_a_permanent_ccai_refusal_is_shown_and_not_retried() {
    let rig = rig().await;
    let now = UnixMillis::now();
    let (_, lease) = claim(&rig, "tab-1", now).await;
    rig.ccai.change(|w| w.statuses.retain(|s| s != "Break"));
    let (status, body) = change(&rig, "tab-1", &lease["lease_token"], "K3", now, now).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (202, Some("failed")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("not retried"),
        "{body}"
    );
    let before = status_sets(&rig);
    for minute in 1..=3u64 {
        reconcile(&rig, now.plus(Duration::from_secs(60 * minute)))
            .await
            .unwrap();
    }
    assert_eq!(status_sets(&rig), before, "not sent again");
    assert_eq!(ccai_status(&rig), "Available");
}

/// Found by the independent stand-in (issue 24): the scheduled run's container had read the
/// mapping before the admin saved the one that maps the agent's choice. Its copy (kept 30 s)
/// must not settle the pending change as "unmapped" for good: the mapping is read again first.
#[tokio::test]
async fn r_s_2_a_mapping_saved_by_another_container_is_read_before_calling_a_choice_unmapped() {
    let store: Arc<dyn bridge_shared::store::StateStore> =
        Arc::new(bridge_tests::local::dynamo_store().await);
    let rig = rig_on(store.clone(), PriorityMode::LatestWins, false, "In-call").await;
    let worker = bridge_shared::status::sync::StatusService::new(
        store,
        Arc::new(bridge_tests::ccai_support::client(&rig.ccai)),
        Arc::new(bridge_tests::kustomer_support::client(&rig.kustomer)),
        bridge_shared::status::sync::DEFAULT_LEASE,
    );
    // Before: K3 is not mapped, and the worker's container reads that.
    let mut before = mapping(&rig.k, PriorityMode::LatestWins, false);
    before.to_ccai.remove(&rig.k["K3"]);
    rig.api.service.save_mapping(&before).await.unwrap();
    worker.mapping(UnixMillis::now()).await.unwrap();
    // The admin maps it; the agent picks it during a call.
    rig.api
        .service
        .save_mapping(&mapping(&rig.k, PriorityMode::LatestWins, false))
        .await
        .unwrap();
    let now = UnixMillis::now();
    let (_, lease) = claim(&rig, "tab-1", now).await;
    let (_, body) = change(&rig, "tab-1", &lease["lease_token"], "K3", now, now).await;
    assert_eq!(body["outcome"], "pending", "{body}");
    rig.ccai.change(|w| {
        w.move_agent(rig.agent, "Wrap-up", "platform");
        w.finish_session_for(rig.agent);
    });
    let outcome = worker
        .session_ended(&rig.email, None, UnixMillis::now())
        .await
        .unwrap();
    assert_eq!(outcome, Some(PendingOutcome::Apply("Break".into())));
    assert_eq!(ccai_status(&rig), "Break");
}

/// R-S-7 with R-S-4 (review of issue 26): the scheduled run reflects the agent's CCAI Lunch
/// into Kustomer; the agent then picks Available in CCAI. The next run reads Kustomer's
/// record — the bridge's own reflection, newer than anything the agent chose in Kustomer —
/// and must not follow it back to Lunch: it reflects Available instead.
#[tokio::test]
async fn r_s_7_r_s_4_the_bridge_never_follows_its_own_reflection() {
    let rig = own_store_rig().await;
    two_way(&rig, &[("Available", "K1"), ("Lunch", "K4")]).await;
    let user = user_of(&rig);
    let session = rig.kustomer.set_work_session(&user, "Available").unwrap();
    let now = UnixMillis::now();
    assert_eq!(
        change(&rig, "tab-1", &json!(null), "K1", now, now).await.0,
        202
    );
    rig.ccai
        .change(|w| w.move_agent(rig.agent, "Lunch", "agent"));
    let reflected = reconcile(&rig, now).await.unwrap().reflected;
    assert_eq!(reflected.as_deref(), Some(rig.k["K4"].as_str()));
    rig.ccai
        .change(|w| w.move_agent(rig.agent, "Available", "agent"));
    let run = reconcile(&rig, UnixMillis::now()).await.unwrap();
    assert_eq!(run.followed, None, "{run:?}");
    assert_eq!(
        ccai_status(&rig),
        "Available",
        "the agent's later choice stands"
    );
    let kustomer_status = rig.kustomer.inspect(|w| {
        w.find("work_session", &session)
            .and_then(|s| s.related("status"))
            .map(str::to_owned)
    });
    assert_eq!(kustomer_status.as_deref(), Some(rig.k["K1"].as_str()));
}

/// R-S-4 (review of issue 26): an agent who picks Kustomer Offline (which signs the work
/// session out) is followed there: the widget reports it, the bridge reads the signed-out
/// session's last status, and CCAI goes to its mapped status.
#[tokio::test]
async fn r_s_4_signing_out_of_kustomer_routing_is_followed() {
    let rig = own_store_rig().await;
    let now = applied_then_in_kustomer(&rig, "Offline", "Unavailable").await;
    assert_applied(
        call(
            &rig,
            rig.request("POST", "/webhooks/kustomer/status", json!({})),
            now,
        )
        .await,
    );
    assert_eq!(ccai_status(&rig), "Unavailable");
}
