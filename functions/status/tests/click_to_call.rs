//! Click-to-call (R-C2C) through the status function's route, against both sandboxes: the
//! number normalised, the customer found or created, the conversation chosen (the one clicked
//! from, else the customer's open one), CCAI's answer passed back, and the call's own session
//! placed in the chosen conversation when it is synced.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_shared::UnixMillis;
use bridge_shared::conversation::{ContactSync, SessionView};
use bridge_shared::kustomer::requests::NewConversation;
use bridge_shared::store::{EmbeddedStore, StateStore};
use bridge_status::{StatusApi, handle};
use bridge_tests::platforms::SandboxedPlatforms;
use lambda_http::Body;
use serde_json::{Value, json};
use std::sync::Arc;

struct Rig {
    /// The agent's session (R-SEC-1).
    session: String,
    platforms: SandboxedPlatforms,
    store: Arc<dyn StateStore>,
    api: StatusApi,
    email: String,
}

async fn rig() -> Rig {
    let platforms = SandboxedPlatforms::start().await.unwrap();
    let store: Arc<dyn StateStore> = Arc::new(EmbeddedStore::new());
    let email = format!("{}@example.com", bridge_tests::unique("ana"));
    platforms.add_agent(&email, "Ana", "Available");
    let user = platforms.kustomer_user(&email).unwrap();
    let session = bridge_tests::sign_in_support::session_for(
        store.as_ref(),
        &email,
        &user,
        UnixMillis::now(),
    )
    .await;
    let api = StatusApi {
        service: platforms.status_service(store.clone()),
        store: store.clone(),
        oauth: None,
        public_url: None,
        click: platforms.click_to_call(store.clone()),
        widget: Default::default(),
    };
    Rig {
        session,
        platforms,
        store,
        api,
        email,
    }
}

impl Rig {
    async fn click(&self, body: Value) -> (u16, Value) {
        self.click_as(&self.session, body).await
    }

    async fn click_as(&self, session: &str, body: Value) -> (u16, Value) {
        let request = http::Request::builder()
            .method("POST")
            .uri("/click-to-call")
            .header("authorization", format!("Bearer {session}"))
            .body(Body::Text(body.to_string()))
            .unwrap();
        let response = handle(&self.api, request, UnixMillis::now()).await;
        let status = response.status().as_u16();
        let body = match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        (status, body)
    }

    /// A customer of the org with this phone (the agent clicks on their profile).
    async fn customer(&self, phone: &str) -> String {
        self.platforms
            .kustomer_client
            .create_customer(&bridge_shared::kustomer::requests::NewCustomer {
                name: Some("Camille".into()),
                phones: vec![bridge_shared::kustomer::requests::NewPhone {
                    kind: Some("mobile".into()),
                    phone: phone.into(),
                }],
                ..Default::default()
            })
            .await
            .unwrap()
            .id
    }

    fn ccai_call(&self, id: u64) -> Value {
        self.platforms
            .ccai
            .inspect(|w| w.call(id).cloned())
            .unwrap()
    }

    /// Syncs the outbound call's session as the worker does, answering its conversation.
    async fn sync_call(&self, id: u64) -> Option<String> {
        let call = self.platforms.ccai_client.call(id).await.unwrap();
        let status = self.platforms.status_service(self.store.clone());
        let country = Default::default();
        ContactSync {
            store: self.store.as_ref(),
            kustomer: &self.platforms.kustomer_client,
            ccai: &self.platforms.ccai_client,
            status: &status,
            country: &country,
            audit_kept: bridge_shared::audit::DEFAULT_KEPT,
        }
        .conversation_of(&SessionView::from(&call), UnixMillis::now())
        .await
        .unwrap()
    }
}

/// R-C2C-1, R-C2C-2, R-T-3, R-U-2, R-C2C-4: a national number is called in E.164 for the
/// clicked customer (no conversation yet: the call's session creates one); a second click for the same
/// customer, while that conversation is open, carries it as the ticket and the call joins it;
/// a click from another conversation of the customer puts the call there.
#[tokio::test]
async fn r_c2c_1_r_c2c_2_r_c2c_4_the_call_goes_to_the_clicked_or_open_conversation() {
    let rig = rig().await;
    let customer = rig.customer("+16502530000").await;
    let (status, first) = rig
        .click(
            json!({"agent_email": rig.email, "phone": "(650) 253-0000", "customer_id": customer}),
        )
        .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["outcome"], "created");
    assert!(first["conversation_id"].is_null(), "R-T-3: none yet");
    let call = rig.ccai_call(first["call_id"].as_u64().unwrap());
    assert_eq!(call["call_type"], "Voice Outbound (API)");
    assert_eq!(call["participants"][0]["phone_number"], "+16502530000");
    assert!(call["out_ticket_id"].is_null());
    assert_eq!(first["customer_id"], customer.as_str());
    // The outbound call's session creates the conversation (R-T-3) and becomes current.
    let created = rig
        .sync_call(first["call_id"].as_u64().unwrap())
        .await
        .unwrap();

    // R-U-2: a second click while it is open carries it, and the call lands in it.
    let (status, second) = rig
        .click(
            json!({"agent_email": rig.email, "phone": "+1 650 253 0000", "customer_id": customer}),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["customer_id"], customer.as_str());
    assert_eq!(second["conversation_id"], created.as_str());
    let second_call = second["call_id"].as_u64().unwrap();
    assert_eq!(
        rig.ccai_call(second_call)["out_ticket_id"],
        created.as_str()
    );
    assert_eq!(rig.sync_call(second_call).await.unwrap(), created);

    // Clicked from another (older) conversation of the customer: the call goes there.
    let other = rig
        .platforms
        .kustomer_client
        .create_conversation(&NewConversation {
            customer: customer.clone(),
            name: Some("Order 1042".into()),
            status: Some("open".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let (status, third) = rig
        .click(json!({"agent_email": rig.email, "phone": "650-253-0000", "customer_id": customer, "conversation_id": other.id}))
        .await;
    assert_eq!(status, 201, "{third}");
    let third_call = third["call_id"].as_u64().unwrap();
    let (placed, noted) = bridge_shared::audit::recording(rig.sync_call(third_call)).await;
    assert_eq!(placed.unwrap(), other.id);
    // The session's timeline names the rule (R-ADM-2).
    assert!(
        noted
            .decisions
            .iter()
            .any(|d| d == "placed: appended to the conversation click-to-call named (R-C2C-4)"),
        "{:?}",
        noted.decisions
    );
    let messages = rig.platforms.kustomer.inspect(|w| {
        w.messages
            .iter()
            .filter(|m| m.related("conversation") == Some(other.id.as_str()))
            .count()
    });
    assert_eq!(
        messages, 1,
        "the call's message is in the clicked conversation"
    );
    assert!(rig.platforms.unexpected_requests().is_empty());
}

/// R-C2C-3 and bad input: CCAI's own refusal and its 202 come back as they came; a number that
/// cannot be one or an unknown customer is a 400 naming the field; the agent is the session's
/// (R-SEC-1): a body naming none calls as the signed-in agent, one naming another is refused.
#[tokio::test]
async fn r_c2c_3_the_platforms_answer_is_passed_back_and_bad_input_is_named() {
    let rig = rig().await;
    let camille = rig.customer("+16502530000").await;
    let (status, answer) = rig
        .click(json!({"agent_email": rig.email, "phone": "call me maybe"}))
        .await;
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().starts_with("phone:"),
        "{answer}"
    );
    let (status, answer) = rig.click(json!({"phone": "+16502530000"})).await;
    assert_eq!(status, 400, "R-SEC-2: the customer clicked is required");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("customer_id:"),
        "{answer}"
    );
    let (status, answer) = rig
        .click(json!({"phone": "+16502530000", "customer_id": camille}))
        .await;
    assert_eq!(status, 201, "the signed-in agent calls: {answer}");
    let placed = answer["call_id"]
        .as_u64()
        .map(|id| rig.ccai_call(id))
        .unwrap();
    let ana = rig
        .platforms
        .ccai
        .inspect(|w| w.agents.iter().find(|a| a.email == rig.email).map(|a| a.id));
    assert_eq!(placed["agent_info"]["id"].as_u64(), ana, "{placed}");
    let (status, answer) = rig
        .click(json!({"agent_email": rig.email, "phone": "+16502530000", "customer_id": "aaaaaaaaaaaaaaaaaaaaaaaa"}))
        .await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("customer_id:"),
        "{answer}"
    );

    let set = |f: &dyn Fn(&mut bridge_tests::ccai_sandbox::AgentRecord)| {
        rig.platforms.ccai.change(|w| {
            let agent = w.agents.iter_mut().find(|a| a.email == rig.email).unwrap();
            f(agent);
        })
    };
    set(&|a| a.adapter_confirm = true);
    let (status, answer) = rig
        .click(json!({"agent_email": rig.email, "phone": "+16502530000", "customer_id": camille}))
        .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["outcome"], "agent_must_act");
    set(&|a| {
        a.adapter_confirm = false;
        a.status = "Break".into();
    });
    let (status, answer) = rig
        .click(json!({"agent_email": rig.email, "phone": "+16502530000", "customer_id": camille}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(answer["outcome"], "refused");
    assert_eq!(answer["error"], "Agent is not available to take this call");
    let (status, answer) = rig
        .click(json!({"agent_email": "nobody@example.com", "phone": "+16502530000", "customer_id": camille}))
        .await;
    assert_eq!(
        status, 403,
        "R-SEC-1: a body naming another agent: {answer}"
    );
    // A Kustomer user with no CCAI agent (a session for a user Kustomer does not list as
    // active would end at the door: 401).
    let nobody = rig
        .platforms
        .kustomer
        .add_user("Nobody", "nobody@example.com");
    let stranger = bridge_tests::sign_in_support::session_for(
        rig.store.as_ref(),
        "nobody@example.com",
        &nobody,
        UnixMillis::now(),
    )
    .await;
    let (status, _) = rig
        .click_as(
            &stranger,
            json!({"phone": "+16502530000", "customer_id": camille}),
        )
        .await;
    assert_eq!(status, 400, "CCAI's own refusal of an unknown agent");
}

/// Review L6 (R-C2C-4, R-K-1): the agent clicks a number of a customer whose profile holds it
/// in another format (not E.164, so a lookup by number finds nobody), with no open
/// conversation. The call's session is placed under the clicked customer: no duplicate
/// customer appears.
#[tokio::test]
async fn l6_r_c2c_4_the_call_is_placed_under_the_clicked_customer() {
    let rig = rig().await;
    let clicked = rig
        .platforms
        .kustomer_client
        .create_customer(&bridge_shared::kustomer::requests::NewCustomer {
            name: Some("Jo".into()),
            phones: vec![bridge_shared::kustomer::requests::NewPhone {
                kind: Some("mobile".into()),
                phone: "+16502530001".into(),
            }],
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    // An agent edited the number in Kustomer's own format.
    rig.platforms.kustomer.inspect_mut(|w| {
        if let Some(c) = w.customers.iter_mut().find(|c| c.id == clicked) {
            c.attributes.insert(
                "phones".into(),
                json!([{"type": "mobile", "phone": "(650) 253-0001"}]),
            );
        }
    });
    let (status, answer) = rig
        .click(json!({"agent_email": rig.email, "phone": "(650) 253-0001", "customer_id": clicked}))
        .await;
    assert_eq!(status, 201, "{answer}");
    let customers = || rig.platforms.kustomer.inspect(|w| w.customers.len());
    let before = customers();
    let conversation = rig
        .sync_call(answer["call_id"].as_u64().unwrap())
        .await
        .unwrap();
    let customer = rig.platforms.kustomer.inspect(|w| {
        w.find("conversation", &conversation)
            .and_then(|c| c.related("customer").map(str::to_owned))
    });
    assert_eq!(customer.as_deref(), Some(clicked.as_str()));
    assert_eq!(customers(), before, "no duplicate customer");
}

/// R-SEC-2 (review S1, S14, S20): a signed-in agent still cannot dial anywhere. A number that
/// is not the clicked customer's, a destination outside `CLICK_TO_CALL_COUNTRIES`, a
/// conversation of another customer are refused (403) before CCAI is asked; past the agent's
/// hourly budget every click is a 429; each attempt leaves an audit record naming the agent,
/// the session and the outcome, and no number (not even hashed).
#[tokio::test]
async fn r_sec_2_calls_outside_the_policy_are_refused_counted_and_audited() {
    let mut rig = rig().await;
    rig.api.click.policy.per_hour = 5;
    let camille = rig.customer("+16502530000").await;
    let other = rig.customer("+14155550100").await;
    let others_conversation = rig
        .platforms
        .kustomer_client
        .create_conversation(&NewConversation {
            customer: other.clone(),
            name: Some("Not Camille's".into()),
            status: Some("open".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let calls = || rig.platforms.ccai.inspect(|w| w.calls.len());
    let before = calls();
    for (body, status, says) in [
        (
            json!({"phone": "+14155550100", "customer_id": camille}),
            403,
            "not one of the customer's phones",
        ),
        (
            json!({"phone": "+16502530000", "customer_id": camille, "conversation_id": others_conversation.id}),
            403,
            "not the customer's",
        ),
        (
            json!({"phone": "+19002530000", "customer_id": camille}),
            403,
            "premium",
        ),
    ] {
        let (code, answer) = rig.click(body.clone()).await;
        assert_eq!(code, status, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(says), "{answer}");
    }
    // A destination abroad, even one of the customer's own numbers.
    let abroad = rig.customer("+442079460000").await;
    let (code, answer) = rig
        .click(json!({"phone": "+442079460000", "customer_id": abroad}))
        .await;
    assert_eq!(code, 403, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("GB"), "{answer}");
    assert_eq!(calls(), before, "nothing reached CCAI");
    // The fifth attempt of the hour is allowed; the sixth is over the budget.
    let (code, answer) = rig
        .click(json!({"phone": "+16502530000", "customer_id": camille}))
        .await;
    assert_eq!(code, 201, "{answer}");
    let (code, answer) = rig
        .click(json!({"phone": "+16502530000", "customer_id": camille}))
        .await;
    assert_eq!(code, 429, "{answer}");
    assert_eq!(calls(), before + 1);

    let now = UnixMillis::now();
    let hour = chrono::DateTime::from_timestamp_millis(now.0)
        .unwrap()
        .format("%Y-%m-%dT%H");
    let audit: Vec<_> = rig
        .store
        .list_partition(&format!("C2C#{}#{hour}", rig.email), now)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| !i.key.sk.starts_with("SLOT#"))
        .collect();
    assert_eq!(audit.len(), 5, "one record per attempt within the budget");
    let text = serde_json::to_string(&audit.iter().map(|i| &i.body).collect::<Vec<_>>()).unwrap();
    assert!(!text.contains("6502530000"), "no number in clear: {text}");
    assert_eq!(
        audit
            .iter()
            .filter(|i| i.body["outcome"].as_str().unwrap().starts_with("created"))
            .count(),
        1
    );
    assert!(audit.iter().all(|i| i.body["agent"] == rig.email.as_str()
        && i.body["session"].as_str().is_some_and(|s| s.len() == 16)));
}

/// R-SEC-2 (review of issue 26): the hourly budget holds under concurrent clicks — ten at once
/// against a budget of three let exactly three through (a count read before a write would let
/// them all pass).
#[tokio::test]
async fn r_sec_2_concurrent_clicks_never_exceed_the_hourly_budget() {
    let mut rig = rig().await;
    rig.api.click.policy.per_hour = 3;
    let camille = rig.customer("+16502530000").await;
    let body = json!({"phone": "+16502530000", "customer_id": camille});
    let answers = futures::future::join_all((0..10).map(|_| rig.click(body.clone()))).await;
    let codes: Vec<u16> = answers.iter().map(|(code, _)| *code).collect();
    assert_eq!(codes.iter().filter(|c| **c == 429).count(), 7, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c != 429).count(), 3, "{codes:?}");
}
