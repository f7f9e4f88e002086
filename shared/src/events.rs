//! The CCAI session-event contract (events.md §1), parsed and checked as plain data.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Largest body the intake takes.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// The event types the bridge acts on; others are acknowledged and ignored.
pub const KNOWN_TYPES: [&str; 15] = [
    "call.created",
    "call.assigned",
    "call.transferred",
    "call.ended",
    "call.voicemail",
    "voicemail.updated",
    "call.outbound",
    "chat.created",
    "chat.assigned",
    "chat.transferred",
    "chat.ended",
    "smart_action.completed",
    "smart_action.failed",
    "csat.submitted",
    "custom_data.received",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionKind {
    Call,
    Chat,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRef {
    pub kind: SessionKind,
    pub id: u64,
}

/// A validated session event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub session: SessionRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
}

impl SessionEvent {
    pub fn is_known(&self) -> bool {
        KNOWN_TYPES.contains(&self.event_type.as_str())
    }
}

/// Why a body is not a session event; `field` names what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct EventError {
    pub field: String,
    pub reason: String,
}

fn invalid(field: &str, reason: impl Into<String>) -> EventError {
    EventError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// How long an inbox item dedupes (and then is cleaned up by TTL).
pub const INBOX_RETENTION: std::time::Duration = std::time::Duration::from_secs(14 * 24 * 3600);

/// The inbox item of an event received at `now` (by the intake, or made by the session poller):
/// the event as sent, when it arrived, kept for [`INBOX_RETENTION`]. Its stream record is what
/// the workers receive.
pub fn inbox_item(
    event: &SessionEvent,
    now: crate::UnixMillis,
) -> Result<crate::store::Item, serde_json::Error> {
    let mut stored = serde_json::to_value(event)?;
    stored["received_at"] = serde_json::json!(now.0);
    Ok(
        crate::store::Item::new(crate::store::ItemKey::inbox(&event.id), stored)
            .expiring_at(now.plus(INBOX_RETENTION)),
    )
}

/// Checks a body against the contract, naming the first field that is missing or wrong.
pub fn parse_session_event(body: &[u8]) -> Result<SessionEvent, EventError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| invalid("body", format!("not JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| invalid("body", "must be a JSON object"))?;
    let text = |field: &str| -> Result<String, EventError> {
        match object.get(field) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            Some(_) => Err(invalid(field, "must be a non-empty string")),
            None => Err(invalid(field, "is required")),
        }
    };
    let id = text("id")?;
    if id.len() > 200 {
        return Err(invalid("id", "longer than 200 characters"));
    }
    let event_type = text("type")?;
    let occurred_at = chrono::DateTime::parse_from_rfc3339(&text("occurred_at")?)
        .map_err(|_| invalid("occurred_at", "must be an ISO-8601 timestamp"))?
        .with_timezone(&chrono::Utc);
    let session = object
        .get("session")
        .ok_or_else(|| invalid("session", "is required"))?;
    let kind = match session.get("kind").and_then(Value::as_str) {
        Some("call") => SessionKind::Call,
        Some("chat") => SessionKind::Chat,
        Some(_) => return Err(invalid("session.kind", "must be \"call\" or \"chat\"")),
        None => return Err(invalid("session.kind", "is required")),
    };
    let session_id = session
        .get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid("session.id", "must be a positive integer"))?;
    let data = match object.get("data") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => Some(map.clone()),
        Some(_) => return Err(invalid("data", "must be an object")),
    };
    Ok(SessionEvent {
        id,
        event_type,
        occurred_at,
        session: SessionRef {
            kind,
            id: session_id,
        },
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"id":"0b7f","type":"call.ended","occurred_at":"2026-11-23T10:15:02.123Z","session":{"kind":"call","id":987}}"#;

    #[test]
    fn a_contract_event_parses() {
        let event = parse_session_event(GOOD.as_bytes()).unwrap();
        assert_eq!(
            event.session,
            SessionRef {
                kind: SessionKind::Call,
                id: 987
            }
        );
        assert!(event.is_known());
        assert_eq!(event.data, None);
    }

    #[test]
    fn every_missing_or_wrong_field_is_named() {
        let cases = [
            ("[]", "body"),
            ("{", "body"),
            (
                r#"{"type":"call.ended","occurred_at":"2026-11-23T10:15:02Z","session":{"kind":"call","id":1}}"#,
                "id",
            ),
            (
                r#"{"id":"e","occurred_at":"2026-11-23T10:15:02Z","session":{"kind":"call","id":1}}"#,
                "type",
            ),
            (
                r#"{"id":"e","type":"call.ended","occurred_at":"yesterday","session":{"kind":"call","id":1}}"#,
                "occurred_at",
            ),
            (
                r#"{"id":"e","type":"call.ended","occurred_at":"2026-11-23T10:15:02Z"}"#,
                "session",
            ),
            (
                r#"{"id":"e","type":"call.ended","occurred_at":"2026-11-23T10:15:02Z","session":{"kind":"sms","id":1}}"#,
                "session.kind",
            ),
            (
                r#"{"id":"e","type":"call.ended","occurred_at":"2026-11-23T10:15:02Z","session":{"kind":"call","id":"x"}}"#,
                "session.id",
            ),
            (
                r#"{"id":"e","type":"call.ended","occurred_at":"2026-11-23T10:15:02Z","session":{"kind":"call","id":1},"data":[1]}"#,
                "data",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(
                parse_session_event(body.as_bytes()).unwrap_err().field,
                field,
                "{body}"
            );
        }
    }

    #[test]
    fn unknown_types_parse_but_are_not_known() {
        let body = GOOD.replace("call.ended", "call.teleported");
        assert!(!parse_session_event(body.as_bytes()).unwrap().is_known());
    }
}
