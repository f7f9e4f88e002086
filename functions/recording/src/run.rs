//! The recording worker Lambda: SQS batches from `RecordingQueue` in (template.yaml
//! `RecordingFunction`), failed messages reported per message.

use bridge_shared::coldstart::ColdStart;
use bridge_shared::conversation::FileWorker;
use lambda_http::Error;

/// Builds what this function needs from the environment and serves its batches until the
/// sandbox ends (called by this crate's binary, `src/main.rs`).
pub async fn run() -> Result<(), Error> {
    let cold = ColdStart::from_environment(bridge_shared::config::secrets::WORKER).await?;
    let storage = cold.external_storage().await?.ok_or(
        "EXTERNAL_STORAGE_BUCKET is required: files come from the tenant's external storage",
    )?;
    let store = cold.store();
    let platforms = cold.platforms(&store)?;
    let api = FileWorker::new(
        store,
        cold.blobs()?,
        storage,
        platforms.ccai,
        platforms.kustomer,
    )
    .reading_numbers_in(cold.config.default_country.clone())
    .exporting(cold.exported_types()?)
    .attaching_at_most(
        bridge_shared::conversation::attached_file::max_attachment_bytes(
            std::env::var("MAX_ATTACHMENT_MIB").ok().as_deref(),
        )?,
    );
    bridge_shared::lambda::serve_queue(api, |api, batch, now| async move {
        crate::handle_queue(&api, batch, now).await
    })
    .await
}
