//! The status Lambda: configuration, adapters and the runtime; the logic is in `lib.rs` and
//! `bridge_shared::status`.

use bridge_shared::click_to_call::ClickToCall;
use bridge_shared::coldstart::ColdStart;
use bridge_shared::config::seconds_setting;
use bridge_shared::status::sync::{DEFAULT_LEASE, StatusService};
use bridge_shared::telemetry::{self, LogFormat};
use bridge_status::{StatusApi, handle};
use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::from_env());
    let cold = ColdStart::from_environment(bridge_shared::config::secrets::STATUS).await?;
    let lease_for = seconds_setting(
        "LEASE_SECONDS",
        std::env::var("LEASE_SECONDS").ok().as_deref(),
        5,
    )?
    .unwrap_or(DEFAULT_LEASE);
    let click = ClickToCall {
        store: cold.store.clone(),
        kustomer: cold.kustomer.clone(),
        ccai: cold.ccai.clone(),
        country: cold.config.default_country.clone(),
    };
    let service = StatusService::new(cold.store, cold.ccai, cold.kustomer, lease_for);
    let widget = bridge_status::widget::WidgetSettings::from_env(|name| std::env::var(name).ok())?;
    let api = StatusApi {
        service,
        bridge_token: cold.config.bridge_token.clone(),
        click,
        widget,
    };
    bridge_shared::lambda::serve(api, |api, request, now| async move {
        handle(&api, request, now).await
    })
    .await
}
