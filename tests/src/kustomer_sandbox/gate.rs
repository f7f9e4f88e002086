//! What stands before every API route: auth, injected faults, the org rate limit, the body
//! size limit, and the request log.

use super::Shared;
use super::options::Fault;
use super::routes::error;
use super::state::LoggedRequest;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub(super) async fn api_gate(
    State(sandbox): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let response = gate(&sandbox, request, next).await;
    sandbox.world().requests.push(LoggedRequest {
        method,
        path,
        status: response.status().as_u16(),
    });
    response
}

/// Who made a request: the org's API key, or an agent signed in to Kustomer (the Cards SDK
/// calls the API as the agent: kustomer-api.md "Apps: widgets and the Cards SDK").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    ApiKey,
    User(String),
}

async fn gate(sandbox: &Shared, mut request: Request, next: Next) -> Response {
    let expected = format!("Bearer {}", sandbox.options.api_key);
    let given = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let caller = if given == expected {
        Caller::ApiKey
    } else {
        let user = given
            .strip_prefix("Bearer ")
            .and_then(|token| sandbox.world().agent_tokens.get(token).cloned());
        match user {
            Some(user) => Caller::User(user),
            None => return error(sandbox, StatusCode::UNAUTHORIZED, "Unauthorized"),
        }
    };
    request.extensions_mut().insert(caller);

    // The body is read first: a fault may be aimed at one request by what it carries.
    let (parts, body) = request.into_parts();
    let limit = sandbox.options.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit + 1)
        .await
        .ok()
        .filter(|bytes| bytes.len() <= limit);
    if let Some(gate) = sandbox.hold_for(
        &parts.method,
        parts.uri.path(),
        bytes.as_deref().unwrap_or_default(),
    ) {
        gate.pass().await;
    }
    let fault = sandbox.next_fault(
        &parts.method,
        parts.uri.path(),
        bytes.as_deref().unwrap_or_default(),
    );
    match fault {
        Some(Fault::RateLimited) => return sandbox.rate_limited(),
        Some(Fault::ServerError) => {
            return error(
                sandbox,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
            );
        }
        Some(Fault::Hang(duration)) => {
            tokio::time::sleep(duration).await;
            return error(sandbox, StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout");
        }
        Some(Fault::Answer(status, body)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            return (status, [("content-type", "application/json")], body).into_response();
        }
        _ => {}
    }

    if let Some(limited) = sandbox.take_org_request() {
        return limited;
    }

    let Some(bytes) = bytes else {
        return error(
            sandbox,
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body larger than 100kb",
        );
    };
    let mut response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    sandbox.add_rate_headers(&mut response);

    match fault {
        Some(Fault::LoseAnswer) => error(sandbox, StatusCode::BAD_GATEWAY, "Bad Gateway"),
        Some(Fault::ApplyThenHang(duration)) => {
            tokio::time::sleep(duration).await;
            response
        }
        Some(Fault::TruncatedBody) => {
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap_or_default();
            let cut = body.slice(..body.len() / 2);
            (status, [("content-type", "application/json")], cut).into_response()
        }
        _ => response,
    }
}
