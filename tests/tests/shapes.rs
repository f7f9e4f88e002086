//! Issue 28 (R-F): the record of what the platforms sent flags a key the model does not read, a
//! key it expects that did not come, and a renamed key (both), for External Session Events and
//! Manager API answers, read through the bridge's own parser and client. Its own test binary:
//! the record is the process's, and no other test may feed it meanwhile.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_shared::UnixMillis;
use bridge_shared::shapes::{DocumentKind, KindReport, book, read_reports};
use bridge_shared::store::EmbeddedStore;
use bridge_tests::ccai_sandbox::twists::{ShapeTwists, Twist};
use bridge_tests::ccai_sandbox::*;
use bridge_tests::ccai_support::EventReceiver;

fn kind(reports: &[KindReport], kind: DocumentKind) -> &KindReport {
    reports
        .iter()
        .find(|r| r.kind == kind.name())
        .unwrap_or_else(|| panic!("no record of {}", kind.name()))
}

#[tokio::test]
async fn r_f_3_extra_dropped_and_renamed_keys_are_each_flagged() {
    let sandbox = CcaiSandbox::start(CcaiSandboxOptions {
        shape_twists: ShapeTwists {
            ese_item: Twist {
                extra: Some("surprise_in_item"),
                drop: Some("state"),
                rename: None,
            },
            ese_participant: Twist {
                extra: None,
                drop: None,
                rename: Some(("type", "participant_type")),
            },
            call: Twist {
                extra: Some("surprise_in_call"),
                drop: Some("status"),
                rename: Some(("updated_at", "modified_at")),
            },
            chat: Twist::default(),
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let receiver = EventReceiver::start(&["calls:pass"]).await;
    let ana = sandbox.change(|w| w.add_agent("ana@example.com", "Ana", "Available"));
    let driver = ScenarioDriver::new(
        &sandbox,
        Some(EventSink::new(&receiver.url, "calls", "pass")),
    );
    let played = driver.ivr_call_answered(ana, "+15550104477").await;

    // The intake's parser reads what was sent; the bridge's client reads the call.
    let batches: Vec<_> = receiver
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.body.clone())
        .collect();
    assert!(!batches.is_empty());
    for batch in &batches {
        bridge_shared::ese::parse_batch(batch.to_string().as_bytes()).unwrap();
    }
    let client = bridge_tests::ccai_support::client(&sandbox);
    let _ = client.call(played.session_id).await;

    // Kustomer: a customer whose attributes come back with a key added and one renamed.
    let kustomer = bridge_tests::kustomer_sandbox::KustomerSandbox::start(
        bridge_tests::kustomer_sandbox::SandboxOptions {
            customer_twist: Twist {
                extra: Some("surpriseInCustomer"),
                drop: None,
                rename: Some(("name", "fullName")),
            },
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let kustomer_client = bridge_tests::kustomer_support::client(&kustomer);
    kustomer_client
        .create_customer(&bridge_shared::kustomer::requests::NewCustomer {
            name: Some("Camille".into()),
            phones: vec![bridge_shared::kustomer::requests::NewPhone {
                kind: None,
                phone: "+15550109999".into(),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let _ = kustomer_client.customer_by_phone("+15550109999").await;

    let store = EmbeddedStore::new();
    let now = UnixMillis::now();
    book().flush_now(&store, now).await.unwrap();
    let reports = read_reports(&store, now).await.unwrap();

    let item = kind(&reports, DocumentKind::EseItem);
    assert!(item.documents >= 1);
    assert!(
        item.unread.contains(&"surprise_in_item".to_owned()),
        "{item:?}"
    );
    assert_eq!(item.missing.get("state"), Some(&item.documents), "{item:?}");
    assert!(
        !item.unread.contains(&"call_id".to_owned()),
        "a key the model reads is not flagged"
    );

    let participant = kind(&reports, DocumentKind::EseParticipant);
    assert!(
        participant.unread.contains(&"participant_type".to_owned()),
        "{participant:?}"
    );
    assert!(participant.missing.contains_key("type"), "{participant:?}");

    let call = kind(&reports, DocumentKind::CcaiCall);
    assert!(
        call.unread.contains(&"surprise_in_call".to_owned()),
        "{call:?}"
    );
    assert!(call.unread.contains(&"modified_at".to_owned()), "{call:?}");
    assert!(call.missing.contains_key("status"), "{call:?}");
    assert!(call.missing.contains_key("updated_at"), "{call:?}");
    assert!(!call.missing.contains_key("id"), "{call:?}");

    let customer = kind(&reports, DocumentKind::KustomerCustomer);
    assert!(
        customer
            .unread
            .contains(&"attributes.surpriseInCustomer".to_owned())
            && customer.unread.contains(&"attributes.fullName".to_owned()),
        "{customer:?}"
    );
    assert!(
        !customer.unread.contains(&"attributes.phones".to_owned()),
        "{customer:?}"
    );

    // Keys and types only: no value the platforms sent is in the record.
    let recorded = serde_json::to_string(&reports).unwrap();
    assert!(!recorded.contains("15550104477") && !recorded.contains("15550109999"));
    assert!(!recorded.contains("Camille"));
    assert!(!recorded.contains("added by the sandbox"));
}
