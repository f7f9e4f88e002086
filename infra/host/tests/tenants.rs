//! R-E-4, R-E-5: one set of sessions on a tenant whose External Session Events arrive dropped,
//! reordered and duplicated, and on a tenant with ESE off — the same Kustomer state.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_local::tenants::play_tenant;
use bridge_tests::ccai_sandbox::Delivery;

#[tokio::test]
async fn r_e_4_r_e_5_a_poller_only_tenant_ends_like_a_tenant_with_lossy_ese() {
    let files = std::env::temp_dir().join(bridge_tests::unique("tenants"));
    let lossy = play_tenant(
        Some(Delivery {
            duplicate: true,
            reverse: true,
            drop_stages: vec!["Assigned".into(), "End".into()],
            batch_max: 1,
            silent: false,
        }),
        files.join("ese"),
    )
    .await
    .unwrap();
    let polled = play_tenant(None, files.join("poll")).await.unwrap();
    assert_eq!(lossy.conversations, polled.conversations);
    assert_eq!(lossy.conversations.len(), 6);
    assert_eq!(lossy.customers, polled.customers);
    assert_eq!((lossy.dead_letters, polled.dead_letters), (0, 0));
    assert_eq!(polled.events_sent, 0);
    assert!(lossy.events_sent > 0);
    // Only ESE carries the wrap-up (the Final stage was delivered): one per answered session.
    assert_eq!(lossy.wrap_ups.len(), 5, "{:?}", lossy.wrap_ups);
    assert!(polled.wrap_ups.is_empty());
}
