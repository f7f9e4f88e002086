//! SQS batches as the file workers read them: each message's body is a stream record (the
//! inbox worker's hand-off), so a batch becomes a stream batch whose records carry the
//! message ids as their sequence numbers, and the stream answer's failed records become the
//! SQS answer's failed messages (`ReportBatchItemFailures`: Lambda deletes the others).

use crate::stream::{DynamoDbEventResponse, StreamEvent, StreamRecord};
pub use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};

/// The messages of `event` as a stream batch, and the ids of those no stream record could be
/// read from (failed at once: after the queue's `maxReceiveCount` deliveries SQS moves them
/// to the dead-letter queue, where an operator finds them).
pub fn stream_batch(event: &SqsEvent) -> (StreamEvent, Vec<String>) {
    let mut batch = StreamEvent::default();
    let mut unreadable = Vec::new();
    for message in &event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let parsed = message
            .body
            .as_deref()
            .ok_or_else(|| "no body".to_owned())
            .and_then(|body| {
                serde_json::from_str::<StreamRecord>(body).map_err(|err| err.to_string())
            });
        match parsed {
            Ok(mut record) => {
                record.change.sequence_number = Some(id);
                batch.records.push(record);
            }
            Err(reason) => {
                tracing::error!(message_id = %id, %reason, "a queued message is not a stream record");
                unreadable.push(id);
            }
        }
    }
    (batch, unreadable)
}

/// The SQS answer: the stream answer's failed records (by message id) and the unreadable.
pub fn answer(stream: DynamoDbEventResponse, unreadable: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for id in stream
        .batch_item_failures
        .into_iter()
        .filter_map(|f| f.item_identifier)
        .chain(unreadable)
    {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}

/// `records` as the SQS event Lambda would deliver (the local host and tests).
pub fn sqs_event<'a>(messages: impl IntoIterator<Item = (&'a str, &'a str)>) -> SqsEvent {
    let mut event = SqsEvent::default();
    for (id, body) in messages {
        let mut message = SqsMessage::default();
        message.message_id = Some(id.to_owned());
        message.receipt_handle = Some(id.to_owned());
        message.body = Some(body.to_owned());
        message.event_source = Some("aws:sqs".into());
        event.records.push(message);
    }
    event
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::{Item, ItemKey};
    use crate::stream::ChangeRecord;
    use serde_json::json;

    #[test]
    fn a_queued_stream_record_reads_back_with_the_message_id_as_its_sequence_number() {
        let item = Item::new(
            ItemKey::new("EVENT#e1", "INBOX"),
            json!({"id": "e1", "type": "call.ended", "session": {"kind": "call", "id": 7}}),
        );
        let record = ChangeRecord {
            event_id: "ev-1",
            event_name: "INSERT",
            sequence_number: "100",
            new_image: Some(&item),
            old_image: None,
            created_at_s: 1.0,
            stream_arn: "arn",
            region: "us-east-1",
        }
        .to_lambda_json()
        .unwrap();
        let body = serde_json::to_string(&serde_json::from_value::<StreamRecord>(record).unwrap())
            .unwrap();
        let event = sqs_event([("m-1", body.as_str()), ("m-2", "not json")]);
        let (batch, unreadable) = stream_batch(&event);
        assert_eq!(unreadable, ["m-2"]);
        assert_eq!(batch.records.len(), 1);
        assert_eq!(
            batch.records[0].change.sequence_number.as_deref(),
            Some("m-1")
        );
        assert_eq!(
            crate::stream::inbox_type(&batch.records[0]).as_deref(),
            Some("call.ended")
        );

        let mut stream = DynamoDbEventResponse::default();
        let mut failed = crate::stream::DynamoDbBatchItemFailure::default();
        failed.item_identifier = Some("m-1".into());
        stream.batch_item_failures.push(failed);
        let ids: Vec<String> = answer(stream, unreadable)
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        assert_eq!(ids, ["m-1", "m-2"]);
    }
}
