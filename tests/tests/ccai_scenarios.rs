//! The scenario driver plays every listed scenario, updating the sandbox and pushing External
//! Session Events the way CCAI Platform does: Basic auth, batches of one to five, each event an
//! `item` snapshot of its stage, which the bridge's own parser accepts.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_shared::ese::{EseItem, Stage, parse_event};
use bridge_tests::ccai_sandbox::*;
use bridge_tests::ccai_support::EventReceiver;
use serde_json::Value;

async fn setup() -> (CcaiSandbox, EventReceiver, u64, u64) {
    let sandbox = CcaiSandbox::start(CcaiSandboxOptions::default())
        .await
        .unwrap();
    let receiver = EventReceiver::start(&["calls:old-pass", "calls:new-pass"]).await;
    let ana = sandbox.change(|w| w.add_agent("ana@example.com", "Ana", "Available"));
    let bo = sandbox.change(|w| w.add_agent("bo@example.com", "Bo", "Available"));
    (sandbox, receiver, ana, bo)
}

fn stages(played: &Played) -> Vec<Stage> {
    played
        .events
        .iter()
        .map(|e| EseItem(e.body["item"].as_object().unwrap()).stage())
        .collect()
}

#[tokio::test]
async fn r_e_1_every_scenario_plays_its_stages_as_ese_batches() {
    let (sandbox, receiver, ana, bo) = setup().await;
    let driver = ScenarioDriver::new(
        &sandbox,
        Some(EventSink::new(&receiver.url, "calls", "new-pass")),
    );
    let phone = "+15550104477";
    use Stage::*;

    let ivr = driver.ivr_call_answered(ana, phone).await;
    assert_eq!(stages(&ivr), [Start, Routing, Assigned, Active, End, Final]);
    let final_item = &ivr.events[5].body["item"];
    assert_eq!(final_item["dispositions"]["code"], "Resolved");
    assert_eq!(final_item["participants"][0]["dn"], phone);
    let sdk = driver.sdk_call(ana, "app-user-9").await;
    assert_eq!(stages(&sdk), [Start, Routing, Assigned, Active, End, Final]);
    assert!(
        sdk.events[0].body["item"]["participants"][0]["dn"]
            .as_str()
            .unwrap()
            .starts_with("end_user_")
    );
    let abandoned = driver.abandoned_call(phone).await;
    assert_eq!(stages(&abandoned), [Start, Routing, End]);
    let voicemail = driver.voicemail(phone, Some("read")).await;
    assert_eq!(stages(&voicemail), [Start, Routing, End]);
    let transfer = driver.transfer(ana, bo, phone).await;
    assert_eq!(
        stages(&transfer),
        [
            Start, Routing, Assigned, Active, Assigned, Active, End, Final
        ]
    );
    let transferred = transfer.events[4].body["item"].as_object().unwrap();
    assert_eq!(EseItem(transferred).current_agent().unwrap().id, Some(bo));
    let outbound = driver.outbound_call(ana, phone, false, None).await;
    assert_eq!(stages(&outbound), [Assigned, Active, End, Final]);
    assert!(EseItem(outbound.events[0].body["item"].as_object().unwrap()).started_by_agent());
    let chat = driver
        .chat_with_transcript(
            ana,
            "web-user-1",
            &[("end_user", "My order is late"), ("agent", "Let me check")],
        )
        .await;
    assert_eq!(
        stages(&chat),
        [Start, Routing, Assigned, Active, End, Final]
    );
    assert!(chat.events[0].body["item"]["chat_id"].is_u64());
    driver.csat("chat", chat.session_id, 5, Some("great"));

    let sent: usize = [
        &ivr, &sdk, &abandoned, &voicemail, &transfer, &outbound, &chat,
    ]
    .iter()
    .map(|p| p.events.len())
    .sum();
    let batches = receiver.batches();
    assert!(
        batches.iter().all(|b| b.verified),
        "the rotated credential is accepted"
    );
    assert!(batches.iter().all(|b| {
        let n = b.events().len();
        (1..=5).contains(&n) && b.body["count"] == n
    }));
    let events = receiver.events();
    assert_eq!(events.len(), sent);
    assert!(
        events.iter().all(|e| parse_event(e).is_ok()),
        "the bridge's parser takes every event"
    );
    let mut timestamps: Vec<i64> = ivr
        .events
        .iter()
        .map(|e| e.body["timestamp"].as_i64().unwrap())
        .collect();
    let sorted = {
        let mut t = timestamps.clone();
        t.sort();
        t
    };
    assert_eq!(timestamps, sorted, "stages are stamped in order");
    timestamps.dedup();
    assert_eq!(timestamps.len(), 6, "each stage has its own time");

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
        assert_eq!(w.chat(chat.session_id).unwrap()["rating"], 5);
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
async fn r_e_2_duplicate_reordered_dropped_and_silent_deliveries_can_be_switched_on() {
    let (sandbox, receiver, ana, _) = setup().await;
    let mut driver = ScenarioDriver::new(
        &sandbox,
        Some(EventSink::new(&receiver.url, "calls", "old-pass")),
    );
    driver.delivery = Delivery {
        duplicate: true,
        reverse: true,
        drop_stages: vec!["Assigned".into()],
        batch_max: 2,
        silent: false,
    };
    let played = driver.ivr_call_answered(ana, "+15550104477").await;
    let received: Vec<Value> = receiver
        .events()
        .iter()
        .map(|e| e["event_id"].clone())
        .collect();
    let id = |stage: &str| {
        played
            .events
            .iter()
            .find(|e| e.stage == stage)
            .unwrap()
            .id
            .clone()
    };
    let expected: Vec<Value> = [
        ["Final", "End"],
        ["Final", "End"],
        ["Active", "Routing"],
        ["Active", "Routing"],
        ["Start", "Start"],
    ]
    .iter()
    .flat_map(|pair| pair.iter().map(|stage| Value::from(id(stage))))
    .collect();
    // Reversed, in batches of two, each batch twice: [Final End]×2 [Active Routing]×2 [Start]×2.
    assert_eq!(received, expected);
    let assigned = played
        .events
        .iter()
        .find(|e| e.stage == "Assigned")
        .unwrap();
    assert!(
        assigned.deliveries.is_empty(),
        "dropped events are not sent"
    );
    assert!(played.events[0].deliveries.iter().all(|s| *s == Some(200)));

    driver.delivery.silent = true;
    let before = receiver.batches().len();
    driver.ivr_call_answered(ana, "+15550104478").await;
    assert_eq!(
        receiver.batches().len(),
        before,
        "a tenant without ESE sends nothing"
    );
}

#[tokio::test]
async fn r_e_1_events_with_unknown_credentials_are_refused_by_the_check() {
    let (sandbox, receiver, ana, _) = setup().await;
    let driver = ScenarioDriver::new(
        &sandbox,
        Some(EventSink::new(&receiver.url, "calls", "stolen")),
    );
    let played = driver.ivr_call_answered(ana, "+15550104477").await;
    assert!(played.events.iter().all(|e| e.deliveries == [Some(401)]));
    assert!(receiver.batches().iter().all(|r| !r.verified));
}
