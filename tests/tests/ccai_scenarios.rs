//! The scenario driver plays every listed scenario, updating the sandbox and sending signed
//! session events that the bridge's own verifier accepts.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_tests::ccai_sandbox::*;
use bridge_tests::ccai_support::EventReceiver;
use serde_json::json;

async fn setup() -> (CcaiSandbox, EventReceiver, u64, u64) {
    let sandbox = CcaiSandbox::start(CcaiSandboxOptions::default())
        .await
        .unwrap();
    let receiver = EventReceiver::start(&["old-secret", "new-secret"]).await;
    let ana = sandbox.change(|w| w.add_agent("ana@example.com", "Ana", "Available"));
    let bo = sandbox.change(|w| w.add_agent("bo@example.com", "Bo", "Available"));
    (sandbox, receiver, ana, bo)
}

#[tokio::test]
async fn every_scenario_plays_and_sends_its_signed_events() {
    let (sandbox, receiver, ana, bo) = setup().await;
    let driver = ScenarioDriver::new(
        &sandbox,
        Some(EventSink::new(
            &receiver.url,
            "new-secret",
            Some("old-secret"),
        )),
    );
    let phone = "+15550104477";

    let ivr = driver.ivr_call_answered(ana, phone).await;
    assert_eq!(ivr.types(), ["call.created", "call.assigned", "call.ended"]);
    let sdk = driver.sdk_call(ana, "app-user-9").await;
    assert_eq!(sdk.types(), ["call.created", "call.assigned", "call.ended"]);
    let abandoned = driver.abandoned_call(phone).await;
    assert_eq!(abandoned.types(), ["call.created", "call.ended"]);
    let voicemail = driver.voicemail(phone, Some("read")).await;
    assert_eq!(
        voicemail.types(),
        ["call.created", "call.voicemail", "voicemail.updated"]
    );
    let transfer = driver.transfer(ana, bo, phone).await;
    assert_eq!(
        transfer.types(),
        [
            "call.created",
            "call.assigned",
            "call.transferred",
            "call.ended"
        ]
    );
    let outbound = driver.outbound_call(ana, phone, false, None).await;
    assert_eq!(outbound.types(), ["call.outbound", "call.ended"]);
    let (short, callback) = driver.short_call_and_callback(ana, phone).await;
    assert_eq!(
        callback.events[0].body["data"],
        json!({"callback": true, "previous_call_id": short.session_id})
    );
    let chat = driver
        .chat_with_transcript(
            ana,
            "web-user-1",
            &[("end_user", "My order is late"), ("agent", "Let me check")],
        )
        .await;
    assert_eq!(
        chat.types(),
        ["chat.created", "chat.assigned", "chat.ended"]
    );
    let done = driver.smart_action("call", ivr.session_id, true).await;
    assert_eq!(
        done.events[0].body["data"]["files"][0]["name"],
        "receipt.jpg"
    );
    let failed = driver.smart_action("call", ivr.session_id, false).await;
    assert_eq!(failed.types(), ["smart_action.failed"]);
    let csat = driver.csat("chat", chat.session_id, 5, Some("great")).await;
    assert_eq!(
        csat.events[0].body["data"],
        json!({"rating": 5, "comment": "great"})
    );
    driver
        .custom_data(
            "call",
            sdk.session_id,
            json!({"plan": {"value": "gold", "type": "string", "label": "Plan"}}),
        )
        .await;

    let received = receiver.events();
    assert_eq!(received.len(), 29);
    assert!(
        received.iter().all(|r| r.verified),
        "every event verifies (rotated secrets)"
    );
    assert!(
        received
            .iter()
            .all(|r| r.body["id"].is_string() && r.body["occurred_at"].is_string())
    );

    // The state moved as the platform would move it.
    sandbox.inspect(|w| {
        assert_eq!(w.call(ivr.session_id).unwrap()["status"], "finished");
        assert_eq!(
            w.call(abandoned.session_id).unwrap()["fail_reason"],
            "abandoned"
        );
        assert_eq!(
            w.call(voicemail.session_id).unwrap()["status"],
            "voicemail_read"
        );
        assert_eq!(
            w.call(transfer.session_id).unwrap()["transfers"][0]["to_agent"]["id"],
            bo
        );
        assert_eq!(w.call(short.session_id).unwrap()["call_duration"], 6);
        assert_eq!(w.chat(chat.session_id).unwrap()["rating"], 5);
        assert_eq!(w.chat_messages[&chat.session_id].len(), 2);
        assert_eq!(w.agent_status(ana).as_deref(), Some("Available"));
        assert!(
            w.status_history
                .iter()
                .any(|(id, _, to, _)| *id == ana && to == "In-call")
        );
        assert!(
            w.status_history
                .iter()
                .any(|(id, _, to, _)| *id == ana && to == "Wrap-up")
        );
    });
}

#[tokio::test]
async fn duplicate_reordered_and_dropped_deliveries_can_be_switched_on() {
    let (sandbox, receiver, ana, _) = setup().await;
    let mut driver = ScenarioDriver::new(
        &sandbox,
        Some(EventSink::new(&receiver.url, "old-secret", None)),
    );
    driver.delivery = Delivery {
        duplicate: true,
        reverse: true,
        drop_types: vec!["call.assigned".into()],
    };
    let played = driver.ivr_call_answered(ana, "+15550104477").await;
    let received: Vec<String> = receiver
        .events()
        .iter()
        .map(|r| r.body["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        received,
        ["call.ended", "call.ended", "call.created", "call.created"]
    );
    let assigned = played
        .events
        .iter()
        .find(|e| e.event_type == "call.assigned")
        .unwrap();
    assert!(
        assigned.deliveries.is_empty(),
        "dropped events are not sent"
    );
    assert!(played.events[0].deliveries.iter().all(|s| *s == Some(202)));
}

#[tokio::test]
async fn events_signed_with_an_unknown_secret_are_refused_by_the_verifier() {
    let (sandbox, receiver, ana, _) = setup().await;
    let driver = ScenarioDriver::new(
        &sandbox,
        Some(EventSink::new(&receiver.url, "stolen", None)),
    );
    let played = driver.ivr_call_answered(ana, "+15550104477").await;
    assert!(played.events.iter().all(|e| e.deliveries == [Some(401)]));
    assert!(receiver.events().iter().all(|r| !r.verified));
}
