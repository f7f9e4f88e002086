//! The recording function's Lambda binary (`template.yaml`, `RecordingFunction`), fed by its SQS
//! queue. It only starts the logs and hands over to [`bridge_recording::run::run`], which wires
//! configuration, adapters and the runtime; one binary per function links only what that
//! function uses.

use bridge_shared::telemetry::{self, LogFormat};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(LogFormat::from_env());
    bridge_recording::run::run().await
}
