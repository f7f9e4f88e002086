//! The local host: one HTTP port serving every route of `template.yaml`, each request turned
//! into the `lambda_http::Request` the function receives on AWS and given to the function's own
//! handler (no second implementation of any handler).

use crate::routes::Route;
use axum::body::Bytes;
use axum::response::IntoResponse;
use futures::future::BoxFuture;
use lambda_http::Body;
use std::collections::HashMap;
use std::sync::Arc;

/// A function's handler, as the host calls it.
pub type Handler = Arc<
    dyn Fn(lambda_http::Request) -> BoxFuture<'static, lambda_http::Response<Body>> + Send + Sync,
>;

/// API Gateway's payload limit for HTTP APIs.
const MAX_BODY: usize = 10 * 1024 * 1024;

pub struct LocalHost {
    pub base_url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for LocalHost {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The REST API's stage (template.yaml, `BridgeRestApi`'s `StageName`): in front of every route's
/// path, as on AWS, so the functions and the widget see the paths they see there.
pub const STAGE: &str = "bridge";

/// The request as API Gateway's REST API hands it to a function (through lambda_http): same
/// method, path with the stage, query, headers; the body as text when it is UTF-8, else
/// binary; the stage, the resource path without it, the domain and the caller's address in the
/// request context.
pub fn to_lambda(
    parts: http::request::Parts,
    body: Bytes,
    route_path: &str,
    source_ip: Option<String>,
) -> lambda_http::Request {
    let body = if body.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(bytes) => Body::Binary(bytes.into_bytes()),
        }
    };
    // API Gateway hands the function the query's parameters as well as the raw query.
    let pairs: Vec<(String, String)> = parts
        .uri
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let mut parameters: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in pairs {
        parameters.entry(name).or_default().push(value);
    }
    let mut context =
        lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext::default();
    context.stage = Some(STAGE.to_owned());
    context.path = Some(parts.uri.path().to_owned());
    context.domain_name = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    context.http_method = parts.method.clone();
    context.identity.source_ip = source_ip;
    let request = lambda_http::RequestExt::with_query_string_parameters(
        http::Request::from_parts(parts, body),
        parameters,
    );
    let request = lambda_http::RequestExt::with_raw_http_path(request, route_path);
    lambda_http::RequestExt::with_request_context(
        request,
        lambda_http::request::RequestContext::ApiGatewayV1(context),
    )
}

fn from_lambda(response: lambda_http::Response<Body>) -> axum::response::Response {
    let (parts, body) = response.into_parts();
    let bytes: Vec<u8> = match body {
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

fn json_error(status: http::StatusCode, message: String) -> axum::response::Response {
    (status, axum::Json(serde_json::json!({"error": message}))).into_response()
}

impl LocalHost {
    /// Serves `routes` on `bind`; a route whose function has no handler in `functions`
    /// answers 501 naming it.
    pub async fn start(
        bind: &str,
        routes: Vec<Route>,
        functions: HashMap<String, Handler>,
    ) -> std::io::Result<Self> {
        Ok(Self::bind(bind).await?.serve(routes, functions))
    }

    /// The host's port, taken before its functions are built (the status function needs its
    /// own public URL: the sign-in's `redirect_uri`).
    pub async fn bind(bind: &str) -> std::io::Result<BoundHost> {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let base_url = format!("http://{}/{STAGE}", listener.local_addr()?);
        Ok(BoundHost { listener, base_url })
    }
}

/// A local host's listener, not serving yet.
pub struct BoundHost {
    listener: tokio::net::TcpListener,
    pub base_url: String,
}

impl BoundHost {
    /// Serves `routes` with `functions` on the bound port.
    pub fn serve(self, routes: Vec<Route>, functions: HashMap<String, Handler>) -> LocalHost {
        let BoundHost { listener, base_url } = self;
        let routes = Arc::new(routes);
        let functions = Arc::new(functions);
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let routes = routes.clone();
            let functions = functions.clone();
            async move {
                let method = request.method().as_str().to_owned();
                // As API Gateway: a path outside the stage reaches no function.
                let Some(path) = request
                    .uri()
                    .path()
                    .strip_prefix('/')
                    .and_then(|p| p.strip_prefix(STAGE))
                    .filter(|rest| rest.starts_with('/'))
                    .map(str::to_owned)
                else {
                    return json_error(
                        http::StatusCode::FORBIDDEN,
                        format!("no stage /{STAGE} in front of {}", request.uri().path()),
                    );
                };
                let source_ip = request
                    .extensions()
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|info| info.0.ip().to_string());
                let Some(route) = routes.iter().find(|r| r.matches(&method, &path)) else {
                    return json_error(
                        http::StatusCode::NOT_FOUND,
                        format!("no route {method} {path} in template.yaml"),
                    );
                };
                let Some(handler) = functions.get(&route.function) else {
                    return json_error(
                        http::StatusCode::NOT_IMPLEMENTED,
                        format!("{} is not available locally", route.function),
                    );
                };
                let (parts, body) = request.into_parts();
                let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
                    return json_error(
                        http::StatusCode::PAYLOAD_TOO_LARGE,
                        "request body over 10 MiB".into(),
                    );
                };
                tracing::info!(function = %route.function, %method, route = %route.path, "request");
                from_lambda(handler(to_lambda(parts, body, &path, source_ip)).await)
            }
        });
        let server = tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(error = %err, "local host stopped");
            }
        });
        LocalHost { base_url, server }
    }
}
