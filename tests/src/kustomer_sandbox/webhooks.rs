//! Kustomer's outbound webhooks: changes POSTed to registered URLs, signed with
//! `X-Kustomer-Webhook-Signature` (lowercase hex HMAC-SHA256 of the raw body, keyed with the
//! webhook's token).

use super::Shared;
use super::state::{Delivery, Record};
use hmac::{KeyInit, Mac};
use serde_json::{Map, Value, json};

/// The signature Kustomer puts on a webhook body.
pub fn sign(token: &str, body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(token.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Sends `event` about `record` to every webhook subscribed to it, in the background.
pub(super) fn notify(
    sandbox: &Shared,
    event: &str,
    record: &Record,
    changes: Option<Map<String, Value>>,
) {
    let targets: Vec<(String, String)> = {
        let world = sandbox.world();
        world
            .webhooks
            .iter()
            .filter(|w| {
                w.attributes
                    .get("events")
                    .and_then(Value::as_array)
                    .is_some_and(|events| events.iter().any(|e| e == event))
            })
            .filter_map(|w| Some((w.text("url")?.to_owned(), w.text("token")?.to_owned())))
            .collect()
    };
    if targets.is_empty() {
        return;
    }
    let envelope = {
        let mut world = sandbox.world();
        json!({
            "id": world.new_id(),
            "name": event,
            "org": "5f0000000000000000000001",
            "orgName": "sandbox",
            "createdAt": world.timestamp(),
            "data": record.to_json(),
            "changes": changes.map(|c| json!({"attributes": c})),
            "dataId": record.id,
        })
    };
    let body = envelope.to_string();
    for (url, token) in targets {
        let sandbox = sandbox.clone();
        let body = body.clone();
        let event = event.to_owned();
        tokio::spawn(async move {
            let answer = sandbox
                .http
                .post(&url)
                .header("content-type", "application/json")
                .header("x-kustomer-webhook-event", &event)
                .header(
                    "x-kustomer-webhook-signature",
                    sign(&token, body.as_bytes()),
                )
                .body(body)
                .send()
                .await;
            let status = answer.ok().map(|r| r.status().as_u16());
            sandbox
                .world()
                .deliveries
                .push(Delivery { event, url, status });
        });
    }
}
