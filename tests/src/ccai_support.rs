//! A real CCAI client against a sandbox, and a receiver for the sandbox's signed events.

use crate::ccai_sandbox::CcaiSandbox;
use bridge_shared::ccai::CcaiClient;
use bridge_shared::config::Secret;
use bridge_shared::http::{HttpSettings, RetryPolicy, build_client, build_download_client};
use bridge_shared::signature::verify_session_event;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn client(sandbox: &CcaiSandbox) -> CcaiClient {
    let options = sandbox.options();
    client_with(
        sandbox,
        &options.subdomain,
        &options.api_token,
        RetryPolicy::immediate(6),
    )
}

pub fn client_with(
    sandbox: &CcaiSandbox,
    user: &str,
    password: &str,
    retry: RetryPolicy,
) -> CcaiClient {
    let settings = HttpSettings {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
    };
    CcaiClient::with_credentials(
        &sandbox.base_url,
        user,
        Secret::new(password),
        build_client(settings).unwrap(),
        build_download_client(settings).unwrap(),
        retry,
    )
}

/// One event as received: its body, and whether its signature verified.
#[derive(Clone, Debug)]
pub struct Received {
    pub body: Value,
    pub verified: bool,
}

/// An HTTP endpoint that records the session events posted to it, checking each signature
/// against `secrets` with the bridge's own verifier.
pub struct EventReceiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for EventReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl EventReceiver {
    pub async fn start(secrets: &[&str]) -> Self {
        let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let store = received.clone();
        let app = axum::Router::new().route(
            "/webhooks/ccai",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let secrets = secrets.clone();
                    let store = store.clone();
                    async move {
                        let header = |name: &str| {
                            headers
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned)
                        };
                        let verified = verify_session_event(
                            header("x-signature").as_deref(),
                            header("x-signature-timestamp").as_deref(),
                            &body,
                            &secrets,
                            chrono::Utc::now().timestamp(),
                        )
                        .is_ok();
                        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        store.lock().unwrap().push(Received { body, verified });
                        if verified {
                            axum::http::StatusCode::ACCEPTED
                        } else {
                            axum::http::StatusCode::UNAUTHORIZED
                        }
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks/ccai", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            received,
            server,
        }
    }

    pub fn events(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}
