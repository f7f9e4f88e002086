//! What every HTTP function shares: JSON answers, the raw body, the bearer check, and the
//! runtime loop with a correlation-id span per request.

use crate::UnixMillis;
use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};
use std::future::Future;
use std::sync::Arc;
use tracing::Instrument;

/// The path a route is matched on, as `template.yaml` names it. API Gateway's REST API hands
/// lambda_http the stage in front of it (`/bridge/agents/session`, which lambda_http keeps
/// unless `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set) and the resource path without it as
/// the event's `path`, kept as the raw path (lambda_http 1.3.2, `request.rs`,
/// `into_proxy_request` and `apigw_path_with_stage`); every other source has no stage in the
/// path.
pub fn route_path(request: &Request) -> &str {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(_)) if !request.raw_http_path().is_empty() => {
            request.raw_http_path()
        }
        _ => request.uri().path(),
    }
}

/// The caller's address as API Gateway saw it (not a header the caller could set).
pub fn source_ip(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(context) => context.identity.source_ip.clone(),
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.clone(),
        _ => None,
    }
}

/// The base URL browsers reach the API at, from what API Gateway set (never from the caller's
/// headers): the REST API's domain and stage, or an HTTP API's or function URL's domain.
pub fn gateway_base_url(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(context) => {
            let domain = context.domain_name.as_ref()?;
            // The stage is in the URL on API Gateway's own domain only; a custom domain maps
            // the API at its root (docs/configuration.md: BRIDGE_PUBLIC_URL).
            match context.stage.as_deref() {
                Some(stage)
                    if !stage.is_empty()
                        && stage != "$default"
                        && domain.contains(".execute-api.") =>
                {
                    Some(format!("https://{domain}/{stage}"))
                }
                _ => Some(format!("https://{domain}")),
            }
        }
        RequestContext::ApiGatewayV2(context) => context
            .domain_name
            .as_ref()
            .map(|domain| format!("https://{domain}")),
        _ => None,
    }
}

/// A JSON answer.
pub fn json_answer(status: StatusCode, body: Value) -> Response<Body> {
    // Never sniffed as something else, never kept by a cache (review S17): answers carry
    // agents' sessions and tenants' data.
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-content-type-options", "nosniff")
        .header("cache-control", "no-store")
        .body(Body::Text(body.to_string()))
        .unwrap_or_default()
}

/// 503 with `Retry-After` (seconds): the platform's shared request schedule is booked beyond
/// what this request could wait, and nothing was sent (review S3, R-SEC-3).
pub fn busy(retry_after_s: u64, message: impl Into<String>) -> Response<Body> {
    let mut response = json_error(StatusCode::SERVICE_UNAVAILABLE, message);
    if let Ok(value) = retry_after_s.to_string().parse() {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

/// Whether a platform error means the request was never sent for want of a turn in the
/// shared schedule (answered with [`busy`] by the HTTP functions).
pub fn unsent_for_pacing(
    kustomer: Option<&crate::kustomer::KustomerError>,
    ccai: Option<&crate::ccai::CcaiError>,
) -> bool {
    matches!(
        kustomer,
        Some(crate::kustomer::KustomerError::NotSent { .. })
    ) || matches!(ccai, Some(crate::ccai::CcaiError::RateLimited { .. }))
}

/// `{"error": message}` with `status`.
pub fn json_error(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    json_answer(status, json!({ "error": message.into() }))
}

/// The request body as bytes (API Gateway gives text, or binary when base64-encoded).
pub fn body_bytes(request: &Request) -> &[u8] {
    match request.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    }
}

/// Runs an HTTP function: each request is handled inside a span carrying its correlation id
/// (the Lambda request id). Handlers never fail: every error is an HTTP answer.
pub async fn serve<A, F, Fut>(api: A, handle: F) -> Result<(), lambda_http::Error>
where
    A: Send + Sync + 'static,
    F: Fn(Arc<A>, Request, UnixMillis) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Response<Body>> + Send,
{
    let api = Arc::new(api);
    lambda_http::run(lambda_http::service_fn(move |request: Request| {
        let api = api.clone();
        let id = crate::telemetry::correlation_id(
            request.lambda_context_ref().map(|c| c.request_id.as_str()),
        );
        // The request sees its invocation's deadline too: the pacer books no turn past it
        // and no write leaves that could not end before it (review S3, finding 8).
        let deadline = request
            .lambda_context_ref()
            .and_then(|c| crate::deadline::from_context(c.deadline));
        async move {
            let work = handle(api, request, UnixMillis::now());
            Ok::<_, lambda_http::Error>(crate::deadline::within(deadline, work).await)
        }
        .instrument(crate::telemetry::event_span(&id))
    }))
    .await
}

/// The runtime loop of an event-batch function: each batch (of type `E`) handed to `handle`
/// in its correlation-id span, under the invocation's deadline (finding 8), its answer (`R`,
/// naming the failed items) returned to Lambda.
async fn serve_batches<A, E, R, F, Fut>(api: A, handle: F) -> Result<(), lambda_http::Error>
where
    A: Send + Sync + 'static,
    E: serde::de::DeserializeOwned + Send + 'static,
    R: serde::Serialize + Send + 'static,
    F: Fn(Arc<A>, E, UnixMillis) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Result<R, crate::stream::BatchError>> + Send,
{
    let api = Arc::new(api);
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: lambda_http::lambda_runtime::LambdaEvent<E>| {
            let api = api.clone();
            let id = crate::telemetry::correlation_id(Some(&event.context.request_id));
            let deadline = crate::deadline::from_context(event.context.deadline);
            async move {
                let work = handle(api, event.payload, UnixMillis::now());
                Ok::<_, lambda_http::Error>(crate::deadline::within(deadline, work).await?)
            }
            .instrument(crate::telemetry::event_span(&id))
        },
    ))
    .await
}

/// The runtime loop of the stream worker (`bridge-sync`): failed records reported per record.
pub async fn serve_stream<A, F, Fut>(api: A, handle: F) -> Result<(), lambda_http::Error>
where
    A: Send + Sync + 'static,
    F: Fn(Arc<A>, crate::stream::StreamEvent, UnixMillis) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Result<crate::stream::DynamoDbEventResponse, crate::stream::BatchError>>
        + Send,
{
    serve_batches(api, handle).await
}

/// The runtime loop of a queue worker (`bridge-recording`, `bridge-transcript`): failed
/// messages reported per message.
pub async fn serve_queue<A, F, Fut>(api: A, handle: F) -> Result<(), lambda_http::Error>
where
    A: Send + Sync + 'static,
    F: Fn(Arc<A>, crate::queue::wire::SqsEvent, UnixMillis) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Result<crate::queue::wire::SqsBatchResponse, crate::stream::BatchError>>
        + Send,
{
    serve_batches(api, handle).await
}
