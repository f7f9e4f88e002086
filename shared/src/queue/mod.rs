//! The file workers' queues (issue 27): the recording and transcript functions are fed by SQS
//! queues of their own, not by the table's stream, which serves at most two readers per shard
//! (AWS: "No more than two processes at most should be reading from the same streams shard at
//! the same time", DynamoDB Developer Guide, "Change data capture for DynamoDB Streams").
//!
//! Every producer of file work writes the inbox as before (session end, storage push,
//! scheduled look, retry, replay); the inbox worker (`bridge-sync`, the stream's one reader)
//! hands each such trigger to its queue ([`handoff`]) after its own work on the event, as part
//! of the event: a hand-off that fails fails the event, which the failure policy retries
//! (quickly, then by the scheduled run, then a dead letter), so nothing is lost between the
//! table and the queue. A message is the trigger; the workers read it as the stream record of
//! its inbox item ([`wire`]).
//!
//! - [`sqs`]: the adapter on AWS (`SendMessageBatch`);
//! - [`memory`]: the in-process queues of the local host and the tests, with SQS's delivery
//!   rules (visibility timeout, receive count, redrive to a dead-letter queue).

pub mod handoff;
pub mod memory;
pub mod sqs;
pub mod wire;

use crate::events::SessionKind;

/// The queue a file worker reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileQueue {
    /// Calls' recordings and media (`bridge-recording`).
    Recordings,
    /// Chats' transcripts and media (`bridge-transcript`).
    Transcripts,
}

impl FileQueue {
    pub const ALL: [FileQueue; 2] = [FileQueue::Recordings, FileQueue::Transcripts];

    /// The worker of a session's files: calls leave recordings, chats transcripts.
    pub fn of(kind: SessionKind) -> Self {
        match kind {
            SessionKind::Call => Self::Recordings,
            SessionKind::Chat => Self::Transcripts,
        }
    }

    /// The handler that reads the queue (`template.yaml`'s `Handler`).
    pub fn function(self) -> &'static str {
        match self {
            Self::Recordings => "recording",
            Self::Transcripts => "transcript",
        }
    }

    /// The variable naming the queue's URL in the inbox worker's configuration.
    pub fn url_variable(self) -> &'static str {
        match self {
            Self::Recordings => "RECORDING_QUEUE_URL",
            Self::Transcripts => "TRANSCRIPT_QUEUE_URL",
        }
    }
}

/// One message to send: `id` unique within one send (the stream record's sequence number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedWork {
    pub id: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("{queue:?} queue: {reason}")]
    Send { queue: FileQueue, reason: String },
    /// SQS refused this message alone (a `Failed` entry of the batch).
    #[error("{queue:?} queue refused message {id}: {code}: {reason}")]
    Refused {
        queue: FileQueue,
        id: String,
        code: String,
        reason: String,
    },
}

/// Where file work is sent.
#[async_trait::async_trait]
pub trait WorkQueues: Send + Sync {
    /// Sends `work` to `queue`; the ids of the messages that were not accepted, each with why
    /// (empty: every message is queued).
    async fn send(&self, queue: FileQueue, work: &[QueuedWork]) -> Vec<(String, QueueError)>;
}
