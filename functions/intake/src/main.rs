//! The intake Lambda: configuration, the store and the runtime; the logic is in `lib.rs`.

use bridge_intake::{IntakeApi, handle};
use bridge_shared::UnixMillis;
use bridge_shared::coldstart::ColdStart;
use bridge_shared::telemetry::{self, LogFormat};
use lambda_http::{Error, Request, RequestExt, service_fn};
use std::sync::Arc;
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::from_env());
    let cold = ColdStart::from_environment().await?;
    let api = Arc::new(IntakeApi {
        store: cold.store,
        secrets: cold.config.ccai_webhook_secrets.clone(),
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
