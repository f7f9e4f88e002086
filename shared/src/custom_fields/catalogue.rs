//! The twelve custom fields of the original integration (R-CF-1; the CCAI Platform's Kustomer
//! page lists them under "Account Custom Fields" and "Record Custom Fields"), with the Kustomer
//! attribute each becomes: `ccai` + camelCase name + Kustomer's type suffix (kustomer-api.md
//! "Custom attributes", H), and the display name the original shows.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Kustomer's custom attribute types, told by the name's suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Suffix {
    Str,
    Txt,
    Num,
    At,
    Bool,
    Url,
}

/// The longest `Str` and `Txt` value Kustomer takes: its OpenAPI document gives "length:
/// [ 0 .. 1024 ] characters" for both (LarisLab/kustomer-client `src/api/sdk.gen.ts`,
/// `updateMessageAttributes`); kustomer-api.md calls `Txt` "long text" without a limit, so the
/// stricter reading is kept.
pub const MAX_TEXT_CHARS: usize = 1024;

impl Suffix {
    /// The suffix of an attribute name, `None` when it has none the bridge can fill (`Id`
    /// references need a target the bridge does not know).
    pub fn of(attribute: &str) -> Option<Self> {
        [
            ("Str", Suffix::Str),
            ("Txt", Suffix::Txt),
            ("Num", Suffix::Num),
            ("At", Suffix::At),
            ("Bool", Suffix::Bool),
            ("Url", Suffix::Url),
        ]
        .into_iter()
        .find(|(suffix, _)| {
            attribute.len() > suffix.len()
                && attribute.ends_with(suffix)
                // `Str` and `Txt` end in a lowercase letter before them: `fooStr`, not `Str`.
                && attribute[..attribute.len() - suffix.len()]
                    .chars()
                    .last()
                    .is_some_and(char::is_alphanumeric)
        })
        .map(|(_, kind)| kind)
    }

    /// `value` in the shape the type takes, `None` when it cannot be (a word for a number).
    pub fn coerce(self, value: &Value) -> Option<Value> {
        match self {
            Suffix::Str | Suffix::Txt => {
                let text = match value {
                    Value::String(s) => s.trim().to_owned(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                (!text.is_empty()).then(|| Value::String(truncate(&text, MAX_TEXT_CHARS)))
            }
            Suffix::Num => match value {
                Value::Number(n) => Some(Value::Number(n.clone())),
                Value::String(s) => s.trim().parse::<f64>().ok().and_then(number),
                _ => None,
            },
            Suffix::Bool => match value {
                Value::Bool(b) => Some(Value::Bool(*b)),
                Value::String(s) if s.eq_ignore_ascii_case("true") => Some(Value::Bool(true)),
                Value::String(s) if s.eq_ignore_ascii_case("false") => Some(Value::Bool(false)),
                _ => None,
            },
            Suffix::At => value
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s.trim()).ok())
                .map(|t| Value::String(t.with_timezone(&chrono::Utc).to_rfc3339())),
            Suffix::Url => value
                .as_str()
                .and_then(|s| reqwest::Url::parse(s.trim()).ok())
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .map(|u| Value::String(u.to_string())),
        }
    }
}

/// A whole number stays whole (`125`, not `125.0`), as a person would read it.
pub fn number(value: f64) -> Option<Value> {
    if !value.is_finite() {
        return None;
    }
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        return Some(Value::from(value as i64));
    }
    serde_json::Number::from_f64(value).map(Value::Number)
}

/// At most `max` characters, an ellipsis marking a cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// Which group the original lists a field under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Account,
    Record,
}

/// One of the twelve fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldId {
    CustomUserId,
    QueueName,
    SessionType,
    SessionId,
    FromPhone,
    CallDuration,
    HoldTime,
    WaitTime,
    CsatRating,
    CsatComment,
    MenuSelection,
    InwebEmail,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Field {
    pub id: FieldId,
    pub group: Group,
    /// The Kustomer attribute: `ccai` + camelCase + type suffix.
    pub attribute: &'static str,
    pub display_name: &'static str,
    #[serde(rename = "type")]
    pub suffix: Suffix,
}

const fn field(
    id: FieldId,
    group: Group,
    attribute: &'static str,
    display_name: &'static str,
    suffix: Suffix,
) -> Field {
    Field {
        id,
        group,
        attribute,
        display_name,
        suffix,
    }
}

/// R-CF-1, in the original's order.
pub const CATALOGUE: [Field; 12] = [
    field(
        FieldId::CustomUserId,
        Group::Account,
        "ccaiCustomUserIdStr",
        "Custom User ID",
        Suffix::Str,
    ),
    field(
        FieldId::QueueName,
        Group::Record,
        "ccaiQueueNameStr",
        "Queue Name",
        Suffix::Str,
    ),
    field(
        FieldId::SessionType,
        Group::Record,
        "ccaiSessionTypeStr",
        "Session Type",
        Suffix::Str,
    ),
    field(
        FieldId::SessionId,
        Group::Record,
        "ccaiSessionIdStr",
        "Session ID",
        Suffix::Str,
    ),
    field(
        FieldId::FromPhone,
        Group::Record,
        "ccaiFromPhoneStr",
        "From Phone Number",
        Suffix::Str,
    ),
    field(
        FieldId::CallDuration,
        Group::Record,
        "ccaiCallDurationNum",
        "Call Duration",
        Suffix::Num,
    ),
    field(
        FieldId::HoldTime,
        Group::Record,
        "ccaiHoldTimeNum",
        "Hold Time",
        Suffix::Num,
    ),
    field(
        FieldId::WaitTime,
        Group::Record,
        "ccaiWaitTimeNum",
        "Wait Time",
        Suffix::Num,
    ),
    field(
        FieldId::CsatRating,
        Group::Record,
        "ccaiCsatRatingNum",
        "CSAT Rating",
        Suffix::Num,
    ),
    field(
        FieldId::CsatComment,
        Group::Record,
        "ccaiCsatCommentTxt",
        "CSAT Comment",
        Suffix::Txt,
    ),
    field(
        FieldId::MenuSelection,
        Group::Record,
        "ccaiMenuSelectionStr",
        "Customer Menu Selection",
        Suffix::Str,
    ),
    field(
        FieldId::InwebEmail,
        Group::Record,
        "ccaiInwebEmailStr",
        "Email using In-Web",
        Suffix::Str,
    ),
];

impl FieldId {
    /// The field's id as the admin API spells it (`queue_name`).
    pub fn as_str(self) -> &'static str {
        match self {
            FieldId::CustomUserId => "custom_user_id",
            FieldId::QueueName => "queue_name",
            FieldId::SessionType => "session_type",
            FieldId::SessionId => "session_id",
            FieldId::FromPhone => "from_phone",
            FieldId::CallDuration => "call_duration",
            FieldId::HoldTime => "hold_time",
            FieldId::WaitTime => "wait_time",
            FieldId::CsatRating => "csat_rating",
            FieldId::CsatComment => "csat_comment",
            FieldId::MenuSelection => "menu_selection",
            FieldId::InwebEmail => "inweb_email",
        }
    }

    pub fn parse(id: &str) -> Option<Self> {
        CATALOGUE
            .iter()
            .map(|f| f.id)
            .find(|f| f.as_str() == id.trim())
    }

    pub fn field(self) -> &'static Field {
        // Every id is in the catalogue (a unit test holds it), in declaration order.
        &CATALOGUE[self as usize]
    }

    /// The Kustomer resources whose metadata carries the attribute: every field goes on the
    /// session's message; the custom user id also on the customer (R-CF-4).
    pub fn resources(self) -> &'static [&'static str] {
        match self {
            FieldId::CustomUserId => &["message", "customer"],
            _ => &["message"],
        }
    }

    /// Every valid id, for an error message.
    pub fn valid_ids() -> String {
        CATALOGUE
            .iter()
            .map(|f| f.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn r_cf_1_r_cf_2_twelve_fields_each_named_with_its_type_suffix() {
        assert_eq!(CATALOGUE.len(), 12);
        for (n, field) in CATALOGUE.iter().enumerate() {
            assert_eq!(field.id as usize, n, "{:?} out of order", field.id);
            assert_eq!(field.id.field(), field);
            assert_eq!(FieldId::parse(field.id.as_str()), Some(field.id));
            assert_eq!(
                Suffix::of(field.attribute),
                Some(field.suffix),
                "{}",
                field.attribute
            );
            assert!(field.attribute.starts_with("ccai"));
        }
        let accounts: Vec<_> = CATALOGUE
            .iter()
            .filter(|f| f.group == Group::Account)
            .collect();
        assert_eq!(accounts.len(), 1);
        assert_eq!(FieldId::parse("queue name"), None);
        assert_eq!(FieldId::parse(" wait_time "), Some(FieldId::WaitTime));
    }

    #[test]
    fn values_take_the_shape_of_their_type() {
        assert_eq!(Suffix::Num.coerce(&json!("125")), Some(json!(125)));
        assert_eq!(Suffix::Num.coerce(&json!(4.5)), Some(json!(4.5)));
        assert_eq!(Suffix::Num.coerce(&json!("four")), None);
        assert_eq!(Suffix::Str.coerce(&json!(42)), Some(json!("42")));
        assert_eq!(Suffix::Str.coerce(&json!("  ")), None);
        let long = "é".repeat(2000);
        let cut = Suffix::Txt.coerce(&json!(long)).unwrap();
        assert_eq!(cut.as_str().unwrap().chars().count(), MAX_TEXT_CHARS);
        assert!(cut.as_str().unwrap().ends_with('…'));
        assert_eq!(Suffix::Bool.coerce(&json!("TRUE")), Some(json!(true)));
        assert_eq!(
            Suffix::At.coerce(&json!("2026-12-02T10:00:00+01:00")),
            Some(json!("2026-12-02T09:00:00+00:00"))
        );
        assert_eq!(Suffix::Url.coerce(&json!("javascript:alert(1)")), None);
        assert_eq!(Suffix::of("tierStr"), Some(Suffix::Str));
        assert_eq!(Suffix::of("orderId"), None);
        assert_eq!(Suffix::of("Str"), None);
    }
}
