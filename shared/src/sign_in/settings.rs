//! Sign-in configuration, read once at cold start (public names; docs/configuration.md):
//! `KUSTOMER_ORG` (the org's sign-in name: `acme` for `acme.kustomerapp.com`),
//! `KUSTOMER_OAUTH_CLIENT_ID`, `KUSTOMER_OAUTH_CLIENT_SECRET` (or `…_PARAM`, an SSM
//! parameter), optional `KUSTOMER_OAUTH_SCOPES`, and `KUSTOMER_OAUTH_AUTHORIZE_URL` /
//! `KUSTOMER_OAUTH_TOKEN_URL` for a stand-in of Kustomer (they replace the org's endpoints);
//! `BRIDGE_PUBLIC_URL`, the bridge's origin as browsers reach it, when not API Gateway's own.

use super::oauth::OAuthSettings;
use crate::config::{ConfigError, Env, ParameterStore, optional_secrets};

fn text(env: &Env, var: &str) -> Option<String> {
    env.get(var)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn url(env: &Env, var: &str) -> Result<Option<String>, ConfigError> {
    match text(env, var) {
        Some(value) if value.starts_with("https://") || value.starts_with("http://") => {
            Ok(Some(value.trim_end_matches('/').to_owned()))
        }
        Some(_) => Err(ConfigError::Malformed {
            var: var.into(),
            reason: "expected an http(s) URL".into(),
        }),
        None => Ok(None),
    }
}

/// The provider's settings, or `None` when sign-in is not configured at all; a half-done
/// configuration is an error naming what is missing.
pub async fn oauth_settings(
    env: &Env,
    parameters: Option<&dyn ParameterStore>,
    kustomer_api_url: &str,
) -> Result<Option<OAuthSettings>, ConfigError> {
    let org = text(env, "KUSTOMER_ORG");
    let client_id = text(env, "KUSTOMER_OAUTH_CLIENT_ID");
    let mut secrets = optional_secrets(env, parameters, crate::config::secrets::SIGN_IN).await?;
    let secret = secrets.remove("KUSTOMER_OAUTH_CLIENT_SECRET");
    let authorize = url(env, "KUSTOMER_OAUTH_AUTHORIZE_URL")?;
    let token = url(env, "KUSTOMER_OAUTH_TOKEN_URL")?;
    if org.is_none() && client_id.is_none() && secret.is_none() {
        return Ok(None);
    }
    // The app's clientId exists only once the app is registered, which needs the stack's URL:
    // the first deploy has the org and the secret's parameter but no client id. Sign-in is off
    // until it is set (agent routes 401, `GET /agents/sign-in` says what to set), rather than
    // the status function failing to start.
    if client_id.is_none() {
        tracing::warn!(
            "agent sign-in is off: KUSTOMER_OAUTH_CLIENT_ID is empty (the Kustomer app's clientId, known once the app is registered)"
        );
        return Ok(None);
    }
    let mut missing = Vec::new();
    if org.is_none() && (authorize.is_none() || token.is_none()) {
        missing.push("KUSTOMER_ORG");
    }
    if client_id.is_none() {
        missing.push("KUSTOMER_OAUTH_CLIENT_ID");
    }
    if secret.is_none() {
        missing.push("KUSTOMER_OAUTH_CLIENT_SECRET");
    }
    if !missing.is_empty() {
        return Err(ConfigError::Missing(
            missing.into_iter().map(str::to_owned).collect(),
        ));
    }
    if let Some(org) = &org
        && !crate::kustomer::ui_link::is_org_name(org)
    {
        return Err(ConfigError::Malformed {
            var: "KUSTOMER_ORG".into(),
            reason: "expected the org's sign-in name, such as acme for acme.kustomerapp.com".into(),
        });
    }
    let (org_authorize, org_token) =
        OAuthSettings::endpoints_of(org.as_deref().unwrap_or_default());
    Ok(Some(OAuthSettings {
        authorize_url: authorize.unwrap_or(org_authorize),
        token_url: token.unwrap_or(org_token),
        api_url: kustomer_api_url.trim_end_matches('/').to_owned(),
        client_id: client_id.unwrap_or_default(),
        client_secret: secret.unwrap_or_else(|| crate::config::Secret::new("")),
        scopes: text(env, "KUSTOMER_OAUTH_SCOPES"),
    }))
}

/// `BRIDGE_PUBLIC_URL`, checked.
pub fn public_url(env: &Env) -> Result<Option<String>, ConfigError> {
    url(env, "BRIDGE_PUBLIC_URL")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[tokio::test]
    async fn r_sec_1_sign_in_settings_are_all_or_nothing_and_name_what_is_missing() {
        assert!(
            oauth_settings(&env(&[]), None, "https://acme.api.kustomerapp.com")
                .await
                .unwrap()
                .is_none()
        );
        // The first deploy: the org and the secret, no client id yet (the app is registered
        // with the stack's URL afterwards): sign-in off, the function starts.
        assert!(
            oauth_settings(
                &env(&[
                    ("KUSTOMER_ORG", "acme"),
                    ("KUSTOMER_OAUTH_CLIENT_SECRET", "placeholder")
                ]),
                None,
                "https://acme.api.kustomerapp.com",
            )
            .await
            .unwrap()
            .is_none()
        );
        let err = oauth_settings(
            &env(&[("KUSTOMER_OAUTH_CLIENT_ID", "cid")]),
            None,
            "https://acme.api.kustomerapp.com",
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("KUSTOMER_ORG"), "{err}");
        assert!(err.contains("KUSTOMER_OAUTH_CLIENT_SECRET"), "{err}");
        let settings = oauth_settings(
            &env(&[
                ("KUSTOMER_ORG", "acme"),
                ("KUSTOMER_OAUTH_CLIENT_ID", "cid"),
                ("KUSTOMER_OAUTH_CLIENT_SECRET", "cs"),
            ]),
            None,
            "https://acme.api.kustomerapp.com/",
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(
            settings.authorize_url,
            "https://acme.kustomerapp.com/oauth/authorize"
        );
        assert_eq!(
            settings.token_url,
            "https://acme.api.kustomerapp.com/oauth/token"
        );
        assert_eq!(settings.api_url, "https://acme.api.kustomerapp.com");
        let location = settings.authorize_location("https://b.example/cb", "st", "ch");
        assert!(location.contains("redirect_uri=https%3A%2F%2Fb.example%2Fcb"));
        assert!(location.contains("code_challenge_method=S256"));
        assert!(!location.contains("scope="));
        assert!(
            oauth_settings(
                &env(&[
                    ("KUSTOMER_ORG", "acme.evil.com/x"),
                    ("KUSTOMER_OAUTH_CLIENT_ID", "cid"),
                    ("KUSTOMER_OAUTH_CLIENT_SECRET", "cs"),
                ]),
                None,
                "https://acme.api.kustomerapp.com",
            )
            .await
            .is_err()
        );
    }
}
