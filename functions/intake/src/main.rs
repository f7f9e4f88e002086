//! The intake Lambda: configuration, the store and the runtime; the logic is in `lib.rs`.

use bridge_intake::{IntakeApi, handle};
use bridge_shared::coldstart::ColdStart;
use bridge_shared::config::Env;
use bridge_shared::http::{HttpSettings, build_client};
use bridge_shared::storage::push::{PushSettings, PushVerifier};
use bridge_shared::telemetry::{self, LogFormat};
use lambda_http::Error;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::from_env());
    let cold = ColdStart::from_environment(bridge_shared::config::secrets::INTAKE).await?;
    let storage_push = match PushSettings::from_env(&Env::from_process())? {
        Some(settings) => Some(Arc::new(PushVerifier::new(
            settings,
            build_client(HttpSettings::default())?,
        ))),
        None => None,
    };
    let api = IntakeApi {
        store: cold.store,
        credentials: cold.config.ccai_events_credentials.clone(),
        storage_push,
    };
    bridge_shared::lambda::serve(api, |api, request, now| async move {
        handle(&api, request, now).await
    })
    .await
}
