//! The host's stream delivery: records read through DynamoDB Local's real Streams API (and the
//! embedded store's log) reach a stream-triggered function in the shape Lambda delivers them,
//! filtered as template.yaml says.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_local::routes::TEMPLATE;
use bridge_local::stream::embedded::StreamingStore;
use bridge_local::stream::{
    FeedSource, Pace, StartingPosition, StreamHandler, StreamRunner, template_subscriptions,
};
use bridge_shared::UnixMillis;
use bridge_shared::store::{EmbeddedStore, Item, ItemKey, StateStore};
use bridge_shared::stream::{StreamEvent, inbox_event};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const FIXTURE: &str =
    include_str!("../../../functions/sync/tests/fixtures/dynamodb-stream-batch.json");

/// A stand-in for bridge-sync that keeps every event it is given and fails nothing.
fn recorder() -> (HashMap<String, StreamHandler>, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let handler: StreamHandler = Arc::new(move |event: Value| {
        log.lock().unwrap().push(event);
        Box::pin(async { Ok(json!({"batchItemFailures": []})) })
    });
    (HashMap::from([("sync".to_owned(), handler)]), seen)
}

fn fast() -> Pace {
    Pace {
        retry_base: Duration::from_millis(5),
        retry_max: Duration::from_millis(20),
        poll_interval: Duration::from_millis(20),
    }
}

fn latest() -> Vec<bridge_local::stream::Subscription> {
    template_subscriptions(TEMPLATE)
        .unwrap()
        .into_iter()
        .map(|mut s| {
            s.starting_position = StartingPosition::Latest;
            s
        })
        .collect()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

/// The delivered record has the fixture's shape (the fields Lambda sends for an INSERT).
fn assert_lambda_shape(record: &Value) {
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    let insert = &fixture["Records"][0];
    assert_eq!(keys(record), keys(insert), "{record}");
    assert_eq!(
        keys(&record["dynamodb"]),
        keys(&insert["dynamodb"]),
        "{record}"
    );
    assert_eq!(record["eventSource"], "aws:dynamodb");
    assert_eq!(record["dynamodb"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
}

async fn writes_reach_the_function(store: Arc<dyn StateStore>, source: FeedSource) {
    let (handlers, seen) = recorder();
    let runner = StreamRunner::start(&source, latest(), &handlers, fast())
        .await
        .unwrap();
    let id = bridge_tests::unique("evt");
    let now = UnixMillis::now();
    let event = json!({"id": id, "type": "call.ended", "occurred_at": "2026-11-23T10:15:02.123Z",
                       "session": {"kind": "call", "id": 987}, "source": "ese", "received_at": now.0});
    store
        .put_if_absent(&Item::new(ItemKey::inbox(&id), event), now)
        .await
        .unwrap();
    // Not inbox items: the template's filter keeps them from the function. (The empty map
    // once made DynamoDB Local's stream answers unreadable: see `empty_map_repair`.)
    store
        .put(&Item::new(
            ItemKey::config(&format!("EMPTY#{id}")),
            json!({"to_kustomer": {}}),
        ))
        .await
        .unwrap();
    store
        .put(&Item::new(
            ItemKey::customer_by_phone(&format!("+1555{}", &id[4..10])),
            json!({"customer": "c"}),
        ))
        .await
        .unwrap();
    store.delete(&ItemKey::inbox(&id)).await.unwrap();
    assert!(
        runner.drain(Duration::from_secs(15)).await,
        "stream not drained"
    );

    let seen = seen.lock().unwrap().clone();
    let ours: Vec<Value> = seen
        .iter()
        .flat_map(|e| e["Records"].as_array().unwrap().clone())
        .filter(|r| r.to_string().contains(&id))
        .collect();
    assert_eq!(ours.len(), 1, "only the INSERT passes the filter: {ours:?}");
    assert_lambda_shape(&ours[0]);
    // The function's own event type reads it, and the worker's inbox parser finds the event.
    let batch: StreamEvent = serde_json::from_value(json!({"Records": ours})).unwrap();
    let parsed = inbox_event(&batch.records[0]).unwrap().unwrap();
    assert_eq!(parsed.id, id);
    let stats = runner.stats();
    assert!(stats.filtered_out >= 3, "{stats:?}");
    assert_eq!(stats.records_dead_lettered, 0);
}

#[tokio::test]
async fn dynamodb_local_streams_api_delivers_new_inbox_items_in_lambdas_shape() {
    let config = bridge_tests::local::aws_config().await;
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("run under with-services");
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(
        aws_sdk_dynamodbstreams::config::Builder::from(&config)
            .endpoint_url(endpoint)
            .interceptor(bridge_local::stream::empty_map_repair::EmptyMapRepair)
            .build(),
    );
    let tables = aws_sdk_dynamodb::Client::new(&config);
    let source = FeedSource::DynamoDb {
        tables,
        streams,
        table: bridge_tests::local::table_name(),
    };
    let store: Arc<dyn StateStore> = Arc::new(bridge_tests::local::dynamo_store().await);
    writes_reach_the_function(store, source).await;
}

#[tokio::test]
async fn the_embedded_stores_log_delivers_the_same_way() {
    let (store, log) = StreamingStore::new(Arc::new(EmbeddedStore::new()));
    writes_reach_the_function(Arc::new(store), FeedSource::Embedded(log)).await;
}
