//! The inbox stream worker Lambda: DynamoDB stream batches in (template.yaml `SyncFunction`),
//! failed records reported per record (`ReportBatchItemFailures`).

use bridge_shared::UnixMillis;
use bridge_shared::coldstart::ColdStart;
use bridge_shared::status::sync::{DEFAULT_LEASE, StatusService};
use bridge_shared::stream::StreamEvent;
use bridge_shared::telemetry::{self, LogFormat};
use bridge_sync::SyncApi;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Error, service_fn};
use std::sync::Arc;
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::from_env());
    let cold = ColdStart::from_environment(bridge_shared::config::secrets::WORKER).await?;
    let api = Arc::new(SyncApi {
        status: StatusService::new(
            cold.store.clone(),
            cold.ccai.clone(),
            cold.kustomer.clone(),
            DEFAULT_LEASE,
        ),
        kustomer: cold.kustomer,
        store: cold.store,
        ccai: cold.ccai,
        storage: cold.external,
        caller_country: cold.config.default_country.clone(),
        failures: Default::default(),
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<StreamEvent>| {
        let api = api.clone();
        let id = telemetry::correlation_id(Some(&event.context.request_id));
        async move { Ok::<_, Error>(bridge_sync::handle(&api, event.payload, UnixMillis::now()).await?) }
            .instrument(telemetry::event_span(&id))
    }))
    .await
}
