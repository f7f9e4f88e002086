//! The admin's operations on custom fields (events.md §4): list the twelve, create one (its
//! Kustomer attribute provisioned first), stop filling one, and map SDK custom-data keys.

use super::catalogue::{CATALOGUE, Field, FieldId, Suffix};
use super::settings::{self, CreatedField, FieldSettings, SdkKeyTarget};
use crate::UnixMillis;
use crate::kustomer::{KustomerClient, KustomerError};
use crate::store::{StateStore, StoreError};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum FieldAdminError {
    #[error("unknown field {given:?}; valid fields: {valid}")]
    UnknownField { given: String, valid: String },
    #[error("sdk key {key:?}: {reason}")]
    BadSdkKey { key: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Kustomer: {0}")]
    Kustomer(#[from] KustomerError),
}

/// One field as the admin list shows it.
#[derive(Clone, Debug, Serialize)]
pub struct FieldListing {
    #[serde(flatten)]
    pub field: Field,
    pub resources: &'static [&'static str],
    /// `None` while not created.
    pub created: Option<CreatedField>,
}

/// Kustomer keeps an attribute once defined: deleting a field only stops the bridge filling it.
pub const DELETE_NOTE: &str = "The bridge no longer fills this field for new values. Kustomer keeps the attribute and the values already written (its API has no call that removes a custom attribute); hide it in Kustomer's Klasses settings if it should not show.";

/// Attributes the metadata answer carries about a property's history, not its definition:
/// left out when the definitions are sent back (the PUT is not documented to accept them).
const AUDIT_KEYS: [&str; 5] = [
    "createdAt",
    "createdBy",
    "modifiedAt",
    "modifiedBy",
    "updatedAt",
];

/// Makes sure `resource`'s metadata defines `attribute` with `display_name`, keeping every
/// other property: whether `PUT /v1/metadata/{resource}` merges or replaces is not documented
/// (kustomer-api.md, L), so the properties read are sent back with the new one. No PUT when it
/// is already there as wanted. Answers whether a PUT was made.
pub async fn ensure_property(
    kustomer: &KustomerClient,
    resource: &str,
    attribute: &str,
    display_name: &str,
) -> Result<bool, KustomerError> {
    let properties = kustomer.metadata(resource).await?.properties;
    if properties
        .get(attribute)
        .and_then(|p| p.get("displayName"))
        .and_then(Value::as_str)
        == Some(display_name)
    {
        return Ok(false);
    }
    let mut union: Map<String, Value> = properties
        .into_iter()
        .map(|(name, definition)| {
            let definition = match definition {
                Value::Object(mut fields) => {
                    for key in AUDIT_KEYS {
                        fields.remove(key);
                    }
                    Value::Object(fields)
                }
                other => other,
            };
            (name, definition)
        })
        .collect();
    let mut wanted = union
        .get(attribute)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    wanted.insert("displayName".into(), json!(display_name));
    union.insert(attribute.to_owned(), Value::Object(wanted));
    kustomer.put_metadata(resource, &union).await?;
    Ok(true)
}

pub struct FieldAdmin<'a> {
    pub store: &'a dyn StateStore,
    pub kustomer: &'a KustomerClient,
}

fn parse(id: &str) -> Result<FieldId, FieldAdminError> {
    FieldId::parse(id).ok_or_else(|| FieldAdminError::UnknownField {
        given: id.to_owned(),
        valid: FieldId::valid_ids(),
    })
}

impl FieldAdmin<'_> {
    pub async fn list(&self, now: UnixMillis) -> Result<Vec<FieldListing>, FieldAdminError> {
        let settings = FieldSettings::load(self.store, now).await?;
        Ok(CATALOGUE
            .iter()
            .map(|field| FieldListing {
                field: *field,
                resources: field.id.resources(),
                created: settings.fields.get(&field.id).cloned(),
            })
            .collect())
    }

    /// Provisions the field's attribute in Kustomer (every resource it goes on), then records
    /// it created — so no value is written before its attribute exists. Answers the listing and
    /// whether it was newly created.
    pub async fn create(
        &self,
        id: &str,
        by: &str,
        now: UnixMillis,
    ) -> Result<(FieldListing, bool), FieldAdminError> {
        let id = parse(id)?;
        let field = id.field();
        for resource in id.resources() {
            ensure_property(self.kustomer, resource, field.attribute, field.display_name).await?;
        }
        let (created, new) = settings::record_created(self.store, id, by, now).await?;
        tracing::info!(field = id.as_str(), new, "custom field created");
        Ok((
            FieldListing {
                field: *field,
                resources: id.resources(),
                created: Some(created),
            },
            new,
        ))
    }

    /// Stops filling the field; answers whether it had been created.
    pub async fn delete(&self, id: &str, now: UnixMillis) -> Result<bool, FieldAdminError> {
        let id = parse(id)?;
        let existed = settings::record_deleted(self.store, id, now).await?;
        tracing::info!(
            field = id.as_str(),
            existed,
            "custom field no longer filled"
        );
        Ok(existed)
    }

    pub async fn sdk_keys(
        &self,
        now: UnixMillis,
    ) -> Result<BTreeMap<String, SdkKeyTarget>, FieldAdminError> {
        Ok(FieldSettings::load(self.store, now).await?.sdk_keys)
    }

    /// Replaces the SDK key mapping. Each target is one of the twelve (by id or attribute) or
    /// an attribute the message metadata defines with a type the bridge can fill; a key whose
    /// target is unchanged keeps the moment it was first mapped (R-CF-3 applies to mappings
    /// too).
    pub async fn put_sdk_keys(
        &self,
        wanted: &BTreeMap<String, String>,
        now: UnixMillis,
    ) -> Result<BTreeMap<String, SdkKeyTarget>, FieldAdminError> {
        let before = FieldSettings::load(self.store, now).await?.sdk_keys;
        let mut message_properties: Option<Map<String, Value>> = None;
        let mut mapped = BTreeMap::new();
        for (key, target) in wanted {
            if key.trim().is_empty() {
                return Err(FieldAdminError::BadSdkKey {
                    key: key.clone(),
                    reason: "the key is empty".into(),
                });
            }
            let builtin = FieldId::parse(target).or_else(|| {
                CATALOGUE
                    .iter()
                    .find(|f| f.attribute == target.trim())
                    .map(|f| f.id)
            });
            let (attribute, field) = match builtin {
                Some(id) => (id.field().attribute.to_owned(), Some(id)),
                None => {
                    if message_properties.is_none() {
                        message_properties =
                            Some(self.kustomer.metadata("message").await?.properties);
                    }
                    let attribute = target.trim().to_owned();
                    let defined = message_properties
                        .as_ref()
                        .is_some_and(|p| p.contains_key(&attribute));
                    if !defined {
                        return Err(FieldAdminError::BadSdkKey {
                            key: key.clone(),
                            reason: format!(
                                "{attribute:?} is neither one of the fields ({}) nor an attribute of Kustomer's message metadata",
                                FieldId::valid_ids()
                            ),
                        });
                    }
                    if Suffix::of(&attribute).is_none() {
                        return Err(FieldAdminError::BadSdkKey {
                            key: key.clone(),
                            reason: format!(
                                "{attribute:?} has no type the bridge can fill (Str, Txt, Num, At, Bool, Url)"
                            ),
                        });
                    }
                    (attribute, None)
                }
            };
            let mapped_at_ms = before
                .get(key)
                .filter(|b| b.attribute == attribute)
                .map_or(now.0, |b| b.mapped_at_ms);
            mapped.insert(
                key.clone(),
                SdkKeyTarget {
                    attribute,
                    field,
                    mapped_at_ms,
                },
            );
        }
        settings::save_sdk_keys(self.store, &mapped).await?;
        Ok(mapped)
    }
}
