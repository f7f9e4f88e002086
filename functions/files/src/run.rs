//! The file worker Lambda: DynamoDB stream batches of `call.ended` and `chat.ended` inbox events in
//! (template.yaml `FilesFunction`), failed records reported per record.

use crate::FilesApi;
use bridge_shared::UnixMillis;
use bridge_shared::coldstart::ColdStart;
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
    let storage = cold.external_storage().await?.ok_or(
        "EXTERNAL_STORAGE_BUCKET is required: files come from the tenant's external storage",
    )?;
    let store = cold.store();
    let platforms = cold.platforms(&store)?;
    let api = Arc::new(
        FilesApi::new(
            store,
            cold.blobs()?,
            storage,
            platforms.ccai,
            platforms.kustomer,
        )
        .reading_numbers_in(cold.config.default_country.clone()),
    );
    lambda_runtime::run(service_fn(move |event: LambdaEvent<StreamEvent>| {
        let api = api.clone();
        let id = telemetry::correlation_id(Some(&event.context.request_id));
        async move { Ok::<_, Error>(crate::handle(&api, event.payload, UnixMillis::now()).await?) }
            .instrument(telemetry::event_span(&id))
    }))
    .await
}
