//! The file queues on AWS: `SendMessageBatch` to each queue's URL (the template's
//! `RecordingQueue` and `TranscriptQueue`, given to the inbox worker as `RECORDING_QUEUE_URL`
//! and `TRANSCRIPT_QUEUE_URL`).
//!
//! A batch can succeed in part: SQS answers each entry in `Successful` or `Failed` (SQS API
//! Reference, `SendMessageBatch`), and only the failed ones are reported.

use super::{FileQueue, QueueError, QueuedWork, WorkQueues};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

pub struct SqsQueues {
    client: crate::aws::LazyClient<aws_sdk_sqs::Client>,
    recordings: String,
    transcripts: String,
}

impl SqsQueues {
    pub fn new(
        client: impl Into<crate::aws::LazyClient<aws_sdk_sqs::Client>>,
        recordings: String,
        transcripts: String,
    ) -> Self {
        Self {
            client: client.into(),
            recordings,
            transcripts,
        }
    }

    fn url(&self, queue: FileQueue) -> &str {
        match queue {
            FileQueue::Recordings => &self.recordings,
            FileQueue::Transcripts => &self.transcripts,
        }
    }
}

/// An SQS client on the SDK configuration every adapter shares (`crate::aws`).
pub fn sqs_client(config: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}

#[async_trait::async_trait]
impl WorkQueues for SqsQueues {
    async fn send(&self, queue: FileQueue, work: &[QueuedWork]) -> Vec<(String, QueueError)> {
        let every = |reason: String| -> Vec<(String, QueueError)> {
            work.iter()
                .map(|w| {
                    (
                        w.id.clone(),
                        QueueError::Send {
                            queue,
                            reason: reason.clone(),
                        },
                    )
                })
                .collect()
        };
        let mut entries = Vec::with_capacity(work.len());
        for w in work {
            match SendMessageBatchRequestEntry::builder()
                .id(&w.id)
                .message_body(&w.body)
                .build()
            {
                Ok(entry) => entries.push(entry),
                Err(err) => return every(err.to_string()),
            }
        }
        let answer = match self
            .client
            .get()
            .send_message_batch()
            .queue_url(self.url(queue))
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(answer) => answer,
            Err(err) => {
                return every(aws_sdk_sqs::error::DisplayErrorContext(&err).to_string());
            }
        };
        answer
            .failed()
            .iter()
            .map(|failed| {
                (
                    failed.id().to_owned(),
                    QueueError::Refused {
                        queue,
                        id: failed.id().to_owned(),
                        code: failed.code().to_owned(),
                        reason: failed.message().unwrap_or_default().to_owned(),
                    },
                )
            })
            .collect()
    }
}
