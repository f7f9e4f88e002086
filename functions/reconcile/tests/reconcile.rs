//! The scheduled reconciliation against DynamoDB Local and both sandboxes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_reconcile::reconcile_agents;
use bridge_shared::UnixMillis;
use bridge_shared::store::EmbeddedStore;
use bridge_tests::platforms::SandboxedPlatforms;
use std::sync::Arc;

/// R-S-6 by the reconciliation job: a change kept pending during a call is applied on the next
/// run after the call; an agent still in a call keeps waiting; one agent's failure does not
/// stop the others.
#[tokio::test]
async fn r_s_6_pending_changes_are_applied_by_the_scheduled_run() {
    let platforms = SandboxedPlatforms::start().await.unwrap();
    let (ccai, kustomer) = (&platforms.ccai, &platforms.kustomer);
    let service = platforms.status_service(Arc::new(EmbeddedStore::new()));
    let lunch = kustomer.status_id("Lunch").unwrap();
    service
        .save_mapping(&bridge_tests::ccai_sandbox::state::mapping_by_name(&[(
            lunch.clone(),
            "Break",
        )]))
        .await
        .unwrap();
    let mut agents = Vec::new();
    for name in ["ana", "bo"] {
        let email = format!("{name}@example.com");
        let id = platforms.add_agent(&email, name, "In-call");
        let user = platforms.kustomer_user(&email).unwrap();
        kustomer.set_work_session(&user, "Lunch").unwrap();
        service.report(&email, UnixMillis::now()).await.unwrap();
        agents.push(id);
    }
    // Ana's call ends; Bo is still on his.
    ccai.change(|w| {
        w.move_agent(agents[0], "Wrap-up", "platform");
        w.finish_session_for(agents[0]);
    });
    let summary = reconcile_agents(&service, UnixMillis::now()).await.unwrap();
    assert_eq!(
        (
            summary.agents,
            summary.pending_applied,
            summary.still_waiting,
            summary.failed
        ),
        (2, 1, 1, 0),
        "{summary:?}"
    );
    assert_eq!(
        ccai.inspect(|w| w.agent_status(agents[0])).as_deref(),
        Some("Break")
    );
    assert_eq!(
        ccai.inspect(|w| w.agent_status(agents[1])).as_deref(),
        Some("In-call")
    );

    // Bo's agent vanishes from CCAI: his reconciliation fails, Ana's run still completes.
    ccai.change(|w| w.agents.retain(|a| a.id != agents[1]));
    let summary = reconcile_agents(&service, UnixMillis::now()).await.unwrap();
    assert_eq!((summary.agents, summary.failed), (2, 1), "{summary:?}");
}

/// R-S-4 (issue 26): a change no tab reported (every tab closed, a report lost) is caught by
/// the scheduled run, which reads every active work session of the org in one paged list —
/// here three agents over pages of two — and converges each agent to what Kustomer records.
/// An agent signed out of routing has nothing to follow and keeps their CCAI status.
#[tokio::test]
async fn r_s_4_a_change_no_tab_reported_is_followed_by_the_scheduled_run() {
    use bridge_tests::ccai_sandbox::CcaiSandboxOptions;
    use bridge_tests::kustomer_sandbox::SandboxOptions;
    let platforms = SandboxedPlatforms::start_both(
        CcaiSandboxOptions::default(),
        SandboxOptions {
            max_page_size: 2,
            ..SandboxOptions::default()
        },
    )
    .await
    .unwrap();
    let (ccai, kustomer) = (&platforms.ccai, &platforms.kustomer);
    let service = platforms.status_service(Arc::new(EmbeddedStore::new()));
    let lunch = kustomer.status_id("Lunch").unwrap();
    let available = kustomer.status_id("Available").unwrap();
    service
        .save_mapping(&bridge_tests::ccai_sandbox::state::mapping_by_name(&[
            (lunch.clone(), "Break"),
            (available.clone(), "Available"),
        ]))
        .await
        .unwrap();
    let mut agents = Vec::new();
    for name in ["cy", "di", "ed", "flo"] {
        let email = format!("{}@example.com", bridge_tests::unique(name));
        let id = platforms.add_agent(&email, name, "Available");
        let user = platforms.kustomer_user(&email).unwrap();
        kustomer.set_work_session(&user, "Available").unwrap();
        service.report(&email, UnixMillis::now()).await.unwrap();
        agents.push((id, user));
    }
    // Three go to lunch in Kustomer; no tab reports it. The fourth signs out of routing.
    for (_, user) in &agents[..3] {
        kustomer.set_work_session(user, "Lunch").unwrap();
    }
    kustomer.set_work_session(&agents[3].1, "Offline").unwrap();
    let listed = kustomer.requests_to("GET", "/v1/routing/work-sessions");
    let summary = reconcile_agents(&service, UnixMillis::now()).await.unwrap();
    assert_eq!(
        (summary.agents, summary.followed, summary.failed),
        (4, 3, 0),
        "{summary:?}"
    );
    for (id, _) in &agents[..3] {
        assert_eq!(
            ccai.inspect(|w| w.agent_status(*id)).as_deref(),
            Some("Break")
        );
    }
    assert_eq!(
        ccai.inspect(|w| w.agent_status(agents[3].0)).as_deref(),
        Some("Available"),
        "signed out of routing: nothing to follow"
    );
    assert_eq!(
        kustomer.requests_to("GET", "/v1/routing/work-sessions") - listed,
        2,
        "three active sessions, pages of two: one list, two pages"
    );
    // The next run finds everything settled: nothing changes in CCAI.
    let sets = || {
        ccai.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.contains("agent_statuses"))
            .count()
    };
    let before = sets();
    let summary = reconcile_agents(&service, UnixMillis::now()).await.unwrap();
    assert_eq!((summary.followed, summary.failed), (0, 0), "{summary:?}");
    assert_eq!(sets(), before);

    // Kustomer refuses the list: the run still completes for every agent (nothing followed).
    kustomer.inject(
        bridge_tests::kustomer_sandbox::FaultMatch::on(
            http::Method::GET,
            "/v1/routing/work-sessions",
        ),
        bridge_tests::kustomer_sandbox::Fault::Answer(400, r#"{"errors":[{"status":400}]}"#),
    );
    let summary = reconcile_agents(&service, UnixMillis::now()).await.unwrap();
    assert!(summary.sessions_unread, "{summary:?}");
    assert_eq!((summary.agents, summary.failed), (4, 0), "{summary:?}");
}
