//! The intake Lambda: configuration, the store and the runtime; the logic is in `lib.rs`.

use bridge_intake::{IntakeApi, handle};
use bridge_shared::coldstart::ColdStart;
use bridge_shared::telemetry::{self, LogFormat};
use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::from_env());
    let cold = ColdStart::from_environment().await?;
    let api = IntakeApi {
        store: cold.store,
        credentials: cold.config.ccai_events_credentials.clone(),
    };
    bridge_shared::lambda::serve(api, |api, request, now| async move {
        handle(&api, request, now).await
    })
    .await
}
