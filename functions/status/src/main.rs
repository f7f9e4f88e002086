//! The status function's Lambda binary (`template.yaml`, `StatusFunction`): agent sign-in, the widget and its routes, status triggers and click-to-call (events.md §3). It only starts
//! the logs and hands over to [`bridge_status::run::run`], which wires configuration, adapters and
//! the runtime; one binary per function links only what that function uses.

use bridge_shared::telemetry::{self, LogFormat};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(LogFormat::from_env());
    bridge_status::run::run().await
}
