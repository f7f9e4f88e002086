//! A real CCAI client against a sandbox, and a receiver for the sandbox's session events.

use crate::ccai_sandbox::CcaiSandbox;
use bridge_shared::ccai::CcaiClient;
use bridge_shared::config::{BasicCredential, Secret, split_credentials};
use bridge_shared::http::{HttpSettings, RetryPolicy, build_client};
use bridge_shared::signature::check_basic;
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
        retry,
    )
}

/// One POST as received: its body (a `{count, events}` batch), and whether its Basic
/// credentials matched.
#[derive(Clone, Debug)]
pub struct Received {
    pub body: Value,
    pub verified: bool,
}

impl Received {
    pub fn events(&self) -> Vec<Value> {
        self.body["events"].as_array().cloned().unwrap_or_default()
    }
}

/// An HTTP endpoint that records the session-event batches posted to it, checking each
/// request's Basic credentials with the bridge's own check.
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
    /// `credentials`: `user:password` entries.
    pub async fn start(credentials: &[&str]) -> Self {
        let credentials: Vec<BasicCredential> =
            split_credentials(&Secret::new(credentials.join(","))).unwrap();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let store = received.clone();
        let app = axum::Router::new().route(
            "/webhooks/ccai",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let credentials = credentials.clone();
                    let store = store.clone();
                    async move {
                        let header = headers.get("authorization").and_then(|v| v.to_str().ok());
                        let verified = check_basic(header, &credentials).is_ok();
                        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        store.lock().unwrap().push(Received { body, verified });
                        if verified {
                            axum::http::StatusCode::OK
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

    pub fn batches(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Every event of every verified batch, in arrival order.
    pub fn events(&self) -> Vec<Value> {
        self.batches()
            .iter()
            .filter(|r| r.verified)
            .flat_map(Received::events)
            .collect()
    }
}
