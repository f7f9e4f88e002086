//! Shadow mode in the inbox worker (R-F-2): a session is planned and nothing is written to
//! either platform; switched back to live, the worker leaves the planned session alone until
//! an admin resyncs it (no backlog replayed into Kustomer unasked).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use bridge_shared::UnixMillis;
use bridge_shared::conversation::report::resync_trigger;
use bridge_shared::events::{SessionKind, SessionRef, SessionTrigger};
use bridge_shared::shadow::plan::{self, PlannedConversation, PlannedCustomer};
use bridge_sync::SyncApi;
use bridge_tests::ccai_sandbox::ScenarioDriver;
use serde_json::json;
use support::{Rig, rig};

async fn deliver(rig: &Rig, api: &SyncApi, triggers: &[SessionTrigger]) {
    rig.deliver_triggers_to(api, triggers).await;
}

fn ccai_writes(rig: &Rig) -> usize {
    rig.platforms
        .ccai
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count()
}

#[tokio::test]
async fn r_f_2_a_session_in_shadow_mode_is_planned_and_nothing_is_written() {
    let rig = rig().await;
    let (agent, user) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550108971").await;
    let shadow = rig.shadow_api();
    deliver(&rig, &shadow, &call.triggers()).await;
    assert_eq!(rig.writes(), 0, "nothing written to Kustomer");
    assert_eq!(ccai_writes(&rig), 0, "nothing written to CCAI");
    let session = SessionRef {
        kind: SessionKind::Call,
        id: call.session_id,
    };
    let planned = plan::load(rig.api.store.as_ref(), &session, UnixMillis::now())
        .await
        .unwrap()
        .expect("the session's plan");
    assert!(matches!(planned.customer, PlannedCustomer::Create { .. }));
    assert!(matches!(
        planned.conversation,
        PlannedConversation::Create {
            voicemail: false,
            ..
        }
    ));
    assert_eq!(planned.assignee.as_deref(), Some(user.as_str()));
    assert_eq!(planned.channel, "voice");
    assert!(planned.notes.contains(&"phone".to_owned()));

    // Back to live: a later trigger of that session (a poll, a late event) writes nothing …
    rig.deliver_poll(&call).await;
    assert_eq!(rig.writes(), 0, "no backlog replayed into Kustomer");
    assert!(rig.conversations().is_empty());
    // … until an admin resyncs it — here its retry, as the scheduled run re-stores a resync
    // that failed once.
    let resync = resync_trigger(&session, UnixMillis::now());
    let retried = SessionTrigger {
        id: format!("retry-1-bridge-sync/{}", resync.id),
        ..resync
    };
    deliver(&rig, &rig.api, &[retried]).await;
    assert_eq!(rig.conversations().len(), 1, "the resync writes it");
}

#[tokio::test]
async fn r_f_2_a_session_going_on_at_the_switch_is_written_live() {
    let rig = rig().await;
    let (agent, _) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550108972").await;
    let (before, after): (Vec<_>, Vec<_>) = call
        .triggers()
        .into_iter()
        .partition(|t| t.hint != "call.ended");
    assert!(!after.is_empty());
    // Shadow mode sees the call while it goes on (the platform shows it connected) …
    let id = call.session_id;
    let over = rig.platforms.ccai.inspect(|w| w.call(id).unwrap().clone());
    rig.platforms.ccai.change(|w| {
        w.update_session("call", id, |c| {
            c.insert("status".into(), json!("connected"));
            c.insert("ends_at".into(), json!(null));
        })
    });
    deliver(&rig, &rig.shadow_api(), &before).await;
    assert_eq!(rig.writes(), 0);
    // … the switch to live comes before it ends.
    rig.platforms.ccai.change(|w| {
        w.update_session("call", id, |c| {
            c.insert("status".into(), over["status"].clone());
            c.insert("ends_at".into(), over["ends_at"].clone());
        })
    });
    deliver(&rig, &rig.api, &after).await;
    assert_eq!(
        rig.conversations().len(),
        1,
        "the live bridge logs a session that ended after the switch"
    );
}

#[tokio::test]
async fn r_f_2_an_agents_status_in_shadow_mode_is_recorded_not_set() {
    use bridge_shared::status::agent_state::Outcome;
    use bridge_shared::status::{PriorityMode, StatusMapping};
    let rig = rig().await;
    let (agent, _) = rig.agent("ana");
    let email = rig.platforms.ccai.inspect(|w| {
        w.agents
            .iter()
            .find(|a| a.id == agent)
            .map(|a| a.email.clone())
            .unwrap()
    });
    let shadow = rig.shadow_api();
    let lunch = rig.platforms.kustomer.status_id("Lunch").unwrap();
    shadow
        .status
        .save_mapping(&StatusMapping {
            priority: PriorityMode::LatestWins,
            ..bridge_tests::ccai_sandbox::state::mapping_by_name(&[(lunch, "Break")])
        })
        .await
        .unwrap();
    let user = rig.platforms.kustomer_user(&email).unwrap();
    rig.platforms
        .kustomer
        .set_work_session(&user, "Lunch")
        .unwrap();
    let told = shadow
        .status
        .report(&email, UnixMillis::now())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&told.outcome, Outcome::Shadow { ccai_status, .. } if ccai_status == "Break"),
        "{told:?}"
    );
    assert!(told.outcome.describe().contains("would set Break"));
    assert_eq!(ccai_writes(&rig), 0, "nothing set in CCAI");
    let status = rig.platforms.ccai.inspect(|w| {
        w.agents
            .iter()
            .find(|a| a.id == agent)
            .map(|a| a.status.clone())
            .unwrap()
    });
    assert_eq!(status, "Available");
}
