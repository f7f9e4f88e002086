//! Lambda event filtering (`FilterCriteria.Filters[].Pattern`), as the event source mapping
//! applies it to each stream record before batching: a record is delivered when any pattern
//! matches it; records that match none are dropped (and count as processed).
//!
//! The pattern language is EventBridge's. Supported here: nested objects, lists of exact values
//! (strings, numbers, booleans, null), and the `prefix`, `exists` and `anything-but` operators.
//! Any other operator is refused when the template is read, never silently ignored.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
pub struct Pattern(Value);

impl Pattern {
    /// Parses a pattern string from the template, refusing what it cannot evaluate.
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("filter pattern is not JSON: {e}"))?;
        if !value.is_object() {
            return Err("a filter pattern must be a JSON object".into());
        }
        check(&value, "")?;
        Ok(Self(value))
    }

    pub fn matches(&self, record: &Value) -> bool {
        object_matches(&self.0, record)
    }
}

fn check(pattern: &Value, path: &str) -> Result<(), String> {
    match pattern {
        Value::Object(fields) => fields
            .iter()
            .try_for_each(|(name, value)| check(value, &format!("{path}.{name}"))),
        Value::Array(options) => options.iter().try_for_each(|option| match option {
            Value::Object(operator) => match operator.keys().next().map(String::as_str) {
                Some("prefix" | "exists" | "anything-but") if operator.len() == 1 => Ok(()),
                other => Err(format!(
                    "filter pattern {path}: operator {other:?} is not supported by the local host"
                )),
            },
            Value::Array(_) => Err(format!("filter pattern {path}: nested lists")),
            _ => Ok(()),
        }),
        _ => Err(format!(
            "filter pattern {path}: values must be given as a list"
        )),
    }
}

fn object_matches(pattern: &Value, value: &Value) -> bool {
    let Value::Object(fields) = pattern else {
        return false;
    };
    fields.iter().all(|(name, expected)| {
        let actual = value.get(name);
        match expected {
            Value::Object(_) => actual.is_some_and(|actual| object_matches(expected, actual)),
            Value::Array(options) => options.iter().any(|option| option_matches(option, actual)),
            _ => false,
        }
    })
}

fn option_matches(option: &Value, actual: Option<&Value>) -> bool {
    match option {
        Value::Object(operator) => {
            if let Some(exists) = operator.get("exists") {
                return exists.as_bool() == Some(actual.is_some());
            }
            if let Some(prefix) = operator.get("prefix").and_then(Value::as_str) {
                return actual
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.starts_with(prefix));
            }
            if let Some(excluded) = operator.get("anything-but") {
                let Some(actual) = actual else {
                    return false;
                };
                return match excluded {
                    Value::Array(list) => !list.contains(actual),
                    single => single != actual,
                };
            }
            false
        }
        exact => actual == Some(exact),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TEMPLATE_PATTERN: &str =
        r#"{"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": ["INBOX"]}}}}"#;

    fn record(event_name: &str, sk: &str) -> Value {
        json!({"eventName": event_name, "dynamodb": {"Keys": {"pk": {"S": "X"}, "sk": {"S": sk}}}})
    }

    #[test]
    fn the_templates_inbox_pattern_takes_new_inbox_items_only() {
        let pattern = Pattern::parse(TEMPLATE_PATTERN).unwrap();
        assert!(pattern.matches(&record("INSERT", "INBOX")));
        assert!(!pattern.matches(&record("MODIFY", "INBOX")));
        assert!(!pattern.matches(&record("REMOVE", "INBOX")));
        assert!(!pattern.matches(&record("INSERT", "LEASE")));
        assert!(!pattern.matches(&json!({"eventName": "INSERT"})));
    }

    #[test]
    fn prefix_exists_and_anything_but() {
        let pattern = Pattern::parse(
            r#"{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "EVENT#"}]}}},
                "eventName": [{"anything-but": ["REMOVE"]}], "userIdentity": [{"exists": false}]}"#,
        )
        .unwrap();
        let mut insert =
            json!({"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": "EVENT#1"}}}});
        assert!(pattern.matches(&insert));
        insert["eventName"] = json!("REMOVE");
        assert!(!pattern.matches(&insert));
        insert["eventName"] = json!("MODIFY");
        insert["userIdentity"] = json!({"type": "Service"});
        assert!(!pattern.matches(&insert));
    }

    #[test]
    fn unsupported_operators_are_refused_not_ignored() {
        let err =
            Pattern::parse(r#"{"dynamodb": {"SizeBytes": [{"numeric": [">", 10]}]}}"#).unwrap_err();
        assert!(err.contains("numeric"), "{err}");
        assert!(Pattern::parse(r#"{"eventName": "INSERT"}"#).is_err());
    }
}
