//! The sign-in flow (events.md §3): `GET /agents/sign-in` begins it, Kustomer's authorize page
//! asks the agent, `GET /agents/sign-in/callback` ends it with an agent session.
//!
//! Each begun sign-in is kept for [`SIGN_IN_WINDOW`] under the SHA-256 of its `state`, with
//! its PKCE verifier and the SHA-256 of a browser binding: a random value set as a cookie on
//! the browser that began it. The callback must bring both the `state` and that cookie, and
//! takes the record away (single use), so a code obtained in another browser — a sign-in link
//! sent to a victim, a replayed callback URL — opens no session.

use super::oauth::{KustomerOAuth, OAuthError};
use super::secrets::{digest, random_token, s256_challenge, same};
use super::sessions::{AgentIdentity, AgentSessions, Scope};
use crate::UnixMillis;
use crate::store::{Item, ItemKey, StateStore, StoreError};
use serde_json::json;
use std::time::Duration;

/// How long a begun sign-in waits for its callback.
pub const SIGN_IN_WINDOW: Duration = Duration::from_secs(600);

/// The cookie binding a sign-in to its browser (sent back only to the callback's path).
pub const BINDING_COOKIE: &str = "bridge_sign_in";

/// The callback's path (its absolute URL is the `redirect_uri` registered in the app).
pub const CALLBACK_PATH: &str = "/agents/sign-in/callback";

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// No such sign-in: never begun, already used, or older than [`SIGN_IN_WINDOW`].
    #[error("this sign-in is unknown, used or expired; sign in again")]
    UnknownState,
    /// The callback came to a browser other than the one that began the sign-in.
    #[error("this sign-in was begun in another browser; sign in again")]
    OtherBrowser,
    /// The agent declined, or Kustomer refused the request (`error` on the callback).
    #[error("Kustomer did not sign you in: {0}")]
    Declined(String),
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where to send the browser, and the cookie to set on it.
pub struct Begun {
    pub location: String,
    pub binding: String,
}

fn key(state: &str) -> ItemKey {
    ItemKey::new(format!("SIGN_IN#{}", digest(state)), "STATE")
}

pub struct SignIn<'a> {
    pub oauth: &'a KustomerOAuth,
    pub store: &'a dyn StateStore,
}

impl SignIn<'_> {
    /// Begins a sign-in whose callback is `redirect_uri`, for a session of `scope`.
    pub async fn begin(
        &self,
        redirect_uri: &str,
        scope: Scope,
        now: UnixMillis,
    ) -> Result<Begun, StoreError> {
        let state = random_token();
        let verifier = random_token();
        let binding = random_token();
        let record = json!({
            "verifier": verifier,
            "binding": digest(&binding),
            "redirect_uri": redirect_uri,
            "scope": scope,
        });
        self.store
            .put(&Item::new(key(&state), record).expiring_at(now.plus(SIGN_IN_WINDOW)))
            .await?;
        Ok(Begun {
            location: self.oauth.settings.authorize_location(
                redirect_uri,
                &state,
                &s256_challenge(&verifier),
            ),
            binding,
        })
    }

    /// Ends a sign-in Kustomer answered with an error (`?error=…&state=…`): whether it was one
    /// this bridge began (then it is used up). An error without a known `state` is nobody's.
    pub async fn abandon(&self, state: &str, now: UnixMillis) -> Result<bool, StoreError> {
        let key = key(state);
        if self.store.get(&key, now).await?.is_none() {
            return Ok(false);
        }
        self.store.delete(&key).await?;
        Ok(true)
    }

    /// Ends a sign-in: the callback's `state` and `code`, and the browser's binding cookie.
    pub async fn finish(
        &self,
        state: &str,
        code: &str,
        binding: Option<&str>,
        now: UnixMillis,
    ) -> Result<(String, AgentIdentity), SignInError> {
        let key = key(state);
        let record = self
            .store
            .get(&key, now)
            .await?
            .ok_or(SignInError::UnknownState)?;
        // Single use, whatever happens next.
        self.store.delete(&key).await?;
        let stored = record.body["binding"].as_str().unwrap_or_default();
        if !binding.is_some_and(|b| same(&digest(b), stored)) {
            return Err(SignInError::OtherBrowser);
        }
        let verifier = record.body["verifier"].as_str().unwrap_or_default();
        let redirect_uri = record.body["redirect_uri"].as_str().unwrap_or_default();
        let user = self
            .oauth
            .signed_in_user(code, verifier, redirect_uri)
            .await?;
        let scope: Scope = serde_json::from_value(record.body["scope"].clone()).unwrap_or_default();
        Ok(AgentSessions::new(self.store)
            .open_for(scope, &user.user_id, &user.email, now)
            .await?)
    }
}
