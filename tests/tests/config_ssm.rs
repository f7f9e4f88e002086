//! Secrets given as SSM parameter names are resolved from a real SSM API (the moto stand-in).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use aws_sdk_ssm::types::ParameterType;
use bridge_shared::config::{BridgeConfig, ConfigError, Env, SsmParameterStore};
use bridge_tests::local::ssm_client;
use bridge_tests::unique;

fn base_env() -> Vec<(String, String)> {
    [
        ("TABLE_NAME", "bridge-state"),
        ("BUCKET_NAME", "bridge-files"),
        ("KUSTOMER_BASE_URL", "https://api.kustomerapp.com"),
        ("CCAI_BASE_URL", "https://acme.uc1.ccaiplatform.com"),
        ("CCAI_SUBDOMAIN", "acme"),
        ("CCAI_API_TOKEN", "c-token"),
        ("KUSTOMER_WEBHOOK_SECRET", "kw"),
        ("ADMIN_TOKEN", "at"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[tokio::test]
async fn secure_string_parameters_resolve_at_load() {
    let client = ssm_client().await;
    let prefix = format!("/{}", unique("bridge"));
    for (name, value) in [
        ("kustomer-api-key", "k-from-ssm"),
        ("ccai-events", "calls:one,chats:two"),
    ] {
        client
            .put_parameter()
            .name(format!("{prefix}/{name}"))
            .value(value)
            .r#type(ParameterType::SecureString)
            .send()
            .await
            .unwrap();
    }
    let mut env = base_env();
    env.push((
        "KUSTOMER_API_KEY_PARAM".into(),
        format!("{prefix}/kustomer-api-key"),
    ));
    env.push((
        "CCAI_EVENTS_CREDENTIALS_PARAM".into(),
        format!("{prefix}/ccai-events"),
    ));
    let store = SsmParameterStore::new(client);
    let config = BridgeConfig::load(&Env::from_pairs(env), Some(&store))
        .await
        .unwrap();
    assert_eq!(config.kustomer.api_key.expose(), "k-from-ssm");
    let credentials: Vec<(&str, &str)> = config
        .ccai_events_credentials
        .iter()
        .map(|c| (c.user.as_str(), c.password.expose()))
        .collect();
    assert_eq!(credentials, [("calls", "one"), ("chats", "two")]);
}

#[tokio::test]
async fn a_parameter_that_does_not_exist_is_named() {
    let mut env = base_env();
    env.push(("KUSTOMER_API_KEY_PARAM".into(), "/no/such/parameter".into()));
    env.push(("CCAI_EVENTS_CREDENTIALS".into(), "u:p".into()));
    let store = SsmParameterStore::new(ssm_client().await);
    let err = BridgeConfig::load(&Env::from_pairs(env), Some(&store))
        .await
        .unwrap_err();
    match err {
        ConfigError::ParameterNotFound { var, name } => {
            assert_eq!(var, "KUSTOMER_API_KEY");
            assert_eq!(name, "/no/such/parameter");
        }
        other => panic!("expected ParameterNotFound, got {other:?}"),
    }
}
