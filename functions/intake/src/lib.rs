//! `POST /webhooks/ccai` (events.md §1, R-E-1 … R-E-3): check the signature before anything
//! else, validate, store the event once (a conditional put on `EVENT#<id>`), answer at once.
//! The slow work happens downstream, from the table's stream.
//!
//! Answers: 202 stored · 200 duplicate (already stored, nothing done) · 202 ignored (unknown
//! type, logged) · 400 naming the field · 401 bad or missing signature · 413 over 256 KiB.

use bridge_shared::UnixMillis;
use bridge_shared::config::Secret;
use bridge_shared::events::{MAX_EVENT_BYTES, parse_session_event};
use bridge_shared::lambda::{body_bytes, json_answer};
use bridge_shared::signature::verify_session_event;
use bridge_shared::store::{DocumentStore, PutOutcome};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use std::sync::Arc;

pub use bridge_shared::events::{INBOX_RETENTION, inbox_item};

pub struct IntakeApi {
    pub store: Arc<dyn DocumentStore>,
    pub secrets: Vec<Secret>,
}

pub async fn handle(api: &IntakeApi, request: Request, now: UnixMillis) -> Response<Body> {
    if request.method() != Method::POST
        || request.uri().path().trim_end_matches('/') != "/webhooks/ccai"
    {
        return json_answer(StatusCode::NOT_FOUND, json!({"error": "no such route"}));
    }
    let body = body_bytes(&request);
    if body.len() > MAX_EVENT_BYTES {
        return json_answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"error": "body over 256 KiB"}),
        );
    }
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    if let Err(err) = verify_session_event(
        header("x-signature"),
        header("x-signature-timestamp"),
        body,
        &api.secrets,
        now.0 / 1000,
    ) {
        tracing::warn!(reason = %err, "session event refused");
        return json_answer(
            StatusCode::UNAUTHORIZED,
            json!({"error": format!("signature refused: {err}")}),
        );
    }
    let event = match parse_session_event(body) {
        Ok(event) => event,
        Err(err) => {
            return json_answer(
                StatusCode::BAD_REQUEST,
                json!({"error": err.to_string(), "field": err.field}),
            );
        }
    };
    if !event.is_known() {
        tracing::info!(event_id = %event.id, event_type = %event.event_type, "unknown event type ignored");
        return json_answer(
            StatusCode::ACCEPTED,
            json!({"id": event.id, "ignored": true}),
        );
    }
    let item = match inbox_item(&event, now) {
        Ok(item) => item,
        Err(err) => {
            return json_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": err.to_string()}),
            );
        }
    };
    match api.store.put_if_absent(&item, now).await {
        Ok(PutOutcome::Written) => {
            tracing::info!(event_id = %event.id, event_type = %event.event_type, session = event.session.id, "session event stored");
            json_answer(
                StatusCode::ACCEPTED,
                json!({"id": event.id, "stored": true}),
            )
        }
        Ok(PutOutcome::Kept(_)) => {
            tracing::info!(event_id = %event.id, "duplicate session event");
            json_answer(StatusCode::OK, json!({"id": event.id, "duplicate": true}))
        }
        Err(err) => {
            // Not stored: a 5xx makes the sender retry, so nothing is lost.
            tracing::error!(event_id = %event.id, error = %err, "session event not stored");
            json_answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "not stored; retry"}),
            )
        }
    }
}
