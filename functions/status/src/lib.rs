//! The status function's HTTP surface (events.md §2): parse, call [`StatusService`], answer.
//!
//! | route | answer |
//! |---|---|
//! | `POST /agents/instances` `{email, instance_id}` | 201 `{lease_token, expires_at}` · 409 `{error, held_by, expires_in_s}` |
//! | `PUT /agents/instances/{instance_id}` `{email, lease_token}` | 200 `{expires_at}` · 409 |
//! | `DELETE /agents/instances/{instance_id}` `{email, lease_token}` | 204 |
//! | `POST /click-to-call` `{agent_email, phone, customer_id?, conversation_id?}` | 201 `{outcome: "created", call_id, customer_id, conversation_id}` · 202 `{outcome: "agent_must_act", …, message}` · 400 naming the field, or `{outcome: "refused", error}` with CCAI Platform's own message · 502 when a platform failed (R-C2C) |
//! | `POST /webhooks/kustomer/status` `{email, instance_id, lease_token, status_id, status_name?, changed_at}` | 202 `{outcome, message, …}` (`applied`, `pending`, `ignored_offline`, `already_there`, `superseded`, `failed`, `in_progress`) · 400 naming a field (a `changed_at` far from the server's clock is taken at the server's time, never refused: issue 24, L1) · 409 · 422 |
//! | `GET /widget`, `GET /widget/{asset}` | the agent widget (R-A; no token: the page holds none, its calls go through Kustomer app commands that add it) |
//!
//! Every other route needs `Authorization: Bearer <BRIDGE_TOKEN>`, compared in constant time.
//! `PUT /agents/instances/{id}` also answers the agent's last sync outcome (`sync`), so the
//! widget can show a pending change applied when the call ends.

pub mod run;
pub mod widget;

use bridge_shared::UnixMillis;
use bridge_shared::click_to_call::{ClickError, ClickOutcome, ClickRequest, ClickToCall};
use bridge_shared::config::Secret;
use bridge_shared::lambda::{bearer_authorised, body_bytes, json_answer, json_error};
use bridge_shared::retry::Retryable;
use bridge_shared::status::sync::{
    ChangeOutcome, ClaimOutcome, StatusChange, StatusError, StatusService,
};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub struct StatusApi {
    pub service: StatusService,
    pub bridge_token: Secret,
    pub click: ClickToCall,
    pub widget: widget::WidgetSettings,
}

/// The body as `T`, or why not (serde names the field), for a 400.
fn body<T: DeserializeOwned>(request: &Request) -> Result<T, String> {
    serde_json::from_slice(body_bytes(request)).map_err(|err| format!("invalid body: {err}"))
}

#[derive(Deserialize)]
struct ClaimBody {
    email: String,
    instance_id: String,
}

#[derive(Deserialize)]
struct LeaseBody {
    email: String,
    lease_token: u64,
}

fn failure(err: StatusError) -> Response<Body> {
    match &err {
        StatusError::Invalid(message) => json_error(StatusCode::BAD_REQUEST, message.clone()),
        StatusError::UnknownAgent { .. } => json_error(StatusCode::NOT_FOUND, err.to_string()),
        StatusError::SharedUser(_) => json_error(StatusCode::UNPROCESSABLE_ENTITY, err.to_string()),
        StatusError::Unmapped(_) => json_error(StatusCode::UNPROCESSABLE_ENTITY, err.to_string()),
        StatusError::NotHolder {
            held_by,
            expires_in_s,
        } => json_answer(
            StatusCode::CONFLICT,
            json!({"error": "this instance does not hold the agent's lease", "held_by": held_by, "expires_in_s": expires_in_s}),
        ),
        StatusError::Ccai(_) | StatusError::Kustomer(_) => {
            tracing::error!(error = %err, "platform call failed");
            json_error(StatusCode::BAD_GATEWAY, err.to_string())
        }
        StatusError::Store(_) => {
            tracing::error!(error = %err, retryable = err.is_retryable(), "state store failed");
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "state store unavailable; try again",
            )
        }
    }
}

/// R-C2C-3: the platform's answer passed back as it came.
async fn click_to_call(api: &StatusApi, request: &Request, now: UnixMillis) -> Response<Body> {
    let click: ClickRequest = match body(request) {
        Ok(b) => b,
        Err(why) => return json_error(StatusCode::BAD_REQUEST, why),
    };
    match api.click.call(&click, now).await {
        Ok(outcome @ ClickOutcome::Created { .. }) => json_answer(
            StatusCode::CREATED,
            serde_json::to_value(&outcome).unwrap_or(Value::Null),
        ),
        Ok(outcome @ ClickOutcome::AgentMustAct { .. }) => json_answer(
            StatusCode::ACCEPTED,
            serde_json::to_value(&outcome).unwrap_or(Value::Null),
        ),
        Ok(ClickOutcome::Refused { message }) => json_answer(
            StatusCode::BAD_REQUEST,
            json!({"outcome": "refused", "error": message}),
        ),
        Err(ClickError::Invalid(why)) => json_error(StatusCode::BAD_REQUEST, why),
        Err(err @ ClickError::Store(_)) => {
            tracing::error!(error = %err, "state store failed");
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "state store unavailable; try again",
            )
        }
        Err(err) => {
            tracing::error!(error = %err, "click-to-call: platform call failed");
            json_error(StatusCode::BAD_GATEWAY, err.to_string())
        }
    }
}

fn outcome_body(outcome: &ChangeOutcome) -> Value {
    serde_json::to_value(outcome).unwrap_or(Value::Null)
}

/// Handles one request. Never fails: every error is an HTTP answer.
pub async fn handle(api: &StatusApi, request: Request, now: UnixMillis) -> Response<Body> {
    if request.method() == Method::GET
        && let Some(page) = widget::serve(&api.widget, request.uri().path())
    {
        return page;
    }
    if !bearer_authorised(&request, &api.bridge_token) {
        return json_error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    let path = request.uri().path().trim_end_matches('/').to_owned();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let method = request.method().clone();
    match (method, segments.as_slice()) {
        (Method::POST, ["agents", "instances"]) => {
            let claim: ClaimBody = match body(&request) {
                Ok(b) => b,
                Err(why) => return json_error(StatusCode::BAD_REQUEST, why),
            };
            if claim.instance_id.trim().is_empty() {
                return json_error(StatusCode::BAD_REQUEST, "instance_id is required");
            }
            match api
                .service
                .claim(&claim.email, &claim.instance_id, now)
                .await
            {
                Ok(ClaimOutcome::Acquired {
                    lease_token,
                    expires_at,
                    applied_at_login,
                }) => json_answer(
                    StatusCode::CREATED,
                    json!({"lease_token": lease_token, "expires_at": expires_at.to_iso(), "applied_at_login": applied_at_login.as_ref().map(outcome_body)}),
                ),
                Ok(ClaimOutcome::Held {
                    held_by,
                    expires_in_s,
                }) => json_answer(
                    StatusCode::CONFLICT,
                    json!({"error": format!("another instance drives this agent; its lease frees in {expires_in_s} s"), "held_by": held_by, "expires_in_s": expires_in_s}),
                ),
                Err(err) => failure(err),
            }
        }
        (Method::PUT, ["agents", "instances", instance]) => {
            let lease: LeaseBody = match body(&request) {
                Ok(b) => b,
                Err(why) => return json_error(StatusCode::BAD_REQUEST, why),
            };
            match api
                .service
                .renew(&lease.email, instance, lease.lease_token, now)
                .await
            {
                Ok(expires_at) => {
                    // The outcome the widget shows; a read that fails costs only the display.
                    let sync = api
                        .service
                        .agent_state(&lease.email)
                        .await
                        .ok()
                        .flatten()
                        .and_then(|state| state.get("outcome").cloned())
                        .unwrap_or(Value::Null);
                    json_answer(
                        StatusCode::OK,
                        json!({"expires_at": expires_at.to_iso(), "sync": sync}),
                    )
                }
                Err(err) => failure(err),
            }
        }
        (Method::DELETE, ["agents", "instances", instance]) => {
            let lease: LeaseBody = match body(&request) {
                Ok(b) => b,
                Err(why) => return json_error(StatusCode::BAD_REQUEST, why),
            };
            match api
                .service
                .release(&lease.email, instance, lease.lease_token)
                .await
            {
                Ok(_) => Response::builder()
                    .status(StatusCode::NO_CONTENT)
                    .body(Body::Empty)
                    .unwrap_or_default(),
                Err(err) => failure(err),
            }
        }
        (Method::POST, ["webhooks", "kustomer", "status"]) => {
            let change: StatusChange = match body(&request) {
                Ok(b) => b,
                Err(why) => return json_error(StatusCode::BAD_REQUEST, why),
            };
            match api.service.change(&change, now).await {
                Ok(outcome) => json_answer(StatusCode::ACCEPTED, outcome_body(&outcome)),
                Err(err) => failure(err),
            }
        }
        (Method::POST, ["click-to-call"]) => click_to_call(api, &request, now).await,
        (_, ["agents", "instances", ..])
        | (_, ["webhooks", "kustomer", "status"])
        | (_, ["click-to-call"]) => json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed on this route",
        ),
        _ => json_error(StatusCode::NOT_FOUND, format!("no route {path}")),
    }
}
