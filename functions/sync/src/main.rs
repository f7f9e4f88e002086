//! The sync function's Lambda binary (`template.yaml`, `SyncFunction`): the inbox worker: contact creation and each session's conversation, message and notes (stream). It only starts
//! the logs and hands over to [`bridge_sync::run::run`], which wires configuration, adapters and
//! the runtime; one binary per function links only what that function uses.

use bridge_shared::telemetry::{self, LogFormat};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(LogFormat::from_env());
    bridge_sync::run::run().await
}
