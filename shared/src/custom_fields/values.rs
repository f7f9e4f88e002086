//! The values of a session's custom fields (R-CF-3, R-CF-4, R-CF-5): a pure function of what
//! the platform reported (Manager API object, ESE item, metadata file — gathered in
//! [`FieldFacts`] by the session view) and of what the admin created and mapped.

use super::catalogue::{FieldId, Suffix, number};
use super::settings::FieldSettings;
use serde_json::{Map, Value};

/// What the platform tells about a session that the fields carry. Each is `None` until some
/// source reports it; later sources fill what earlier ones lacked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldFacts {
    /// `session_type_v2`, else `call_type` / `chat_type` (e.g. "Voice Inbound (IVR)").
    pub session_type: Option<String>,
    /// The queue the session was routed to (the last transfer's queue, else `selected_menu`).
    pub queue_name: Option<String>,
    /// The menu path the customer selected (`menu_path.name`, else ESE `queue_path_names`).
    pub menu_selection: Option<String>,
    /// Seconds: `call_duration` (calls) or `chat_duration` (chats).
    pub duration: Option<f64>,
    pub hold_time: Option<f64>,
    /// `wait_duration`, else `queue_duration`.
    pub wait_time: Option<f64>,
    /// The In-Web end user's e-mail, where the platform reports one (L: `end_user.email` on the
    /// session object or the metadata file).
    pub inweb_email: Option<String>,
    /// SDK custom data, key → value (R-CF-5; where it reaches an integration is L).
    pub custom_data: Map<String, Value>,
}

impl FieldFacts {
    /// Fills what `self` lacks from `later` (a later source: ESE, then the metadata file);
    /// custom data keys the earlier source had are kept.
    pub fn fill_from(&mut self, later: FieldFacts) {
        fn fill<T>(slot: &mut Option<T>, value: Option<T>) {
            if slot.is_none() {
                *slot = value;
            }
        }
        fill(&mut self.session_type, later.session_type);
        fill(&mut self.queue_name, later.queue_name);
        fill(&mut self.menu_selection, later.menu_selection);
        fill(&mut self.duration, later.duration);
        fill(&mut self.hold_time, later.hold_time);
        fill(&mut self.wait_time, later.wait_time);
        fill(&mut self.inweb_email, later.inweb_email);
        for (key, value) in later.custom_data {
            self.custom_data.entry(key).or_insert(value);
        }
    }
}

/// Reads SDK custom data: `{key: {value, type, label}}` as the SDK sends it (ccai-api.md §4,
/// H), or `{key: value}`; anything else is no custom data.
pub fn read_custom_data(value: Option<&Value>) -> Map<String, Value> {
    let Some(Value::Object(entries)) = value else {
        return Map::new();
    };
    entries
        .iter()
        .filter_map(|(key, entry)| {
            let value = match entry {
                Value::Object(fields) => fields.get("value")?.clone(),
                other => other.clone(),
            };
            (!value.is_null()).then(|| (key.clone(), value))
        })
        .collect()
}

/// Everything the session's values are made of.
#[derive(Clone, Copy, Debug)]
pub struct SessionValues<'a> {
    pub facts: &'a FieldFacts,
    pub session_id: u64,
    /// The SDK end user's identifier (SDK sessions only).
    pub custom_user_id: Option<&'a str>,
    /// The caller's E.164 number (calls).
    pub from_phone: Option<&'a str>,
    pub csat_rating: Option<f64>,
    pub csat_comment: Option<&'a str>,
    /// When the session started (ms), for R-CF-3.
    pub started_ms: Option<i64>,
}

/// The custom attributes to write for one session: on its message, and on its customer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CustomValues {
    pub message: Map<String, Value>,
    pub customer: Map<String, Value>,
}

fn raw(field: FieldId, session: &SessionValues<'_>) -> Option<Value> {
    let text = |t: Option<&str>| t.map(|t| Value::String(t.to_owned()));
    let facts = session.facts;
    match field {
        FieldId::CustomUserId => text(session.custom_user_id),
        FieldId::QueueName => text(facts.queue_name.as_deref()),
        FieldId::SessionType => text(facts.session_type.as_deref()),
        FieldId::SessionId => Some(Value::String(session.session_id.to_string())),
        FieldId::FromPhone => text(session.from_phone),
        FieldId::CallDuration => facts.duration.and_then(number),
        FieldId::HoldTime => facts.hold_time.and_then(number),
        FieldId::WaitTime => facts.wait_time.and_then(number),
        FieldId::CsatRating => session.csat_rating.and_then(number),
        FieldId::CsatComment => text(session.csat_comment),
        FieldId::MenuSelection => text(facts.menu_selection.as_deref()),
        FieldId::InwebEmail => text(facts.inweb_email.as_deref()),
    }
}

/// The values of every field created before the session started (R-CF-3), then the mapped
/// SDK keys (R-CF-5: the admin's explicit mapping wins over a built-in value for the same
/// attribute). A value the platform has not reported yet is simply absent: a later pass adds
/// it (R-CF-4).
pub fn custom_values(session: &SessionValues<'_>, settings: &FieldSettings) -> CustomValues {
    let mut values = CustomValues::default();
    for (id, created) in &settings.fields {
        if !FieldSettings::applies(created.created_at_ms, session.started_ms) {
            continue;
        }
        let field = id.field();
        let Some(value) = raw(*id, session).and_then(|v| field.suffix.coerce(&v)) else {
            continue;
        };
        if id.resources().contains(&"customer") {
            values
                .customer
                .insert(field.attribute.to_owned(), value.clone());
        }
        values.message.insert(field.attribute.to_owned(), value);
    }
    for (key, target) in &settings.sdk_keys {
        let since = match target.field {
            Some(field) => match settings.fields.get(&field) {
                Some(created) => created.created_at_ms.max(target.mapped_at_ms),
                None => continue,
            },
            None => target.mapped_at_ms,
        };
        if !FieldSettings::applies(since, session.started_ms) {
            continue;
        }
        let Some(suffix) = Suffix::of(&target.attribute) else {
            continue;
        };
        if let Some(value) = session
            .facts
            .custom_data
            .get(key)
            .and_then(|v| suffix.coerce(v))
        {
            values.message.insert(target.attribute.clone(), value);
        }
    }
    values
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::custom_fields::settings::{CreatedField, SdkKeyTarget};
    use serde_json::json;

    fn created(at: i64) -> CreatedField {
        CreatedField {
            created_at: String::new(),
            created_at_ms: at,
            created_by: "admin".into(),
        }
    }

    fn facts() -> FieldFacts {
        FieldFacts {
            session_type: Some("Voice Inbound (IVR)".into()),
            queue_name: Some("Billing".into()),
            menu_selection: Some("Support > Billing".into()),
            duration: Some(125.0),
            hold_time: Some(5.0),
            wait_time: Some(12.0),
            inweb_email: None,
            custom_data: read_custom_data(Some(
                &json!({"tier": {"value": "gold", "type": "string", "label": "Tier"}, "orders": "7", "none": null}),
            )),
        }
    }

    #[test]
    fn r_cf_3_only_fields_created_before_the_session_started_are_written() {
        let facts = facts();
        let mut settings = FieldSettings::default();
        settings.fields.insert(FieldId::QueueName, created(1_000));
        settings
            .fields
            .insert(FieldId::CallDuration, created(5_000));
        settings
            .fields
            .insert(FieldId::CustomUserId, created(1_000));
        let session = SessionValues {
            facts: &facts,
            session_id: 7,
            custom_user_id: Some("app-user-1"),
            from_phone: Some("+15550100"),
            csat_rating: None,
            csat_comment: None,
            started_ms: Some(2_000),
        };
        let values = custom_values(&session, &settings);
        assert_eq!(
            values.message,
            json!({"ccaiQueueNameStr": "Billing", "ccaiCustomUserIdStr": "app-user-1"})
                .as_object()
                .cloned()
                .unwrap()
        );
        assert_eq!(
            values.customer.len(),
            1,
            "the custom user id also on the customer"
        );
        // A session whose start is unknown gets nothing; one after both gets both.
        assert!(
            custom_values(
                &SessionValues {
                    started_ms: None,
                    ..session
                },
                &settings
            )
            .message
            .is_empty()
        );
        let later = custom_values(
            &SessionValues {
                started_ms: Some(6_000),
                ..session
            },
            &settings,
        );
        assert_eq!(later.message["ccaiCallDurationNum"], json!(125));
    }

    #[test]
    fn r_cf_5_mapped_sdk_keys_land_in_their_attribute_with_its_type() {
        let facts = facts();
        let mut settings = FieldSettings::default();
        settings.sdk_keys.insert(
            "tier".into(),
            SdkKeyTarget {
                attribute: "loyaltyTierStr".into(),
                field: None,
                mapped_at_ms: 0,
            },
        );
        settings.sdk_keys.insert(
            "orders".into(),
            SdkKeyTarget {
                attribute: "ordersCountNum".into(),
                field: None,
                mapped_at_ms: 0,
            },
        );
        // Mapped to one of the twelve that is not created: nothing.
        settings.sdk_keys.insert(
            "none".into(),
            SdkKeyTarget {
                attribute: "ccaiQueueNameStr".into(),
                field: Some(FieldId::QueueName),
                mapped_at_ms: 0,
            },
        );
        let session = SessionValues {
            facts: &facts,
            session_id: 7,
            custom_user_id: None,
            from_phone: None,
            csat_rating: Some(4.0),
            csat_comment: Some("Thanks"),
            started_ms: Some(10),
        };
        let values = custom_values(&session, &settings);
        assert_eq!(values.message["loyaltyTierStr"], json!("gold"));
        assert_eq!(values.message["ordersCountNum"], json!(7));
        assert_eq!(values.message.len(), 2);
    }

    #[test]
    fn later_sources_fill_only_what_is_missing() {
        let mut first = FieldFacts {
            duration: Some(10.0),
            custom_data: read_custom_data(Some(&json!({"a": 1}))),
            ..FieldFacts::default()
        };
        first.fill_from(FieldFacts {
            duration: Some(99.0),
            hold_time: Some(3.0),
            custom_data: read_custom_data(Some(&json!({"a": 2, "b": 3}))),
            ..FieldFacts::default()
        });
        assert_eq!((first.duration, first.hold_time), (Some(10.0), Some(3.0)));
        assert_eq!(
            first.custom_data,
            *json!({"a": 1, "b": 3}).as_object().unwrap()
        );
    }
}
