//! The Kustomer client against the stateful Kustomer sandbox, over real HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_shared::Retryable;
use bridge_shared::kustomer::model::Metadata;
use bridge_shared::kustomer::requests::*;
use bridge_shared::kustomer::{KustomerClient, KustomerError};
use bridge_tests::kustomer_sandbox::*;
use bridge_tests::kustomer_support::{client, client_with, sandbox};
use http::Method;
use serde_json::{Map, Value, json};
use std::time::Duration;

fn phone(number: &str) -> NewPhone {
    NewPhone {
        kind: Some("mobile".into()),
        phone: number.into(),
    }
}

async fn customer(client: &KustomerClient, number: &str) -> String {
    client
        .create_customer(&NewCustomer {
            name: Some("Ana Lima".into()),
            phones: vec![phone(number)],
            ..Default::default()
        })
        .await
        .unwrap()
        .id
}

fn conversation(customer: &str, external: &str) -> NewConversation {
    NewConversation {
        customer: customer.into(),
        name: Some("Inbound call".into()),
        external_id: Some(external.into()),
        direction: Some("in".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn customers_are_created_read_patched_and_found_by_phone_email_and_external_id() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    let created = client
        .create_customer(&NewCustomer {
            name: Some("Ana Lima".into()),
            external_id: Some("ccai-user-42".into()),
            emails: vec![NewEmail {
                kind: None,
                email: "ana@example.com".into(),
            }],
            phones: vec![phone("+15550104477")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.id.len(), 24);
    assert_eq!(created.attributes.phones[0].phone, "+15550104477");

    let by_phone = client
        .customer_by_phone("+15550104477")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_phone.id, created.id);
    assert_eq!(
        client
            .customer_by_email("ana@example.com")
            .await
            .unwrap()
            .unwrap()
            .id,
        created.id
    );
    assert_eq!(
        client
            .customer_by_external_id("ccai-user-42")
            .await
            .unwrap()
            .unwrap()
            .id,
        created.id
    );
    assert!(
        client
            .customer_by_phone("+15550109999")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        client
            .search_customers_by_phone("+15550104477")
            .await
            .unwrap()
            .len(),
        1
    );

    let mut custom = Map::new();
    custom.insert("ccaiAccountCustomStr".into(), json!("gold"));
    let patched = client
        .patch_customer(
            &created.id,
            &CustomerPatch {
                custom: Some(custom),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.attributes.custom["ccaiAccountCustomStr"], "gold");
    assert_eq!(
        client
            .customer(&created.id)
            .await
            .unwrap()
            .attributes
            .name
            .as_deref(),
        Some("Ana Lima")
    );
    // The + of E.164 travelled encoded (a raw + reads as a space on the server).
    assert_eq!(
        sandbox.requests_to("GET", "/v1/customers/phone=%2B15550104477"),
        1
    );
}

#[tokio::test]
async fn phone_lookups_refuse_numbers_that_are_not_e164_before_sending() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    let err = client.customer_by_phone("555-010-4477").await.unwrap_err();
    assert!(matches!(err, KustomerError::Invalid(_)), "{err:?}");
    assert_eq!(sandbox.request_count(), 0);
}

#[tokio::test]
async fn conversations_are_created_patched_with_rev_and_listed_newest_first_across_pages() {
    let sandbox = sandbox(SandboxOptions {
        max_page_size: 2,
        ..Default::default()
    })
    .await;
    let client = client(&sandbox);
    let customer = customer(&client, "+15550104477").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let created = client
            .create_conversation(&conversation(&customer, &format!("ccai-call-{n}")))
            .await
            .unwrap();
        assert!(created.is_open());
        assert_eq!(created.customer_id(), Some(customer.as_str()));
        ids.push(created.id);
    }
    let listed = client.customer_conversations(&customer).await.unwrap();
    let listed_ids: Vec<&str> = listed.iter().map(|c| c.id.as_str()).collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed_ids, newest_first);
    assert_eq!(
        sandbox.requests_to("GET", &format!("/v1/customers/{customer}/conversations")),
        3
    );

    let found = client
        .conversation_by_external_id("ccai-call-3")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, ids[3]);
    let rev = found.attributes.rev;
    let done = client
        .patch_conversation(
            &found.id,
            &ConversationPatch {
                status: Some("done".into()),
                rev,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(done.attributes.status.as_deref(), Some("done"));
    let stale = client
        .patch_conversation(
            &found.id,
            &ConversationPatch {
                status: Some("open".into()),
                rev,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(stale, KustomerError::Conflict { .. }), "{stale:?}");
    assert!(!stale.is_retryable());
}

#[tokio::test]
async fn voice_messages_carry_meta_and_notes_carry_their_body() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    let customer = customer(&client, "+15550104477").await;
    let conv = client
        .create_conversation(&conversation(&customer, "ccai-call-7"))
        .await
        .unwrap();
    let mut meta = Map::new();
    meta.insert("placedAt".into(), json!("2026-11-23T10:00:00.000Z"));
    let message = client
        .create_message(
            &conv.id,
            &NewMessage {
                channel: "voice".into(),
                app: "ccai".into(),
                direction: "in".into(),
                preview: Some("Inbound call, 2 min".into()),
                meta,
                external_id: Some("ccai-evt-1-message".into()),
                ..Default::default()
            },
            bridge_shared::kustomer::Attempt::First,
        )
        .await
        .unwrap();
    assert_eq!(
        message.attributes.meta["placedAt"],
        "2026-11-23T10:00:00.000Z"
    );
    assert_eq!(
        client
            .message_by_external_id("ccai-evt-1-message")
            .await
            .unwrap()
            .unwrap()
            .id,
        message.id
    );
    let note = client
        .create_note(
            &conv.id,
            &NewNote {
                body: "Caller: +1 555 010 4477".into(),
                ..Default::default()
            },
            bridge_shared::kustomer::Attempt::First,
        )
        .await
        .unwrap();
    assert_eq!(
        note.attributes.body.as_deref(),
        Some("Caller: +1 555 010 4477")
    );
    let channels = client
        .conversation(&conv.id)
        .await
        .unwrap()
        .attributes
        .channels;
    assert_eq!(channels, vec!["voice".to_owned()]);
}

/// R-E-2: a message or note whose answer is lost is found, not written again — the message
/// under either spelling of its lookup (kustomer-api.md, revised), the note among the
/// conversation's notes — and a repeat of a write an earlier invocation began looks first.
#[tokio::test]
async fn r_e_2_lost_message_and_note_answers_are_found_under_either_lookup_spelling() {
    use bridge_shared::kustomer::Attempt;
    for spelling in [MessageLookup::CamelCase, MessageLookup::Lowercase] {
        let sandbox = sandbox(SandboxOptions {
            message_lookup: spelling,
            ..Default::default()
        })
        .await;
        let client = client(&sandbox);
        let customer = customer(&client, "+15550104478").await;
        let conv = client
            .create_conversation(&conversation(&customer, "ccai-call-8"))
            .await
            .unwrap();
        let message = NewMessage {
            channel: "voice".into(),
            app: "ccai".into(),
            direction: "in".into(),
            external_id: Some("ccai-call-8-message".into()),
            ..Default::default()
        };
        sandbox.inject(
            FaultMatch::body(Method::POST, "/messages", "ccai-call-8-message"),
            Fault::LoseAnswer,
        );
        let created = client
            .create_message(&conv.id, &message, Attempt::First)
            .await
            .unwrap();
        let again = client
            .create_message(&conv.id, &message, Attempt::Repeat)
            .await
            .unwrap();
        assert_eq!(created.id, again.id, "{spelling:?}");
        assert_eq!(sandbox.inspect(|w| w.messages.len()), 1, "{spelling:?}");

        let note = NewNote {
            body: "Caller's phone number: +15550104478".into(),
            external_id: Some("ccai-call-8-phone".into()),
            ..Default::default()
        };
        sandbox.inject(
            FaultMatch::body(Method::POST, "/notes", "ccai-call-8-phone"),
            Fault::LoseAnswer,
        );
        let written = client
            .create_note(&conv.id, &note, Attempt::First)
            .await
            .unwrap();
        let repeated = client
            .create_note(&conv.id, &note, Attempt::Repeat)
            .await
            .unwrap();
        assert_eq!(written.id, repeated.id);
        assert_eq!(sandbox.inspect(|w| w.notes.len()), 1);
        // A first attempt is not looked up: nothing documented refuses a second note.
        client
            .create_note(&conv.id, &note, Attempt::First)
            .await
            .unwrap();
        assert_eq!(sandbox.inspect(|w| w.notes.len()), 2, "no 409 by default");
    }
}

#[tokio::test]
async fn a_429_is_waited_out_until_the_reset_and_then_succeeds() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    sandbox.inject(FaultMatch::any(), Fault::RateLimited);
    let customer = customer(&client, "+15550104477").await;
    assert!(!customer.is_empty());
    assert_eq!(sandbox.requests_to("POST", "/v1/customers"), 2);
}

#[tokio::test]
async fn the_org_budget_is_respected_by_waiting_for_the_window_to_reset() {
    let sandbox = sandbox(SandboxOptions {
        org_budget: Some(3),
        rate_window: Duration::from_millis(1500),
        retry_after_header: true,
        ..Default::default()
    })
    .await;
    let client = client(&sandbox);
    for n in 0..5 {
        client
            .customer_by_external_id(&format!("nobody-{n}"))
            .await
            .unwrap();
    }
    let refused = sandbox.inspect(|w| w.requests.iter().filter(|r| r.status == 429).count());
    assert!(refused >= 1, "the budget was never hit");
}

#[tokio::test]
async fn r_e_8_a_rate_limit_reset_sent_as_a_delta_is_waited_out_once() {
    // "2" is two seconds from now, not 1970: read as epoch seconds it would be in the past,
    // and the client would come straight back into more 429s.
    let sandbox = sandbox(SandboxOptions {
        org_budget: Some(1),
        rate_window: Duration::from_secs(2),
        rate_reset_as_delta: true,
        ..Default::default()
    })
    .await;
    let client = client(&sandbox);
    client.customer_by_external_id("first").await.unwrap();
    client.customer_by_external_id("second").await.unwrap();
    let refused = sandbox.inspect(|w| w.requests.iter().filter(|r| r.status == 429).count());
    assert_eq!(refused, 1, "waited until the reset, not hammered");
}

#[tokio::test]
async fn a_rate_limit_that_resets_too_late_is_reported_with_its_reset_time() {
    let sandbox = sandbox(SandboxOptions {
        org_budget: Some(1),
        rate_window: Duration::from_secs(60),
        ..Default::default()
    })
    .await;
    let client = client(&sandbox);
    client.customer_by_external_id("first").await.unwrap();
    let err = client.customer_by_external_id("second").await.unwrap_err();
    match &err {
        KustomerError::RateLimited {
            reset_at: Some(reset),
            ..
        } => {
            assert!(*reset > chrono::Utc::now().timestamp() + 30, "{reset}");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(err.is_retryable());
    assert_eq!(
        sandbox.request_count(),
        2,
        "no waiting a minute inside one call"
    );
}

#[tokio::test]
async fn server_errors_on_reads_are_retried_a_bounded_number_of_times() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    sandbox.inject(FaultMatch::any(), Fault::ServerError);
    sandbox.inject(FaultMatch::any(), Fault::ServerError);
    assert!(client.customer_by_external_id("x").await.unwrap().is_none());
    assert_eq!(sandbox.request_count(), 3);

    for _ in 0..10 {
        sandbox.inject(FaultMatch::any(), Fault::ServerError);
    }
    let err = client.customer_by_external_id("x").await.unwrap_err();
    assert!(
        matches!(err, KustomerError::Server { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(sandbox.request_count(), 3 + 4, "max_attempts is 4");
}

#[tokio::test]
async fn client_errors_are_not_retried_and_carry_kustomers_message() {
    for shape in [ErrorShape::JsonApi, ErrorShape::Legacy] {
        let sandbox = sandbox(SandboxOptions {
            error_shape: shape,
            ..Default::default()
        })
        .await;
        let client = client(&sandbox);
        let err = client
            .create_conversation(&NewConversation {
                customer: "5f0000000000000000000bad".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        match err {
            KustomerError::Client {
                status: 400,
                message,
                ..
            } => assert_eq!(message, "customer does not exist"),
            other => panic!("{shape:?}: {other:?}"),
        }
        assert_eq!(sandbox.request_count(), 1);
    }
}

#[tokio::test]
async fn a_wrong_api_key_is_a_401_client_error() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client_with(
        &sandbox,
        "wrong",
        bridge_shared::http::RetryPolicy::immediate(4),
        Duration::from_secs(1),
    );
    let err = client.customer_by_external_id("x").await.unwrap_err();
    assert!(
        matches!(err, KustomerError::Client { status: 401, .. }),
        "{err:?}"
    );
}

/// R-E-2 at the client: a create whose answer is lost is found by its external id, not made
/// twice.
#[tokio::test]
async fn r_e_2_a_create_whose_answer_is_lost_is_found_by_external_id() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    let customer = customer(&client, "+15550104477").await;
    sandbox.inject(
        FaultMatch::on(Method::POST, "/v1/conversations"),
        Fault::LoseAnswer,
    );
    let created = client
        .create_conversation(&conversation(&customer, "ccai-call-9"))
        .await
        .unwrap();
    let stored = sandbox.inspect(|w| {
        w.conversations
            .iter()
            .filter(|c| c.text("externalId") == Some("ccai-call-9"))
            .count()
    });
    assert_eq!(stored, 1);
    assert_eq!(
        created.attributes.external_id.as_deref(),
        Some("ccai-call-9")
    );
    assert_eq!(sandbox.requests_to("POST", "/v1/conversations"), 1);
    assert_eq!(
        sandbox.requests_to("GET", "/v1/conversations/externalId="),
        1
    );
}

#[tokio::test]
async fn a_create_that_hangs_past_the_timeout_is_found_by_external_id() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    let customer = customer(&client, "+15550104477").await;
    sandbox.inject(
        FaultMatch::on(Method::POST, "/v1/conversations/"),
        Fault::ApplyThenHang(Duration::from_secs(3)),
    );
    let conv = client
        .create_conversation(&conversation(&customer, "ccai-call-10"))
        .await
        .unwrap();
    sandbox.inject(
        FaultMatch::on(Method::POST, "/v1/conversations/"),
        Fault::ApplyThenHang(Duration::from_secs(3)),
    );
    let message = NewMessage {
        channel: "voice".into(),
        app: "ccai".into(),
        direction: "in".into(),
        external_id: Some("ccai-evt-10-message".into()),
        ..Default::default()
    };
    client
        .create_message(&conv.id, &message, bridge_shared::kustomer::Attempt::First)
        .await
        .unwrap();
    assert_eq!(sandbox.inspect(|w| w.messages.len()), 1);
}

/// Random 429s, 500s and hangs on every call: twenty creates still make exactly twenty
/// conversations.
#[tokio::test]
async fn r_e_2_under_random_faults_every_create_lands_exactly_once() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client_with(
        &sandbox,
        sandbox.api_key(),
        bridge_shared::http::RetryPolicy::immediate(12),
        Duration::from_millis(500),
    );
    let customer = customer(&client, "+15550104477").await;
    sandbox.random_faults(Some(FaultRates {
        rate_limited: 0.15,
        server_error: 0.15,
        hang: 0.05,
        hang_for: Duration::from_secs(2),
        seed: 7,
        ..Default::default()
    }));
    for n in 0..20 {
        client
            .create_conversation(&conversation(&customer, &format!("ccai-call-{n}")))
            .await
            .unwrap();
    }
    sandbox.random_faults(None);
    let mut externals: Vec<String> = sandbox.inspect(|w| {
        w.conversations
            .iter()
            .filter_map(|c| c.text("externalId").map(str::to_owned))
            .collect()
    });
    externals.sort();
    externals.dedup();
    assert_eq!(externals.len(), 20);
    assert_eq!(sandbox.inspect(|w| w.conversations.len()), 20);
}

#[tokio::test]
async fn malformed_answers_are_typed_errors_never_panics() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    let customer = customer(&client, "+15550104477").await;
    sandbox.inject(FaultMatch::any(), Fault::TruncatedBody);
    let err = client.customer(&customer).await.unwrap_err();
    assert!(matches!(err, KustomerError::Decode { .. }), "{err:?}");
    for hostile in [
        r#"{"data": {"id": 5, "attributes": {}}}"#,
        r#"{"data": {"id": "x", "attributes": {"phones": "not a list"}}}"#,
        r#"{"data": null}"#,
        "[]",
        "",
    ] {
        sandbox.inject(FaultMatch::any(), Fault::Answer(200, hostile));
        let err = client.customer(&customer).await.unwrap_err();
        assert!(
            matches!(err, KustomerError::Decode { .. }),
            "{hostile}: {err:?}"
        );
    }
    sandbox.inject(FaultMatch::any(), Fault::Answer(404, "<html>gone</html>"));
    assert!(client.customer_by_external_id("x").await.unwrap().is_none());
    // Unknown keys are ignored.
    sandbox.inject(FaultMatch::any(), Fault::Answer(200, r#"{"data": {"id": "abc", "type": "customer", "attributes": {"name": "N", "brandNew": {"x": 1}}, "included": []}}"#));
    assert_eq!(
        client
            .customer(&customer)
            .await
            .unwrap()
            .attributes
            .name
            .as_deref(),
        Some("N")
    );
}

#[tokio::test]
async fn bodies_over_100_kb_are_refused_as_too_large() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    let customer = customer(&client, "+15550104477").await;
    let conv = client
        .create_conversation(&conversation(&customer, "ccai-call-1"))
        .await
        .unwrap();
    let err = client
        .create_note(
            &conv.id,
            &NewNote {
                body: "x".repeat(120_000),
                ..Default::default()
            },
            bridge_shared::kustomer::Attempt::First,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, KustomerError::TooLarge { .. }), "{err:?}");
}

#[tokio::test]
async fn the_per_customer_create_budget_is_waited_out() {
    let sandbox = sandbox(SandboxOptions {
        customer_create_budget: 3,
        rate_window: Duration::from_millis(1200),
        ..Default::default()
    })
    .await;
    let client = client(&sandbox);
    let customer = customer(&client, "+15550104477").await;
    let conv = client
        .create_conversation(&conversation(&customer, "ccai-call-1"))
        .await
        .unwrap();
    for n in 0..4 {
        client
            .create_note(
                &conv.id,
                &NewNote {
                    body: format!("note {n}"),
                    ..Default::default()
                },
                bridge_shared::kustomer::Attempt::First,
            )
            .await
            .unwrap();
    }
    assert_eq!(sandbox.inspect(|w| w.notes.len()), 4);
    assert!(sandbox.inspect(|w| w.requests.iter().any(|r| r.status == 429)));
}

#[tokio::test]
async fn metadata_properties_are_added_and_creating_twice_is_harmless() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    let mut properties = Map::new();
    properties.insert(
        "ccaiQueueNameStr".into(),
        json!({"displayName": "Queue name"}),
    );
    client.put_metadata("message", &properties).await.unwrap();
    client.put_metadata("message", &properties).await.unwrap();
    let mut more = Map::new();
    more.insert(
        "ccaiCallDurationNum".into(),
        json!({"displayName": "Call duration"}),
    );
    client.put_metadata("message", &more).await.unwrap();
    let metadata = client.metadata("message").await.unwrap();
    assert_eq!(metadata.properties.len(), 2);
    assert_eq!(
        metadata.properties["ccaiQueueNameStr"]["displayName"],
        "Queue name"
    );
    let mut bad = Map::new();
    bad.insert("noSuffix".into(), json!({}));
    assert!(matches!(
        client.put_metadata("message", &bad).await,
        Err(KustomerError::Client { status: 400, .. })
    ));
}

#[test]
fn metadata_answers_are_read_from_any_of_the_plausible_shapes() {
    for answer in [
        json!({"data": {"attributes": {"properties": {"aStr": {}}}}}),
        json!({"data": {"properties": {"aStr": {}}}}),
        json!({"properties": {"aStr": {}}}),
        json!({"data": [{"attributes": {"properties": {"aStr": {}}}}]}),
    ] {
        assert_eq!(
            Metadata::from_answer(&answer).unwrap().properties.len(),
            1,
            "{answer}"
        );
    }
    assert!(Metadata::from_answer(&json!({"data": {}})).is_none());
}

#[tokio::test]
async fn users_teams_statuses_and_work_sessions_are_read() {
    let sandbox = sandbox(SandboxOptions {
        max_page_size: 2,
        ..Default::default()
    })
    .await;
    let client = client(&sandbox);
    let ana = sandbox.add_user("Ana", "ana@example.com");
    sandbox.add_user("Ana (shared)", "ANA@example.com");
    let bo = sandbox.add_user("Bo", "bo@example.com");
    sandbox.add_team("Voice", &[&bo]);

    assert_eq!(
        client
            .users_by_email("ana@example.com")
            .await
            .unwrap()
            .len(),
        2,
        "shared e-mail visible"
    );
    let bo_users = client.users_by_email("bo@example.com").await.unwrap();
    assert_eq!(bo_users[0].id, bo);
    assert_eq!(
        client.user_teams(&bo).await.unwrap()[0]
            .attributes
            .name
            .as_deref(),
        Some("Voice")
    );
    assert_eq!(client.teams().await.unwrap().len(), 1);

    let statuses = client.routing_statuses().await.unwrap();
    assert_eq!(statuses.len(), 6, "read across three pages of two");
    let busy = statuses
        .iter()
        .find(|s| s.attributes.name.as_deref() == Some("Busy"))
        .unwrap();
    assert_eq!(busy.attributes.status_type.as_deref(), Some("busy"));
    assert_eq!(busy.attributes.system, Some(true));

    assert!(client.active_work_session(&ana).await.unwrap().is_none());
    let session_id = sandbox.set_work_session(&ana, "Lunch").unwrap();
    let session = client.active_work_session(&ana).await.unwrap().unwrap();
    assert_eq!(session.id, session_id);
    assert_eq!(session.status_id(), sandbox.status_id("Lunch").as_deref());
    assert_eq!(session.user_id(), Some(ana.as_str()));

    let available = sandbox.status_id("Available").unwrap();
    let moved = client
        .set_work_session_status(&session_id, &available, None)
        .await
        .unwrap();
    assert_eq!(moved.status_id(), Some(available.as_str()));
    assert!(moved.is_active());
    let offline = sandbox.status_id("Offline").unwrap();
    client
        .set_work_session_status(&session_id, &offline, None)
        .await
        .unwrap();
    assert!(client.active_work_session(&ana).await.unwrap().is_none());
    let ended = client.work_session(&session_id).await.unwrap();
    assert!(!ended.is_active());
    assert!(ended.attributes.signed_out_at.is_some());
}

/// R-S-7, R-S-8: work sessions as Kustomer serves them (kustomer-api.md, revised): type
/// `work_session`, no `active` attribute, the status under `relationships.status` (type
/// `status`); the bridge reads them that way.
#[tokio::test]
async fn r_s_7_r_s_8_work_sessions_are_read_in_kustomers_shape() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    let ana = sandbox.add_user("Ana", "ana@example.com");
    let id = sandbox.set_work_session(&ana, "Lunch").unwrap();
    let raw: Value = bridge_shared::http::builder()
        .build()
        .unwrap()
        .get(format!(
            "{}/v1/routing/work-sessions/{id}",
            sandbox.base_url
        ))
        .bearer_auth(sandbox.api_key())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = &raw["data"];
    assert_eq!(data["type"], "work_session");
    assert!(data["attributes"].get("active").is_none(), "{data}");
    assert!(data["attributes"].get("signedOutAt").is_none());
    assert_eq!(data["relationships"]["status"]["data"]["type"], "status");
    let session = client.active_work_session(&ana).await.unwrap().unwrap();
    assert!(session.is_active());
    assert_eq!(session.status_id(), sandbox.status_id("Lunch").as_deref());
}

/// The work-session update body is a guess (L): a Kustomer that wants another body refuses it,
/// and the client reports Kustomer's answer.
#[tokio::test]
async fn r_s_7_a_refused_work_session_update_is_reported_with_kustomers_message() {
    let sandbox = sandbox(SandboxOptions {
        work_session_put: WorkSessionPut::Refuse,
        ..Default::default()
    })
    .await;
    let client = client(&sandbox);
    let ana = sandbox.add_user("Ana", "ana@example.com");
    let id = sandbox.set_work_session(&ana, "Lunch").unwrap();
    let available = sandbox.status_id("Available").unwrap();
    match client.set_work_session_status(&id, &available, None).await {
        Err(KustomerError::Client {
            status: 400,
            message,
            ..
        }) => {
            assert!(message.contains("not allowed"), "{message}")
        }
        other => panic!("expected a 400, got {other:?}"),
    }
}

/// Outbound webhooks: a conversation change reaches the registered URL, signed with the token
/// the registration answered.
#[tokio::test]
async fn conversation_changes_are_posted_to_webhooks_with_a_valid_signature() {
    use axum::routing::post;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, String, Value)>();
    let receiver = axum::Router::new().route(
        "/hook",
        post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let tx = tx.clone();
                async move {
                    let signature = headers["x-kustomer-webhook-signature"]
                        .to_str()
                        .unwrap()
                        .to_owned();
                    let event = headers["x-kustomer-webhook-event"]
                        .to_str()
                        .unwrap()
                        .to_owned();
                    let raw = String::from_utf8(body.to_vec()).unwrap();
                    tx.send((event, signature, json!(raw))).unwrap();
                    axum::http::StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });

    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    let hook = client
        .create_outbound_webhook(&NewOutboundWebhook {
            name: "bridge".into(),
            url,
            events: vec!["kustomer.conversation.update".into()],
        })
        .await
        .unwrap();
    let token = hook.attributes.token.clone().unwrap();
    assert_eq!(client.outbound_webhooks().await.unwrap().len(), 1);

    let customer = customer(&client, "+15550104477").await;
    let conv = client
        .create_conversation(&conversation(&customer, "ccai-call-1"))
        .await
        .unwrap();
    client
        .patch_conversation(
            &conv.id,
            &ConversationPatch {
                status: Some("done".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (event, signature, raw) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let raw = raw.as_str().unwrap();
    assert_eq!(event, "kustomer.conversation.update");
    // Checked with the bridge's own verifier: two implementations must agree.
    let token = bridge_shared::config::Secret::new(token);
    assert_eq!(
        bridge_shared::signature::verify_kustomer_webhook(Some(&signature), raw.as_bytes(), &token),
        Ok(())
    );
    let envelope: Value = serde_json::from_str(raw).unwrap();
    assert_eq!(envelope["data"]["id"], conv.id);
    assert_eq!(envelope["changes"]["attributes"]["status"]["after"], "done");
}

#[tokio::test]
async fn a_raw_plus_in_a_phone_lookup_does_not_find_the_customer() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    customer(&client, "+15550104477").await;
    let raw = bridge_shared::http::builder()
        .build()
        .unwrap()
        .get(format!(
            "{}/v1/customers/phone=+15550104477",
            sandbox.base_url
        ))
        .bearer_auth(sandbox.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 404);
}

/// Budget awareness: a phone number costs Kustomer calls once; afterwards the mapping comes
/// from the state store.
#[tokio::test]
async fn r_k_1_r_k_2_customer_ids_are_resolved_once_then_served_from_the_state_store() {
    use bridge_shared::UnixMillis;
    use bridge_shared::kustomer::{CustomerDirectory, Resolved};
    use bridge_shared::store::EmbeddedStore;

    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    let store = EmbeddedStore::new();
    let directory = CustomerDirectory::new(&client, &store);
    let now = UnixMillis::now();

    let (created, how) = directory
        .customer_for_phone("+15550104477", None, now)
        .await
        .unwrap();
    assert_eq!(how, Resolved::Created);
    assert_eq!(client.calls_made(), 2, "one lookup, one create");
    let (cached, how) = directory
        .customer_for_phone("+15550104477", None, now)
        .await
        .unwrap();
    assert_eq!((cached.as_str(), how), (created.as_str(), Resolved::Cached));
    assert_eq!(client.calls_made(), 2, "no call for a cached mapping");

    // A customer Kustomer already has is found, not created.
    let existing = customer(&client, "+15550109999").await;
    let before = client.calls_made();
    let (found, how) = directory
        .customer_for_phone("+15550109999", None, now)
        .await
        .unwrap();
    assert_eq!((found, how), (existing, Resolved::Found));
    assert_eq!(client.calls_made(), before + 1);

    let (sdk_user, how) = directory
        .customer_for_identifier("user-77", Some("Bo"), now)
        .await
        .unwrap();
    assert_eq!(how, Resolved::Created);
    assert_eq!(
        directory
            .customer_for_identifier("user-77", None, now)
            .await
            .unwrap(),
        (sdk_user, Resolved::Cached)
    );
}

/// Ten workers resolve one new phone number at once: one customer exists afterwards, and every
/// worker got its id.
#[tokio::test]
async fn r_k_1_concurrent_resolution_of_a_new_phone_creates_one_customer() {
    use bridge_shared::UnixMillis;
    use bridge_shared::kustomer::CustomerDirectory;
    use bridge_shared::store::EmbeddedStore;
    use std::sync::Arc;

    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = Arc::new(client(&sandbox));
    let store = Arc::new(EmbeddedStore::new());
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let (client, store) = (client.clone(), store.clone());
            tokio::spawn(async move {
                CustomerDirectory::new(&client, store.as_ref())
                    .customer_for_phone("+15550104477", None, UnixMillis::now())
                    .await
                    .unwrap()
                    .0
            })
        })
        .collect();
    let mut ids = Vec::new();
    for handle in handles {
        ids.push(handle.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(sandbox.inspect(|w| w.customers.len()), 1);
}

/// Review finding 9: a note is written under the session's lock. Worker A's lease has less time
/// left than a request needs (it stalled, say, behind a pacing backlog): its note is not sent,
/// so it can never land after worker B takes the lock over and writes the same note. One note.
#[tokio::test]
async fn finding_9_a_write_whose_lock_cannot_cover_it_is_never_sent() {
    use bridge_shared::conversation::held_lock::HeldLock;
    use bridge_shared::kustomer::Attempt;
    use bridge_shared::store::{EmbeddedStore, ItemKey};
    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    let customer = customer(&client, "+15550104491").await;
    let conversation_id = client
        .create_conversation(&conversation(&customer, "ccai-call-91"))
        .await
        .unwrap()
        .id;
    let store = EmbeddedStore::new();
    let resource = ItemKey::new("SESSION#call#91", "SYNC_LOCK");
    let poll = Duration::from_millis(5);
    let note = NewNote {
        body: "Customer rating: 5/5".into(),
        external_id: Some("ccai-call-91-csat".into()),
        ..Default::default()
    };
    // A's lease covers less than SEND_MARGIN: the write stays home.
    let short = bridge_shared::kustomer::SEND_MARGIN / 2;
    let a = HeldLock::take(&store, &resource, "a", short, short, poll)
        .await
        .unwrap();
    let sent = a
        .fenced(client.create_note(&conversation_id, &note, Attempt::First))
        .await
        .unwrap();
    assert!(
        matches!(sent, Err(KustomerError::NotSent { .. })),
        "{sent:?}"
    );
    assert!(sent.unwrap_err().is_retryable());
    a.release().await;
    let b = HeldLock::take(&store, &resource, "b", Duration::from_secs(30), short, poll)
        .await
        .unwrap();
    b.fenced(client.create_note(&conversation_id, &note, Attempt::Repeat))
        .await
        .unwrap()
        .unwrap();
    let notes = sandbox.inspect(|w| {
        w.notes
            .iter()
            .filter(|n| n.related("conversation") == Some(conversation_id.as_str()))
            .count()
    });
    assert_eq!(notes, 1);
}
