//! Custom fields end to end (R-CF-3, R-CF-4, R-CF-5, R-U-9): fields created by the admin's
//! operation, sessions played in the CCAI sandbox and synced by the worker, the values read
//! from the messages in the Kustomer sandbox.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use bridge_shared::UnixMillis;
use bridge_shared::custom_fields::admin::FieldAdmin;
use bridge_shared::store::EmbeddedStore;
use bridge_tests::ccai_sandbox::{
    CcaiSandboxOptions, CustomDataIn, FileDelays, Played, ScenarioDriver,
};
use bridge_tests::kustomer_sandbox::SandboxOptions;
use bridge_tests::kustomer_sandbox::state::Record;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use support::{Rig, rig, rig_both};

const MINUTE: Duration = Duration::from_secs(60);

fn admin(rig: &Rig) -> FieldAdmin<'_> {
    FieldAdmin {
        store: rig.api.store.as_ref(),
        kustomer: &rig.api.kustomer,
    }
}

async fn create_fields(rig: &Rig, ids: &[&str], at: UnixMillis) {
    for id in ids {
        admin(rig).create(id, "test admin", at).await.unwrap();
    }
}

/// When the platform says the session started.
fn started(rig: &Rig, played: &Played) -> UnixMillis {
    let created = rig.platforms.ccai.inspect(|w| {
        let session = if played.kind == "call" {
            w.call(played.session_id)
        } else {
            w.chat(played.session_id)
        };
        session.unwrap()["created_at"].as_str().unwrap().to_owned()
    });
    UnixMillis(
        chrono::DateTime::parse_from_rfc3339(&created)
            .unwrap()
            .timestamp_millis(),
    )
}

/// The session's own message (R-CF-4: one per session).
fn session_messages(rig: &Rig, played: &Played) -> Vec<Record> {
    let external = format!("ccai-{}-{}-session", played.kind, played.session_id);
    rig.platforms.kustomer.inspect(|w| {
        w.messages
            .iter()
            .filter(|m| m.text("externalId") == Some(external.as_str()))
            .cloned()
            .collect()
    })
}

fn custom_of(rig: &Rig, played: &Played) -> Map<String, Value> {
    let messages = session_messages(rig, played);
    assert_eq!(messages.len(), 1, "one message per session");
    messages[0]
        .attributes
        .get("custom")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn updates_of(rig: &Rig, played: &Played) -> u32 {
    let id = session_messages(rig, played)[0].id.clone();
    rig.platforms
        .kustomer
        .inspect(|w| w.message_updates.get(&id).copied().unwrap_or(0))
}

fn queue_of(rig: &Rig, played: &Played) -> String {
    rig.platforms.ccai.inspect(|w| {
        w.call(played.session_id).unwrap()["selected_menu"]["name"]
            .as_str()
            .unwrap()
            .to_owned()
    })
}

/// R-CF-3, R-CF-4, R-U-9: a session that started before the fields were created gets none of
/// them; one that started after gets every value the platform reported, on its message.
#[tokio::test]
async fn r_cf_3_r_cf_4_values_are_written_only_for_sessions_started_after_the_fields() {
    let rig = rig().await;
    let (agent, _) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let before = driver.ivr_call_answered(agent, "+15550107001").await;
    let all: Vec<&str> = bridge_shared::custom_fields::CATALOGUE
        .iter()
        .map(|f| f.id.as_str())
        .collect();
    create_fields(&rig, &all, UnixMillis(started(&rig, &before).0 + 1)).await;
    let after = driver.ivr_call_answered(agent, "+15550107002").await;
    rig.deliver(&before).await;
    rig.deliver(&after).await;

    assert!(custom_of(&rig, &before).is_empty(), "not back-filled");
    let expected = json!({
        "ccaiQueueNameStr": queue_of(&rig, &after),
        "ccaiSessionTypeStr": "Voice Inbound (IVR)",
        "ccaiSessionIdStr": after.session_id.to_string(),
        "ccaiFromPhoneStr": "+15550107002",
        "ccaiCallDurationNum": 125,
        "ccaiHoldTimeNum": 5,
        "ccaiWaitTimeNum": 12,
        "ccaiMenuSelectionStr": queue_of(&rig, &after),
    });
    assert_eq!(Value::Object(custom_of(&rig, &after)), expected);
    // The IVR caller has no SDK identifier: the customer carries no custom user id.
    assert_eq!(updates_of(&rig, &after), 0, "all known at the first write");
    assert!(rig.platforms.unexpected_requests().is_empty());
}

/// R-CF-4: values that arrive after the message was written — the rating on the Manager API
/// object, then the comment in the metadata file ~15 minutes later — complete the same
/// message, whether Kustomer's PATCH merges `custom` or replaces it (not documented: both
/// played), with one update per arrival and no second message.
#[tokio::test]
async fn r_cf_4_late_values_complete_the_message_without_a_second_message() {
    for merges in [true, false] {
        let rig = rig_both(
            Arc::new(EmbeddedStore::new()),
            CcaiSandboxOptions {
                file_delays: FileDelays {
                    metadata: 15 * MINUTE,
                    ..FileDelays::default()
                },
                ..CcaiSandboxOptions::default()
            },
            SandboxOptions {
                message_patch_merges: merges,
                ..SandboxOptions::default()
            },
        )
        .await;
        let (agent, _) = rig.agent("ben");
        create_fields(
            &rig,
            &[
                "call_duration",
                "csat_rating",
                "csat_comment",
                "inweb_email",
            ],
            UnixMillis(0),
        )
        .await;
        let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
        let call = driver.ivr_call_answered(agent, "+15550107011").await;
        rig.deliver(&call).await;
        assert_eq!(
            Value::Object(custom_of(&rig, &call)),
            json!({"ccaiCallDurationNum": 125})
        );

        driver.csat("call", call.session_id, 4, Some("Kind and quick"));
        driver.inweb_email("call", call.session_id, "ben.customer@example.com");
        rig.deliver_poll(&call).await;
        assert_eq!(
            Value::Object(custom_of(&rig, &call)),
            json!({"ccaiCallDurationNum": 125, "ccaiCsatRatingNum": 4, "ccaiInwebEmailStr": "ben.customer@example.com"}),
            "merges: {merges}"
        );
        rig.deliver_poll(&call).await;
        assert_eq!(updates_of(&rig, &call), 1, "nothing new, nothing sent");

        rig.platforms.ccai.advance_files(15 * MINUTE);
        rig.platforms.ccai.publish_due().await.unwrap();
        rig.deliver_poll(&call).await;
        assert_eq!(
            Value::Object(custom_of(&rig, &call)),
            json!({"ccaiCallDurationNum": 125, "ccaiCsatRatingNum": 4, "ccaiInwebEmailStr": "ben.customer@example.com",
                   "ccaiCsatCommentTxt": "Kind and quick"}),
            "merges: {merges}"
        );
        assert_eq!(updates_of(&rig, &call), 2);
        assert!(rig.platforms.unexpected_requests().is_empty());
    }
}

/// R-CF-5: SDK custom data lands in the attributes the admin mapped its keys to, wherever the
/// platform shows it (the session object or the metadata file: both played); the custom user
/// id goes on the message and the customer.
#[tokio::test]
async fn r_cf_5_an_sdk_key_mapped_to_a_field_lands_there() {
    for place in [CustomDataIn::Session, CustomDataIn::MetadataFile] {
        let rig = rig_both(
            Arc::new(EmbeddedStore::new()),
            CcaiSandboxOptions {
                custom_data_in: place,
                ..CcaiSandboxOptions::default()
            },
            SandboxOptions::default(),
        )
        .await;
        rig.platforms.kustomer.inspect_mut(|w| {
            let message = w.metadata.entry("message".into()).or_default();
            message.insert(
                "loyaltyTierStr".into(),
                json!({"displayName": "Loyalty tier", "type": "string"}),
            );
            message.insert(
                "openOrdersNum".into(),
                json!({"displayName": "Open orders", "type": "number"}),
            );
        });
        create_fields(&rig, &["custom_user_id", "session_type"], UnixMillis(0)).await;
        let keys: BTreeMap<String, String> = [
            ("tier", "loyaltyTierStr"),
            ("orders", "openOrdersNum"),
            ("channel", "session_type"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        admin(&rig)
            .put_sdk_keys(&keys, UnixMillis(1))
            .await
            .unwrap();
        let (agent, _) = rig.agent("cy");
        let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
        let call = driver.sdk_call(agent, "app-user-77").await;
        driver.sdk_custom_data(
            "call",
            call.session_id,
            json!({"tier": {"value": "gold", "type": "string", "label": "Tier"},
                   "orders": {"value": "3", "type": "string", "label": "Open orders"},
                   "channel": {"value": "In-app help", "type": "string", "label": "Channel"},
                   "unmapped": {"value": "x", "type": "string", "label": "Ignored"}}),
        );
        rig.platforms.ccai.publish_due().await.unwrap();
        rig.deliver(&call).await;
        rig.deliver_poll(&call).await;
        assert_eq!(
            Value::Object(custom_of(&rig, &call)),
            json!({"ccaiCustomUserIdStr": "app-user-77", "loyaltyTierStr": "gold", "openOrdersNum": 3,
                   "ccaiSessionTypeStr": "In-app help"}),
            "{place:?}"
        );
        let customer = rig
            .platforms
            .kustomer
            .inspect(|w| w.find_by("customer", "externalId", "app-user-77").cloned());
        let customer = customer.or_else(|| {
            let conversation = rig.conversation_of(&call);
            let id = conversation.related("customer").unwrap().to_owned();
            rig.platforms
                .kustomer
                .inspect(|w| w.find("customer", &id).cloned())
        });
        assert_eq!(
            customer.unwrap().attributes["custom"]["ccaiCustomUserIdStr"],
            "app-user-77"
        );
        assert!(rig.platforms.unexpected_requests().is_empty());
    }
}

/// R-CF-1, R-CF-3: a deleted field is no longer written, even for a session it was written
/// for before; the fields still created keep being completed.
#[tokio::test]
async fn r_cf_1_a_deleted_field_is_no_longer_written() {
    let rig = rig().await;
    let (agent, _) = rig.agent("dee");
    create_fields(
        &rig,
        &["csat_rating", "csat_comment", "session_id"],
        UnixMillis(0),
    )
    .await;
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550107021").await;
    rig.deliver(&call).await;
    assert_eq!(
        custom_of(&rig, &call).len(),
        1,
        "only the session id is known yet"
    );
    admin(&rig)
        .delete("csat_comment", UnixMillis::now())
        .await
        .unwrap();
    driver.csat("call", call.session_id, 5, Some("Great"));
    rig.platforms.ccai.publish_due().await.unwrap();
    rig.deliver_poll(&call).await;
    let custom = custom_of(&rig, &call);
    assert_eq!(custom["ccaiCsatRatingNum"], 5);
    assert!(!custom.contains_key("ccaiCsatCommentTxt"), "{custom:?}");
    // The comment still becomes a note (R-U-10): only the field is gone.
    let conversation = rig.conversation_of(&call);
    assert!(
        rig.notes_on(&conversation.id)
            .iter()
            .any(|n| n.text("body") == Some("Customer comment: \"Great\""))
    );
}
