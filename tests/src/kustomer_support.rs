//! Building a real Kustomer client against a sandbox.

use crate::kustomer_sandbox::{KustomerSandbox, SandboxOptions};
use bridge_shared::config::{KustomerSettings, Secret};
use bridge_shared::http::{HttpSettings, RetryPolicy, build_client};
use bridge_shared::kustomer::KustomerClient;
use std::time::Duration;

/// A client with short timeouts and no backoff pauses (rate-limit waits still happen).
pub fn client(sandbox: &KustomerSandbox) -> KustomerClient {
    client_with(
        sandbox,
        sandbox.api_key(),
        RetryPolicy::immediate(4),
        Duration::from_millis(800),
    )
}

/// A client that sends each request once: a lost answer ends the caller's pass, as an
/// invocation that times out would (tests of what a retry of the whole pass does).
pub fn one_attempt_client(sandbox: &KustomerSandbox) -> KustomerClient {
    client_with(
        sandbox,
        sandbox.api_key(),
        RetryPolicy::immediate(1),
        Duration::from_millis(800),
    )
}

pub fn client_with(
    sandbox: &KustomerSandbox,
    api_key: &str,
    retry: RetryPolicy,
    timeout: Duration,
) -> KustomerClient {
    let settings = KustomerSettings {
        base_url: sandbox.base_url.clone(),
        api_key: Secret::new(api_key),
    };
    let http = build_client(HttpSettings {
        connect_timeout: Duration::from_secs(2),
        request_timeout: timeout,
    })
    .unwrap();
    KustomerClient::new(&settings, http, retry)
}

pub async fn sandbox(options: SandboxOptions) -> KustomerSandbox {
    KustomerSandbox::start(options).await.unwrap()
}
