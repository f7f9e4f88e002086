//! Google's side of a Cloud Storage bucket notification, as tests and the CCAI sandbox play it:
//! a local RSA key whose JWKS is served over HTTP (the bridge's `GOOGLE_JWKS_URL` locally), and
//! Pub/Sub push requests signed with it (events.md §2). The key is test material
//! (`tests/fixtures`), trusted by nothing deployed.

use serde_json::{Value, json};

/// What the token of one push says (tests change one field to make a bad one).
#[derive(Clone, Debug)]
pub struct TokenClaims {
    pub audience: String,
    pub email: String,
    pub email_verified: bool,
    pub issuer: String,
    /// Seconds from now; negative = expired.
    pub expires_in: i64,
}

impl TokenClaims {
    /// A token Google would sign for a push subscription's service account.
    pub fn google(audience: &str, service_account: &str) -> Self {
        Self {
            audience: audience.to_owned(),
            email: service_account.to_owned(),
            email_verified: true,
            issuer: "https://accounts.google.com".into(),
            expires_in: 3600,
        }
    }
}

pub struct PushSigner {
    key: ring::signature::RsaKeyPair,
    kid: String,
    jwks: Value,
}

impl Default for PushSigner {
    fn default() -> Self {
        Self::new()
    }
}

impl PushSigner {
    pub fn new() -> Self {
        let jwk: Value =
            serde_json::from_str(include_str!("../fixtures/storage-push-test-jwk.json"))
                .unwrap_or_default();
        let kid = jwk["kid"].as_str().unwrap_or_default().to_owned();
        Self {
            key: match ring::signature::RsaKeyPair::from_der(include_bytes!(
                "../fixtures/storage-push-test-key.der"
            )) {
                Ok(key) => key,
                Err(err) => panic!("the test key (PKCS#1 DER) is refused: {err}"),
            },
            kid,
            jwks: json!({ "keys": [jwk] }),
        }
    }

    /// The JWKS document (`/oauth2/v3/certs`).
    pub fn jwks(&self) -> Value {
        self.jwks.clone()
    }

    /// A signed token with these claims.
    pub fn token(&self, claims: &TokenClaims) -> String {
        let now = chrono::Utc::now().timestamp();
        let body = json!({"aud": claims.audience, "iss": claims.issuer,
            "email": claims.email, "email_verified": claims.email_verified,
            "iat": now - 10, "exp": now + claims.expires_in, "sub": "1234567890"});
        // Signed with ring as Google signs push tokens (RS256, a `kid` naming the JWKS key);
        // the bridge's jsonwebtoken provider verifies and never signs.
        use base64::Engine;
        let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        let signed = format!(
            "{}.{}",
            encode(header.to_string().as_bytes()),
            encode(body.to_string().as_bytes())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        if let Err(err) = self.key.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signed.as_bytes(),
            &mut signature,
        ) {
            panic!("signing a test token: {err}");
        }
        format!("{signed}.{}", encode(&signature))
    }
}

/// The push envelope of an `OBJECT_FINALIZE` notification (Pub/Sub push format; the
/// notification's attributes as Cloud Storage documents them).
pub fn envelope(bucket: &str, object: &str, generation: u64) -> Value {
    json!({"message": {"attributes": {"bucketId": bucket, "objectId": object,
        "objectGeneration": generation.to_string(), "eventType": "OBJECT_FINALIZE",
        "payloadFormat": "JSON_API_V1"}, "data": "e30=", "messageId": generation.to_string(),
        "publishTime": chrono::Utc::now().to_rfc3339()},
        "subscription": "projects/tenant-project/subscriptions/bridge-storage"})
}
