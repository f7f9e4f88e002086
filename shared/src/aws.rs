//! The AWS SDK's configuration, the same for every client: the region and credentials from the
//! environment (on Lambda, the function role's), and one HTTPS client on rustls with *ring*, the
//! provider the platform clients use too (`crate::http`), instead of the SDK's default (aws-lc),
//! so the binary carries one crypto library (bench/RESULTS.md).
//!
//! Trust: the Mozilla roots compiled in (`webpki-root-certs`), as for the platform clients. The
//! SDK's default reads and parses the system's certificate files whenever an SDK client is built
//! — `aws_config`'s own providers build some while loading — which was most of a cold start.
//! Every AWS endpoint presents a chain to the Amazon roots in that set.

use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
use base64::Engine;

/// The SDK configuration every adapter is built from.
pub async fn load_config() -> aws_config::SdkConfig {
    let builder =
        aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring));
    let builder = match TlsContext::builder()
        .with_trust_store(
            TrustStore::empty()
                .with_native_roots(false)
                .with_pem_certificate(mozilla_roots_pem()),
        )
        .build()
    {
        Ok(context) => builder.tls_context(context),
        // Only an empty store is refused; the compiled-in set is never empty.
        Err(_) => builder,
    };
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(builder.build_https())
        .load()
        .await
}

/// The compiled-in roots as one PEM bundle (the form the SDK's trust store takes).
fn mozilla_roots_pem() -> Vec<u8> {
    let mut pem = String::with_capacity(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() * 2048);
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        let encoded = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        let mut rest = encoded.as_str();
        while !rest.is_empty() {
            let (line, tail) = rest.split_at(rest.len().min(64));
            pem.push_str(line);
            pem.push('\n');
            rest = tail;
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn the_pem_bundle_holds_every_compiled_in_root() {
        let pem = mozilla_roots_pem();
        let parsed: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(parsed.len(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        assert!(parsed.len() > 100);
        assert_eq!(parsed[0], webpki_root_certs::TLS_SERVER_ROOT_CERTS[0]);
        let mut store = rustls::RootCertStore::empty();
        let (added, _) = store.add_parsable_certificates(parsed);
        assert_eq!(added, webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
    }
}
