//! The one way this project makes HTTP calls: one `reqwest` client per platform, built once at
//! cold start (rustls, connect and request timeouts), and one retry policy.
//!
//! TLS: rustls on *ring* (the provider the AWS SDK's client uses here too: one crypto library in
//! the binary) trusting the Mozilla roots compiled in by `webpki-roots`. The platform verifier
//! reqwest uses by default reads and parses every file of the system's certificate directory
//! when a client is built: most of a cold start (bench/RESULTS.md). Kustomer, CCAI Platform and
//! Cloud Storage all present certificates from public roots in that set.

use rand::RngExt;
use std::sync::Arc;
use std::time::Duration;

/// Timeouts of an outgoing client.
#[derive(Clone, Copy, Debug)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    /// For a whole request and answer; large transfers set their own.
    pub request_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Builds a client. Errors only if the TLS backend cannot start, which is a cold-start failure.
pub fn build_client(settings: HttpSettings) -> Result<reqwest::Client, reqwest::Error> {
    builder()
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.request_timeout)
        .pool_idle_timeout(Duration::from_secs(50))
        .user_agent(concat!("ccai-kustomer-bridge/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A client builder with this project's TLS and nothing else set (tests and tools use it too:
/// reqwest is built without a default crypto provider).
pub fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_backend_preconfigured(tls_config())
}

/// rustls on ring with the compiled-in roots, offering HTTP/1.1 (ALPN), the one version this
/// reqwest is built to speak.
fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    // The ring provider supports the default versions: this cannot fail.
    .unwrap_or_else(|_| unreachable!("ring supports TLS 1.2 and 1.3"))
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// A next-page link a platform gave, as a path on `base_url`'s own origin; `None` when it
/// points at another host, port or scheme. The clients send their credentials with every
/// request, so a link elsewhere is never followed (review S12, R-SEC-5).
pub fn same_origin_path(base_url: &str, link: &str) -> Option<String> {
    if link.starts_with('/') && !link.starts_with("//") {
        return Some(link.to_owned());
    }
    let base = reqwest::Url::parse(base_url).ok()?;
    let next = reqwest::Url::parse(link).ok()?;
    if next.origin() != base.origin() {
        return None;
    }
    let mut path = next.path().to_owned();
    if let Some(query) = next.query() {
        path.push('?');
        path.push_str(query);
    }
    Some(path)
}

/// An error with its chain of causes (`reqwest` hides the useful part in its sources).
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// When to try again: bounded attempts, exponential backoff with full jitter, and a bound on
/// how long a rate limit may be waited out.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A rate limit that resets later than this is reported, not waited for.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_rate_limit_wait: Duration::from_secs(20),
        }
    }
}

/// What to do after a failed attempt.
pub enum RetryDecision {
    /// Give up: the error is final.
    Stop,
    /// Try again after the policy's backoff.
    Backoff,
    /// Try again after this wait (e.g. until a rate limit resets).
    After(Duration),
}

impl RetryPolicy {
    /// Runs `attempt` until it succeeds, `decide` says stop, or the attempts are spent;
    /// pauses between attempts as `decide` says. The one retry loop of every client.
    pub async fn run<T, E, A, F>(
        &self,
        operation: &str,
        mut attempt: A,
        decide: impl Fn(&E, u32) -> RetryDecision,
    ) -> Result<T, E>
    where
        E: std::fmt::Display,
        A: FnMut() -> F,
        F: std::future::Future<Output = Result<T, E>>,
    {
        let mut number = 1;
        loop {
            let error = match attempt().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if number >= self.max_attempts {
                return Err(error);
            }
            let wait = match decide(&error, number) {
                RetryDecision::Stop => return Err(error),
                RetryDecision::Backoff => self.backoff(number),
                RetryDecision::After(wait) => wait,
            };
            tracing::warn!(operation, attempt = number, wait_ms = wait.as_millis() as u64, error = %error, "call will be retried");
            tokio::time::sleep(wait).await;
            number += 1;
        }
    }

    /// No waiting at all: for tests that inject faults.
    pub fn immediate(max_attempts: u32) -> Self {
        Self {
            max_attempts,
            base_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
            max_rate_limit_wait: Duration::from_secs(5),
        }
    }

    /// The pause before retry number `retry` (1 for the first retry): uniformly random in
    /// `0..=min(max, base·2^(retry-1))` ("full jitter"), so that many clients hit by one outage
    /// do not return in step.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(16);
        let ceiling = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        if millis == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_but_stays_bounded() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(800),
            max_rate_limit_wait: Duration::ZERO,
        };
        for retry in 1..=10 {
            let ceiling = Duration::from_millis((100u64 << (retry - 1)).min(800));
            for _ in 0..50 {
                assert!(policy.backoff(retry) <= ceiling);
            }
        }
        assert_eq!(RetryPolicy::immediate(3).backoff(5), Duration::ZERO);
    }
}
