//! The scheduled reconciliation against DynamoDB Local and both sandboxes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_reconcile::reconcile_agents;
use bridge_shared::UnixMillis;
use bridge_shared::status::sync::StatusChange;
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
        let now = UnixMillis::now();
        let bridge_shared::status::sync::ClaimOutcome::Acquired { lease_token, .. } =
            service.claim(&email, "tab-1", now).await.unwrap()
        else {
            panic!("claim refused");
        };
        let change = StatusChange {
            email: email.clone(),
            instance_id: "tab-1".into(),
            lease_token,
            status_id: lunch.clone(),
            status_name: None,
            changed_at: chrono::Utc::now(),
        };
        service.change(&change, now).await.unwrap();
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
