//! Who an agent route's request comes from (R-SEC-1, events.md §3): the agent session its
//! `Authorization: Bearer` opens, issued at sign-in from what Kustomer said. A body may still
//! name an agent (older widgets did); naming another than the session's is refused.

use bridge_shared::UnixMillis;
use bridge_shared::lambda::json_error;
use bridge_shared::sign_in::standing::{self, Standing};
use bridge_shared::sign_in::{AgentIdentity, AgentSessions, Scope};
use bridge_shared::store::StateStore;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

/// The bearer token of the request, if it carries one.
pub fn bearer(request: &Request) -> Option<&str> {
    request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The signed-in agent, or the answer to give: 401 without a live session, 503 when the store
/// cannot say.
pub async fn signed_in(
    store: &dyn StateStore,
    request: &Request,
    now: UnixMillis,
) -> Result<AgentIdentity, Box<Response<Body>>> {
    let unauthorised = || {
        Box::new(json_error(
            StatusCode::UNAUTHORIZED,
            "sign in with Kustomer first: no live agent session",
        ))
    };
    let Some(token) = bearer(request) else {
        return Err(unauthorised());
    };
    match AgentSessions::new(store).authenticate(token, now).await {
        // The admin console's session is not an agent's: it opens the admin routes only.
        Ok(Some(identity)) if identity.scope == Scope::Agent => Ok(identity),
        Ok(Some(_)) => Err(Box::new(json_error(
            StatusCode::UNAUTHORIZED,
            "an admin console session: sign in from the widget",
        ))),
        Ok(None) => Err(unauthorised()),
        Err(err) => {
            tracing::error!(error = %err, "state store failed reading an agent session");
            Err(Box::new(json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "state store unavailable; try again",
            )))
        }
    }
}

/// The session's Kustomer user must still stand (`bridge_shared::sign_in::standing`): once
/// Kustomer lists the user as deactivated, every session issued to that user ends and the
/// request is refused, instead of living out its 12 hours. When Kustomer cannot say, or is
/// unsure, the request goes on: the session was proven at sign-in, and a slow or unreachable
/// Kustomer should not sign every agent out.
pub async fn still_active(
    api: &crate::StatusApi,
    identity: AgentIdentity,
    now: UnixMillis,
) -> Result<AgentIdentity, Box<Response<Body>>> {
    let standing = standing::standing(
        api.store.as_ref(),
        api.service.kustomer(),
        &identity.user_id,
        &identity.email,
        now,
    )
    .await;
    if standing != Standing::Deactivated {
        return Ok(identity);
    }
    tracing::warn!(
        session = %identity.id,
        "the session's Kustomer user is deactivated: the user's sessions end"
    );
    if let Err(err) = AgentSessions::new(api.store.as_ref())
        .revoke_user(&identity.user_id, now)
        .await
    {
        tracing::error!(error = %err, "state store failed ending the sessions");
    }
    Err(Box::new(json_error(
        StatusCode::UNAUTHORIZED,
        "your Kustomer user is no longer active: the bridge session has ended",
    )))
}

/// The 403 to give when the body names an agent other than the signed-in one.
pub fn other_agent(identity: &AgentIdentity, named: Option<&str>) -> Option<Response<Body>> {
    match named.map(str::trim).filter(|n| !n.is_empty()) {
        Some(named) if !named.eq_ignore_ascii_case(&identity.email) => Some(json_error(
            StatusCode::FORBIDDEN,
            "the request names another agent than the one signed in",
        )),
        _ => None,
    }
}

/// The lease owner of one tab of one session: another session (even the same agent's in
/// another browser) cannot take it by reusing the tab's id (review S2).
pub fn lease_owner(identity: &AgentIdentity, instance_id: &str) -> String {
    format!("{}/{}", identity.id, instance_id)
}
