//! Kustomer ids the bridge has already resolved, cached in the state store so a session costs
//! as few Kustomer calls as possible (the org's budget is shared by everything in it).
//!
//! A phone number or SDK identifier resolves to a customer once: from the cache (no call), else
//! by lookup (one call), else by creating it with a derived `externalId` (one call; a lost
//! answer or a concurrent creator is found by that id, never duplicated). The mapping is then
//! written with a put-if-absent, so concurrent workers agree on one id.

use super::requests::{NewCustomer, NewPhone};
use super::{KustomerClient, KustomerError};
use crate::UnixMillis;
use crate::store::{Item, ItemKey, PutOutcome, StateStore, StoreError};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error(transparent)]
    Kustomer(#[from] KustomerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl crate::Retryable for DirectoryError {
    fn is_retryable(&self) -> bool {
        match self {
            DirectoryError::Kustomer(err) => err.is_retryable(),
            DirectoryError::Store(err) => err.is_retryable(),
        }
    }
}

/// How a customer id was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// From the state store: no Kustomer call.
    Cached,
    /// By a Kustomer lookup.
    Found,
    /// Created now (R-K-1, R-K-2): the caller may assign it (R-K-3).
    Created,
}

pub struct CustomerDirectory<'a> {
    kustomer: &'a KustomerClient,
    store: &'a dyn StateStore,
}

/// The `externalId` of a customer the bridge creates for a phone number.
pub fn phone_external_id(e164: &str) -> String {
    format!("ccai-phone-{e164}")
}

/// The `externalId` of a customer the bridge creates for an SDK end-user identifier.
pub fn identifier_external_id(identifier: &str) -> String {
    format!("ccai-user-{identifier}")
}

impl<'a> CustomerDirectory<'a> {
    pub fn new(kustomer: &'a KustomerClient, store: &'a dyn StateStore) -> Self {
        Self { kustomer, store }
    }

    async fn cached(
        &self,
        key: &ItemKey,
        now: UnixMillis,
    ) -> Result<Option<String>, DirectoryError> {
        Ok(self
            .store
            .get(key, now)
            .await?
            .and_then(|item| item.body.get("customer_id")?.as_str().map(str::to_owned)))
    }

    /// Records `customer_id` for `key` unless another worker recorded one first (theirs wins).
    async fn remember(
        &self,
        key: ItemKey,
        customer_id: String,
        now: UnixMillis,
    ) -> Result<String, DirectoryError> {
        let item = Item::new(key, json!({ "customer_id": customer_id }));
        match self.store.put_if_absent(&item, now).await? {
            PutOutcome::Written => Ok(customer_id),
            PutOutcome::Kept(existing) => Ok(existing
                .body
                .get("customer_id")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .unwrap_or(customer_id)),
        }
    }

    /// Forgets `customer_id` wherever this session's caller is cached (by SDK identifier, by
    /// number): Kustomer merged or deleted it, and the next lookup finds the one that stands.
    pub async fn forget(
        &self,
        customer_id: &str,
        identifier: Option<&str>,
        phone: Option<&str>,
        country: &crate::config::CountryCode,
    ) -> Result<(), DirectoryError> {
        let mut keys = Vec::new();
        if let Some(identifier) = identifier {
            keys.push(ItemKey::customer_by_identifier(identifier));
        }
        if let Some(crate::phone::CallerNumber::E164(e164)) =
            phone.map(|p| crate::phone::normalise(p, country))
        {
            keys.push(ItemKey::customer_by_phone(&e164));
        }
        for key in keys {
            if self
                .store
                .get(&key, crate::UnixMillis::now())
                .await?
                .is_some_and(|item| item.body["customer_id"].as_str() == Some(customer_id))
            {
                self.store.delete(&key).await?;
            }
        }
        Ok(())
    }

    /// The customer with this E.164 number, created if Kustomer has none (R-K-1).
    pub async fn customer_for_phone(
        &self,
        e164: &str,
        name: Option<&str>,
        now: UnixMillis,
    ) -> Result<(String, Resolved), DirectoryError> {
        if let Some(known) = self.known_phone(e164, now).await? {
            return Ok(known);
        }
        Ok((
            self.create_for_phone(e164, name, now).await?,
            Resolved::Created,
        ))
    }

    /// The customer with this E.164 number if one exists: cached, else looked up.
    pub async fn known_phone(
        &self,
        e164: &str,
        now: UnixMillis,
    ) -> Result<Option<(String, Resolved)>, DirectoryError> {
        let key = ItemKey::customer_by_phone(e164);
        if let Some(id) = self.cached(&key, now).await? {
            return Ok(Some((id, Resolved::Cached)));
        }
        match self.kustomer.customer_by_phone(e164).await? {
            Some(found) => Ok(Some((
                self.remember(key, found.id, now).await?,
                Resolved::Found,
            ))),
            None => Ok(None),
        }
    }

    /// Creates the customer of this E.164 number (its `externalId` is
    /// [`phone_external_id`]) and caches it. A caller that must know whether the customer is
    /// its own (R-K-3) records that it begins before calling: a lost answer leaves a customer
    /// that the next [`Self::known_phone`] finds.
    pub async fn create_for_phone(
        &self,
        e164: &str,
        name: Option<&str>,
        now: UnixMillis,
    ) -> Result<String, DirectoryError> {
        Ok(self
            .create_for_phone_with(e164, name, Default::default(), now)
            .await?
            .0)
    }

    /// [`Self::create_for_phone`] with custom attributes set at once (`custom` on the create,
    /// kustomer-api.md; issue 27: no patch of their own), saying whether this request wrote
    /// the customer (`false`: found, as someone else wrote it, perhaps without them).
    pub async fn create_for_phone_with(
        &self,
        e164: &str,
        name: Option<&str>,
        custom: serde_json::Map<String, serde_json::Value>,
        now: UnixMillis,
    ) -> Result<(String, bool), DirectoryError> {
        let (created, written) = self
            .kustomer
            .create_customer_noting(&NewCustomer {
                name: Some(name.map_or_else(|| e164.to_owned(), str::to_owned)),
                external_id: Some(phone_external_id(e164)),
                phones: vec![NewPhone {
                    kind: Some("mobile".into()),
                    phone: e164.to_owned(),
                }],
                custom,
                ..Default::default()
            })
            .await?;
        let id = self
            .remember(ItemKey::customer_by_phone(e164), created.id, now)
            .await?;
        Ok((id, written))
    }

    /// The customer of a mobile/web SDK end user, created if Kustomer has none (R-K-2).
    pub async fn customer_for_identifier(
        &self,
        identifier: &str,
        name: Option<&str>,
        now: UnixMillis,
    ) -> Result<(String, Resolved), DirectoryError> {
        if let Some(known) = self.known_identifier(identifier, now).await? {
            return Ok(known);
        }
        Ok((
            self.create_for_identifier(identifier, name, now).await?,
            Resolved::Created,
        ))
    }

    /// The customer of this SDK identifier if one exists: cached, else found by its
    /// `externalId` ([`identifier_external_id`]).
    pub async fn known_identifier(
        &self,
        identifier: &str,
        now: UnixMillis,
    ) -> Result<Option<(String, Resolved)>, DirectoryError> {
        let key = ItemKey::customer_by_identifier(identifier);
        if let Some(id) = self.cached(&key, now).await? {
            return Ok(Some((id, Resolved::Cached)));
        }
        let external_id = identifier_external_id(identifier);
        match self.kustomer.customer_by_external_id(&external_id).await? {
            Some(found) => Ok(Some((
                self.remember(key, found.id, now).await?,
                Resolved::Found,
            ))),
            None => Ok(None),
        }
    }

    /// Creates the customer of this SDK identifier and caches it (see
    /// [`Self::create_for_phone`] on knowing it is one's own).
    pub async fn create_for_identifier(
        &self,
        identifier: &str,
        name: Option<&str>,
        now: UnixMillis,
    ) -> Result<String, DirectoryError> {
        Ok(self
            .create_for_identifier_with(identifier, name, Default::default(), now)
            .await?
            .0)
    }

    /// [`Self::create_for_identifier`] with custom attributes set at once, saying whether
    /// this request wrote the customer.
    pub async fn create_for_identifier_with(
        &self,
        identifier: &str,
        name: Option<&str>,
        custom: serde_json::Map<String, serde_json::Value>,
        now: UnixMillis,
    ) -> Result<(String, bool), DirectoryError> {
        let (created, written) = self
            .kustomer
            .create_customer_noting(&NewCustomer {
                name: name.map(str::to_owned),
                external_id: Some(identifier_external_id(identifier)),
                custom,
                ..Default::default()
            })
            .await?;
        let id = self
            .remember(ItemKey::customer_by_identifier(identifier), created.id, now)
            .await?;
        Ok((id, written))
    }
}
