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

/// A key as it is recorded: itself when it reads as a name, `*` when it reads as data.
pub fn key_name(key: &str) -> &str {
    let digits = key.chars().filter(char::is_ascii_digit).count();
    let looks_like_data = key.is_empty()
        || key.len() > 64
        || key.contains('@')
        || key.starts_with('+')
        || digits * 2 >= key.len()
        || (key.len() >= 16 && key.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    if looks_like_data { "*" } else { key }
}

/// The shape of `document`; `skip` names top-level keys recorded only with their own type (a
/// kind of their own: an item's participants are shapes of their own).
pub fn shape_of(document: &Value, skip: &[&str]) -> Shape {
    let mut shape = Shape::default();
    walk(document, "", 0, skip, &mut shape);
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

fn walk(value: &Value, path: &str, depth: usize, skip: &[&str], shape: &mut Shape) {
    if depth >= MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let name = key_name(key);
                let child_path = if path.is_empty() {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                };
                add(shape, child_path.clone(), child);
                if !(depth == 0 && skip.contains(&key.as_str())) {
                    walk(child, &child_path, depth + 1, skip, shape);
                }
            }
        }
        Value::Array(items) => {
            let element = format!("{path}[]");
            for item in items {
                if item.is_object() || item.is_array() {
                    walk(item, &element, depth + 1, skip, shape);
                } else {
                    add(shape, element.clone(), item);
                }
            }
        }
        _ => {}
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
            &[],
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
            &json!({"by_phone": {"+15550100": 1, "ana@example.com": 2, "12345": 3, "5f00aa11bb22cc33dd44": 4, "name": "x"},
                    "participants": [{"type": "agent"}]}),
            &["participants"],
        );
        assert_eq!(
            paths(&shape),
            [
                "by_phone: object",
                "by_phone.*: number",
                "by_phone.name: string",
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
        let shape = shape_of(&Value::Object(wide), &[]);
        assert_eq!((shape.paths.len(), shape.cut), (MAX_PATHS, 100));
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
