//! A resync's dry run (issue 29, R-ADM-2): the inbox worker lists every step a resync would
//! take for a session — from the same fresh truth — and writes nothing to either platform;
//! the resync then takes exactly those steps, and a second dry run finds nothing left.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use bridge_shared::UnixMillis;
use bridge_shared::conversation::report::{PREVIEW, preview_trigger, resync_trigger};
use bridge_shared::events::{SessionKind, SessionRef};
use bridge_shared::store::{Item, ItemKey};
use bridge_sync::{LEFT_TO_SHADOW, SHADOW_RESYNC, SyncApi};
use bridge_tests::ccai_sandbox::{Played, ScenarioDriver};
use support::{Rig, rig};

/// Writes each platform received so far (a search is a read).
fn writes(rig: &Rig) -> (usize, usize) {
    let writes = rig.platforms.writes_since((0, 0));
    let kustomer = writes.iter().filter(|w| w.0 == "kustomer").count();
    (kustomer, writes.len() - kustomer)
}

async fn dry_run(rig: &Rig, session: &SessionRef) -> Vec<String> {
    dry_run_on(rig, &rig.api, session).await
}

/// A dry run by this worker (`api`: live or shadow mode).
async fn dry_run_on(rig: &Rig, api: &SyncApi, session: &SessionRef) -> Vec<String> {
    let kept = dry_run_item(rig, api, session).await.body;
    serde_json::from_value(kept["steps"].clone()).unwrap()
}

async fn dry_run_record(rig: &Rig, session: &SessionRef) -> serde_json::Value {
    dry_run_item(rig, &rig.api, session).await.body
}

/// Delivers one dry run's trigger and reads the record it left (`SESSION#…/PREVIEW`), checking
/// it is this run's.
async fn dry_run_item(rig: &Rig, api: &SyncApi, session: &SessionRef) -> Item {
    // A dry run's trigger is named by its millisecond (two clicks in one are one dry run):
    // each of a test's dry runs gets a millisecond of its own.
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let trigger = preview_trigger(session, UnixMillis::now());
    rig.deliver_triggers_to(api, std::slice::from_ref(&trigger))
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
    kept
}

/// An answered IVR call from `phone`, taken by a new agent `name`, and its session; nothing
/// delivered yet.
async fn answered_call<'a>(
    rig: &'a Rig,
    name: &str,
    phone: &str,
) -> (ScenarioDriver<'a>, Played, SessionRef) {
    let (agent, _) = rig.agent(name);
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, phone).await;
    let session = SessionRef {
        kind: SessionKind::Call,
        id: call.session_id,
    };
    (driver, call, session)
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
    let (driver, call, session) = answered_call(&rig, "dana", "+15550108411").await;
    rig.deliver(&call).await;
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
    let (_, call, session) = answered_call(&rig, "erin", "+15550108412").await;
    rig.deliver(&call).await;
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

/// The dry run models what the live pass does on a refusal (`forget_gone`): a conversation an
/// agent deleted since is found out only by a write, so with nothing due a resync changes
/// nothing; with a step due the first write is refused, and the session is placed again.
#[tokio::test]
async fn r_adm_2_a_dry_run_sees_a_conversation_deleted_since_and_the_session_placed_again() {
    let rig = rig().await;
    let (driver, call, session) = answered_call(&rig, "fay", "+15550108413").await;
    rig.deliver(&call).await;
    let deleted = rig.conversation_of(&call);
    rig.platforms.kustomer.delete_conversation(&deleted.id);
    assert_eq!(
        dry_run(&rig, &session).await,
        Vec::<String>::new(),
        "nothing due: nothing finds it gone"
    );

    driver.csat("call", call.session_id, 3, None);
    let before = writes(&rig);
    let steps = dry_run(&rig, &session).await;
    assert!(
        steps[0].starts_with(&format!(
            "the conversation {} the session records is gone from Kustomer",
            deleted.id
        )),
        "{steps:?}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("create a conversation") && s.contains(" — R-T-2")),
        "{steps:?}"
    );
    for step in ["write the session's message", "write the note csat"] {
        assert!(
            steps.iter().any(|s| s.starts_with(step)),
            "{step:?} missing: {steps:?}"
        );
    }
    assert_eq!(writes(&rig), before, "a dry run writes to neither platform");

    // The resync does what it said: placed again, the rating on the new conversation.
    rig.deliver_triggers_to(&rig.api, &[resync_trigger(&session, UnixMillis::now())])
        .await;
    let replaced = rig.conversation_of(&call);
    assert_ne!(replaced.id, deleted.id);
    assert_eq!(rating_notes(&rig), 1);
    assert_eq!(dry_run(&rig, &session).await, Vec::<String>::new());
}

/// Shadow mode (R-F-2) in a dry run: there a resync only plans, and the dry run says so
/// without reading anything; back in live mode, a session left to shadow mode is written
/// only by a resync, and the dry run lists that resync's steps under that heading. The
/// record is kept as long as the audit (`AUDIT_DAYS`, review of 0587da5).
#[tokio::test]
async fn r_adm_2_r_f_2_a_dry_run_in_shadow_mode_says_a_resync_only_plans() {
    let rig = rig().await;
    let (_, call, session) = answered_call(&rig, "gus", "+15550108414").await;
    let shadow = rig.shadow_api();
    rig.deliver_triggers_to(&shadow, &call.triggers()).await;
    let (kustomer_requests, ccai_requests) = (
        rig.platforms.kustomer.request_count(),
        rig.platforms.ccai.requests().len(),
    );
    let at = UnixMillis::now();
    let record = dry_run_item(&rig, &shadow, &session).await;
    assert_eq!(record.body["steps"], serde_json::json!([SHADOW_RESYNC]));
    assert_eq!(
        (
            rig.platforms.kustomer.request_count(),
            rig.platforms.ccai.requests().len()
        ),
        (kustomer_requests, ccai_requests),
        "in shadow mode the dry run asks neither platform"
    );
    let kept_until = record.expires_at.expect("the record expires");
    let audit_days = bridge_shared::audit::DEFAULT_KEPT;
    assert!(
        kept_until >= at.plus(audit_days) && kept_until <= UnixMillis::now().plus(audit_days),
        "kept AUDIT_DAYS"
    );

    // Back in live mode: only a resync writes this session, and the dry run says so first.
    let before = writes(&rig);
    let steps = dry_run(&rig, &session).await;
    assert_eq!(steps[0], LEFT_TO_SHADOW, "{steps:?}");
    assert_eq!(
        steps[1],
        "create a customer for the caller's number, the answering agent on it (R-K-3)"
    );
    assert_eq!(writes(&rig), before);
    rig.deliver_triggers_to(&rig.api, &[resync_trigger(&session, UnixMillis::now())])
        .await;
    assert_eq!(rig.conversations().len(), 1, "the resync writes it");
    assert_eq!(dry_run(&rig, &session).await, Vec::<String>::new());
}

/// Review of 0587da5: a withheld number is no customer to find — the pass makes a customer
/// of its own for the session ("Unknown caller", R-D-2), which is then the session's for
/// R-K-3. The dry run says the same, before anything was written.
#[tokio::test]
async fn r_adm_2_r_k_3_a_withheld_caller_is_a_customer_made_for_the_session() {
    let rig = rig().await;
    let (_, _, session) = answered_call(&rig, "hal", "anonymous").await;
    let before = writes(&rig);
    let steps = dry_run(&rig, &session).await;
    assert_eq!(
        steps[0], "create a customer \"Unknown caller\" for this session",
        "{steps:?}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s == "record the answering agent on the customer (R-K-3)"),
        "{steps:?}"
    );
    assert_eq!(writes(&rig), before);
    rig.deliver_triggers_to(&rig.api, &[resync_trigger(&session, UnixMillis::now())])
        .await;
    assert_eq!(dry_run(&rig, &session).await, Vec::<String>::new());
}

/// Review of 3f2bc33: a customer merged away while its conversation stands (the merge moves
/// it to the survivor) is found out only by a write to the customer. A due note goes to the
/// conversation, which Kustomer still has: the dry run lists the note alone, as the resync
/// then writes it — no placement again.
#[tokio::test]
async fn r_adm_2_a_merged_customer_is_not_found_out_by_a_write_to_its_conversation() {
    let rig = rig().await;
    let (driver, call, session) = answered_call(&rig, "ida", "+15550108416").await;
    rig.deliver(&call).await;
    let conversation = rig.conversation_of(&call);
    let merged = conversation.related("customer").unwrap().to_owned();
    let survivor = rig
        .platforms
        .kustomer_client
        .create_customer(&bridge_shared::kustomer::requests::NewCustomer {
            name: Some("Ida's customer (kept)".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    rig.platforms.kustomer.merge_customers(&merged, &survivor);
    driver.csat("call", call.session_id, 2, None);
    let steps = dry_run(&rig, &session).await;
    assert_eq!(steps, vec!["write the note csat".to_owned()]);
    rig.deliver_triggers_to(&rig.api, &[resync_trigger(&session, UnixMillis::now())])
        .await;
    assert_eq!(
        rig.conversation_of(&call).id,
        conversation.id,
        "not placed again"
    );
    assert_eq!(rating_notes(&rig), 1);
}

/// Review of d15323d (a gap older than the dry run): an agent merges the session's customer
/// into another, which now holds the session's conversation. A write due to the merged
/// customer (R-K-3's, left due) is refused; the pass then keeps the session in its
/// conversation under the customer that holds it — it used to forget the conversation too,
/// and write the session's message and notes again in a new one. The dry run says so first.
#[tokio::test]
async fn r_k_3_r_adm_2_a_merged_customer_keeps_the_session_in_its_conversation() {
    use bridge_shared::store::Item;
    let rig = rig().await;
    let (_, call, session) = answered_call(&rig, "jo", "+15550108417").await;
    rig.deliver(&call).await;
    let conversation = rig.conversation_of(&call);
    let merged = conversation.related("customer").unwrap().to_owned();
    // R-K-3 left due, as after a first attempt that could not be made.
    let store = rig.api.store.as_ref();
    let key = ItemKey::session_link(SessionKind::Call, call.session_id);
    let mut link = store
        .get(&key, UnixMillis::now())
        .await
        .unwrap()
        .unwrap()
        .body;
    assert_eq!(link["customer_created"], true);
    link["customer_assigned"] = false.into();
    store.put(&Item::new(key.clone(), link)).await.unwrap();
    let survivor = rig
        .platforms
        .kustomer_client
        .create_customer(&bridge_shared::kustomer::requests::NewCustomer {
            name: Some("Jo's customer (kept)".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    rig.platforms.kustomer.merge_customers(&merged, &survivor);

    let steps = dry_run(&rig, &session).await;
    assert!(
        steps[0].starts_with(&format!(
            "the customer {merged} the session records was merged into {survivor}"
        )),
        "{steps:?}"
    );
    assert!(
        steps
            .iter()
            .all(|s| !s.starts_with("create a conversation")),
        "{steps:?}"
    );

    rig.deliver_triggers_to(&rig.api, &[resync_trigger(&session, UnixMillis::now())])
        .await;
    let session_messages = rig.platforms.kustomer.inspect(|w| {
        w.messages
            .iter()
            .filter(|m| {
                m.text("externalId") == Some(&format!("ccai-call-{}-session", call.session_id))
            })
            .count()
    });
    assert_eq!(
        session_messages, 1,
        "the session's message is not written again"
    );
    let link = store
        .get(&key, UnixMillis::now())
        .await
        .unwrap()
        .unwrap()
        .body;
    assert_eq!(link["conversation_id"], conversation.id.as_str());
    assert_eq!(link["customer_id"], survivor.as_str());
    assert_eq!(dry_run(&rig, &session).await, Vec::<String>::new());
}
