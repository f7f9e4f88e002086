//! The DynamoDB adapter: each primitive is one conditional `PutItem`, `UpdateItem` or
//! `DeleteItem` with `ReturnValuesOnConditionCheckFailure=ALL_OLD`, so a refused caller learns
//! what is stored from the refusal itself, without a second read.

use super::embedded::lease_lost;
use super::*;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use std::collections::HashMap;

type Attributes = HashMap<String, AttributeValue>;

// Attribute names (see `keys` for the schema).
/// The end of a shared schedule (`reserve_slots`), epoch ms.
const PACE_NEXT: &str = "pace_next_ms";
const PK: &str = "pk";
const SK: &str = "sk";
const BODY: &str = "body";
const VERSION: &str = "ver";
const EXPIRES: &str = "exp_ms";
const TTL: &str = "ttl";
const STATUS: &str = "status";
const CLAIM: &str = "claim";
const IN_PROGRESS_EXPIRES: &str = "ip_exp_ms";
const RESULT: &str = "result";
const OWNER: &str = "owner";
const FENCE: &str = "fence";
const STATE: &str = "state";
const STATE_VERSION: &str = "state_ver";

/// How long after its logical expiry an item is left for DynamoDB's TTL to delete. A lease
/// keeps its fencing counter for a week after the holder's last renewal, so tokens keep growing
/// across a tab that comes back the next day.
const LEASE_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// The size of a backwards read's pages after its first.
const LATER_PAGE: i32 = 200;

/// The order a partition is read in: by sort key, or from the highest in pages of a size.
#[derive(Clone, Copy)]
enum Order {
    Forward,
    NewestFirst(i32),
}

/// [`StateStore`] on one DynamoDB table (key schema in [`super::keys`]).
#[derive(Clone, Debug)]
pub struct DynamoStore {
    /// Built on the first call when made by [`DynamoStore::lazy`]: a cold start answering
    /// without the table (a 401) does not build it ([`crate::aws::LazyClient`]).
    client: crate::aws::LazyClient<Client>,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client: client.into(),
            table: table.into(),
        }
    }

    /// A store whose client is built from `config` on its first call.
    pub fn lazy(config: aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self {
            client: crate::aws::LazyClient::new(move || Client::new(&config)),
            table: table.into(),
        }
    }

    fn client(&self) -> &Client {
        self.client.get()
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key_attributes(key: &ItemKey) -> Attributes {
    HashMap::from([(PK.into(), s(&key.pk)), (SK.into(), s(&key.sk))])
}

fn ttl_for(expiry: UnixMillis) -> AttributeValue {
    n(expiry.as_epoch_seconds_ceil())
}

/// A document as the table stores it (and as a stream record's `NewImage` carries it).
pub fn document_image(item: &Item) -> Result<Attributes, StoreError> {
    let body: AttributeValue =
        serde_dynamo::to_attribute_value(&item.body).map_err(|err| StoreError::Malformed {
            key: item.key.to_string(),
            reason: format!("body cannot be stored: {err}"),
        })?;
    let mut attributes = key_attributes(&item.key);
    attributes.insert(BODY.into(), body);
    attributes.insert(VERSION.into(), n(item.version));
    if let Some(expiry) = item.expires_at {
        attributes.insert(EXPIRES.into(), n(expiry.0));
        attributes.insert(TTL.into(), ttl_for(expiry));
    }
    Ok(attributes)
}

/// A document read back from its stored attributes (a `GetItem` answer or a stream image).
pub fn document_from_image(attributes: &Attributes) -> Result<Item, StoreError> {
    Reader::new(attributes)?.item()
}

struct Reader<'a> {
    key: ItemKey,
    attributes: &'a Attributes,
}

impl<'a> Reader<'a> {
    fn new(attributes: &'a Attributes) -> Result<Self, StoreError> {
        let text = |name: &str| match attributes.get(name) {
            Some(AttributeValue::S(value)) => Ok(value.clone()),
            _ => Err(StoreError::Malformed {
                key: "?".into(),
                reason: format!("key attribute {name} missing"),
            }),
        };
        Ok(Self {
            key: ItemKey::new(text(PK)?, text(SK)?),
            attributes,
        })
    }

    fn malformed(&self, reason: String) -> StoreError {
        StoreError::Malformed {
            key: self.key.to_string(),
            reason,
        }
    }

    fn text(&self, name: &str) -> Result<Option<String>, StoreError> {
        match self.attributes.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
            Some(other) => Err(self.malformed(format!("{name} is not a string: {other:?}"))),
        }
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, StoreError> {
        match self.attributes.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(value)) => value
                .parse()
                .map(Some)
                .map_err(|_| self.malformed(format!("{name} is not a whole number: {value}"))),
            Some(other) => Err(self.malformed(format!("{name} is not a number: {other:?}"))),
        }
    }

    fn json(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        match self.attributes.get(name) {
            None => Ok(None),
            Some(value) => serde_dynamo::from_attribute_value(value.clone())
                .map(Some)
                .map_err(|err| self.malformed(format!("{name} is not JSON-shaped: {err}"))),
        }
    }

    fn item(&self) -> Result<Item, StoreError> {
        Ok(Item {
            key: self.key.clone(),
            body: self.json(BODY)?.unwrap_or(serde_json::Value::Null),
            version: self.number(VERSION)?.unwrap_or(0),
            expires_at: self.number(EXPIRES)?.map(UnixMillis),
        })
    }

    fn idempotency_record(&self, key: &str) -> Result<IdempotencyRecord, StoreError> {
        let status = self.text(STATUS)?.unwrap_or_default();
        Ok(IdempotencyRecord {
            key: key.to_owned(),
            status: IdempotencyStatus::parse(&status)
                .ok_or_else(|| self.malformed(format!("unknown status {status:?}")))?,
            in_progress_until: self.number(IN_PROGRESS_EXPIRES)?.map(UnixMillis),
            expires_at: UnixMillis(self.number(EXPIRES)?.unwrap_or(0)),
            result: self.json(RESULT)?,
        })
    }

    fn lease_state(&self) -> Result<LeaseState, StoreError> {
        Ok(LeaseState {
            lease: self.lease()?,
            state: self.json(STATE)?.unwrap_or(serde_json::Value::Null),
            version: self.number(STATE_VERSION)?.unwrap_or(0),
        })
    }

    /// The lease, when an owner holds it (released leases keep only their fencing counter).
    fn lease(&self) -> Result<Option<Lease>, StoreError> {
        let Some(owner) = self.text(OWNER)? else {
            return Ok(None);
        };
        Ok(Some(Lease {
            resource: self.key.clone(),
            owner,
            fencing_token: self.number(FENCE)?.unwrap_or(0),
            expires_at: UnixMillis(self.number(EXPIRES)?.unwrap_or(0)),
        }))
    }
}

/// A conditional write either went through or was refused with the stored item (if any).
enum Conditional<T> {
    Done(T),
    Refused(Option<Attributes>),
}

/// Operation errors that can say "the condition failed, here is the old item".
trait ConditionFailure {
    fn refused_item(&self) -> Option<Option<&Attributes>>;
}

macro_rules! condition_failure {
    ($($error:ty),*) => {$(
        impl ConditionFailure for $error {
            fn refused_item(&self) -> Option<Option<&Attributes>> {
                match self {
                    Self::ConditionalCheckFailedException(refusal) => Some(refusal.item()),
                    _ => None,
                }
            }
        }
    )*};
}
condition_failure!(PutItemError, UpdateItemError, DeleteItemError);

fn classify<E, R>(operation: &'static str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    const THROTTLING: [&str; 4] = [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
    ];
    const UNAVAILABLE: [&str; 2] = ["InternalServerError", "ServiceUnavailable"];
    match &err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown");
            let message = format!("{code}: {}", service.err().message().unwrap_or_default());
            if THROTTLING.contains(&code) {
                StoreError::Throttled { operation, message }
            } else if UNAVAILABLE.contains(&code) {
                StoreError::Unavailable { operation, message }
            } else {
                StoreError::Rejected { operation, message }
            }
        }
        SdkError::ConstructionFailure(_) => StoreError::Rejected {
            operation,
            message: format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&err)),
        },
        _ => StoreError::Unavailable {
            operation,
            message: format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&err)),
        },
    }
}

fn conditional<T, E, R>(
    operation: &'static str,
    result: Result<T, SdkError<E, R>>,
) -> Result<Conditional<T>, StoreError>
where
    E: ConditionFailure + ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(output) => Ok(Conditional::Done(output)),
        Err(err) => {
            if let Some(refused) = err
                .as_service_error()
                .and_then(ConditionFailure::refused_item)
            {
                return Ok(Conditional::Refused(refused.cloned()));
            }
            Err(classify(operation, err))
        }
    }
}

#[async_trait]
impl DocumentStore for DynamoStore {
    async fn get(&self, key: &ItemKey, now: UnixMillis) -> Result<Option<Item>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            // Links are read right after another caller's conditional write decided them.
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| classify("GetItem", err))?;
        match output.item() {
            None => Ok(None),
            Some(attributes) => {
                let item = Reader::new(attributes)?.item()?;
                Ok(item.is_live(now).then_some(item))
            }
        }
    }

    async fn put(&self, item: &Item) -> Result<(), StoreError> {
        self.client()
            .put_item()
            .table_name(&self.table)
            .set_item(Some(document_image(item)?))
            .send()
            .await
            .map_err(|err| classify("PutItem", err))?;
        Ok(())
    }

    async fn put_if_absent(&self, item: &Item, now: UnixMillis) -> Result<PutOutcome, StoreError> {
        let result = self
            .client()
            .put_item()
            .table_name(&self.table)
            .set_item(Some(document_image(item)?))
            .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", EXPIRES)
            .expression_attribute_values(":now", n(now.0))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        self.put_outcome(conditional("PutItem", result)?)
    }

    async fn put_if_newer(&self, item: &Item) -> Result<PutOutcome, StoreError> {
        let result = self
            .client()
            .put_item()
            .table_name(&self.table)
            .set_item(Some(document_image(item)?))
            .condition_expression("attribute_not_exists(#pk) OR #ver < :ver")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#ver", VERSION)
            .expression_attribute_values(":ver", n(item.version))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        self.put_outcome(conditional("PutItem", result)?)
    }

    async fn list_partition(&self, pk: &str, now: UnixMillis) -> Result<Vec<Item>, StoreError> {
        let mut items = self.query_partition(pk).await?;
        items.retain(|item| item.is_live(now));
        Ok(items)
    }

    async fn newest_of_partition(
        &self,
        pk: &str,
        limit: usize,
        now: UnixMillis,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        if limit == 0 {
            return Ok(items);
        }
        // Items past their expiry but not yet deleted by TTL are skipped: page on until
        // `limit` live ones are read or the partition ends.
        let page = i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000);
        self.read_partition(pk, Order::NewestFirst(page), |item| {
            if item.is_live(now) {
                items.push(item);
            }
            items.len() < limit
        })
        .await?;
        Ok(items)
    }

    async fn schedule_end(&self, key: &ItemKey) -> Result<Option<UnixMillis>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .projection_expression("#next")
            .expression_attribute_names("#next", PACE_NEXT)
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| classify("GetItem", err))?;
        Ok(output
            .item()
            .and_then(|attributes| attributes.get(PACE_NEXT))
            .and_then(|value| value.as_n().ok())
            .and_then(|text| text.parse::<i64>().ok())
            .map(UnixMillis))
    }

    async fn reserve_slots(
        &self,
        key: &ItemKey,
        now: UnixMillis,
        span: Duration,
        not_after: UnixMillis,
    ) -> Result<Option<UnixMillis>, StoreError> {
        let span_ms = u64::try_from(span.as_millis()).unwrap_or(u64::MAX);
        // Idle (or never used): the span starts now.
        let idle = self
            .client()
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .update_expression("SET #next = :end")
            .condition_expression("attribute_not_exists(#next) OR #next < :now")
            .expression_attribute_names("#next", PACE_NEXT)
            .expression_attribute_values(":now", n(now.0))
            .expression_attribute_values(":end", n(now.0.saturating_add(span_ms as i64)))
            .send()
            .await;
        if let Conditional::Done(_) = conditional("UpdateItem", idle)? {
            return Ok(Some(now));
        }
        // Busy: take the span after the last one, atomically — unless it starts too late.
        let busy = self
            .client()
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .update_expression("ADD #next :span")
            .condition_expression("#next <= :limit")
            .expression_attribute_names("#next", PACE_NEXT)
            .expression_attribute_values(":span", n(span_ms))
            .expression_attribute_values(":limit", n(not_after.0))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedOld)
            .send()
            .await;
        let output = match conditional("UpdateItem", busy)? {
            Conditional::Done(output) => output,
            Conditional::Refused(_) => return Ok(None),
        };
        let start = output
            .attributes()
            .and_then(|old| old.get(PACE_NEXT))
            .and_then(|value| value.as_n().ok())
            .and_then(|text| text.parse::<i64>().ok())
            .unwrap_or(now.0);
        Ok(Some(UnixMillis(start.max(now.0))))
    }

    async fn delete(&self, key: &ItemKey) -> Result<(), StoreError> {
        self.client()
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .send()
            .await
            .map_err(|err| classify("DeleteItem", err))?;
        Ok(())
    }
}

impl DynamoStore {
    async fn query_partition(&self, pk: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        self.read_partition(pk, Order::Forward, |item| {
            items.push(item);
            true
        })
        .await?;
        Ok(items)
    }

    /// Reads one partition page by page in `order`, handing each item to `take` until it
    /// answers false or the partition ends.
    async fn read_partition(
        &self,
        pk: &str,
        order: Order,
        mut take: impl FnMut(Item) -> bool + Send,
    ) -> Result<(), StoreError> {
        let mut start: Option<Attributes> = None;
        let mut pages = 0u32;
        loop {
            let mut query = self
                .client()
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", s(pk))
                .consistent_read(true)
                .set_exclusive_start_key(start.take());
            if let Order::NewestFirst(page) = order {
                // The first page is what is asked for; a page past it means expired items
                // await TTL's deletion, so the rest is read in larger pages.
                let page = if pages == 0 {
                    page
                } else {
                    page.max(LATER_PAGE)
                };
                query = query.scan_index_forward(false).limit(page);
            }
            pages += 1;
            let output = query.send().await.map_err(|err| classify("Query", err))?;
            for attributes in output.items() {
                if !take(Reader::new(attributes)?.item()?) {
                    return Ok(());
                }
            }
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(()),
            }
        }
    }

    fn put_outcome<T>(&self, outcome: Conditional<T>) -> Result<PutOutcome, StoreError> {
        match outcome {
            Conditional::Done(_) => Ok(PutOutcome::Written),
            Conditional::Refused(Some(old)) => Ok(PutOutcome::Kept(Reader::new(&old)?.item()?)),
            Conditional::Refused(None) => Err(StoreError::Rejected {
                operation: "PutItem",
                message: "condition failed without returning the stored item".into(),
            }),
        }
    }
}

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn claim(
        &self,
        key: &str,
        now: UnixMillis,
        in_progress_for: Duration,
        keep_for: Duration,
    ) -> Result<Claim, StoreError> {
        let token = uuid::Uuid::new_v4().to_string();
        let expires_at = now.plus(keep_for);
        let mut item = key_attributes(&ItemKey::idempotency(key));
        item.extend([
            (STATUS.into(), s(IdempotencyStatus::InProgress.as_str())),
            (CLAIM.into(), s(&token)),
            (IN_PROGRESS_EXPIRES.into(), n(now.plus(in_progress_for).0)),
            (EXPIRES.into(), n(expires_at.0)),
            (TTL.into(), ttl_for(expires_at)),
        ]);
        let result = self
            .client()
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(#pk) OR #exp < :now \
                 OR (#status = :in_progress AND #ip_exp < :now)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", EXPIRES)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#ip_exp", IN_PROGRESS_EXPIRES)
            .expression_attribute_values(":now", n(now.0))
            .expression_attribute_values(":in_progress", s(IdempotencyStatus::InProgress.as_str()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match conditional("PutItem", result)? {
            Conditional::Done(_) => Ok(Claim::Claimed(ClaimTicket {
                key: key.to_owned(),
                token,
            })),
            Conditional::Refused(Some(old)) => Ok(Claim::Duplicate(
                Reader::new(&old)?.idempotency_record(key)?,
            )),
            Conditional::Refused(None) => Err(StoreError::Rejected {
                operation: "PutItem",
                message: "claim refused without returning the stored record".into(),
            }),
        }
    }

    async fn complete(
        &self,
        claim: &ClaimTicket,
        result: &serde_json::Value,
        now: UnixMillis,
        keep_for: Duration,
    ) -> Result<(), StoreError> {
        let stored_result: AttributeValue =
            serde_dynamo::to_attribute_value(result).map_err(|err| StoreError::Malformed {
                key: claim.key.clone(),
                reason: format!("result cannot be stored: {err}"),
            })?;
        let expires_at = now.plus(keep_for);
        let outcome = self
            .client()
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(&ItemKey::idempotency(&claim.key))))
            .update_expression(
                "SET #status = :completed, #result = :result, #exp = :exp, #ttl = :ttl \
                 REMOVE #ip_exp",
            )
            .condition_expression("#claim = :token AND #status = :in_progress")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#result", RESULT)
            .expression_attribute_names("#exp", EXPIRES)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_names("#ip_exp", IN_PROGRESS_EXPIRES)
            .expression_attribute_names("#claim", CLAIM)
            .expression_attribute_values(":completed", s(IdempotencyStatus::Completed.as_str()))
            .expression_attribute_values(":in_progress", s(IdempotencyStatus::InProgress.as_str()))
            .expression_attribute_values(":result", stored_result)
            .expression_attribute_values(":exp", n(expires_at.0))
            .expression_attribute_values(":ttl", ttl_for(expires_at))
            .expression_attribute_values(":token", s(&claim.token))
            .send()
            .await;
        match conditional("UpdateItem", outcome)? {
            Conditional::Done(_) => Ok(()),
            Conditional::Refused(_) => Err(StoreError::ClaimLost {
                key: claim.key.clone(),
            }),
        }
    }

    async fn release(&self, claim: &ClaimTicket) -> Result<(), StoreError> {
        let outcome = self
            .client()
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(&ItemKey::idempotency(&claim.key))))
            .condition_expression("#claim = :token")
            .expression_attribute_names("#claim", CLAIM)
            .expression_attribute_values(":token", s(&claim.token))
            .send()
            .await;
        match conditional("DeleteItem", outcome)? {
            Conditional::Done(_) => Ok(()),
            Conditional::Refused(_) => Err(StoreError::ClaimLost {
                key: claim.key.clone(),
            }),
        }
    }
}

#[async_trait]
impl LeaseStore for DynamoStore {
    async fn acquire_lease(
        &self,
        resource: &ItemKey,
        owner: &str,
        now: UnixMillis,
        duration: Duration,
    ) -> Result<LeaseAcquisition, StoreError> {
        let expires_at = now.plus(duration);
        let outcome = self
            .client()
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(resource)))
            .update_expression(
                "SET #owner = :owner, #exp = :exp, #ttl = :ttl, \
                 #state = if_not_exists(#state, :empty) ADD #fence :one",
            )
            .condition_expression(
                "attribute_not_exists(#pk) OR attribute_not_exists(#owner) \
                 OR #owner = :owner OR #exp <= :now",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#exp", EXPIRES)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_names("#fence", FENCE)
            .expression_attribute_names("#state", STATE)
            .expression_attribute_values(":empty", AttributeValue::M(HashMap::new()))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":exp", n(expires_at.0))
            .expression_attribute_values(":ttl", ttl_for(expires_at.plus(LEASE_RETENTION)))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now.0))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let lease_from = |attributes: Option<&Attributes>| -> Result<Lease, StoreError> {
            attributes
                .map(Reader::new)
                .transpose()?
                .map(|reader| reader.lease())
                .transpose()?
                .flatten()
                .ok_or_else(|| StoreError::Malformed {
                    key: resource.to_string(),
                    reason: "lease answer carries no owner".into(),
                })
        };
        match conditional("UpdateItem", outcome)? {
            Conditional::Done(output) => {
                Ok(LeaseAcquisition::Acquired(lease_from(output.attributes())?))
            }
            Conditional::Refused(old) => Ok(LeaseAcquisition::Held(lease_from(old.as_ref())?)),
        }
    }

    async fn renew_lease(
        &self,
        lease: &Lease,
        now: UnixMillis,
        duration: Duration,
    ) -> Result<Lease, StoreError> {
        let expires_at = now.plus(duration);
        let outcome = self
            .client()
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(&lease.resource)))
            .update_expression("SET #exp = :exp, #ttl = :ttl")
            .condition_expression("#owner = :owner AND #fence = :fence")
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#fence", FENCE)
            .expression_attribute_names("#exp", EXPIRES)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":owner", s(&lease.owner))
            .expression_attribute_values(":fence", n(lease.fencing_token))
            .expression_attribute_values(":exp", n(expires_at.0))
            .expression_attribute_values(":ttl", ttl_for(expires_at.plus(LEASE_RETENTION)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match conditional("UpdateItem", outcome)? {
            Conditional::Done(_) => Ok(Lease {
                expires_at,
                ..lease.clone()
            }),
            Conditional::Refused(old) => {
                let holder = match old {
                    Some(attributes) => Reader::new(&attributes)?.lease()?,
                    None => None,
                };
                Err(lease_lost(lease, holder))
            }
        }
    }

    async fn release_lease(&self, lease: &Lease) -> Result<bool, StoreError> {
        let outcome = self
            .client()
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(&lease.resource)))
            .update_expression("SET #exp = :zero REMOVE #owner")
            .condition_expression("#owner = :owner AND #fence = :fence")
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#fence", FENCE)
            .expression_attribute_names("#exp", EXPIRES)
            .expression_attribute_values(":owner", s(&lease.owner))
            .expression_attribute_values(":fence", n(lease.fencing_token))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        Ok(matches!(
            conditional("UpdateItem", outcome)?,
            Conditional::Done(_)
        ))
    }

    async fn write_as_holder(
        &self,
        lease: &Lease,
        now: UnixMillis,
        expected: u64,
        state: &serde_json::Value,
    ) -> Result<GuardedWrite, StoreError> {
        let stored: AttributeValue =
            serde_dynamo::to_attribute_value(state).map_err(|err| StoreError::Malformed {
                key: lease.resource.to_string(),
                reason: format!("state cannot be stored: {err}"),
            })?;
        let version_matches = if expected == 0 {
            "(attribute_not_exists(#sv) OR #sv = :expected)"
        } else {
            "#sv = :expected"
        };
        let outcome = self
            .client()
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(&lease.resource)))
            .update_expression("SET #state = :state, #sv = :next")
            .condition_expression(format!(
                "#owner = :owner AND #fence = :fence AND #exp > :now AND {version_matches}"
            ))
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#sv", STATE_VERSION)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#fence", FENCE)
            .expression_attribute_names("#exp", EXPIRES)
            .expression_attribute_values(":state", stored)
            .expression_attribute_values(":expected", n(expected))
            .expression_attribute_values(":next", n(expected + 1))
            .expression_attribute_values(":owner", s(&lease.owner))
            .expression_attribute_values(":fence", n(lease.fencing_token))
            .expression_attribute_values(":now", n(now.0))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match conditional("UpdateItem", outcome)? {
            Conditional::Done(_) => Ok(GuardedWrite::Written),
            Conditional::Refused(None) => Ok(GuardedWrite::NotHolder(None)),
            Conditional::Refused(Some(old)) => {
                let stored = Reader::new(&old)?.lease_state()?;
                let holds = stored.lease.as_ref().is_some_and(|held| {
                    held.owner == lease.owner
                        && held.fencing_token == lease.fencing_token
                        && held.is_live(now)
                });
                Ok(if holds {
                    GuardedWrite::Changed {
                        stored_version: stored.version,
                    }
                } else {
                    GuardedWrite::NotHolder(stored.lease)
                })
            }
        }
    }

    async fn replace_state(
        &self,
        resource: &ItemKey,
        expected: u64,
        state: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let stored: AttributeValue =
            serde_dynamo::to_attribute_value(state).map_err(|err| StoreError::Malformed {
                key: resource.to_string(),
                reason: format!("state cannot be stored: {err}"),
            })?;
        let mut request = self
            .client()
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(resource)))
            .update_expression("SET #state = :state, #sv = :v")
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#sv", STATE_VERSION)
            .expression_attribute_values(":state", stored)
            .expression_attribute_values(":v", n(expected + 1));
        request = if expected == 0 {
            request
                .condition_expression("attribute_not_exists(#sv) OR #sv = :zero")
                .expression_attribute_values(":zero", n(0))
        } else {
            request
                .condition_expression("#sv = :expected")
                .expression_attribute_values(":expected", n(expected))
        };
        Ok(matches!(
            conditional("UpdateItem", request.send().await)?,
            Conditional::Done(_)
        ))
    }

    async fn read_state(&self, resource: &ItemKey) -> Result<Option<LeaseState>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(resource)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| classify("GetItem", err))?;
        output
            .item()
            .map(|attributes| Reader::new(attributes)?.lease_state())
            .transpose()
    }

    async fn read_lease(&self, resource: &ItemKey) -> Result<Option<Lease>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(resource)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| classify("GetItem", err))?;
        match output.item() {
            None => Ok(None),
            Some(attributes) => Reader::new(attributes)?.lease(),
        }
    }
}
