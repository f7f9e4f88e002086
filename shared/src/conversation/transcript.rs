//! A chat transcript as a readable file (R-X-1): one line per message, with its time (UTC)
//! and speaker; attachments shown by kind and link.

use crate::ccai::model::{Chat, ChatMessage};

fn speaker(message: &ChatMessage) -> String {
    let name = message
        .from
        .name
        .as_deref()
        .filter(|n| !n.trim().is_empty());
    match (message.from.kind.as_deref(), name) {
        (Some("end_user"), _) => "Customer".to_owned(),
        (Some("agent"), Some(name)) => format!("{name} (agent)"),
        (Some("agent"), None) => "Agent".to_owned(),
        (Some("virtual_agent"), Some(name)) => format!("{name} (virtual agent)"),
        (Some("virtual_agent"), None) => "Virtual agent".to_owned(),
        (_, Some(name)) => name.to_owned(),
        (_, None) => "Unknown".to_owned(),
    }
}

fn time_of(message: &ChatMessage) -> String {
    message
        .sent_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc).format("%H:%M:%S").to_string())
        .unwrap_or_else(|| "--:--:--".to_owned())
}

/// The transcript as plain text.
pub fn render_transcript(chat: &Chat, messages: &[ChatMessage]) -> String {
    let menu = chat
        .selected_menu
        .as_ref()
        .and_then(|m| m.name.as_deref())
        .unwrap_or("chat");
    let date = chat
        .created_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc).format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let mut text = format!("Chat {} · {menu} · {date} (times UTC)\n\n", chat.id);
    for message in messages {
        let content = message.content.as_deref().unwrap_or_default().trim();
        let body = match message.kind.as_deref() {
            None | Some("text") => content.to_owned(),
            Some(kind) => format!("[{kind}] {content}"),
        };
        text.push_str(&format!(
            "[{}] {}: {}\n",
            time_of(message),
            speaker(message),
            body
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn r_x_1_each_message_has_its_time_and_speaker() {
        let chat: Chat = serde_json::from_value(json!({
            "id": 55, "created_at": "2026-11-23T10:15:00.000Z",
            "selected_menu": {"id": 31, "name": "Web chat", "menu_type": "web_menu"}
        }))
        .unwrap();
        let messages: Vec<ChatMessage> = serde_json::from_value(json!([
            {"id": 1, "from": {"type": "end_user", "name": "Jo"}, "sent_at": "2026-11-23T10:15:02.123Z", "type": "text", "content": "Where is my order?"},
            {"id": 2, "from": {"type": "agent", "name": "Ana"}, "sent_at": "2026-11-23T10:15:30.000Z", "type": "text", "content": "On its way"},
            {"id": 3, "from": {"type": "end_user"}, "sent_at": "bad", "type": "photo", "content": "https://files/1.png"},
        ]))
        .unwrap();
        let text = render_transcript(&chat, &messages);
        assert_eq!(
            text,
            "Chat 55 · Web chat · 2026-11-23 (times UTC)\n\n\
             [10:15:02] Customer: Where is my order?\n\
             [10:15:30] Ana (agent): On its way\n\
             [--:--:--] Customer: [photo] https://files/1.png\n"
        );
    }
}
