//! The status Lambda: configuration, adapters and the runtime; the logic is in `lib.rs` and
//! `bridge_shared::status`.

use crate::{StatusApi, handle};
use bridge_shared::click_to_call::ClickToCall;
use bridge_shared::click_to_call::policy::CallPolicy;
use bridge_shared::coldstart::ColdStart;
use bridge_shared::config::seconds_setting;
use bridge_shared::status::sync::{DEFAULT_LEASE, StatusService};
use lambda_http::Error;

/// Builds what this function needs from the environment and serves its events until the
/// sandbox ends (called by this crate's binary, `src/main.rs`).
pub async fn run() -> Result<(), Error> {
    let cold = ColdStart::from_environment(bridge_shared::config::secrets::STATUS).await?;
    let store = cold.store();
    let platforms = cold.platforms(&store)?;
    let lease_for = seconds_setting(
        "LEASE_SECONDS",
        std::env::var("LEASE_SECONDS").ok().as_deref(),
        5,
    )?
    .unwrap_or(DEFAULT_LEASE);
    let click = ClickToCall {
        store: store.clone(),
        kustomer: platforms.kustomer.clone(),
        ccai: platforms.ccai.clone(),
        country: cold.config.default_country.clone(),
        policy: CallPolicy::from_env(
            |name| std::env::var(name).ok(),
            &cold.config.default_country,
        )?,
    };
    let service = StatusService::new(store.clone(), platforms.ccai, platforms.kustomer, lease_for);
    let widget = crate::widget::WidgetSettings::from_env(|name| std::env::var(name).ok())?;
    let (oauth, public_url) = cold.sign_in().await?;
    let api = StatusApi {
        service,
        store,
        oauth,
        public_url,
        click,
        widget,
    };
    bridge_shared::lambda::serve(api, |api, request, now| async move {
        handle(&api, request, now).await
    })
    .await
}
