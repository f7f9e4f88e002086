//! The cost of shared pacing (R-E-8) against DynamoDB Local on loopback: store writes and
//! latency of one slot reservation, idle (one request at a time, slots never contended) and
//! under load (20 concurrent workers reserving at once, as a burst does). Only the
//! reservation is timed, not the wait for the slot.
//!
//! Then the margin (R-E-8, issue 24): 8 workers send 120 requests through one shared CCAI
//! schedule; each request reaches the "platform" after a random transit (0 to the jitter),
//! and the busiest sliding second of arrivals is counted — for the old 1.1 s window and the
//! kept 1 s + `ARRIVAL_JITTER`, at several jitters. The platform allows 10.
//!
//!   bench/run pacing [RESERVATIONS=2000]
#![allow(clippy::expect_used, clippy::unwrap_used)]

use bridge_shared::UnixMillis;
use bridge_shared::store::{DocumentStore, DynamoStore, ItemKey, StateStore};
use bridge_tests::counting_store::CountingStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main]
async fn main() {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let config = bridge_shared::aws::load_config().await;
    let table = std::env::var("TABLE_NAME").expect("TABLE_NAME (run through bench/run)");
    let dynamo: Arc<dyn StateStore> = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        table,
    ));
    let store = Arc::new(CountingStore::new(dynamo));

    // Idle: each reservation finds the schedule ended (a tiny span, asked later each time).
    let key = ItemKey::new(
        "PACE",
        format!("bench-idle-{}", uuid::Uuid::new_v4().simple()),
    );
    let before = store.counts();
    let mut idle = Vec::with_capacity(total);
    for _ in 0..total {
        let started = Instant::now();
        store
            .reserve_slots(
                &key,
                UnixMillis::now(),
                Duration::from_millis(0),
                UnixMillis(i64::MAX),
            )
            .await
            .unwrap();
        idle.push(started.elapsed());
    }
    let after = store.counts();
    println!(
        "pacing, idle: {total} reservations: median {:.2} ms; reservations per request {:.2} (one UpdateItem each: the schedule is idle)",
        median(idle).as_secs_f64() * 1000.0,
        (after.1 - before.1) as f64 / total as f64
    );

    // Under load: 20 workers reserving at once on one busy schedule.
    let key = ItemKey::new(
        "PACE",
        format!("bench-busy-{}", uuid::Uuid::new_v4().simple()),
    );
    let before = store.counts();
    let per_worker = total / 20;
    let workers: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            let key = key.clone();
            tokio::spawn(async move {
                let mut times = Vec::with_capacity(per_worker);
                for _ in 0..per_worker {
                    let started = Instant::now();
                    store
                        .reserve_slots(
                            &key,
                            UnixMillis::now(),
                            Duration::from_millis(100),
                            UnixMillis(i64::MAX),
                        )
                        .await
                        .unwrap();
                    times.push(started.elapsed());
                }
                times
            })
        })
        .collect();
    let mut busy = Vec::new();
    for worker in workers {
        busy.extend(worker.await.unwrap());
    }
    let after = store.counts();
    let requests = busy.len();
    println!(
        "pacing, 20 concurrent workers: {requests} reservations: median {:.2} ms; reservations per request {:.2} (two UpdateItems each: the refused conditional write and the ADD)",
        median(busy).as_secs_f64() * 1000.0,
        (after.1 - before.1) as f64 / requests as f64
    );

    margin(store.clone()).await;
}

/// The most arrivals within any sliding second.
fn busiest_second(mut arrivals: Vec<Instant>) -> usize {
    arrivals.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..arrivals.len() {
        while arrivals[end].duration_since(arrivals[start]) >= Duration::from_secs(1) {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

async fn margin(store: Arc<CountingStore>) {
    use bridge_shared::pacing::{Pacer, SharedPacer};
    let kept = bridge_shared::ccai::limiter::TENANT_WINDOW;
    for (label, window) in [
        ("1.1 s (before)", Duration::from_millis(1100)),
        ("kept", kept),
    ] {
        for jitter_ms in [0u64, 100, 200, 250] {
            let pacer = Arc::new(SharedPacer::new(
                store.clone(),
                &format!("bench-margin-{}", uuid::Uuid::new_v4().simple()),
                10,
                window,
            ));
            let arrivals = Arc::new(std::sync::Mutex::new(Vec::new()));
            let workers: Vec<_> = (0..8u64)
                .map(|worker| {
                    let pacer = pacer.clone();
                    let arrivals = arrivals.clone();
                    tokio::spawn(async move {
                        for n in 0..15u64 {
                            pacer.pace(std::time::Duration::ZERO).await;
                            // A transit that varies: pseudo-random, reproducible per request.
                            let spread = (worker * 7919 + n * 104_729) % 1000;
                            let transit = Duration::from_millis(jitter_ms * spread / 1000);
                            let arrivals = arrivals.clone();
                            tokio::spawn(async move {
                                tokio::time::sleep(transit).await;
                                arrivals.lock().unwrap().push(Instant::now());
                            });
                        }
                    })
                })
                .collect();
            for worker in workers {
                worker.await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(jitter_ms + 50)).await;
            let arrivals = arrivals.lock().unwrap().clone();
            println!(
                "pacing margin, window {label} ({} ms), transit jitter {jitter_ms} ms: {} arrivals, busiest sliding second {} (limit 10)",
                window.as_millis(),
                arrivals.len(),
                busiest_second(arrivals)
            );
        }
    }
}
