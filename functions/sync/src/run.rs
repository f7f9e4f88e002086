//! The inbox stream worker Lambda: DynamoDB stream batches in (template.yaml `SyncFunction`),
//! failed records reported per record (`ReportBatchItemFailures`); the file work among them is
//! handed to the recording and transcript queues.

use crate::SyncApi;
use bridge_shared::coldstart::ColdStart;
use bridge_shared::status::sync::{DEFAULT_LEASE, StatusService};
use lambda_http::Error;

/// Builds what this function needs from the environment and serves its events until the
/// sandbox ends (called by this crate's binary, `src/main.rs`).
pub async fn run() -> Result<(), Error> {
    let cold = ColdStart::from_environment(bridge_shared::config::secrets::WORKER).await?;
    let store = cold.store();
    let platforms = cold.platforms(&store)?;
    let api = SyncApi {
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
        exported: cold.exported_types()?,
        caller_country: cold.config.default_country.clone(),
        failures: bridge_shared::stream::failures::FailurePlan {
            audit_kept: cold.audit_kept()?,
            ..Default::default()
        },
        file_work: Some(cold.file_queues()?),
    };
    bridge_shared::lambda::serve_stream(api, |api, batch, now| async move {
        crate::handle(&api, batch, now).await
    })
    .await
}
