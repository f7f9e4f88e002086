//! `jsonwebtoken`'s cryptography on *ring*, for the one algorithm the bridge verifies: RS256,
//! the signature of Pub/Sub push tokens ([`super::push`]).
//!
//! `jsonwebtoken` 10 leaves its cryptography to a provider. Its two built-in ones are aws-lc
//! (a second crypto library beside the *ring* that rustls already links here) and RustCrypto
//! (`rsa`, `p256`, `p384`, `ed25519-dalek` and their bignum crates, linked whole because its
//! provider names every algorithm). This provider verifies RS256 with *ring* and refuses every
//! other algorithm and all signing: the intake links no crypto it does not use (issue 27, zip
//! size; bench/RESULTS.md).

use jsonwebtoken::crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier};
use jsonwebtoken::errors::{ErrorKind, Result, new_error};
use jsonwebtoken::signature::{Error as SignatureError, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey};

/// RS256 verification only.
static RING_RS256: CryptoProvider = CryptoProvider {
    signer_factory: refuse_signing,
    verifier_factory: rs256_verifier,
    jwk_utils: JwkUtils::new_unimplemented(),
};

/// Makes [`RING_RS256`] the process's provider. Idempotent; a provider installed before (a
/// test's own) is left in place.
pub fn install() {
    let _already = RING_RS256.install_default();
}

fn refuse_signing(_: &Algorithm, _: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    Err(new_error(ErrorKind::InvalidAlgorithm))
}

fn rs256_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    if *algorithm != Algorithm::RS256 {
        return Err(new_error(ErrorKind::InvalidAlgorithm));
    }
    if key.family() != AlgorithmFamily::Rsa {
        return Err(new_error(ErrorKind::InvalidKeyFormat));
    }
    let key = match key.kind() {
        DecodingKeyKind::RsaModulusExponent { n, e } => {
            // A JWK's big-endian integers may carry leading zero bytes, which ring refuses.
            let (n, e) = (without_leading_zeros(n), without_leading_zeros(e));
            let bits = n.len() * 8;
            if !(2048..=8192).contains(&bits) {
                // Said as a key problem, not as a bad signature of every token.
                return Err(new_error(ErrorKind::InvalidRsaKey(format!(
                    "a {bits}-bit modulus: RS256 keys of 2048 to 8192 bits are verified"
                ))));
            }
            RsaKey::Components {
                n: n.to_vec(),
                e: e.to_vec(),
            }
        }
        // `DecodingKey::from_rsa_der`: PKCS#1 `RSAPublicKey`, the form ring parses.
        DecodingKeyKind::SecretOrDer(der) => RsaKey::Der(der.clone()),
    };
    Ok(Box::new(Rs256(key)))
}

fn without_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

enum RsaKey {
    Components { n: Vec<u8>, e: Vec<u8> },
    Der(Vec<u8>),
}

struct Rs256(RsaKey);

impl Verifier<Vec<u8>> for Rs256 {
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> std::result::Result<(), SignatureError> {
        // 2048–8192-bit moduli: Google's keys are 2048; ring refuses shorter ones.
        let checked = match &self.0 {
            RsaKey::Components { n, e } => RsaPublicKeyComponents { n, e }.verify(
                &RSA_PKCS1_2048_8192_SHA256,
                message,
                signature,
            ),
            RsaKey::Der(der) => {
                UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der).verify(message, signature)
            }
        };
        checked.map_err(|_| SignatureError::new())
    }
}

impl JwtVerifier for Rs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use jsonwebtoken::{Validation, decode};
    use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
    use serde_json::{Value, json};

    const KEY_DER: &[u8] = include_bytes!("../../../tests/fixtures/storage-push-test-key.der");
    const JWK: &str = include_str!("../../../tests/fixtures/storage-push-test-jwk.json");

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    fn signed(header: &Value, claims: &Value) -> String {
        let key = RsaKeyPair::from_der(KEY_DER).unwrap();
        let message = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let mut signature = vec![0; key.public().modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            message.as_bytes(),
            &mut signature,
        )
        .unwrap();
        format!("{message}.{}", b64(&signature))
    }

    fn published_key() -> DecodingKey {
        let jwk: Value = serde_json::from_str(JWK).unwrap();
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap()
    }

    fn claims() -> Value {
        json!({"aud": "bridge", "exp": jsonwebtoken::get_current_timestamp() + 600})
    }

    fn check(token: &str, algorithm: Algorithm) -> Result<Value> {
        install();
        let mut validation = Validation::new(algorithm);
        validation.set_audience(&["bridge"]);
        decode::<Value>(token, &published_key(), &validation).map(|data| data.claims)
    }

    #[test]
    fn r_e_6_an_rs256_token_of_the_published_key_verifies_on_ring() {
        let token = signed(&json!({"alg": "RS256", "typ": "JWT"}), &claims());
        assert_eq!(check(&token, Algorithm::RS256).unwrap()["aud"], "bridge");
    }

    #[test]
    fn r_e_6_a_changed_claim_or_signature_is_refused() {
        let token = signed(&json!({"alg": "RS256", "typ": "JWT"}), &claims());
        let parts: Vec<&str> = token.split('.').collect();
        let forged_claims = b64(json!({"aud": "bridge", "exp": u32::MAX})
            .to_string()
            .as_bytes());
        let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        let err = check(&forged, Algorithm::RS256).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidSignature), "{err:?}");

        let mut signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[2])
            .unwrap();
        signature[10] ^= 1;
        let flipped = format!("{}.{}.{}", parts[0], parts[1], b64(&signature));
        let err = check(&flipped, Algorithm::RS256).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidSignature), "{err:?}");
    }

    #[test]
    fn r_e_6_a_published_modulus_with_a_leading_zero_byte_still_verifies() {
        let jwk: Value = serde_json::from_str(JWK).unwrap();
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut n = engine.decode(jwk["n"].as_str().unwrap()).unwrap();
        n.insert(0, 0);
        let e = engine.decode(jwk["e"].as_str().unwrap()).unwrap();
        let key = DecodingKey::from_rsa_raw_components(&n, &e);
        let token = signed(&json!({"alg": "RS256", "typ": "JWT"}), &claims());
        install();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["bridge"]);
        assert!(decode::<Value>(&token, &key, &validation).is_ok());
    }

    #[test]
    fn r_e_6_a_short_or_foreign_key_is_a_key_error_not_a_bad_signature() {
        let token = signed(&json!({"alg": "RS256", "typ": "JWT"}), &claims());
        install();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["bridge"]);
        let short = DecodingKey::from_rsa_raw_components(&[0xC5; 128], &[1, 0, 1]);
        let err = decode::<Value>(&token, &short, &validation).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidRsaKey(_)), "{err:?}");
        let hmac = DecodingKey::from_secret(b"not an RSA key");
        let err = decode::<Value>(&token, &hmac, &validation).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidKeyFormat), "{err:?}");
    }

    #[test]
    fn r_e_6_only_rs256_is_verified_and_nothing_is_signed() {
        // A token claiming another RSA algorithm, checked as that algorithm: refused by the
        // provider, not verified with another hash.
        let token = signed(&json!({"alg": "RS512", "typ": "JWT"}), &claims());
        let err = check(&token, Algorithm::RS512).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidAlgorithm), "{err:?}");
        install();
        let err = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(b"secret"),
        )
        .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidAlgorithm), "{err:?}");
    }
}
