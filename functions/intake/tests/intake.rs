//! The intake against DynamoDB Local: signatures first (R-E-1), each event stored once
//! (R-E-2), answered at once (R-E-3).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_intake::{IntakeApi, handle};
use bridge_shared::UnixMillis;
use bridge_shared::config::Secret;
use bridge_shared::signature::session_signature_header;
use bridge_shared::store::{DocumentStore, ItemKey};
use lambda_http::Body;
use serde_json::{Value, json};
use std::sync::Arc;

async fn api() -> (IntakeApi, Arc<dyn DocumentStore>) {
    let store: Arc<dyn DocumentStore> = Arc::new(bridge_tests::local::dynamo_store().await);
    (
        IntakeApi {
            store: store.clone(),
            secrets: vec![Secret::new("primary"), Secret::new("old")],
        },
        store,
    )
}

fn event(id: &str, event_type: &str) -> String {
    json!({"id": id, "type": event_type, "occurred_at": "2026-11-23T10:15:02.123Z", "session": {"kind": "call", "id": 987}}).to_string()
}

fn signed(body: &str, secret: &str, timestamp: i64) -> lambda_http::Request {
    http::Request::builder()
        .method("POST")
        .uri("/webhooks/ccai")
        .header(
            "x-signature",
            session_signature_header(timestamp, body.as_bytes(), secret, None),
        )
        .header("x-signature-timestamp", timestamp.to_string())
        .body(Body::Text(body.to_owned()))
        .unwrap()
}

async fn send(api: &IntakeApi, request: lambda_http::Request) -> (u16, Value) {
    let response = handle(api, request, UnixMillis::now()).await;
    let status = response.status().as_u16();
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        _ => Value::Null,
    };
    (status, body)
}

fn now_s() -> i64 {
    UnixMillis::now().0 / 1000
}

#[tokio::test]
async fn r_e_2_an_event_is_stored_once_and_its_duplicates_change_nothing() {
    let (api, store) = api().await;
    let id = bridge_tests::unique("evt");
    let body = event(&id, "call.ended");
    assert_eq!(
        send(&api, signed(&body, "primary", now_s())).await,
        (202, json!({"id": id, "stored": true}))
    );
    let stored = store
        .get(&ItemKey::inbox(&id), UnixMillis::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.body["type"], "call.ended");
    assert_eq!(stored.body["session"], json!({"kind": "call", "id": 987}));
    // Signed with the rotated secret, delivered again: a duplicate.
    assert_eq!(send(&api, signed(&body, "old", now_s())).await.0, 200);
}

#[tokio::test]
async fn r_e_1_a_bad_or_missing_signature_is_refused_before_anything_is_stored() {
    let (api, store) = api().await;
    let id = bridge_tests::unique("evt");
    let body = event(&id, "call.ended");
    assert_eq!(send(&api, signed(&body, "stolen", now_s())).await.0, 401);
    assert_eq!(
        send(&api, signed(&body, "primary", now_s() - 301)).await.0,
        401,
        "replayed"
    );
    let unsigned = http::Request::builder()
        .method("POST")
        .uri("/webhooks/ccai")
        .body(Body::Text(body.clone()))
        .unwrap();
    assert_eq!(send(&api, unsigned).await.0, 401);
    assert!(
        store
            .get(&ItemKey::inbox(&id), UnixMillis::now())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn malformed_unknown_and_oversized_events_get_clear_answers() {
    let (api, store) = api().await;
    let id = bridge_tests::unique("evt");
    let (status, body) = send(
        &api,
        signed(&event(&id, "call.teleported"), "primary", now_s()),
    )
    .await;
    assert_eq!((status, body["ignored"].as_bool()), (202, Some(true)));
    assert!(
        store
            .get(&ItemKey::inbox(&id), UnixMillis::now())
            .await
            .unwrap()
            .is_none(),
        "unknown types are not stored"
    );

    let missing_session =
        json!({"id": "e", "type": "call.ended", "occurred_at": "2026-11-23T10:15:02Z"}).to_string();
    let (status, body) = send(&api, signed(&missing_session, "primary", now_s())).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("session")));

    let huge = format!(r#"{{"id":"e","pad":"{}"}}"#, "x".repeat(300 * 1024));
    assert_eq!(send(&api, signed(&huge, "primary", now_s())).await.0, 413);
}
