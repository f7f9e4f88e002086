//! CCAI Platform's External Session Events (ccai-api.md §1, events.md §1): the batch envelope
//! the platform POSTs, each event checked on its own, and what an event's `item` tells about
//! its session ([`item`]).
//!
//! Documented (H): `{"count": n, "events": [...]}`, each event `event_id` (UUID), `timestamp`
//! (epoch milliseconds) and `item`, the session with `call_id` or `chat_id`. Not documented:
//! the type of ids (numbers or strings are both taken), retries and ordering (the bridge
//! expects duplicates and any order).

pub mod item;
pub mod kept;

pub use item::{Disposition, EseAgent, EseItem, Stage};
pub use kept::KeptEse;

use crate::events::{EventError, SessionKind, SessionRef, SessionTrigger, TriggerSource, invalid};
use serde_json::{Map, Value};

/// Largest body the intake reads (events.md §1).
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Largest `item` kept: an inbox item must fit DynamoDB's 400 KB item limit with room to spare.
pub const MAX_ITEM_BYTES: usize = 256 * 1024;
const MAX_EVENT_ID: usize = 200;

/// One well-formed event.
#[derive(Clone, Debug, PartialEq)]
pub struct EseEvent {
    pub event_id: String,
    pub timestamp_ms: i64,
    pub session: SessionRef,
    pub item: Map<String, Value>,
}

impl EseEvent {
    /// The inbox trigger this event stands for.
    pub fn trigger(&self) -> SessionTrigger {
        let stage = EseItem(&self.item).stage();
        SessionTrigger {
            id: self.event_id.clone(),
            hint: format!("{}.{}", self.session.kind.as_str(), stage.hint()),
            occurred_at: chrono::DateTime::from_timestamp_millis(self.timestamp_ms)
                .unwrap_or_default(),
            session: self.session.clone(),
            source: TriggerSource::Ese,
            item: Some(self.item.clone()),
            object: None,
        }
    }
}

/// A number, or text holding one (`1917` or `"1917"`): ids and times arrive as either.
fn whole_number(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The session an item names: `call_id` or `chat_id`, a positive number or numeric text.
pub fn session_of(item: &Map<String, Value>) -> Result<SessionRef, EventError> {
    let id = |field: &str| -> Result<Option<u64>, EventError> {
        match item.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => whole_number(value)
                .filter(|n| *n > 0)
                .map(|n| Some(n as u64))
                .ok_or_else(|| {
                    invalid(
                        &format!("item.{field}"),
                        "must be a positive integer (number or numeric string)",
                    )
                }),
        }
    };
    match (id("call_id")?, id("chat_id")?) {
        (Some(id), None) => Ok(SessionRef {
            kind: SessionKind::Call,
            id,
        }),
        (None, Some(id)) => Ok(SessionRef {
            kind: SessionKind::Chat,
            id,
        }),
        (Some(_), Some(_)) => Err(invalid("item", "has both call_id and chat_id")),
        (None, None) => Err(invalid("item", "needs call_id or chat_id")),
    }
}

/// Checks one event of a batch; errors name the field as `event_id`, `item.call_id`, ….
pub fn parse_event(value: &Value) -> Result<EseEvent, EventError> {
    let object = value
        .as_object()
        .ok_or_else(|| invalid("event", "must be a JSON object"))?;
    let event_id = match object.get("event_id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            return Err(invalid(
                "event_id",
                "must be a non-empty string or a number",
            ));
        }
        None => return Err(invalid("event_id", "is required")),
    };
    if event_id.len() > MAX_EVENT_ID {
        return Err(invalid("event_id", "longer than 200 characters"));
    }
    let timestamp_ms = match object.get("timestamp") {
        None => return Err(invalid("timestamp", "is required")),
        Some(value) => whole_number(value)
            .filter(|ms| *ms > 0)
            .ok_or_else(|| invalid("timestamp", "must be epoch milliseconds"))?,
    };
    let item = match object.get("item") {
        Some(Value::Object(item)) => item,
        Some(_) => return Err(invalid("item", "must be an object")),
        None => return Err(invalid("item", "is required")),
    };
    let session = session_of(item)?;
    if serde_json::to_vec(item).map_or(0, |b| b.len()) > MAX_ITEM_BYTES {
        return Err(invalid("item", "larger than 256 KiB"));
    }
    Ok(EseEvent {
        event_id,
        timestamp_ms,
        session,
        item: item.clone(),
    })
}

/// A batch: the body must be a JSON object with an `events` array (else the whole request is
/// refused, naming the field); each event is then checked on its own, in order, so one
/// malformed event never sinks the others.
/// How far ahead of the bridge's clock an event's `timestamp` may be (the two platforms'
/// clocks differ by seconds; more is a wrong or forged event).
pub const MAX_FUTURE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Refuses an event stamped more than [`MAX_FUTURE`] after `now`: the session's latest item is
/// versioned by its `timestamp`, so a far-future one would pin a wrong item — caller number,
/// end of session — until it expires (review S8).
pub fn not_from_the_future(
    event: EseEvent,
    now: crate::UnixMillis,
) -> Result<EseEvent, EventError> {
    if event.timestamp_ms > now.plus(MAX_FUTURE).0 {
        return Err(invalid(
            "timestamp",
            "more than an hour after the bridge's clock",
        ));
    }
    Ok(event)
}

pub fn parse_batch(body: &[u8]) -> Result<Vec<Result<EseEvent, EventError>>, EventError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| invalid("body", format!("not JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| invalid("body", "must be a JSON object"))?;
    let events = match object.get("events") {
        Some(Value::Array(events)) => events,
        Some(_) => return Err(invalid("events", "must be an array")),
        None => return Err(invalid("events", "is required")),
    };
    if let Some(count) = object.get("count").and_then(Value::as_u64)
        && count as usize != events.len()
    {
        // Not a reason to refuse the events that are there.
        tracing::warn!(
            count,
            events = events.len(),
            "ESE batch count differs from its events"
        );
    }
    observe_shapes(&value, events);
    Ok(events.iter().map(parse_event).collect())
}

/// The batch's, its events', items' and participants' shapes, for the record of what CCAI
/// Platform sends (`crate::shapes`: in memory, sampled; keys and types, never values).
fn observe_shapes(batch: &Value, events: &[Value]) {
    use crate::shapes::{DocumentKind, observe};
    observe(DocumentKind::EseBatch, batch);
    for event in events {
        observe(DocumentKind::EseEvent, event);
        let Some(item) = event.get("item").filter(|i| i.is_object()) else {
            continue;
        };
        observe(DocumentKind::EseItem, item);
        for participant in item
            .get("participants")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|p| p.is_object())
        {
            observe(DocumentKind::EseParticipant, participant);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn event(item: Value) -> Value {
        json!({"event_id": "8d6c2a52-1", "timestamp": 1_764_669_600_123_i64, "item": item})
    }

    #[test]
    fn r_e_1_the_documented_example_parses() {
        let body = json!({"count": 1, "events": [{"event_id": "8d6c2a52-…", "timestamp": 1764669600123_i64,
          "item": {"call_id": 1917, "state": "disconnected", "initiator": "agent_1",
            "queue_path_names": "Support/Billing", "connected_at": "2026-12-02T10:00:05Z",
            "ends_at": "2026-12-02T10:07:40Z",
            "participants": [{"type": "external", "state": "disconnected", "dn": "+15551234567"},
                             {"type": "agent", "state": "dispositionSubmitted"}],
            "dispositions": {"code": "Resolved", "custom_code_id": 12, "note": "…"}}}]});
        let events = parse_batch(body.to_string().as_bytes()).unwrap();
        let event = events[0].as_ref().unwrap();
        assert_eq!(
            event.session,
            SessionRef {
                kind: SessionKind::Call,
                id: 1917
            }
        );
        assert_eq!(event.timestamp_ms, 1_764_669_600_123);
        let trigger = event.trigger();
        assert_eq!(trigger.hint, "call.ended");
        assert_eq!(trigger.source, TriggerSource::Ese);
        assert_eq!(trigger.occurred_at.timestamp_millis(), 1_764_669_600_123);
    }

    #[test]
    fn r_e_1_ids_may_be_numbers_or_strings() {
        let parsed = parse_event(&json!({"event_id": 77, "timestamp": "1764669600123",
            "item": {"chat_id": "4410"}}))
        .unwrap();
        assert_eq!(parsed.event_id, "77");
        assert_eq!(
            parsed.session,
            SessionRef {
                kind: SessionKind::Chat,
                id: 4410
            }
        );
    }

    #[test]
    fn r_e_1_each_malformed_event_names_its_field() {
        let cases = [
            (json!([1]), "event"),
            (json!({"timestamp": 1, "item": {"call_id": 1}}), "event_id"),
            (
                json!({"event_id": "", "timestamp": 1, "item": {"call_id": 1}}),
                "event_id",
            ),
            (
                json!({"event_id": "e", "item": {"call_id": 1}}),
                "timestamp",
            ),
            (
                json!({"event_id": "e", "timestamp": "soon", "item": {"call_id": 1}}),
                "timestamp",
            ),
            (json!({"event_id": "e", "timestamp": 1}), "item"),
            (json!({"event_id": "e", "timestamp": 1, "item": []}), "item"),
            (event(json!({"state": "connected"})), "item"),
            (event(json!({"call_id": "x"})), "item.call_id"),
            (event(json!({"call_id": -4})), "item.call_id"),
            (event(json!({"chat_id": 1.5})), "item.chat_id"),
            (event(json!({"call_id": 1, "chat_id": 2})), "item"),
        ];
        for (value, field) in cases {
            assert_eq!(parse_event(&value).unwrap_err().field, field, "{value}");
        }
    }

    #[test]
    fn r_e_1_a_batch_keeps_good_events_beside_a_bad_one() {
        let body = json!({"count": 3, "events": [event(json!({"call_id": 1})), {"event_id": "x"},
            event(json!({"chat_id": 2}))]});
        let events = parse_batch(body.to_string().as_bytes()).unwrap();
        assert!(events[0].is_ok() && events[2].is_ok());
        assert_eq!(events[1].as_ref().unwrap_err().field, "timestamp");
    }

    #[test]
    fn r_e_1_a_body_that_is_no_batch_is_refused_whole() {
        for (body, field) in [
            ("{", "body"),
            ("[]", "body"),
            (r#"{"count": 0}"#, "events"),
            (r#"{"events": {}}"#, "events"),
        ] {
            assert_eq!(
                parse_batch(body.as_bytes()).unwrap_err().field,
                field,
                "{body}"
            );
        }
        assert!(
            parse_batch(br#"{"count": 0, "events": []}"#)
                .unwrap()
                .is_empty()
        );
    }
}
