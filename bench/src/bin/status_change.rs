//! The status function's own cost per change, against DynamoDB Local on loopback, without the
//! platform calls: parse the work session Kustomer answered, read the agent's state, offer the
//! choice and decide with the cached mapping, claim the effect (a conditional write: state
//! unchanged since the read), then record it applied once CCAI would have confirmed (a second
//! conditional write) — the store operations `StatusService::report` makes on its usual path
//! (issue 13; the status API test `a_status_change_costs_...` counts the same through the real
//! service). Also: 50 tabs of one agent racing for the lease, round after round.
//!
//!   bench/run status-change [CHANGES=10000] [RACE_ROUNDS=100]
#![allow(clippy::expect_used, clippy::unwrap_used)]

use bridge_shared::UnixMillis;
use bridge_shared::kustomer::model::WorkSession;
use bridge_shared::status::agent_state::{
    AgentState, Choice, ChoiceSource, Effect, InFlight, Offer, Outcome,
};
use bridge_shared::status::{CcaiAgentView, Decision, StatusMapping, decide};
use bridge_shared::store::{DynamoStore, ItemKey, LeaseAcquisition, LeaseStore, StateStore};
use bridge_tests::counting_store::CountingStore;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn arg(index: usize, default: usize) -> usize {
    std::env::args()
        .nth(index)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let changes = arg(1, 10_000);
    let rounds = arg(2, 100);
    let config = bridge_shared::aws::load_config().await;
    let table = std::env::var("TABLE_NAME").expect("TABLE_NAME (run through bench/run)");
    let dynamo: Arc<dyn StateStore> = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        table,
    ));
    let store = Arc::new(CountingStore::new(dynamo.clone()));

    let mapping: StatusMapping = bridge_tests::ccai_sandbox::state::mapping_by_name(&[
        ("K1".into(), "Available"),
        ("K3".into(), "Break"),
    ]);
    let email = format!("bench-{}@example.com", uuid::Uuid::new_v4().simple());
    let resource = ItemKey::agent_lease(&email);
    let now = UnixMillis::now();
    // Neither mapped target, so every change applies.
    let view = CcaiAgentView {
        status: "Training".into(),
        status_id: Some(2),
        online: true,
        since: None,
    };
    let before = store.counts();
    let mut latencies = Vec::with_capacity(changes);
    for n in 0..changes {
        // The work session as Kustomer answers it (kustomer-api.md).
        let body = json!({
            "type": "work_session", "id": "ws-1",
            "attributes": {
                "signedInAt": chrono::DateTime::from_timestamp_millis(now.0).unwrap().to_rfc3339(),
                "updatedAt": chrono::DateTime::from_timestamp_millis(now.0 + n as i64 + 1).unwrap().to_rfc3339(),
                "rev": n + 1, "statusType": "available",
            },
            "relationships": {"status": {"data": {"type": "status", "id": if n % 2 == 0 { "K3" } else { "K1" }}}},
        })
        .to_string();
        let started = Instant::now();
        let session: WorkSession = serde_json::from_str(&body).unwrap();
        let read = store.read_state(&resource).await.unwrap();
        let (mut state, version) = read
            .map(|r| (AgentState::from_stored(&r.state), r.version))
            .unwrap_or_default();
        let choice =
            Choice::from_work_session(&session, ChoiceSource::Report, UnixMillis::now()).unwrap();
        let status_id = choice.kustomer_status_id.clone();
        let offered = state.offer(choice);
        assert_eq!(offered, Offer::Taken);
        let Decision::Apply(target) = decide(&status_id, &mapping, &view) else {
            panic!("expected apply");
        };
        let seq = state.seq;
        state.in_flight = Some(InFlight {
            by: "tab-1".into(),
            seq,
            until: UnixMillis::now().plus(Duration::from_secs(30)),
            effect: Effect::Ccai,
        });
        let claim = serde_json::to_value(&state).unwrap();
        assert!(
            store
                .replace_state(&resource, version, &claim)
                .await
                .unwrap()
        );
        // (CCAI is called here.)
        state.in_flight = None;
        state.outcome = Some(Outcome::Applied {
            seq,
            ccai_status: target,
        });
        let recorded = serde_json::to_value(&state).unwrap();
        assert!(
            store
                .replace_state(&resource, version + 1, &recorded)
                .await
                .unwrap()
        );
        latencies.push(started.elapsed());
    }
    let after = store.counts();
    latencies.sort();
    println!(
        "status-change: {changes} changes against DynamoDB Local: p50 {:.2} ms, p99 {:.2} ms; store reads per change {:.2}, writes per change {:.2}",
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        (after.0 - before.0) as f64 / changes as f64,
        (after.1 - before.1) as f64 / changes as f64,
    );

    let mut exactly_one = 0;
    for round in 0..rounds {
        let resource = ItemKey::agent_lease(&format!(
            "race-{round}-{}@example.com",
            uuid::Uuid::new_v4().simple()
        ));
        let tasks: Vec<_> = (0..50)
            .map(|tab| {
                let dynamo = dynamo.clone();
                let resource = resource.clone();
                tokio::spawn(async move {
                    matches!(
                        dynamo
                            .acquire_lease(
                                &resource,
                                &format!("tab-{tab}"),
                                UnixMillis::now(),
                                Duration::from_secs(30)
                            )
                            .await
                            .unwrap(),
                        LeaseAcquisition::Acquired(_)
                    )
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap());
        }
        exactly_one += usize::from(winners == 1);
    }
    println!(
        "lease race: 50 tabs per agent, {rounds} rounds: exactly one winner in {exactly_one} of {rounds}"
    );
}
