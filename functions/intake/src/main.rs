//! The intake function's Lambda binary (`template.yaml`, `IntakeFunction`): CCAI's External Session Events and the storage notifications, stored once in the inbox (events.md §1–2). It only starts
//! the logs and hands over to [`bridge_intake::run::run`], which wires configuration, adapters and
//! the runtime; one binary per function links only what that function uses.

use bridge_shared::telemetry::{self, LogFormat};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(LogFormat::from_env());
    bridge_intake::run::run().await
}
