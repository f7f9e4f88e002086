//! A chat transcript from external storage (`chat-{id}.txt`, ccai-api.md §3: JSON, version
//! "1.0") as a readable file (R-X-1): one line per entry with its time in the transcript's time
//! zone, the speaker's role and name, and the text; photos, videos and other bodies named by
//! their type. Plain text (a transcript that is not JSON) is kept as it is. Pure.

use serde_json::{Map, Value};

/// A transcript read field by field: a field that is missing, `null` or of another type than
/// expected is taken as absent, so one odd entry never turns the whole file into raw JSON
/// (review L2). The file is a transcript when it is a JSON object with an `entries` list.
struct TranscriptFile<'a>(&'a Map<String, Value>);

impl<'a> TranscriptFile<'a> {
    fn read(value: &'a Value) -> Option<Self> {
        let object = value.as_object()?;
        object.get("entries")?.as_array()?;
        Some(Self(object))
    }

    fn entries(&self) -> impl Iterator<Item = Entry<'a>> {
        self.0
            .get("entries")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|entry| Entry(entry.as_object()))
    }
}

/// One entry; `None` inside for an entry that is not an object (rendered as an empty line).
struct Entry<'a>(Option<&'a Map<String, Value>>);

impl<'a> Entry<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.0?.get(key).filter(|v| !v.is_null())
    }

    fn body(&self, key: &str) -> Option<&'a Value> {
        self.get("body")?
            .as_object()?
            .get(key)
            .filter(|v| !v.is_null())
    }

    fn name(&self) -> Option<&'a str> {
        self.get("user_data")?.as_object()?.get("name")?.as_str()
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
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

fn text_of(value: Option<&Value>) -> String {
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
    let parsed = serde_json::from_slice::<Value>(bytes).ok();
    if let Some(document) = parsed.as_ref().filter(|d| d.is_object()) {
        crate::shapes::observe(crate::shapes::DocumentKind::Transcript, document);
    }
    let Some(file) = parsed.as_ref().and_then(TranscriptFile::read) else {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let entries = text.lines().filter(|l| !l.trim().is_empty()).count();
        return RenderedTranscript {
            text: format!("Chat {chat_id} (transcript as exported)\n\n{text}"),
            entries,
        };
    };
    let zone: chrono_tz::Tz = file
        .0
        .get("timezone")
        .and_then(Value::as_str)
        .and_then(|z| z.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    let id = text(file.0.get("comm_id")).unwrap_or_else(|| chat_id.to_string());
    let version = text(file.0.get("transcript_version")).unwrap_or_else(|| "?".into());
    let mut out = format!(
        "Chat {id} (transcript version {version}, times {})\n\n",
        zone.name()
    );
    let mut entries = 0;
    for entry in file.entries() {
        entries += 1;
        let time = entry
            .get("timestamp")
            .and_then(seconds)
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .map(|t| {
                t.with_timezone(&zone)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_else(|| "----------- --:--:--".to_owned());
        let role = role_label(
            entry
                .get("role")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        let speaker = match entry.name().map(str::trim) {
            Some(name) if !name.is_empty() => format!("{name} ({})", role.to_lowercase()),
            _ => role.to_owned(),
        };
        let kind = entry.body("type").and_then(Value::as_str).unwrap_or("text");
        let content = text_of(entry.body("content"));
        let line = match kind {
            "text" | "markdown" | "text_template" | "markdown_template" => content,
            "photo" | "video" => {
                let media = text_of(entry.body("media_id"));
                if media.is_empty() {
                    format!("[{kind}]")
                } else {
                    format!("[{kind} {media}]")
                }
            }
            other if content.is_empty() => format!("[{other}]"),
            other => format!("[{other}] {content}"),
        };
        out.push_str(&format!("[{time}] {speaker}: {line}\n"));
    }
    RenderedTranscript { text: out, entries }
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
    fn l2_r_x_1_one_odd_entry_does_not_spoil_the_file() {
        let file = json!({"comm_id": 5, "transcript_version": 1.0, "timezone": null, "entries": [
            {"timestamp": 0, "role": "agent", "body": {"type": "text", "content": "hi"}, "user_data": null},
            {"timestamp": null, "role": 3, "body": null},
            "not an entry",
            {"timestamp": 60, "role": "end_user", "body": {"type": "text", "content": null}, "user_data": {"name": null}}]});
        let rendered = render_transcript_file(5, file.to_string().as_bytes());
        assert_eq!(rendered.entries, 4);
        assert_eq!(
            rendered.text,
            "Chat 5 (transcript version 1.0, times UTC)\n\n\
             [1970-01-01 00:00:00] Agent: hi\n\
             [----------- --:--:--] Unknown: \n\
             [----------- --:--:--] Unknown: \n\
             [1970-01-01 00:01:00] Customer: \n"
        );
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
