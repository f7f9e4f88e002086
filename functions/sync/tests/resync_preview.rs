//! A resync's dry run (issue 29, R-ADM-2): the inbox worker lists every step a resync would
//! take for a session — from the same fresh truth — and writes nothing to either platform;
//! the resync then takes exactly those steps, and a second dry run finds nothing left.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use bridge_shared::UnixMillis;
use bridge_shared::conversation::report::{PREVIEW, preview_trigger, resync_trigger};
use bridge_shared::events::{SessionKind, SessionRef};
use bridge_shared::store::ItemKey;
use bridge_tests::ccai_sandbox::ScenarioDriver;
use support::{Rig, rig};

/// Writes each platform received so far (a search is a read).
fn writes(rig: &Rig) -> (usize, usize) {
    let kustomer = rig.platforms.kustomer.inspect(|w| {
        w.requests
            .iter()
            .filter(|r| r.method != "GET" && !r.path.ends_with("/search"))
            .count()
    });
    let ccai = rig
        .platforms
        .ccai
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count();
    (kustomer, ccai)
}

async fn dry_run(rig: &Rig, session: &SessionRef) -> Vec<String> {
    let kept = dry_run_record(rig, session).await;
    serde_json::from_value(kept["steps"].clone()).unwrap()
}

/// Delivers one dry run's trigger and reads the record it left (`SESSION#…/PREVIEW`), checking
/// it is this run's.
async fn dry_run_record(rig: &Rig, session: &SessionRef) -> serde_json::Value {
    let trigger = preview_trigger(session, UnixMillis::now());
    rig.deliver_triggers_to(&rig.api, std::slice::from_ref(&trigger))
        .await;
    let key = ItemKey::new(
        format!("SESSION#{}#{}", session.kind.as_str(), session.id),
        PREVIEW,
    );
    let kept = rig
        .api
        .store
        .get(&key, UnixMillis::now())
        .await
        .unwrap()
        .expect("the dry run's record is kept");
    assert_eq!(
        kept.body["trigger"],
        trigger.id.as_str(),
        "this run's record"
    );
    kept.body
}

fn rating_notes(rig: &Rig) -> usize {
    rig.platforms.kustomer.inspect(|w| {
        w.notes
            .iter()
            .filter(|n| {
                n.text("body")
                    .is_some_and(|b| b.starts_with("Customer rating"))
            })
            .count()
    })
}

#[tokio::test]
async fn r_adm_2_a_dry_run_lists_what_a_resync_would_write_and_writes_nothing() {
    let rig = rig().await;
    let (agent, _) = rig.agent("dana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550108411").await;
    rig.deliver(&call).await;
    let session = SessionRef {
        kind: SessionKind::Call,
        id: call.session_id,
    };
    // Everything the call brought is written: nothing left to do.
    assert_eq!(dry_run(&rig, &session).await, Vec::<String>::new());

    // The customer rates the call later; no event tells the bridge (the Manager API object
    // changes, nothing else).
    driver.csat("call", call.session_id, 4, None);
    let before = writes(&rig);
    let steps = dry_run(&rig, &session).await;
    assert_eq!(steps, vec!["write the note csat".to_owned()]);
    assert_eq!(writes(&rig), before, "a dry run writes to neither platform");
    assert_eq!(rating_notes(&rig), 0);

    // The resync takes that step, once; then nothing is left.
    rig.deliver_triggers_to(&rig.api, &[resync_trigger(&session, UnixMillis::now())])
        .await;
    assert_eq!(rating_notes(&rig), 1);
    assert_eq!(dry_run(&rig, &session).await, Vec::<String>::new());
    // The timeline says what each dry run found, without the caller's number.
    let report = rig.report(&call).await;
    let decisions: Vec<String> = report["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["decisions"].as_array().cloned().unwrap_or_default())
        .filter_map(|d| d.as_str().map(str::to_owned))
        .collect();
    assert!(
        decisions
            .iter()
            .any(|d| d == "dry run: a resync would take 1 step(s)"),
        "{decisions:?}"
    );
    assert!(
        decisions.iter().all(|d| !d.contains("0108411")),
        "{decisions:?}"
    );
    assert_eq!(
        report["preview"]["steps"],
        serde_json::json!([]),
        "the report shows the latest dry run"
    );
}

/// Review of 0587da5: a dry run that cannot read the truth says so in its record; it is not
/// work, so nothing is retried, kept for the scheduled run or dead-lettered, and nothing is
/// written.
#[tokio::test]
async fn r_adm_2_a_dry_run_that_fails_is_recorded_and_not_retried() {
    use bridge_shared::stream::failures::{dead_letters, requeue_due};
    let rig = rig().await;
    let (agent, _) = rig.agent("erin");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550108412").await;
    rig.deliver(&call).await;
    let session = SessionRef {
        kind: SessionKind::Call,
        id: call.session_id,
    };
    // CCAI Platform answers every request with a server error from now on.
    rig.platforms.ccai.reconfigure(|options| {
        options.faults = Some(bridge_tests::ccai_sandbox::CcaiFaultRates {
            server_error: 1.0,
            seed: 7,
            ..Default::default()
        });
    });
    let before = writes(&rig);
    // No record of the batch fails (the helper asserts it): the stream does not retry it.
    let kept = dry_run_record(&rig, &session).await;
    assert_eq!(kept["steps"], serde_json::json!([]));
    assert!(
        kept["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{kept}"
    );
    assert_eq!(writes(&rig).0, before.0, "nothing written to Kustomer");
    let store = rig.api.store.as_ref();
    let far = UnixMillis::now().plus(std::time::Duration::from_secs(7 * 24 * 3600));
    assert_eq!(
        requeue_due(store, far).await.unwrap().waiting,
        0,
        "not kept for a retry"
    );
    assert!(
        dead_letters(store, far).await.unwrap().is_empty(),
        "not dead-lettered"
    );
}
