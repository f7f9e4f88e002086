//! The agent widget in a real browser (R-A-1…4, R-C2C): headless Chromium (Debian's
//! `chromium`, driven over WebDriver by `chromedriver`) opens a stand-in Kustomer window that
//! frames the widget page the bridge serves, with a stand-in of Kustomer's Cards SDK
//! (`tests/widget/kustomer-card-standin.js`, written from Kustomer's documentation). The
//! harness plays Kustomer's side: the agent's own API access (a session token of the Kustomer
//! sandbox). The agent signs in to the bridge through the Kustomer sandbox's OAuth pages
//! (R-SEC-1): the sign-in window, the consent page clicked, the session handed back to the
//! widget; the widget's calls to the bridge carry it, and each is recorded as the status
//! function answered it.
//!
//! Two tabs of one agent: one drives, the other waits and takes over when the first closes its
//! widget; a Kustomer status change reaches the CCAI sandbox; a change made during a call is
//! pending and then applied when the call ends, and the widget says so; click-to-call from the
//! customer in context starts a call in CCAI whose session lands in the clicked conversation.
//! A screenshot of each state is saved under `target/widget-screenshots/`.
//!
//! Skipped (with a message) when `chromium` or `chromedriver` is missing: `infra/local/install`
//! installs both, and `scripts/test` runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod browser;
use browser::browser;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use bridge_local::functions::{Platforms, Tokens, handlers};
use bridge_local::host::{Handler, LocalHost};
use bridge_local::routes::{TEMPLATE, template_routes};
use bridge_shared::UnixMillis;
use bridge_shared::conversation::{ContactSync, SessionView};
use bridge_shared::kustomer::requests::NewConversation;
use bridge_shared::store::{EmbeddedStore, StateStore};
use bridge_tests::platforms::SandboxedPlatforms;
use fantoccini::{Client, Locator};
use lambda_http::Body;
use serde_json::{Value, json};
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LEASE: Duration = Duration::from_secs(6);
const WAIT: Duration = Duration::from_secs(25);

/// What Kustomer holds for the app: its definition and the org's settings.
struct KustomerSide {
    bridge_url: String,
    kustomer_url: String,
    agent_token: String,
    http: reqwest::Client,
    /// Reads of the agent's work sessions (the widget's polls).
    polls: std::sync::atomic::AtomicUsize,
}

/// The widget's calls to the bridge: (what — `claim`, `renew`, `release`, `status`, `call` —,
/// the tab's instance id, the bridge's status, when).
type Calls = Arc<Mutex<Vec<(String, Value, u16, Instant)>>>;

/// How long the bridge asks a refused renewal to wait (`Retry-After`, seconds).
const RETRY_AFTER_S: u64 = 3;

/// How late the refused renewal is answered.
const REFUSAL_LATENCY: Duration = Duration::from_millis(700);

/// The status function, with every agent route's call recorded as it was answered; while
/// `refuse_renewals` is above zero, that many lease renewals are refused as the web ACL refuses
/// an address over its limit (429 with `Retry-After`), without reaching the function.
fn recording(handler: Handler, calls: Calls, refuse_renewals: Arc<AtomicUsize>) -> Handler {
    Arc::new(move |request: lambda_http::Request| {
        let handler = handler.clone();
        let calls = calls.clone();
        let refuse_renewals = refuse_renewals.clone();
        let method = request.method().as_str().to_owned();
        let path = bridge_shared::lambda::route_path(&request).to_owned();
        let body: Value =
            serde_json::from_slice(bridge_shared::lambda::body_bytes(&request)).unwrap_or_default();
        Box::pin(async move {
            let refused = method == "PUT"
                && path.starts_with("/agents/instances/")
                && refuse_renewals
                    .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                    .is_ok();
            let response = if refused {
                // Answered late, as a busy network answers: Retry-After counts from the
                // answer, so a widget that counts it from the request renews too soon.
                tokio::time::sleep(REFUSAL_LATENCY).await;
                lambda_http::Response::builder()
                    .status(429)
                    .header("retry-after", RETRY_AFTER_S.to_string())
                    .body(Body::Text(
                        r#"{"error":"too many requests from this address"}"#.into(),
                    ))
                    .unwrap()
            } else {
                handler(request).await
            };
            let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            let (name, instance) = match (method.as_str(), segments.as_slice()) {
                ("POST", ["agents", "instances"]) => ("claim", body["instance_id"].clone()),
                ("PUT", ["agents", "instances", id]) => ("renew", Value::from(*id)),
                ("DELETE", ["agents", "instances", id]) => ("release", Value::from(*id)),
                ("POST", ["webhooks", "kustomer", "status"]) => {
                    ("status", body["instance_id"].clone())
                }
                ("POST", ["click-to-call"]) => ("call", Value::Null),
                _ => return response,
            };
            calls.lock().unwrap().push((
                name.to_owned(),
                instance,
                response.status().as_u16(),
                Instant::now(),
            ));
            response
        })
    })
}

type Side = Arc<KustomerSide>;

fn page(tab: &str, bridge: &str, harness: &str, context: &Value) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
    };
    let parent = format!("{harness}/kustomer/{tab}");
    let src = format!(
        "{bridge}/widget/index.html?parentUrl={}&id=frame-{tab}",
        urlencode(&parent)
    );
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Kustomer ({tab})</title></head>\
         <body style=\"margin:0\"><iframe id=\"widget\" title=\"CCAI Platform\" data-frame-id=\"frame-{tab}\" \
         data-context=\"{}\" src=\"{}\" style=\"border:0;width:420px;height:220px\"></iframe>\
         <script src=\"/parent.js\"></script></body></html>",
        escape(&context.to_string()),
        escape(&src)
    )
}

/// RFC 3986 percent-encoding, unreserved characters kept (as Kustomer fills `{{{arg}}}`).
fn urlencode(value: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(value, UNRESERVED).to_string()
}

async fn kustomer_page(
    State(side): State<Side>,
    Path(tab): Path<String>,
    headers: HeaderMap,
) -> Html<String> {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    Html(page(
        &tab,
        &side.bridge_url,
        &format!("http://{host}"),
        &json!({"type": "widget"}),
    ))
}

fn script(body: &'static str) -> Response {
    ([("content-type", "text/javascript")], body).into_response()
}

/// The Kustomer API as the signed-in agent (the Cards SDK's `request`).
async fn as_agent(
    State(side): State<Side>,
    method: Method,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if path.starts_with("v1/routing/work-sessions") {
        side.polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    let url = match query {
        Some(q) => format!("{}/{path}?{q}", side.kustomer_url),
        None => format!("{}/{path}", side.kustomer_url),
    };
    let answer = side
        .http
        .request(method, url)
        .bearer_auth(&side.agent_token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    (status, answer.bytes().await.unwrap()).into_response()
}

async fn start_kustomer_side(listener: tokio::net::TcpListener, side: Side) {
    let app = Router::new()
        .route("/kustomer/{tab}", get(kustomer_page))
        .route(
            "/parent.js",
            get(|| async { script(include_str!("widget/parent.js")) }),
        )
        .route(
            "/sdk.js",
            get(|| async { script(include_str!("widget/kustomer-card-standin.js")) }),
        )
        .route("/proxy/kustomer/{*path}", any(as_agent))
        .with_state(side);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

/// The widget's text at `css` in the current tab (inside its frame).
async fn text(client: &Client, css: &str) -> String {
    client.enter_parent_frame().await.ok();
    if client.enter_frame(0).await.is_err() {
        return String::new();
    }
    let text = match client.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    client.enter_parent_frame().await.ok();
    text
}

/// Waits until the widget's text at `css` satisfies `ok` (the page changes on its own timers).
async fn wait_for(client: &Client, css: &str, ok: impl Fn(&str) -> bool, what: &str) -> String {
    let started = Instant::now();
    loop {
        let found = text(client, css).await;
        if ok(&found) {
            return found;
        }
        assert!(
            started.elapsed() < WAIT,
            "{what}: {css} still says {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks the widget's element at `css` (inside its frame), as the agent would.
async fn click_in_widget(client: &Client, css: &str) {
    client.enter_frame(0).await.unwrap();
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client.enter_parent_frame().await.unwrap();
}

async fn screenshot(client: &Client, name: &str) {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/widget-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

#[tokio::test]
async fn r_a_1_to_r_a_4_two_tabs_status_changes_a_pending_change_and_click_to_call_in_a_browser() {
    if !browser::available() {
        return;
    }
    let sandboxes = SandboxedPlatforms::start().await.unwrap();
    let email = format!("{}@example.com", bridge_tests::unique("ana"));
    let agent = sandboxes.add_agent(&email, "Ana", "Available");
    let user = sandboxes
        .kustomer
        .inspect(|w| w.find_by("user", "email", &email).map(|u| u.id.clone()))
        .unwrap();
    sandboxes
        .kustomer
        .set_work_session(&user, "Available")
        .unwrap();
    let store: Arc<dyn StateStore> = Arc::new(EmbeddedStore::new());
    let platforms = Platforms::of(&sandboxes);

    // Kustomer's window listens first: the bridge's page names its origin and its SDK.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let harness = format!("http://{}", listener.local_addr().unwrap());
    let mut tokens = Tokens::demo(None).signing_in_with(&sandboxes.kustomer);
    tokens.lease = LEASE;
    tokens.widget = bridge_status::widget::WidgetSettings {
        frame_ancestors: vec![harness.clone()],
        sdk_url: format!("{harness}/sdk.js"),
        poll_seconds: 1,
    };
    let calls: Calls = Arc::default();
    let refuse_renewals = Arc::new(AtomicUsize::new(0));
    let bound = LocalHost::bind("127.0.0.1:0").await.unwrap();
    let mut functions = handlers(store.clone(), &platforms, &tokens, &bound.base_url);
    let status_function = functions.remove("status").unwrap();
    functions.insert(
        "status".into(),
        recording(status_function, calls.clone(), refuse_renewals.clone()),
    );
    let host = bound.serve(template_routes(TEMPLATE).unwrap(), functions);
    admin_mapping(&host.base_url, &sandboxes).await;
    let side = Arc::new(KustomerSide {
        bridge_url: host.base_url.clone(),
        kustomer_url: sandboxes.kustomer.base_url.clone(),
        agent_token: sandboxes.kustomer.agent_token(&user),
        http: bridge_shared::http::builder().build().unwrap(),
        polls: Default::default(),
    });
    start_kustomer_side(listener, side.clone()).await;
    let driver = browser("460,280").await;
    let client = &driver.client;

    // The agent is signed in to Kustomer in this browser (the sandbox's own sign-in), then
    // opens Kustomer: the widget asks them to sign in to the bridge (R-SEC-1).
    client
        .goto(
            &sandboxes
                .kustomer
                .browser_sign_in_url(&user, &format!("{harness}/kustomer/one")),
        )
        .await
        .unwrap();
    let tab_one = client.window().await.unwrap();
    wait_for(
        client,
        "#drive",
        |t| t.starts_with("Sign in with Kustomer"),
        "the widget asks to sign in",
    )
    .await;
    screenshot(client, "0-sign-in").await;
    let before: Vec<_> = client.windows().await.unwrap();
    click_in_widget(client, "#sign-in").await;
    let started = Instant::now();
    let popup = loop {
        let now: Vec<_> = client.windows().await.unwrap();
        if let Some(new) = now.into_iter().find(|w| !before.contains(w)) {
            break new;
        }
        assert!(started.elapsed() < WAIT, "no sign-in window opened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    client.switch_to_window(popup).await.unwrap();
    // Kustomer's consent page, on Kustomer's origin: the agent allows the app.
    let allow = client
        .wait()
        .for_element(Locator::Css("#allow"))
        .await
        .unwrap();
    screenshot(client, "0-sign-in-consent").await;
    allow.click().await.unwrap();
    // The callback hands the session to the widget and the window closes itself.
    let started = Instant::now();
    while client.windows().await.unwrap().len() > before.len() {
        assert!(started.elapsed() < WAIT, "the sign-in window did not close");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.switch_to_window(tab_one.clone()).await.unwrap();

    // Tab 1 drives; tab 2 (signed in already: the session is kept for the widget's origin)
    // waits, and names no other tab.
    wait_for(
        client,
        "#drive",
        |t| t.starts_with("This tab drives"),
        "tab 1 drives",
    )
    .await;
    screenshot(client, "1-this-tab-drives").await;
    let tab_two = client.new_window(true).await.unwrap().handle;
    client.switch_to_window(tab_two.clone()).await.unwrap();
    client
        .goto(&format!("{harness}/kustomer/two"))
        .await
        .unwrap();
    let waiting = wait_for(
        client,
        "#drive",
        |t| t.starts_with("Another Kustomer tab"),
        "tab 2 waits",
    )
    .await;
    assert!(waiting.contains("takes over when it closes"), "{waiting}");
    screenshot(client, "2-another-tab-drives").await;

    // R-A-2, R-S-1: the agent picks Lunch in Kustomer; CCAI follows (Break), the widget says so.
    client.switch_to_window(tab_one.clone()).await.unwrap();
    sandboxes.kustomer.set_work_session(&user, "Lunch").unwrap();
    wait_for(
        client,
        "#outcome",
        |t| t.contains("applied") && t.contains("Break"),
        "Lunch applied",
    )
    .await;
    assert_eq!(
        sandboxes.ccai.inspect(|w| w.agent_status(agent)).as_deref(),
        Some("Break")
    );
    screenshot(client, "3-status-applied").await;

    // R-S-5, R-S-6: on a call, Available waits; Kustomer's own busy status during the call is
    // not reported; when the call ends (the worker's session end) it is applied and shown.
    sandboxes
        .ccai
        .change(|w| w.move_agent(agent, "In-call", "platform"));
    sandboxes
        .kustomer
        .set_work_session(&user, "Available")
        .unwrap();
    wait_for(
        client,
        "#outcome",
        |t| t.starts_with("pending until the call ends"),
        "pending",
    )
    .await;
    screenshot(client, "4-pending-until-the-call-ends").await;
    let reported = calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.0 == "status")
        .count();
    if let Some(busy) = sandboxes.kustomer.inspect(|w| {
        w.statuses
            .iter()
            .find(|s| {
                s.attributes.get("system") == Some(&json!(true))
                    && s.text("statusType") == Some("busy")
            })
            .map(|s| s.text("name").unwrap_or_default().to_owned())
    }) {
        sandboxes.kustomer.set_work_session(&user, &busy).unwrap();
        // Two polls later (the driving tab's) nothing was reported for it.
        let polls = || side.polls.load(std::sync::atomic::Ordering::SeqCst);
        let seen = polls();
        let started = Instant::now();
        while polls() < seen + 3 {
            assert!(started.elapsed() < WAIT, "the widget stopped polling");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            calls
                .lock()
                .unwrap()
                .iter()
                .filter(|c| c.0 == "status")
                .count(),
            reported,
            "Kustomer's own busy status is not the agent's choice"
        );
    }
    sandboxes
        .ccai
        .change(|w| w.move_agent(agent, "Wrap-up", "platform"));
    sandboxes
        .ccai
        .change(|w| w.move_agent(agent, "Break", "platform"));
    let status = sandboxes.status_service(store.clone());
    status
        .session_ended(&email, None, UnixMillis::now())
        .await
        .unwrap();
    wait_for(
        client,
        "#outcome",
        |t| t.starts_with("applied") && t.contains("Available"),
        "applied at the call's end",
    )
    .await;
    assert_eq!(
        sandboxes.ccai.inspect(|w| w.agent_status(agent)).as_deref(),
        Some("Available")
    );
    screenshot(client, "5-applied-when-the-call-ended").await;

    // R-A-4, R-C2C: the agent opens a customer's conversation; the widget offers their number.
    let customer = sandboxes
        .kustomer_client
        .create_customer(&bridge_shared::kustomer::requests::NewCustomer {
            name: Some("Camille".into()),
            phones: vec![bridge_shared::kustomer::requests::NewPhone {
                kind: Some("mobile".into()),
                phone: "+16502530000".into(),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let conversation = sandboxes
        .kustomer_client
        .create_conversation(&NewConversation {
            customer: customer.id.clone(),
            name: Some("Order 1042".into()),
            status: Some("open".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let context = json!({"type": "conversation",
        "customer": {"type": "customer", "id": customer.id, "attributes": {"displayName": "Camille",
            "phones": [{"phone": "+16502530000", "type": "mobile"}]}},
        "conversation": {"type": "conversation", "id": conversation.id, "attributes": {"name": "Order 1042"}}});
    client
        .execute("window.setKustomerContext(arguments[0]);", vec![context])
        .await
        .unwrap();
    wait_for(
        client,
        "#calls",
        |t| t.contains("Call +16502530000"),
        "a call button",
    )
    .await;
    click_in_widget(client, "#calls button").await;
    wait_for(
        client,
        "#call-result",
        |t| t.starts_with("Calling +16502530000"),
        "the call starts",
    )
    .await;
    screenshot(client, "6-click-to-call").await;
    let call = sandboxes
        .ccai
        .inspect(|w| {
            w.calls
                .iter()
                .rev()
                .find(|c| c["call_type"] == "Voice Outbound (API)")
                .cloned()
        })
        .unwrap();
    assert_eq!(call["out_ticket_id"], conversation.id.as_str());
    assert_eq!(
        call["agent_info"]["id"], agent,
        "the signed-in agent's call"
    );
    // The call's session, synced as the worker does, lands in the clicked conversation.
    let country = Default::default();
    let landed = ContactSync {
        store: store.as_ref(),
        kustomer: &sandboxes.kustomer_client,
        ccai: &sandboxes.ccai_client,
        status: &status,
        country: &country,
        audit_kept: bridge_shared::audit::DEFAULT_KEPT,
    }
    .conversation_of(
        &SessionView::from(
            &sandboxes
                .ccai_client
                .call(call["id"].as_u64().unwrap())
                .await
                .unwrap(),
        ),
        UnixMillis::now(),
    )
    .await
    .unwrap();
    assert_eq!(landed.as_deref(), Some(conversation.id.as_str()));

    // The platform's refusal is shown as it came (the agent is no longer Available).
    sandboxes
        .ccai
        .change(|w| w.move_agent(agent, "Break", "platform"));
    click_in_widget(client, "#calls button").await;
    wait_for(
        client,
        "#call-result",
        |t| t.contains("Agent is not available to take this call"),
        "the refusal",
    )
    .await;
    screenshot(client, "7-click-to-call-refused").await;

    // R-A-1, R-A-3: tab 1 closes its widget (pagehide releases the lease); tab 2, which never
    // fought for it, takes over.
    client
        .execute("window.closeWidget();", vec![])
        .await
        .unwrap();
    client.switch_to_window(tab_two.clone()).await.unwrap();
    wait_for(
        client,
        "#drive",
        |t| t.starts_with("This tab drives"),
        "tab 2 takes over",
    )
    .await;
    screenshot(client, "8-the-other-tab-took-over").await;
    let commands = calls.lock().unwrap().clone();
    let release = commands
        .iter()
        .find(|c| c.0 == "release")
        .expect("the closed widget released its lease");
    assert_eq!(release.2, 204);
    let waiting_tab = commands
        .iter()
        .find(|c| c.0 == "claim" && c.2 == 409)
        .map(|c| c.1.clone())
        .unwrap();
    let waits: Vec<&Instant> = commands
        .iter()
        .filter(|c| c.0 == "claim" && c.1 == waiting_tab && c.3 < release.3)
        .map(|c| &c.3)
        .collect();
    // Never fighting: the waiting tab asks again only when the lease could have freed (each
    // 409 says when), not on every tick of its one-second timer.
    let window = release.3.duration_since(*waits[0]).as_secs_f64();
    assert!(
        (waits.len() as f64) <= window / (LEASE.as_secs_f64() / 2.0) + 2.0,
        "{} claims in {window:.1} s while another tab held a {LEASE:?} lease",
        waits.len()
    );

    // Review S6: the driving tab's next renewal is refused as the web ACL refuses an address
    // over its limit; the widget waits at least the Retry-After before renewing again (agents
    // of one office share the address: retries in step would keep it over the limit).
    refuse_renewals.store(1, SeqCst);
    let renewals = |calls: &Calls| -> Vec<(u16, Instant)> {
        let calls = calls.lock().unwrap();
        calls
            .iter()
            .filter(|c| c.0 == "renew" && c.1 == waiting_tab)
            .map(|c| (c.2, c.3))
            .collect()
    };
    let deadline = Instant::now() + WAIT;
    let (refused_at, next) = loop {
        let seen = renewals(&calls);
        if let Some(at) = seen.iter().position(|(status, _)| *status == 429)
            && let Some(next) = seen.get(at + 1)
        {
            break (seen[at].1, *next);
        }
        assert!(
            Instant::now() < deadline,
            "no renewal after a refused one: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let waited = next.1.duration_since(refused_at);
    assert!(
        waited >= Duration::from_secs(RETRY_AFTER_S),
        "renewed again {waited:?} after a 429 asking for {RETRY_AFTER_S} s"
    );
    assert_eq!(next.0, 200, "the lease was kept: {waited:?}");

    assert!(
        sandboxes.unexpected_requests().is_empty(),
        "{:?}",
        sandboxes.unexpected_requests()
    );
}

/// The admin maps Kustomer's Available and Lunch to CCAI's Available (0) and Break (−2).
async fn admin_mapping(bridge: &str, sandboxes: &SandboxedPlatforms) {
    let available = sandboxes.kustomer.status_id("Available").unwrap();
    let lunch = sandboxes.kustomer.status_id("Lunch").unwrap();
    let answer = bridge_shared::http::builder()
        .build()
        .unwrap()
        .put(format!("{bridge}/admin/status-mapping"))
        .bearer_auth(bridge_local::functions::DEMO_ADMIN_TOKEN)
        .json(&json!({"to_ccai": {available: 0, lunch: -2}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.status().as_u16(),
        200,
        "{}",
        answer.text().await.unwrap_or_default()
    );
}
