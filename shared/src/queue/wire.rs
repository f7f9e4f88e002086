//! SQS batches as the file workers read them: each message's body is a session trigger (the
//! inbox worker's hand-off), which becomes the stream record of its inbox item, carrying the
//! message id as its sequence number; the stream answer's failed records become the SQS
//! answer's failed messages (`ReportBatchItemFailures`: Lambda deletes the others).

use crate::UnixMillis;
use crate::events::{SessionTrigger, inbox_item};
use crate::stream::{ChangeRecord, DynamoDbEventResponse, StreamEvent, StreamRecord};
pub use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};

/// The stream record of a queued trigger's inbox item.
fn record_of(trigger: &SessionTrigger, id: &str) -> Result<StreamRecord, String> {
    let now = UnixMillis::now();
    let item = inbox_item(trigger, now).map_err(|err| err.to_string())?;
    let json = ChangeRecord {
        event_id: id,
        event_name: "INSERT",
        sequence_number: id,
        new_image: Some(&item),
        old_image: None,
        created_at_s: now.0 as f64 / 1000.0,
        stream_arn: "queue",
        region: "",
    }
    .to_lambda_json()
    .map_err(|err| err.to_string())?;
    serde_json::from_value(json).map_err(|err| err.to_string())
}

fn read(body: &str, id: &str) -> Result<StreamRecord, String> {
    let trigger = serde_json::from_str::<SessionTrigger>(body)
        .map_err(|err| format!("not a session trigger: {err}"))?;
    record_of(&trigger, id)
}

/// The messages of `event` as a stream batch, and the ids of those nothing could be read from
/// (failed at once: after the queue's `maxReceiveCount` deliveries SQS moves them to the
/// dead-letter queue, where an operator finds them).
pub fn stream_batch(event: &SqsEvent) -> (StreamEvent, Vec<String>) {
    let mut batch = StreamEvent::default();
    let mut unreadable = Vec::new();
    for message in &event.records {
        let id = message.message_id.clone().unwrap_or_default();
        match message.body.as_deref().map(|body| read(body, &id)) {
            Some(Ok(mut record)) => {
                record.change.sequence_number = Some(id);
                batch.records.push(record);
            }
            Some(Err(reason)) => {
                tracing::error!(message_id = %id, %reason, "a queued message is not file work");
                unreadable.push(id);
            }
            None => {
                tracing::error!(message_id = %id, "a queued message without a body");
                unreadable.push(id);
            }
        }
    }
    (batch, unreadable)
}

/// A queue worker's invocation: `event` read as a stream batch, handed to the worker's stream
/// `handle`, its answer turned back into SQS's.
pub async fn as_stream<F, Fut>(
    event: &SqsEvent,
    handle: F,
) -> Result<SqsBatchResponse, crate::stream::BatchError>
where
    F: FnOnce(StreamEvent) -> Fut,
    Fut: std::future::Future<Output = Result<DynamoDbEventResponse, crate::stream::BatchError>>,
{
    let (batch, unreadable) = stream_batch(event);
    Ok(answer(handle(batch).await?, unreadable))
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
    use serde_json::json;

    #[test]
    fn a_queued_trigger_reads_back_as_its_inbox_record_with_the_message_id_as_sequence() {
        let trigger: SessionTrigger = serde_json::from_value(json!({
            "id": "e1", "type": "call.ended", "session": {"kind": "call", "id": 7},
            "source": "ese", "occurred_at": "2026-12-07T00:00:00Z"
        }))
        .unwrap();
        let body = crate::queue::handoff::message(&trigger).unwrap();
        let event = sqs_event([("m-1", body.as_str()), ("m-2", "not json")]);
        let (batch, unreadable) = stream_batch(&event);
        assert_eq!(unreadable, ["m-2"]);
        assert_eq!(batch.records.len(), 1);
        assert_eq!(
            batch.records[0].change.sequence_number.as_deref(),
            Some("m-1")
        );
        let read = crate::stream::inbox_event(&batch.records[0])
            .unwrap()
            .unwrap();
        assert_eq!(read, trigger);

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
