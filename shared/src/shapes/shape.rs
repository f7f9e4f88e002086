//! The shape of one JSON document: the paths of its keys with the types of their values, never
//! the values (issue 28, R-F). `item.participants[].type: string` says a participant carries a
//! text `type`; nothing of what it said.
//!
//! Keys that are data rather than names (ids, numbers, e-mail addresses, phone numbers used as
//! map keys) collapse to `*`, so a document keyed by its contents neither leaks them nor grows
//! the shape without bound. Depth and breadth are capped.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Deeper keys are not followed (their parent is recorded with its type).
pub const MAX_DEPTH: usize = 6;
/// Paths kept per document; the rest are counted as cut.
pub const MAX_PATHS: usize = 300;

/// A path's JSON types as seen (`string`, `number`, `boolean`, `null`, `object`, `array`).
pub type Types = BTreeSet<&'static str>;

/// One document's shape.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    pub paths: BTreeMap<String, Types>,
    /// Paths not kept (over [`MAX_PATHS`]).
    pub cut: usize,
}

pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A key as it is recorded: itself when it reads as a name (a letter or `_`, then letters,
/// digits, `_` or `-`, at most 41 characters, fewer digits than not, not a long hex id), `*`
/// otherwise — an e-mail, a phone number, an id, a person's name or a question used as a key
/// is data, and is never kept.
pub fn key_name(key: &str) -> &str {
    let mut chars = key.chars();
    let named = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.len() <= 41
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let digits = key.chars().filter(char::is_ascii_digit).count();
    let hex_id = key.len() >= 16 && key.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if named && digits * 2 < key.len() && !hex_id {
        key
    } else {
        "*"
    }
}

/// How a kind's documents are walked.
#[derive(Clone, Copy, Debug, Default)]
pub struct Walk<'a> {
    /// Top-level keys recorded only with their own type (documents of a kind of their own).
    pub skip: &'a [&'a str],
    /// Free-form maps (a tenant's custom data): their keys are recorded as `*`.
    pub opaque: &'a [&'a str],
}

/// The shape of `document`, breadth first: the top-level keys are recorded before any nested
/// one, so a document too wide for [`MAX_PATHS`] loses its deepest paths, never its own keys.
pub fn shape_of(document: &Value, walk: Walk<'_>) -> Shape {
    let mut shape = Shape::default();
    let mut queue: std::collections::VecDeque<(&Value, String, usize)> =
        std::collections::VecDeque::from([(document, String::new(), 0)]);
    while let Some((value, path, depth)) = queue.pop_front() {
        if depth >= MAX_DEPTH {
            continue;
        }
        match value {
            Value::Object(map) => {
                let opaque = walk.opaque.contains(&path.as_str());
                for (key, child) in map {
                    let name = if opaque { "*" } else { key_name(key) };
                    let child_path = if path.is_empty() {
                        name.to_owned()
                    } else {
                        format!("{path}.{name}")
                    };
                    add(&mut shape, child_path.clone(), child);
                    if !(depth == 0 && walk.skip.contains(&key.as_str()))
                        && (child.is_object() || child.is_array())
                    {
                        queue.push_back((child, child_path, depth + 1));
                    }
                }
            }
            Value::Array(items) => {
                let element = format!("{path}[]");
                for item in items {
                    if item.is_object() || item.is_array() {
                        queue.push_back((item, element.clone(), depth + 1));
                    } else {
                        add(&mut shape, element.clone(), item);
                    }
                }
            }
            _ => {}
        }
    }
    shape
}

fn add(shape: &mut Shape, path: String, value: &Value) {
    if let Some(types) = shape.paths.get_mut(&path) {
        types.insert(type_name(value));
    } else if shape.paths.len() < MAX_PATHS {
        shape.paths.insert(path, BTreeSet::from([type_name(value)]));
    } else {
        shape.cut += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(shape: &Shape) -> Vec<String> {
        shape
            .paths
            .iter()
            .map(|(path, types)| {
                format!(
                    "{path}: {}",
                    types.iter().copied().collect::<Vec<_>>().join("|")
                )
            })
            .collect()
    }

    #[test]
    fn keys_and_types_are_kept_and_values_never() {
        let shape = shape_of(
            &json!({"call_id": 17, "state": "connected", "participants": [
                {"type": "end_user", "dn": "+15550100"}, {"type": "agent", "id": null}
            ]}),
            Walk::default(),
        );
        assert_eq!(
            paths(&shape),
            [
                "call_id: number",
                "participants: array",
                "participants[].dn: string",
                "participants[].id: null",
                "participants[].type: string",
                "state: string",
            ]
        );
        let text = format!("{shape:?}");
        assert!(!text.contains("15550100") && !text.contains("connected"));
    }

    #[test]
    fn keys_that_are_data_collapse_and_skipped_keys_are_not_followed() {
        let shape = shape_of(
            &json!({"by_phone": {"+15550100": 1, "ana@example.com": 2, "12345": 3, "5f00aa11bb22cc33dd44": 4,
                                 "Ana Lopez": 5, "ana%40example.com": 6, "What did you think?": 7, "name": "x"},
                    "custom_data": {"loyalty_tier": {"value": "gold"}},
                    "participants": [{"type": "agent"}]}),
            Walk {
                skip: &["participants"],
                opaque: &["custom_data"],
            },
        );
        assert_eq!(
            paths(&shape),
            [
                "by_phone: object",
                "by_phone.*: number",
                "by_phone.name: string",
                "custom_data: object",
                "custom_data.*: object",
                "custom_data.*.value: string",
                "participants: array",
            ]
        );
    }

    #[test]
    fn a_document_too_wide_is_cut_and_counted() {
        let wide: serde_json::Map<String, Value> = (0..400)
            .map(|i| {
                (
                    format!(
                        "key_{}",
                        "abcdefghijklmnopqrstuvwxyz".to_owned() + &letters(i)
                    ),
                    json!(1),
                )
            })
            .collect();
        let mut document = Value::Object(wide);
        document["deep"] = json!({"inner": {"id": 1}});
        document["id"] = json!(7);
        let shape = shape_of(&document, Walk::default());
        assert_eq!((shape.paths.len(), shape.cut), (MAX_PATHS, 104));
        // The top level is kept whole before anything nested.
        assert!(shape.paths.contains_key("id") && !shape.paths.contains_key("deep.inner.id"));
    }

    fn letters(mut n: usize) -> String {
        let mut out = String::new();
        loop {
            out.push((b'a' + (n % 26) as u8) as char);
            n /= 26;
            if n == 0 {
                return out;
            }
        }
    }
}
