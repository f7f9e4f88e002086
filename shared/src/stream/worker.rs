//! What every inbox worker does with a stream batch: each record's session trigger parsed (a
//! record that is not a new inbox item is skipped; a corrupt one fails, to be dead-lettered),
//! the events of one session in order and sessions side by side ([`process_batch`]), each
//! event's work inside a span carrying its id as the correlation id, and its audit entry kept
//! ([`crate::audit`]).

use super::failures::FailurePolicy;
use super::{BatchError, DynamoDbEventResponse, InboxError, RecordOutcome, StreamEvent};
use super::{inbox_event, process_batch};
use crate::UnixMillis;
use crate::events::SessionTrigger;
use crate::retry::Retryable;
use crate::telemetry;
use std::fmt::Display;
use std::future::Future;
use tracing::Instrument;

/// Runs `work` for the trigger of every new inbox item of `batch`; a failure is kept by
/// `failures` (retried soon, retried later, or a dead letter: [`super::failures`]).
pub async fn handle_inbox_batch<F, Fut, E>(
    batch: &StreamEvent,
    concurrency: usize,
    failures: &FailurePolicy<'_>,
    now: UnixMillis,
    work: F,
) -> Result<DynamoDbEventResponse, BatchError>
where
    F: Fn(SessionTrigger) -> Fut,
    Fut: Future<Output = Result<RecordOutcome, E>>,
    E: Display + From<InboxError> + Retryable,
{
    let work = &work;
    let (response, summary) = process_batch(
        &batch.records,
        concurrency,
        |record| match inbox_event(record) {
            Ok(Some(event)) => format!("{:?}#{}", event.session.kind, event.session.id),
            _ => record.event_id.clone(),
        },
        |record| async move {
            // A record no trigger can be read from fails: Lambda retries it, then the SQS
            // on-failure destination keeps its pointer (the last resort).
            let Some(event) = inbox_event(record).map_err(|e| e.to_string())? else {
                return Ok(RecordOutcome::Skipped("not a new inbox event".into()));
            };
            let span = telemetry::event_span(&telemetry::correlation_id(Some(&event.id)));
            async {
                // The trigger's audit entry (R-ADM-2): what became of it and every platform
                // write sent for it. Losing one costs the timeline a line, never the work.
                let (result, noted) = crate::audit::recording(work(event.clone())).await;
                let outcome = match &result {
                    Ok(RecordOutcome::Applied) => "applied".to_owned(),
                    Ok(RecordOutcome::Skipped(why)) => format!("skipped: {why}"),
                    // A platform's error text may repeat what it was sent (a number, an
                    // e-mail): kept redacted, as logs are.
                    Err(err) => format!("failed: {}", crate::redact::redact(&err.to_string())),
                };
                // The inbox worker reads every trigger: its entry is the trigger's receipt. A
                // file worker's skip that wrote nothing adds nothing to the timeline but size.
                let nothing_to_show = noted.writes.is_empty()
                    && matches!(result, Ok(RecordOutcome::Skipped(_)))
                    && failures.step != crate::audit::INBOX_WORKER;
                if !nothing_to_show
                    && let Err(err) = crate::audit::keep(
                    failures.store,
                    failures.step,
                    &event,
                    outcome,
                    noted,
                    now,
                    failures.plan.audit_kept,
                )
                .await
                {
                    crate::metrics::count("AuditEntriesLost", 1);
                    tracing::warn!(error = %err, "the trigger's audit entry was not kept");
                }
                match result {
                    Ok(outcome) => {
                        if let Err(err) = failures.succeeded(&event).await {
                            tracing::warn!(error = %err, "a done retry is still listed; the next one finds nothing to do");
                        }
                        Ok(outcome)
                    }
                    Err(err) => failures.keep(&event, &err, now).await,
                }
            }
            .instrument(span)
            .await
        },
    )
    .await?;
    tracing::info!(?summary, "stream batch processed");
    Ok(response)
}
