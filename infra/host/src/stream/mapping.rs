//! An event source mapping, as Lambda runs one for a DynamoDB stream: read records, drop those
//! no filter matches, invoke the function with batches of at most `BatchSize`, and on failure:
//! - an answer naming failed records (`ReportBatchItemFailures`): the records before the
//!   lowest failed one are done; the batch is retried from it;
//! - a function error (or a malformed answer): the whole batch is retried, split in two first
//!   when `BisectBatchOnFunctionError` is set;
//! - after `MaximumRetryAttempts` retries the records are sent to the on-failure destination
//!   (here kept in memory and reported, with the same fields AWS puts in its SQS message) and
//!   the stream moves on.

use super::feed::ChangeFeed;
use super::subscriptions::Subscription;
use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A stream-triggered function as the host calls it: the Lambda event in, its answer out; an
/// `Err` is a function error.
pub type StreamHandler =
    Arc<dyn Fn(Value) -> BoxFuture<'static, Result<Value, String>> + Send + Sync>;

/// What the mapping did, for logs and the demo report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryStats {
    pub records_read: u64,
    pub filtered_out: u64,
    pub invocations: u64,
    /// Invocations that repeated records after a failure.
    pub retries: u64,
    pub bisections: u64,
    /// Records done (the function answered without naming them).
    pub records_done: u64,
    pub records_dead_lettered: u64,
}

/// One message of the on-failure destination.
#[derive(Clone, Debug, Serialize)]
pub struct DeadLetter {
    pub function: String,
    pub condition: String,
    pub reason: String,
    pub first_sequence_number: String,
    pub last_sequence_number: String,
    pub batch_size: usize,
    pub approximate_invoke_count: u32,
    /// The records themselves (AWS sends only their coordinates; locally they are at hand).
    pub records: Vec<Value>,
}

#[derive(Default)]
struct Shared {
    stats: DeliveryStats,
    dead_letters: Vec<DeadLetter>,
    /// When the latest poll that found nothing began: everything written before it is done.
    drained_since: Option<Instant>,
}

/// Tuning that is not in the template: how fast retries come (AWS backs off for seconds; a
/// demo would rather not wait) and how often an idle feed is polled.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub poll_interval: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Self {
            retry_base: Duration::from_millis(500),
            retry_max: Duration::from_secs(10),
            poll_interval: Duration::from_millis(250),
        }
    }
}

pub struct EventSourceMapping {
    subscription: Subscription,
    handler: StreamHandler,
    pace: Pace,
    shared: Arc<Mutex<Shared>>,
}

/// The lane of a record: its partition key's hash (the same in every run of the process).
fn lane(record: &Value, lanes: usize) -> usize {
    use std::hash::{Hash, Hasher};
    if lanes <= 1 {
        return 0;
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    record["dynamodb"]["Keys"]["pk"]
        .to_string()
        .hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

fn sequence(record: &Value) -> Option<&str> {
    record["dynamodb"]["SequenceNumber"].as_str()
}

enum Attempt {
    Done,
    /// Retry from this index of the batch, with why.
    FailedFrom(usize, String),
    FunctionError(String),
}

impl EventSourceMapping {
    pub fn new(subscription: Subscription, handler: StreamHandler, pace: Pace) -> Self {
        Self {
            subscription,
            handler,
            pace,
            shared: Arc::new(Mutex::new(Shared::default())),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Shared) -> T) -> Option<T> {
        self.shared.lock().ok().map(|mut shared| f(&mut shared))
    }

    /// The function's function name.
    pub fn function(&self) -> &str {
        &self.subscription.function
    }

    /// One line for the console: function, event, batching and failure handling.
    pub fn describe(&self) -> String {
        let s = &self.subscription;
        format!(
            "{} <- {} (batch {}, {} filter(s), retries {}, bisect {}, dead letters to {})",
            s.function,
            s.name,
            s.batch_size,
            s.filters.len(),
            s.max_retries
                .map_or("until expiry".into(), |n| n.to_string()),
            s.bisect_on_error,
            s.on_failure.as_deref().unwrap_or("nowhere"),
        )
    }

    pub fn stats(&self) -> DeliveryStats {
        self.with(|s| s.stats.clone()).unwrap_or_default()
    }

    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.with(|s| s.dead_letters.clone()).unwrap_or_default()
    }

    /// Whether every record written before `since` has been delivered (or dead-lettered).
    pub fn drained_after(&self, since: Instant) -> bool {
        self.with(|s| s.drained_since.is_some_and(|at| at >= since))
            .unwrap_or(false)
    }

    /// Reads `feed` and delivers until the task is dropped.
    pub async fn run(&self, mut feed: Box<dyn ChangeFeed>) {
        loop {
            let polled_at = Instant::now();
            let records = match feed.next().await {
                Ok(records) => records,
                Err(err) => {
                    tracing::warn!(function = %self.subscription.function, error = %err, "stream read failed");
                    tokio::time::sleep(self.pace.poll_interval * 4).await;
                    continue;
                }
            };
            if records.is_empty() {
                self.with(|s| s.drained_since = Some(polled_at));
                tokio::time::sleep(self.pace.poll_interval).await;
                continue;
            }
            self.deliver(records).await;
        }
    }

    /// Filters, batches and delivers records read from the stream, in order.
    pub async fn deliver(&self, records: Vec<Value>) {
        let read = records.len() as u64;
        let matching: Vec<Value> = if self.subscription.filters.is_empty() {
            records
        } else {
            records
                .into_iter()
                .filter(|r| self.subscription.filters.iter().any(|f| f.matches(r)))
                .collect()
        };
        self.with(|s| {
            s.stats.records_read += read;
            s.stats.filtered_out += read - matching.len() as u64;
        });
        // Lambda's ParallelizationFactor: up to that many batches of one shard at once, the
        // records of one partition key always in one lane, in order.
        let lanes = self.subscription.parallelization.max(1);
        let mut by_lane: Vec<Vec<Value>> = vec![Vec::new(); lanes];
        for record in matching {
            by_lane[lane(&record, lanes)].push(record);
        }
        futures::future::join_all(by_lane.into_iter().map(|records| async move {
            for batch in records.chunks(self.subscription.batch_size) {
                self.deliver_batch(batch.to_vec()).await;
            }
        }))
        .await;
    }

    async fn invoke(&self, batch: &[Value]) -> Attempt {
        self.with(|s| s.stats.invocations += 1);
        let answer = (self.handler)(json!({ "Records": batch })).await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(err) => return Attempt::FunctionError(err),
        };
        if !self.subscription.report_item_failures {
            return Attempt::Done;
        }
        let failures = match answer.get("batchItemFailures") {
            None | Some(Value::Null) => return Attempt::Done,
            Some(Value::Array(list)) => list,
            Some(other) => return Attempt::FunctionError(format!("malformed answer: {other}")),
        };
        if failures.is_empty() {
            return Attempt::Done;
        }
        // Lambda resumes from the lowest failed sequence number; an identifier that is not in
        // the batch makes the whole batch fail.
        let mut lowest: Option<usize> = None;
        for failure in failures {
            let id = failure["itemIdentifier"].as_str().unwrap_or_default();
            match batch.iter().position(|r| sequence(r) == Some(id)) {
                Some(index) => lowest = Some(lowest.map_or(index, |l| l.min(index))),
                None => {
                    return Attempt::FunctionError(format!(
                        "batchItemFailures names {id:?}, not a record of the batch"
                    ));
                }
            }
        }
        let from = lowest.unwrap_or(0);
        Attempt::FailedFrom(
            from,
            format!("the function reported {} record(s) failed", failures.len()),
        )
    }

    async fn deliver_batch(&self, batch: Vec<Value>) {
        // (records, invocations so far)
        let mut queue: VecDeque<(Vec<Value>, u32)> = VecDeque::from([(batch, 0)]);
        while let Some((records, invoked)) = queue.pop_front() {
            if records.is_empty() {
                continue;
            }
            if invoked > 0 {
                self.with(|s| s.stats.retries += 1);
                let delay = self
                    .pace
                    .retry_base
                    .saturating_mul(1 << (invoked - 1).min(16))
                    .min(self.pace.retry_max);
                tokio::time::sleep(delay).await;
            }
            let invoked = invoked + 1;
            let (failed, reason, bisectable) = match self.invoke(&records).await {
                Attempt::Done => {
                    self.with(|s| s.stats.records_done += records.len() as u64);
                    continue;
                }
                Attempt::FailedFrom(index, reason) => {
                    self.with(|s| s.stats.records_done += index as u64);
                    (records[index..].to_vec(), reason, false)
                }
                Attempt::FunctionError(reason) => (records, reason, true),
            };
            tracing::warn!(
                function = %self.subscription.function,
                records = failed.len(),
                attempt = invoked,
                %reason,
                "stream batch failed"
            );
            let exhausted = self
                .subscription
                .max_retries
                .is_some_and(|max| invoked > max);
            if exhausted {
                self.dead_letter(failed, invoked, reason);
            } else if bisectable && self.subscription.bisect_on_error && failed.len() > 1 {
                self.with(|s| s.stats.bisections += 1);
                let (first, second) = failed.split_at(failed.len() / 2);
                queue.push_front((second.to_vec(), invoked));
                queue.push_front((first.to_vec(), invoked));
            } else {
                queue.push_front((failed, invoked));
            }
        }
    }

    fn dead_letter(&self, records: Vec<Value>, invoked: u32, reason: String) {
        let first = records.first().and_then(sequence).unwrap_or_default();
        let last = records.last().and_then(sequence).unwrap_or_default();
        let letter = DeadLetter {
            function: self.subscription.function.clone(),
            condition: "RetryAttemptsExhausted".into(),
            reason,
            first_sequence_number: first.to_owned(),
            last_sequence_number: last.to_owned(),
            batch_size: records.len(),
            approximate_invoke_count: invoked,
            records,
        };
        tracing::error!(
            function = %letter.function,
            destination = self.subscription.on_failure.as_deref().unwrap_or("none"),
            first_sequence_number = %letter.first_sequence_number,
            last_sequence_number = %letter.last_sequence_number,
            records = letter.batch_size,
            reason = %letter.reason,
            "records sent to the on-failure destination"
        );
        self.with(|s| {
            s.stats.records_dead_lettered += letter.batch_size as u64;
            s.dead_letters.push(letter);
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::stream::filter::Pattern;
    use crate::stream::subscriptions::StartingPosition;

    fn subscription(batch_size: usize, max_retries: u32, bisect: bool) -> Subscription {
        Subscription {
            function: "bridge-test".into(),
            name: "Inbox".into(),
            starting_position: StartingPosition::TrimHorizon,
            batch_size,
            max_retries: Some(max_retries),
            bisect_on_error: bisect,
            report_item_failures: true,
            filters: vec![Pattern::parse(r#"{"eventName": ["INSERT"]}"#).unwrap()],
            on_failure: Some("DeadLetterQueue".into()),
            parallelization: 1,
        }
    }

    fn records(n: u32) -> Vec<Value> {
        (1..=n)
            .map(|i| json!({"eventName": "INSERT", "dynamodb": {"SequenceNumber": format!("{i:03}")}}))
            .collect()
    }

    fn fast() -> Pace {
        Pace {
            retry_base: Duration::from_millis(1),
            retry_max: Duration::from_millis(2),
            poll_interval: Duration::from_millis(1),
        }
    }

    /// A function that fails the records whose sequence numbers are in `poison`, per record,
    /// and remembers every batch it was given.
    fn per_record(
        poison: &'static [&'static str],
        seen: Arc<Mutex<Vec<Vec<String>>>>,
    ) -> StreamHandler {
        Arc::new(move |event: Value| {
            let seqs: Vec<String> = event["Records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| sequence(r).unwrap().to_owned())
                .collect();
            seen.lock().unwrap().push(seqs.clone());
            let failures: Vec<Value> = seqs
                .iter()
                .filter(|s| poison.contains(&s.as_str()))
                .map(|s| json!({"itemIdentifier": s}))
                .collect();
            Box::pin(async move { Ok(json!({"batchItemFailures": failures})) })
        })
    }

    #[tokio::test]
    async fn batches_respect_the_batch_size_and_filters_drop_records() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mapping = EventSourceMapping::new(
            subscription(2, 3, true),
            per_record(&[], seen.clone()),
            fast(),
        );
        let mut input = records(5);
        input.insert(
            2,
            json!({"eventName": "MODIFY", "dynamodb": {"SequenceNumber": "x"}}),
        );
        mapping.deliver(input).await;
        assert_eq!(seen.lock().unwrap().len(), 3);
        let stats = mapping.stats();
        assert_eq!(
            (stats.records_read, stats.filtered_out, stats.records_done),
            (6, 1, 5)
        );
    }

    #[tokio::test]
    async fn a_reported_failure_retries_from_it_then_dead_letters_it() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mapping = EventSourceMapping::new(
            subscription(10, 2, true),
            per_record(&["003"], seen.clone()),
            fast(),
        );
        mapping.deliver(records(5)).await;
        let seen = seen.lock().unwrap().clone();
        // First the whole batch, then twice from 003 on (records 1-2 are done).
        assert_eq!(seen[0].len(), 5);
        assert_eq!(seen[1], vec!["003", "004", "005"]);
        assert_eq!(seen.len(), 3);
        let letters = mapping.dead_letters();
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0].first_sequence_number, "003");
        assert_eq!(letters[0].approximate_invoke_count, 3);
        let stats = mapping.stats();
        assert_eq!(
            (
                stats.records_done,
                stats.records_dead_lettered,
                stats.retries
            ),
            (2, 3, 2)
        );
    }

    #[tokio::test]
    async fn a_function_error_bisects_until_the_bad_record_is_alone() {
        let seen = Arc::new(Mutex::new(Vec::<Vec<String>>::new()));
        let log = seen.clone();
        let handler: StreamHandler = Arc::new(move |event: Value| {
            let seqs: Vec<String> = event["Records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| sequence(r).unwrap().to_owned())
                .collect();
            log.lock().unwrap().push(seqs.clone());
            Box::pin(async move {
                if seqs.iter().any(|s| s == "002") {
                    Err("panicked".into())
                } else {
                    Ok(Value::Null)
                }
            })
        });
        let mapping = EventSourceMapping::new(subscription(4, 3, true), handler, fast());
        mapping.deliver(records(4)).await;
        let letters = mapping.dead_letters();
        assert_eq!(letters.len(), 1);
        assert_eq!(
            letters[0].batch_size, 1,
            "only the bad record is dead-lettered"
        );
        assert_eq!(letters[0].first_sequence_number, "002");
        let stats = mapping.stats();
        assert_eq!(stats.records_done, 3);
        assert!(stats.bisections >= 2, "{stats:?}");
    }

    #[tokio::test]
    async fn an_unknown_identifier_fails_the_whole_batch() {
        let handler: StreamHandler = Arc::new(|_| {
            Box::pin(async { Ok(json!({"batchItemFailures": [{"itemIdentifier": "nope"}]})) })
        });
        let mapping = EventSourceMapping::new(subscription(10, 0, false), handler, fast());
        mapping.deliver(records(3)).await;
        assert_eq!(mapping.stats().records_dead_lettered, 3);
        assert!(mapping.dead_letters()[0].reason.contains("nope"));
    }
}
