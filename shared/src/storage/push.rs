//! Storage notifications (events.md §2, R-E-1, R-E-6): the Pub/Sub push of the tenant bucket's
//! `OBJECT_FINALIZE` notification. The push carries `Authorization: Bearer <JWT>` signed by
//! Google (RS256; ccai-api.md §3, H/M): verified against Google's published keys (the JWKS,
//! fetched and cached; `GOOGLE_JWKS_URL` so tests can use a local key), issuer
//! `https://accounts.google.com`, audience `STORAGE_PUSH_AUDIENCE`, `email` =
//! `STORAGE_PUSH_SERVICE_ACCOUNT` with `email_verified`, not expired. The body is the push
//! envelope `{message: {attributes: {bucketId, objectId, objectGeneration, eventType}, …}}`.

use crate::config::{ConfigError, Env};
use crate::events::{EventError, invalid};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Google's published keys for the tokens of push subscriptions (the OpenID Connect certificate
/// endpoint; not in the spec files — configurable as `GOOGLE_JWKS_URL` for that reason).
pub const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// The issuer of push tokens (ccai-api.md §3; Google's "Authentication for push subscriptions",
/// https://docs.cloud.google.com/pubsub/docs/authenticate-push-subscriptions.md.txt).
const ISSUERS: [&str; 1] = ["https://accounts.google.com"];
/// Keys are kept this long; an unknown key id refetches (at most once a minute).
const KEYS_FRESH_FOR: Duration = Duration::from_secs(3600);
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(60);
/// When a refetch fails, the keys fetched before are still used this long after their fetch
/// (Google publishes a key well before signing with it and keeps it well after; a JWKS outage
/// must not refuse every push, review S16).
const STALE_KEYS_AT_MOST: Duration = Duration::from_secs(24 * 3600);

/// `STORAGE_PUSH_*` and `GOOGLE_JWKS_URL`; `None` without `STORAGE_PUSH_AUDIENCE` (the route is
/// then off: files are found by the scheduled look alone).
#[derive(Clone, Debug)]
pub struct PushSettings {
    pub audience: String,
    pub service_account: String,
    pub jwks_url: String,
    /// Pushes for other buckets are ignored (`EXTERNAL_STORAGE_BUCKET`, when set).
    pub bucket: Option<String>,
    /// The export folder (`EXTERNAL_STORAGE_PREFIX`): a pushed object's name is taken below it.
    pub prefix: String,
}

impl PushSettings {
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let text = |var: &str| {
            env.get(var)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let Some(audience) = text("STORAGE_PUSH_AUDIENCE") else {
            return Ok(None);
        };
        let Some(service_account) = text("STORAGE_PUSH_SERVICE_ACCOUNT") else {
            return Err(ConfigError::Missing(vec![
                "STORAGE_PUSH_SERVICE_ACCOUNT".into(),
            ]));
        };
        Ok(Some(Self {
            audience,
            service_account,
            jwks_url: text("GOOGLE_JWKS_URL").unwrap_or_else(|| GOOGLE_JWKS_URL.into()),
            bucket: text("EXTERNAL_STORAGE_BUCKET"),
            prefix: text("EXTERNAL_STORAGE_PREFIX").unwrap_or_default(),
        }))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PushError {
    #[error("missing or malformed bearer token")]
    NoToken,
    #[error("token refused: {0}")]
    Token(String),
    #[error("token for {0}, not the configured push service account")]
    WrongAccount(String),
    #[error("the push service account's e-mail is not verified")]
    Unverified,
    #[error("no Google key {0}")]
    UnknownKey(String),
    #[error("Google's keys could not be read: {0}")]
    Keys(String),
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: String,
    n: String,
    e: String,
    #[serde(default)]
    kty: String,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    email: String,
    #[serde(default)]
    email_verified: bool,
}

struct Cached {
    fetched: Instant,
    keys: HashMap<String, DecodingKey>,
}

/// The verifier: settings and Google's keys, cached for the container's life.
pub struct PushVerifier {
    pub settings: PushSettings,
    http: reqwest::Client,
    cache: Mutex<Option<Cached>>,
    fresh_for: Duration,
    refetch_every: Duration,
}

impl PushVerifier {
    pub fn new(settings: PushSettings, http: reqwest::Client) -> Self {
        super::jwt_ring::install();
        Self {
            settings,
            http,
            cache: Mutex::new(None),
            fresh_for: KEYS_FRESH_FOR,
            refetch_every: REFETCH_AT_MOST_EVERY,
        }
    }

    /// With other cache timings (tests: keys that age at once).
    pub fn with_timings(mut self, fresh_for: Duration, refetch_every: Duration) -> Self {
        self.fresh_for = fresh_for;
        self.refetch_every = refetch_every;
        self
    }

    fn cached(&self, kid: &str, fresh_for: Duration) -> Option<DecodingKey> {
        let cache = self.cache.lock().ok()?;
        let cached = cache.as_ref()?;
        (cached.fetched.elapsed() < fresh_for)
            .then(|| cached.keys.get(kid).cloned())
            .flatten()
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, PushError> {
        if let Some(key) = self.cached(kid, self.fresh_for) {
            return Ok(key);
        }
        let recently = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.as_ref().map(|c| c.fetched.elapsed() < self.refetch_every))
            .unwrap_or(false);
        if recently {
            // An unknown key id within a minute of a fetch: not a rotation, a bad token.
            return Err(PushError::UnknownKey(kid.to_owned()));
        }
        let fetched: Result<Jwks, reqwest::Error> = async {
            self.http
                .get(&self.settings.jwks_url)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await
        }
        .await;
        let jwks = match fetched {
            Ok(jwks) => jwks,
            Err(err) => {
                if let Some(key) = self.cached(kid, STALE_KEYS_AT_MOST) {
                    tracing::warn!(error = %crate::http::describe(&err), "Google's keys could not be refetched; the keys fetched before are used");
                    return Ok(key);
                }
                return Err(PushError::Keys(crate::http::describe(&err)));
            }
        };
        let mut keys = HashMap::new();
        for jwk in jwks.keys.into_iter().filter(|k| k.kty == "RSA") {
            if let Ok(key) = DecodingKey::from_rsa_components(&jwk.n, &jwk.e) {
                keys.insert(jwk.kid, key);
            }
        }
        let found = keys.get(kid).cloned();
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Some(Cached {
                fetched: Instant::now(),
                keys,
            });
        }
        found.ok_or_else(|| PushError::UnknownKey(kid.to_owned()))
    }

    /// Checks the push's `Authorization` header.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<(), PushError> {
        let token = authorization
            .and_then(|h| h.trim().strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(PushError::NoToken)?;
        let header = decode_header(token).map_err(|e| PushError::Token(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(PushError::Token(format!(
                "algorithm {:?}, not RS256",
                header.alg
            )));
        }
        let kid = header.kid.ok_or(PushError::Token("no key id".into()))?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_issuer(&ISSUERS);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = decode::<Claims>(token, &key, &validation)
            .map_err(|e| PushError::Token(e.to_string()))?
            .claims;
        if !claims
            .email
            .eq_ignore_ascii_case(&self.settings.service_account)
        {
            return Err(PushError::WrongAccount(claims.email));
        }
        if !claims.email_verified {
            return Err(PushError::Unverified);
        }
        Ok(())
    }
}

/// The object a push reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedObject {
    pub bucket: String,
    pub object: String,
    pub generation: String,
    pub event_type: String,
}

/// Reads the push envelope; the error names the missing attribute.
pub fn parse_push(body: &[u8]) -> Result<PushedObject, EventError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| invalid("body", format!("not JSON: {e}")))?;
    crate::shapes::observe(crate::shapes::DocumentKind::PubSubEnvelope, &value);
    let attributes = value
        .get("message")
        .and_then(|m| m.get("attributes"))
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("message.attributes", "is required"))?;
    let text = |name: &str| -> Result<String, EventError> {
        attributes
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| invalid(&format!("message.attributes.{name}"), "is required"))
    };
    Ok(PushedObject {
        bucket: text("bucketId")?,
        object: text("objectId")?,
        generation: text("objectGeneration")?,
        event_type: text("eventType")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn r_e_6_the_push_envelope_names_its_object() {
        let body = json!({"message": {"attributes": {"bucketId": "tenant", "objectId": "x/call-1.mp3",
            "objectGeneration": "1764669600123456", "eventType": "OBJECT_FINALIZE",
            "notificationConfig": "projects/_/buckets/tenant/notificationConfigs/1"},
            "data": "e30=", "messageId": "1", "publishTime": "2026-12-02T10:00:00Z"},
            "subscription": "projects/p/subscriptions/bridge"});
        let pushed = parse_push(body.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pushed.object, "x/call-1.mp3");
        assert_eq!(pushed.generation, "1764669600123456");
        for (body, field) in [
            (json!({}), "message.attributes"),
            (
                json!({"message": {"attributes": {"bucketId": "b"}}}),
                "message.attributes.objectId",
            ),
        ] {
            assert_eq!(
                parse_push(body.to_string().as_bytes()).unwrap_err().field,
                field
            );
        }
    }
}
