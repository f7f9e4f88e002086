//! Contact sync end to end: sessions played in the CCAI sandbox, their events stored as the
//! intake stores them, delivered as stream batches to the worker, and the outcome read from the
//! Kustomer sandbox. One test per rule (R-T, R-U, R-K, R-D).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use bridge_shared::UnixMillis;
use bridge_shared::events::SessionKind;
use bridge_shared::store::EmbeddedStore;
use bridge_sync::handle;
use bridge_tests::ccai_sandbox::{CcaiSandboxOptions, FileDelays, Played, ScenarioDriver};
use bridge_tests::kustomer_sandbox::state::Record;
use bridge_tests::kustomer_sandbox::{Fault, FaultMatch};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use support::{rig, rig_on, rig_with};

fn assigned(conversation: &Record) -> Vec<String> {
    serde_json::from_value(conversation.attributes["assignedUsers"].clone()).unwrap_or_default()
}

#[tokio::test]
async fn r_t_2_r_k_1_r_u_12_r_d_2_r_k_3_an_answered_ivr_call_from_a_new_number() {
    let rig = rig().await;
    let (agent, user) = rig.agent("ana");
    let phone = "+15550108801";
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, phone).await;
    rig.deliver(&call).await;

    let customers = rig.customers_with_phone(phone);
    assert_eq!(customers.len(), 1, "R-K-1: one customer for the new number");
    let conversation = rig.conversation_of(&call);
    assert_eq!(
        conversation.related("customer"),
        Some(customers[0].id.as_str())
    );
    assert_eq!(assigned(&conversation), vec![user.clone()], "R-U-12");
    // Issue 27: the assignee rode on the conversation's create; no patch assigned it.
    let assignments = rig.platforms.kustomer.inspect(|w| {
        w.requests
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.starts_with("/v1/conversations/"))
            .count()
    });
    assert_eq!(assignments, 0, "the conversation was created assigned");
    let customer_patches = rig.platforms.kustomer.inspect(|w| {
        w.requests
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.starts_with("/v1/customers/"))
            .count()
    });
    assert_eq!(
        customer_patches, 0,
        "the customer was created with its agent"
    );
    assert_eq!(conversation.text("status"), Some("open"));
    let notes = rig.phone_notes_on(&conversation.id);
    assert_eq!(notes.len(), 1, "R-D-2");
    assert!(notes[0].text("body").unwrap().contains(phone));
    // R-K-3: the agent is recorded in the bridge's own customer attribute, provisioned once.
    assert!(customers[0].attributes.get("assignedUsers").is_none());
    let agent_email = rig
        .platforms
        .kustomer
        .inspect(|w| {
            w.find("user", &user)
                .and_then(|u| u.text("email"))
                .map(str::to_owned)
        })
        .unwrap();
    assert_eq!(
        customers[0].attributes["custom"]["ccaiAssignedAgentStr"],
        agent_email.as_str(),
        "R-K-3"
    );
    let provisioned = rig
        .platforms
        .kustomer
        .inspect(|w| w.metadata.get("customer").cloned().unwrap_or_default());
    assert_eq!(
        provisioned["ccaiAssignedAgentStr"]["displayName"],
        "Assigned agent"
    );
    let tags = rig.platforms.kustomer.inspect(|w| {
        let conversation = w.find("conversation", &conversation.id).unwrap();
        w.tag_names(conversation)
    });
    assert_eq!(tags, ["ccai"], "tagged by name through the tags call");
    // R-D-1: the session's own voice message carries caller id, language and menu selection.
    let messages = rig.messages_on(&conversation.id);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text("channel"), Some("voice"));
    let meta = &messages[0].attributes["meta"];
    assert_eq!(meta["callerId"], phone);
    assert_eq!(meta["language"], "en");
    assert_eq!(meta["menuSelection"], "Support line");

    // R-E-2: the whole call delivered again changes nothing in Kustomer.
    let writes = rig.writes();
    rig.deliver(&call).await;
    assert_eq!(rig.writes(), writes);
    assert_eq!(rig.conversations().len(), 1);
}

#[tokio::test]
async fn events_in_reverse_order_still_place_the_call_once() {
    let rig = rig().await;
    let (agent, user) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550108802").await;
    let mut bodies: Vec<Value> = call.events.iter().map(|e| e.body.clone()).collect();
    bodies.reverse();
    rig.deliver_bodies(&bodies).await;
    assert_eq!(rig.conversations().len(), 1);
    assert_eq!(assigned(&rig.conversation_of(&call)), vec![user]);
    assert_eq!(rig.phone_notes_on(&rig.conversation_of(&call).id).len(), 1);
}

#[tokio::test]
async fn r_u_1_a_second_call_for_the_same_menu_while_open_is_appended_then_a_closed_one_is_not() {
    let rig = rig().await;
    let (agent, _) = rig.agent("ana");
    let phone = "+15550108803";
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let first = driver.ivr_call_answered(agent, phone).await;
    rig.deliver(&first).await;
    let second = driver.ivr_call_answered(agent, phone).await;
    rig.deliver(&second).await;
    assert_eq!(
        rig.conversations().len(),
        1,
        "appended to the open conversation"
    );
    assert_eq!(rig.customers_with_phone(phone).len(), 1);
    let conversation = rig.conversation_of(&first);
    assert_eq!(
        rig.messages_on(&conversation.id).len(),
        2,
        "one message per session (R-CF-4)"
    );

    rig.close(&conversation.id).await;
    let third = driver.ivr_call_answered(agent, phone).await;
    rig.deliver(&third).await;
    assert_eq!(
        rig.conversations().len(),
        2,
        "a closed conversation is not reopened"
    );
    assert_ne!(rig.conversation_of(&third).id, conversation.id);
}

#[tokio::test]
async fn r_t_5_a_voicemail_gets_its_own_conversation_even_with_one_open() {
    let rig = rig().await;
    let (agent, _) = rig.agent("ana");
    let phone = "+15550108804";
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    rig.deliver(&driver.ivr_call_answered(agent, phone).await)
        .await;
    let voicemail = driver.voicemail(phone, Some("read")).await;
    rig.deliver(&voicemail).await;
    assert_eq!(rig.conversations().len(), 2);
    let conversation = rig.conversation_of(&voicemail);
    let tags = rig
        .platforms
        .kustomer
        .inspect(|w| w.tag_names(&conversation));
    assert_eq!(tags, ["ccai", "voicemail"]);
}

#[tokio::test]
async fn r_t_4_an_abandoned_call_gets_a_conversation_without_assignee() {
    let rig = rig().await;
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let abandoned = driver.abandoned_call("+15550108805").await;
    rig.deliver(&abandoned).await;
    let conversation = rig.conversation_of(&abandoned);
    assert!(assigned(&conversation).is_empty());
    assert!(
        rig.platforms
            .kustomer
            .inspect(|w| w.tag_names(&conversation))
            .contains(&"abandoned".to_owned())
    );
}

#[tokio::test]
async fn r_u_6_r_u_2_a_callback_after_a_short_call_is_appended_r_t_3_otherwise_created() {
    let rig = rig().await;
    let (agent, _) = rig.agent("ana");
    let phone = "+15550108806";
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let (short, callback) = driver.short_call_and_callback(agent, phone).await;
    rig.deliver(&short).await;
    rig.deliver(&callback).await;
    assert_eq!(
        rig.conversations().len(),
        1,
        "the callback joins the open conversation"
    );

    rig.close(&rig.conversation_of(&short).id).await;
    let outbound = driver.outbound_call(agent, phone, false, None).await;
    rig.deliver(&outbound).await;
    assert_eq!(rig.conversations().len(), 2);
    let created = rig.conversation_of(&outbound);
    assert_eq!(created.text("direction"), Some("out"));
}

#[tokio::test]
async fn r_t_1_r_k_2_an_sdk_call_creates_customer_and_conversation_by_identifier() {
    let rig = rig().await;
    let (agent, user) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.sdk_call(agent, "app-user-42").await;
    rig.deliver(&call).await;
    let customer = rig.platforms.kustomer.inspect(|w| {
        w.find_by("customer", "externalId", "ccai-user-app-user-42")
            .cloned()
    });
    let customer = customer.expect("R-K-2: a customer for the SDK identifier");
    let conversation = rig.conversation_of(&call);
    assert_eq!(conversation.related("customer"), Some(customer.id.as_str()));
    assert_eq!(assigned(&conversation), vec![user]);
}

#[tokio::test]
async fn r_u_4_a_transfer_assigns_the_receiving_agent() {
    let rig = rig().await;
    let (ana, _) = rig.agent("ana");
    let (ben, ben_user) = rig.agent("ben");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let transfer = driver.transfer(ana, ben, "+15550108807").await;
    rig.deliver(&transfer).await;
    assert_eq!(assigned(&rig.conversation_of(&transfer)), vec![ben_user]);
}

#[tokio::test]
async fn a_chat_gets_a_chat_conversation_assigned_to_its_agent_on_dynamodb_local() {
    let rig = rig_on(Arc::new(bridge_tests::local::dynamo_store().await)).await;
    let (agent, user) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let identifier = bridge_tests::unique("web-user");
    let chat = driver
        .chat_with_transcript(
            agent,
            &identifier,
            &[("end_user", "Hi"), ("agent", "Hello")],
        )
        .await;
    rig.deliver(&chat).await;
    let conversation = rig.conversation_of(&chat);
    assert_eq!(assigned(&conversation), vec![user]);
    assert!(
        rig.phone_notes_on(&conversation.id).is_empty(),
        "no phone note on a chat"
    );
}

#[tokio::test]
async fn a_current_conversation_deleted_in_kustomer_is_forgotten_not_fatal() {
    let rig = rig().await;
    let (agent, _) = rig.agent("ana");
    let phone = "+15550108808";
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let first = driver.ivr_call_answered(agent, phone).await;
    rig.deliver(&first).await;
    let deleted = rig.conversation_of(&first).id;
    rig.platforms
        .kustomer
        .inspect_mut(|w| w.conversations.retain(|c| c.id != deleted));
    let second = driver.ivr_call_answered(agent, phone).await;
    rig.deliver(&second).await;
    assert_eq!(rig.conversations().len(), 1);
    assert_ne!(rig.conversation_of(&second).id, deleted);
}

#[tokio::test]
async fn r_u_6_a_callback_handled_at_the_same_time_as_its_short_call_still_joins_it() {
    // Both sessions in one batch: their records are processed concurrently (one group per
    // session). The first conversation's creation answers slowly. The callback names its call
    // (`previous_call_id`): if it comes first it waits (its record fails and is retried) for
    // the call to be placed, then joins it.
    for round in 0..2 {
        let rig = rig().await;
        rig.platforms.kustomer.inject(
            FaultMatch::on(http::Method::POST, "/v1/conversations"),
            Fault::ApplyThenHang(std::time::Duration::from_millis(400)),
        );
        let (agent, _) = rig.agent("ana");
        let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
        let (short, callback) = driver
            .short_call_and_callback(agent, &format!("+1555010890{round}"))
            .await;
        let bodies: Vec<Value> = short
            .events
            .iter()
            .chain(&callback.events)
            .map(|e| e.body.clone())
            .collect();
        let mut passes = 0;
        while rig.try_deliver_bodies(&bodies).await > 0 {
            passes += 1;
            assert!(passes < 5, "round {round}: still failing");
        }
        let conversations = rig.conversations();
        assert_eq!(conversations.len(), 1, "round {round}");
        assert_eq!(
            rig.messages_on(&conversations[0].id).len(),
            2,
            "the short call's message and the callback's"
        );
        assert_eq!(
            rig.phone_notes_on(&conversations[0].id).len(),
            1,
            "one phone note"
        );
    }
}

/// R-U-6 with a race forced in the worst order: the callback is handled before its short call
/// is placed, and another call of the same customer (another queue, so a conversation of its
/// own) becomes the customer's latest conversation before the callback's retry. The callback
/// joins the call it returns, not the latest conversation.
#[tokio::test]
async fn r_u_6_a_callback_joins_its_original_calls_conversation_while_a_second_session_races_it() {
    let rig = rig().await;
    let (agent, _) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let phone = "+15550108931";
    let (short, callback) = driver.short_call_and_callback(agent, phone).await;
    let other = driver.ivr_call_answered(agent, phone).await;
    rig.platforms.ccai.change(|w| {
        w.update_session("call", other.session_id, |s| {
            s.insert(
                "selected_menu".into(),
                serde_json::json!({"id": 12, "name": "Billing", "menu_type": "ivr_menu"}),
            );
        })
    });
    let bodies =
        |played: &Played| -> Vec<Value> { played.events.iter().map(|e| e.body.clone()).collect() };
    // 1. The callback first: its call is not placed yet, so it waits (a retryable failure).
    assert!(rig.try_deliver_bodies(&bodies(&callback)).await > 0);
    assert!(rig.conversations().is_empty());
    // 2. The short call, then 3. the other call (Billing: a conversation of its own, now the
    // customer's latest).
    rig.deliver(&short).await;
    rig.deliver(&other).await;
    let original = rig.conversation_of(&short);
    let latest = rig.conversation_of(&other);
    assert_ne!(original.id, latest.id);
    // 4. The callback's retry joins the call it returns.
    assert_eq!(rig.try_deliver_bodies(&bodies(&callback)).await, 0);
    let messages = rig.messages_on(&original.id);
    assert_eq!(messages.len(), 2, "the short call's and the callback's");
    assert_eq!(rig.messages_on(&latest.id).len(), 1);
    assert_eq!(rig.conversations().len(), 2);
}

#[tokio::test]
async fn r_u_10_the_rating_and_the_wrap_up_become_notes_once_whatever_brings_them() {
    let rig = rig().await;
    let (agent, _) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550108811").await;
    rig.deliver(&call).await;
    // Rated after the wrap-up: no ESE event follows, a poll brings the change.
    driver.csat("call", call.session_id, 4, Some("Quick, thanks"));
    rig.deliver_poll(&call).await;
    rig.deliver_poll(&call).await; // a second trigger: no second note
    rig.deliver(&call).await; // every ESE event again: nothing new either
    let conversation = rig.conversation_of(&call);
    let mut bodies: Vec<String> = rig
        .notes_on(&conversation.id)
        .iter()
        .filter_map(|n| n.text("body").map(str::to_owned))
        .collect();
    bodies.sort();
    assert_eq!(
        bodies,
        [
            "Caller's phone number: +15550108811",
            "Customer rating: 4/5 · the customer left a comment",
            "Wrap-up: Resolved — Customer helped",
        ]
    );
}

#[tokio::test]
async fn r_u_11_a_closed_voicemail_closes_its_conversation() {
    let rig = rig().await;
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let voicemail = driver.voicemail("+15550108812", Some("closed")).await;
    rig.deliver(&voicemail).await;
    let conversation = rig.conversation_of(&voicemail);
    assert_eq!(conversation.text("status"), Some("done"));
    let bodies: Vec<String> = rig
        .notes_on(&conversation.id)
        .iter()
        .filter_map(|n| n.text("body").map(str::to_owned))
        .collect();
    assert!(
        bodies.contains(&"Voicemail closed".to_owned()),
        "{bodies:?}"
    );
}

/// Found by the independent stand-in (tests/standin): a poll that comes before the ESE item
/// carrying the caller's number used to fail as "no customer" for good, and held the session's
/// ESE triggers behind it until it was dead-lettered. The session now waits for a trigger that
/// knows more.
#[tokio::test]
async fn r_e_5_a_poll_before_the_callers_number_is_known_waits_and_ese_completes_it() {
    // The documented platform: the number is only in the ESE external participant's `dn`
    // and in the metadata file, which lands about 15 minutes after the end.
    let rig = rig_with(
        Arc::new(EmbeddedStore::new()),
        CcaiSandboxOptions {
            phone_on_participant: false,
            file_delays: bridge_tests::ccai_sandbox::FileDelays {
                metadata: Duration::from_secs(15 * 60),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await;
    let (agent, user) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550108899").await;
    rig.deliver_poll(&call).await; // no failure reported
    assert!(rig.conversations().is_empty(), "nothing to place it by yet");
    rig.deliver(&call).await;
    let conversation = rig.conversation_of(&call);
    assert_eq!(assigned(&conversation), vec![user]);
    assert_eq!(rig.phone_notes_on(&conversation.id).len(), 1);
}

/// Review finding 2 (R-E-4, R-K-1, R-D-2): a tenant without ESE, the documented platform — the
/// caller's number is on no Manager API object, only in the metadata file's participants,
/// which lands 15 minutes after the end. Until then the session waits and says why; the
/// metadata push brings it: customer, conversation, phone note. Each key the number may sit
/// under is read.
#[tokio::test]
async fn finding_2_r_e_4_a_poller_only_ivr_call_is_placed_by_the_number_in_the_metadata_file() {
    const MINUTE: Duration = Duration::from_secs(60);
    for (n, key) in ["phone_number", "dn", "phone"].into_iter().enumerate() {
        let rig = rig_with(
            Arc::new(EmbeddedStore::new()),
            CcaiSandboxOptions {
                phone_on_participant: false,
                file_delays: FileDelays {
                    metadata: 15 * MINUTE,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await;
        rig.platforms
            .ccai
            .change(|w| w.metadata_phone_key = Some(key));
        let (agent, user) = rig.agent("ana");
        let mut driver = ScenarioDriver::new(&rig.platforms.ccai, None);
        driver.delivery.silent = true;
        let phone = format!("+1555010890{n}");
        let call = driver.ivr_call_answered(agent, &phone).await;
        rig.deliver_poll(&call).await;
        assert!(rig.conversations().is_empty(), "{key}: no number yet");
        let report = rig.report(&call).await;
        assert_eq!(
            report["state"], "waiting for the caller's number or an SDK identifier",
            "finding 13: visible"
        );
        assert_eq!(report["awaiting"], serde_json::json!(["metadata"]));

        rig.platforms.ccai.advance_files(16 * MINUTE);
        rig.platforms.ccai.publish_due().await.unwrap();
        rig.deliver_poll(&call).await;
        let conversation = rig.conversation_of(&call);
        assert_eq!(rig.customers_with_phone(&phone).len(), 1, "{key}");
        assert_eq!(rig.phone_notes_on(&conversation.id).len(), 1, "{key}");
        assert_eq!(assigned(&conversation), vec![user]);
        let report = rig.report(&call).await;
        assert_eq!(report["state"], "placed");
    }
}

/// Review finding 4 (R-U-12, R-U-10/11): an agent the bridge cannot match to one Kustomer user
/// — an e-mail two Kustomer users share (a shared mailbox), or an agent CCAI no longer knows
/// (404) — leaves the conversation unassigned, with the reason shown, and the session's notes
/// are still written; the next session of that agent does not list CCAI's agents again.
#[tokio::test]
async fn finding_4_r_u_12_an_agent_without_one_kustomer_user_does_not_stop_the_session() {
    let rig = rig().await;
    let (shared, _) = rig.agent("ana");
    let email = rig
        .platforms
        .ccai
        .inspect(|w| w.agent(shared).map(|a| a.email.clone()))
        .unwrap();
    rig.platforms
        .kustomer
        .add_user("Ana (shared mailbox)", &email);
    let (deleted, _) = rig.agent("bo");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let first = driver.ivr_call_answered(shared, "+15550108921").await;
    let gone = driver.ivr_call_answered(deleted, "+15550108922").await;
    rig.platforms
        .ccai
        .change(|w| w.agents.retain(|a| a.id != deleted));
    for (call, why) in [(&first, "share the e-mail"), (&gone, "not found")] {
        rig.deliver(call).await;
        let conversation = rig.conversation_of(call);
        assert!(assigned(&conversation).is_empty(), "{why}");
        let notes: Vec<String> = rig
            .notes_on(&conversation.id)
            .iter()
            .filter_map(|n| n.text("body").map(str::to_owned))
            .collect();
        assert!(
            notes.iter().any(|n| n.starts_with("Wrap-up:")),
            "{why}: the wrap-up note is written: {notes:?}"
        );
        assert_eq!(rig.phone_notes_on(&conversation.id).len(), 1);
        let report = rig.report(call).await;
        assert!(
            report["problems"].to_string().to_lowercase().contains(why),
            "{report}"
        );
    }
    // The unresolved agent is remembered: another of Ana's sessions asks CCAI nothing more
    // about agents.
    let agent_reads = || {
        rig.platforms
            .ccai
            .requests()
            .iter()
            .filter(|r| r.path.contains("/agents"))
            .count()
    };
    let before = agent_reads();
    let second = driver.ivr_call_answered(shared, "+15550108923").await;
    rig.deliver(&second).await;
    assert!(assigned(&rig.conversation_of(&second)).is_empty());
    assert_eq!(
        agent_reads(),
        before,
        "finding 4: the negative result is cached"
    );
}

/// Review gap of finding 4 (R-U-12, R-K-3): the agent's Kustomer user is found, but Kustomer
/// refuses the assignment for good (403: the API key's role may not assign) and refuses the
/// customer's agent attribute too. The session is complete without them — notes written, no
/// failed record, no dead letter — the refusals are shown, and neither PATCH is asked again.
#[tokio::test]
async fn finding_4_r_u_12_a_refused_assignment_is_recorded_not_retried() {
    use bridge_shared::conversation::contact::ASSIGNED_AGENT_ATTRIBUTE;
    use bridge_shared::stream::failures::dead_letters;
    let rig = rig().await;
    let (agent, _) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550108951").await;
    let forbidden = r#"{"errors":[{"status":"403","title":"Forbidden"}]}"#;
    // The assignee rides on the conversation's create (issue 27), and is patched onto one
    // the session appends to: both refused.
    let assign = || FaultMatch {
        path_prefix: Some("/v1/conversations".into()),
        body_contains: Some("assignedUsers".into()),
        ..Default::default()
    };
    // The customer's agent rides on its create (issue 27), or is patched onto it: both
    // refused.
    let customer_agent = || FaultMatch {
        path_prefix: Some("/v1/customers".into()),
        body_contains: Some(ASSIGNED_AGENT_ATTRIBUTE.into()),
        ..Default::default()
    };
    for _ in 0..5 {
        rig.platforms
            .kustomer
            .inject(assign(), Fault::Answer(403, forbidden));
        rig.platforms
            .kustomer
            .inject(customer_agent(), Fault::Answer(403, forbidden));
    }
    assert_eq!(
        rig.deliver_until_done(&call, 1).await,
        0,
        "no record failed"
    );
    rig.deliver(&call).await;
    let conversation = rig.conversation_of(&call);
    assert!(assigned(&conversation).is_empty());
    assert_eq!(rig.phone_notes_on(&conversation.id).len(), 1);
    let report = rig.report(&call).await;
    assert!(
        report["problems"]
            .to_string()
            .contains("refused the assignment"),
        "{report}"
    );
    assert!(
        report["problems"]
            .to_string()
            .contains("refused the customer's agent"),
        "{report}"
    );
    let refused = |method: &str, prefix: &str| {
        rig.platforms.kustomer.inspect(|w| {
            w.requests
                .iter()
                .filter(|r| r.method == method && r.path.starts_with(prefix) && r.status == 403)
                .count()
        })
    };
    assert_eq!(
        refused("POST", "/v1/conversations") + refused("PATCH", "/v1/conversations/"),
        1,
        "asked once, not per pass"
    );
    assert_eq!(
        refused("POST", "/v1/customers") + refused("PATCH", "/v1/customers/"),
        1
    );
    assert_eq!(
        rig.platforms.kustomer.inspect(|w| w.conversations.len()),
        1,
        "the conversation made without its assignee, once"
    );
    let letters = dead_letters(rig.api.store.as_ref(), UnixMillis::now())
        .await
        .unwrap();
    assert!(
        !letters
            .iter()
            .any(|l| l.trigger.session.id == call.session_id)
    );
}

/// Review finding 7 (R-E-2, R-D-2): the tags call after a conversation's creation is refused —
/// rate-limited once, then (another session) forbidden for good. The sandbox answers no 409 on
/// a reused conversation `externalId` (the default: undocumented), so a pass that re-posted
/// the conversation would create a second one. One conversation each, one phone note each;
/// the lasting refusal is shown, not a dead letter.
#[tokio::test]
async fn finding_7_r_e_2_a_refused_tags_call_never_creates_the_conversation_twice() {
    use bridge_shared::stream::failures::dead_letters;
    let rig = rig().await;
    let (agent, _) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let limited = driver.ivr_call_answered(agent, "+15550108931").await;
    let forbidden = driver.ivr_call_answered(agent, "+15550108932").await;
    let tags = |body: &str| FaultMatch {
        method: Some(http::Method::POST),
        path_suffix: Some("/tags".into()),
        body_contains: Some(body.into()),
        ..Default::default()
    };
    rig.platforms
        .kustomer
        .inject(tags("ccai"), Fault::RateLimited);
    rig.deliver_until_done(&limited, 5).await;
    rig.platforms.kustomer.inject(
        tags("ccai"),
        Fault::Answer(403, r#"{"errors":[{"status":"403","title":"Forbidden"}]}"#),
    );
    rig.deliver_until_done(&forbidden, 5).await;
    for call in [&limited, &forbidden] {
        let external = format!("ccai-call-{}", call.session_id);
        let conversations = rig.platforms.kustomer.inspect(|w| {
            w.conversations
                .iter()
                .filter(|c| c.text("externalId") == Some(external.as_str()))
                .count()
        });
        assert_eq!(conversations, 1, "{external}");
        assert_eq!(rig.phone_notes_on(&rig.conversation_of(call).id).len(), 1);
    }
    let report = rig.report(&forbidden).await;
    assert!(
        report["link"]["tag_error"]
            .as_str()
            .is_some_and(|e| e.contains("tags refused")),
        "{report}"
    );
    let letters = dead_letters(rig.api.store.as_ref(), UnixMillis::now())
        .await
        .unwrap();
    assert!(
        !letters
            .iter()
            .any(|l| [limited.session_id, forbidden.session_id].contains(&l.trigger.session.id))
    );
}

/// Review finding 11 (R-K-1, R-U-10): an agent merges the caller's customer into another
/// profile; the next call from that number is placed under the surviving customer (the cached
/// id is dropped, not dead-lettered). Then an agent deletes that call's conversation before
/// the rating lands: the rating is noted in a new conversation, not lost.
#[tokio::test]
async fn finding_11_r_k_1_a_merged_customer_or_deleted_conversation_is_resolved_again() {
    use bridge_shared::stream::failures::dead_letters;
    let rig = rig().await;
    let (agent, _) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let phone = "+15550108941";
    let first = driver.ivr_call_answered(agent, phone).await;
    rig.deliver(&first).await;
    let merged = rig
        .conversation_of(&first)
        .related("customer")
        .unwrap()
        .to_owned();
    rig.close(&rig.conversation_of(&first).id).await;
    let survivor = rig
        .platforms
        .kustomer_client
        .create_customer(&bridge_shared::kustomer::requests::NewCustomer {
            name: Some("Ana's customer (kept)".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    rig.platforms.kustomer.merge_customers(&merged, &survivor);

    let second = driver.ivr_call_answered(agent, phone).await;
    rig.deliver(&second).await;
    let conversation = rig.conversation_of(&second);
    assert_eq!(conversation.related("customer"), Some(survivor.as_str()));

    rig.platforms.kustomer.delete_conversation(&conversation.id);
    driver.csat("call", second.session_id, 5, Some("Great"));
    rig.deliver_poll(&second).await;
    let replaced = rig.conversation_of(&second);
    assert_ne!(replaced.id, conversation.id);
    assert_eq!(replaced.related("customer"), Some(survivor.as_str()));
    let notes: Vec<String> = rig
        .notes_on(&replaced.id)
        .iter()
        .filter_map(|n| n.text("body").map(str::to_owned))
        .collect();
    assert!(
        notes.iter().any(|n| n.starts_with("Customer rating")),
        "{notes:?}"
    );
    let letters = dead_letters(rig.api.store.as_ref(), UnixMillis::now())
        .await
        .unwrap();
    assert!(
        !letters
            .iter()
            .any(|l| [first.session_id, second.session_id].contains(&l.trigger.session.id)),
        "{letters:?}"
    );
}

/// R-U-7, R-U-8, R-U-10 from the session metadata file (ccai-api.md §3): SmartAction results
/// and failures and the customer's comment become notes once; a rewritten metadata file adds
/// what changed and repeats nothing.
#[tokio::test]
async fn r_u_7_r_u_8_r_u_10_the_metadata_file_adds_smart_actions_and_the_comment_once() {
    // The metadata file lands 15 minutes after the end, without the survey's comment; it is
    // rewritten 20 minutes after the end with it.
    const MINUTE: Duration = Duration::from_secs(60);
    let rig = rig_with(
        Arc::new(EmbeddedStore::new()),
        CcaiSandboxOptions {
            file_delays: FileDelays {
                metadata: 15 * MINUTE,
                metadata_rewrite: Some(20 * MINUTE),
                ..FileDelays::default()
            },
            ..CcaiSandboxOptions::default()
        },
    )
    .await;
    let (agent, _) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550108821").await;
    let metadata = format!("metadata-{}.json", call.session_id);
    driver.smart_action(call.session_id, true);
    driver.csat("call", call.session_id, 5, Some("Solved at once"));
    // The session ends before its metadata is written (~15 minutes later): it waits for it.
    rig.deliver(&call).await;
    let waiting = rig
        .api
        .store
        .list_partition("AWAITING", bridge_shared::UnixMillis::now())
        .await
        .unwrap();
    assert!(
        waiting
            .iter()
            .any(|w| w.key.sk == format!("call#{}#metadata", call.session_id)),
        "the metadata file is awaited"
    );
    rig.platforms.ccai.advance_files(15 * MINUTE);
    let landed = rig.platforms.ccai.publish_due().await.unwrap().written;
    assert!(landed.contains(&metadata), "{landed:?}");
    rig.deliver_poll(&call).await;
    let conversation = rig.conversation_of(&call);
    let comments = || {
        rig.notes_on(&conversation.id)
            .iter()
            .filter(|n| {
                n.text("body")
                    .is_some_and(|b| b.starts_with("Customer comment"))
            })
            .count()
    };
    assert_eq!(comments(), 0, "the first metadata file has no comment yet");
    // Rewritten with the comment and one more SmartAction (a failure on the customer's side).
    driver.smart_action(call.session_id, false);
    rig.platforms.ccai.advance_files(5 * MINUTE);
    let rewritten = rig.platforms.ccai.publish_due().await.unwrap().written;
    assert!(
        rewritten.contains(&metadata),
        "a new generation: {rewritten:?}"
    );
    rig.deliver_poll(&call).await;
    rig.deliver_poll(&call).await;
    assert_eq!(comments(), 1);
    let mut bodies: Vec<String> = rig
        .notes_on(&conversation.id)
        .iter()
        .filter_map(|n| n.text("body").map(str::to_owned))
        .collect();
    bodies.sort();
    assert_eq!(
        bodies,
        [
            "Caller's phone number: +15550108821",
            "Customer comment: \"Solved at once\"",
            "Customer rating: 5/5 · the customer left a comment",
            "SmartAction photo completed: Photo received",
            "SmartAction verification failed on the customer's side: Fingerprint access is not enabled on this device",
            "Wrap-up: Resolved — Customer helped",
        ]
    );
}

/// Review L5 (R-E-6, R-U-10): without a storage push, a rewritten metadata file is still read —
/// the scheduled look watches a file it read for a while. A look that finds the same generation
/// costs no Manager API call; the look after the rewrite adds the survey's comment, once.
#[tokio::test]
async fn l5_r_e_6_a_rewrite_without_a_push_is_found_by_the_scheduled_look() {
    use bridge_shared::storage::awaited::look_for_files;
    const MINUTE: Duration = Duration::from_secs(60);
    let rig = rig_with(
        Arc::new(EmbeddedStore::new()),
        CcaiSandboxOptions {
            file_delays: FileDelays {
                metadata_rewrite: Some(30 * MINUTE),
                ..FileDelays::default()
            },
            ..CcaiSandboxOptions::default()
        },
    )
    .await;
    let (agent, _) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550108951").await;
    driver.csat("call", call.session_id, 5, Some("Solved at once"));
    rig.deliver(&call).await;
    let conversation = rig.conversation_of(&call);
    let comments = || {
        rig.notes_on(&conversation.id)
            .iter()
            .filter(|n| {
                n.text("body")
                    .is_some_and(|b| b.starts_with("Customer comment"))
            })
            .count()
    };
    assert_eq!(comments(), 0, "the first file has no comment");
    let store = rig.api.store.as_ref();
    let calls_read = || {
        rig.platforms
            .ccai
            .requests()
            .iter()
            .filter(|r| r.path.contains(&format!("/calls/{}", call.session_id)))
            .count()
    };
    let look = |at: bridge_shared::UnixMillis| async move {
        look_for_files(store, MINUTE, 24 * 60 * MINUTE, 24 * 60 * MINUTE, at)
            .await
            .unwrap()
    };
    let t0 = UnixMillis::now();
    let first = look(t0.plus(6 * MINUTE)).await;
    assert_eq!(first.looked, 1, "the read file is watched");
    let trigger = |attempt: u32| {
        bridge_shared::store::ItemKey::inbox(&format!(
            "look-call-{}-metadata-rewrite-{attempt}",
            call.session_id
        ))
    };
    let rig = &rig;
    let deliver = |key: bridge_shared::store::ItemKey, at: bridge_shared::UnixMillis| async move {
        let item = store
            .get(&key, at)
            .await
            .unwrap()
            .expect("the look's trigger");
        let batch = bridge_tests::stream_support::inserts(
            &[item],
            rig.sequence.fetch_add(1, Ordering::SeqCst),
        );
        assert!(
            handle(&rig.api, batch, at)
                .await
                .unwrap()
                .batch_item_failures
                .is_empty()
        );
    };
    let before = calls_read();
    deliver(trigger(0), t0.plus(6 * MINUTE)).await;
    assert_eq!(
        calls_read(),
        before,
        "the same generation: no Manager API call"
    );
    // The survey's answer rewrites the file (no push); the next look reads it.
    rig.platforms.ccai.advance_files(31 * MINUTE);
    rig.platforms.ccai.publish_due().await.unwrap();
    let second = look(t0.plus(40 * MINUTE)).await;
    assert_eq!(second.looked, 1);
    deliver(trigger(1), t0.plus(40 * MINUTE)).await;
    assert_eq!(comments(), 1);
    // The watch ends quietly: no "no file" outcome.
    let last = look(t0.plus(3 * 60 * MINUTE)).await;
    assert!(last.given_up.is_empty(), "{last:?}");
    assert_eq!(last.waiting, 0);
}

/// R-E-2 with R-D-1, R-D-2, R-U-7, R-U-8, R-U-10, R-U-11 and the wrap-up: every session note
/// and the session message lose their answer once (Kustomer applied the write, the bridge never
/// heard), and with one attempt per request each loss ends the pass, as an invocation that
/// times out would. Kustomer does not answer 409 to a reused note `externalId` (the sandbox's
/// default), so only the bridge's own record of what it began, and its look at the
/// conversation's notes, keep each write to one.
#[tokio::test]
async fn r_e_2_a_lost_answer_on_every_session_note_and_the_session_message_leaves_exactly_one() {
    use bridge_tests::kustomer_sandbox::{Fault, FaultMatch};
    let mut rig = rig().await;
    rig.api.kustomer = Arc::new(bridge_tests::kustomer_support::one_attempt_client(
        &rig.platforms.kustomer,
    ));
    // Every pass may fail here (one lost answer each): Lambda retries them all (R-E-7's
    // hand-over to the scheduled run is tested on its own).
    rig.api.failures.quick_attempts = 100;
    let (agent, _) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550108871").await;
    driver.smart_action(call.session_id, true);
    driver.smart_action(call.session_id, false);
    driver.csat("call", call.session_id, 4, Some("Quick"));
    let voicemail = driver.voicemail("+15550108872", Some("read")).await;
    rig.platforms.ccai.publish_due().await.unwrap();
    for _ in 0..40 {
        rig.platforms.kustomer.inject(
            FaultMatch::body(http::Method::POST, "/notes", "externalId"),
            Fault::LoseAnswer,
        );
        rig.platforms.kustomer.inject(
            FaultMatch::body(http::Method::POST, "/messages", "externalId"),
            Fault::LoseAnswer,
        );
    }
    let failed_passes =
        rig.deliver_until_done(&call, 20).await + rig.deliver_until_done(&voicemail, 20).await;

    let mut expected = 0;
    for played in [&call, &voicemail] {
        let conversation = rig.conversation_of(played);
        let notes = rig.notes_on(&conversation.id);
        let mut ids: Vec<&str> = notes.iter().filter_map(|n| n.text("externalId")).collect();
        ids.sort();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before, "a note written twice: {ids:?}");
        assert_eq!(
            rig.messages_on(&conversation.id).len(),
            1,
            "one session message"
        );
        expected += notes.len() + 1;
    }
    let bodies: Vec<String> = rig.platforms.kustomer.inspect(|w| {
        w.notes
            .iter()
            .filter_map(|n| n.text("body").map(str::to_owned))
            .collect()
    });
    for (kind, count) in [
        ("Caller's phone number", 2), // one per conversation
        ("Customer rating: 4/5", 1),
        ("Customer comment", 1),
        ("SmartAction photo completed", 1),
        ("failed on the customer's side", 1),
        ("Wrap-up:", 1),
        ("Voicemail read by an agent", 1),
    ] {
        assert_eq!(
            bodies.iter().filter(|b| b.contains(kind)).count(),
            count,
            "{kind}: {bodies:?}"
        );
    }
    // Every write lost its answer once, and each loss ended a pass.
    assert_eq!(failed_passes, expected, "passes ended by a lost answer");
    assert!(rig.platforms.unexpected_requests().is_empty());
}

/// R-K-3 with R-K-1 and R-K-2 under R-E-2 (found by the soak, issue 25): Kustomer creates the
/// new caller's customer but the answer is lost, so the retry finds the customer by lookup.
/// The session began that creation (recorded before the request), so the customer it finds is
/// its own and still follows the agent who answered — for a number and for an SDK identifier.
#[tokio::test]
async fn r_k_3_a_created_customer_whose_answer_was_lost_still_follows_the_agent() {
    use bridge_tests::kustomer_sandbox::{Fault, FaultMatch};
    let mut rig = rig().await;
    rig.api.kustomer = Arc::new(bridge_tests::kustomer_support::one_attempt_client(
        &rig.platforms.kustomer,
    ));
    rig.api.failures.quick_attempts = 100;
    let (agent, user) = rig.agent("ana");
    let email = rig
        .platforms
        .kustomer
        .inspect(|w| {
            w.find("user", &user)
                .and_then(|u| u.text("email"))
                .map(str::to_owned)
        })
        .unwrap();
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let phone = "+15550108891";
    let call = driver.ivr_call_answered(agent, phone).await;
    let sdk = driver.sdk_call(agent, "app-user-lost-answer").await;
    for played in [&call, &sdk] {
        rig.platforms.kustomer.inject(
            FaultMatch::body(http::Method::POST, "/v1/customers", "externalId"),
            Fault::LoseAnswer,
        );
        let failed = rig.deliver_until_done(played, 10).await;
        assert!(failed >= 1, "the lost answer ended a pass");
    }

    let by_phone = rig.customers_with_phone(phone);
    assert_eq!(
        by_phone.len(),
        1,
        "R-K-1: one customer, however many passes"
    );
    let by_identifier = rig.platforms.kustomer.inspect(|w| {
        w.find_by("customer", "externalId", "ccai-user-app-user-lost-answer")
            .cloned()
    });
    for customer in [&by_phone[0], &by_identifier.expect("R-K-2")] {
        assert_eq!(
            customer.attributes["custom"]["ccaiAssignedAgentStr"],
            email.as_str(),
            "R-K-3: the customer created through a lost answer follows the agent"
        );
    }
    assert!(rig.platforms.unexpected_requests().is_empty());
}

/// Contact sync's session lock means what it says (issue 12): stamped with the clock when it
/// is taken — the batch here started an hour ago, so a lock stamped then would have run out
/// already and let a second worker in — and released while a Kustomer rate limit is waited
/// out, so other work on the session is not held up by the wait. Forced interleaving: the
/// second worker acts when the first is inside its first Kustomer write (a slow customer
/// create), and again when the first has been answered 429.
#[tokio::test]
async fn r_e_2_r_e_8_the_session_lock_is_stamped_when_taken_and_not_held_across_a_rate_limit_wait()
{
    use bridge_shared::store::{ItemKey, LeaseAcquisition};
    let rig = rig().await;
    let (agent, _) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550108941").await;
    let kustomer = &rig.platforms.kustomer;
    kustomer.inject(
        FaultMatch::on(http::Method::POST, "/v1/customers"),
        Fault::ApplyThenHang(std::time::Duration::from_millis(300)),
    );
    kustomer.inject(
        FaultMatch::body(http::Method::POST, "/messages", "externalId"),
        Fault::RateLimited,
    );
    let lock = ItemKey::new(format!("SESSION#call#{}", call.session_id), "SYNC_LOCK");
    let hour_ago = UnixMillis(UnixMillis::now().0 - 3_600_000);
    let first = async {
        let now = hour_ago;
        let items: Vec<_> = call
            .events
            .iter()
            .map(|e| {
                let trigger = bridge_shared::ese::parse_event(&e.body).unwrap().trigger();
                bridge_intake::inbox_item(&trigger, now).unwrap()
            })
            .collect();
        let batch = bridge_tests::stream_support::inserts(&items, 1);
        handle(&rig.api, batch, now).await.unwrap()
    };
    let second = async {
        let store = rig.api.store.clone();
        // The first worker is inside its first write, the customer's create (applied, the
        // answer held back), before anything renewed its lock.
        wait_until(|| kustomer.inspect(|w| !w.customers.is_empty())).await;
        let during_call = store
            .acquire_lease(
                &lock,
                "second",
                UnixMillis::now(),
                std::time::Duration::from_secs(30),
            )
            .await
            .unwrap();
        assert!(
            matches!(during_call, LeaseAcquisition::Held(_)),
            "held while the first worker works: {during_call:?}"
        );
        // The first worker was answered 429 and waits: the lock is free meanwhile.
        wait_until(|| kustomer.inspect(|w| w.requests.iter().any(|r| r.status == 429))).await;
        let mut during_wait = None;
        for _ in 0..50 {
            match store
                .acquire_lease(
                    &lock,
                    "second",
                    UnixMillis::now(),
                    std::time::Duration::from_secs(30),
                )
                .await
                .unwrap()
            {
                LeaseAcquisition::Acquired(lease) => {
                    store.release_lease(&lease).await.unwrap();
                    during_wait = Some(lease);
                    break;
                }
                LeaseAcquisition::Held(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await
                }
            }
        }
        assert!(
            during_wait.is_some(),
            "the lock was free during the rate-limit wait"
        );
    };
    let (response, ()) = tokio::join!(first, second);
    assert!(response.batch_item_failures.is_empty());
    let conversation = rig.conversation_of(&call);
    assert_eq!(rig.messages_on(&conversation.id).len(), 1);
}

/// Waits for an event another future causes (a forced interleaving, not a guess at timing).
async fn wait_until(done: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "never happened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// R-K-1, R-D-2 (issue 14): caller ids as carriers report them reach Kustomer — a national
/// number read in `DEFAULT_COUNTRY`, an international one with `00` — and a withheld or
/// malformed one becomes an "Unknown caller" customer of its own for each session, tagged,
/// without a phone note and without a failure.
#[tokio::test]
async fn r_k_1_r_d_2_caller_ids_in_any_format_and_withheld_ones_end_in_kustomer() {
    let mut rig = rig().await;
    rig.api.caller_country = bridge_shared::config::CountryCode::parse("GB").unwrap();
    let (agent, _) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let national = driver.ivr_call_answered(agent, "020 7946 0958").await;
    let international = driver.ivr_call_answered(agent, "0033 1 42 68 53 00").await;
    let withheld = driver.ivr_call_answered(agent, "anonymous").await;
    let malformed = driver.ivr_call_answered(agent, "12#").await;
    for played in [&national, &international, &withheld, &malformed] {
        rig.deliver(played).await;
    }
    assert_eq!(rig.customers_with_phone("+442079460958").len(), 1);
    assert_eq!(rig.customers_with_phone("+33142685300").len(), 1);
    let national_notes = rig.phone_notes_on(&rig.conversation_of(&national).id);
    assert_eq!(
        national_notes[0].text("body"),
        Some("Caller's phone number: +442079460958")
    );
    let unknown: Vec<Record> = rig.platforms.kustomer.inspect(|w| {
        w.customers
            .iter()
            .filter(|c| c.text("name") == Some("Unknown caller"))
            .cloned()
            .collect()
    });
    assert_eq!(unknown.len(), 2, "one per session");
    for played in [&withheld, &malformed] {
        let conversation = rig.conversation_of(played);
        let tags = rig
            .platforms
            .kustomer
            .inspect(|w| w.tag_names(&conversation));
        assert!(tags.contains(&"ccai-unknown-caller".to_owned()), "{tags:?}");
        assert!(rig.phone_notes_on(&conversation.id).is_empty());
        let link = rig
            .api
            .store
            .get(
                &bridge_shared::store::ItemKey::session_link(SessionKind::Call, played.session_id),
                UnixMillis::now(),
            )
            .await
            .unwrap()
            .unwrap();
        assert!(
            link.body["unknown_caller"].is_string(),
            "the raw caller id is kept"
        );
    }
    // Delivered again: nothing new (the unknown caller is found by its external id).
    let customers = rig.platforms.kustomer.inspect(|w| w.customers.len());
    rig.deliver(&withheld).await;
    assert_eq!(
        rig.platforms.kustomer.inspect(|w| w.customers.len()),
        customers
    );
    assert!(rig.platforms.unexpected_requests().is_empty());
}

/// R-E-7: Kustomer fails for ten minutes (every request a 5xx; minutes simulated). The
/// trigger is retried by Lambda while young, then handed to the scheduled run, which puts it
/// back with backoff until Kustomer heals: the session ends applied, not a dead letter.
#[tokio::test]
async fn r_e_7_a_transient_failure_lasting_ten_minutes_is_retried_until_it_heals() {
    use bridge_shared::stream::failures::{FailurePlan, dead_letters, requeue_due};
    use bridge_tests::kustomer_sandbox::FaultRates;
    const MINUTE: Duration = Duration::from_secs(60);
    let mut rig = rig_on(Arc::new(bridge_tests::local::dynamo_store().await)).await;
    rig.api.failures = FailurePlan {
        quick_attempts: 2,
        quick_window: 2 * MINUTE,
        base: MINUTE,
        max: 4 * MINUTE,
        give_up_after: Duration::from_secs(24 * 3600),
        ..FailurePlan::default()
    };
    let (agent, _) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550108951").await;
    let outage = || {
        rig.platforms.kustomer.random_faults(Some(FaultRates {
            server_error: 1.0,
            seed: 7,
            ..Default::default()
        }))
    };
    outage();
    let ended = call
        .events
        .iter()
        .find(|e| e.stage == "End")
        .unwrap()
        .trigger();
    let t0 = UnixMillis::now();
    let deliver = |item: bridge_shared::store::Item, at: UnixMillis| {
        let batch = bridge_tests::stream_support::inserts(
            &[item],
            rig.sequence.fetch_add(1, Ordering::SeqCst),
        );
        let api = &rig.api;
        async move {
            handle(api, batch, at)
                .await
                .unwrap()
                .batch_item_failures
                .len()
        }
    };
    let first = bridge_intake::inbox_item(&ended, t0).unwrap();
    // Lambda's quick retries, then the hand-over (the record is let go).
    assert_eq!(deliver(first.clone(), t0).await, 1);
    assert_eq!(deliver(first.clone(), t0).await, 1);
    assert_eq!(deliver(first, t0).await, 0, "handed to the scheduled run");
    let store = rig.api.store.as_ref();
    let mut requeued = 0;
    for minute in 1..=30u32 {
        let at = t0.plus(MINUTE * minute);
        if minute == 10 {
            rig.platforms.kustomer.random_faults(None);
        }
        for trigger in requeue_due(store, at).await.unwrap().triggers {
            requeued += 1;
            let item = store
                .get(&bridge_shared::store::ItemKey::inbox(&trigger), at)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                deliver(item, at).await,
                0,
                "slow retries are never batch failures"
            );
        }
        if rig.conversations().len() == 1 {
            break;
        }
    }
    // The first scheduled retry (about 4 minutes in) meets the outage; a later one heals.
    assert!(requeued >= 2, "retried over the outage: {requeued}");
    assert_eq!(rig.conversations().len(), 1);
    assert_eq!(rig.messages_on(&rig.conversation_of(&call).id).len(), 1);
    let letters = dead_letters(store, UnixMillis::now()).await.unwrap();
    assert!(
        !letters
            .iter()
            .any(|l| l.trigger.session.id == call.session_id),
        "not a dead letter"
    );
    assert!(
        requeue_due(store, t0.plus(MINUTE * 120))
            .await
            .unwrap()
            .triggers
            .iter()
            .all(|t| !t.ends_with(&ended.id)),
        "nothing left to retry"
    );
}

/// R-E-7: in one batch, one session meets a permanent error (Kustomer refuses its
/// conversation); the other sessions of the batch are applied and the batch reports no
/// failure — the shard is not held up — while the refused work is a dead letter naming why.
#[tokio::test]
async fn r_e_7_a_permanent_failure_is_a_dead_letter_and_does_not_hold_up_the_batch() {
    use bridge_shared::stream::failures::dead_letters;
    let rig = rig_on(Arc::new(bridge_tests::local::dynamo_store().await)).await;
    let (agent, _) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let refused = driver.ivr_call_answered(agent, "+15550108961").await;
    let fine = driver.ivr_call_answered(agent, "+15550108962").await;
    // A lasting refusal: the create is refused with its assignee and again without it (a
    // refusal could have been the assignee's, issue 27).
    for _ in 0..2 {
        rig.platforms.kustomer.inject(
            FaultMatch::body(
                http::Method::POST,
                "/v1/conversations",
                &format!("ccai-call-{}", refused.session_id),
            ),
            Fault::Answer(
                400,
                r#"{"errors":[{"status":"400","title":"queue is not valid"}]}"#,
            ),
        );
    }
    let bodies: Vec<Value> = refused
        .events
        .iter()
        .chain(&fine.events)
        .map(|e| e.body.clone())
        .collect();
    assert_eq!(rig.try_deliver_bodies(&bodies).await, 0, "no failed record");
    assert_eq!(rig.conversation_of(&fine).attributes["status"], "open");
    let letters: Vec<_> = dead_letters(rig.api.store.as_ref(), UnixMillis::now())
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.trigger.session.id == refused.session_id)
        .collect();
    assert!(!letters.is_empty());
    assert!(letters.iter().all(|l| l.permanent && l.attempts == 1));
    assert!(
        letters[0].last_error.contains("queue is not valid"),
        "{:?}",
        letters[0]
    );
    assert_eq!(letters[0].step, "bridge-sync");
}

/// R-D-1 under R-E-5 (found by the soak, issue 25): a pass that knew the caller's number (the
/// ESE item's `dn`, or the metadata file) placed the call and stopped before its message; the
/// next pass came from a trigger that does not carry the number (a recording worker's, a poll
/// after the ESE item was lost) and wrote the message without it. The pass that learns the
/// number again completes the message's caller id and preview, once — whether Kustomer merges
/// `meta` on PATCH or replaces it (not documented: both played).
#[tokio::test]
async fn r_d_1_a_session_message_written_before_the_number_was_known_gets_it_later() {
    use bridge_shared::conversation::ContactSync;
    use bridge_tests::kustomer_sandbox::SandboxOptions;
    for merges in [true, false] {
        let mut rig = support::rig_both(
            Arc::new(EmbeddedStore::new()),
            CcaiSandboxOptions {
                phone_on_participant: false,
                ..Default::default()
            },
            SandboxOptions {
                message_patch_merges: merges,
                ..SandboxOptions::default()
            },
        )
        .await;
        rig.api.kustomer = Arc::new(bridge_tests::kustomer_support::one_attempt_client(
            &rig.platforms.kustomer,
        ));
        let (agent, _) = rig.agent("ana");
        let phone = "+15550108877";
        let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
        let call = driver.ivr_call_answered(agent, phone).await;
        let truth = rig.api.ccai.call(call.session_id).await.unwrap();
        let without = bridge_shared::conversation::SessionView::from(&truth);
        assert_eq!(
            without.phone, None,
            "the Manager API call does not carry it"
        );
        let with = bridge_shared::conversation::SessionView {
            phone: Some(phone.into()),
            ..without.clone()
        };
        let sync = ContactSync {
            store: rig.api.store.as_ref(),
            kustomer: &rig.api.kustomer,
            ccai: &rig.api.ccai,
            status: &rig.api.status,
            country: &rig.api.caller_country,
            audit_kept: bridge_shared::audit::DEFAULT_KEPT,
        };
        let now = UnixMillis::now();

        rig.platforms.kustomer.inject(
            FaultMatch::body(http::Method::POST, "/messages", "externalId"),
            Fault::ServerError,
        );
        assert!(
            sync.sync(&with, now).await.is_err(),
            "stopped at the message"
        );
        let first = sync.sync(&without, now).await.unwrap();
        assert!(first.session_message);
        let conversation = rig.conversation_of(&call);
        let written = rig.messages_on(&conversation.id);
        assert_eq!(written.len(), 1);
        assert!(written[0].attributes["meta"].get("callerId").is_none());

        let later = sync.sync(&with, now).await.unwrap();
        assert!(later.message_caller_added, "merges: {merges}");
        let messages = rig.messages_on(&conversation.id);
        assert_eq!(messages.len(), 1, "the same message, completed");
        let meta = &messages[0].attributes["meta"];
        assert_eq!(meta["callerId"], phone, "merges: {merges}");
        assert_eq!(meta["language"], "en", "the rest of meta kept: {merges}");
        assert!(
            messages[0]
                .text("preview")
                .is_some_and(|p| p.contains(&format!("from {phone}"))),
            "{:?}",
            messages[0].text("preview")
        );

        let writes = rig.writes();
        let again = sync.sync(&with, now).await.unwrap();
        assert!(!again.message_caller_added);
        assert_eq!(rig.writes(), writes, "completed once");
        assert!(rig.platforms.unexpected_requests().is_empty());
    }
}

/// Review of issue 27 (R-U-12): a pass that could not find the agent's Kustomer user creates
/// the conversation unassigned and loses the answer; the next pass, agent found, finds that
/// conversation by its external id. A conversation found, not written by this pass, is not
/// taken as assigned: the pass's last step assigns it.
#[tokio::test]
async fn issue_27_r_u_12_a_conversation_found_after_a_lost_answer_is_still_assigned() {
    use bridge_tests::kustomer_sandbox::{Fault, FaultMatch};
    let mut rig = rig().await;
    rig.api.kustomer = Arc::new(bridge_tests::kustomer_support::one_attempt_client(
        &rig.platforms.kustomer,
    ));
    rig.api.failures.quick_attempts = 100;
    let (agent, user) = rig.agent("ana");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550108971").await;
    // The first pass: the user lookups are rate-limited (the customer and the conversation
    // are made without the agent), the create's answer is lost and so is the lookup after
    // it, so the pass ends without knowing the conversation.
    for _ in 0..2 {
        rig.platforms.kustomer.inject(
            FaultMatch::on(http::Method::GET, "/v1/users"),
            Fault::RateLimited,
        );
    }
    rig.platforms.kustomer.inject(
        FaultMatch::on(http::Method::POST, "/v1/conversations"),
        Fault::LoseAnswer,
    );
    rig.platforms.kustomer.inject(
        FaultMatch::on(http::Method::GET, "/v1/conversations/externalId="),
        Fault::ServerError,
    );
    let failed = rig.deliver_until_done(&call, 10).await;
    assert!(failed >= 1, "the lost answer ended a pass");
    let conversation = rig.conversation_of(&call);
    assert_eq!(rig.conversations().len(), 1);
    assert_eq!(assigned(&conversation), vec![user], "R-U-12");
}

/// R-ADM-2 (search by a caller's number or customer): a session placed before its customer's
/// session list existed — its link records the customer but not the listing — is listed by
/// its next pass, at when it started; a listed session costs no write again.
#[tokio::test]
async fn r_adm_2_a_session_placed_before_the_customer_lists_existed_is_listed_by_its_next_pass() {
    use bridge_shared::store::{Item, ItemKey};
    let rig = rig().await;
    let (agent, _) = rig.agent("ivy");
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550108415").await;
    rig.deliver(&call).await;
    let store = rig.api.store.as_ref();
    let now = UnixMillis::now();
    let link_key = ItemKey::session_link(SessionKind::Call, call.session_id);
    let mut link = store.get(&link_key, now).await.unwrap().unwrap().body;
    let customer = link["customer_id"].as_str().unwrap().to_owned();
    let listed = ItemKey::customer_session(&customer, SessionKind::Call, call.session_id);
    assert!(store.get(&listed, now).await.unwrap().is_some());
    assert_eq!(link["listed"], true);
    // As the link of an earlier version left it: no listing, no flag.
    store.delete(&listed).await.unwrap();
    link.as_object_mut().unwrap().remove("listed");
    store.put(&Item::new(link_key.clone(), link)).await.unwrap();

    rig.deliver_poll(&call).await;
    let entry = store
        .get(&listed, UnixMillis::now())
        .await
        .unwrap()
        .expect("listed by the next pass");
    let started = rig
        .platforms
        .ccai_client
        .call(call.session_id)
        .await
        .unwrap()
        .created_at
        .unwrap();
    assert_eq!(
        entry.body["at"],
        UnixMillis(
            chrono::DateTime::parse_from_rfc3339(&started)
                .unwrap()
                .timestamp_millis()
        )
        .to_iso()
    );
    // Listed: a later pass writes it no more.
    store.delete(&listed).await.unwrap();
    rig.deliver_poll(&call).await;
    assert!(
        store
            .get(&listed, UnixMillis::now())
            .await
            .unwrap()
            .is_none()
    );
}
