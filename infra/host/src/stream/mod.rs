//! Stream-triggered functions on the local host, delivered as AWS would deliver them:
//! [`subscriptions`] read from template.yaml, [`filter`] patterns, a [`feed`] per subscription
//! (DynamoDB Local's Streams API, or the embedded store's change log), and the event source
//! [`mapping`]'s batching, retries, bisection, per-record failures and dead letters; and the
//! queue-triggered functions ([`queues`]) the inbox worker hands file work to.

pub mod dynamodb_streams;
pub mod embedded;
pub mod empty_map_repair;
pub mod feed;
pub mod filter;
pub mod mapping;
pub mod queues;
pub mod subscriptions;

pub use feed::FeedSource;
pub use mapping::{DeadLetter, DeliveryStats, EventSourceMapping, Pace, StreamHandler};
pub use queues::{QueueMapping, QueueStats, template_queue_subscriptions, template_queues};
pub use subscriptions::{StartingPosition, Subscription, template_subscriptions};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The running mappings of one host.
pub struct StreamRunner {
    pub mappings: Vec<Arc<EventSourceMapping>>,
    /// The queue-triggered functions (the file workers), fed by the inbox worker's hand-off.
    pub queue_mappings: Vec<Arc<QueueMapping>>,
    /// The queues those functions read (their dead letters among them).
    pub queues: Option<Arc<bridge_shared::queue::memory::MemoryQueues>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for StreamRunner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl StreamRunner {
    /// Starts one mapping per subscription whose function is in `handlers`; subscriptions of
    /// functions not loaded are reported and skipped.
    pub async fn start(
        source: &FeedSource,
        subscriptions: Vec<Subscription>,
        handlers: &HashMap<String, StreamHandler>,
        pace: Pace,
    ) -> Result<Self, String> {
        let mut runner = Self {
            mappings: Vec::new(),
            queue_mappings: Vec::new(),
            queues: None,
            tasks: Vec::new(),
        };
        for subscription in subscriptions {
            let Some(handler) = handlers.get(&subscription.function) else {
                tracing::warn!(function = %subscription.function, "stream subscription skipped: function not available locally");
                continue;
            };
            let feed = source.open(subscription.starting_position).await?;
            let mapping = Arc::new(EventSourceMapping::new(subscription, handler.clone(), pace));
            let running = mapping.clone();
            runner
                .tasks
                .push(tokio::spawn(async move { running.run(feed).await }));
            runner.mappings.push(mapping);
        }
        Ok(runner)
    }

    /// Also runs the template's queue-triggered functions on `queues`, each whose function is
    /// in `handlers` (the same JSON-in, JSON-out handlers as the stream's).
    pub fn serve_queues(
        &mut self,
        queues: &Arc<bridge_shared::queue::memory::MemoryQueues>,
        subscriptions: Vec<queues::QueueSubscription>,
        handlers: &HashMap<String, StreamHandler>,
        pace: Pace,
    ) {
        self.queues = Some(queues.clone());
        for subscription in subscriptions {
            let Some(handler) = handlers.get(&subscription.function) else {
                tracing::warn!(function = %subscription.function, "queue subscription skipped: function not available locally");
                continue;
            };
            let mapping = Arc::new(QueueMapping::new(
                subscription,
                handler.clone(),
                queues.clone(),
                pace,
            ));
            let running = mapping.clone();
            self.tasks
                .push(tokio::spawn(async move { running.run().await }));
            self.queue_mappings.push(mapping);
        }
    }

    /// What the queue mappings did, summed.
    pub fn queue_stats(&self) -> QueueStats {
        let mut total = QueueStats::default();
        for stats in self.queue_mappings.iter().map(|m| m.stats()) {
            total.invocations += stats.invocations;
            total.messages_received += stats.messages_received;
            total.messages_deleted += stats.messages_deleted;
            total.redeliveries += stats.redeliveries;
            total.function_errors += stats.function_errors;
        }
        total
    }

    /// Waits until every record written before now has been delivered (or dead-lettered), at
    /// most `timeout`; false when it timed out.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let since = Instant::now();
        let deadline = since + timeout;
        while Instant::now() < deadline {
            if self.mappings.iter().all(|m| m.drained_after(since))
                && self.queue_mappings.iter().all(|m| m.idle())
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    pub fn stats(&self) -> DeliveryStats {
        let mut total = DeliveryStats::default();
        for stats in self.mappings.iter().map(|m| m.stats()) {
            total.records_read += stats.records_read;
            total.filtered_out += stats.filtered_out;
            total.invocations += stats.invocations;
            total.retries += stats.retries;
            total.bisections += stats.bisections;
            total.records_done += stats.records_done;
            total.records_dead_lettered += stats.records_dead_lettered;
        }
        total
    }

    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.mappings
            .iter()
            .flat_map(|m| m.dead_letters())
            .collect()
    }
}
