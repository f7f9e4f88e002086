//! The inbox stream worker Lambda: DynamoDB stream batches in (template.yaml `SyncFunction`),
//! failed records reported per record (`ReportBatchItemFailures`).

use crate::SyncApi;
use bridge_shared::UnixMillis;
use bridge_shared::coldstart::ColdStart;
use bridge_shared::status::sync::{DEFAULT_LEASE, StatusService};
use bridge_shared::stream::StreamEvent;
use bridge_shared::telemetry;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Error, service_fn};
use std::sync::Arc;
use tracing::Instrument;

/// Builds what this function needs from the environment and serves its events until the
/// sandbox ends (called by the `bridge` binary when `_HANDLER` names this function).
pub async fn run() -> Result<(), Error> {
    let cold = ColdStart::from_environment(bridge_shared::config::secrets::WORKER).await?;
    let store = cold.store();
    let platforms = cold.platforms(&store)?;
    let api = Arc::new(SyncApi {
        status: StatusService::new(
            store.clone(),
            platforms.ccai.clone(),
            platforms.kustomer.clone(),
            DEFAULT_LEASE,
        ),
        kustomer: platforms.kustomer,
        store,
        ccai: platforms.ccai,
        storage: cold.external_storage().await?,
        caller_country: cold.config.default_country.clone(),
        failures: Default::default(),
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<StreamEvent>| {
        let api = api.clone();
        let id = telemetry::correlation_id(Some(&event.context.request_id));
        async move { Ok::<_, Error>(crate::handle(&api, event.payload, UnixMillis::now()).await?) }
            .instrument(telemetry::event_span(&id))
    }))
    .await
}
