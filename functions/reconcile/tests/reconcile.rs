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
/// An agent who signs out of routing (Kustomer Offline ends the work session) is followed to
/// the signed-out session's last status, read once. A later record of the same status is no
/// new choice. With apply-at-login off, a shift the bridge never saw is not followed.
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
    let status = |name: &str| kustomer.status_id(name).unwrap();
    service
        .save_mapping(&bridge_tests::ccai_sandbox::state::mapping_by_name(&[
            (status("Lunch"), "Break"),
            (status("Available"), "Available"),
            (status("Offline"), "Offline"),
        ]))
        .await
        .unwrap();
    let mut agents = Vec::new();
    for name in ["cy", "di", "ed", "flo", "gus"] {
        let email = format!("{}@example.com", bridge_tests::unique(name));
        let id = platforms.add_agent(&email, name, "Available");
        let user = platforms.kustomer_user(&email).unwrap();
        kustomer.set_work_session(&user, "Available").unwrap();
        // Gus's tab never reports: the bridge knows him (he answered a call) but not his shift.
        if name != "gus" {
            service.report(&email, UnixMillis::now()).await.unwrap();
        } else {
            service
                .session_ended(&email, None, UnixMillis::now())
                .await
                .unwrap();
            ccai.change(|w| w.move_agent(id, "Meal", "agent"));
        }
        agents.push((id, user));
    }
    // Three go to lunch in Kustomer; no tab reports it. Flo signs out of routing; Gus, whose
    // shift the bridge never saw, goes to lunch too.
    for (_, user) in &agents[..3] {
        kustomer.set_work_session(user, "Lunch").unwrap();
    }
    kustomer.set_work_session(&agents[3].1, "Offline").unwrap();
    kustomer.set_work_session(&agents[4].1, "Lunch").unwrap();
    let listed = kustomer.requests_to("GET", "/v1/routing/work-sessions");
    let per_user = || kustomer.requests_to("GET", "/v1/routing/users/");
    let user_reads = per_user();
    let summary = reconcile_agents(&service, UnixMillis::now()).await.unwrap();
    assert_eq!(
        (summary.followed, summary.failed),
        (4, 0),
        "three lunches and a sign-out: {summary:?}"
    );
    for (id, _) in &agents[..3] {
        assert_eq!(
            ccai.inspect(|w| w.agent_status(*id)).as_deref(),
            Some("Break")
        );
    }
    assert_eq!(
        ccai.inspect(|w| w.agent_status(agents[3].0)).as_deref(),
        Some("Offline"),
        "signed out: the signed-out session's last status is followed"
    );
    assert_eq!(
        ccai.inspect(|w| w.agent_status(agents[4].0)).as_deref(),
        Some("Meal"),
        "apply-at-login off: a shift the bridge never saw is the agent's own"
    );
    assert_eq!(
        kustomer.requests_to("GET", "/v1/routing/work-sessions") - listed,
        2,
        "four active sessions, pages of two: one list, two pages"
    );
    assert_eq!(
        per_user() - user_reads,
        1,
        "the signed-out agent's read, once"
    );
    // The next run finds everything settled: nothing changes in CCAI, no per-user read.
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
    assert_eq!(per_user() - user_reads, 1);

    // Ed picks Lunch in CCAI; his Kustomer session then updates without a status change (a
    // new record of Lunch in Kustomer). Not a new choice: his CCAI Lunch stands (R-S-5).
    ccai.change(|w| w.move_agent(agents[2].0, "Lunch", "agent"));
    kustomer.set_work_session(&agents[2].1, "Lunch").unwrap();
    let summary = reconcile_agents(&service, UnixMillis::now()).await.unwrap();
    assert_eq!((summary.followed, summary.failed), (0, 0), "{summary:?}");
    assert_eq!(
        ccai.inspect(|w| w.agent_status(agents[2].0)).as_deref(),
        Some("Lunch")
    );
    assert_eq!(sets(), before, "nothing sent to CCAI");

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
    assert_eq!(summary.failed, 0, "{summary:?}");
}
