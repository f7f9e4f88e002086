//! What the events after a session's start add to its conversation: the customer's rating
//! (R-U-10), a SmartAction's result or failure (R-U-7, R-U-8), an agent's handling of a
//! voicemail (R-U-11). Pure: the worker writes what this decides.

use crate::events::SessionEvent;
use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
pub struct ConversationUpdate {
    /// The note's text.
    pub note: String,
    /// Part of the note's external id (`ccai-<event id>-<purpose>`).
    pub purpose: &'static str,
    /// The conversation is closed (`done`) as well.
    pub close: bool,
}

fn text<'a>(data: Option<&'a serde_json::Map<String, Value>>, field: &str) -> Option<&'a str> {
    data?
        .get(field)?
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn note(note: String, purpose: &'static str) -> Option<ConversationUpdate> {
    Some(ConversationUpdate {
        note,
        purpose,
        close: false,
    })
}

/// The update an event makes, if any. `session_rating` is the rating the Manager API reports
/// now (R-E-5); the event's own is used only when the session has none.
pub fn update_for(event: &SessionEvent, session_rating: Option<f64>) -> Option<ConversationUpdate> {
    let data = event.data.as_ref();
    match event.event_type.as_str() {
        "csat.submitted" => {
            let rating = session_rating.or_else(|| data?.get("rating")?.as_f64())?;
            let mut line = format!("Customer rating: {rating}/5");
            if let Some(comment) = text(data, "comment") {
                line.push_str(&format!(" · \"{comment}\""));
            }
            note(line, "csat")
        }
        "smart_action.completed" => {
            let kind = text(data, "action_type").unwrap_or("SmartAction");
            let mut lines = vec![format!(
                "SmartAction {kind} completed: {}",
                text(data, "result").unwrap_or("no result given")
            )];
            let files = data
                .and_then(|d| d.get("files"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for file in files {
                lines.push(format!(
                    "- {} ({}): {}",
                    file["name"].as_str().unwrap_or("file"),
                    file["content_type"].as_str().unwrap_or("unknown type"),
                    file["url"].as_str().unwrap_or("no link")
                ));
            }
            note(lines.join("\n"), "smart-action")
        }
        "smart_action.failed" => note(
            format!(
                "SmartAction {} failed on the customer's side: {}",
                text(data, "action_type").unwrap_or("SmartAction"),
                text(data, "error").unwrap_or("no reason given")
            ),
            "smart-action",
        ),
        "voicemail.updated" => match text(data, "action")? {
            "read" => note("Voicemail read by an agent".into(), "voicemail-read"),
            "called_back" => note("Voicemail called back".into(), "voicemail-called-back"),
            "closed" => Some(ConversationUpdate {
                note: "Voicemail closed".into(),
                purpose: "voicemail-closed",
                close: true,
            }),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn event(event_type: &str, data: Value) -> SessionEvent {
        serde_json::from_value(json!({"id": "e", "type": event_type,
            "occurred_at": "2026-11-23T10:15:02.123Z", "session": {"kind": "call", "id": 1},
            "data": data}))
        .unwrap()
    }

    #[test]
    fn r_u_10_the_rating_and_comment_become_a_note_the_sessions_rating_first() {
        let csat = event(
            "csat.submitted",
            json!({"rating": 3, "comment": " Quick, thanks "}),
        );
        let update = update_for(&csat, Some(4.0)).unwrap();
        assert_eq!(update.note, "Customer rating: 4/5 · \"Quick, thanks\"");
        assert_eq!(
            update_for(&csat, None).unwrap().note,
            "Customer rating: 3/5 · \"Quick, thanks\""
        );
        assert!(update_for(&event("csat.submitted", json!({})), None).is_none());
    }

    #[test]
    fn r_u_7_a_completed_smart_action_lists_its_result_and_files() {
        let done = event(
            "smart_action.completed",
            json!({"action_type": "photo", "result": "Photo received",
                   "files": [{"name": "receipt.jpg", "url": "https://f/1", "content_type": "image/jpeg"}]}),
        );
        assert_eq!(
            update_for(&done, None).unwrap().note,
            "SmartAction photo completed: Photo received\n- receipt.jpg (image/jpeg): https://f/1"
        );
    }

    #[test]
    fn r_u_8_a_failed_smart_action_gives_its_error() {
        let failed = event(
            "smart_action.failed",
            json!({"action_type": "verification", "error": "Fingerprint access is not enabled"}),
        );
        assert_eq!(
            update_for(&failed, None).unwrap().note,
            "SmartAction verification failed on the customer's side: Fingerprint access is not enabled"
        );
    }

    #[test]
    fn r_u_11_voicemail_read_called_back_closed() {
        let update =
            |action: &str| update_for(&event("voicemail.updated", json!({"action": action})), None);
        assert_eq!(update("read").unwrap().note, "Voicemail read by an agent");
        assert_eq!(
            update("called_back").unwrap().purpose,
            "voicemail-called-back"
        );
        let closed = update("closed").unwrap();
        assert!(closed.close);
        assert!(update("archived").is_none());
    }
}
