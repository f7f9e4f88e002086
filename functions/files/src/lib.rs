//! One stream reader for both file workers: a DynamoDB stream serves at most two readers per
//! shard before AWS throttles them, and the inbox worker (`bridge-sync`) is the other. Each
//! batch is split by the inbox item's type — call ends to the recording worker, chat ends to the
//! transcript worker — and each part handled as its own function did, with its own failure
//! records (`bridge-recording`, `bridge-transcript` steps); the failed records of both are
//! answered together.

pub mod run;
use bridge_shared::UnixMillis;
use bridge_shared::conversation::FileWorker;
use bridge_shared::stream::{BatchError, DynamoDbEventResponse, StreamEvent, inbox_type};

/// Both workers share one set of clients and stores.
pub type FilesApi = FileWorker;

/// Splits `event` into the records each worker reads (the recording worker takes what is not
/// a chat's, so a malformed call item still meets its dead-letter rule).
fn split(event: StreamEvent) -> (StreamEvent, StreamEvent) {
    let (chats, calls): (Vec<_>, Vec<_>) = event
        .records
        .into_iter()
        .partition(|record| inbox_type(record).is_some_and(|t| t.starts_with("chat.")));
    let with = |records| {
        let mut part = StreamEvent::default();
        part.records = records;
        part
    };
    (with(calls), with(chats))
}

pub async fn handle(
    api: &FilesApi,
    event: StreamEvent,
    now: UnixMillis,
) -> Result<DynamoDbEventResponse, BatchError> {
    let (calls, chats) = split(event);
    let mut answer = DynamoDbEventResponse::default();
    if !calls.records.is_empty() {
        answer.batch_item_failures.extend(
            bridge_recording::handle(api, calls, now)
                .await?
                .batch_item_failures,
        );
    }
    if !chats.records.is_empty() {
        answer.batch_item_failures.extend(
            bridge_transcript::handle(api, chats, now)
                .await?
                .batch_item_failures,
        );
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use bridge_shared::store::{Item, ItemKey};
    use serde_json::json;

    fn inbox(id: &str, kind: &str) -> Item {
        Item::new(
            ItemKey::new(format!("EVENT#{id}"), "INBOX"),
            json!({"id": id, "type": kind}),
        )
    }

    #[test]
    fn call_ends_go_to_the_recording_worker_and_chat_ends_to_the_transcript_worker() {
        let event = bridge_tests::stream_support::inserts(
            &[
                inbox("a", "call.ended"),
                inbox("b", "chat.ended"),
                inbox("c", "call.ended"),
                Item::new(ItemKey::new("EVENT#d", "INBOX"), json!({"id": "d"})),
            ],
            1,
        );
        let (calls, chats) = split(event);
        let sequences = |e: &StreamEvent| -> Vec<String> {
            e.records
                .iter()
                .map(|r| r.change.sequence_number.clone().unwrap_or_default())
                .collect()
        };
        assert_eq!(
            sequences(&calls),
            ["1", "3", "4"],
            "a malformed item meets the recording worker's rules"
        );
        assert_eq!(sequences(&chats), ["2"]);
    }
}
