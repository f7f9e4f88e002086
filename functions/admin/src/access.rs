//! Who an admin request comes from (R-ADM-3, events.md §4): a script with the bearer
//! `ADMIN_TOKEN`, or an admin signed in through Kustomer — the agents' own sign-in begun for the
//! console (`/agents/sign-in?for=admin`, R-SEC-1): a session of the admin scope, whose e-mail is
//! on `ADMIN_EMAILS` and whom Kustomer lists as an active user. The console never asks anyone to
//! paste a shared secret: it opens the sign-in window and is handed a session.

use bridge_shared::UnixMillis;
use bridge_shared::kustomer::KustomerClient;
use bridge_shared::lambda::json_error;
use bridge_shared::sign_in::standing::{self, Standing};
use bridge_shared::sign_in::{AgentSessions, Scope};
use bridge_shared::store::StateStore;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use std::collections::BTreeSet;

/// `ADMIN_EMAILS`: the Kustomer users (by e-mail, any case) who may use the console. Empty:
/// only `ADMIN_TOKEN` is accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdminEmails(BTreeSet<String>);

impl AdminEmails {
    /// Comma- or space-separated e-mails; a value that is no e-mail is refused by name, so a
    /// typo does not lock an admin out in silence.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        let mut emails = BTreeSet::new();
        for entry in value
            .unwrap_or_default()
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
        {
            let valid = entry
                .split_once('@')
                .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'));
            if !valid {
                return Err(format!(
                    "ADMIN_EMAILS: {entry:?} is not an e-mail address (comma-separated Kustomer users' e-mails)"
                ));
            }
            emails.insert(entry.to_lowercase());
        }
        Ok(Self(emails))
    }

    pub fn allows(&self, email: &str) -> bool {
        self.0.contains(&email.to_lowercase())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Who made a request, as the record of a change names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A script holding `ADMIN_TOKEN`.
    Token,
    /// A Kustomer user on `ADMIN_EMAILS`, signed in; `session` is the session's public name.
    Admin { email: String, session: String },
}

impl Caller {
    /// The name a change is recorded under (`created_by`, the log's `actor`).
    pub fn name(&self) -> &str {
        match self {
            Caller::Token => "ADMIN_TOKEN",
            Caller::Admin { email, .. } => email,
        }
    }
}

/// What the request's bearer opens, or the answer to give: 401 without a token the bridge
/// knows, 403 for a signed-in user who is not an admin, 503 when the store cannot say.
pub async fn caller(
    tokens: &bridge_shared::bearer::RotatingTokens,
    admins: &AdminEmails,
    store: &dyn StateStore,
    kustomer: &KustomerClient,
    request: &Request,
    now: UnixMillis,
) -> Result<Caller, Box<Response<Body>>> {
    let header = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if tokens.accepts(header).await {
        return Ok(Caller::Token);
    }
    let unauthorised = || {
        Box::new(json_error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token: sign in with Kustomer (an e-mail on ADMIN_EMAILS) or send ADMIN_TOKEN",
        ))
    };
    let token = header
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let (Some(token), false) = (token, admins.is_empty()) else {
        return Err(unauthorised());
    };
    let identity = match AgentSessions::new(store).authenticate(token, now).await {
        Ok(Some(identity)) => identity,
        Ok(None) => return Err(unauthorised()),
        Err(err) => {
            tracing::error!(error = %err, "state store failed reading a sign-in session");
            return Err(Box::new(json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "state store unavailable; try again",
            )));
        }
    };
    // The widget's session (kept by the agent's browser for its working day, inside Kustomer's
    // frame) is not an admin credential, even for an admin: the console signs in for itself.
    if identity.scope != Scope::Admin {
        return Err(Box::new(json_error(
            StatusCode::FORBIDDEN,
            "an agent's session: sign in from the admin console",
        )));
    }
    if !admins.allows(&identity.email) {
        tracing::warn!(session = %identity.id, "a signed-in user who is not an admin asked the admin API");
        return Err(Box::new(json_error(
            StatusCode::FORBIDDEN,
            "signed in, but not as an admin: this Kustomer user's e-mail is not on ADMIN_EMAILS",
        )));
    }
    // An admin Kustomer has deactivated stops being one now, not when the session expires
    // (the same rule as the agents' routes).
    let standing =
        standing::standing(store, kustomer, &identity.user_id, &identity.email, now).await;
    if standing == Standing::Unsure {
        // An admin is let in only on Kustomer's word that the user is an active user of the
        // org this bridge's key reads — not when Kustomer is slow, or does not list them.
        return Err(Box::new(json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Kustomer did not confirm that this user is active in the org; try again",
        )));
    }
    if standing == Standing::Deactivated {
        tracing::warn!(session = %identity.id, "the admin's Kustomer user is deactivated: the user's sessions end");
        if let Err(err) = AgentSessions::new(store)
            .revoke_user(&identity.user_id, now)
            .await
        {
            tracing::error!(error = %err, "state store failed ending the sessions");
        }
        return Err(Box::new(json_error(
            StatusCode::UNAUTHORIZED,
            "this Kustomer user is deactivated",
        )));
    }
    Ok(Caller::Admin {
        email: identity.email,
        session: identity.id,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn r_adm_3_admin_emails_are_matched_in_any_case_and_a_typo_is_named() {
        let admins = AdminEmails::parse(Some(" Ana@Example.com, bo@example.org ")).unwrap();
        assert!(admins.allows("ana@example.com"));
        assert!(admins.allows("BO@example.org"));
        assert!(!admins.allows("eve@example.com"));
        assert!(AdminEmails::parse(None).unwrap().is_empty());
        let err = AdminEmails::parse(Some("ana@example.com,bo-example.org")).unwrap_err();
        assert!(err.contains("\"bo-example.org\""), "{err}");
    }
}
