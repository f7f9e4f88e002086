//! The admin Lambda: configuration, adapters and the runtime; the logic is in `lib.rs`.

use bridge_admin::{AdminApi, handle};
use bridge_shared::coldstart::ColdStart;
use bridge_shared::status::sync::{DEFAULT_LEASE, StatusService};
use bridge_shared::telemetry::{self, LogFormat};
use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::from_env());
    let cold = ColdStart::from_environment(bridge_shared::config::secrets::ADMIN).await?;
    let api = AdminApi {
        status: StatusService::new(
            cold.store.clone(),
            cold.ccai.clone(),
            cold.kustomer.clone(),
            DEFAULT_LEASE,
        ),
        store: cold.store,
        ccai: cold.ccai,
        kustomer: cold.kustomer,
        admin_token: cold.config.admin_token.clone(),
    };
    bridge_shared::lambda::serve(api, |api, request, now| async move {
        handle(&api, request, now).await
    })
    .await
}
