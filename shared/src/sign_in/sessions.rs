//! Agent sessions (R-SEC-1, events.md §3): what the bridge issues once Kustomer has said who
//! signed in. The browser holds a random 256-bit token; the store holds only its SHA-256, so a
//! copy of the table signs no one in. A session lives at most [`SESSION_LIFETIME`] and ends
//! earlier by sign-out or by the admin's revocation (every session of an agent).
//!
//! Items: `AGENT_SESSIONS` / `<sha256 of the token>`, body {id, user_id, email, created_at,
//! expires_at, scope}, expiring with the session (one partition: the admin lists them all at once).

use super::secrets::{digest, random_token};
use crate::UnixMillis;
use crate::store::{Item, ItemKey, StateStore, StoreError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The longest an agent session lives: one working day, then Kustomer is asked again.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

const PARTITION: &str = "AGENT_SESSIONS";

/// What a session may be used for, chosen when the sign-in began: an agent's widget, or the
/// admin console. Neither opens the other's routes, so the token a widget keeps in Kustomer's
/// frame for its working day is never an admin credential (review of issue 29, finding 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    #[default]
    Agent,
    Admin,
}

/// Who a request comes from, as established at sign-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentIdentity {
    /// A public name of the session (the start of its digest): the admin's handle, never a
    /// credential.
    pub id: String,
    /// The Kustomer user (`GET /v1/users/current` at sign-in).
    pub user_id: String,
    /// Their e-mail, lower-cased: the key of the agent everywhere else (R-S-3).
    pub email: String,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    /// Sessions issued before scopes existed were agents'.
    #[serde(default)]
    pub scope: Scope,
}

pub struct AgentSessions<'a> {
    store: &'a dyn StateStore,
}

fn key(token: &str) -> ItemKey {
    ItemKey::new(PARTITION, digest(token))
}

impl<'a> AgentSessions<'a> {
    pub fn new(store: &'a dyn StateStore) -> Self {
        Self { store }
    }

    /// A new agent session for the user; answers its token (shown once, to the signed-in
    /// browser).
    pub async fn open(
        &self,
        user_id: &str,
        email: &str,
        now: UnixMillis,
    ) -> Result<(String, AgentIdentity), StoreError> {
        self.open_for(Scope::Agent, user_id, email, now).await
    }

    /// A new session of the given scope for the user.
    pub async fn open_for(
        &self,
        scope: Scope,
        user_id: &str,
        email: &str,
        now: UnixMillis,
    ) -> Result<(String, AgentIdentity), StoreError> {
        let token = random_token();
        let key = key(&token);
        let identity = AgentIdentity {
            id: key.sk[..16].to_owned(),
            user_id: user_id.to_owned(),
            email: email.trim().to_lowercase(),
            created_at: now,
            expires_at: now.plus(SESSION_LIFETIME),
            scope,
        };
        let body = serde_json::to_value(&identity).map_err(|e| StoreError::Malformed {
            key: key.to_string(),
            reason: e.to_string(),
        })?;
        self.store
            .put(&Item::new(key, body).expiring_at(identity.expires_at))
            .await?;
        Ok((token, identity))
    }

    /// The live session a bearer token opens, if any (expired, revoked or unknown: none).
    pub async fn authenticate(
        &self,
        token: &str,
        now: UnixMillis,
    ) -> Result<Option<AgentIdentity>, StoreError> {
        // A token is 43 characters; anything else is not worth a read.
        if token.len() != 43 {
            return Ok(None);
        }
        let Some(item) = self.store.get(&key(token), now).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_value::<AgentIdentity>(item.body)
            .ok()
            .filter(|identity| identity.expires_at > now))
    }

    /// Sign-out: the session ends now.
    pub async fn close(&self, token: &str) -> Result<(), StoreError> {
        self.store.delete(&key(token)).await
    }

    /// Every live session.
    pub async fn list(&self, now: UnixMillis) -> Result<Vec<AgentIdentity>, StoreError> {
        Ok(self
            .store
            .list_partition(PARTITION, now)
            .await?
            .into_iter()
            .filter_map(|item| serde_json::from_value::<AgentIdentity>(item.body).ok())
            .filter(|identity| identity.expires_at > now)
            .collect())
    }

    /// Ends every session issued to this Kustomer user (a deactivated user's; another user who
    /// since has the same e-mail keeps theirs); answers how many.
    pub async fn revoke_user(&self, user_id: &str, now: UnixMillis) -> Result<usize, StoreError> {
        let mut ended = 0;
        for item in self.store.list_partition(PARTITION, now).await? {
            if item.body["user_id"].as_str() == Some(user_id) {
                self.store.delete(&item.key).await?;
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// Ends every session of the agent (the admin's revocation); answers how many.
    pub async fn revoke(&self, email: &str, now: UnixMillis) -> Result<usize, StoreError> {
        let email = email.trim().to_lowercase();
        let mut ended = 0;
        for item in self.store.list_partition(PARTITION, now).await? {
            if item.body["email"].as_str() == Some(email.as_str()) {
                self.store.delete(&item.key).await?;
                ended += 1;
            }
        }
        Ok(ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EmbeddedStore;

    #[tokio::test]
    async fn revoking_a_user_ends_only_that_users_sessions() {
        let store = EmbeddedStore::new();
        let sessions = AgentSessions::new(&store);
        let now = UnixMillis(1_900_000_000_000);
        // A deactivated user, and a new user given the same e-mail since.
        let (old, _) = sessions
            .open("u-old", "ana@example.com", now)
            .await
            .unwrap();
        let (new, _) = sessions
            .open("u-new", "ana@example.com", now)
            .await
            .unwrap();
        assert_eq!(sessions.revoke_user("u-old", now).await.unwrap(), 1);
        assert!(sessions.authenticate(&old, now).await.unwrap().is_none());
        assert_eq!(
            sessions
                .authenticate(&new, now)
                .await
                .unwrap()
                .map(|i| i.user_id),
            Some("u-new".to_owned())
        );
    }
}
