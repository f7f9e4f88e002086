//! Custom attribute values as Kustomer types them (its OpenAPI document, "Naming Suffix", on
//! every create and update: `Num` number or null, `At` date-time or null, `Str` and `Txt` string
//! or null of at most 1024 characters, `Bool` boolean or null, `Url` a URI or null; kustomer-api.md
//! adds `Id`, which must be defined in the metadata before use). A value of the wrong type, or a
//! name with no suffix, is refused with a 400 naming it.

use serde_json::{Map, Value};

/// Why `custom` cannot be stored, if it cannot.
pub(super) fn check(
    custom: Option<&Value>,
    defined: Option<&Map<String, Value>>,
) -> Result<(), String> {
    let Some(custom) = custom else {
        return Ok(());
    };
    let Value::Object(values) = custom else {
        return Err("custom must be an object".into());
    };
    for (name, value) in values {
        check_one(name, value, defined).map_err(|why| format!("custom.{name}: {why}"))?;
    }
    Ok(())
}

fn check_one(
    name: &str,
    value: &Value,
    defined: Option<&Map<String, Value>>,
) -> Result<(), String> {
    let suffix = ["Str", "Txt", "Num", "At", "Bool", "Url", "Id"]
        .into_iter()
        .find(|s| name.len() > s.len() && name.ends_with(s))
        .ok_or("the name has no type suffix (Str, Txt, Num, At, Bool, Url, Id)")?;
    if value.is_null() {
        return Ok(());
    }
    let ok = match suffix {
        "Str" | "Txt" => value.as_str().is_some_and(|s| s.chars().count() <= 1024),
        "Num" => value.is_number(),
        "Bool" => value.is_boolean(),
        "At" => value
            .as_str()
            .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
        "Url" => value
            .as_str()
            .is_some_and(|s| reqwest::Url::parse(s).is_ok()),
        _ => {
            if !defined.is_some_and(|d| d.contains_key(name)) {
                return Err("an Id attribute must be defined in the metadata first".into());
            }
            value.as_str().is_some()
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("not a valid {suffix} value"))
    }
}

/// Keys a metadata property carries about its history: shown on reads, not writable.
pub(super) const AUDIT_KEYS: [&str; 5] = [
    "createdAt",
    "createdBy",
    "modifiedAt",
    "modifiedBy",
    "updatedAt",
];

/// The type Kustomer derives from the suffix, as the metadata answer shows it.
pub(super) fn type_of(name: &str) -> &'static str {
    [
        ("Str", "string"),
        ("Txt", "text"),
        ("Num", "number"),
        ("At", "date"),
        ("Bool", "boolean"),
        ("Url", "url"),
        ("Id", "id"),
    ]
    .into_iter()
    .find(|(s, _)| name.ends_with(s))
    .map_or("string", |(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_checked_against_their_suffix() {
        assert!(check(Some(&json!({"aStr": "x", "bNum": 3, "cBool": null})), None).is_ok());
        assert!(check(Some(&json!({"aNum": "3"})), None).is_err());
        assert!(check(Some(&json!({"plain": "3"})), None).is_err());
        assert!(check(Some(&json!({"aTxt": "x".repeat(1025)})), None).is_err());
        assert!(check(Some(&json!({"orderId": "1"})), None).is_err());
        assert!(check(Some(&json!({"whenAt": "yesterday"})), None).is_err());
    }
}
