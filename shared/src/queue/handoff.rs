//! The inbox worker hands file work to the file workers' queues: every new inbox trigger a
//! file worker acts on (`hints::for_file_worker`: a session's end, a look or a push of
//! recordings, transcripts or media) becomes one message on its session kind's queue.
//!
//! The message is the trigger without the ESE item it may carry (the file workers read the
//! session's kept ESE from the table; the item alone may be hundreds of kilobytes, more than
//! an SQS message holds).

use super::{FileQueue, QueueError, QueuedWork, WorkQueues};
use crate::events::{SessionTrigger, hints};

/// The queue `trigger` is work for, if any.
pub fn queue_for(trigger: &SessionTrigger) -> Option<FileQueue> {
    hints::for_file_worker(&trigger.hint, trigger.session.kind)
        .then(|| FileQueue::of(trigger.session.kind))
}

/// The message body of `trigger`.
pub fn message(trigger: &SessionTrigger) -> Result<String, serde_json::Error> {
    serde_json::to_string(&SessionTrigger {
        item: None,
        ..trigger.clone()
    })
}

/// Sends the file work of `trigger` to its queue; whether there was any.
pub async fn hand_off(
    queues: &dyn WorkQueues,
    trigger: &SessionTrigger,
) -> Result<bool, QueueError> {
    let Some(queue) = queue_for(trigger) else {
        return Ok(false);
    };
    let body = message(trigger).map_err(|err| QueueError::Send {
        queue,
        reason: err.to_string(),
    })?;
    let work = [QueuedWork {
        id: "0".into(),
        body,
    }];
    match queues.send(queue, &work).await.into_iter().next() {
        Some((_, err)) => Err(err),
        None => {
            tracing::info!(?queue, trigger = %trigger.id, "file work handed on");
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::events::{SessionKind, SessionRef, TriggerSource};
    use crate::queue::memory::MemoryQueues;

    fn trigger(kind: SessionKind, hint: &str) -> SessionTrigger {
        SessionTrigger {
            id: "e1".into(),
            hint: hint.into(),
            occurred_at: chrono::Utc::now(),
            session: SessionRef { kind, id: 7 },
            source: TriggerSource::Ese,
            item: Some(serde_json::Map::from_iter([(
                "big".to_owned(),
                serde_json::json!("x".repeat(1000)),
            )])),
            object: None,
        }
    }

    /// Finding 10 with queues: each look and push reaches only the worker that reads its
    /// data type; a session's end reaches its kind's worker.
    #[test]
    fn file_work_goes_to_its_kinds_queue_and_nothing_else_is_queued() {
        use SessionKind::{Call, Chat};
        let cases = [
            (Call, "call.ended", Some(FileQueue::Recordings)),
            (Call, "call.look.recordings", Some(FileQueue::Recordings)),
            (Call, "call.file.media", Some(FileQueue::Recordings)),
            (Chat, "chat.ended", Some(FileQueue::Transcripts)),
            (Chat, "chat.file.transcripts", Some(FileQueue::Transcripts)),
            (Call, "call.look.metadata", None),
            (Call, "call.created", None),
            (Chat, "chat.file.metadata", None),
        ];
        for (kind, hint, queue) in cases {
            assert_eq!(queue_for(&trigger(kind, hint)), queue, "{hint}");
        }
    }

    #[tokio::test]
    async fn the_message_is_the_trigger_without_its_ese_item_and_a_refusal_is_an_error() {
        let queues = MemoryQueues::default();
        let ended = trigger(SessionKind::Call, "call.ended");
        assert!(hand_off(&queues, &ended).await.unwrap());
        let body = &queues.receive(FileQueue::Recordings, 1)[0].body;
        let sent: SessionTrigger = serde_json::from_str(body).unwrap();
        assert_eq!(
            sent,
            SessionTrigger {
                item: None,
                ..ended.clone()
            }
        );
        assert!(
            !hand_off(&queues, &trigger(SessionKind::Call, "call.created"))
                .await
                .unwrap()
        );
        queues.refuse_next(1);
        assert!(hand_off(&queues, &ended).await.is_err());
    }
}
