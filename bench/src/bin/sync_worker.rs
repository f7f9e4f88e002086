//! The inbox worker end to end: IVR calls answered by an agent (created, assigned, ended),
//! their events stored as the intake stores them and delivered to `bridge_sync::handle` in
//! stream batches of 25, against DynamoDB Local and the Kustomer and CCAI sandboxes on
//! loopback. Then the same batches once more (a redelivery). Reports per event: time, store
//! reads and writes; per session: Kustomer and CCAI requests.
//!
//! The whole run is made twice in one process: without custom fields, then with all twelve
//! created (R-CF), so their cost is a ratio of one run.
//!
//!   bench/run sync-worker [SESSIONS=200]
#![allow(clippy::expect_used, clippy::unwrap_used)]

use bridge_shared::UnixMillis;
use bridge_shared::events::inbox_item;
use bridge_shared::store::{DynamoStore, Item, StateStore};
use bridge_sync::{SyncApi, handle};
use bridge_tests::ccai_sandbox::ScenarioDriver;
use bridge_tests::counting_store::CountingStore;
use bridge_tests::platforms::SandboxedPlatforms;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn arg(index: usize, default: usize) -> usize {
    std::env::args()
        .nth(index)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

struct Pass {
    per_event: Vec<Duration>,
    reads: usize,
    writes: usize,
    kustomer: usize,
    ccai: usize,
    elapsed: Duration,
}

async fn pass(
    api: &SyncApi,
    store: &CountingStore,
    platforms: &SandboxedPlatforms,
    items: &[Item],
) -> Pass {
    let (reads, writes) = store.counts();
    let kustomer = platforms.kustomer.request_count();
    let ccai = platforms.ccai.requests().len();
    let mut per_event = Vec::new();
    let started = Instant::now();
    for (i, chunk) in items.chunks(25).enumerate() {
        let batch = bridge_tests::stream_support::inserts(chunk, (i * 25) as u64 + 1);
        let at = Instant::now();
        let answer = handle(api, batch, UnixMillis::now()).await.unwrap();
        assert!(
            answer.batch_item_failures.is_empty(),
            "failures: {answer:?}"
        );
        per_event.push(at.elapsed() / chunk.len() as u32);
    }
    Pass {
        per_event,
        reads: store.counts().0 - reads,
        writes: store.counts().1 - writes,
        kustomer: platforms.kustomer.request_count() - kustomer,
        ccai: platforms.ccai.requests().len() - ccai,
        elapsed: started.elapsed(),
    }
}

fn report(name: &str, pass: &Pass, events: usize, sessions: usize) {
    println!(
        "{name}: {events} events in {:.1} s ({:.1} events/s); per event: median {:.1} ms (batch time / batch size), store reads {:.2}, writes {:.2}; per session: Kustomer requests {:.2}, CCAI requests {:.2}",
        pass.elapsed.as_secs_f64(),
        events as f64 / pass.elapsed.as_secs_f64(),
        median(pass.per_event.clone()).as_secs_f64() * 1000.0,
        pass.reads as f64 / events as f64,
        pass.writes as f64 / events as f64,
        pass.kustomer as f64 / sessions as f64,
        pass.ccai as f64 / sessions as f64,
    );
}

async fn run(dynamo: Arc<dyn StateStore>, sessions: usize, fields: bool) -> (Pass, Pass, usize) {
    let store = Arc::new(CountingStore::new(dynamo));
    let platforms = SandboxedPlatforms::start().await.unwrap();
    let agent = platforms.add_agent(
        &format!("bench-agent-{}@example.com", uuid::Uuid::new_v4().simple()),
        "Ana",
        "Available",
    );
    let api = SyncApi {
        storage: None,
        status: platforms.status_service(store.clone()),
        store: store.clone(),
        ccai: platforms.ccai_client.clone(),
        kustomer: platforms.kustomer_client.clone(),
        caller_country: Default::default(),
        exported: Default::default(),
        failures: Default::default(),
        file_work: None,
    };
    let admin = bridge_shared::custom_fields::admin::FieldAdmin {
        store: store.as_ref(),
        kustomer: &platforms.kustomer_client,
    };
    for field in bridge_shared::custom_fields::CATALOGUE {
        if fields {
            admin
                .create(field.id.as_str(), "bench", UnixMillis(0))
                .await
                .unwrap();
        } else {
            admin
                .delete(field.id.as_str(), UnixMillis::now())
                .await
                .unwrap();
        }
    }
    let driver = ScenarioDriver::new(&platforms.ccai, None);
    let mut items = Vec::new();
    for i in 0..sessions {
        // A new caller each time: every session creates a customer and a conversation.
        let call = driver
            .ivr_call_answered(
                agent,
                &format!(
                    "+1555{:07}",
                    2_000_000 + i + if fields { 500_000 } else { 0 }
                ),
            )
            .await;
        for sent in &call.events {
            let event = sent.trigger();
            items.push(inbox_item(&event, UnixMillis::now()).unwrap());
        }
    }
    let first = pass(&api, &store, &platforms, &items).await;
    let again = pass(&api, &store, &platforms, &items).await;
    println!(
        "{}: busiest second at CCAI: {} requests (tenant limit 10/s)",
        if fields { "twelve fields" } else { "no fields" },
        platforms.ccai.busiest_second()
    );
    (first, again, items.len())
}

#[tokio::main]
async fn main() {
    let sessions = arg(1, 200);
    let config = bridge_shared::aws::load_config().await;
    let table = std::env::var("TABLE_NAME").expect("TABLE_NAME (run through bench/run)");
    // BENCH_STORE=embedded compares with the in-process store (what DynamoDB costs).
    let dynamo: Arc<dyn StateStore> = if std::env::var("BENCH_STORE").as_deref() == Ok("embedded") {
        Arc::new(bridge_shared::store::EmbeddedStore::new())
    } else {
        Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&config),
            table,
        ))
    };
    let (plain, plain_again, events) = run(dynamo.clone(), sessions, false).await;
    report("no fields, first delivery", &plain, events, sessions);
    report("no fields, redelivery", &plain_again, events, sessions);
    let (fields, fields_again, events) = run(dynamo, sessions, true).await;
    report("twelve fields, first delivery", &fields, events, sessions);
    report("twelve fields, redelivery", &fields_again, events, sessions);
    // What the cost model (`bench/run cost`) reads: the operations of one session.
    let per_session = |pass: &Pass| {
        serde_json::json!({
            "events_per_session": events as f64 / sessions as f64,
            "store_reads_per_session": pass.reads as f64 / sessions as f64,
            "store_writes_per_session": pass.writes as f64 / sessions as f64,
            "kustomer_requests_per_session": pass.kustomer as f64 / sessions as f64,
            "ccai_requests_per_session": pass.ccai as f64 / sessions as f64,
            "median_ms_per_event": median(pass.per_event.clone()).as_secs_f64() * 1000.0,
        })
    };
    std::fs::create_dir_all("bench/results").unwrap();
    std::fs::write(
        "bench/results/sync-worker.json",
        serde_json::json!({
            "sessions": sessions,
            "no_fields": per_session(&plain),
            "twelve_fields": per_session(&fields),
        })
        .to_string(),
    )
    .unwrap();
    println!(
        "twelve fields / none, first delivery: median time per event {:.2}x, store reads {:.2}x, Kustomer requests {:.2}x",
        median(fields.per_event.clone()).as_secs_f64()
            / median(plain.per_event.clone()).as_secs_f64(),
        fields.reads as f64 / plain.reads as f64,
        fields.kustomer as f64 / plain.kustomer as f64,
    );
}
