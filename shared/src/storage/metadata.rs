//! The session metadata file (`metadata-{id}.json`, ccai-api.md §3), written about 15 minutes
//! after a session ends and possibly rewritten. Its documented keys (H) are the Manager API's
//! (`id`, `call_type`/`chat_type`, durations, `rating`, …); the documentation also lists a CSAT
//! comment, SmartActions and dispositions without naming their keys (L): each is read here, in
//! one place, from the candidate keys, and never fails on its absence.

use crate::ese::Disposition;
use serde_json::{Map, Value};

/// One SmartAction's outcome (R-U-7, R-U-8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmartActionOutcome {
    /// A stable id (the action's own, else its position), for the note's purpose.
    pub id: String,
    /// `photo`, `verification`, `text_input`, …
    pub kind: String,
    pub completed: bool,
    /// The result, or the error on the user's side.
    pub detail: Option<String>,
}

/// What the bridge reads from a metadata file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionMetadata {
    /// The session the file is about (`id`, H), when it says.
    pub id: Option<u64>,
    pub is_chat: Option<bool>,
    /// The caller's number: the end-user participant's (`participants[]`, H; the key is not
    /// documented, L: `dn`, `phone_number` or `phone`). A tenant without ESE has no other
    /// documented source of it (ccai-api.md §2, review finding 2).
    pub caller_number: Option<String>,
    /// `agent_info` is a virtual agent (`va_alias`, H): no Kustomer user to assign.
    pub virtual_agent: bool,
    pub csat_comment: Option<String>,
    pub smart_actions: Vec<SmartActionOutcome>,
    pub disposition: Option<Disposition>,
    pub rating: Option<f64>,
    /// What the custom fields carry (R-CF-4): session type, menu path, durations (seconds,
    /// H), the end user's e-mail and SDK custom data (L).
    pub fields: crate::custom_fields::FieldFacts,
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn first<'a>(object: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter()
        .find_map(|k| object.get(*k).filter(|v| !v.is_null()))
}

fn seconds(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The custom fields' facts: the Manager API's keys (H) and, for the e-mail and SDK custom
/// data, the candidate keys (L).
fn field_facts(object: &Map<String, Value>) -> crate::custom_fields::FieldFacts {
    let name = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_object)
            .and_then(|o| text(o.get("name")))
    };
    crate::custom_fields::FieldFacts {
        session_type: text(first(
            object,
            &["session_type_v2", "call_type", "chat_type"],
        )),
        queue_name: name("selected_menu"),
        menu_selection: name("menu_path"),
        duration: seconds(first(object, &["call_duration", "chat_duration"])),
        hold_time: seconds(first(object, &["hold_duration"])),
        wait_time: seconds(first(object, &["wait_duration", "queue_duration"])),
        inweb_email: object
            .get("end_user")
            .and_then(Value::as_object)
            .and_then(|u| text(u.get("email")))
            .or_else(|| text(first(object, &["end_user_email", "email"]))),
        custom_data: crate::custom_fields::read_custom_data(first(
            object,
            &["custom_data", "customData"],
        )),
    }
}

/// The end user's number among `participants[]`: a participant of type `end_user`,
/// `external` or `customer` (or without a type, but never an agent), from its first key that
/// holds one.
fn caller_number(object: &Map<String, Value>) -> Option<String> {
    object
        .get("participants")
        .and_then(Value::as_array)?
        .iter()
        .filter_map(Value::as_object)
        .filter(|p| {
            matches!(
                p.get("type").and_then(Value::as_str),
                None | Some("end_user" | "external" | "customer" | "end-user")
            )
        })
        .find_map(|p| text(first(p, &["dn", "phone_number", "phone"])))
}

/// Reads a metadata file; `None` when it is not a JSON object.
pub fn parse_metadata(bytes: &[u8]) -> Option<SessionMetadata> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    crate::shapes::observe(crate::shapes::DocumentKind::MetadataFile, &value);
    let object = value.as_object()?;
    let is_chat = if object.contains_key("chat_type") || object.contains_key("chat_duration") {
        Some(true)
    } else if object.contains_key("call_type") || object.contains_key("call_duration") {
        Some(false)
    } else {
        None
    };
    // CSAT comment (L): `csat.comment`, `feedback.comment`, `csat_comment`, `feedback` as text.
    let csat_comment = first(object, &["csat", "feedback"])
        .and_then(|v| match v {
            Value::Object(o) => text(first(o, &["comment", "feedback", "text"])),
            other => text(Some(other)),
        })
        .or_else(|| {
            text(first(
                object,
                &["csat_comment", "feedback_comment", "comment"],
            ))
        });
    let rating = first(object, &["rating"]).and_then(|v| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    // SmartActions (L): a list under `smart_actions` / `smartActions` / `smart_action_results`.
    let smart_actions = first(
        object,
        &["smart_actions", "smartActions", "smart_action_results"],
    )
    .and_then(Value::as_array)
    .map(|list| {
        list.iter()
            .filter_map(Value::as_object)
            .enumerate()
            .map(|(n, action)| {
                let status = text(first(action, &["status", "state", "result_status"]))
                    .unwrap_or_default()
                    .to_lowercase();
                let failed = matches!(status.as_str(), "failed" | "error" | "denied" | "canceled")
                    || action.get("error").is_some_and(|e| !e.is_null());
                SmartActionOutcome {
                    id: text(first(action, &["id", "smart_action_id"]))
                        .unwrap_or_else(|| n.to_string()),
                    kind: text(first(action, &["type", "action_type", "name"]))
                        .unwrap_or_else(|| "SmartAction".into()),
                    completed: !failed,
                    detail: if failed {
                        text(first(action, &["error", "error_message", "message"]))
                    } else {
                        text(first(action, &["result", "value", "text", "message"]))
                    },
                }
            })
            .collect()
    })
    .unwrap_or_default();
    let disposition = first(object, &["dispositions", "disposition"]).and_then(|v| {
        let object = match v {
            Value::Object(o) => o,
            Value::Array(list) => list.iter().rev().find_map(Value::as_object)?,
            _ => return None,
        };
        let disposition = Disposition {
            code: text(first(object, &["code", "name"])),
            note: text(first(object, &["note", "notes"])),
        };
        (disposition.code.is_some() || disposition.note.is_some()).then_some(disposition)
    });
    let id = first(object, &["id", "call_id", "chat_id", "comm_id"]).and_then(|v| match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    let virtual_agent = object
        .get("agent_info")
        .and_then(Value::as_object)
        .is_some_and(|a| a.get("va_alias").is_some_and(|v| !v.is_null()));
    Some(SessionMetadata {
        id,
        is_chat,
        caller_number: caller_number(object),
        virtual_agent,
        csat_comment,
        smart_actions,
        disposition,
        rating,
        fields: field_facts(object),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn r_u_7_r_u_8_r_u_10_what_the_metadata_says_is_read_from_any_candidate_key() {
        let file = json!({"id": 1917, "call_type": "Voice Inbound (IVR)", "rating": "4",
            "csat": {"score": 4, "comment": " Quick, thanks "},
            "smart_actions": [
                {"id": 31, "type": "photo", "status": "completed", "result": "Photo received"},
                {"id": 32, "type": "verification", "status": "failed", "error": "Fingerprint access is not enabled"}],
            "dispositions": {"code": "Resolved", "note": "Refund sent"}});
        let meta = parse_metadata(file.to_string().as_bytes()).unwrap_or_default();
        assert_eq!(meta.is_chat, Some(false));
        assert_eq!(meta.rating, Some(4.0));
        assert_eq!(meta.csat_comment.as_deref(), Some("Quick, thanks"));
        assert_eq!(
            meta.smart_actions,
            [
                SmartActionOutcome {
                    id: "31".into(),
                    kind: "photo".into(),
                    completed: true,
                    detail: Some("Photo received".into())
                },
                SmartActionOutcome {
                    id: "32".into(),
                    kind: "verification".into(),
                    completed: false,
                    detail: Some("Fingerprint access is not enabled".into())
                },
            ]
        );
        assert_eq!(
            meta.disposition.and_then(|d| d.code).as_deref(),
            Some("Resolved")
        );
        let other = json!({"chat_type": "web", "feedback": "Great", "smartActions": [{"action_type": "text_input", "value": "42"}]});
        let meta = parse_metadata(other.to_string().as_bytes()).unwrap_or_default();
        assert_eq!(
            (meta.is_chat, meta.csat_comment.as_deref()),
            (Some(true), Some("Great"))
        );
        assert_eq!(meta.smart_actions[0].id, "0");
        assert_eq!(meta.smart_actions[0].detail.as_deref(), Some("42"));
    }

    #[test]
    fn finding_2_r_k_1_the_callers_number_is_read_from_the_participants() {
        for key in ["dn", "phone_number", "phone"] {
            let file = json!({"id": "1917", "call_type": "Voice Inbound (IVR)",
                "agent_info": {"id": 3, "name": "Ana"},
                "participants": [{"type": "agent", key: "+15550000000"},
                                 {"type": "end_user", key: "+15550104477"}]});
            let meta = parse_metadata(file.to_string().as_bytes()).unwrap_or_default();
            assert_eq!(meta.caller_number.as_deref(), Some("+15550104477"), "{key}");
            assert_eq!(meta.id, Some(1917));
            assert!(!meta.virtual_agent);
        }
        let virtual_agent =
            json!({"id": 5, "agent_info": {"id": 9, "name": "Bot", "va_alias": "helper"}});
        let meta = parse_metadata(virtual_agent.to_string().as_bytes()).unwrap_or_default();
        assert!(meta.virtual_agent);
        assert_eq!(meta.caller_number, None);
    }

    #[test]
    fn absent_or_odd_keys_are_not_failures() {
        assert_eq!(parse_metadata(b"{}"), Some(SessionMetadata::default()));
        assert_eq!(parse_metadata(b"[]"), None);
        assert_eq!(parse_metadata(b"not json"), None);
        let odd = json!({"csat": 5, "smart_actions": "none", "dispositions": 3});
        assert_eq!(
            parse_metadata(odd.to_string().as_bytes()).map(|m| m.smart_actions.len()),
            Some(0)
        );
    }
}
