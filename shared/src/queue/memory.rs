//! In-process file queues for the local host and the tests, delivering as SQS does (SQS
//! Developer Guide, "Visibility timeout" and "Using dead-letter queues"): a received message
//! is invisible for the visibility timeout and comes back unless deleted; a message received
//! `max_receive_count` times is moved to the dead-letter queue instead of being delivered
//! again. Standard queues keep no order; this one delivers oldest first, which SQS may too.

use super::{FileQueue, QueueError, QueuedWork, WorkQueues};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// A queue's delivery settings (template.yaml's `VisibilityTimeout` and `RedrivePolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueSettings {
    pub visibility_timeout: Duration,
    /// Deliveries before a message moves to the dead-letter queue (`None`: never).
    pub max_receive_count: Option<u32>,
}

impl Default for QueueSettings {
    /// SQS's defaults: 30 s visibility, no dead-letter queue.
    fn default() -> Self {
        Self {
            visibility_timeout: Duration::from_secs(30),
            max_receive_count: None,
        }
    }
}

#[derive(Clone, Debug)]
struct Message {
    id: String,
    body: String,
    receive_count: u32,
    visible_at: Instant,
    receipt: Option<String>,
}

#[derive(Default)]
struct Queue {
    settings: QueueSettings,
    messages: VecDeque<Message>,
}

/// A message as a receive returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub receive_count: u32,
}

/// A message moved to the dead-letter queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadMessage {
    pub queue: FileQueue,
    pub message_id: String,
    pub body: String,
}

#[derive(Default)]
pub struct MemoryQueues {
    queues: Mutex<BTreeMap<FileQueue, Queue>>,
    dead: Mutex<Vec<DeadMessage>>,
    next: AtomicU64,
    sent: AtomicU64,
    /// Sends refused from now on, how many (fault injection: a send SQS does not accept).
    refuse: AtomicU64,
    /// The same, for one queue's sends only.
    refuse_on: Mutex<BTreeMap<FileQueue, u64>>,
}

impl MemoryQueues {
    pub fn new(settings: impl IntoIterator<Item = (FileQueue, QueueSettings)>) -> Self {
        let queues = Self::default();
        if let Ok(mut map) = queues.queues.lock() {
            for (queue, settings) in settings {
                map.entry(queue).or_default().settings = settings;
            }
        }
        queues
    }

    fn id(&self, prefix: &str) -> String {
        format!("{prefix}-{}", self.next.fetch_add(1, Ordering::SeqCst))
    }

    /// The next `refuse` sends are refused, as an SQS outage refuses them.
    pub fn refuse_next(&self, refuse: u64) {
        self.refuse.store(refuse, Ordering::SeqCst);
    }

    /// The next `refuse` sends to `queue` are refused.
    pub fn refuse_next_on(&self, queue: FileQueue, refuse: u64) {
        if let Ok(mut map) = self.refuse_on.lock() {
            map.insert(queue, refuse);
        }
    }

    fn refused(&self, queue: FileQueue) -> bool {
        let on_queue = self
            .refuse_on
            .lock()
            .is_ok_and(|mut map| match map.get_mut(&queue) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    true
                }
                _ => false,
            });
        on_queue
            || self
                .refuse
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
    }

    /// Up to `max` visible messages of `queue`, each invisible for the visibility timeout.
    pub fn receive(&self, queue: FileQueue, max: usize) -> Vec<Received> {
        let now = Instant::now();
        let mut received = Vec::new();
        let mut moved = Vec::new();
        {
            let Ok(mut map) = self.queues.lock() else {
                return received;
            };
            let q = map.entry(queue).or_default();
            let settings = q.settings;
            let mut kept = VecDeque::with_capacity(q.messages.len());
            while let Some(mut message) = q.messages.pop_front() {
                if received.len() >= max || message.visible_at > now {
                    kept.push_back(message);
                    continue;
                }
                if settings
                    .max_receive_count
                    .is_some_and(|max| message.receive_count >= max)
                {
                    moved.push(DeadMessage {
                        queue,
                        message_id: message.id,
                        body: message.body,
                    });
                    continue;
                }
                message.receive_count += 1;
                message.visible_at = now + settings.visibility_timeout;
                let receipt = self.id("receipt");
                message.receipt = Some(receipt.clone());
                received.push(Received {
                    message_id: message.id.clone(),
                    receipt_handle: receipt,
                    body: message.body.clone(),
                    receive_count: message.receive_count,
                });
                kept.push_back(message);
            }
            q.messages = kept;
        }
        if !moved.is_empty()
            && let Ok(mut dead) = self.dead.lock()
        {
            dead.extend(moved);
        }
        received
    }

    /// Deletes the message last received with `receipt` (false: the receipt is stale — the
    /// message became visible again and was received anew, or is gone).
    pub fn delete(&self, queue: FileQueue, receipt: &str) -> bool {
        let Ok(mut map) = self.queues.lock() else {
            return false;
        };
        let q = map.entry(queue).or_default();
        let before = q.messages.len();
        q.messages.retain(|m| m.receipt.as_deref() != Some(receipt));
        q.messages.len() < before
    }

    /// Messages in `queue`, visible or not.
    pub fn len(&self, queue: FileQueue) -> usize {
        self.queues
            .lock()
            .map(|map| map.get(&queue).map_or(0, |q| q.messages.len()))
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        FileQueue::ALL.iter().all(|q| self.len(*q) == 0)
    }

    /// Messages accepted since the start.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    pub fn dead_letters(&self) -> Vec<DeadMessage> {
        self.dead.lock().map(|d| d.clone()).unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl WorkQueues for MemoryQueues {
    async fn send(&self, queue: FileQueue, work: &[QueuedWork]) -> Vec<(String, QueueError)> {
        if self.refused(queue) {
            return work
                .iter()
                .map(|w| {
                    (
                        w.id.clone(),
                        QueueError::Send {
                            queue,
                            reason: "the queue is not reachable (injected)".into(),
                        },
                    )
                })
                .collect();
        }
        let Ok(mut map) = self.queues.lock() else {
            return Vec::new();
        };
        let q = map.entry(queue).or_default();
        for w in work {
            let id = format!("msg-{}", self.next.fetch_add(1, Ordering::SeqCst));
            q.messages.push_back(Message {
                id,
                body: w.body.clone(),
                receive_count: 0,
                visible_at: Instant::now(),
                receipt: None,
            });
        }
        self.sent.fetch_add(work.len() as u64, Ordering::SeqCst);
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn work(id: &str) -> QueuedWork {
        QueuedWork {
            id: id.into(),
            body: format!("body-{id}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_undeleted_message_comes_back_after_its_visibility_timeout_then_goes_to_the_dead_letters()
     {
        let queues = MemoryQueues::new([(
            FileQueue::Recordings,
            QueueSettings {
                visibility_timeout: Duration::from_secs(60),
                max_receive_count: Some(2),
            },
        )]);
        assert!(
            queues
                .send(FileQueue::Recordings, &[work("a"), work("b")])
                .await
                .is_empty()
        );
        let first = queues.receive(FileQueue::Recordings, 10);
        assert_eq!(first.len(), 2);
        assert!(queues.delete(FileQueue::Recordings, &first[1].receipt_handle));
        // Invisible until the timeout passes.
        assert!(queues.receive(FileQueue::Recordings, 10).is_empty());
        tokio::time::advance(Duration::from_secs(61)).await;
        let again = queues.receive(FileQueue::Recordings, 10);
        assert_eq!(again.len(), 1);
        assert_eq!(
            (again[0].body.as_str(), again[0].receive_count),
            ("body-a", 2)
        );
        // The first receipt is stale once the message was received anew.
        assert!(!queues.delete(FileQueue::Recordings, &first[0].receipt_handle));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(queues.receive(FileQueue::Recordings, 10).is_empty());
        assert_eq!(queues.dead_letters().len(), 1);
        assert!(queues.is_empty());
    }

    #[tokio::test]
    async fn a_refused_send_names_every_message() {
        let queues = MemoryQueues::default();
        queues.refuse_next(1);
        let refused = queues
            .send(FileQueue::Transcripts, &[work("a"), work("b")])
            .await;
        assert_eq!(refused.len(), 2);
        assert!(
            queues
                .send(FileQueue::Transcripts, &[work("c")])
                .await
                .is_empty()
        );
        assert_eq!((queues.sent(), queues.len(FileQueue::Transcripts)), (1, 1));
    }
}
