//! One stream batch, processed the way `ReportBatchItemFailures` expects: every record gets its
//! own outcome, and the answer names the failed records by sequence number. Lambda then
//! retries from the lowest failed one; records before it are done.
//!
//! Records of one session (the caller's `group_of`) are processed in stream order, one at a
//! time; sessions proceed concurrently. After a failure, the session's later records are not
//! attempted (they are reported failed too, so they are retried after it, still in order);
//! other sessions are not held back by it.

use super::DynamoDbBatchItemFailure;
use super::DynamoDbEventResponse;
use aws_lambda_events::event::dynamodb::EventRecord;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;

/// What happened to one record that did not fail.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum RecordOutcome {
    /// The record's work was done.
    Applied,
    /// Nothing to do (not an event this worker handles, or already done), with why.
    Skipped(String),
}

/// Counts for one batch (for the log line and the local host's report).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BatchSummary {
    pub records: usize,
    pub applied: usize,
    pub skipped: usize,
    pub failed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Without a sequence number a failure cannot be reported per record: the whole batch fails
    /// (Lambda retries it, or bisects it when the template says so).
    #[error("record {event_id} failed and carries no sequence number to report: {reason}")]
    Unreportable { event_id: String, reason: String },
}

/// The least time left for a record to be started: a pass is a few platform calls.
/// More than a request's own margin (`kustomer::SEND_MARGIN`, 12 s).
pub const RECORD_MARGIN: std::time::Duration = std::time::Duration::from_secs(15);

/// Processes `records` with `handle`, at most `concurrency` sessions at a time.
pub async fn process_batch<'a, G, H, Fut, E>(
    records: &'a [EventRecord],
    concurrency: usize,
    group_of: G,
    handle: H,
) -> Result<(DynamoDbEventResponse, BatchSummary), BatchError>
where
    G: Fn(&EventRecord) -> String,
    H: Fn(&'a EventRecord) -> Fut,
    Fut: Future<Output = Result<RecordOutcome, E>>,
    E: Display,
{
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, record) in records.iter().enumerate() {
        groups.entry(group_of(record)).or_default().push(index);
    }
    let handle = &handle;
    let results: Vec<Vec<(usize, Result<RecordOutcome, String>)>> =
        futures::stream::iter(groups.into_values().map(|indices| async move {
            let mut outcomes = Vec::with_capacity(indices.len());
            let mut failed: Option<String> = None;
            for index in indices {
                let record = &records[index];
                let outcome = match &failed {
                    Some(earlier) => Err(format!(
                        "not attempted: an earlier record of its session failed ({earlier})"
                    )),
                    // Too little of the invocation left to start it: reported failed now, so
                    // Lambda retries it (and the session's later records, in order) rather
                    // than timing the whole batch out (finding 8).
                    None if !crate::deadline::allows(RECORD_MARGIN) => {
                        Err("not started: the invocation's time is nearly up".into())
                    }
                    None => handle(record).await.map_err(|err| err.to_string()),
                };
                if let Err(reason) = &outcome {
                    tracing::warn!(
                        stream_event_id = %record.event_id,
                        sequence_number = record.change.sequence_number.as_deref().unwrap_or("-"),
                        %reason,
                        "stream record failed"
                    );
                    failed.get_or_insert_with(|| record.event_id.clone());
                }
                outcomes.push((index, outcome));
            }
            outcomes
        }))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;

    let mut outcomes: Vec<(usize, Result<RecordOutcome, String>)> =
        results.into_iter().flatten().collect();
    outcomes.sort_by_key(|(index, _)| *index);
    let mut summary = BatchSummary {
        records: records.len(),
        ..Default::default()
    };
    let mut response = DynamoDbEventResponse::default();
    for (index, outcome) in outcomes {
        match outcome {
            Ok(RecordOutcome::Applied) => summary.applied += 1,
            Ok(RecordOutcome::Skipped(_)) => summary.skipped += 1,
            Err(reason) => {
                summary.failed += 1;
                let record = &records[index];
                let Some(sequence) = record.change.sequence_number.clone() else {
                    return Err(BatchError::Unreportable {
                        event_id: record.event_id.clone(),
                        reason,
                    });
                };
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(sequence);
                response.batch_item_failures.push(failure);
            }
        }
    }
    Ok((response, summary))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;
    use std::sync::Mutex;

    fn record(seq: u32, session: &str) -> EventRecord {
        serde_json::from_value(json!({
            "eventID": format!("ev-{seq}"), "eventName": "INSERT", "awsRegion": "us-east-1",
            "dynamodb": {"SequenceNumber": seq.to_string(), "SizeBytes": 1,
                         "NewImage": {"session": {"S": session}}}
        }))
        .unwrap()
    }

    fn session(record: &EventRecord) -> String {
        match record.change.new_image.get("session") {
            Some(serde_dynamo::AttributeValue::S(s)) => s.clone(),
            _ => String::new(),
        }
    }

    fn failed_ids(response: &DynamoDbEventResponse) -> Vec<String> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone().unwrap())
            .collect()
    }

    /// Review finding 8: with little of the invocation left, records are not started; each is
    /// reported failed (Lambda retries them) before the deadline instead of the whole batch
    /// timing out.
    #[tokio::test]
    async fn finding_8_records_are_not_started_past_the_invocations_deadline() {
        let records = vec![record(1, "a"), record(2, "b")];
        let attempted = Mutex::new(0);
        let soon = crate::UnixMillis::now().plus(RECORD_MARGIN / 2);
        let (response, summary) = crate::deadline::within(
            Some(soon),
            process_batch(&records, 4, session, |_| {
                *attempted.lock().unwrap() += 1;
                async { Ok::<_, &str>(RecordOutcome::Applied) }
            }),
        )
        .await
        .unwrap();
        assert_eq!(failed_ids(&response), vec!["1", "2"]);
        assert_eq!((summary.failed, *attempted.lock().unwrap()), (2, 0));
    }

    #[tokio::test]
    async fn one_bad_record_fails_alone_and_holds_back_only_its_own_session() {
        let records = vec![
            record(1, "a"),
            record(2, "b"),
            record(3, "a"),
            record(4, "c"),
            record(5, "b"),
        ];
        let attempted = Mutex::new(Vec::new());
        let (response, summary) = process_batch(&records, 4, session, |r| {
            attempted.lock().unwrap().push(r.event_id.clone());
            let bad = r.event_id == "ev-2";
            async move {
                if bad {
                    Err("Kustomer answered 500")
                } else {
                    Ok(RecordOutcome::Applied)
                }
            }
        })
        .await
        .unwrap();
        // ev-5 (session b, after the failure) is reported, not attempted; a and c are done.
        assert_eq!(failed_ids(&response), vec!["2", "5"]);
        let attempted = attempted.into_inner().unwrap();
        assert!(!attempted.contains(&"ev-5".to_owned()));
        assert_eq!(
            summary,
            BatchSummary {
                records: 5,
                applied: 3,
                skipped: 0,
                failed: 2
            }
        );
    }

    #[tokio::test]
    async fn records_of_one_session_run_in_stream_order() {
        let records: Vec<_> = (1..=6).map(|i| record(i, "same")).collect();
        let order = Mutex::new(Vec::new());
        let (response, _) = process_batch(&records, 8, session, |r| {
            let id = r.event_id.clone();
            let order = &order;
            async move {
                // Later records finish sooner if they were run concurrently.
                let n: u64 = id.trim_start_matches("ev-").parse().unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(12 - 2 * n)).await;
                order.lock().unwrap().push(id);
                Ok::<_, String>(RecordOutcome::Skipped("nothing to do".into()))
            }
        })
        .await
        .unwrap();
        assert!(response.batch_item_failures.is_empty());
        let expected: Vec<String> = (1..=6).map(|i| format!("ev-{i}")).collect();
        assert_eq!(order.into_inner().unwrap(), expected);
    }

    #[tokio::test]
    async fn a_failure_without_sequence_number_fails_the_batch() {
        let mut bad = record(1, "a");
        bad.change.sequence_number = None;
        let result = process_batch(&[bad], 1, session, |_| async {
            Err::<RecordOutcome, _>("boom")
        })
        .await;
        assert!(matches!(result, Err(BatchError::Unreportable { .. })));
    }
}
