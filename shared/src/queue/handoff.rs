//! The inbox worker hands file work to the file workers' queues: every new inbox item whose
//! trigger a file worker acts on (`hints::for_file_worker`: a session's end, a look or a push
//! of recordings, transcripts or media) becomes one message on its session kind's queue.

use super::{FileQueue, QueuedWork, WorkQueues};
use crate::events::hints;
use crate::stream::{StreamEvent, StreamRecord, inbox_event};
use std::collections::BTreeMap;

/// SQS takes at most ten messages per `SendMessageBatch`.
const BATCH: usize = 10;

/// The queue `record` is work for, if any (a record no trigger can be read from is the inbox
/// worker's to fail; it is not handed on).
pub fn queue_for(record: &StreamRecord) -> Option<FileQueue> {
    let trigger = inbox_event(record).ok()??;
    hints::for_file_worker(&trigger.hint, trigger.session.kind)
        .then(|| FileQueue::of(trigger.session.kind))
}

/// One record as a message: the stream record itself, its sequence number as the id.
fn message(record: &StreamRecord) -> Result<QueuedWork, String> {
    let id = record
        .change
        .sequence_number
        .clone()
        .ok_or("the record carries no sequence number")?;
    let body = serde_json::to_string(record).map_err(|err| err.to_string())?;
    Ok(QueuedWork { id, body })
}

/// What one hand-off did: the sequence numbers of the records that were not queued, each with
/// why (the inbox worker reports them failed: the stream delivers them again), and the event
/// ids of those that carry no sequence number to report.
#[derive(Debug, Default)]
pub struct HandOff {
    pub queued: usize,
    pub failed: Vec<(String, String)>,
    pub unreportable: Vec<(String, String)>,
}

/// Sends the file work of `batch` to its queues.
pub async fn hand_off(queues: &dyn WorkQueues, batch: &StreamEvent) -> HandOff {
    let mut by_queue: BTreeMap<FileQueue, Vec<QueuedWork>> = BTreeMap::new();
    let mut outcome = HandOff::default();
    for record in &batch.records {
        let Some(queue) = queue_for(record) else {
            continue;
        };
        match message(record) {
            Ok(work) => by_queue.entry(queue).or_default().push(work),
            Err(reason) => outcome.unreportable.push((record.event_id.clone(), reason)),
        }
    }
    for (queue, work) in by_queue {
        for chunk in work.chunks(BATCH) {
            let refused = queues.send(queue, chunk).await;
            outcome.queued += chunk.len() - refused.len();
            for (id, err) in refused {
                tracing::warn!(?queue, sequence_number = %id, error = %err, "file work not queued");
                outcome.failed.push((id, err.to_string()));
            }
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::queue::memory::MemoryQueues;
    use crate::store::{Item, ItemKey};
    use crate::stream::ChangeRecord;
    use serde_json::json;

    fn record(sequence: u32, kind: &str, hint: &str) -> StreamRecord {
        let id = format!("e{sequence}");
        let item = Item::new(
            ItemKey::new(format!("EVENT#{id}"), "INBOX"),
            json!({"id": id, "type": hint, "session": {"kind": kind, "id": 7},
                   "source": "ese", "occurred_at": "2026-12-07T00:00:00Z"}),
        );
        let json = ChangeRecord {
            event_id: &id,
            event_name: "INSERT",
            sequence_number: &sequence.to_string(),
            new_image: Some(&item),
            old_image: None,
            created_at_s: 1.0,
            stream_arn: "arn",
            region: "us-east-1",
        }
        .to_lambda_json()
        .unwrap();
        serde_json::from_value(json).unwrap()
    }

    /// Finding 10 with queues: each look and push reaches only the worker that reads its
    /// data type; a session's end reaches its kind's worker.
    #[test]
    fn file_work_goes_to_its_kinds_queue_and_nothing_else_is_queued() {
        let cases = [
            ("call", "call.ended", Some(FileQueue::Recordings)),
            ("call", "call.look.recordings", Some(FileQueue::Recordings)),
            ("call", "call.file.media", Some(FileQueue::Recordings)),
            ("chat", "chat.ended", Some(FileQueue::Transcripts)),
            (
                "chat",
                "chat.file.transcripts",
                Some(FileQueue::Transcripts),
            ),
            ("call", "call.look.metadata", None),
            ("call", "call.created", None),
            ("chat", "chat.file.metadata", None),
        ];
        for (i, (kind, hint, queue)) in cases.into_iter().enumerate() {
            let record = record(i as u32 + 1, kind, hint);
            assert!(
                inbox_event(&record).unwrap().is_some(),
                "{hint} is a trigger"
            );
            assert_eq!(queue_for(&record), queue, "{hint}");
        }
    }

    #[tokio::test]
    async fn a_refused_send_names_the_records_to_fail_and_the_rest_are_queued() {
        let queues = MemoryQueues::default();
        let mut batch = StreamEvent::default();
        batch.records = vec![
            record(1, "call", "call.ended"),
            record(2, "chat", "chat.ended"),
            record(3, "call", "call.created"),
        ];
        // Recordings are sent first (the queues in order): that send is refused.
        queues.refuse_next(1);
        let outcome = hand_off(&queues, &batch).await;
        let failed: Vec<&str> = outcome.failed.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(failed, ["1"]);
        assert_eq!(outcome.queued, 1);
        assert_eq!(queues.len(FileQueue::Transcripts), 1);
        let body = &queues.receive(FileQueue::Transcripts, 10)[0].body;
        let back: StreamRecord = serde_json::from_str(body).unwrap();
        assert_eq!(
            crate::stream::inbox_type(&back).as_deref(),
            Some("chat.ended")
        );
    }
}
