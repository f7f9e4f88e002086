//! Stream batches for worker tests: items as the table stores them, in the record shape Lambda
//! delivers, with increasing sequence numbers.

use bridge_shared::store::Item;
use bridge_shared::stream::{ChangeRecord, StreamEvent};
use serde_json::{Value, json};

/// One Lambda DynamoDB event with an INSERT record per item, sequence numbers from `first`.
pub fn inserts(items: &[Item], first: u64) -> StreamEvent {
    let records: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            ChangeRecord {
                event_id: &format!("rec-{}", first + i as u64),
                event_name: "INSERT",
                sequence_number: &format!("{}", first + i as u64),
                new_image: Some(item),
                old_image: None,
                created_at_s: 1_900_000_000.0,
                stream_arn: "arn:aws:dynamodb:us-east-1:123456789012:table/bridge/stream/x",
                region: "us-east-1",
            }
            .to_lambda_json()
            .unwrap_or(Value::Null)
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap_or_default()
}
