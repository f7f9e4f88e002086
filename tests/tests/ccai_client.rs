//! The CCAI Platform client against the stateful CCAI sandbox, over real HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_shared::Retryable;
use bridge_shared::ccai::{CcaiError, OUTBOUND_API_CALL, OutboundCallOutcome, OutboundCallRequest};
use bridge_shared::http::RetryPolicy;
use bridge_tests::ccai_sandbox::*;
use bridge_tests::ccai_support::{client, client_with};
use std::time::Duration;

async fn sandbox(options: CcaiSandboxOptions) -> CcaiSandbox {
    CcaiSandbox::start(options).await.unwrap()
}

fn agent(sandbox: &CcaiSandbox, email: &str, status: &str) -> u64 {
    sandbox.change(|w| w.add_agent(email, email.split('@').next().unwrap_or("agent"), status))
}

#[tokio::test]
async fn calls_and_chats_are_read_with_their_documented_fields() {
    let sandbox = sandbox(CcaiSandboxOptions::default()).await;
    let client = client(&sandbox);
    let ana = agent(&sandbox, "ana@example.com", "Available");
    let driver = ScenarioDriver::new(&sandbox, None);
    let played = driver.ivr_call_answered(ana, "+15550104477").await;
    driver.csat("call", played.session_id, 4, Some("quick"));

    let call = client.call(played.session_id).await.unwrap();
    assert_eq!(call.call_type.as_deref(), Some("Voice Inbound (IVR)"));
    assert_eq!(call.status.as_deref(), Some("finished"));
    assert_eq!(call.call_duration, Some(125.0));
    assert_eq!(call.rating, Some(4.0), "rating arrives as the string \"4\"");
    assert_eq!(call.caller_phone(), Some("+15550104477"));
    assert_eq!(call.agent_info.as_ref().and_then(|a| a.id), Some(ana));
    assert!(call.recording_url.is_some());
    assert_eq!(
        call.selected_menu
            .as_ref()
            .and_then(|m| m.menu_type.as_deref()),
        Some("ivr_menu")
    );
    assert!(!call.is_abandoned() && !call.is_sdk());

    let chat = driver
        .chat_with_transcript(
            ana,
            "web-user-1",
            &[("end_user", "Hi"), ("agent", "Hello!")],
        )
        .await;
    let read = client.chat(chat.session_id).await.unwrap();
    assert_eq!(read.transcript, Some(true));
    // The messages are not the Manager API's to serve: the transcript lands in external
    // storage (ccai-api.md §3).
    let transcript = sandbox.inspect(|w| w.transcripts[&chat.session_id].clone());
    assert_eq!(transcript["transcript_version"], "1.0");
    assert_eq!(transcript["entries"][1]["role"], "agent");
    assert_eq!(transcript["entries"][1]["body"]["content"], "Hello!");

    assert!(matches!(
        client.call(999_999).await,
        Err(CcaiError::NotFound { .. })
    ));
}

#[tokio::test]
async fn the_callers_number_is_served_where_documented_or_where_the_switch_says() {
    // Documented only (ccai-api.md §2): neither the call nor the Apps API end user carries it;
    // the ESE external participant's `dn` does.
    let sandbox = sandbox(CcaiSandboxOptions {
        phone_on_participant: false,
        ..Default::default()
    })
    .await;
    let client = client(&sandbox);
    let ana = agent(&sandbox, "ana@example.com", "Available");
    let played = ScenarioDriver::new(&sandbox, None)
        .ivr_call_answered(ana, "+15550104477")
        .await;
    let call = client.call(played.session_id).await.unwrap();
    assert_eq!(call.caller_phone(), None);
    let end_user_id = call.end_user.unwrap().id.unwrap();
    let end_user = client.end_user(end_user_id).await.unwrap().unwrap();
    assert_eq!(end_user.phone, None);
    assert!(client.end_user(424_242).await.unwrap().is_none());
    let dn = &played.events[0].body["item"]["participants"][0]["dn"];
    assert_eq!(dn, "+15550104477");

    // The uncertain alternative (L): both carry it.
    let lenient = CcaiSandbox::start(CcaiSandboxOptions::default())
        .await
        .unwrap();
    let client = bridge_tests::ccai_support::client(&lenient);
    let ana = agent(&lenient, "ana@example.com", "Available");
    let played = ScenarioDriver::new(&lenient, None)
        .ivr_call_answered(ana, "+15550104477")
        .await;
    let call = client.call(played.session_id).await.unwrap();
    assert_eq!(call.caller_phone(), Some("+15550104477"));
    let end_user = client
        .end_user(call.end_user.unwrap().id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(end_user.phone.as_deref(), Some("+15550104477"));
}

#[tokio::test]
async fn r_e_4_updated_calls_are_tailed_oldest_first() {
    let sandbox = sandbox(CcaiSandboxOptions::default()).await;
    let client = client(&sandbox);
    let ana = agent(&sandbox, "ana@example.com", "Available");
    let driver = ScenarioDriver::new(&sandbox, None);
    let early = driver.abandoned_call("+15550100001").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let since = chrono::Utc::now();
    let mut later = Vec::new();
    for n in 0..5 {
        later.push(
            driver
                .ivr_call_answered(ana, &format!("+1555010000{n}"))
                .await
                .session_id,
        );
    }
    let calls = client.calls_page(since, 1).await.unwrap();
    let ids: Vec<u64> = calls.iter().map(|c| c.id).collect();
    assert_eq!(ids, later, "oldest first, from `since` on");
    assert!(!ids.contains(&early.session_id));
    // A tail read repeats from the last record's update time (inclusive).
    let last = chrono::DateTime::parse_from_rfc3339(calls[4].updated_at.as_deref().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let again = client.calls_page(last, 1).await.unwrap();
    assert_eq!(again.iter().map(|c| c.id).collect::<Vec<_>>(), [later[4]]);
    assert!(client.calls_page(since, 2).await.unwrap().is_empty());
    let abandoned = client.call(early.session_id).await.unwrap();
    assert!(abandoned.is_abandoned());

    let chat = driver
        .chat_with_transcript(ana, "u1", &[("end_user", "hi")])
        .await;
    let chats = client.chats_page(since, 1).await.unwrap();
    assert_eq!(
        chats.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![chat.session_id]
    );
}

#[tokio::test]
async fn agents_statuses_menus_and_teams_are_read_and_credentials_checked() {
    let sandbox = sandbox(CcaiSandboxOptions {
        max_per_page: 3,
        ..Default::default()
    })
    .await;
    let client = client(&sandbox);
    for n in 0..4 {
        agent(&sandbox, &format!("agent{n}@example.com"), "Available");
    }
    agent(&sandbox, "Shared@Example.com", "Available");
    agent(&sandbox, "shared@example.com", "Offline");
    assert_eq!(client.agents().await.unwrap().len(), 6);
    assert_eq!(
        client
            .agents_by_email("SHARED@example.com")
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        client.agents_by_email("agent2@example.com").await.unwrap()[0]
            .status
            .as_ref()
            .unwrap()
            .name
            .as_deref(),
        Some("Available")
    );
    // R-S-2: status ids are signed (built-ins 0 and below) and names repeat.
    let statuses = client.user_statuses().await.unwrap();
    let ids_of = |name: &str| -> Vec<i64> {
        statuses
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.id)
            .collect()
    };
    assert_eq!(ids_of("In-call"), [-7]);
    assert_eq!(ids_of("Available"), [0]);
    assert_eq!(ids_of("Meal"), [-4, 5]);
    let agent = client.agents_by_email("agent2@example.com").await.unwrap();
    assert_eq!(agent[0].status.as_ref().unwrap().id, Some(0));
    assert_eq!(client.menus().await.unwrap().len(), 4);
    assert_eq!(client.teams().await.unwrap().len(), 2);
    client.check_credentials().await.unwrap();

    let options = sandbox.options();
    let legacy = client_with(
        &sandbox,
        &options.company_key,
        &options.company_secret,
        RetryPolicy::immediate(2),
    );
    legacy.check_credentials().await.unwrap();
    let wrong = client_with(&sandbox, "acme", "wrong", RetryPolicy::immediate(2));
    let err = wrong.check_credentials().await.unwrap_err();
    assert!(
        matches!(err, CcaiError::Client { status: 401, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn agent_status_changes_apply_per_agent_and_system_statuses_refuse() {
    let sandbox = sandbox(CcaiSandboxOptions::default()).await;
    let client = client(&sandbox);
    let ana = agent(&sandbox, "ana@example.com", "Available");
    let bo = agent(&sandbox, "bo@example.com", "In-call");
    let results = client.set_agent_status("Break", &[ana, bo]).await.unwrap();
    assert_eq!(results.len(), 2);
    assert!(results[0].applied());
    assert_eq!(results[0].previous_status.as_deref(), Some("Available"));
    assert_eq!(results[0].current_status.as_deref(), Some("Break"));
    assert!(!results[1].applied());
    assert!(results[1].message.as_deref().unwrap().contains("In-call"));
    assert_eq!(
        sandbox.inspect(|w| w.agent_status(bo)),
        Some("In-call".into())
    );

    let to_system = client.set_agent_status("Wrap-up", &[ana]).await.unwrap();
    assert!(!to_system[0].applied());
    let err = client
        .set_agent_status("Napping", &[ana])
        .await
        .unwrap_err();
    match err {
        CcaiError::Client {
            status: 400,
            message,
            ..
        } => assert_eq!(message, "Status not found"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn outbound_calls_map_201_202_and_400_to_typed_outcomes() {
    let sandbox = sandbox(CcaiSandboxOptions::default()).await;
    let client = client(&sandbox);
    let ana = agent(&sandbox, "ana@example.com", "Available");
    let bo = agent(&sandbox, "bo@example.com", "In-call");
    let cy = agent(&sandbox, "cy@example.com", "Available");
    sandbox.change(|w| w.agent_mut(cy).unwrap().adapter_confirm = true);
    let request = |email: &str, number: &str| OutboundCallRequest {
        call_type: OUTBOUND_API_CALL.into(),
        agent_email: email.into(),
        end_user_number: Some(number.into()),
        ticket_id: Some("5f00000000000000000000aa".into()),
        ..Default::default()
    };
    match client
        .create_outbound_call(&request("ana@example.com", "+15550104477"))
        .await
        .unwrap()
    {
        OutboundCallOutcome::Created(call) => {
            assert_eq!(call.call_type.as_deref(), Some(OUTBOUND_API_CALL));
            assert_eq!(
                call.out_ticket_id.as_deref(),
                Some("5f00000000000000000000aa")
            );
            assert_eq!(call.agent_info.unwrap().id, Some(ana));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        client
            .create_outbound_call(&request("cy@example.com", "+15550104477"))
            .await
            .unwrap(),
        OutboundCallOutcome::AgentMustAct
    );
    for (email, number, expected) in [
        (
            "bo@example.com",
            "+15550104477",
            "Agent is not available to take this call",
        ),
        (
            "nobody@example.com",
            "+15550104477",
            "Not a valid agent email",
        ),
        (
            "ana@example.com",
            "call me",
            "end_user_number is not well-formed",
        ),
    ] {
        let outcome = client
            .create_outbound_call(&request(email, number))
            .await
            .unwrap();
        assert_eq!(
            outcome,
            OutboundCallOutcome::Refused {
                message: expected.into()
            }
        );
    }
    let _ = bo;
}

/// No second ever carries more than the platform's 10 requests, however many tasks call.
#[tokio::test]
async fn the_client_never_sends_more_than_ten_requests_in_any_second() {
    let sandbox = sandbox(CcaiSandboxOptions::default()).await;
    let ana = agent(&sandbox, "ana@example.com", "Available");
    let client = std::sync::Arc::new(client(&sandbox));
    let tasks: Vec<_> = (0..35)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.agent(ana).await.unwrap() })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert!(
        sandbox.busiest_second() <= 10,
        "{} in one second",
        sandbox.busiest_second()
    );
    assert!(
        sandbox.requests().iter().all(|r| r.status == 200),
        "the sandbox refused some"
    );
}

#[tokio::test]
async fn a_429_from_the_platform_is_retried() {
    let sandbox = sandbox(CcaiSandboxOptions {
        requests_per_second: 4,
        ..Default::default()
    })
    .await;
    let ana = agent(&sandbox, "ana@example.com", "Available");
    let client = client_with(
        &sandbox,
        "acme",
        "sandbox-ccai-token",
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(400),
            max_rate_limit_wait: Duration::from_secs(2),
        },
    );
    for _ in 0..12 {
        client.agent(ana).await.unwrap();
    }
    assert!(
        sandbox.requests().iter().any(|r| r.status == 429),
        "the sandbox limit was never hit"
    );
}

#[tokio::test]
async fn malformed_answers_are_typed_errors() {
    use bridge_shared::ccai::model::Call;
    for (json, rating) in [
        (
            r#"{"id": 1, "rating": "5", "brand_new_field": {"x": 1}}"#,
            Some(5.0),
        ),
        (r#"{"id": 1, "rating": 3}"#, Some(3.0)),
        (
            r#"{"id": 1, "rating": "", "call_type": "Voice Something (New)", "status": "teleporting"}"#,
            None,
        ),
        (r#"{"id": 1, "rating": null, "transfers": []}"#, None),
    ] {
        let call: Call = serde_json::from_str(json).unwrap();
        assert_eq!(call.rating, rating, "{json}");
    }
    let call: Call =
        serde_json::from_str(r#"{"id": 1, "status": "teleporting", "fail_reason": "cosmic_rays"}"#)
            .unwrap();
    assert_eq!(call.status.as_deref(), Some("teleporting"));
    assert!(serde_json::from_str::<Call>(r#"{"id": "not a number"}"#).is_err());
}

#[tokio::test]
async fn a_path_the_platform_does_not_have_is_a_404_recorded_as_unexpected() {
    let platforms = bridge_tests::platforms::SandboxedPlatforms::start()
        .await
        .unwrap();
    let http = bridge_shared::http::builder().build().unwrap();
    let answer = http
        .get(format!(
            "{}/manager/api/v1/chats/1/transcript",
            platforms.ccai.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 404);
    let answer = http
        .post(format!(
            "{}/v1/conversations/x/nonsense",
            platforms.kustomer.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 404);
    assert_eq!(
        platforms.unexpected_requests(),
        [
            "GET /manager/api/v1/chats/1/transcript",
            "POST /v1/conversations/x/nonsense"
        ]
    );
}
