//! One target per parser of outside input. Each takes the raw bytes as they arrive.

use super::{intake, now, runtime};
use bridge_shared::ccai::model::{Agent, AgentStatusResult, Call, Chat, UserStatus};
use bridge_shared::conversation::{SessionView, contact::session_message, render_transcript_file};
use bridge_shared::kustomer::model::{
    Conversation, Customer, Document, Message, Note, RoutingStatus, UploadTarget, User,
};
use serde::de::DeserializeOwned;

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
