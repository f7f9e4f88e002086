//! DynamoDB stream batches, as Lambda delivers them to the workers (R-E-3).
//!
//! - [`inbox`]: which records are inbox events, and the event each carries;
//! - [`batch`]: one batch processed record by record, failures reported per record
//!   (`ReportBatchItemFailures`), so one bad record never fails the others;
//! - [`wire`]: records in Lambda's JSON shape, built from items (local host, tests);
//! - [`worker`]: what every inbox worker does with a batch;
//! - [`failures`]: what becomes of a trigger whose work failed (retries, dead letters, replay).
//!
//! The wire types are `aws_lambda_events`' (`dynamodb::Event`, `DynamoDbEventResponse`): the
//! same the Lambda runtime hands a function, and the local host builds (`infra/host`).

pub mod batch;
pub mod failures;
pub mod inbox;
pub mod wire;
pub mod worker;

pub use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord as StreamRecord};
pub use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
pub use batch::{BatchError, BatchSummary, RECORD_MARGIN, RecordOutcome, process_batch};
pub use inbox::{InboxError, inbox_event, inbox_type};
pub use wire::ChangeRecord;
pub use worker::handle_inbox_batch;
