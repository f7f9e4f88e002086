//! Configuration, read once at cold start into a typed struct.
//!
//! Every variable name here is a public interface (tools outside this repository set them):
//! `TABLE_NAME`, `BUCKET_NAME`, `KUSTOMER_BASE_URL`, `KUSTOMER_API_KEY`, `CCAI_BASE_URL`,
//! `CCAI_SUBDOMAIN`, `CCAI_API_TOKEN`, `CCAI_EVENTS_CREDENTIALS` (`user:password`, comma-separated),
//! `ADMIN_TOKEN` (each function only those it uses: [`secrets`]), `DEFAULT_COUNTRY`; agent
//! sign-in's in [`crate::sign_in::settings`]. (`BRIDGE_TOKEN`, the widget's shared token, is
//! retired: agents sign in with Kustomer instead, R-SEC-1.)
//!
//! Each secret may instead be given as the name of an SSM parameter in `<NAME>_PARAM` (e.g.
//! `KUSTOMER_API_KEY_PARAM=/bridge/kustomer-api-key`); all such parameters are fetched in one
//! batch at cold start, decrypted, and never again. AWS endpoints are the SDK's own business
//! (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_SSM`).

use crate::retry::Retryable;
use async_trait::async_trait;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

/// A configuration problem, naming the variable (or parameter) at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing configuration: {}", .0.join(", "))]
    Missing(Vec<String>),
    #[error("{var} is malformed: {reason}")]
    Malformed { var: String, reason: String },
    #[error("{var} and {var}_PARAM are both set; set one")]
    Ambiguous { var: String },
    #[error("SSM parameter {name} (from {var}_PARAM) does not exist")]
    ParameterNotFound { var: String, name: String },
    #[error("could not read SSM parameters: {message}")]
    ParameterStore { message: String, retryable: bool },
}

impl Retryable for ConfigError {
    fn is_retryable(&self) -> bool {
        matches!(
            self,
            ConfigError::ParameterStore {
                retryable: true,
                ..
            }
        )
    }
}

/// A secret value. Its `Debug` and `Display` never show it; call [`Secret::expose`] where the
/// value is really needed (an `Authorization` header, an HMAC key).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A snapshot of the environment. Reading a snapshot (instead of `std::env` everywhere) keeps
/// configuration reads in one place and lets tests pass variables without touching the process.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars())
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The trimmed value, with an empty value treated as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// Where a secret comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SecretSource {
    Inline(Secret),
    Parameter(String),
}

/// Reads SSM parameters. The real implementation is [`SsmParameterStore`]; tests may pass their
/// own.
#[async_trait]
pub trait ParameterStore: Send + Sync {
    /// The decrypted values of the named parameters; names that do not exist are absent from
    /// the answer.
    async fn get_parameters(
        &self,
        names: &[String],
    ) -> Result<HashMap<String, String>, ConfigError>;
}

/// [`ParameterStore`] over AWS SSM Parameter Store (`GetParameters`, ten names per call,
/// `WithDecryption`).
pub struct SsmParameterStore {
    client: crate::aws::LazyClient<aws_sdk_ssm::Client>,
}

impl SsmParameterStore {
    pub fn new(client: impl Into<crate::aws::LazyClient<aws_sdk_ssm::Client>>) -> Self {
        Self {
            client: client.into(),
        }
    }

    /// A store whose client is built on its first read (most cold starts read no parameter).
    pub fn lazy(config: &aws_config::SdkConfig) -> Self {
        let config = config.clone();
        Self::new(crate::aws::LazyClient::new(move || {
            aws_sdk_ssm::Client::new(&config)
        }))
    }
}

#[async_trait]
impl ParameterStore for SsmParameterStore {
    async fn get_parameters(
        &self,
        names: &[String],
    ) -> Result<HashMap<String, String>, ConfigError> {
        use aws_sdk_ssm::error::ProvideErrorMetadata;
        let mut values = HashMap::new();
        // GetParameters accepts at most ten names per call.
        for batch in names.chunks(10) {
            let answer = self
                .client
                .get()
                .get_parameters()
                .set_names(Some(batch.to_vec()))
                .with_decryption(true)
                .send()
                .await
                .map_err(|err| {
                    let code = err.code().unwrap_or_default().to_owned();
                    ConfigError::ParameterStore {
                        retryable: code.contains("Throttl")
                            || code.contains("InternalServer")
                            || err.as_service_error().is_none(),
                        message: match err.message() {
                            Some(message) => format!("{code}: {message}"),
                            None => format!("{err}"),
                        },
                    }
                })?;
            for parameter in answer.parameters() {
                if let (Some(name), Some(value)) = (parameter.name(), parameter.value()) {
                    values.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        Ok(values)
    }
}

/// Country used to read national phone numbers (ISO 3166-1 alpha-2, upper case).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountryCode(String);

impl Default for CountryCode {
    /// [`DEFAULT_COUNTRY`].
    fn default() -> Self {
        Self(DEFAULT_COUNTRY.to_owned())
    }
}

impl CountryCode {
    pub fn parse(value: &str) -> Option<Self> {
        let upper = value.trim().to_ascii_uppercase();
        (upper.len() == 2 && upper.bytes().all(|b| b.is_ascii_uppercase())).then_some(Self(upper))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Kustomer API access.
#[derive(Clone, Debug)]
pub struct KustomerSettings {
    /// Without a trailing slash, e.g. `https://api.kustomerapp.com`.
    pub base_url: String,
    pub api_key: Secret,
}

/// CCAI Platform API access.
#[derive(Clone, Debug)]
pub struct CcaiSettings {
    /// Without a trailing slash, e.g. `https://acme.uc1.ccaiplatform.com`.
    pub base_url: String,
    pub subdomain: String,
    pub api_token: Secret,
}

/// Everything a bridge function is configured with.
#[derive(Clone, Debug)]
pub struct BridgeConfig {
    pub table_name: String,
    pub bucket_name: String,
    pub kustomer: KustomerSettings,
    pub ccai: CcaiSettings,
    /// The HTTP Basic credentials CCAI Platform's External Session Events may carry: one
    /// per feed (calls, chats) and a second during a rotation.
    pub ccai_events_credentials: Vec<BasicCredential>,
    pub admin_token: Secret,
    pub default_country: CountryCode,
    /// `SHARED_PACING` (`on` unless `off`): CCAI and Kustomer requests are spaced on one
    /// schedule in the table shared by every function (R-E-8).
    pub shared_pacing: bool,
    /// `KUSTOMER_REQUESTS_PER_MINUTE`: the org's budget the bridge keeps under (default 300,
    /// the smallest plan's; kustomer-api.md).
    pub kustomer_requests_per_minute: u32,
    /// `BRIDGE_MODE` (`live` unless `shadow`, R-F-2).
    pub mode: BridgeMode,
}

/// Whether the bridge acts on the platforms (`BRIDGE_MODE`, product.md R-F-2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BridgeMode {
    /// Everything is done (the default).
    #[default]
    Live,
    /// Everything runs, nothing is written to Kustomer or CCAI: each session and agent records
    /// what would have been done, to compare with CCAI's own connector before switching
    /// (`crate::shadow`).
    Shadow,
}

impl BridgeMode {
    pub fn parse(value: Option<&str>) -> Result<Self, ConfigError> {
        match value.map(str::trim) {
            None | Some("live") => Ok(BridgeMode::Live),
            Some("shadow") => Ok(BridgeMode::Shadow),
            Some(other) => Err(ConfigError::Malformed {
                var: "BRIDGE_MODE".into(),
                reason: format!("expected live or shadow, got {other:?}"),
            }),
        }
    }

    pub fn is_shadow(self) -> bool {
        self == BridgeMode::Shadow
    }
}

/// `KUSTOMER_REQUESTS_PER_MINUTE` when unset.
pub const KUSTOMER_REQUESTS_PER_MINUTE: u32 = 300;

/// `DEFAULT_COUNTRY` when unset.
pub const DEFAULT_COUNTRY: &str = "US";

/// The secrets each function reads — and may read: the template grants each function's role
/// only these parameters, and a secret a function does not use is neither required nor
/// fetched (`KUSTOMER_WEBHOOK_SECRET`, which no route uses, is read by none).
pub mod secrets {
    /// `bridge-intake`: the Basic credentials of CCAI's session events.
    pub const INTAKE: &[&str] = &["CCAI_EVENTS_CREDENTIALS"];
    /// `bridge-status`: both platforms (the OAuth client's secret is read with the sign-in
    /// settings, `crate::sign_in::settings`).
    pub const STATUS: &[&str] = &["KUSTOMER_API_KEY", "CCAI_API_TOKEN"];
    /// `bridge-status` also: the OAuth client's secret of agent sign-in, read with the other
    /// sign-in settings and only when sign-in is configured (`crate::sign_in::settings`).
    pub const SIGN_IN: &[&str] = &["KUSTOMER_OAUTH_CLIENT_SECRET"];
    /// `bridge-admin`: both platforms and the admin's token.
    pub const ADMIN: &[&str] = &["KUSTOMER_API_KEY", "CCAI_API_TOKEN", "ADMIN_TOKEN"];
    /// The workers (`bridge-sync`, `bridge-recording`, `bridge-transcript`) and the scheduled
    /// `bridge-reconcile`: both platforms.
    pub const WORKER: &[&str] = &["KUSTOMER_API_KEY", "CCAI_API_TOKEN"];
    /// Every secret any function reads (tests, the local host).
    pub const ALL: &[&str] = &[
        "KUSTOMER_API_KEY",
        "CCAI_API_TOKEN",
        "CCAI_EVENTS_CREDENTIALS",
        "ADMIN_TOKEN",
    ];
}

impl BridgeConfig {
    /// Reads the configuration with every secret ([`secrets::ALL`]).
    pub async fn load(
        env: &Env,
        parameters: Option<&dyn ParameterStore>,
    ) -> Result<Self, ConfigError> {
        Self::load_with(env, parameters, secrets::ALL).await
    }

    /// Reads the configuration from `env`, fetching the `needed` secrets (plain or
    /// `*_PARAM`) from `parameters` in one batch; the others are left empty and never read.
    /// Reports every missing variable at once, so a deploy is fixed in one round.
    pub async fn load_with(
        env: &Env,
        parameters: Option<&dyn ParameterStore>,
        needed: &[&'static str],
    ) -> Result<Self, ConfigError> {
        let mut missing = BTreeSet::new();
        let mut plain = |name: &str| match env.get(name) {
            Some(value) => value.to_owned(),
            None => {
                missing.insert(name.to_owned());
                String::new()
            }
        };
        let table_name = plain("TABLE_NAME");
        let bucket_name = plain("BUCKET_NAME");
        let kustomer_base_url = plain("KUSTOMER_BASE_URL");
        let ccai_base_url = plain("CCAI_BASE_URL");
        let ccai_subdomain = plain("CCAI_SUBDOMAIN");

        let mut sources = HashMap::new();
        for var in needed.iter().copied() {
            match secret_source(env, var)? {
                Some(source) => {
                    sources.insert(var, source);
                }
                None => {
                    missing.insert(var.to_owned());
                }
            }
        }
        if !missing.is_empty() {
            return Err(ConfigError::Missing(missing.into_iter().collect()));
        }
        let secrets = resolve_secrets(sources, parameters).await?;
        let secret = |var: &str| secrets.get(var).cloned().unwrap_or_else(|| Secret::new(""));

        let default_country = match env.get("DEFAULT_COUNTRY") {
            None => CountryCode(DEFAULT_COUNTRY.to_owned()),
            Some(value) => CountryCode::parse(value).ok_or_else(|| ConfigError::Malformed {
                var: "DEFAULT_COUNTRY".into(),
                reason: format!("expected a two-letter ISO country code such as US, got {value:?}"),
            })?,
        };
        let ccai_events_credentials = if needed.contains(&"CCAI_EVENTS_CREDENTIALS") {
            split_credentials(&secret("CCAI_EVENTS_CREDENTIALS"))?
        } else {
            Vec::new()
        };
        let shared_pacing = match env.get("SHARED_PACING").map(str::trim) {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => {
                return Err(ConfigError::Malformed {
                    var: "SHARED_PACING".into(),
                    reason: format!("expected on or off, got {other:?}"),
                });
            }
        };
        let mode = BridgeMode::parse(env.get("BRIDGE_MODE"))?;
        let kustomer_requests_per_minute = match env.get("KUSTOMER_REQUESTS_PER_MINUTE") {
            None => KUSTOMER_REQUESTS_PER_MINUTE,
            Some(value) => value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=100_000).contains(n))
                .ok_or_else(|| ConfigError::Malformed {
                    var: "KUSTOMER_REQUESTS_PER_MINUTE".into(),
                    reason: format!(
                        "expected a number of requests from 1 to 100000, got {value:?}"
                    ),
                })?,
        };

        Ok(Self {
            table_name: aws_name("TABLE_NAME", table_name)?,
            bucket_name: aws_name("BUCKET_NAME", bucket_name)?,
            kustomer: KustomerSettings {
                base_url: base_url("KUSTOMER_BASE_URL", &kustomer_base_url)?,
                api_key: secret("KUSTOMER_API_KEY"),
            },
            ccai: CcaiSettings {
                base_url: base_url("CCAI_BASE_URL", &ccai_base_url)?,
                subdomain: ccai_subdomain,
                api_token: secret("CCAI_API_TOKEN"),
            },
            ccai_events_credentials,
            admin_token: secret("ADMIN_TOKEN"),
            default_country,
            shared_pacing,
            kustomer_requests_per_minute,
            mode,
        })
    }
}

/// Secrets a function may be configured with (plain or `<NAME>_PARAM`), fetched in one batch;
/// the ones set neither way are absent from the answer.
pub async fn optional_secrets(
    env: &Env,
    parameters: Option<&dyn ParameterStore>,
    vars: &[&'static str],
) -> Result<HashMap<&'static str, Secret>, ConfigError> {
    let mut sources = HashMap::new();
    for var in vars {
        if let Some(source) = secret_source(env, var)? {
            sources.insert(*var, source);
        }
    }
    resolve_secrets(sources, parameters).await
}

fn secret_source(env: &Env, var: &str) -> Result<Option<SecretSource>, ConfigError> {
    let param_var = format!("{var}_PARAM");
    match (env.get(var), env.get(&param_var)) {
        (Some(_), Some(_)) => Err(ConfigError::Ambiguous { var: var.into() }),
        (Some(value), None) => Ok(Some(SecretSource::Inline(Secret::new(value)))),
        (None, Some(name)) => Ok(Some(SecretSource::Parameter(name.to_owned()))),
        (None, None) => Ok(None),
    }
}

async fn resolve_secrets(
    sources: HashMap<&'static str, SecretSource>,
    parameters: Option<&dyn ParameterStore>,
) -> Result<HashMap<&'static str, Secret>, ConfigError> {
    let mut names: Vec<String> = sources
        .values()
        .filter_map(|source| match source {
            SecretSource::Parameter(name) => Some(name.clone()),
            SecretSource::Inline(_) => None,
        })
        .collect();
    names.sort();
    names.dedup();
    let fetched = match (names.is_empty(), parameters) {
        (true, _) => HashMap::new(),
        (false, Some(store)) => store.get_parameters(&names).await?,
        (false, None) => {
            return Err(ConfigError::ParameterStore {
                message: format!(
                    "{} asked for, but no parameter store is configured",
                    names.join(", ")
                ),
                retryable: false,
            });
        }
    };
    sources
        .into_iter()
        .map(|(var, source)| match source {
            SecretSource::Inline(secret) => Ok((var, secret)),
            SecretSource::Parameter(name) => match fetched.get(&name) {
                Some(value) if !value.trim().is_empty() => Ok((var, Secret::new(value.trim()))),
                _ => Err(ConfigError::ParameterNotFound {
                    var: var.into(),
                    name,
                }),
            },
        })
        .collect()
}

/// One `user:password` pair of HTTP Basic auth. The password never prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BasicCredential {
    pub user: String,
    pub password: Secret,
}

/// Parses `CCAI_EVENTS_CREDENTIALS`: `user:password` entries, comma-separated.
pub fn split_credentials(joined: &Secret) -> Result<Vec<BasicCredential>, ConfigError> {
    let malformed = |reason: String| ConfigError::Malformed {
        var: "CCAI_EVENTS_CREDENTIALS".into(),
        reason,
    };
    let mut credentials = Vec::new();
    for (n, entry) in joined
        .expose()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        // A password may hold ':' (Basic auth splits at the first one), a user may not.
        match entry.split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => {
                credentials.push(BasicCredential {
                    user: user.to_owned(),
                    password: Secret::new(password),
                })
            }
            _ => {
                return Err(malformed(format!(
                    "entry {} is not user:password (both non-empty)",
                    n + 1
                )));
            }
        }
    }
    if credentials.is_empty() {
        return Err(malformed(
            "expected one or more comma-separated user:password entries".into(),
        ));
    }
    Ok(credentials)
}

fn base_url(var: &str, value: &str) -> Result<String, ConfigError> {
    let trimmed = value.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty()
                && !host.starts_with('/')
                && !host.contains(char::is_whitespace) =>
        {
            Ok(trimmed.to_owned())
        }
        _ => Err(ConfigError::Malformed {
            var: var.into(),
            reason: format!("expected an http(s) URL such as https://example.com, got {value:?}"),
        }),
    }
}

/// DynamoDB table and S3 bucket names: at least 3 characters, letters, digits and `.-_`.
fn aws_name(var: &str, value: String) -> Result<String, ConfigError> {
    let valid = (3..=255).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if valid {
        Ok(value)
    } else {
        Err(ConfigError::Malformed {
            var: var.into(),
            reason: format!("expected 3 to 255 letters, digits, '-', '_' or '.', got {value:?}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn complete_env() -> Vec<(&'static str, &'static str)> {
        vec![
            ("TABLE_NAME", "bridge-state"),
            ("BUCKET_NAME", "bridge-files"),
            ("KUSTOMER_BASE_URL", "https://api.kustomerapp.com/"),
            ("KUSTOMER_API_KEY", "k-key"),
            ("CCAI_BASE_URL", "https://acme.uc1.ccaiplatform.com"),
            ("CCAI_SUBDOMAIN", "acme"),
            ("CCAI_API_TOKEN", "c-token"),
            ("CCAI_EVENTS_CREDENTIALS", "calls:pw1, chats:p:w2"),
            ("KUSTOMER_WEBHOOK_SECRET", "kw"),
            ("ADMIN_TOKEN", "at"),
        ]
    }

    fn env_with(changes: &[(&'static str, Option<&'static str>)]) -> Env {
        let mut vars: HashMap<&str, &str> = complete_env().into_iter().collect();
        for (name, value) in changes {
            match value {
                Some(v) => vars.insert(name, v),
                None => vars.remove(name),
            };
        }
        Env::from_pairs(vars)
    }

    #[derive(Default)]
    struct FakeParameters {
        values: HashMap<String, String>,
        calls: Mutex<Vec<Vec<String>>>,
    }

    #[async_trait]
    impl ParameterStore for FakeParameters {
        async fn get_parameters(
            &self,
            names: &[String],
        ) -> Result<HashMap<String, String>, ConfigError> {
            if let Ok(mut calls) = self.calls.lock() {
                calls.push(names.to_vec());
            }
            Ok(names
                .iter()
                .filter_map(|n| self.values.get(n).map(|v| (n.clone(), v.clone())))
                .collect())
        }
    }

    #[tokio::test]
    async fn a_complete_environment_loads_with_defaults() {
        let config = BridgeConfig::load(&env_with(&[]), None).await.unwrap();
        assert_eq!(config.kustomer.base_url, "https://api.kustomerapp.com");
        assert_eq!(config.ccai_events_credentials.len(), 2);
        assert_eq!(config.ccai_events_credentials[0].user, "calls");
        assert_eq!(config.ccai_events_credentials[0].password.expose(), "pw1");
        // Basic auth splits at the first ':', so a password may hold more.
        assert_eq!(config.ccai_events_credentials[1].password.expose(), "p:w2");
        assert_eq!(config.default_country.as_str(), "US");
    }

    #[tokio::test]
    async fn a_function_reads_only_its_own_secrets() {
        // The intake has only the events' credentials; the status function has no
        // events' credentials and no admin token; neither is asked for what it does not use.
        let intake = env_with(&[
            ("KUSTOMER_API_KEY", None),
            ("CCAI_API_TOKEN", None),
            ("ADMIN_TOKEN", None),
        ]);
        let config = BridgeConfig::load_with(&intake, None, secrets::INTAKE)
            .await
            .unwrap();
        assert_eq!(config.ccai_events_credentials.len(), 2);
        assert_eq!(config.kustomer.api_key.expose(), "");
        let status = env_with(&[("CCAI_EVENTS_CREDENTIALS", None), ("ADMIN_TOKEN", None)]);
        let config = BridgeConfig::load_with(&status, None, secrets::STATUS)
            .await
            .unwrap();
        assert!(config.ccai_events_credentials.is_empty());
        assert_eq!(config.admin_token.expose(), "");
        let err = BridgeConfig::load_with(&status, None, secrets::ADMIN)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "missing configuration: ADMIN_TOKEN");
    }

    #[tokio::test]
    async fn every_missing_variable_is_named_at_once() {
        let err = BridgeConfig::load(
            &env_with(&[
                ("TABLE_NAME", None),
                ("CCAI_API_TOKEN", Some("  ")),
                ("ADMIN_TOKEN", None),
            ]),
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing configuration: ADMIN_TOKEN, CCAI_API_TOKEN, TABLE_NAME"
        );
    }

    #[tokio::test]
    async fn r_f_2_the_bridge_is_live_unless_told_shadow() {
        let live = BridgeConfig::load(&env_with(&[]), None).await.unwrap();
        assert_eq!(live.mode, BridgeMode::Live);
        let shadow = BridgeConfig::load(&env_with(&[("BRIDGE_MODE", Some("shadow"))]), None)
            .await
            .unwrap();
        assert!(shadow.mode.is_shadow());
    }

    #[tokio::test]
    async fn malformed_values_name_the_variable() {
        for (var, value) in [
            ("KUSTOMER_BASE_URL", "api.kustomerapp.com"),
            ("DEFAULT_COUNTRY", "USA"),
            ("TABLE_NAME", "ab"),
            ("CCAI_EVENTS_CREDENTIALS", " , "),
            ("BRIDGE_MODE", "dry-run"),
        ] {
            let err = BridgeConfig::load(&env_with(&[(var, Some(value))]), None)
                .await
                .unwrap_err();
            assert!(
                err.to_string().starts_with(var),
                "error for {var} was {err}"
            );
        }
    }

    #[tokio::test]
    async fn secrets_come_from_parameters_in_one_batch() {
        let store = FakeParameters {
            values: HashMap::from([
                ("/bridge/kustomer".to_owned(), "from-ssm".to_owned()),
                ("/bridge/ccai-events".to_owned(), "a:1,b:2".to_owned()),
            ]),
            ..Default::default()
        };
        let env = env_with(&[
            ("KUSTOMER_API_KEY", None),
            ("KUSTOMER_API_KEY_PARAM", Some("/bridge/kustomer")),
            ("CCAI_EVENTS_CREDENTIALS", None),
            ("CCAI_EVENTS_CREDENTIALS_PARAM", Some("/bridge/ccai-events")),
        ]);
        let config = BridgeConfig::load(&env, Some(&store)).await.unwrap();
        assert_eq!(config.kustomer.api_key.expose(), "from-ssm");
        assert_eq!(config.ccai_events_credentials[1].user, "b");
        assert_eq!(
            store.calls.lock().unwrap().len(),
            1,
            "one batch, not one call per secret"
        );
    }

    #[tokio::test]
    async fn a_missing_parameter_and_a_doubly_set_secret_are_refused() {
        let env = env_with(&[("ADMIN_TOKEN", None), ("ADMIN_TOKEN_PARAM", Some("/nope"))]);
        let err = BridgeConfig::load(&env, Some(&FakeParameters::default()))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ConfigError::ParameterNotFound { ref var, .. } if var == "ADMIN_TOKEN")
        );

        let env = env_with(&[("ADMIN_TOKEN_PARAM", Some("/also"))]);
        let err = BridgeConfig::load(&env, None).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "ADMIN_TOKEN and ADMIN_TOKEN_PARAM are both set; set one"
        );
    }

    #[tokio::test]
    async fn r_e_1_an_events_credential_without_user_or_password_is_refused() {
        for value in ["calls", "calls:", ":pw", "calls:pw,chats"] {
            let env = env_with(&[("CCAI_EVENTS_CREDENTIALS", Some(value))]);
            let err = BridgeConfig::load(&env, None).await.unwrap_err();
            assert!(
                err.to_string().starts_with("CCAI_EVENTS_CREDENTIALS")
                    && !err.to_string().contains("pw"),
                "{value}: {err}"
            );
        }
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(
            format!("{secret:?} {secret}"),
            "Secret([redacted]) [redacted]"
        );
    }
}

/// A function's own duration setting in whole seconds (`LEASE_SECONDS`,
/// `SESSION_POLL_SECONDS`): `None` when unset or empty, an error naming the variable when it is
/// not a whole number of at least `min` seconds.
pub fn seconds_setting(
    var: &str,
    value: Option<&str>,
    min: u64,
) -> Result<Option<std::time::Duration>, ConfigError> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    match text.parse::<u64>() {
        Ok(seconds) if seconds >= min => Ok(Some(std::time::Duration::from_secs(seconds))),
        _ => Err(ConfigError::Malformed {
            var: var.to_owned(),
            reason: format!("must be a whole number of seconds, at least {min}, not {text:?}"),
        }),
    }
}

#[cfg(test)]
mod seconds_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn seconds_settings_are_whole_numbers_or_a_clear_error() {
        assert_eq!(seconds_setting("LEASE_SECONDS", None, 5).unwrap(), None);
        assert_eq!(
            seconds_setting("LEASE_SECONDS", Some(" "), 5).unwrap(),
            None
        );
        assert_eq!(
            seconds_setting("LEASE_SECONDS", Some("45"), 5).unwrap(),
            Some(std::time::Duration::from_secs(45))
        );
        for bad in ["4", "30s", "-1", "1.5"] {
            let err = seconds_setting("LEASE_SECONDS", Some(bad), 5).unwrap_err();
            assert!(
                err.to_string().starts_with("LEASE_SECONDS is malformed"),
                "{err}"
            );
        }
    }
}
