//! The file worker Lambda: DynamoDB stream batches of `call.ended` and `chat.ended` inbox events in
//! (template.yaml `FilesFunction`), failed records reported per record.

use bridge_files::FilesApi;
use bridge_shared::UnixMillis;
use bridge_shared::coldstart::ColdStart;
use bridge_shared::stream::StreamEvent;
use bridge_shared::telemetry::{self, LogFormat};
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Error, service_fn};
use std::sync::Arc;
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::from_env());
    let cold = ColdStart::from_environment(bridge_shared::config::secrets::WORKER).await?;
    let storage = cold.external.clone().ok_or(
        "EXTERNAL_STORAGE_BUCKET is required: files come from the tenant's external storage",
    )?;
    let api = Arc::new(
        FilesApi::new(cold.store, cold.blobs, storage, cold.ccai, cold.kustomer)
            .reading_numbers_in(cold.config.default_country.clone()),
    );
    lambda_runtime::run(service_fn(move |event: LambdaEvent<StreamEvent>| {
        let api = api.clone();
        let id = telemetry::correlation_id(Some(&event.context.request_id));
        async move {
            Ok::<_, Error>(bridge_files::handle(&api, event.payload, UnixMillis::now()).await?)
        }
        .instrument(telemetry::event_span(&id))
    }))
    .await
}
