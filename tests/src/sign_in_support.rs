//! Signing an agent in to the bridge the way a browser does (R-SEC-1, events.md §3), for tests
//! and the demo: the bridge's sign-in route, the Kustomer sandbox's browser sign-in and its
//! authorize page (consent clicked when it asks), the bridge's callback with the browser's
//! binding cookie — every hop by its `Location`, every cookie only where its browser would
//! send it.

use crate::kustomer_sandbox::oauth::OAuthProvider;
use bridge_shared::config::Secret;
use bridge_shared::sign_in::OAuthSettings;

/// The provider settings of an OAuth client registered in `sandbox` for the bridge whose
/// callback is `redirect_uri` (the app definition's `redirectUris`).
pub fn sandbox_oauth(sandbox: &OAuthProvider, redirect_uri: &str) -> OAuthSettings {
    let client = sandbox.register_client("CCAI Platform bridge", &[redirect_uri]);
    OAuthSettings {
        authorize_url: format!("{}/oauth/authorize", sandbox.base_url),
        token_url: format!("{}/oauth/token", sandbox.base_url),
        api_url: sandbox.base_url.clone(),
        client_id: client.client_id,
        client_secret: Secret::new(client.client_secret),
        scopes: None,
    }
}

/// The value a `Set-Cookie` of the answer gives the cookie `name`.
pub fn set_cookie(answer: &reqwest::Response, name: &str) -> Option<String> {
    answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next()?.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

fn location(answer: &reqwest::Response) -> Result<String, String> {
    answer
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| format!("no Location in a {} answer", answer.status()))
}

/// The attribute `name` of the page's `<body>`.
pub fn body_attribute(html: &str, name: &str) -> Option<String> {
    let start = html.find(&format!("{name}=\""))? + name.len() + 2;
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&quot;", "\"")
            .replace("&amp;", "&"),
    )
}

/// Signs the Kustomer user `user_id` in to the bridge at `bridge_url`; answers the agent
/// session's token.
pub async fn sign_in(
    bridge_url: &str,
    sandbox: &OAuthProvider,
    user_id: &str,
) -> Result<String, String> {
    let http = bridge_shared::http::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let get = |url: String, cookie: Option<String>| {
        let mut request = http.get(url);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };
    let begun = get(format!("{bridge_url}/agents/sign-in"), None)
        .await
        .map_err(|e| e.to_string())?;
    if begun.status() != reqwest::StatusCode::FOUND {
        return Err(format!("GET /agents/sign-in answered {}", begun.status()));
    }
    let binding = set_cookie(&begun, bridge_shared::sign_in::BINDING_COOKIE)
        .ok_or("the sign-in set no binding cookie")?;
    let authorize = location(&begun)?;
    // The browser is signed in to Kustomer as the user, then lands on the authorize page.
    let signed = get(sandbox.browser_sign_in_url(user_id, &authorize), None)
        .await
        .map_err(|e| e.to_string())?;
    let kustomer_cookie = set_cookie(&signed, "kustomer_web")
        .map(|v| format!("kustomer_web={v}"))
        .ok_or("the Kustomer sandbox set no session cookie")?;
    let mut answer = get(location(&signed)?, Some(kustomer_cookie.clone()))
        .await
        .map_err(|e| e.to_string())?;
    if answer.status() == reqwest::StatusCode::OK {
        // The consent page: the agent clicks Allow.
        let page = answer.text().await.map_err(|e| e.to_string())?;
        let mut form: Vec<(String, String)> = page
            .split("<input type=\"hidden\" ")
            .skip(1)
            .filter_map(|input| {
                Some((
                    body_attribute(input, "name")?,
                    body_attribute(input, "value")?,
                ))
            })
            .collect();
        form.push(("decision".into(), "allow".into()));
        answer = http
            .post(format!("{}/oauth/authorize", sandbox.base_url))
            .header("cookie", kustomer_cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(&form).map_err(|e| e.to_string())?)
            .send()
            .await
            .map_err(|e| e.to_string())?;
    }
    let callback = location(&answer)?;
    let page = get(
        callback,
        Some(format!(
            "{}={binding}",
            bridge_shared::sign_in::BINDING_COOKIE
        )),
    )
    .await
    .map_err(|e| e.to_string())?;
    let status = page.status();
    let html = page.text().await.map_err(|e| e.to_string())?;
    body_attribute(&html, "data-session")
        .ok_or_else(|| format!("the callback answered {status} without a session: {html}"))
}

/// An agent session for `email` written straight into the store (what a completed sign-in
/// leaves), for tests of the routes behind sign-in; its token answered. Deterministic per
/// e-mail, live from `now` for twelve hours.
pub async fn session_for(
    store: &dyn bridge_shared::store::StateStore,
    email: &str,
    user_id: &str,
    now: bridge_shared::UnixMillis,
) -> String {
    use base64::Engine;
    use sha2::Digest;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(
        format!("test-session:{email}").as_bytes(),
    ));
    put_session(store, &token, email, user_id, now).await;
    token
}

/// An agent session with this token (43 characters, as the bridge issues them).
pub async fn put_session(
    store: &dyn bridge_shared::store::StateStore,
    token: &str,
    email: &str,
    user_id: &str,
    now: bridge_shared::UnixMillis,
) {
    assert_eq!(token.len(), 43, "agent session tokens have 43 characters");
    let digest = bridge_shared::sign_in::secrets::digest(token);
    let identity = bridge_shared::sign_in::AgentIdentity {
        id: digest[..16].to_owned(),
        user_id: user_id.to_owned(),
        email: email.to_lowercase(),
        created_at: now,
        expires_at: now.plus(bridge_shared::sign_in::SESSION_LIFETIME),
        scope: Default::default(),
    };
    let item = bridge_shared::store::Item::new(
        bridge_shared::store::ItemKey::new("AGENT_SESSIONS", digest),
        serde_json::to_value(&identity).unwrap_or_default(),
    )
    .expiring_at(identity.expires_at);
    if let Err(err) = store.put(&item).await {
        panic!("the store refused a test session: {err}");
    }
}
