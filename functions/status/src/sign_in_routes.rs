//! `GET /agents/sign-in[?for=admin]`, `GET /agents/sign-in/callback`, `GET`/`DELETE
//! /agents/session` (events.md §3, R-SEC-1, R-ADM-3): the browser side of signing an agent — or,
//! with `for=admin`, an admin of the console — in with Kustomer.
//!
//! The widget opens the sign-in in a window of its own (Kustomer's pages refuse to be framed);
//! the callback page hands the new session to the widget that opened it with `postMessage`
//! to the bridge's own origin, and to nothing else — a sign-in link sent to someone else has no
//! such opener, so its session stays in that person's browser.

use crate::StatusApi;
use bridge_shared::UnixMillis;
use bridge_shared::lambda::{json_answer, json_error};
use bridge_shared::sign_in::{
    AgentSessions, BINDING_COOKIE, CALLBACK_PATH, Scope, SignIn, SignInError, flow::SIGN_IN_WINDOW,
};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

/// Where the bridge is reached from browsers: `BRIDGE_PUBLIC_URL` when set (a custom domain,
/// the local host), else the domain API Gateway received the request on (set by API Gateway,
/// not by the caller).
fn public_url(api: &StatusApi, request: &Request) -> Option<String> {
    if let Some(url) = &api.public_url {
        return Some(url.clone());
    }
    bridge_shared::lambda::gateway_base_url(request)
}

fn cookie<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request
        .headers()
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// Where browsers reach the bridge: over TLS or not, and the path in front of every route (the
/// REST API's stage, `/bridge`; empty on a custom domain or the local host).
struct Site {
    secure: bool,
    prefix: String,
}

impl Site {
    fn of(base: Option<&str>) -> Self {
        let url = base.and_then(|base| reqwest::Url::parse(base).ok());
        Self {
            secure: url.as_ref().is_some_and(|u| u.scheme() == "https"),
            prefix: url
                .as_ref()
                .map(|u| u.path().trim_end_matches('/').to_owned())
                .unwrap_or_default(),
        }
    }
}

fn binding_cookie(value: &str, site: &Site, max_age: u64) -> String {
    format!(
        "{BINDING_COOKIE}={value}; Path={}/agents/sign-in; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        site.prefix,
        if site.secure { "; Secure" } else { "" }
    )
}

/// A page of the sign-in window: no framing, no caching, only the bridge's own script.
fn page(status: StatusCode, body_attributes: &str, text: &str, site: &Site) -> Response<Body> {
    let prefix = escape(&site.prefix);
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>CCAI Platform sign-in</title><link rel=\"stylesheet\" href=\"{prefix}/widget/widget.css\">\
         <script src=\"{prefix}/widget/signed-in.js\" defer></script></head>\
         <body {body_attributes}><main><p id=\"result\" class=\"line\">{}</p></main></body></html>",
        escape(text)
    );
    Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .header(
            "content-security-policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; \
             base-uri 'none'; form-action 'none'",
        )
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("cache-control", "no-store")
        .header("set-cookie", binding_cookie("", site, 0))
        .body(Body::Text(html))
        .unwrap_or_default()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `GET /agents/sign-in`: to Kustomer's authorize page, with this browser bound to the sign-in.
pub async fn begin(api: &StatusApi, request: &Request, now: UnixMillis) -> Response<Body> {
    let Some(oauth) = &api.oauth else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "sign-in is not configured: set KUSTOMER_ORG, KUSTOMER_OAUTH_CLIENT_ID and KUSTOMER_OAUTH_CLIENT_SECRET",
        );
    };
    let Some(base) = public_url(api, request) else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the bridge's public URL is unknown: set BRIDGE_PUBLIC_URL",
        );
    };
    let flow = SignIn {
        oauth,
        store: api.store.as_ref(),
    };
    // `?for=admin`: the admin console's sign-in; its session opens the admin routes only.
    let scope = match request.query_string_parameters().first("for") {
        Some("admin") => Scope::Admin,
        _ => Scope::Agent,
    };
    match flow
        .begin(&format!("{base}{CALLBACK_PATH}"), scope, now)
        .await
    {
        Ok(begun) => Response::builder()
            .status(StatusCode::FOUND)
            .header("location", begun.location)
            .header(
                "set-cookie",
                binding_cookie(
                    &begun.binding,
                    &Site::of(Some(&base)),
                    SIGN_IN_WINDOW.as_secs(),
                ),
            )
            .header("cache-control", "no-store")
            .header("referrer-policy", "no-referrer")
            .body(Body::Empty)
            .unwrap_or_default(),
        Err(err) => {
            tracing::error!(error = %err, "state store failed beginning a sign-in");
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "state store unavailable; try again",
            )
        }
    }
}

/// `GET /agents/sign-in/callback?code&state` (or `?error`): the agent session, handed to the
/// widget that opened this window.
pub async fn callback(api: &StatusApi, request: &Request, now: UnixMillis) -> Response<Body> {
    let site = &Site::of(public_url(api, request).as_deref());
    let Some(oauth) = &api.oauth else {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "",
            "Sign-in is not configured on this bridge.",
            site,
        );
    };
    let query = request.query_string_parameters();
    let flow = SignIn {
        oauth,
        store: api.store.as_ref(),
    };
    let result = match (
        query.first("error"),
        query.first("state"),
        query.first("code"),
    ) {
        // Only for a sign-in this bridge began, and in the bridge's own words: a crafted link
        // shows no text of its author's on the bridge's origin.
        (Some(error), Some(state), _) => match flow.abandon(state, now).await {
            Ok(true) => Err(SignInError::Declined(kustomer_error(error))),
            Ok(false) => Err(SignInError::UnknownState),
            Err(err) => Err(err.into()),
        },
        (None, Some(state), Some(code)) => {
            flow.finish(state, code, cookie(request, BINDING_COOKIE), now)
                .await
        }
        _ => Err(SignInError::UnknownState),
    };
    match result {
        Ok((token, identity)) => {
            tracing::info!(session = %identity.id, "agent signed in");
            page(
                StatusCode::OK,
                &format!(
                    "data-session=\"{}\" data-email=\"{}\" data-expires-at=\"{}\"",
                    escape(&token),
                    escape(&identity.email),
                    identity.expires_at.to_iso()
                ),
                &format!(
                    "Signed in as {}. This window closes by itself.",
                    identity.email
                ),
                site,
            )
        }
        Err(err) => {
            let status = match &err {
                SignInError::UnknownState | SignInError::Declined(_) => StatusCode::BAD_REQUEST,
                SignInError::OtherBrowser => StatusCode::FORBIDDEN,
                SignInError::OAuth(bridge_shared::sign_in::OAuthError::Refused(_)) => {
                    StatusCode::FORBIDDEN
                }
                SignInError::OAuth(_) => StatusCode::BAD_GATEWAY,
                SignInError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            };
            tracing::warn!(error = %err, status = status.as_u16(), "sign-in not completed");
            page(status, "data-failed=\"true\"", &err.to_string(), site)
        }
    }
}

/// What an OAuth error code on the callback means, said by the bridge (RFC 6749 §4.1.2.1).
fn kustomer_error(code: &str) -> String {
    match code {
        "access_denied" => "you declined the app's request (access_denied)".into(),
        "invalid_request"
        | "unauthorized_client"
        | "unsupported_response_type"
        | "invalid_scope"
        | "server_error"
        | "temporarily_unavailable" => {
            format!("Kustomer answered {code}")
        }
        _ => "Kustomer refused the sign-in".into(),
    }
}

/// `GET /agents/session`: who the session belongs to (the widget checks a kept session).
pub async fn whoami(api: &StatusApi, request: &Request, now: UnixMillis) -> Response<Body> {
    match crate::agent::signed_in(api.store.as_ref(), request, now).await {
        Ok(identity) => json_answer(
            StatusCode::OK,
            json!({"email": identity.email, "expires_at": identity.expires_at.to_iso()}),
        ),
        Err(answer) => *answer,
    }
}

/// `DELETE /agents/session`: sign-out, of an agent's session or the admin console's.
pub async fn sign_out(api: &StatusApi, request: &Request, now: UnixMillis) -> Response<Body> {
    let token = crate::agent::bearer(request).unwrap_or_default();
    let identity = match AgentSessions::new(api.store.as_ref())
        .authenticate(token, now)
        .await
    {
        Ok(Some(identity)) => identity,
        Ok(None) => {
            return json_error(
                StatusCode::UNAUTHORIZED,
                "sign in with Kustomer first: no live session",
            );
        }
        Err(err) => {
            tracing::error!(error = %err, "state store failed reading a session");
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "state store unavailable; try again",
            );
        }
    };
    match AgentSessions::new(api.store.as_ref()).close(token).await {
        Ok(()) => {
            tracing::info!(session = %identity.id, "agent signed out");
            Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(Body::Empty)
                .unwrap_or_default()
        }
        Err(err) => {
            tracing::error!(error = %err, "state store failed ending a session");
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "state store unavailable; try again",
            )
        }
    }
}
