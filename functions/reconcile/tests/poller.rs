//! The session poller (R-E-4) against the CCAI sandbox: what it tails becomes inbox triggers,
//! each change once, the cursor only moving forward, a backlog caught up run by run without
//! skipping a session while the list changes under it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_reconcile::poller::{Listed, poll_sessions, polled_trigger};
use bridge_shared::UnixMillis;
use bridge_shared::events::{SessionTrigger, TriggerSource};
use bridge_shared::store::{ItemKey, StateStore};
use bridge_tests::ccai_sandbox::{CcaiSandbox, CcaiSandboxOptions, ScenarioDriver};
use bridge_tests::platforms::SandboxedPlatforms;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

const BUDGET: Duration = Duration::from_secs(10);

async fn stored_trigger(store: &dyn StateStore, id: &str) -> Option<SessionTrigger> {
    let item = store
        .get(&ItemKey::inbox(id), UnixMillis::now())
        .await
        .unwrap()?;
    Some(serde_json::from_value(item.body).unwrap())
}

#[tokio::test]
async fn r_e_4_every_change_since_the_cursor_becomes_one_inbox_trigger() {
    let platforms = SandboxedPlatforms::start().await.unwrap();
    let store: Arc<dyn StateStore> = Arc::new(bridge_tests::local::dynamo_store().await);
    let agent = platforms.add_agent(
        &format!("{}@example.com", bridge_tests::unique("ana")),
        "Ana",
        "Available",
    );
    // A tenant that sends no session events: the sessions only change state.
    let driver = ScenarioDriver::new(&platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550109901").await;
    let chat = driver
        .chat_with_transcript(agent, &bridge_tests::unique("web"), &[("end_user", "Hi")])
        .await;

    let first = poll_sessions(
        store.as_ref(),
        &platforms.ccai_client,
        UnixMillis::now(),
        BUDGET,
    )
    .await
    .unwrap();
    assert_eq!((first.calls_listed, first.chats_listed), (1, 1));
    assert_eq!(first.events_stored, 2);
    assert!(first.caught_up);

    // The stored triggers name the sessions, with ids from their update time.
    let call_now = platforms.ccai_client.call(call.session_id).await.unwrap();
    let expected = polled_trigger(&Listed::from(&call_now)).unwrap();
    let stored = stored_trigger(store.as_ref(), &expected.id).await.unwrap();
    assert_eq!(stored.hint, "call.ended");
    assert_eq!(stored.session.id, call.session_id);
    assert_eq!(stored.source, TriggerSource::Poller);
    let chat_now = platforms.ccai_client.chat(chat.session_id).await.unwrap();
    let expected = polled_trigger(&Listed::from(&chat_now)).unwrap();
    assert_eq!(
        stored_trigger(store.as_ref(), &expected.id)
            .await
            .unwrap()
            .hint,
        "chat.ended"
    );

    // The next poll re-reads the overlap: nothing new is stored.
    let second = poll_sessions(
        store.as_ref(),
        &platforms.ccai_client,
        UnixMillis::now(),
        BUDGET,
    )
    .await
    .unwrap();
    assert_eq!(second.events_stored, 0);
    assert_eq!(second.already_stored, 2);

    // A new session, and an old one that changed again (rated), are new triggers.
    let later = driver.abandoned_call("+15550109902").await;
    driver.csat("call", call.session_id, 4, None);
    let third = poll_sessions(
        store.as_ref(),
        &platforms.ccai_client,
        UnixMillis::now(),
        BUDGET,
    )
    .await
    .unwrap();
    assert_eq!(third.events_stored, 2, "{third:?}");
    let later_now = platforms.ccai_client.call(later.session_id).await.unwrap();
    let expected = polled_trigger(&Listed::from(&later_now)).unwrap();
    assert!(stored_trigger(store.as_ref(), &expected.id).await.is_some());
}

#[tokio::test]
async fn r_e_4_the_cursor_never_moves_back() {
    let platforms = SandboxedPlatforms::start().await.unwrap();
    let store: Arc<dyn StateStore> = Arc::new(bridge_shared::store::EmbeddedStore::new());
    let driver = ScenarioDriver::new(&platforms.ccai, None);
    driver.abandoned_call("+15550109903").await;
    poll_sessions(
        store.as_ref(),
        &platforms.ccai_client,
        UnixMillis::now(),
        BUDGET,
    )
    .await
    .unwrap();
    let cursor = |store: Arc<dyn StateStore>| async move {
        store
            .get(&ItemKey::config("CURSOR#calls"), UnixMillis::now())
            .await
            .unwrap()
            .unwrap()
            .version
    };
    let advanced = cursor(store.clone()).await;
    assert!(advanced > 0);
    // A run that lists nothing (an empty tenant) leaves it where it was.
    let empty = SandboxedPlatforms::start().await.unwrap();
    poll_sessions(
        store.as_ref(),
        &empty.ccai_client,
        UnixMillis::now(),
        BUDGET,
    )
    .await
    .unwrap();
    assert_eq!(cursor(store.clone()).await, advanced);
}

/// `count` calls finished in the sandbox, updated one after another (an outage's backlog).
fn backlog(sandbox: &CcaiSandbox, count: usize) -> Vec<u64> {
    sandbox.change(|world| {
        (0..count)
            .map(|_| {
                let id = world.new_id();
                let now = world.now();
                world
                    .calls
                    .push(json!({"id": id, "call_type": "Voice Inbound (IVR)",
                    "status": "finished", "created_at": now, "updated_at": now}));
                id
            })
            .collect()
    })
}

#[tokio::test]
async fn r_e_4_a_3000_session_backlog_is_caught_up_over_runs_without_skipping_one() {
    // A slow platform (a page takes 400 ms: over 30 pages, more than one 10 s run) whose list
    // changes while it is read: after each page, ten of the sessions it returned are updated
    // again and move to the end.
    let sandbox = CcaiSandbox::start(CcaiSandboxOptions {
        list_delay: Some(Duration::from_millis(400)),
        list_churn: 10,
        ..Default::default()
    })
    .await
    .unwrap();
    let ccai = bridge_tests::ccai_support::client(&sandbox);
    let store: Arc<dyn StateStore> = Arc::new(bridge_tests::local::dynamo_store().await);
    let ids = backlog(&sandbox, 3000);

    let mut runs = Vec::new();
    loop {
        let started = std::time::Instant::now();
        let run = poll_sessions(store.as_ref(), &ccai, UnixMillis::now(), BUDGET)
            .await
            .unwrap();
        // The budget bounds the run (a page already asked for is finished).
        assert!(
            started.elapsed() < BUDGET + Duration::from_secs(3),
            "{run:?}"
        );
        let done = run.caught_up;
        runs.push(run);
        if done || runs.len() == 6 {
            break;
        }
    }
    assert!(runs.last().unwrap().caught_up, "{runs:?}");
    assert!(
        runs.len() >= 2,
        "the backlog takes more than one run: {runs:?}"
    );

    // Every session of the backlog reached the inbox, at its last update at the latest.
    let stored: HashSet<u64> = {
        let calls: Vec<serde_json::Value> = sandbox.inspect(|w| w.calls.clone());
        let mut found = HashSet::new();
        for call in calls {
            let call: bridge_shared::ccai::model::Call = serde_json::from_value(call).unwrap();
            let trigger = polled_trigger(&Listed::from(&call)).unwrap();
            if stored_trigger(store.as_ref(), &trigger.id).await.is_some() {
                found.insert(call.id);
            }
        }
        found
    };
    let missing: Vec<&u64> = ids.iter().filter(|id| !stored.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "{} skipped, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let moved = sandbox.inspect(|w| w.churned.len());
    assert!(
        moved >= 100,
        "the list changed while it was read ({moved} moved)"
    );
}
