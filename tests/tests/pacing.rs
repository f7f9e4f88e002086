//! R-E-8: twenty concurrent workers, each with clients of its own as each Lambda process has,
//! pace their CCAI and Kustomer requests on one schedule per platform kept in DynamoDB Local;
//! the sandboxes enforce CCAI's 10 requests/s and a Kustomer org budget and answer 429 beyond.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_shared::pacing::SharedPacer;
use bridge_shared::store::StateStore;
use bridge_tests::ccai_sandbox::{CcaiSandbox, CcaiSandboxOptions};
use bridge_tests::kustomer_sandbox::{KustomerSandbox, SandboxOptions};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r_e_8_twenty_concurrent_workers_meet_no_429_and_drain_at_the_limit() {
    let store: Arc<dyn StateStore> = Arc::new(bridge_tests::local::dynamo_store().await);
    let ccai = CcaiSandbox::start(CcaiSandboxOptions::default())
        .await
        .unwrap();
    let agent = ccai.change(|w| w.add_agent("ana@example.com", "Ana", "Available"));
    // Kustomer: 20 requests per 2 s window for the whole org.
    let kustomer = KustomerSandbox::start(SandboxOptions {
        org_budget: Some(20),
        rate_window: Duration::from_secs(2),
        ..Default::default()
    })
    .await
    .unwrap();
    kustomer.add_user("Ana", "ana@example.com");
    let name = bridge_tests::unique("pace");
    let ccai_pacer = Arc::new(SharedPacer::new(
        store.clone(),
        &format!("ccai#{name}"),
        10,
        bridge_shared::ccai::limiter::TENANT_WINDOW,
    ));
    let kustomer_pacer = Arc::new(SharedPacer::new(
        store.clone(),
        &format!("kustomer#{name}"),
        20,
        Duration::from_millis(2200),
    ));
    let workers: Vec<_> = (0..20)
        .map(|_| {
            let ccai_client =
                bridge_tests::ccai_support::client(&ccai).paced_by(ccai_pacer.clone());
            let kustomer_client =
                bridge_tests::kustomer_support::client(&kustomer).paced_by(kustomer_pacer.clone());
            tokio::spawn(async move {
                for _ in 0..3 {
                    ccai_client.agent(agent).await.unwrap();
                    kustomer_client
                        .users_by_email("ana@example.com")
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let ccai_requests = ccai.requests();
    assert!(
        ccai_requests.iter().all(|r| r.status != 429),
        "no 429 from CCAI: {:?}",
        ccai_requests
            .iter()
            .map(|r| (r.path.clone(), r.status))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        ccai_requests.len(),
        60,
        "{:?}",
        ccai_requests
            .iter()
            .map(|r| (r.method.clone(), r.path.clone(), r.status))
            .collect::<Vec<_>>()
    );
    // At the limit: never above 10 in a second, and close to it (the backlog drains).
    let busiest = ccai.busiest_second();
    assert!((7..=10).contains(&busiest), "busiest second: {busiest}");
    let refused = kustomer.inspect(|w| w.requests.iter().filter(|r| r.status == 429).count());
    assert_eq!(refused, 0, "no 429 from Kustomer");
    assert_eq!(kustomer.request_count(), 60);
}
