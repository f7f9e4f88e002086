//! Which stream records are new inbox events (`EVENT#<id>` / `INBOX`, written once by the
//! intake), and the session trigger each carries.

use crate::events::SessionTrigger;
use crate::store::document_from_image;
use aws_lambda_events::event::dynamodb::EventRecord;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// The record is an inbox item, but not one the intake could have written. Retrying cannot
    /// help: it goes to the dead-letter queue with this reason.
    #[error("inbox record {key}: {reason}")]
    Malformed { key: String, reason: String },
}

/// The session trigger of a new inbox item; `None` for any other record (other items, updates,
/// TTL removals), which the worker skips.
pub fn inbox_event(record: &EventRecord) -> Result<Option<SessionTrigger>, InboxError> {
    if record.event_name != "INSERT" {
        return Ok(None);
    }
    let image: HashMap<String, AttributeValue> = record.change.new_image.clone().into();
    let is_inbox = matches!(image.get("sk"), Some(AttributeValue::S(sk)) if sk == "INBOX")
        && matches!(image.get("pk"), Some(AttributeValue::S(pk)) if pk.starts_with("EVENT#"));
    if !is_inbox {
        return Ok(None);
    }
    let item = document_from_image(&image).map_err(|err| InboxError::Malformed {
        key: format!("{:?}", image.get("pk")),
        reason: err.to_string(),
    })?;
    let event: SessionTrigger =
        serde_json::from_value(item.body).map_err(|err| InboxError::Malformed {
            key: item.key.to_string(),
            reason: format!("not a session trigger: {err}"),
        })?;
    Ok(Some(event))
}

/// The `type` of a new inbox item (`call.ended`, `chat.ended`, …) without reading the rest:
/// how a batch is routed without parsing every trigger.
pub fn inbox_type(record: &EventRecord) -> Option<String> {
    let image: HashMap<String, AttributeValue> = record.change.new_image.clone().into();
    match image.get("body") {
        Some(AttributeValue::M(body)) => match body.get("type") {
            Some(AttributeValue::S(kind)) => Some(kind.clone()),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::store::{Item, ItemKey, document_image};
    use serde_json::json;

    fn record(event_name: &str, item: &Item) -> EventRecord {
        let image: serde_dynamo::Item = document_image(item).unwrap().into();
        serde_json::from_value(json!({
            "eventID": "1", "eventName": event_name, "awsRegion": "us-east-1",
            "dynamodb": {"NewImage": image, "SizeBytes": 10, "SequenceNumber": "100"}
        }))
        .unwrap()
    }

    fn event_body() -> serde_json::Value {
        json!({"id": "e-1", "type": "call.ended", "occurred_at": "2026-11-23T10:15:02.123Z",
               "session": {"kind": "call", "id": 987}, "source": "ese", "received_at": 1})
    }

    #[test]
    fn an_inserted_inbox_item_carries_its_event() {
        let item = Item::new(ItemKey::inbox("e-1"), event_body());
        let event = inbox_event(&record("INSERT", &item)).unwrap().unwrap();
        assert_eq!(event.id, "e-1");
        assert_eq!(event.hint, "call.ended");
        assert_eq!(event.session.id, 987);
    }

    #[test]
    fn other_items_updates_and_removals_are_not_events() {
        let inbox = Item::new(ItemKey::inbox("e-1"), event_body());
        assert!(inbox_event(&record("MODIFY", &inbox)).unwrap().is_none());
        assert!(inbox_event(&record("REMOVE", &inbox)).unwrap().is_none());
        let link = Item::new(ItemKey::customer_by_phone("+15550100"), json!({"id": "c"}));
        assert!(inbox_event(&record("INSERT", &link)).unwrap().is_none());
    }

    #[test]
    fn a_corrupt_inbox_item_is_an_error_naming_it() {
        let item = Item::new(ItemKey::inbox("e-2"), json!({"id": "e-2"}));
        let err = inbox_event(&record("INSERT", &item)).unwrap_err();
        assert!(err.to_string().contains("EVENT#e-2"), "{err}");
    }
}
