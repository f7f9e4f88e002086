//! Agents sign in with Kustomer (R-SEC-1, events.md §3, review S1), over HTTP through the local
//! host and the Kustomer sandbox's OAuth provider (PKCE S256, single-use codes, registered
//! redirect URIs, client secrets — refused the way OAuth servers refuse).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_local::functions::{Platforms, SignInProvider, Tokens, demo_host};
use bridge_local::host::LocalHost;
use bridge_shared::store::{EmbeddedStore, StateStore};
use bridge_tests::platforms::SandboxedPlatforms;
use bridge_tests::sign_in_support::body_attribute;
use serde_json::{Value, json};
use std::sync::Arc;

struct Rig {
    sandboxes: SandboxedPlatforms,
    host: LocalHost,
    http: reqwest::Client,
    ana: String,
    ana_agent: u64,
}

async fn rig_with(tokens: impl FnOnce(&SandboxedPlatforms) -> Tokens) -> Rig {
    let sandboxes = SandboxedPlatforms::start().await.unwrap();
    let ana = format!("{}@example.com", bridge_tests::unique("ana"));
    let ana_agent = sandboxes.add_agent(&ana, "Ana", "Available");
    let store: Arc<dyn StateStore> = Arc::new(EmbeddedStore::new());
    let tokens = tokens(&sandboxes);
    let host = demo_host(store, &Platforms::of(&sandboxes), &tokens)
        .await
        .unwrap();
    let http = bridge_shared::http::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Rig {
        sandboxes,
        host,
        http,
        ana,
        ana_agent,
    }
}

async fn rig() -> Rig {
    rig_with(|s| Tokens::demo(None).signing_in_with(&s.kustomer)).await
}

/// `name=value` as the browser sends it back.
fn cookie_of(answer: &reqwest::Response, name: &str) -> Option<String> {
    bridge_tests::sign_in_support::set_cookie(answer, name).map(|v| format!("{name}={v}"))
}

fn location(answer: &reqwest::Response) -> String {
    answer.headers()["location"].to_str().unwrap().to_owned()
}

impl Rig {
    /// `GET /agents/sign-in` in a browser: (its binding cookie, Kustomer's authorize URL).
    async fn begin(&self) -> (String, String) {
        let answer = self
            .http
            .get(format!("{}/agents/sign-in", self.host.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 302);
        let cookie = cookie_of(&answer, "bridge_sign_in").unwrap();
        let set = answer.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax"),
            "{set}"
        );
        // Only the sign-in's paths, under the API's stage as browsers see them.
        assert!(
            set.contains(&format!(
                "Path=/{}/agents/sign-in;",
                bridge_local::host::STAGE
            )),
            "{set}"
        );
        (cookie, location(&answer))
    }

    /// The user (signed in to Kustomer in their browser) on the authorize page, allowing or
    /// denying: the callback URL Kustomer sends the browser to.
    async fn consent(&self, user: &str, authorize: &str, allow: bool) -> String {
        let signed = self
            .http
            .get(self.sandboxes.kustomer.browser_sign_in_url(user, authorize))
            .send()
            .await
            .unwrap();
        let kustomer = cookie_of(&signed, "kustomer_web").unwrap();
        let page = self
            .http
            .get(location(&signed))
            .header("cookie", &kustomer)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut form: Vec<(String, String)> = page
            .split("<input type=\"hidden\" ")
            .skip(1)
            .map(|i| {
                (
                    body_attribute(i, "name").unwrap(),
                    body_attribute(i, "value").unwrap(),
                )
            })
            .collect();
        assert!(form.iter().any(|(k, _)| k == "code_challenge"), "{page}");
        form.push((
            "decision".into(),
            if allow { "allow" } else { "deny" }.into(),
        ));
        let answer = self
            .http
            .post(format!(
                "{}/oauth/authorize",
                self.sandboxes.kustomer.base_url
            ))
            .header("cookie", kustomer)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(&form).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 302);
        location(&answer)
    }

    /// The callback in a browser carrying `cookie`: (status, the session if one was handed).
    async fn callback(&self, url: &str, cookie: Option<&str>) -> (u16, Option<String>, String) {
        let mut request = self.http.get(url);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16();
        let headers = answer.headers().clone();
        let html = answer.text().await.unwrap();
        assert_eq!(headers["cache-control"], "no-store");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        (status, body_attribute(&html, "data-session"), html)
    }

    async fn send(
        &self,
        session: &str,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> (u16, Value) {
        let answer = self
            .http
            .request(method, format!("{}{path}", self.host.base_url))
            .bearer_auth(session)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        (status, answer.json().await.unwrap_or(Value::Null))
    }

    fn user(&self, email: &str) -> String {
        self.sandboxes.kustomer_user(email).unwrap()
    }
}

/// R-SEC-1: the agent signs in with Kustomer (consent clicked); the session names them, every
/// agent route takes them from it, and sign-out ends it.
#[tokio::test]
async fn r_sec_1_an_agent_signs_in_with_kustomer_and_the_session_is_theirs() {
    let rig = rig().await;
    let (binding, authorize) = rig.begin().await;
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "{authorize}"
    );
    let callback = rig.consent(&rig.user(&rig.ana), &authorize, true).await;
    let (status, session, html) = rig.callback(&callback, Some(&binding)).await;
    assert_eq!(status, 200, "{html}");
    let session = session.unwrap();
    assert_eq!(session.len(), 43, "256 random bits");
    assert_eq!(
        body_attribute(&html, "data-email").as_deref(),
        Some(rig.ana.as_str())
    );

    let (status, me) = rig
        .send(&session, reqwest::Method::GET, "/agents/session", json!({}))
        .await;
    assert_eq!(
        (status, me["email"].as_str()),
        (200, Some(rig.ana.as_str()))
    );
    let (status, lease) = rig
        .send(
            &session,
            reqwest::Method::POST,
            "/agents/instances",
            json!({"instance_id": "tab-1"}),
        )
        .await;
    assert_eq!(status, 201, "{lease}");
    // The callback is single-use: replayed, it opens nothing.
    let (status, again, _) = rig.callback(&callback, Some(&binding)).await;
    assert_eq!((status, again), (400, None));
    // The code was exchanged once, with its verifier; the provider refused nothing.
    rig.sandboxes.kustomer.oauth().inspect(|o| {
        assert_eq!(o.tokens_issued, 1);
        assert!(o.refusals.is_empty(), "{:?}", o.refusals);
    });

    let (status, _) = rig
        .send(
            &session,
            reqwest::Method::DELETE,
            "/agents/session",
            json!({}),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = rig
        .send(
            &session,
            reqwest::Method::POST,
            "/agents/instances",
            json!({"instance_id": "tab-2"}),
        )
        .await;
    assert_eq!(status, 401, "signed out");
    assert!(rig.sandboxes.unexpected_requests().is_empty());
}

/// Review S1, tried as a new user would: Ben, another user of the org, signs in as himself and
/// tries every route naming Ana. Nothing changes for Ana in CCAI (not even while she is at Lunch
/// in Kustomer and Ben reports it), no call is placed in her name, her lease is untouched.
#[tokio::test]
async fn r_sec_1_a_second_user_signed_in_as_themself_cannot_act_as_the_first() {
    let rig = rig().await;
    let ben = format!("{}@example.com", bridge_tests::unique("ben"));
    rig.sandboxes.add_agent(&ben, "Ben", "Available");
    let ana_session = rig
        .sandboxes
        .sign_in(&rig.host.base_url, &rig.ana)
        .await
        .unwrap();
    let ben_session = rig
        .sandboxes
        .sign_in(&rig.host.base_url, &ben)
        .await
        .unwrap();
    let (_, ana_lease) = rig
        .send(
            &ana_session,
            reqwest::Method::POST,
            "/agents/instances",
            json!({"instance_id": "tab-a"}),
        )
        .await;
    let lunch = rig.sandboxes.kustomer.status_id("Lunch").unwrap();
    let calls_before = rig.sandboxes.ccai.inspect(|w| w.calls.len());
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            "/agents/instances",
            json!({"email": rig.ana, "instance_id": "tab-a"}),
        ),
        (
            reqwest::Method::PUT,
            "/agents/instances/tab-a",
            json!({"email": rig.ana, "lease_token": ana_lease["lease_token"]}),
        ),
        (
            reqwest::Method::DELETE,
            "/agents/instances/tab-a",
            json!({"email": rig.ana, "lease_token": ana_lease["lease_token"]}),
        ),
        (
            reqwest::Method::POST,
            "/webhooks/kustomer/status",
            json!({"email": rig.ana, "instance_id": "tab-a", "lease_token": ana_lease["lease_token"], "status_id": lunch, "changed_at": bridge_shared::UnixMillis::now().to_iso()}),
        ),
        (
            reqwest::Method::POST,
            "/click-to-call",
            json!({"agent_email": rig.ana, "phone": "+16502530000"}),
        ),
    ] {
        let (status, answer) = rig.send(&ben_session, method.clone(), path, body).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
    }
    // Without naming her, Ben's requests are his own: Ana's tab id and lease token get him
    // nothing of hers.
    let (status, _) = rig
        .send(
            &ben_session,
            reqwest::Method::PUT,
            "/agents/instances/tab-a",
            json!({"lease_token": ana_lease["lease_token"]}),
        )
        .await;
    assert_eq!(status, 409, "Ana's tab id is not Ben's");
    // Ana is at Lunch in Kustomer; Ben reports with her tab id, lease token and status: the
    // report is about Ben, whose Kustomer record (no work session) is read (R-S-4).
    let ana_user = rig.sandboxes.kustomer_user(&rig.ana).unwrap();
    rig.sandboxes
        .kustomer
        .set_work_session(&ana_user, "Lunch")
        .unwrap();
    let (status, answer) = rig
        .send(&ben_session, reqwest::Method::POST, "/webhooks/kustomer/status", json!({"instance_id": "tab-a", "lease_token": ana_lease["lease_token"], "status_id": lunch, "changed_at": bridge_shared::UnixMillis::now().to_iso()}))
        .await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("no work session")),
        "{answer}"
    );
    assert_eq!(
        rig.sandboxes
            .ccai
            .inspect(|w| w.agent_status(rig.ana_agent))
            .as_deref(),
        Some("Available")
    );
    assert_eq!(
        rig.sandboxes.ccai.inspect(|w| w.calls.len()),
        calls_before,
        "no call placed"
    );
    let (status, _) = rig
        .send(
            &ana_session,
            reqwest::Method::PUT,
            "/agents/instances/tab-a",
            json!({"lease_token": ana_lease["lease_token"]}),
        )
        .await;
    assert_eq!(status, 200, "Ana's tab still holds her lease");
}

/// R-SEC-1: a sign-in completed in another browser (a sign-in link sent to a victim, the
/// callback URL replayed elsewhere) opens no session: the callback needs the cookie of the
/// browser that began it; refusals of the provider and the agent's "deny" open none either.
#[tokio::test]
async fn r_sec_1_a_callback_without_the_browsers_binding_or_with_a_refused_code_opens_nothing() {
    let rig = rig().await;
    let ana = rig.user(&rig.ana);
    let (binding, authorize) = rig.begin().await;
    let callback = rig.consent(&ana, &authorize, true).await;
    let (status, session, html) = rig.callback(&callback, None).await;
    assert_eq!((status, session), (403, None), "{html}");
    assert!(html.contains("another browser"), "{html}");
    let (status, session, _) = rig.callback(&callback, Some(&binding)).await;
    assert_eq!(
        (status, session),
        (400, None),
        "the sign-in was used up by the refusal"
    );
    let (other_binding, _) = rig.begin().await;
    let (binding, authorize) = rig.begin().await;
    let callback = rig.consent(&ana, &authorize, true).await;
    let (status, session, _) = rig.callback(&callback, Some(&other_binding)).await;
    assert_eq!((status, session), (403, None), "another sign-in's cookie");
    let _ = binding;

    // Denied on Kustomer's page.
    let (binding, authorize) = rig.begin().await;
    let callback = rig.consent(&ana, &authorize, false).await;
    let (status, session, html) = rig.callback(&callback, Some(&binding)).await;
    assert_eq!((status, session), (400, None));
    assert!(html.contains("access_denied"), "{html}");
    assert!(
        !html.contains("The user denied access"),
        "Kustomer's description is not echoed"
    );
    // An error link no sign-in of this bridge began (a crafted one) opens nothing and shows
    // nothing of its author's.
    let crafted = format!(
        "{}/agents/sign-in/callback?error=access_denied&error_description=Call+us+now&state=forged",
        rig.host.base_url
    );
    let (status, session, html) = rig.callback(&crafted, None).await;
    assert_eq!((status, session), (400, None));
    assert!(!html.contains("Call us now"), "{html}");

    // A code that waited too long is refused by Kustomer (invalid_grant).
    rig.sandboxes
        .kustomer
        .oauth()
        .set_code_lifetime(std::time::Duration::ZERO);
    let (binding, authorize) = rig.begin().await;
    let callback = rig.consent(&ana, &authorize, true).await;
    let (status, session, html) = rig.callback(&callback, Some(&binding)).await;
    assert_eq!((status, session), (403, None));
    assert!(html.contains("invalid_grant"), "{html}");
    rig.sandboxes.kustomer.oauth().inspect(|o| {
        assert_eq!(o.tokens_issued, 0);
        assert_eq!(o.refusals, ["invalid_grant"]);
    });
}

/// A client secret Kustomer does not know (a rotated or mistyped one) is refused as
/// `invalid_client`, and the sign-in page says Kustomer refused it.
#[tokio::test]
async fn r_sec_1_a_wrong_client_secret_is_refused_by_kustomer() {
    let rig = rig_with(|s| {
        let provider = s.kustomer.oauth();
        let mut tokens = Tokens::demo(None);
        tokens.sign_in = Some(Arc::new(move |redirect: &str| {
            let mut settings = bridge_tests::sign_in_support::sandbox_oauth(&provider, redirect);
            settings.client_secret = bridge_shared::config::Secret::new("not-the-secret");
            settings
        }) as SignInProvider);
        tokens
    })
    .await;
    let (binding, authorize) = rig.begin().await;
    let callback = rig.consent(&rig.user(&rig.ana), &authorize, true).await;
    let (status, session, html) = rig.callback(&callback, Some(&binding)).await;
    assert_eq!((status, session), (403, None));
    assert!(html.contains("invalid_client"), "{html}");
    assert!(!html.contains("not-the-secret"));
}

/// R-SEC-1: the admin sees each agent's live sessions (`GET /admin/agents`, never a token) and
/// ends them all (`DELETE /admin/agents/{email}/sessions`): the agent's next call is a 401.
#[tokio::test]
async fn r_sec_1_the_admin_lists_and_revokes_an_agents_sessions() {
    let rig = rig().await;
    let session = rig
        .sandboxes
        .sign_in(&rig.host.base_url, &rig.ana)
        .await
        .unwrap();
    let admin = |method: reqwest::Method, path: String| {
        rig.http
            .request(method, format!("{}{path}", rig.host.base_url))
            .bearer_auth(bridge_local::functions::DEMO_ADMIN_TOKEN)
            .send()
    };
    let listed: Value = admin(reqwest::Method::GET, "/admin/agents".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ana = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == rig.ana.as_str())
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(ana["sessions"].as_array().unwrap().len(), 1, "{ana}");
    assert!(
        !listed.to_string().contains(&session),
        "no token in the list"
    );
    let answer = admin(
        reqwest::Method::DELETE,
        format!("/admin/agents/{}/sessions", rig.ana),
    )
    .await
    .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.json::<Value>().await.unwrap()["ended"], 1);
    let (status, _) = rig
        .send(&session, reqwest::Method::GET, "/agents/session", json!({}))
        .await;
    assert_eq!(status, 401, "revoked");
}
