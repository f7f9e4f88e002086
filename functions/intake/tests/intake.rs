//! The intake against DynamoDB Local: HTTP Basic first (R-E-1), batches of External Session
//! Events, each event stored once (R-E-2), malformed ones kept apart, answered after the
//! durable writes (R-E-3).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_intake::{IntakeApi, handle};
use bridge_shared::UnixMillis;
use bridge_shared::config::{BasicCredential, Secret};
use bridge_shared::events::SessionTrigger;
use bridge_shared::signature::basic_header;
use bridge_shared::store::{DocumentStore, ItemKey};
use lambda_http::Body;
use serde_json::{Value, json};
use std::sync::Arc;

fn credential(user: &str, password: &str) -> BasicCredential {
    BasicCredential {
        user: user.into(),
        password: Secret::new(password),
    }
}

async fn api_with(credentials: Vec<BasicCredential>) -> (IntakeApi, Arc<dyn DocumentStore>) {
    let store: Arc<dyn DocumentStore> = Arc::new(bridge_tests::local::dynamo_store().await);
    (
        IntakeApi {
            store: store.clone(),
            credentials,
            storage_push: None,
        },
        store,
    )
}

async fn api() -> (IntakeApi, Arc<dyn DocumentStore>) {
    api_with(vec![
        credential("calls", "call-pass"),
        credential("chats", "chat-pass"),
    ])
    .await
}

fn event(id: &str, item: Value) -> Value {
    json!({"event_id": id, "timestamp": 1_764_669_600_123_i64, "item": item})
}

fn call_event(id: &str) -> Value {
    event(
        id,
        json!({"call_id": 1917, "state": "connected",
        "participants": [{"type": "external", "state": "connected", "dn": "+15551234567"}]}),
    )
}

fn batch(events: &[Value]) -> String {
    json!({"count": events.len(), "events": events}).to_string()
}

fn post(body: &str, authorization: Option<&str>) -> lambda_http::Request {
    let mut request = http::Request::builder()
        .method("POST")
        .uri("/webhooks/ccai");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.body(Body::Text(body.to_owned())).unwrap()
}

fn as_calls(body: &str) -> lambda_http::Request {
    post(body, Some(&basic_header("calls", "call-pass")))
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

async fn stored(store: &dyn DocumentStore, id: &str) -> Option<SessionTrigger> {
    let item = store
        .get(&ItemKey::inbox(id), UnixMillis::now())
        .await
        .unwrap()?;
    Some(serde_json::from_value(item.body).unwrap())
}

#[tokio::test]
async fn r_e_2_an_event_is_stored_once_and_its_duplicates_change_nothing() {
    let (api, store) = api().await;
    let id = bridge_tests::unique("evt");
    let body = batch(&[call_event(&id)]);
    assert_eq!(
        send(&api, as_calls(&body)).await,
        (200, json!({"stored": 1, "duplicates": 0, "rejected": []}))
    );
    assert_eq!(
        send(&api, as_calls(&body)).await,
        (200, json!({"stored": 0, "duplicates": 1, "rejected": []}))
    );
    let trigger = stored(store.as_ref(), &id).await.unwrap();
    assert_eq!(trigger.session.id, 1917);
    assert_eq!(trigger.hint, "call.created");
    assert_eq!(
        trigger.item.unwrap()["participants"][0]["dn"],
        "+15551234567"
    );
}

#[tokio::test]
async fn r_e_1_basic_credentials_are_refused_accepted_and_rotated() {
    let (api, store) = api().await;
    let id = bridge_tests::unique("evt");
    let body = batch(&[call_event(&id)]);
    for authorization in [
        None,
        Some("Bearer call-pass".to_owned()),
        Some(basic_header("calls", "chat-pass")),
        Some(basic_header("calls", "wrong")),
        Some(basic_header("intruder", "call-pass")),
    ] {
        let response = handle(
            &api,
            post(&body, authorization.as_deref()),
            UnixMillis::now(),
        )
        .await;
        assert_eq!(response.status().as_u16(), 401, "{authorization:?}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Basic realm=\"ccai-events\""
        );
    }
    assert!(
        stored(store.as_ref(), &id).await.is_none(),
        "nothing stored before auth"
    );

    // The chat feed has its own credential.
    let chat_id = bridge_tests::unique("evt");
    let chat = batch(&[event(
        &chat_id,
        json!({"chat_id": "4410", "state": "connected"}),
    )]);
    let (status, _) = send(&api, post(&chat, Some(&basic_header("chats", "chat-pass")))).await;
    assert_eq!(status, 200);
    assert_eq!(
        stored(store.as_ref(), &chat_id).await.unwrap().session.id,
        4410
    );

    // Rotation: the new password is added beside the old, then the old one is removed.
    let (rotating, _) = api_with(vec![
        credential("calls", "call-pass"),
        credential("calls", "new-pass"),
    ])
    .await;
    for password in ["call-pass", "new-pass"] {
        let (status, _) = send(
            &rotating,
            post(&body, Some(&basic_header("calls", password))),
        )
        .await;
        assert_eq!(status, 200, "{password}");
    }
    let (rotated, _) = api_with(vec![credential("calls", "new-pass")]).await;
    let (status, _) = send(
        &rotated,
        post(&body, Some(&basic_header("calls", "call-pass"))),
    )
    .await;
    assert_eq!(status, 401, "the old password is gone");
}

#[tokio::test]
async fn r_e_1_a_malformed_event_is_rejected_alone_and_kept_for_the_admin() {
    let (api, store) = api().await;
    let (good, other) = (bridge_tests::unique("evt"), bridge_tests::unique("evt"));
    let body = batch(&[
        call_event(&good),
        json!({"event_id": "no-item", "timestamp": 1}),
        event(&other, json!({"chat_id": 9, "state": "connected"})),
        event("bad-id", json!({"call_id": "one"})),
    ]);
    let before = store
        .list_partition("REJECTED", UnixMillis::now())
        .await
        .unwrap()
        .len();
    let (status, answer) = send(&api, as_calls(&body)).await;
    assert_eq!(status, 200);
    assert_eq!(answer["stored"], 2);
    assert_eq!(
        answer["rejected"],
        json!([
            {"index": 1, "field": "item", "error": "item: is required"},
            {"index": 3, "field": "item.call_id", "error": "item.call_id: must be a positive integer (number or numeric string)"},
        ])
    );
    assert!(stored(store.as_ref(), &good).await.is_some());
    assert!(stored(store.as_ref(), &other).await.is_some());
    let rejected = store
        .list_partition("REJECTED", UnixMillis::now())
        .await
        .unwrap();
    assert_eq!(rejected.len(), before + 2);
    let kept: Vec<&Value> = rejected
        .iter()
        .map(|r| &r.body)
        .filter(|b| b["event"].as_str().unwrap().contains("bad-id"))
        .collect();
    assert_eq!(kept[0]["field"], "item.call_id");
}

#[tokio::test]
async fn r_e_1_a_body_that_is_no_batch_is_a_400_naming_the_field_and_over_1_mib_a_413() {
    let (api, _) = api().await;
    for (body, field) in [
        ("nope", "body"),
        ("{}", "events"),
        (r#"{"events": 3}"#, "events"),
    ] {
        let (status, answer) = send(&api, as_calls(body)).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (400, Some(field)),
            "{body}"
        );
    }
    let huge = batch(&[event(
        "big",
        json!({"call_id": 1, "pad": "x".repeat(1024 * 1024)}),
    )]);
    assert_eq!(send(&api, as_calls(&huge)).await.0, 413);
    // Credentials are checked before the size: a stranger learns nothing.
    assert_eq!(send(&api, post(&huge, None)).await.0, 401);
    let (status, _) = send(
        &api,
        http::Request::builder()
            .method("GET")
            .uri("/webhooks/ccai")
            .body(Body::Empty)
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
}

mod storage_push {
    //! `POST /webhooks/storage` (events.md §2, R-E-1, R-E-6): the bucket's Pub/Sub push, its
    //! Google-signed token verified against the (local) JWKS.

    use super::*;
    use bridge_shared::storage::push::PushVerifier;
    use bridge_tests::storage_support::StoragePusher;

    async fn api_with_push() -> (IntakeApi, Arc<dyn DocumentStore>, StoragePusher) {
        let pusher = StoragePusher::start("tenant-exports").await;
        let (mut api, store) = api().await;
        api.storage_push = Some(Arc::new(PushVerifier::new(
            pusher.settings(),
            bridge_shared::http::builder().build().unwrap(),
        )));
        (api, store, pusher)
    }

    fn push(body: &Value, token: Option<&str>) -> lambda_http::Request {
        let mut request = http::Request::builder()
            .method("POST")
            .uri("/webhooks/storage");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.body(Body::Text(body.to_string())).unwrap()
    }

    #[tokio::test]
    async fn r_e_6_a_verified_push_of_a_recording_is_stored_once_per_generation() {
        let (api, store, pusher) = api_with_push().await;
        let call_id = 700_000 + (UnixMillis::now().0 % 100_000) as u64;
        let object = format!("ccai/2026/12/02/call-{call_id}.mp3");
        let token = pusher.token(&pusher.good_claims());
        let body = pusher.envelope(&object, 1);
        // Nothing of this push is rejected (other tests share the table: only this call counts).
        let rejected = || async {
            store
                .list_partition("REJECTED", UnixMillis::now())
                .await
                .unwrap()
                .iter()
                .filter(|r| r.body.to_string().contains(&format!("call-{call_id}")))
                .count()
        };
        for _ in 0..2 {
            // At-least-once: the same push twice.
            assert_eq!(send(&api, push(&body, Some(&token))).await.0, 204);
        }
        let digest = {
            use sha2::Digest;
            hex::encode(&sha2::Sha256::digest(object.as_bytes())[..8])
        };
        let trigger = stored(store.as_ref(), &format!("file-{digest}-1"))
            .await
            .unwrap();
        // Finding 3 and 10: the worker that reads recordings opens the key the push named.
        assert_eq!(trigger.hint, "call.file.recordings");
        assert_eq!(trigger.object.as_deref(), Some(object.as_str()));
        assert_eq!(trigger.session.id, call_id);
        // A rewrite is a new generation: a new trigger.
        let rewritten = pusher.envelope(&object, 2);
        assert_eq!(send(&api, push(&rewritten, Some(&token))).await.0, 204);
        assert!(
            stored(store.as_ref(), &format!("file-{digest}-2"))
                .await
                .is_some()
        );
        assert_eq!(rejected().await, 0);
    }

    /// Review S16: when Google's keys cannot be refetched (an outage, a network fault), the
    /// keys fetched before still verify pushes; and a refused push is answered without the
    /// reason (which names keys, URLs and the token's account), which only the log keeps.
    #[tokio::test]
    async fn s16_keys_fetched_before_are_kept_when_a_refetch_fails_and_refusals_say_little() {
        let pusher = StoragePusher::start("tenant-exports").await;
        let (mut api, _store) = api().await;
        api.storage_push = Some(Arc::new(
            PushVerifier::new(
                pusher.settings(),
                bridge_shared::http::builder().build().unwrap(),
            )
            .with_timings(std::time::Duration::ZERO, std::time::Duration::ZERO),
        ));
        let call_id = 800_000 + (UnixMillis::now().0 % 100_000) as u64;
        let token = pusher.token(&pusher.good_claims());
        let body = pusher.envelope(&format!("call-{call_id}.mp3"), 1);
        assert_eq!(send(&api, push(&body, Some(&token))).await.0, 204);
        pusher.stop_keys();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let body = pusher.envelope(&format!("call-{call_id}.mp3"), 2);
        assert_eq!(
            send(&api, push(&body, Some(&token))).await.0,
            204,
            "the keys fetched before still verify"
        );
        let (status, answer) = send(&api, push(&body, Some("not.a.token"))).await;
        assert_eq!((status, answer), (401, json!({"error": "token refused"})));
    }

    #[tokio::test]
    async fn r_e_1_a_bad_signature_audience_account_or_expired_token_is_refused() {
        let (api, store, pusher) = api_with_push().await;
        let object = "call-424242.mp3";
        let body = pusher.envelope(object, 9);
        let good = pusher.good_claims();
        // One character of the signature changed (in the middle: the last one may only carry
        // padding bits).
        let token = pusher.token(&good);
        let at = token.rfind('.').unwrap() + 20;
        let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
        let tampered = format!("{}{swapped}{}", &token[..at], &token[at + 1..]);
        let cases = [
            ("no token", None),
            ("tampered signature", Some(tampered)),
            (
                "wrong audience",
                Some(pusher.token(&bridge_tests::storage_support::TokenClaims {
                    audience: "https://elsewhere.example.com".into(),
                    ..good.clone()
                })),
            ),
            (
                "wrong service account",
                Some(pusher.token(&bridge_tests::storage_support::TokenClaims {
                    email: "intruder@other.iam.gserviceaccount.com".into(),
                    ..good.clone()
                })),
            ),
            (
                "unverified e-mail",
                Some(pusher.token(&bridge_tests::storage_support::TokenClaims {
                    email_verified: false,
                    ..good.clone()
                })),
            ),
            (
                "another issuer",
                Some(pusher.token(&bridge_tests::storage_support::TokenClaims {
                    issuer: "https://evil.example.com".into(),
                    ..good.clone()
                })),
            ),
            (
                "expired",
                Some(pusher.token(&bridge_tests::storage_support::TokenClaims {
                    expires_in: -600,
                    ..good.clone()
                })),
            ),
        ];
        for (why, token) in cases {
            assert_eq!(
                send(&api, push(&body, token.as_deref())).await.0,
                401,
                "{why}"
            );
        }
        let digest = {
            use sha2::Digest;
            hex::encode(&sha2::Sha256::digest(object.as_bytes())[..8])
        };
        assert!(
            stored(store.as_ref(), &format!("file-{digest}-9"))
                .await
                .is_none(),
            "nothing stored"
        );
    }

    #[tokio::test]
    async fn r_e_6_a_metadata_push_reaches_the_session_waiting_for_it_and_a_rewrite_reaches_it_later()
     {
        let (api, store, pusher) = api_with_push().await;
        let token = pusher.token(&pusher.good_claims());
        let id = 800_000 + (UnixMillis::now().0 % 100_000) as u64;
        let object = format!("metadata-{id}.json");
        let digest = {
            use sha2::Digest;
            hex::encode(&sha2::Sha256::digest(object.as_bytes())[..8])
        };
        // Nobody waits for it (yet): acknowledged, nothing stored; the scheduled look covers it.
        assert_eq!(
            send(&api, push(&pusher.envelope(&object, 1), Some(&token)))
                .await
                .0,
            204
        );
        assert!(
            stored(store.as_ref(), &format!("file-{digest}-1"))
                .await
                .is_none()
        );
        // The chat with that id waits for its metadata: the push becomes the chat's trigger.
        let chat = bridge_shared::events::SessionRef {
            kind: bridge_shared::events::SessionKind::Chat,
            id,
        };
        let state: Arc<dyn bridge_shared::store::StateStore> =
            Arc::new(bridge_tests::local::dynamo_store().await);
        bridge_shared::storage::awaited::await_file(
            state.as_ref(),
            &chat,
            bridge_shared::storage::awaited::AwaitedFile::Metadata,
            UnixMillis::now(),
        )
        .await
        .unwrap();
        assert_eq!(
            send(&api, push(&pusher.envelope(&object, 2), Some(&token)))
                .await
                .0,
            204
        );
        let trigger = stored(store.as_ref(), &format!("file-{digest}-2"))
            .await
            .unwrap();
        assert_eq!(
            (trigger.session, trigger.hint.as_str()),
            (chat.clone(), "chat.file.metadata")
        );
        bridge_shared::storage::awaited::file_found(
            state.as_ref(),
            &chat,
            bridge_shared::storage::awaited::AwaitedFile::Metadata,
        )
        .await
        .unwrap();
        // Read and placed in Kustomer; nobody waits any more. The file is rewritten (a new
        // generation): the rewrite still reaches the chat.
        state
            .put_if_absent(
                &bridge_shared::store::Item::new(
                    bridge_shared::store::ItemKey::session_link(chat.kind, chat.id),
                    json!({"conversation_id": "5f00000000000000000000aa"}),
                ),
                UnixMillis::now(),
            )
            .await
            .unwrap();
        assert_eq!(
            send(&api, push(&pusher.envelope(&object, 3), Some(&token)))
                .await
                .0,
            204
        );
        let rewrite = stored(store.as_ref(), &format!("file-{digest}-3"))
            .await
            .unwrap();
        assert_eq!(rewrite.session, chat);
    }

    #[tokio::test]
    async fn r_e_6_files_the_bridge_does_not_use_and_other_events_are_acknowledged_and_ignored() {
        let (api, _store, pusher) = api_with_push().await;
        let token = pusher.token(&pusher.good_claims());
        for object in ["email-55.pdf", "notes/readme.txt", "call-1-sticker-2.png"] {
            assert_eq!(
                send(&api, push(&pusher.envelope(object, 1), Some(&token)))
                    .await
                    .0,
                204
            );
        }
        let mut deleted = pusher.envelope("call-5.mp3", 1);
        deleted["message"]["attributes"]["eventType"] = json!("OBJECT_DELETE");
        assert_eq!(send(&api, push(&deleted, Some(&token))).await.0, 204);
        // Review L8: a malformed push is acknowledged (never redelivered for a week) and kept
        // for the admin, naming the field.
        let (status, answer) = send(&api, push(&json!({"message": {}}), Some(&token))).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (200, Some("message.attributes"))
        );
        let kept = _store
            .list_partition("REJECTED", UnixMillis::now())
            .await
            .unwrap();
        assert!(
            kept.iter().any(|r| r.body["field"] == "message.attributes"),
            "{kept:?}"
        );
        // Without STORAGE_PUSH_AUDIENCE the route is off.
        let (off, _) = super::api().await;
        assert_eq!(send(&off, push(&deleted, Some(&token))).await.0, 404);
    }
}

/// Review S8: an event stamped far after the bridge's clock is refused alone, naming its
/// `timestamp` (it would pin its item as the session's latest for days); its batch's others
/// are stored, and one a few minutes ahead (clocks differ) is taken.
#[tokio::test]
async fn s8_an_event_from_far_in_the_future_is_refused_alone() {
    let (api, store) = api().await;
    let now = UnixMillis::now();
    let (ahead, far, ok) = (
        bridge_tests::unique("evt-ahead"),
        bridge_tests::unique("evt-far"),
        bridge_tests::unique("evt-ok"),
    );
    let stamped = |id: &str, at: UnixMillis| {
        let mut event = call_event(id);
        event["timestamp"] = json!(at.0);
        event
    };
    let body = batch(&[
        stamped(&ok, now),
        stamped(&ahead, now.plus(std::time::Duration::from_secs(300))),
        stamped(
            &far,
            now.plus(std::time::Duration::from_secs(14 * 24 * 3600)),
        ),
    ]);
    let (status, answer) = send(&api, as_calls(&body)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["stored"], 2, "{answer}");
    assert_eq!(answer["rejected"][0]["index"], 2);
    assert_eq!(answer["rejected"][0]["field"], "timestamp");
    assert!(stored(store.as_ref(), &far).await.is_none());
    assert!(stored(store.as_ref(), &ahead).await.is_some());
}

/// Review S7: a body of many junk entries costs a bounded number of writes — the first
/// `MAX_REJECTED_KEPT` are kept for the admin and listed, the rest only counted — while the
/// well-formed events among them are all stored.
#[tokio::test]
async fn s7_a_flood_of_junk_events_is_counted_not_written() {
    let (api, store) = api().await;
    let good = bridge_tests::unique("evt-good");
    let mut events = vec![json!(1); 5_000];
    events.push(call_event(&good));
    let body = batch(&events);
    let (status, answer) = send(&api, as_calls(&body)).await;
    assert_eq!(status, 200);
    assert_eq!(answer["stored"], 1);
    let listed = answer["rejected"].as_array().unwrap().len();
    assert_eq!(listed, bridge_intake::MAX_REJECTED_KEPT);
    assert_eq!(answer["rejected_more"], 5_000 - listed);
    assert!(stored(store.as_ref(), &good).await.is_some());
    let _ = store;
}
