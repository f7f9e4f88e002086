//! The transcript worker Lambda: SQS batches from `TranscriptQueue` in (template.yaml
//! `TranscriptFunction`), failed messages reported per message.

use bridge_shared::coldstart::ColdStart;
use lambda_http::Error;

/// Builds what this function needs from the environment and serves its batches until the
/// sandbox ends (called by this crate's binary, `src/main.rs`).
pub async fn run() -> Result<(), Error> {
    let cold = ColdStart::from_environment(bridge_shared::config::secrets::WORKER).await?;
    let api = cold.file_worker().await?;
    bridge_shared::lambda::serve_queue(api, |api, batch, now| async move {
        crate::handle_queue(&api, batch, now).await
    })
    .await
}
