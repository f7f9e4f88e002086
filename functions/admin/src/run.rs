//! The admin Lambda: configuration, adapters and the runtime; the logic is in `lib.rs`.

use crate::{AdminApi, handle};
use bridge_shared::coldstart::ColdStart;
use bridge_shared::status::sync::{DEFAULT_LEASE, StatusService};
use lambda_http::Error;

/// Builds what this function needs from the environment and serves its events until the
/// sandbox ends (called by this crate's binary, `src/main.rs`).
pub async fn run() -> Result<(), Error> {
    let cold = ColdStart::from_environment(bridge_shared::config::secrets::ADMIN).await?;
    let store = cold.store();
    let platforms = cold.platforms(&store)?;
    let api = AdminApi {
        status: StatusService::new(
            store.clone(),
            platforms.ccai.clone(),
            platforms.kustomer.clone(),
            DEFAULT_LEASE,
        ),
        store,
        ccai: platforms.ccai,
        kustomer: platforms.kustomer,
        admin_tokens: cold.admin_tokens()?,
        admins: crate::access::AdminEmails::parse(cold.var("ADMIN_EMAILS"))?,
        public_url: cold.public_url()?,
        changes_kept: cold.audit_kept()?,
        pacing_schedules: cold.pacing_schedules(),
        kustomer_ui: crate::kustomer_ui(cold.var("KUSTOMER_ORG"))?,
    };
    bridge_shared::lambda::serve(api, |api, request, now| async move {
        handle(&api, request, now).await
    })
    .await
}
