//! A reader of the table's stream through the real DynamoDB Streams API (DynamoDB Local serves
//! it on the same port): `DescribeTable` for the stream ARN, `DescribeStream` for the shards
//! (again every few seconds, for shards that open later), `GetShardIterator` and `GetRecords`
//! per shard, parents before children. Records come out in Lambda's JSON shape.

use super::feed::ChangeFeed;
use super::subscriptions::StartingPosition;
use async_trait::async_trait;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use base64::Engine;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

const DESCRIBE_EVERY: Duration = Duration::from_secs(5);

struct ShardReader {
    parent: Option<String>,
    /// `None` until the first read; then the next iterator, or finished.
    iterator: Option<String>,
    finished: bool,
}

pub struct DynamoStreamFeed {
    streams: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// Where shards known at start begin; shards found later start at their beginning.
    start: StartingPosition,
    shards: BTreeMap<String, ShardReader>,
    described_at: Option<Instant>,
}

fn describe(err: impl std::error::Error) -> String {
    bridge_shared::http::describe(&err)
}

impl DynamoStreamFeed {
    pub async fn open(
        tables: &aws_sdk_dynamodb::Client,
        streams: aws_sdk_dynamodbstreams::Client,
        table: &str,
        start: StartingPosition,
    ) -> Result<Self, String> {
        let table_description = tables
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| format!("DescribeTable {table}: {}", describe(e)))?;
        let stream_arn = table_description
            .table()
            .and_then(|t| t.latest_stream_arn())
            .ok_or_else(|| format!("table {table} has no stream (StreamSpecification)"))?
            .to_owned();
        let mut feed = Self {
            streams,
            stream_arn,
            start,
            shards: BTreeMap::new(),
            described_at: None,
        };
        feed.refresh_shards().await?;
        Ok(feed)
    }

    async fn iterator(&self, shard: &str, kind: ShardIteratorType) -> Result<String, String> {
        self.streams
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(shard)
            .shard_iterator_type(kind)
            .send()
            .await
            .map_err(|e| format!("GetShardIterator {shard}: {}", describe(e)))?
            .shard_iterator
            .ok_or_else(|| format!("GetShardIterator {shard}: no iterator"))
    }

    async fn refresh_shards(&mut self) -> Result<(), String> {
        let first_time = self.described_at.is_none();
        let mut exclusive_start: Option<String> = None;
        loop {
            let answer = self
                .streams
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .set_exclusive_start_shard_id(exclusive_start.clone())
                .send()
                .await
                .map_err(|e| format!("DescribeStream: {}", describe(e)))?;
            let Some(description) = answer.stream_description else {
                break;
            };
            for shard in description.shards.unwrap_or_default() {
                let Some(id) = shard.shard_id else { continue };
                if self.shards.contains_key(&id) {
                    continue;
                }
                let kind = match (first_time, self.start) {
                    (true, StartingPosition::Latest) => ShardIteratorType::Latest,
                    _ => ShardIteratorType::TrimHorizon,
                };
                let iterator = self.iterator(&id, kind).await?;
                self.shards.insert(
                    id,
                    ShardReader {
                        parent: shard.parent_shard_id,
                        iterator: Some(iterator),
                        finished: false,
                    },
                );
            }
            match description.last_evaluated_shard_id {
                Some(last) => exclusive_start = Some(last),
                None => break,
            }
        }
        self.described_at = Some(Instant::now());
        Ok(())
    }
}

#[async_trait]
impl ChangeFeed for DynamoStreamFeed {
    async fn next(&mut self) -> Result<Vec<Value>, String> {
        if self
            .described_at
            .is_none_or(|at| at.elapsed() >= DESCRIBE_EVERY)
        {
            self.refresh_shards().await?;
        }
        let readable: Vec<String> = self
            .shards
            .iter()
            .filter(|(_, shard)| !shard.finished)
            // A child shard is read once its parent is finished (or gone from the stream).
            .filter(|(_, shard)| {
                shard
                    .parent
                    .as_ref()
                    .and_then(|p| self.shards.get(p))
                    .is_none_or(|parent| parent.finished)
            })
            .map(|(id, _)| id.clone())
            .collect();
        let mut records = Vec::new();
        for id in readable {
            let Some(iterator) = self.shards.get(&id).and_then(|s| s.iterator.clone()) else {
                continue;
            };
            let answer = match self
                .streams
                .get_records()
                .shard_iterator(iterator)
                .limit(1000)
                .send()
                .await
            {
                Ok(answer) => answer,
                // The iterator points before the shard's oldest record (DynamoDB Local answers
                // so for a shard of a table created moments before): read from the oldest
                // record still there, as Lambda's poller does; the other shards go on.
                Err(err) if describe(&err).contains("TrimmedDataAccess") => {
                    tracing::warn!(shard = %id, "stream read past the trim horizon: reading from the oldest record");
                    let restart = self.iterator(&id, ShardIteratorType::TrimHorizon).await?;
                    if let Some(shard) = self.shards.get_mut(&id) {
                        shard.iterator = Some(restart);
                    }
                    continue;
                }
                Err(err) => return Err(format!("GetRecords {id}: {}", describe(err))),
            };
            for record in answer.records.unwrap_or_default() {
                records.push(lambda_record(&record, &self.stream_arn));
            }
            if let Some(shard) = self.shards.get_mut(&id) {
                shard.finished = answer.next_shard_iterator.is_none();
                shard.iterator = answer.next_shard_iterator;
            }
        }
        Ok(records)
    }
}

/// A Streams API record in the shape Lambda delivers it.
pub fn lambda_record(record: &Record, stream_arn: &str) -> Value {
    let mut change = Map::new();
    if let Some(data) = &record.dynamodb {
        if let Some(at) = data.approximate_creation_date_time {
            change.insert(
                "ApproximateCreationDateTime".into(),
                json!(at.as_secs_f64()),
            );
        }
        for (name, image) in [
            ("Keys", &data.keys),
            ("NewImage", &data.new_image),
            ("OldImage", &data.old_image),
        ] {
            if let Some(image) = image {
                change.insert(name.into(), item(image));
            }
        }
        change.insert("SequenceNumber".into(), json!(data.sequence_number));
        change.insert("SizeBytes".into(), json!(data.size_bytes.unwrap_or(0)));
        if let Some(view) = &data.stream_view_type {
            change.insert("StreamViewType".into(), json!(view.as_str()));
        }
    }
    let mut lambda = json!({
        "eventID": record.event_id,
        "eventName": record.event_name.as_ref().map(|n| n.as_str()),
        "eventVersion": record.event_version,
        "eventSource": record.event_source,
        "awsRegion": record.aws_region,
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    });
    if let Some(identity) = &record.user_identity {
        lambda["userIdentity"] = json!({
            "type": identity.r#type, "principalId": identity.principal_id,
        });
    }
    lambda
}

fn item(attributes: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        attributes
            .iter()
            .map(|(name, value)| (name.clone(), attribute(value)))
            .collect(),
    )
}

/// DynamoDB's JSON for one attribute value (`{"S": "…"}`, `{"M": {…}}`, …).
fn attribute(value: &AttributeValue) -> Value {
    let b64 = |blob: &aws_sdk_dynamodbstreams::primitives::Blob| {
        base64::engine::general_purpose::STANDARD.encode(blob.as_ref())
    };
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": b64(b) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(n) => json!({ "NULL": n }),
        AttributeValue::Ss(list) => json!({ "SS": list }),
        AttributeValue::Ns(list) => json!({ "NS": list }),
        AttributeValue::Bs(list) => json!({ "BS": list.iter().map(b64).collect::<Vec<_>>() }),
        AttributeValue::L(list) => json!({ "L": list.iter().map(attribute).collect::<Vec<_>>() }),
        AttributeValue::M(map) => json!({ "M": item(map) }),
        _ => json!({ "NULL": true }),
    }
}
