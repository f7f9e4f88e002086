//! The AWS SDK's configuration, the same for every client: the region and credentials from the
//! environment (on Lambda, the function role's), and the SDK's requests sent through this
//! project's own HTTPS client ([`http_client`]: reqwest, rustls on *ring*, the Mozilla roots
//! compiled in), so the binary carries one crypto library and one HTTP client
//! (bench/RESULTS.md). Every AWS endpoint presents a chain to the Amazon roots in that set.
//!
//! The functions read only what Lambda gives a function's process ([`load_config`]):
//! `AWS_REGION`, and the execution role's `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
//! `AWS_SESSION_TOKEN` ("Defined runtime environment variables", AWS Lambda Developer Guide,
//! https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime),
//! and the `AWS_ENDPOINT_URL[_<SERVICE>]` overrides the local stand-ins use. `aws_config`'s
//! default chain (profile files, STS web identity and assume-role, IMDS, the ECS endpoint,
//! SSO) is for a person's machine: it read the profile files at every cold start and linked
//! the STS client into every binary (issue 27: zip size and init). Tools run by a person (the
//! host's `doctor`) keep it: [`load_config_with_profiles`].

use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_types::os_shim_internal::Env;
use aws_types::region::Region;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use std::time::Duration;

pub mod http_client;
mod lazy;

pub use lazy::LazyClient;

/// aws-config's default connect timeout, kept (`aws_config::timeout_config`).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// The SDK configuration every function's adapters are built from: the process environment
/// only, as Lambda gives it.
pub async fn load_config() -> SdkConfig {
    from_env(&Env::real())
}

/// The same, read from `env` (tests give their own).
pub fn from_env(env: &Env) -> SdkConfig {
    let region = env
        .get("AWS_REGION")
        .or_else(|_| env.get("AWS_DEFAULT_REGION"))
        .ok()
        .filter(|region| !region.is_empty())
        .map(Region::new);
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region)
        .http_client(http_client::shared_client())
        .time_source(aws_smithy_async::time::SystemTimeSource::new())
        .retry_config(retry_config(env))
        .timeout_config(
            aws_smithy_types::timeout::TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .build(),
        )
        .use_fips(flag(env, "AWS_USE_FIPS_ENDPOINT"))
        .use_dual_stack(flag(env, "AWS_USE_DUALSTACK_ENDPOINT"))
        .service_config(EnvEndpoints { env: env.clone() });
    // rt-tokio is on: tokio's sleep (retry back-off, timeouts) is always there.
    builder.set_sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep());
    match credentials(env) {
        Some(credentials) => {
            builder = builder.credentials_provider(SharedCredentialsProvider::new(credentials));
        }
        None => tracing::warn!(
            "AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is not set: requests to AWS will be refused"
        ),
    }
    builder.build()
}

/// The SDK's default chain (profile files, SSO-less), for tools a person runs on their own
/// machine; never a function's.
pub async fn load_config_with_profiles() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client::shared_client())
        .load()
        .await
}

/// The SDK's standard retries (3 attempts), or `AWS_MAX_ATTEMPTS` of them as aws-config reads it
/// (the cold-start bench sets 1).
fn retry_config(env: &Env) -> aws_smithy_types::retry::RetryConfig {
    let standard = aws_smithy_types::retry::RetryConfig::standard();
    match env
        .get("AWS_MAX_ATTEMPTS")
        .ok()
        .and_then(|n| n.trim().parse::<u32>().ok())
    {
        Some(attempts) if attempts > 0 => standard.with_max_attempts(attempts),
        _ => standard,
    }
}

/// `true` (any case) turns a setting on, as aws-config reads it; anything else leaves it off.
fn flag(env: &Env, name: &str) -> bool {
    env.get(name)
        .is_ok_and(|value| value.trim().eq_ignore_ascii_case("true"))
}

fn credentials(env: &Env) -> Option<Credentials> {
    let get = |name: &str| env.get(name).ok().filter(|value| !value.trim().is_empty());
    Some(Credentials::new(
        get("AWS_ACCESS_KEY_ID")?,
        get("AWS_SECRET_ACCESS_KEY")?,
        get("AWS_SESSION_TOKEN"),
        None,
        "environment",
    ))
}

/// `AWS_ENDPOINT_URL_<SERVICE>` then `AWS_ENDPOINT_URL` (unless
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`), as the SDK's service clients ask for them; the
/// lookup is aws-runtime's own, without profile files.
#[derive(Debug)]
struct EnvEndpoints {
    env: Env,
}

impl LoadServiceConfig for EnvEndpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let env = &self.env;
        if flag(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") && key.env() == "AWS_ENDPOINT_URL" {
            return None;
        }
        aws_runtime::env_config::EnvConfigValue::new()
            .env(key.env())
            .profile(key.profile())
            .service_id(key.service_id())
            .load(env, None)
            .map(|(value, _source)| value.into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(env: &[(&str, &str)], service_id: &str) -> Option<String> {
        let key = ServiceConfigKey::builder()
            .service_id(service_id)
            .env("AWS_ENDPOINT_URL")
            .profile("endpoint_url")
            .build()
            .unwrap();
        EnvEndpoints {
            env: Env::from_slice(env),
        }
        .load_config(key)
    }

    #[test]
    fn a_service_s_own_endpoint_comes_before_the_shared_one() {
        let env = [
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:2"),
            ("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", "http://127.0.0.1:3"),
        ];
        assert_eq!(
            endpoint(&env, "DynamoDB").as_deref(),
            Some("http://127.0.0.1:2")
        );
        assert_eq!(
            endpoint(&env, "DynamoDB Streams").as_deref(),
            Some("http://127.0.0.1:3")
        );
        assert_eq!(endpoint(&env, "S3").as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(endpoint(&[], "S3"), None);
        let ignored = [
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ];
        assert_eq!(endpoint(&ignored, "S3"), None);
    }

    #[tokio::test]
    async fn the_region_and_the_role_s_credentials_come_from_lambda_s_variables() {
        use aws_credential_types::provider::ProvideCredentials;
        let config = from_env(&Env::from_slice(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "session"),
        ]));
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        let credentials = config
            .credentials_provider()
            .unwrap()
            .provide_credentials()
            .await
            .unwrap();
        assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("session"));
        assert!(config.service_config().is_some());
        assert_eq!(config.use_fips(), Some(false));
        let fips = from_env(&Env::from_slice(&[
            ("AWS_USE_FIPS_ENDPOINT", "TRUE"),
            ("AWS_USE_DUALSTACK_ENDPOINT", "true"),
        ]));
        assert_eq!(fips.use_fips(), Some(true));
        assert_eq!(fips.use_dual_stack(), Some(true));
        assert_eq!(config.retry_config().unwrap().max_attempts(), 3);
        let once = from_env(&Env::from_slice(&[("AWS_MAX_ATTEMPTS", "1")]));
        assert_eq!(once.retry_config().unwrap().max_attempts(), 1);
        assert!(config.http_client().is_some());
        assert!(
            config.sleep_impl().is_some(),
            "retries and timeouts need a sleep"
        );

        let bare = from_env(&Env::from_slice(&[("AWS_DEFAULT_REGION", "us-east-1")]));
        assert_eq!(bare.region().map(|r| r.as_ref()), Some("us-east-1"));
        assert!(bare.credentials_provider().is_none());
    }
}
