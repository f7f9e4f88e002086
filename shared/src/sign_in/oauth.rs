//! Kustomer as the agents' OAuth 2.0 provider (kustomer-api.md "Signing users in", R-SEC-1):
//! the authorization code grant with PKCE S256, on the customer's own org.
//!
//! What is known and how sure (every guess lives in this file, nowhere else):
//! - Authorize `https://<org>.kustomerapp.com/oauth/authorize`, token
//!   `https://<org>.api.kustomerapp.com/oauth/token` (H: developer.kustomer.com/docs/get-started/oauth).
//! - PKCE S256 with `state`; confidential clients send `client_secret` on the token request
//!   (H, same page).
//! - The authorize query's parameter names and the token request's encoding are not on the
//!   page as far as it could be read: the standard ones (RFC 6749 §4.1.1, §4.1.3: a
//!   form-encoded body; RFC 7636 §4.3) are used (M; client snippets seen in the wild post a
//!   form). Scopes exist but their names could not be confirmed: `KUSTOMER_OAUTH_SCOPES` passes
//!   them through when a tenant needs them (L).
//! - The access token acts as the user: `GET /v1/users/current` names them (H;
//!   `data.id`, `data.attributes.email` per the OpenAPI client `LarisLab/kustomer-client`,
//!   `GetCurrentUserResponses`).
//!
//! The access token is used once, to learn who signed in, and then dropped: the bridge keeps
//! no user credential (it acts with its own key; refresh tokens are not asked for).

use crate::config::Secret;
use serde::Deserialize;

/// Where and as whom the bridge signs agents in.
#[derive(Clone, Debug)]
pub struct OAuthSettings {
    /// The org's authorize page.
    pub authorize_url: String,
    /// The org's token endpoint.
    pub token_url: String,
    /// The Kustomer API, for `GET /v1/users/current` (`KUSTOMER_BASE_URL`).
    pub api_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Space-separated, sent only when set (`KUSTOMER_OAUTH_SCOPES`).
    pub scopes: Option<String>,
}

impl OAuthSettings {
    /// The endpoints of an org by its sign-in name (`acme` for `acme.kustomerapp.com`).
    pub fn endpoints_of(org: &str) -> (String, String) {
        (
            format!("https://{org}.kustomerapp.com/oauth/authorize"),
            format!("https://{org}.api.kustomerapp.com/oauth/token"),
        )
    }

    /// The page the agent's browser is sent to.
    pub fn authorize_location(&self, redirect_uri: &str, state: &str, challenge: &str) -> String {
        let mut url = format!(
            "{}?response_type=code&client_id={}&redirect_uri={}&state={}&code_challenge={}&code_challenge_method=S256",
            self.authorize_url,
            encode(&self.client_id),
            encode(redirect_uri),
            encode(state),
            encode(challenge),
        );
        if let Some(scopes) = &self.scopes {
            url.push_str("&scope=");
            url.push_str(&encode(scopes));
        }
        url
    }
}

/// RFC 3986 percent-encoding, unreserved characters kept (the Kustomer client's own).
fn encode(value: &str) -> String {
    crate::kustomer::encode_segment(value)
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The provider refused the code (`invalid_grant`: reused, expired, another verifier or
    /// redirect) or the client (`invalid_client`): the agent signs in again.
    #[error("Kustomer refused the sign-in: {0}")]
    Refused(String),
    /// The provider could not be reached or answered something unreadable.
    #[error("Kustomer's sign-in could not be completed: {0}")]
    Unavailable(String),
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
}

#[derive(Deserialize)]
struct OAuthErrorAnswer {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct CurrentUser {
    data: CurrentUserData,
}

#[derive(Deserialize)]
struct CurrentUserData {
    id: String,
    attributes: CurrentUserAttributes,
}

#[derive(Deserialize)]
struct CurrentUserAttributes {
    #[serde(default)]
    email: Option<String>,
}

/// Who Kustomer says signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedInUser {
    pub user_id: String,
    pub email: String,
}

/// The client of the provider.
pub struct KustomerOAuth {
    pub settings: OAuthSettings,
    pub http: reqwest::Client,
}

impl KustomerOAuth {
    /// Exchanges the code (with its verifier) and asks Kustomer who the token belongs to.
    pub async fn signed_in_user(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<SignedInUser, OAuthError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", self.settings.client_id.as_str()),
            ("client_secret", self.settings.client_secret.expose()),
            ("code_verifier", verifier),
        ];
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let answer = self
            .http
            .post(&self.settings.token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| OAuthError::Unavailable(unreachable(&e)))?;
        let status = answer.status();
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| OAuthError::Unavailable(unreachable(&e)))?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<OAuthErrorAnswer>(&bytes) {
                Ok(refusal) if status.is_client_error() => {
                    OAuthError::Refused(match refusal.error_description {
                        Some(text) => format!("{}: {}", refusal.error, clip(&text)),
                        None => refusal.error,
                    })
                }
                _ if status.is_client_error() => OAuthError::Refused(format!("HTTP {status}")),
                _ => OAuthError::Unavailable(format!("the token endpoint answered {status}")),
            });
        }
        let token: TokenAnswer = serde_json::from_slice(&bytes).map_err(|_| {
            OAuthError::Unavailable("the token endpoint's answer has no access_token".into())
        })?;
        let answer = self
            .http
            .get(format!("{}/v1/users/current", self.settings.api_url))
            .bearer_auth(&token.access_token)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| OAuthError::Unavailable(unreachable(&e)))?;
        let status = answer.status();
        if !status.is_success() {
            return Err(OAuthError::Unavailable(format!(
                "GET /v1/users/current answered {status}"
            )));
        }
        let user: CurrentUser = answer
            .json()
            .await
            .map_err(|_| OAuthError::Unavailable("the current user could not be read".into()))?;
        let email = user
            .data
            .attributes
            .email
            .filter(|e| e.contains('@'))
            .ok_or_else(|| OAuthError::Refused("the Kustomer user has no e-mail".into()))?;
        Ok(SignedInUser {
            user_id: user.data.id,
            email: email.trim().to_lowercase(),
        })
    }
}

/// A transport failure without its URL (reqwest's texts carry it; no URL in error texts, S4).
fn unreachable(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    format!("the request {kind}")
}

fn clip(text: &str) -> String {
    text.chars().take(200).collect()
}
