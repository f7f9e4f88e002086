//! The status Lambda: configuration, adapters and the runtime; the logic is in `lib.rs` and
//! `bridge_shared::status`.

use bridge_shared::UnixMillis;
use bridge_shared::coldstart::ColdStart;
use bridge_shared::status::sync::{DEFAULT_LEASE, StatusService};
use bridge_shared::telemetry::{self, LogFormat};
use bridge_status::{StatusApi, handle};
use lambda_http::{Error, Request, RequestExt, service_fn};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::from_env());
    let cold = ColdStart::from_environment().await?;
    let lease_for = std::env::var("LEASE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(DEFAULT_LEASE, Duration::from_secs);
    let service = StatusService::new(cold.store, cold.ccai, cold.kustomer, lease_for);
    let api = Arc::new(StatusApi {
        service,
        bridge_token: cold.config.bridge_token.clone(),
    });
    lambda_http::run(service_fn(move |request: Request| {
        let api = api.clone();
        let id =
            telemetry::correlation_id(request.lambda_context_ref().map(|c| c.request_id.as_str()));
        async move { Ok::<_, Error>(handle(&api, request, UnixMillis::now()).await) }
            .instrument(telemetry::event_span(&id))
    }))
    .await
}
