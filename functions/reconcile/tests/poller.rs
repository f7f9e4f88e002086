//! The session poller (R-E-4) against the CCAI sandbox: what it lists becomes inbox events,
//! each change once, the cursor only moving forward.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_reconcile::poller::{Listed, poll_sessions, polled_event};
use bridge_shared::UnixMillis;
use bridge_shared::events::SessionEvent;
use bridge_shared::store::{ItemKey, StateStore};
use bridge_tests::ccai_sandbox::ScenarioDriver;
use bridge_tests::platforms::SandboxedPlatforms;
use std::sync::Arc;

async fn stored_event(store: &dyn StateStore, id: &str) -> Option<SessionEvent> {
    let item = store
        .get(&ItemKey::inbox(id), UnixMillis::now())
        .await
        .unwrap()?;
    Some(serde_json::from_value(item.body).unwrap())
}

#[tokio::test]
async fn r_e_4_every_change_since_the_cursor_becomes_one_inbox_event() {
    let platforms = SandboxedPlatforms::start().await.unwrap();
    let store: Arc<dyn StateStore> = Arc::new(bridge_tests::local::dynamo_store().await);
    let agent = platforms.add_agent(
        &format!("{}@example.com", bridge_tests::unique("ana")),
        "Ana",
        "Available",
    );
    // A tenant that sends no webhooks: the sessions only change state.
    let driver = ScenarioDriver::new(&platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550109901").await;
    let chat = driver
        .chat_with_transcript(agent, &bridge_tests::unique("web"), &[("end_user", "Hi")])
        .await;

    let first = poll_sessions(store.as_ref(), &platforms.ccai_client, UnixMillis::now())
        .await
        .unwrap();
    assert_eq!((first.calls_listed, first.chats_listed), (1, 1));
    assert_eq!(first.events_stored, 2);

    // The stored events are the sessions' latest stage, with ids from their update time.
    let call_now = platforms.ccai_client.call(call.session_id).await.unwrap();
    let expected = polled_event(&Listed::from(&call_now)).unwrap();
    let stored = stored_event(store.as_ref(), &expected.id).await.unwrap();
    assert_eq!(stored.event_type, "call.ended");
    assert_eq!(stored.session.id, call.session_id);
    assert_eq!(stored.data.unwrap()["source"], "poller");
    let chat_now = platforms.ccai_client.chat(chat.session_id).await.unwrap();
    let expected = polled_event(&Listed::from(&chat_now)).unwrap();
    assert_eq!(
        stored_event(store.as_ref(), &expected.id)
            .await
            .unwrap()
            .event_type,
        "chat.ended"
    );

    // The next poll re-reads the overlap: nothing new is stored.
    let second = poll_sessions(store.as_ref(), &platforms.ccai_client, UnixMillis::now())
        .await
        .unwrap();
    assert_eq!(second.events_stored, 0);
    assert_eq!(second.already_stored, 2);

    // A new session, and an old one that changed again, are new events.
    let later = driver.abandoned_call("+15550109902").await;
    platforms.ccai.change(|w| {
        w.update_session("call", call.session_id, |s| {
            s.insert("status".into(), "finished".into());
        })
    });
    let third = poll_sessions(store.as_ref(), &platforms.ccai_client, UnixMillis::now())
        .await
        .unwrap();
    assert_eq!(third.events_stored, 2, "{third:?}");
    let later_now = platforms.ccai_client.call(later.session_id).await.unwrap();
    let expected = polled_event(&Listed::from(&later_now)).unwrap();
    assert!(stored_event(store.as_ref(), &expected.id).await.is_some());
}

#[tokio::test]
async fn r_e_4_the_cursor_never_moves_back() {
    let platforms = SandboxedPlatforms::start().await.unwrap();
    let store: Arc<dyn StateStore> = Arc::new(bridge_shared::store::EmbeddedStore::new());
    let driver = ScenarioDriver::new(&platforms.ccai, None);
    driver.abandoned_call("+15550109903").await;
    poll_sessions(store.as_ref(), &platforms.ccai_client, UnixMillis::now())
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
    poll_sessions(store.as_ref(), &empty.ccai_client, UnixMillis::now())
        .await
        .unwrap();
    assert_eq!(cursor(store.clone()).await, advanced);
}
