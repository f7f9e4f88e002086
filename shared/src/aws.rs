//! The AWS SDK's configuration, the same for every client: the region and credentials from the
//! environment (on Lambda, the function role's), and one HTTPS client on rustls with *ring*, the
//! provider the platform clients use too (`crate::http`), instead of the SDK's default (aws-lc),
//! so the binary carries one crypto library (bench/RESULTS.md).

use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// The SDK configuration every adapter is built from.
pub async fn load_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build_https(),
        )
        .load()
        .await
}
