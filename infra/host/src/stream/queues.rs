//! Queue-triggered functions on the local host (`Type: SQS` events of template.yaml): the
//! recording and transcript workers read in-process queues ([`MemoryQueues`], SQS's delivery
//! rules) filled by the inbox worker's hand-off, as Lambda's SQS event source polls a queue:
//! up to `BatchSize` messages per invocation, the messages the function names failed
//! (`ReportBatchItemFailures`) left to come back after the visibility timeout, the others
//! deleted; a function error deletes none. The queues' visibility timeouts and redrive counts
//! are the template's own (`RecordingQueue`, `TranscriptQueue`).

use super::mapping::{Pace, StreamHandler};
use super::subscriptions::{number, referenced_resource};
use bridge_shared::queue::FileQueue;
use bridge_shared::queue::memory::{MemoryQueues, QueueSettings};
use bridge_shared::queue::wire::{SqsBatchResponse, sqs_event};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use yaml_rust2::{Yaml, YamlLoader};

/// The queue a template resource is (its logical id).
pub fn file_queue(logical_id: &str) -> Option<FileQueue> {
    match logical_id {
        "RecordingQueue" => Some(FileQueue::Recordings),
        "TranscriptQueue" => Some(FileQueue::Transcripts),
        _ => None,
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct QueueSubscription {
    /// The function, by its handler name (`recording`).
    pub function: String,
    /// The event's name in the template.
    pub name: String,
    pub queue: FileQueue,
    /// AWS's default for SQS is 10.
    pub batch_size: usize,
    pub report_item_failures: bool,
}

fn resources(template: &str) -> Result<Yaml, String> {
    let documents =
        YamlLoader::load_from_str(template).map_err(|e| format!("template.yaml: {e}"))?;
    let root = documents
        .into_iter()
        .next()
        .ok_or("template.yaml is empty")?;
    Ok(root["Resources"].clone())
}

/// Each file queue's delivery settings from the template: `VisibilityTimeout` (AWS's default
/// 30 s) capped at `cap` (a demo does not wait half an hour for a cut-off batch), and the
/// `RedrivePolicy`'s `maxReceiveCount`.
pub fn template_queues(
    template: &str,
    cap: Duration,
) -> Result<Vec<(FileQueue, QueueSettings)>, String> {
    let resources = resources(template)?;
    let Some(map) = resources.as_hash() else {
        return Err("template.yaml has no Resources".into());
    };
    let mut queues = Vec::new();
    for (id, resource) in map {
        let Some(queue) = id.as_str().and_then(file_queue) else {
            continue;
        };
        let p = &resource["Properties"];
        let visibility = number(p, "VisibilityTimeout").unwrap_or(30).max(0) as u64;
        queues.push((
            queue,
            QueueSettings {
                visibility_timeout: Duration::from_secs(visibility).min(cap),
                max_receive_count: number(&p["RedrivePolicy"], "maxReceiveCount")
                    .map(|n| n.max(1) as u32),
            },
        ));
    }
    Ok(queues)
}

/// Every `SQS` event of every function in `template`.
pub fn template_queue_subscriptions(template: &str) -> Result<Vec<QueueSubscription>, String> {
    let resources = resources(template)?;
    let Some(map) = resources.as_hash() else {
        return Err("template.yaml has no Resources".into());
    };
    let mut subscriptions = Vec::new();
    for (name, resource) in map {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name.as_str().unwrap_or("?");
        let Some(events) = resource["Properties"]["Events"].as_hash() else {
            continue;
        };
        for (event_name, event) in events {
            if event["Type"].as_str() != Some("SQS") {
                continue;
            }
            let event_name = event_name.as_str().unwrap_or("?").to_owned();
            let p = &event["Properties"];
            let queue = referenced_resource(&p["Queue"])
                .and_then(|id| file_queue(&id))
                .ok_or_else(|| format!("{name}.{event_name}: Queue is not a file queue"))?;
            let function = resource["Properties"]["Handler"]
                .as_str()
                .ok_or_else(|| format!("{name}: no Properties.Handler"))?;
            subscriptions.push(QueueSubscription {
                function: function.to_owned(),
                name: event_name,
                queue,
                batch_size: number(p, "BatchSize").unwrap_or(10).max(1) as usize,
                report_item_failures: p["FunctionResponseTypes"].as_vec().is_some_and(|types| {
                    types
                        .iter()
                        .any(|t| t.as_str() == Some("ReportBatchItemFailures"))
                }),
            });
        }
    }
    Ok(subscriptions)
}

/// What a queue mapping did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueStats {
    pub invocations: u64,
    pub messages_received: u64,
    pub messages_deleted: u64,
    /// Received again after a failure or a function error.
    pub redeliveries: u64,
    pub function_errors: u64,
}

/// One queue's event source mapping.
pub struct QueueMapping {
    pub subscription: QueueSubscription,
    handler: StreamHandler,
    queues: Arc<MemoryQueues>,
    pace: Pace,
    in_flight: AtomicUsize,
    stats: Mutex<QueueStats>,
}

impl QueueMapping {
    pub fn new(
        subscription: QueueSubscription,
        handler: StreamHandler,
        queues: Arc<MemoryQueues>,
        pace: Pace,
    ) -> Self {
        Self {
            subscription,
            handler,
            queues,
            pace,
            in_flight: AtomicUsize::new(0),
            stats: Mutex::new(QueueStats::default()),
        }
    }

    pub fn stats(&self) -> QueueStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Nothing waiting, invisible or in an invocation.
    pub fn idle(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0 && self.queues.len(self.subscription.queue) == 0
    }

    fn count(&self, f: impl FnOnce(&mut QueueStats)) {
        if let Ok(mut stats) = self.stats.lock() {
            f(&mut stats);
        }
    }

    /// Polls the queue and invokes the function until the task is dropped.
    pub async fn run(&self) {
        let queue = self.subscription.queue;
        loop {
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            let received = self.queues.receive(queue, self.subscription.batch_size);
            if received.is_empty() {
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                tokio::time::sleep(self.pace.poll_interval).await;
                continue;
            }
            let receipts: HashMap<&str, &str> = received
                .iter()
                .map(|m| (m.message_id.as_str(), m.receipt_handle.as_str()))
                .collect();
            self.count(|s| {
                s.invocations += 1;
                s.messages_received += received.len() as u64;
                s.redeliveries += received.iter().filter(|m| m.receive_count > 1).count() as u64;
            });
            let event = sqs_event(
                received
                    .iter()
                    .map(|m| (m.message_id.as_str(), m.body.as_str())),
            );
            let outcome = match serde_json::to_value(&event) {
                Ok(payload) => (self.handler)(payload).await,
                Err(err) => Err(err.to_string()),
            };
            let failed: Option<HashSet<String>> = match outcome {
                Ok(answer) if self.subscription.report_item_failures => {
                    match serde_json::from_value::<SqsBatchResponse>(answer) {
                        Ok(response) => Some(
                            response
                                .batch_item_failures
                                .into_iter()
                                .map(|f| f.item_identifier)
                                .collect(),
                        ),
                        // An answer Lambda cannot read fails the whole batch.
                        Err(_) => None,
                    }
                }
                Ok(_) => Some(HashSet::new()),
                Err(err) => {
                    tracing::warn!(function = %self.subscription.function, error = %err, "queue batch failed");
                    None
                }
            };
            match failed {
                Some(failed) => {
                    let mut deleted = 0;
                    for (id, receipt) in &receipts {
                        if !failed.contains(*id) && self.queues.delete(queue, receipt) {
                            deleted += 1;
                        }
                    }
                    self.count(|s| s.messages_deleted += deleted);
                }
                None => self.count(|s| s.function_errors += 1),
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::routes::TEMPLATE;

    #[test]
    fn the_file_queues_and_their_subscriptions_are_read_from_the_projects_template() {
        let queues = template_queues(TEMPLATE, Duration::from_secs(3600)).unwrap();
        assert_eq!(queues.len(), 2);
        for (_, settings) in &queues {
            // Six times the workers' 300 s timeout (AWS's advice), five receives.
            assert_eq!(settings.visibility_timeout, Duration::from_secs(1800));
            assert_eq!(settings.max_receive_count, Some(5));
        }
        let capped = template_queues(TEMPLATE, Duration::from_secs(2)).unwrap();
        assert!(
            capped
                .iter()
                .all(|(_, s)| s.visibility_timeout == Duration::from_secs(2))
        );

        let mut subscriptions = template_queue_subscriptions(TEMPLATE).unwrap();
        subscriptions.sort_by_key(|s| s.queue);
        let routes: Vec<(FileQueue, &str, bool)> = subscriptions
            .iter()
            .map(|s| (s.queue, s.function.as_str(), s.report_item_failures))
            .collect();
        assert_eq!(
            routes,
            [
                (FileQueue::Recordings, "recording", true),
                (FileQueue::Transcripts, "transcript", true)
            ]
        );
        for s in &subscriptions {
            assert_eq!(s.function, s.queue.function());
        }
    }
}
