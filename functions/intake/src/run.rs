//! The intake Lambda: configuration, the store and the runtime; the logic is in `lib.rs`.

use crate::{IntakeApi, handle};
use bridge_shared::coldstart::ColdStart;
use bridge_shared::config::Env;
use bridge_shared::http::{HttpSettings, build_client};
use bridge_shared::storage::push::{PushSettings, PushVerifier};
use lambda_http::Error;
use std::sync::Arc;

/// Builds what this function needs from the environment and serves its events until the
/// sandbox ends (called by this crate's binary, `src/main.rs`).
pub async fn run() -> Result<(), Error> {
    let cold = ColdStart::from_environment(bridge_shared::config::secrets::INTAKE).await?;
    let storage_push = match PushSettings::from_env(&Env::from_process())? {
        Some(settings) => Some(Arc::new(PushVerifier::new(
            settings,
            build_client(HttpSettings::default())?,
        ))),
        None => None,
    };
    let api = IntakeApi {
        store: cold.store(),
        credentials: cold.config.ccai_events_credentials.clone(),
        storage_push,
    };
    bridge_shared::lambda::serve(api, |api, request, now| async move {
        handle(&api, request, now).await
    })
    .await
}
