//! The inbox stream worker end to end: inbox items as the intake writes them, their stream
//! records in Lambda's shape, the state store on DynamoDB Local, and the CCAI and Kustomer
//! sandboxes over real HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_shared::UnixMillis;
use bridge_shared::status::agent_state::Outcome;
use bridge_shared::status::{PriorityMode, StatusMapping};
use bridge_shared::store::{Claim, EmbeddedStore, IdempotencyStatus, Item, StateStore};
use bridge_shared::stream::{DynamoDbEventResponse, StreamEvent};
use bridge_sync::{SyncApi, handle};
use bridge_tests::ccai_sandbox::ScenarioDriver;
use bridge_tests::platforms::SandboxedPlatforms;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

fn stream_event(items: &[Item]) -> StreamEvent {
    bridge_tests::stream_support::inserts(items, 1000)
}

fn failed(response: &DynamoDbEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.clone())
        .collect()
}

struct Rig {
    platforms: SandboxedPlatforms,
    api: SyncApi,
    email: String,
    agent: u64,
}

async fn rig(store: Arc<dyn StateStore>) -> Rig {
    let platforms = SandboxedPlatforms::start().await.unwrap();
    let email = format!("{}@example.com", bridge_tests::unique("ana"));
    let agent = platforms.add_agent(&email, "Ana", "Available");
    let status = platforms.status_service(store.clone());
    let lunch = platforms.kustomer.status_id("Lunch").unwrap();
    status
        .save_mapping(&StatusMapping {
            priority: PriorityMode::LatestWins,
            ..bridge_tests::ccai_sandbox::state::mapping_by_name(&[(lunch, "Break")])
        })
        .await
        .unwrap();
    let api = SyncApi {
        storage: None,
        store,
        ccai: platforms.ccai_client.clone(),
        kustomer: platforms.kustomer_client.clone(),
        status,
        caller_country: Default::default(),
        exported: Default::default(),
        failures: Default::default(),
        file_work: None,
    };
    Rig {
        platforms,
        api,
        email,
        agent,
    }
}

/// The agent picks Lunch in Kustomer while on a call: kept pending (R-S-6).
async fn change_during_call(rig: &Rig, now: UnixMillis) {
    rig.platforms
        .ccai
        .change(|w| w.move_agent(rig.agent, "In-call", "platform"));
    let user = rig.platforms.kustomer_user(&rig.email).unwrap();
    rig.platforms
        .kustomer
        .set_work_session(&user, "Lunch")
        .unwrap();
    let outcome = rig
        .api
        .status
        .report(&rig.email, now)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&outcome.outcome, Outcome::Pending { ccai_status, .. } if ccai_status == "Break"),
        "{outcome:?}"
    );
}

fn status_posts(rig: &Rig) -> usize {
    rig.platforms
        .ccai
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/agent_statuses"))
        .count()
}

fn inbox_items(events: &[Value], now: UnixMillis) -> Vec<Item> {
    events
        .iter()
        .map(|body| {
            let trigger = bridge_shared::ese::parse_event(body).unwrap().trigger();
            bridge_intake::inbox_item(&trigger, now).unwrap()
        })
        .collect()
}

#[tokio::test]
async fn r_s_6_the_call_ended_event_applies_the_pending_status_once() {
    let store: Arc<dyn StateStore> = Arc::new(bridge_tests::local::dynamo_store().await);
    let rig = rig(store).await;
    let now = UnixMillis::now();
    change_during_call(&rig, now).await;
    assert_eq!(status_posts(&rig), 0);

    // The call is answered and ends in CCAI (the agent was already on it).
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let played = driver.ivr_call_answered(rig.agent, "+15550107700").await;
    let bodies: Vec<Value> = played.events.iter().map(|e| e.body.clone()).collect();
    let batch = stream_event(&inbox_items(&bodies, now));

    let response = handle(&rig.api, batch.clone(), now.plus(Duration::from_secs(1))).await;
    assert!(failed(&response.unwrap()).is_empty());
    let ccai_status = rig
        .platforms
        .ccai
        .inspect(|w| w.agent_status(rig.agent))
        .unwrap();
    assert_eq!(ccai_status, "Break");
    assert_eq!(status_posts(&rig), 1);
    let state = rig
        .api
        .status
        .agent_state(&rig.email)
        .await
        .unwrap()
        .unwrap();
    assert!(state["state"]["pending"].is_null());

    // The stream redelivers the batch (a retry after a timeout): nothing happens twice.
    let again = handle(&rig.api, batch, now.plus(Duration::from_secs(2))).await;
    assert!(failed(&again.unwrap()).is_empty());
    assert_eq!(status_posts(&rig), 1, "R-E-2: applied once");
    for body in &bodies {
        let key = format!("sync#{}", body["event_id"].as_str().unwrap());
        let claim = rig
            .api
            .store
            .claim(&key, now, Duration::from_secs(1), Duration::from_secs(1))
            .await
            .unwrap();
        assert!(
            matches!(claim, Claim::Duplicate(ref r) if r.status == IdempotencyStatus::Completed),
            "{key}: {claim:?}"
        );
    }
}

#[tokio::test]
async fn r_e_5_a_failing_platform_fails_only_that_session_and_the_retry_applies_it() {
    let store: Arc<dyn StateStore> = Arc::new(EmbeddedStore::new());
    let rig = rig(store).await;
    let now = UnixMillis::now();
    change_during_call(&rig, now).await;
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(rig.agent, "+15550107701").await;
    // The agent's wrap-up submitted (the Final event ends the pending wait, finding 1).
    let ended = call
        .events
        .iter()
        .find(|e| e.stage == "Final")
        .unwrap()
        .body
        .clone();
    // An event for a chat CCAI does not know: the Manager API answers 404.
    let mut unknown = ended.clone();
    unknown["event_id"] = json!(bridge_tests::unique("evt"));
    unknown["item"] = json!({"chat_id": 999_999_999u64, "state": "disconnected"});
    let batch = stream_event(&inbox_items(&[unknown, ended], now));

    let response = handle(&rig.api, batch.clone(), now).await.unwrap();
    assert_eq!(
        failed(&response),
        vec!["1000"],
        "only the unknown chat fails"
    );
    assert_eq!(
        rig.platforms
            .ccai
            .inspect(|w| w.agent_status(rig.agent))
            .unwrap(),
        "Break"
    );

    // Its claim was released: a retry runs it again (and fails again), it is not "applied".
    let retry = handle(&rig.api, batch, now.plus(Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(failed(&retry), vec!["1000"]);
    assert_eq!(status_posts(&rig), 1);
}

/// A batch exactly as Lambda delivers it from the table's stream (shape taken from the AWS
/// documentation's DynamoDB example, with this table's items): a new inbox event, an update of
/// a lease item, a TTL removal, and an inbox item no intake could have written.
#[tokio::test]
async fn a_lambda_dynamodb_stream_event_fixture_is_handled_record_by_record() {
    let rig = rig(Arc::new(EmbeddedStore::new())).await;
    // The fixture's trigger names call 987; the sandbox's own call takes its place.
    let call = ScenarioDriver::new(&rig.platforms.ccai, None)
        .abandoned_call("+15550107702")
        .await;
    let fixture = include_str!("fixtures/dynamodb-stream-batch.json").replace(
        "{\"N\": \"987\"}",
        &format!("{{\"N\": \"{}\"}}", call.session_id),
    );
    let event: StreamEvent = serde_json::from_str(&fixture).unwrap();
    assert_eq!(event.records.len(), 4);
    let response = handle(&rig.api, event, UnixMillis::now()).await.unwrap();
    // Only the corrupt inbox item fails (it goes to the dead-letter queue after the retries).
    assert_eq!(failed(&response), vec!["400000000000000000004"]);
    // The trigger was reconciled (its call placed in Kustomer) and remembered.
    let claim = rig
        .api
        .store
        .claim(
            "sync#5c1a0e4e-6f3b-4d1e-9a37-0f2c8d1b7a10",
            UnixMillis::now(),
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
    assert!(matches!(claim, Claim::Duplicate(r) if r.status == IdempotencyStatus::Completed));
    assert_eq!(status_posts(&rig), 0);
}

fn break_applied(rig: &Rig) -> bool {
    rig.platforms
        .ccai
        .inspect(|w| w.agent_status(rig.agent))
        .as_deref()
        == Some("Break")
}

/// Review finding 1 (R-S-6, R-S-5): the agent picks Break in Kustomer during a call, the call
/// ends, and the wrap-up lasts 40 s. The End event finds the agent in Wrap-up (still pending);
/// CCAI then moves the agent to Available as the wrap-up is submitted, and the Final event
/// must apply Break: the move out of Wrap-up is CCAI's, not a later choice of the agent's.
#[tokio::test]
async fn finding_1_r_s_6_a_pending_change_survives_a_40_second_wrap_up() {
    let rig = rig(Arc::new(EmbeddedStore::new())).await;
    let now = UnixMillis::now();
    change_during_call(&rig, now).await;
    let mut driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    driver.hold_wrap_up = true;
    let played = driver.ivr_call_answered(rig.agent, "+15550107710").await;
    assert_eq!(played.types().last(), Some(&"End"));
    let bodies: Vec<Value> = played.events.iter().map(|e| e.body.clone()).collect();
    let response = handle(&rig.api, stream_event(&inbox_items(&bodies, now)), now).await;
    assert!(failed(&response.unwrap()).is_empty());
    assert_eq!(status_posts(&rig), 0, "still in Wrap-up: pending");

    let last = driver
        .submit_wrap_up(&played, rig.agent, Duration::from_secs(40))
        .await;
    let bodies: Vec<Value> = last.events.iter().map(|e| e.body.clone()).collect();
    let items = inbox_items(&bodies, now);
    let batch = bridge_tests::stream_support::inserts(&items, 2000);
    let response = handle(&rig.api, batch, now.plus(Duration::from_secs(41))).await;
    assert!(failed(&response.unwrap()).is_empty());
    assert!(
        break_applied(&rig),
        "the CRM change made during the call stands"
    );
    assert_eq!(status_posts(&rig), 1);
}

/// The other side of finding 1: after a 40 s wrap-up the agent picks Lunch in CCAI a minute
/// later. Under *latest wins* that choice is provably later than the CRM change: it stands.
#[tokio::test]
async fn finding_1_r_s_5_a_choice_made_in_ccai_after_the_wrap_up_still_wins() {
    let rig = rig(Arc::new(EmbeddedStore::new())).await;
    let now = UnixMillis::now();
    change_during_call(&rig, now).await;
    let mut driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    driver.hold_wrap_up = true;
    let played = driver.ivr_call_answered(rig.agent, "+15550107711").await;
    let last = driver
        .submit_wrap_up(&played, rig.agent, Duration::from_secs(40))
        .await;
    rig.platforms.ccai.change(|w| {
        w.pass(Duration::from_secs(60));
        w.move_agent(rig.agent, "Lunch", "agent");
    });
    let bodies: Vec<Value> = played
        .events
        .iter()
        .chain(&last.events)
        .map(|e| e.body.clone())
        .collect();
    let response = handle(&rig.api, stream_event(&inbox_items(&bodies, now)), now).await;
    assert!(failed(&response.unwrap()).is_empty());
    assert_eq!(status_posts(&rig), 0);
    assert_eq!(
        rig.platforms
            .ccai
            .inspect(|w| w.agent_status(rig.agent))
            .unwrap(),
        "Lunch"
    );
    let state = rig
        .api
        .status
        .agent_state(&rig.email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state["state"]["outcome"]["outcome"], "superseded");
}

/// Issue 27: the inbox worker hands every trigger of a session's files to its kind's queue
/// (the file workers read no stream); a hand-off SQS refused fails that record alone, so the
/// stream delivers it again and nothing is lost between the table and the queue.
#[tokio::test]
async fn issue_27_r_e_7_file_work_is_handed_to_its_queue_and_a_refused_hand_off_is_retried() {
    use bridge_shared::events::{SessionKind, SessionRef, SessionTrigger, TriggerSource};
    use bridge_shared::queue::FileQueue;
    use bridge_shared::queue::memory::MemoryQueues;
    let store: Arc<dyn StateStore> = Arc::new(EmbeddedStore::new());
    let mut rig = rig(store).await;
    let queues = Arc::new(MemoryQueues::default());
    rig.api.file_work = Some(queues.clone());
    let now = UnixMillis::now();
    let trigger = |id: &str, kind: SessionKind, hint: &str| SessionTrigger {
        id: id.into(),
        hint: hint.into(),
        occurred_at: chrono::Utc::now(),
        session: SessionRef { kind, id: 41 },
        source: TriggerSource::Storage,
        item: None,
        object: Some(format!("{hint}-object")),
    };
    let triggers = [
        trigger("push-1", SessionKind::Call, "call.file.recordings"),
        trigger("push-2", SessionKind::Chat, "chat.file.transcripts"),
        trigger("look-3", SessionKind::Call, "call.look.metadata"),
    ];
    let items: Vec<Item> = triggers
        .iter()
        .map(|t| bridge_intake::inbox_item(t, now).unwrap())
        .collect();
    let batch = stream_event(&items);
    let sequence = |i: usize| batch.records[i].change.sequence_number.clone().unwrap();

    // SQS refuses the recordings queue's send: that event fails (a young failure: Lambda
    // delivers it again), and its session's later event waits behind it, in order; the
    // chat's is not held back.
    queues.refuse_next_on(FileQueue::Recordings, 1);
    let answer = handle(&rig.api, batch.clone(), now).await.unwrap();
    assert_eq!(failed(&answer), vec![sequence(0), sequence(2)]);
    assert_eq!(queues.len(FileQueue::Recordings), 0);
    assert_eq!(queues.len(FileQueue::Transcripts), 1);

    // Delivered again, it is queued; the metadata look is the inbox worker's own, not queued.
    let answer = handle(&rig.api, batch, now).await.unwrap();
    assert!(failed(&answer).is_empty(), "{answer:?}");
    let recording = queues.receive(FileQueue::Recordings, 10);
    assert_eq!(recording.len(), 1);
    let sent: SessionTrigger = serde_json::from_str(&recording[0].body).unwrap();
    assert_eq!(sent, triggers[0]);
    assert_eq!(
        queues.sent(),
        3,
        "the transcript's twice (a redelivery), the recording's once"
    );
    assert_eq!(rig.platforms.kustomer.requests_to("POST", "/v1/"), 0);
}
