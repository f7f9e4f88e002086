//! Stream records in the JSON shape Lambda hands a function (the local host builds them from
//! the Streams API or the embedded store; tests build them from items).

use crate::store::{Item, StoreError, document_image};
use serde_json::{Value, json};

/// One change, as a record of a Lambda DynamoDB event. `event_name`: `INSERT`, `MODIFY` or
/// `REMOVE`; images as the table stores the items.
pub struct ChangeRecord<'a> {
    pub event_id: &'a str,
    pub event_name: &'a str,
    pub sequence_number: &'a str,
    pub new_image: Option<&'a Item>,
    pub old_image: Option<&'a Item>,
    /// Seconds since the epoch (`ApproximateCreationDateTime`).
    pub created_at_s: f64,
    pub stream_arn: &'a str,
    pub region: &'a str,
}

fn image(item: &Item) -> Result<Value, StoreError> {
    let attributes: serde_dynamo::Item = document_image(item)?.into();
    serde_json::to_value(attributes).map_err(|err| StoreError::Malformed {
        key: item.key.to_string(),
        reason: err.to_string(),
    })
}

impl ChangeRecord<'_> {
    pub fn to_lambda_json(&self) -> Result<Value, StoreError> {
        let item = self
            .new_image
            .or(self.old_image)
            .ok_or(StoreError::Malformed {
                key: "?".into(),
                reason: "a change record needs an image".into(),
            })?;
        let mut change = json!({
            "ApproximateCreationDateTime": self.created_at_s,
            "Keys": {"pk": {"S": item.key.pk}, "sk": {"S": item.key.sk}},
            "SequenceNumber": self.sequence_number,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        });
        let mut size = 0;
        if let Some(new) = self.new_image {
            let new = image(new)?;
            size += new.to_string().len();
            change["NewImage"] = new;
        }
        if let Some(old) = self.old_image {
            let old = image(old)?;
            size += old.to_string().len();
            change["OldImage"] = old;
        }
        change["SizeBytes"] = json!(size);
        Ok(json!({
            "eventID": self.event_id,
            "eventName": self.event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self.region,
            "dynamodb": change,
            "eventSourceARN": self.stream_arn,
        }))
    }
}
