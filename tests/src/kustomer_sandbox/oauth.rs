//! Kustomer as an OAuth 2.0 provider (kustomer-api.md "Signing users in"), played strictly:
//! the authorization code grant with PKCE S256 only, a client (an app installed in the org) with
//! its registered `redirectUris` and its secret, codes single-use and short-lived, refresh
//! tokens. Refusals are RFC 6749's: on the authorize page, a bad client or redirect is shown
//! (never redirected to); at the token endpoint, `invalid_client` (401) for a wrong client or
//! secret and `invalid_grant` (400) for a reused, expired or unknown code, a redirect that is
//! not the code's, or a verifier that does not match its challenge.
//!
//! The browser's Kustomer sign-in is a cookie (`kustomer_web`) set by
//! `GET /__sandbox/browser-sign-in?user=<id>&next=<url>` — an agent is signed in to Kustomer
//! before its widget runs. Access tokens join the agent tokens: `GET /v1/users/current` with
//! one names its user.
//!
//! Which facts are unconfirmed (the bridge's `sign_in::oauth` says the same): the parameter
//! names are the standard ones and the token request is form-encoded (M); scopes are not
//! checked (their names are unknown, L).

// Handlers answer early with a page; a boxed Response would only add noise in test-side code.
#![allow(clippy::result_large_err)]

use super::{Sandbox, Shared};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use serde_json::json;
use sha2::Digest;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// An app installed in the org, as a client of the provider.
#[derive(Clone, Debug)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
    pub title: String,
}

#[derive(Clone, Debug)]
pub(super) struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    user: String,
    issued: Instant,
}

/// What the provider holds.
#[derive(Debug, Default)]
pub struct OAuthWorld {
    pub clients: Vec<OAuthClient>,
    pub(super) codes: HashMap<String, CodeGrant>,
    /// Refresh token → (client id, user id).
    pub(super) refresh_tokens: HashMap<String, (String, String)>,
    /// Browsers signed in to Kustomer: cookie value → user id.
    pub(super) browsers: HashMap<String, String>,
    /// Codes redeemed, and refusals given at the token endpoint (`error` values).
    pub tokens_issued: usize,
    pub refusals: Vec<String>,
    /// Consent given automatically (no page to click).
    pub auto_consent: bool,
    /// How long a code may wait for its exchange.
    pub code_lifetime: Option<Duration>,
}

const COOKIE: &str = "kustomer_web";

/// The provider of one sandbox, for its tests and the harnesses that register clients.
#[derive(Clone)]
pub struct OAuthProvider {
    pub sandbox: Shared,
    pub base_url: String,
}

impl OAuthProvider {
    /// Installs an app as an OAuth client with these redirect URIs (`POST /v1/apps/available`
    /// with `redirectUris`, then its secret minted: kustomer-api.md "Signing users in").
    pub fn register_client(&self, title: &str, redirect_uris: &[&str]) -> OAuthClient {
        let mut world = self.sandbox.world();
        let client = OAuthClient {
            client_id: format!("client-{}", world.new_id()),
            client_secret: format!("secret-{}", world.new_id()),
            redirect_uris: redirect_uris.iter().map(|u| (*u).to_owned()).collect(),
            title: title.to_owned(),
        };
        world.oauth.clients.push(client.clone());
        client
    }

    /// The URL that signs a browser in to Kustomer as the user, then sends it to `next`.
    pub fn browser_sign_in_url(&self, user_id: &str, next: &str) -> String {
        format!(
            "{}/__sandbox/browser-sign-in?{}",
            self.base_url,
            serde_urlencoded::to_string([("user", user_id), ("next", next)]).unwrap_or_default()
        )
    }

    /// Consent given without a page to click (`true`), or asked on the authorize page.
    pub fn set_auto_consent(&self, auto: bool) {
        self.sandbox.world().oauth.auto_consent = auto;
    }

    /// How long a code may wait for its exchange (default ten minutes).
    pub fn set_code_lifetime(&self, lifetime: Duration) {
        self.sandbox.world().oauth.code_lifetime = Some(lifetime);
    }

    /// The provider's record (clients, tokens issued, refusals given).
    pub fn inspect<T>(&self, f: impl FnOnce(&OAuthWorld) -> T) -> T {
        f(&self.sandbox.world().oauth)
    }
}

fn random(sandbox: &Sandbox) -> String {
    let mut world = sandbox.world();
    let id = world.new_id();
    let digest = sha2::Sha256::digest(format!("{id}{:?}", Instant::now()).as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
             <body><h1>{title}</h1>{body}</body></html>"
        )),
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn cookie_user(sandbox: &Sandbox, headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    let value = cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)?
        .1;
    sandbox.world().oauth.browsers.get(value).cloned()
}

fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

/// `GET /__sandbox/browser-sign-in?user=<id>&next=<url>`: this browser is now signed in to
/// Kustomer as the user (what the agent did before opening Kustomer).
pub(super) async fn browser_sign_in(
    State(sandbox): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(user) = query.get("user") else {
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "<p>user is required</p>",
        );
    };
    if sandbox.world().find("user", user).is_none() {
        return page(
            StatusCode::NOT_FOUND,
            "Sign-in failed",
            "<p>no such user</p>",
        );
    }
    let value = random(&sandbox);
    sandbox
        .world()
        .oauth
        .browsers
        .insert(value.clone(), user.clone());
    let next = query.get("next").cloned().unwrap_or_else(|| "/".into());
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, next)
        .header(
            header::SET_COOKIE,
            format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax"),
        )
        .body(axum::body::Body::empty())
        .unwrap_or_default()
}

/// The request's checks that decide whether the browser may be sent back to the client at all.
fn authorize_request(
    sandbox: &Sandbox,
    query: &HashMap<String, String>,
) -> Result<(OAuthClient, String), Response> {
    let client_id = query.get("client_id").cloned().unwrap_or_default();
    let client = sandbox
        .world()
        .oauth
        .clients
        .iter()
        .find(|c| c.client_id == client_id)
        .cloned()
        .ok_or_else(|| {
            page(
                StatusCode::BAD_REQUEST,
                "Invalid Client",
                "<p>This app is not installed in this org.</p>",
            )
        })?;
    let redirect = query.get("redirect_uri").cloned().unwrap_or_default();
    if !client.redirect_uris.contains(&redirect) {
        return Err(page(
            StatusCode::BAD_REQUEST,
            "Invalid redirect_uri",
            "<p>The redirect URI is not one the app declared.</p>",
        ));
    }
    Ok((client, redirect))
}

/// `GET /oauth/authorize`: the consent page (or, with auto consent, the redirect back).
pub(super) async fn authorize(
    State(sandbox): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (client, redirect) = match authorize_request(&sandbox, &query) {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let state = query.get("state").cloned().unwrap_or_default();
    let back_with_error = |error: &str, description: &str| {
        let mut pairs = vec![("error", error), ("error_description", description)];
        if !state.is_empty() {
            pairs.push(("state", state.as_str()));
        }
        redirect_to(&with_query(&redirect, &pairs))
    };
    if query.get("response_type").map(String::as_str) != Some("code") {
        return back_with_error("unsupported_response_type", "response_type must be code");
    }
    let challenge = query.get("code_challenge").cloned().unwrap_or_default();
    if query.get("code_challenge_method").map(String::as_str) != Some("S256")
        || challenge.len() < 43
    {
        return back_with_error("invalid_request", "PKCE with S256 is required");
    }
    let Some(user) = cookie_user(&sandbox, &headers) else {
        return page(
            StatusCode::OK,
            "Sign in to Kustomer",
            "<p>You are not signed in to Kustomer in this browser.</p>",
        );
    };
    if sandbox.world().oauth.auto_consent {
        return grant(&sandbox, &client, &redirect, &challenge, &user, &state);
    }
    let hidden: String = query
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    page(
        StatusCode::OK,
        "Authorize app",
        &format!(
            "<p id=\"consent\"><b>{}</b> wants to know who you are in Kustomer.</p>\
             <form method=\"post\" action=\"/oauth/authorize\">{hidden}\
             <button id=\"allow\" name=\"decision\" value=\"allow\">Allow</button>\
             <button id=\"deny\" name=\"decision\" value=\"deny\">Deny</button></form>",
            escape(&client.title)
        ),
    )
}

/// `POST /oauth/authorize`: the agent's click on the consent page.
pub(super) async fn consent(
    State(sandbox): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let (client, redirect) = match authorize_request(&sandbox, &form) {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let state = form.get("state").cloned().unwrap_or_default();
    let Some(user) = cookie_user(&sandbox, &headers) else {
        return page(StatusCode::UNAUTHORIZED, "Sign in to Kustomer", "");
    };
    if form.get("decision").map(String::as_str) != Some("allow") {
        return redirect_to(&with_query(
            &redirect,
            &[
                ("error", "access_denied"),
                ("error_description", "The user denied access"),
                ("state", state.as_str()),
            ],
        ));
    }
    let challenge = form.get("code_challenge").cloned().unwrap_or_default();
    grant(&sandbox, &client, &redirect, &challenge, &user, &state)
}

fn grant(
    sandbox: &Sandbox,
    client: &OAuthClient,
    redirect: &str,
    challenge: &str,
    user: &str,
    state: &str,
) -> Response {
    let code = random(sandbox);
    sandbox.world().oauth.codes.insert(
        code.clone(),
        CodeGrant {
            client_id: client.client_id.clone(),
            redirect_uri: redirect.to_owned(),
            challenge: challenge.to_owned(),
            user: user.to_owned(),
            issued: Instant::now(),
        },
    );
    let mut pairs = vec![("code", code.as_str())];
    if !state.is_empty() {
        pairs.push(("state", state));
    }
    redirect_to(&with_query(redirect, &pairs))
}

fn redirect_to(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, location)
        .body(axum::body::Body::empty())
        .unwrap_or_default()
}

fn refuse(sandbox: &Sandbox, status: StatusCode, error: &str, description: &str) -> Response {
    sandbox.world().oauth.refusals.push(error.to_owned());
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// `POST /oauth/token`: a form-encoded exchange of a code (with its PKCE verifier) or of a
/// refresh token.
pub(super) async fn token(
    State(sandbox): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form_encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_encoded {
        sandbox
            .world()
            .unexpected
            .push("POST /oauth/token: not form-encoded (RFC 6749 §4.1.3)".into());
        return refuse(
            &sandbox,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the request must be form-encoded",
        );
    }
    let form: HashMap<String, String> = match serde_urlencoded::from_bytes(&body) {
        Ok(form) => form,
        Err(_) => {
            return refuse(
                &sandbox,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "unreadable form",
            );
        }
    };
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let client = sandbox
        .world()
        .oauth
        .clients
        .iter()
        .find(|c| c.client_id == field("client_id"))
        .cloned();
    let Some(client) = client.filter(|c| c.client_secret == field("client_secret")) else {
        return refuse(
            &sandbox,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid Client",
        );
    };
    let user = match field("grant_type").as_str() {
        "authorization_code" => {
            // Single use: taken away whether or not the rest holds.
            let grant = sandbox.world().oauth.codes.remove(&field("code"));
            let lifetime = sandbox
                .world()
                .oauth
                .code_lifetime
                .unwrap_or(Duration::from_secs(600));
            let Some(grant) = grant else {
                return refuse(
                    &sandbox,
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the code is unknown or was used",
                );
            };
            let verifier_hash = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(field("code_verifier").as_bytes()));
            let problem = if grant.issued.elapsed() > lifetime {
                Some("the code expired")
            } else if grant.client_id != client.client_id {
                Some("the code was issued to another client")
            } else if grant.redirect_uri != field("redirect_uri") {
                Some("redirect_uri does not match the authorization request")
            } else if verifier_hash != grant.challenge {
                Some("code_verifier does not match the code_challenge")
            } else {
                None
            };
            if let Some(problem) = problem {
                return refuse(&sandbox, StatusCode::BAD_REQUEST, "invalid_grant", problem);
            }
            grant.user
        }
        "refresh_token" => {
            let found = sandbox
                .world()
                .oauth
                .refresh_tokens
                .get(&field("refresh_token"))
                .cloned();
            match found {
                Some((client_id, user)) if client_id == client.client_id => user,
                _ => {
                    return refuse(
                        &sandbox,
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "unknown refresh token",
                    );
                }
            }
        }
        _ => {
            return refuse(
                &sandbox,
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            );
        }
    };
    let access = random(&sandbox);
    let refresh = random(&sandbox);
    {
        let mut world = sandbox.world();
        world.agent_tokens.insert(access.clone(), user.clone());
        world
            .oauth
            .refresh_tokens
            .insert(refresh.clone(), (client.client_id.clone(), user));
        world.oauth.tokens_issued += 1;
    }
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 86400,
            "refresh_token": refresh,
        })),
    )
        .into_response()
}
