//! Where a subscription reads the table's changes from: DynamoDB Local's Streams API, or the
//! embedded store's change log. Both give records in Lambda's JSON shape, in stream order.

use super::dynamodb_streams::DynamoStreamFeed;
use super::embedded::{ChangeLog, EmbeddedFeed};
use super::subscriptions::StartingPosition;
use async_trait::async_trait;
use serde_json::Value;
use std::sync::Arc;

#[async_trait]
pub trait ChangeFeed: Send {
    /// The next records, possibly none (the caller waits a poll interval then).
    async fn next(&mut self) -> Result<Vec<Value>, String>;
}

/// What the host's state store offers to read changes from.
#[derive(Clone)]
pub enum FeedSource {
    Embedded(Arc<ChangeLog>),
    DynamoDb {
        tables: aws_sdk_dynamodb::Client,
        streams: aws_sdk_dynamodbstreams::Client,
        table: String,
    },
}

impl FeedSource {
    /// A reader of its own, as each event source mapping reads the stream independently.
    pub async fn open(&self, start: StartingPosition) -> Result<Box<dyn ChangeFeed>, String> {
        Ok(match self {
            FeedSource::Embedded(log) => Box::new(EmbeddedFeed::new(log.clone(), start)),
            FeedSource::DynamoDb {
                tables,
                streams,
                table,
            } => Box::new(DynamoStreamFeed::open(tables, streams.clone(), table, start).await?),
        })
    }
}
