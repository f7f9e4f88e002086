//! The status function's HTTP surface (events.md §3): parse, call [`StatusService`], answer.
//!
//! | route | answer |
//! |---|---|
//! | `GET /agents/sign-in` | 302 to Kustomer's authorize page (PKCE, `state`, a cookie binding the browser) |
//! | `GET /agents/sign-in/callback` | the sign-in window's page: the agent session handed to the widget · 400/403/502 with the reason |
//! | `GET /agents/session` · `DELETE /agents/session` | who the session is (`{email, expires_at}`) · sign-out, 204 |
//! | `POST /agents/instances` `{instance_id}` | 201 `{lease_token, expires_at}` · 409 `{error, expires_in_s}` |
//! | `PUT /agents/instances/{instance_id}` `{lease_token}` | 200 `{expires_at, sync}` · 409 |
//! | `DELETE /agents/instances/{instance_id}` `{lease_token}` | 204 |
//! | `POST /click-to-call` `{phone, customer_id?, conversation_id?}` | 201 `{outcome: "created", call_id, customer_id, conversation_id}` · 202 `{outcome: "agent_must_act", …, message}` · 400 naming the field, or `{outcome: "refused", error}` with CCAI Platform's own message · 409 in shadow mode (nothing placed) · 502 when a platform failed (R-C2C) |
//! | `POST /webhooks/kustomer/status` `{}` (a trigger; the first widgets' `instance_id`, `lease_token`, `status_id`, `status_name`, `changed_at` are accepted and not acted on) | 202 `{outcome, message, …}` (`applied`, `pending`, `ignored_offline`, `already_there`, `superseded`, `failed`, `in_progress`, `nothing_to_follow`; `shadow` in shadow mode: the status that would be set) for the agent's status **as Kustomer records it** (R-S-4) · 422 unmapped, or no active work session · 429 `{outcome: "too_soon", retry_after_s}` with `Retry-After` within 2 s of the agent's last followed report |
//! | `GET /widget`, `GET /widget/{asset}` | the agent widget (R-A; no session needed to load it) |
//!
//! Every agent route needs `Authorization: Bearer <agent session>` (R-SEC-1): the agent is the
//! session's, and a body that still names one (`email`, `agent_email`) must name that agent
//! (else 403). A refused lease names no other tab (review S2).

pub mod agent;
pub mod run;
pub mod sign_in_routes;
pub mod widget;

use bridge_shared::UnixMillis;
use bridge_shared::click_to_call::audit::Caller;
use bridge_shared::click_to_call::{ClickError, ClickOutcome, ClickRequest, ClickToCall};
use bridge_shared::lambda::{body_bytes, busy, json_answer, json_error, unsent_for_pacing};
use bridge_shared::retry::Retryable;
use bridge_shared::sign_in::{AgentIdentity, KustomerOAuth};
use bridge_shared::status::report_gate;
use bridge_shared::status::sync::{ChangeOutcome, ClaimOutcome, StatusError, StatusService};
use bridge_shared::store::StateStore;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;

pub struct StatusApi {
    pub service: StatusService,
    pub store: Arc<dyn StateStore>,
    /// Kustomer's OAuth provider; `None` when sign-in is not configured (every agent route
    /// then answers 401, the sign-in route says what to set).
    pub oauth: Option<KustomerOAuth>,
    /// `BRIDGE_PUBLIC_URL`: the bridge's origin as browsers reach it, when API Gateway's own
    /// domain is not it.
    pub public_url: Option<String>,
    pub click: ClickToCall,
    pub widget: widget::WidgetSettings,
}

/// The body as `T`, or why not (serde names the field), for a 400.
fn body<T: DeserializeOwned>(request: &Request) -> Result<T, String> {
    serde_json::from_slice(body_bytes(request)).map_err(|err| format!("invalid body: {err}"))
}

#[derive(Deserialize)]
struct ClaimBody {
    #[serde(default)]
    email: Option<String>,
    instance_id: String,
}

#[derive(Deserialize)]
struct LeaseBody {
    #[serde(default)]
    email: Option<String>,
    lease_token: u64,
}

/// `POST /webhooks/kustomer/status`: a trigger. The fields the first widgets sent
/// (`instance_id`, `lease_token`, `status_id`, `status_name`, `changed_at`) are accepted and
/// ignored: the bridge reads the agent's work session instead (R-S-4).
#[derive(Deserialize)]
struct StatusBody {
    #[serde(default)]
    email: Option<String>,
}

/// The platforms' shared schedule is booked: nothing was sent; the widget tries again.
fn pacing_busy(err: &dyn std::fmt::Display) -> Response<Body> {
    tracing::warn!(error = %err, "request not sent: the platform's schedule is booked");
    busy(
        PACING_RETRY_AFTER_S,
        "the platforms' request budget is booked for now; try again shortly",
    )
}

/// A report too soon after the agent's last followed one: nothing was read; the widget sends
/// it again after `Retry-After` (the change is followed then, not lost).
fn too_soon(retry_after_s: u64) -> Response<Body> {
    let mut response = json_answer(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"outcome": "too_soon", "error": format!("the agent's status was read less than {} s ago; report again in {retry_after_s} s", report_gate::REPORT_INTERVAL.as_secs()), "retry_after_s": retry_after_s}),
    );
    if let Ok(value) = retry_after_s.to_string().parse() {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

/// What a refused request is told to wait (the pacer queues at most `MAX_QUEUE`, 20 s).
const PACING_RETRY_AFTER_S: u64 = 5;

fn failure(err: StatusError) -> Response<Body> {
    match &err {
        StatusError::Invalid(message) => json_error(StatusCode::BAD_REQUEST, message.clone()),
        StatusError::UnknownAgent { .. } => json_error(StatusCode::NOT_FOUND, err.to_string()),
        StatusError::SharedUser(_) => json_error(StatusCode::UNPROCESSABLE_ENTITY, err.to_string()),
        StatusError::TooSoon { retry_after_s } => too_soon(*retry_after_s),
        StatusError::Unmapped(_) | StatusError::NoWorkSession => {
            json_error(StatusCode::UNPROCESSABLE_ENTITY, err.to_string())
        }
        // Which tab holds it is not said (review S2).
        StatusError::NotHolder { expires_in_s, .. } => json_answer(
            StatusCode::CONFLICT,
            json!({"error": "this tab does not hold the agent's lease", "expires_in_s": expires_in_s}),
        ),
        StatusError::Kustomer(e) if unsent_for_pacing(Some(e), None) => pacing_busy(&err),
        StatusError::Ccai(e) if unsent_for_pacing(None, Some(e)) => pacing_busy(&err),
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
async fn click_to_call(
    api: &StatusApi,
    identity: &AgentIdentity,
    request: &Request,
    now: UnixMillis,
) -> Response<Body> {
    let click: ClickRequest = match body(request) {
        Ok(b) => b,
        Err(why) => return json_error(StatusCode::BAD_REQUEST, why),
    };
    if let Some(refused) = agent::other_agent(identity, click.agent_email.as_deref()) {
        return refused;
    }
    let caller = Caller {
        email: identity.email.clone(),
        session: identity.id.clone(),
        source_ip: bridge_shared::lambda::source_ip(request),
    };
    // Shadow mode writes nothing to either platform (R-F-2): refused before the policy counts
    // the attempt or audits it.
    if !api.click.ccai.writes() {
        return json_error(
            StatusCode::CONFLICT,
            "the bridge runs in shadow mode: no call is placed (BRIDGE_MODE)",
        );
    }
    match api.click.call(&caller, &click, now).await {
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
        Err(ClickError::Refused(refusal)) => json_error(
            StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::FORBIDDEN),
            refusal.to_string(),
        ),
        Err(err @ ClickError::Store(_)) => {
            tracing::error!(error = %err, "state store failed");
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "state store unavailable; try again",
            )
        }
        Err(ClickError::Kustomer(e)) if unsent_for_pacing(Some(&e), None) => pacing_busy(&e),
        Err(ClickError::Ccai(e)) if unsent_for_pacing(None, Some(&e)) => pacing_busy(&e),
        // Shadow mode writes nothing to either platform (R-F-2): no call is placed.
        Err(
            err @ (ClickError::Ccai(bridge_shared::ccai::CcaiError::Shadow { .. })
            | ClickError::Kustomer(bridge_shared::kustomer::KustomerError::Shadow { .. })),
        ) => json_error(StatusCode::CONFLICT, err.to_string()),
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
    let response = answer(api, request, now).await;
    bridge_shared::shapes::book::flush_in_background(api.store.clone());
    response
}

async fn answer(api: &StatusApi, request: Request, now: UnixMillis) -> Response<Body> {
    if request.method() == Method::GET
        && let Some(page) = widget::serve(&api.widget, bridge_shared::lambda::route_path(&request))
    {
        return page;
    }
    let path = bridge_shared::lambda::route_path(&request)
        .trim_end_matches('/')
        .to_owned();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let method = request.method().clone();
    match (&method, segments.as_slice()) {
        (&Method::GET, ["agents", "sign-in"]) => {
            return sign_in_routes::begin(api, &request, now).await;
        }
        (&Method::GET, ["agents", "sign-in", "callback"]) => {
            return sign_in_routes::callback(api, &request, now).await;
        }
        (&Method::GET, ["agents", "session"]) => {
            return sign_in_routes::whoami(api, &request, now).await;
        }
        (&Method::DELETE, ["agents", "session"]) => {
            return sign_in_routes::sign_out(api, &request, now).await;
        }
        (_, ["agents", "sign-in", ..]) | (_, ["agents", "session"]) => {
            return json_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this route",
            );
        }
        (_, ["agents", "instances", ..])
        | (_, ["webhooks", "kustomer", "status"])
        | (_, ["click-to-call"]) => {}
        _ => return json_error(StatusCode::NOT_FOUND, format!("no route {path}")),
    }
    let identity = match agent::signed_in(api.store.as_ref(), &request, now).await {
        Ok(identity) => identity,
        Err(answer) => return *answer,
    };
    // Whether the Kustomer user still stands is asked where the agent acts (a claim, a report,
    // a call), not on every renewal: a slow Kustomer must not cost a tab its lease.
    let acts = matches!(
        (&method, segments.as_slice()),
        (&Method::POST, ["agents", "instances"])
            | (&Method::POST, ["webhooks", "kustomer", "status"])
            | (&Method::POST, ["click-to-call"])
    );
    let identity = if acts {
        match agent::still_active(api, identity, now).await {
            Ok(identity) => identity,
            Err(answer) => return *answer,
        }
    } else {
        identity
    };
    match (method, segments.as_slice()) {
        (Method::POST, ["agents", "instances"]) => {
            let claim: ClaimBody = match body(&request) {
                Ok(b) => b,
                Err(why) => return json_error(StatusCode::BAD_REQUEST, why),
            };
            if let Some(refused) = agent::other_agent(&identity, claim.email.as_deref()) {
                return refused;
            }
            if claim.instance_id.trim().is_empty() || claim.instance_id.len() > 100 {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "instance_id is required (at most 100 characters)",
                );
            }
            let owner = agent::lease_owner(&identity, &claim.instance_id);
            match api.service.claim(&identity.email, &owner, now).await {
                Ok(ClaimOutcome::Acquired {
                    lease_token,
                    expires_at,
                    applied_at_login,
                }) => json_answer(
                    StatusCode::CREATED,
                    json!({"lease_token": lease_token, "expires_at": expires_at.to_iso(), "applied_at_login": applied_at_login.as_ref().map(outcome_body)}),
                ),
                // Which tab holds it is not said (review S2).
                Ok(ClaimOutcome::Held { expires_in_s, .. }) => json_answer(
                    StatusCode::CONFLICT,
                    json!({"error": format!("another tab drives this agent; its lease frees in {expires_in_s} s"), "expires_in_s": expires_in_s}),
                ),
                Err(err) => failure(err),
            }
        }
        (Method::PUT, ["agents", "instances", instance]) => {
            let lease: LeaseBody = match body(&request) {
                Ok(b) => b,
                Err(why) => return json_error(StatusCode::BAD_REQUEST, why),
            };
            if let Some(refused) = agent::other_agent(&identity, lease.email.as_deref()) {
                return refused;
            }
            let owner = agent::lease_owner(&identity, instance);
            match api
                .service
                .renew(&identity.email, &owner, lease.lease_token, now)
                .await
            {
                Ok(expires_at) => {
                    // The outcome the widget shows; a read that fails costs only the display.
                    let sync = api
                        .service
                        .agent_state(&identity.email)
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
            if let Some(refused) = agent::other_agent(&identity, lease.email.as_deref()) {
                return refused;
            }
            let owner = agent::lease_owner(&identity, instance);
            match api
                .service
                .release(&identity.email, &owner, lease.lease_token)
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
            let report: StatusBody = match body(&request) {
                Ok(b) => b,
                Err(why) => return json_error(StatusCode::BAD_REQUEST, why),
            };
            if let Some(refused) = agent::other_agent(&identity, report.email.as_deref()) {
                return refused;
            }
            match api.service.report(&identity.email, now).await {
                Ok(Some(outcome)) => json_answer(StatusCode::ACCEPTED, outcome_body(&outcome)),
                Ok(None) => json_answer(
                    StatusCode::ACCEPTED,
                    json!({"outcome": "nothing_to_follow", "message": "Kustomer set the agent's status itself (a call's busy status): not the agent's choice, nothing changed"}),
                ),
                Err(err) => failure(err),
            }
        }
        (Method::POST, ["click-to-call"]) => click_to_call(api, &identity, &request, now).await,
        _ => json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed on this route",
        ),
    }
}
