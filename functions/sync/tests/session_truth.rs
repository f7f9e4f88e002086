//! A session is read from the Manager API once per change, not once per trigger (R-E-5;
//! issue 25: the tenant's 10 requests a second bound a busy contact center): the triggers
//! that cannot bring a newer object are served from the one kept; those that can are read.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use bridge_shared::events::{SessionKind, SessionRef, SessionTrigger, TriggerSource};
use bridge_tests::ccai_sandbox::{Played, ScenarioDriver};
use serde_json::json;
use support::{Rig, rig};

fn reads(rig: &Rig, played: &Played) -> usize {
    rig.platforms
        .ccai
        .requests()
        .iter()
        .filter(|r| r.path.ends_with(&format!("/calls/{}", played.session_id)))
        .count()
}

/// The call's `updated_at` as the platform lists it, in ms.
fn listed_version(rig: &Rig, played: &Played) -> chrono::DateTime<chrono::Utc> {
    let text = rig.platforms.ccai.inspect(|w| {
        w.call(played.session_id).unwrap()["updated_at"]
            .as_str()
            .unwrap()
            .to_owned()
    });
    chrono::DateTime::parse_from_rfc3339(&text)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// One trigger as the poller (`poll-…`) or an admin's resync (`resync-…`) stores it.
async fn deliver(
    rig: &Rig,
    played: &Played,
    id: String,
    occurred_at: chrono::DateTime<chrono::Utc>,
) {
    let trigger = SessionTrigger {
        id,
        hint: "call.ended".into(),
        occurred_at,
        session: SessionRef {
            kind: SessionKind::Call,
            id: played.session_id,
        },
        source: TriggerSource::Poller,
        item: None,
        object: None,
    };
    rig.deliver_triggers_to(&rig.api, &[trigger]).await;
}

fn poll_id(played: &Played, at: chrono::DateTime<chrono::Utc>) -> String {
    format!("poll-call-{}-{}", played.session_id, at.timestamp_millis())
}

#[tokio::test]
async fn r_e_5_a_session_is_read_once_per_change_not_once_per_trigger() {
    let rig = rig().await;
    let (agent, _) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550108990").await;
    rig.deliver(&call).await;
    assert_eq!(reads(&rig, &call), 1, "one batch, one read");

    // The poller lists the change ESE brought: the kept object is that version.
    let listed = listed_version(&rig, &call);
    deliver(&rig, &call, poll_id(&call, listed), listed).await;
    assert_eq!(
        reads(&rig, &call),
        1,
        "a poll of the kept version reads nothing"
    );
    // A poll of an older version (the poller's overlap) neither.
    let older = listed - chrono::Duration::seconds(5);
    deliver(&rig, &call, poll_id(&call, older), older).await;
    assert_eq!(reads(&rig, &call), 1);

    // An admin's resync says "it may have changed": read.
    deliver(
        &rig,
        &call,
        format!("resync-call-{}-1", call.session_id),
        listed,
    )
    .await;
    assert_eq!(reads(&rig, &call), 2, "a resync reads");

    // The call changes after its end (any change moves `updated_at`): the poller lists a
    // newer version, which is read.
    rig.platforms.ccai.change(|w| {
        w.update_session("call", call.session_id, |s| {
            s.insert("has_feedback".into(), json!(true));
        })
    });
    let newer = listed_version(&rig, &call);
    assert!(newer > listed);
    deliver(&rig, &call, poll_id(&call, newer), newer).await;
    assert_eq!(reads(&rig, &call), 3, "a newer version is read");
    deliver(&rig, &call, poll_id(&call, newer), newer).await;
    deliver(
        &rig,
        &call,
        format!("{}-again", poll_id(&call, newer)),
        newer,
    )
    .await;
    assert_eq!(reads(&rig, &call), 3, "and then kept");
}
