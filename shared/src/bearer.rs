//! The bearer tokens a route accepts (review S11): several at once, so a token is rotated
//! without a window where the admin console is locked out (put the next one beside the current
//! one, move the console to it, drop the old one); compared as SHA-256 digests in constant time,
//! every one of them, so neither the length nor which one matched shows in the time taken; an
//! empty set accepts nothing. From SSM (`<VAR>_PARAM`), the set is read again every
//! [`REREAD_EVERY`]: a revoked token stops working within minutes, without a redeploy.

use crate::config::{ConfigError, ParameterStore, Secret};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// The shortest token accepted: a shorter one could be guessed through the API's own rate.
pub const MIN_TOKEN_LEN: usize = 16;
/// How long a set read from SSM is used before it is read again.
pub const REREAD_EVERY: Duration = Duration::from_secs(300);

/// A set of accepted tokens, kept as digests (an empty set accepts nothing).
#[derive(Clone)]
pub struct BearerTokens {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for BearerTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BearerTokens({} tokens)", self.digests.len())
    }
}

impl BearerTokens {
    /// The tokens in `value`, separated by commas (current and next); each at least
    /// [`MIN_TOKEN_LEN`] characters. The error names `var`, never a token.
    pub fn parse(var: &str, value: &Secret) -> Result<Self, ConfigError> {
        let tokens: Vec<&str> = value.expose().split(',').map(str::trim).collect();
        if tokens.iter().any(|t| t.len() < MIN_TOKEN_LEN) {
            return Err(ConfigError::Malformed {
                var: var.to_owned(),
                reason: format!(
                    "each token (comma-separated, current and next) needs at least {MIN_TOKEN_LEN} characters"
                ),
            });
        }
        Ok(Self {
            digests: tokens.into_iter().map(digest).collect(),
        })
    }

    /// One token the program chose itself (the local demo's), taken as it is.
    pub fn of(token: &str) -> Self {
        Self {
            digests: vec![digest(token)],
        }
    }

    /// Whether an `Authorization` header carries `Bearer <one of the tokens>`.
    pub fn accepts(&self, header: Option<&str>) -> bool {
        let Some(given) = header
            .and_then(|v| v.strip_prefix("Bearer "))
            .filter(|g| !g.is_empty())
        else {
            return false;
        };
        let given = digest(given);
        self.digests.iter().fold(false, |matched, expected| {
            matched | bool::from(given.ct_eq(expected))
        })
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Where a set is read again from.
struct Source {
    var: String,
    parameter: String,
    store: Arc<dyn ParameterStore>,
}

/// A [`BearerTokens`] set, read again from SSM every [`REREAD_EVERY`] when it came from there.
pub struct RotatingTokens {
    current: tokio::sync::Mutex<(Instant, BearerTokens)>,
    source: Option<Source>,
}

impl RotatingTokens {
    /// A set that never changes (configured inline, or in tests).
    pub fn fixed(tokens: BearerTokens) -> Self {
        Self {
            current: tokio::sync::Mutex::new((Instant::now(), tokens)),
            source: None,
        }
    }

    /// A set read at cold start from SSM parameter `parameter` (named by `<var>_PARAM`), read
    /// again from `store` when it is [`REREAD_EVERY`] old.
    pub fn from_parameter(
        var: &str,
        parameter: &str,
        store: Arc<dyn ParameterStore>,
        tokens: BearerTokens,
    ) -> Self {
        Self {
            current: tokio::sync::Mutex::new((Instant::now(), tokens)),
            source: Some(Source {
                var: var.to_owned(),
                parameter: parameter.to_owned(),
                store,
            }),
        }
    }

    /// Whether the header carries an accepted token, as of the last read.
    pub async fn accepts(&self, header: Option<&str>) -> bool {
        let mut current = self.current.lock().await;
        if let Some(source) = &self.source
            && current.0.elapsed() >= REREAD_EVERY
        {
            // Whatever the read gives, the next one is in REREAD_EVERY: a failing SSM is not
            // asked on every request, and the set read before stays in use meanwhile.
            current.0 = Instant::now();
            match source.read().await {
                Ok(tokens) => current.1 = tokens,
                // SSM did not answer: the set read before stays in use.
                Err(err @ ConfigError::ParameterStore { .. }) => {
                    tracing::warn!(var = %source.var, error = %err, "bearer tokens not read again; the set read before stays in use");
                }
                // The parameter is gone, emptied or unusable — what an admin does to revoke a
                // leaked token in a hurry: nothing is accepted until it is set right.
                Err(err) => {
                    tracing::error!(var = %source.var, error = %err, "bearer tokens unusable: every request refused until the parameter is set");
                    current.1 = BearerTokens {
                        digests: Vec::new(),
                    };
                }
            }
        }
        current.1.accepts(header)
    }
}

impl Source {
    async fn read(&self) -> Result<BearerTokens, ConfigError> {
        let values = self
            .store
            .get_parameters(std::slice::from_ref(&self.parameter))
            .await?;
        let value = values
            .get(&self.parameter)
            .ok_or_else(|| ConfigError::ParameterNotFound {
                var: self.var.clone(),
                name: self.parameter.clone(),
            })?;
        BearerTokens::parse(&self.var, &Secret::new(value.as_str()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    const CURRENT: &str = "current-token-0123456789";
    const NEXT: &str = "next-token-abcdefghijklm";

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    #[test]
    fn s11_the_current_and_the_next_token_both_work_and_nothing_else_does() {
        let tokens =
            BearerTokens::parse("ADMIN_TOKEN", &Secret::new(format!("{CURRENT}, {NEXT}"))).unwrap();
        assert!(tokens.accepts(Some(&bearer(CURRENT))));
        assert!(tokens.accepts(Some(&bearer(NEXT))));
        for wrong in [
            None,
            Some(""),
            Some("Bearer "),
            Some("Bearer current-token-012345678"),
            Some("Basic current-token-0123456789"),
            Some("Bearer current-token-0123456789, next-token-abcdefghijklm"),
        ] {
            assert!(!tokens.accepts(wrong), "{wrong:?}");
        }
    }

    #[test]
    fn s11_an_empty_or_short_token_is_refused_at_configuration_naming_the_variable() {
        for value in [
            "",
            "short",
            &format!("{CURRENT},"),
            &format!("{CURRENT},,{NEXT}"),
        ] {
            let err = BearerTokens::parse("ADMIN_TOKEN", &Secret::new(value)).unwrap_err();
            assert!(
                err.to_string().starts_with("ADMIN_TOKEN is malformed"),
                "{err}"
            );
            assert!(!err.to_string().contains(CURRENT), "no token in the error");
        }
    }

    struct Parameters(std::sync::Mutex<Option<String>>);

    #[async_trait::async_trait]
    impl ParameterStore for Parameters {
        async fn get_parameters(
            &self,
            names: &[String],
        ) -> Result<HashMap<String, String>, ConfigError> {
            match self.0.lock().unwrap().clone() {
                Some(value) => Ok(names.iter().map(|n| (n.clone(), value.clone())).collect()),
                None => Err(ConfigError::ParameterStore {
                    message: "unavailable".into(),
                    retryable: true,
                }),
            }
        }
    }

    #[tokio::test]
    async fn s11_a_token_revoked_in_ssm_stops_working_within_the_reread_interval() {
        let store = Arc::new(Parameters(std::sync::Mutex::new(Some(format!(
            "{CURRENT},{NEXT}"
        )))));
        let initial =
            BearerTokens::parse("ADMIN_TOKEN", &Secret::new(format!("{CURRENT},{NEXT}"))).unwrap();
        let tokens = RotatingTokens::from_parameter(
            "ADMIN_TOKEN",
            "/bridge/admin-token",
            store.clone(),
            initial,
        );
        assert!(tokens.accepts(Some(&bearer(CURRENT))).await);
        // The admin drops the old token from the parameter.
        *store.0.lock().unwrap() = Some(NEXT.into());
        assert!(
            tokens.accepts(Some(&bearer(CURRENT))).await,
            "until the next read"
        );
        force_due(&tokens).await;
        assert!(!tokens.accepts(Some(&bearer(CURRENT))).await, "revoked");
        assert!(tokens.accepts(Some(&bearer(NEXT))).await);
        // SSM failing: the set read before stays in use.
        *store.0.lock().unwrap() = None;
        force_due(&tokens).await;
        assert!(tokens.accepts(Some(&bearer(NEXT))).await);
        // The admin empties the parameter (a leak, in a hurry): nothing is accepted.
        *store.0.lock().unwrap() = Some(String::new());
        force_due(&tokens).await;
        assert!(!tokens.accepts(Some(&bearer(NEXT))).await);
    }

    /// Ages the set read last by the reread interval (the std clock cannot be advanced).
    async fn force_due(tokens: &RotatingTokens) {
        let mut current = tokens.current.lock().await;
        current.0 = Instant::now()
            .checked_sub(REREAD_EVERY)
            .unwrap_or_else(Instant::now);
    }
}
