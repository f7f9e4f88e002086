//! A chat transcript from external storage (`chat-{id}.txt`, ccai-api.md §3: JSON, version
//! "1.0") as a readable file (R-X-1): one line per entry with its time in the transcript's time
//! zone, the speaker's role and name, and the text; photos, videos and other bodies named by
//! their type. Plain text (a transcript that is not JSON) is kept as it is. Pure.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TranscriptFile {
    comm_id: Value,
    transcript_version: Option<String>,
    timezone: Option<String>,
    entries: Vec<Entry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Entry {
    /// Epoch seconds (a number; text tolerated).
    timestamp: Value,
    role: Option<String>,
    body: Body,
    user_data: UserData,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Body {
    #[serde(rename = "type")]
    kind: Option<String>,
    content: Option<Value>,
    media_id: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UserData {
    name: Option<String>,
}

/// The rendered file and how many entries it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedTranscript {
    pub text: String,
    pub entries: usize,
}

fn role_label(role: &str) -> &'static str {
    match role {
        "end_user" => "Customer",
        "agent" => "Agent",
        "manager" => "Manager",
        "virtual_agent" | "task_virtual_agent" => "Virtual agent",
        "external_agent" => "External agent",
        "system" => "System",
        _ => "Unknown",
    }
}

fn text_of(value: &Option<Value>) -> String {
    match value {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn seconds(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Renders `bytes`; `chat_id` heads a plain-text transcript.
pub fn render_transcript_file(chat_id: u64, bytes: &[u8]) -> RenderedTranscript {
    let Ok(file) = serde_json::from_slice::<TranscriptFile>(bytes) else {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let entries = text.lines().filter(|l| !l.trim().is_empty()).count();
        return RenderedTranscript {
            text: format!("Chat {chat_id} (transcript as exported)\n\n{text}"),
            entries,
        };
    };
    let zone: chrono_tz::Tz = file
        .timezone
        .as_deref()
        .and_then(|z| z.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    let id = match &file.comm_id {
        Value::Null => chat_id.to_string(),
        other => other.to_string().trim_matches('"').to_owned(),
    };
    let mut text = format!(
        "Chat {id} (transcript version {}, times {})\n\n",
        file.transcript_version.as_deref().unwrap_or("?"),
        zone.name()
    );
    for entry in &file.entries {
        let time = seconds(&entry.timestamp)
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .map(|t| {
                t.with_timezone(&zone)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_else(|| "----------- --:--:--".to_owned());
        let role = role_label(entry.role.as_deref().unwrap_or_default());
        let speaker = match entry.user_data.name.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() => format!("{name} ({})", role.to_lowercase()),
            _ => role.to_owned(),
        };
        let kind = entry.body.kind.as_deref().unwrap_or("text");
        let content = text_of(&entry.body.content);
        let line = match kind {
            "text" | "markdown" | "text_template" | "markdown_template" => content,
            "photo" | "video" => {
                let media = text_of(&entry.body.media_id);
                if media.is_empty() {
                    format!("[{kind}]")
                } else {
                    format!("[{kind} {media}]")
                }
            }
            other if content.is_empty() => format!("[{other}]"),
            other => format!("[{other}] {content}"),
        };
        text.push_str(&format!("[{time}] {speaker}: {line}\n"));
    }
    RenderedTranscript {
        text,
        entries: file.entries.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn r_x_1_entries_in_the_transcripts_time_zone_with_role_and_name() {
        let file = json!({"comm_type": "chat", "comm_id": 44, "transcript_version": "1.0",
            "timezone": "America/Los_Angeles", "entries": [
            {"timestamp": 1764669600, "role": "end_user", "type": "text",
             "body": {"type": "text", "content": "Where is my order?"}, "user_data": {"name": "Jo"}},
            {"timestamp": 1764669630, "role": "agent", "type": "text",
             "body": {"type": "text", "content": "On its way"}, "user_data": {"name": "Ana"}},
            {"timestamp": "1764669640", "role": "end_user", "body": {"type": "photo", "media_id": 7}},
            {"timestamp": 1764669650, "role": "system", "body": {"type": "noti", "content": "Chat ended"}},
            {"timestamp": 1764669660, "role": "virtual_agent", "body": {"type": "action"}}]});
        let rendered = render_transcript_file(44, file.to_string().as_bytes());
        assert_eq!(rendered.entries, 5);
        assert_eq!(
            rendered.text,
            "Chat 44 (transcript version 1.0, times America/Los_Angeles)\n\n\
             [2025-12-02 02:00:00] Jo (customer): Where is my order?\n\
             [2025-12-02 02:00:30] Ana (agent): On its way\n\
             [2025-12-02 02:00:40] Customer: [photo 7]\n\
             [2025-12-02 02:00:50] System: [noti] Chat ended\n\
             [2025-12-02 02:01:00] Virtual agent: [action]\n"
        );
    }

    #[test]
    fn r_x_1_an_unknown_zone_falls_back_to_utc_and_plain_text_is_kept() {
        let file = json!({"timezone": "Mars/Olympus", "entries": [
            {"timestamp": 0, "role": "agent", "body": {"type": "text", "content": "hi"}}]});
        assert!(
            render_transcript_file(1, file.to_string().as_bytes())
                .text
                .contains("times UTC)\n\n[1970-01-01 00:00:00] Agent: hi")
        );
        let plain = render_transcript_file(9, b"Jo: hi\nAna: hello\n");
        assert_eq!(plain.entries, 2);
        assert!(plain.text.starts_with("Chat 9 (transcript as exported)"));
    }

    #[test]
    fn r_x_1_ten_thousand_entries_render() {
        let entries: Vec<Value> = (0..10_000)
            .map(|n| json!({"timestamp": 1764669600 + n, "role": if n % 2 == 0 { "end_user" } else { "agent" },
                "body": {"type": "text", "content": format!("line {n}")}}))
            .collect();
        let file = json!({"transcript_version": "1.0", "timezone": "UTC", "entries": entries});
        let rendered = render_transcript_file(2, file.to_string().as_bytes());
        assert_eq!(rendered.entries, 10_000);
        assert_eq!(rendered.text.lines().count(), 10_002);
    }
}
