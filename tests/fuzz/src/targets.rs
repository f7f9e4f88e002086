//! One target per parser of outside input. Each takes the raw bytes as they arrive.

use super::{intake, now, runtime};
use bridge_shared::ccai::model::{Agent, AgentStatusResult, Call, Chat, UserStatus};
use bridge_shared::conversation::{SessionView, contact::session_message, render_transcript_file};
use bridge_shared::kustomer::model::{
    Conversation, Customer, Document, Message, Note, RoutingStatus, UploadTarget, User,
};
use serde::de::DeserializeOwned;
use std::sync::Arc;

fn text(data: &[u8]) -> &str {
    std::str::from_utf8(data).unwrap_or_default()
}

/// A refusal must say what was wrong.
fn clear(what: &str, message: &str) {
    assert!(
        !message.trim().is_empty(),
        "{what}: a refusal without a message"
    );
}

/// `POST /webhooks/ccai`'s body (R-E-1): the batch, then each event on its own and the trigger
/// it makes. A refused event names its field.
pub fn ese_batch(data: &[u8]) {
    match bridge_shared::ese::parse_batch(data) {
        Ok(events) => {
            for event in events {
                match event {
                    Ok(event) => {
                        let trigger = event.trigger();
                        assert_eq!(trigger.session, event.session);
                    }
                    Err(err) => {
                        clear("ESE event", &err.reason);
                        clear("ESE event's field", &err.field);
                    }
                }
            }
        }
        Err(err) => {
            clear("ESE batch", &err.reason);
            clear("ESE batch's field", &err.field);
        }
    }
}

/// The whole intake route as deployed (authorised, on the in-process store): whatever the body,
/// an answer with a status and a JSON body, never a 5xx for bad input.
pub fn ese_webhook(data: &[u8]) {
    let request = lambda_http::http::Request::builder()
        .method("POST")
        .uri("/webhooks/ccai")
        .header("content-type", "application/json")
        .header(
            "authorization",
            bridge_shared::signature::basic_header("calls", "call-pass"),
        )
        .body(lambda_http::Body::from(data.to_vec()));
    let Ok(request) = request else { return };
    let answer = runtime().block_on(bridge_intake::handle(intake(), request, now()));
    let status = answer.status().as_u16();
    assert!(
        (200..500).contains(&status),
        "bad input answered {status}, not a client error"
    );
    let body: &[u8] = answer.body().as_ref();
    assert!(
        serde_json::from_slice::<serde_json::Value>(body).is_ok(),
        "the answer is JSON"
    );
}

/// `POST /webhooks/storage`'s Pub/Sub envelope (R-E-6).
pub fn storage_push(data: &[u8]) {
    match bridge_shared::storage::push::parse_push(data) {
        Ok(pushed) => {
            assert!(!pushed.object.is_empty() && !pushed.bucket.is_empty());
            let _ = bridge_shared::storage::files::classify(&pushed.object);
        }
        Err(err) => {
            clear("push", &err.reason);
            clear("push's field", &err.field);
        }
    }
}

/// The push's `Authorization: Bearer <JWT>` (R-SEC): a token that is not Google's never gets
/// past its header; the keys' address is a closed port, so nothing is fetched.
pub fn push_token(data: &[u8]) {
    use bridge_shared::storage::push::{PushSettings, PushVerifier};
    use std::sync::OnceLock;
    static VERIFIER: OnceLock<Option<PushVerifier>> = OnceLock::new();
    let verifier = VERIFIER.get_or_init(|| {
        let http = bridge_shared::http::build_client(Default::default()).ok()?;
        Some(PushVerifier::new(
            PushSettings {
                audience: "https://bridge.example/webhooks/storage".into(),
                service_account: "push@tenant.iam.gserviceaccount.com".into(),
                jwks_url: "http://127.0.0.1:9/certs".into(),
                bucket: None,
                prefix: String::new(),
            },
            http,
        ))
    });
    let Some(verifier) = verifier else { return };
    let header = format!("Bearer {}", text(data));
    let verdict = runtime().block_on(verifier.verify(Some(&header)));
    match verdict {
        Ok(()) => panic!("a token no key signed was accepted"),
        Err(err) => clear("push token", &err.to_string()),
    }
}

/// Object names in external storage and the files bucket (R-E-6, R-R-2), and
/// `EXTERNAL_STORAGE_FILES`.
pub fn object_name(data: &[u8]) {
    let name = text(data);
    if let Some(file) = bridge_shared::storage::files::classify(name) {
        let _ = bridge_shared::storage::exported::DataType::of(&file.kind);
    }
    if let Err(err) = bridge_shared::blob::BlobKey::parse(name) {
        clear("files bucket key", &err.to_string());
    }
    if let Err(err) = bridge_shared::storage::ExportedTypes::parse(name) {
        clear("EXTERNAL_STORAGE_FILES", &err.to_string());
    }
    let _ = bridge_shared::custom_fields::FieldId::parse(name);
}

/// `chat-{id}.txt` (R-X-1): always a text for the note, whatever its entries.
pub fn transcript_file(data: &[u8]) {
    let rendered = render_transcript_file(6001, data);
    assert!(
        !rendered.text.is_empty(),
        "a transcript renders to something"
    );
}

/// `metadata-{id}.json` (R-U-7, R-U-8, finding 2).
pub fn metadata_file(data: &[u8]) {
    let _ = bridge_shared::storage::metadata::parse_metadata(data);
}

fn decodes<T: DeserializeOwned>(data: &[u8]) -> Option<T> {
    serde_json::from_slice(data).ok()
}

/// Manager API answers (ccai-api.md §2), then what the bridge makes of a session: its view and
/// its session message.
pub fn ccai_answer(data: &[u8]) {
    if let Some(call) = decodes::<Call>(data) {
        let view = SessionView::from(&call);
        let _ = (view.external_id(), view.started(), view.started_millis());
        let _ = session_message(&view, None);
    }
    if let Some(chat) = decodes::<Chat>(data) {
        let view = SessionView::from(&chat);
        let _ = session_message(&view, None);
    }
    if let Some(item) = decodes::<serde_json::Map<String, serde_json::Value>>(data)
        && let Some(call) = decodes::<Call>(b"{\"id\": 1}")
    {
        // The same object as an ESE item kept for a session (R-E-5).
        let view = SessionView::from(&call).with_ese(Some(&item));
        let _ = session_message(&view, Some("+15551234567"));
    }
    let _ = decodes::<Agent>(data);
    let _ = decodes::<Vec<UserStatus>>(data);
    let _ = decodes::<Vec<AgentStatusResult>>(data);
}

/// Kustomer answers (kustomer-api.md): every document type the client reads.
pub fn kustomer_answer(data: &[u8]) {
    let _ = decodes::<Document<Customer>>(data);
    let _ = decodes::<Document<Vec<Conversation>>>(data);
    let _ = decodes::<Document<Message>>(data);
    let _ = decodes::<Document<Vec<Note>>>(data);
    let _ = decodes::<Document<Vec<User>>>(data);
    let _ = decodes::<Document<Vec<RoutingStatus>>>(data);
    let _ = decodes::<UploadTarget>(data);
}

/// Admin bodies: the status mapping (`PUT /admin/status-mapping`), checked against statuses
/// that exist.
pub fn admin_body(data: &[u8]) {
    if let Some(mapping) = decodes::<bridge_shared::status::StatusMapping>(data) {
        let ccai: Vec<UserStatus> =
            decodes(br##"[{"id": -2, "name": "Break", "color": "#888"}]"##).unwrap_or_default();
        if let Err(message) = mapping.resolve(&["5f00000000000000000000b2".into()], &ccai) {
            clear("status mapping", &message);
        }
    }
}

/// `Authorization: Basic …` (ESE senders) and Kustomer's webhook signature.
pub fn auth_header(data: &[u8]) {
    use bridge_shared::config::{BasicCredential, Secret};
    let header = text(data);
    let credentials = [BasicCredential {
        user: "calls".into(),
        password: Secret::new("call-pass"),
    }];
    if let Ok(user) = bridge_shared::signature::check_basic(Some(header), &credentials) {
        assert_eq!(user, "calls");
    }
    let _ = bridge_shared::signature::verify_kustomer_webhook(
        Some(header),
        data,
        &Secret::new("webhook-token"),
    );
}

/// Clients of both platforms pointed at a closed port: a body that passes every check reaches
/// a platform call that fails at once (no I/O leaves the machine).
fn closed_platforms() -> (
    Arc<bridge_shared::ccai::CcaiClient>,
    Arc<bridge_shared::kustomer::KustomerClient>,
) {
    use bridge_shared::http::{HttpSettings, RetryPolicy, build_client};
    let http = match build_client(HttpSettings {
        connect_timeout: std::time::Duration::from_millis(200),
        request_timeout: std::time::Duration::from_millis(500),
    }) {
        Ok(http) => http,
        Err(err) => panic!("no HTTP client: {err}"),
    };
    let ccai = bridge_shared::ccai::CcaiClient::with_credentials(
        "http://127.0.0.1:9",
        "tenant",
        bridge_shared::config::Secret::new("token"),
        http.clone(),
        RetryPolicy::immediate(1),
    );
    let kustomer = bridge_shared::kustomer::KustomerClient::new(
        &bridge_shared::config::KustomerSettings {
            base_url: "http://127.0.0.1:9".into(),
            api_key: bridge_shared::config::Secret::new("key"),
        },
        http,
        RetryPolicy::immediate(1),
    );
    (Arc::new(ccai), Arc::new(kustomer))
}

/// A route's request from the input: its first byte picks the route, the rest is the body.
fn routed_request(
    routes: &[(&str, &str)],
    token: &str,
    data: &[u8],
) -> Option<lambda_http::Request> {
    let (pick, body) = data.split_first()?;
    let (method, path) = routes[usize::from(*pick) % routes.len()];
    lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(lambda_http::Body::from(body.to_vec()))
        .ok()
}

/// An answer to hostile input: JSON with a message when refused, never a server error for a
/// body the function could read as wrong (a 5xx is allowed only where a platform was called).
fn answered_clearly(answer: &lambda_http::Response<lambda_http::Body>) {
    let status = answer.status().as_u16();
    let body: &[u8] = answer.body().as_ref();
    if status == 204 && body.is_empty() {
        return;
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        panic!("answer {status} is not JSON");
    };
    if (400..500).contains(&status) {
        let message = json["error"].as_str().or(json["message"].as_str());
        assert!(
            message.is_some_and(|m| !m.trim().is_empty()),
            "refusal {status} without a message: {json}"
        );
    }
}

/// The status function's routes (the agent widget's bodies, R-SEC-3): instances, status
/// reports, click-to-call, as a signed-in agent (a live agent session).
pub fn widget_body(data: &[u8]) {
    static API: std::sync::OnceLock<(bridge_status::StatusApi, String)> =
        std::sync::OnceLock::new();
    let (api, token) = API.get_or_init(|| {
        let store: Arc<dyn bridge_shared::store::StateStore> =
            Arc::new(bridge_shared::store::EmbeddedStore::new());
        let token = match runtime().block_on(
            bridge_shared::sign_in::AgentSessions::new(store.as_ref()).open(
                "user-1",
                "ana@example.com",
                now(),
            ),
        ) {
            Ok((token, _)) => token,
            Err(err) => panic!("the embedded store opened no session: {err}"),
        };
        let (ccai, kustomer) = closed_platforms();
        let api = bridge_status::StatusApi {
            service: bridge_shared::status::sync::StatusService::new(
                store.clone(),
                ccai.clone(),
                kustomer.clone(),
                bridge_shared::status::sync::DEFAULT_LEASE,
            ),
            store: store.clone(),
            oauth: None,
            public_url: None,
            click: bridge_shared::click_to_call::ClickToCall {
                store,
                kustomer,
                ccai,
                country: Default::default(),
                policy: bridge_shared::click_to_call::policy::CallPolicy::domestic(
                    &Default::default(),
                ),
            },
            widget: Default::default(),
        };
        (api, token)
    });
    const ROUTES: [(&str, &str); 5] = [
        ("POST", "/agents/instances"),
        ("PUT", "/agents/instances/i-1"),
        ("DELETE", "/agents/instances/i-1"),
        ("POST", "/webhooks/kustomer/status"),
        ("POST", "/click-to-call"),
    ];
    let Some(request) = routed_request(&ROUTES, token, data) else {
        return;
    };
    let answer = runtime().block_on(bridge_status::handle(api, request, now()));
    answered_clearly(&answer);
}

/// The admin function's bodies: the status mapping, custom fields, SDK keys, dead-letter
/// replay (R-SEC-3), with the admin's bearer token.
pub fn admin_route(data: &[u8]) {
    static API: std::sync::OnceLock<bridge_admin::AdminApi> = std::sync::OnceLock::new();
    let api = API.get_or_init(|| {
        let store: Arc<dyn bridge_shared::store::StateStore> =
            Arc::new(bridge_shared::store::EmbeddedStore::new());
        let (ccai, kustomer) = closed_platforms();
        bridge_admin::AdminApi {
            status: bridge_shared::status::sync::StatusService::new(
                store.clone(),
                ccai.clone(),
                kustomer.clone(),
                bridge_shared::status::sync::DEFAULT_LEASE,
            ),
            store,
            ccai,
            kustomer,
            admin_tokens: bridge_shared::bearer::RotatingTokens::fixed(
                bridge_shared::bearer::BearerTokens::of("admin-token"),
            ),
            admins: bridge_admin::access::AdminEmails::parse(Some("admin@example.com"))
                .unwrap_or_default(),
            public_url: None,
            changes_kept: bridge_shared::audit::DEFAULT_KEPT,
            pacing_schedules: Vec::new(),
            kustomer_ui: None,
        }
    });
    const ROUTES: [(&str, &str); 6] = [
        ("PUT", "/admin/status-mapping"),
        ("POST", "/admin/custom-fields"),
        ("PUT", "/admin/sdk-keys"),
        ("POST", "/admin/dead-letters/replay"),
        ("POST", "/admin/sessions/call/12/resync"),
        ("DELETE", "/admin/custom-fields/x"),
    ];
    let Some(request) = routed_request(&ROUTES, "admin-token", data) else {
        return;
    };
    let answer = runtime().block_on(bridge_admin::handle(api, request, now()));
    answered_clearly(&answer);
}
