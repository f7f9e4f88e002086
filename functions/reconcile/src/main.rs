//! The reconcile function's Lambda binary (`template.yaml`, `ReconcileFunction`): the scheduled run: polls, awaited files, agents' statuses, retries. It only starts
//! the logs and hands over to [`bridge_reconcile::run::run`], which wires configuration, adapters and
//! the runtime; one binary per function links only what that function uses.

use bridge_shared::telemetry::{self, LogFormat};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init(LogFormat::from_env());
    bridge_reconcile::run::run().await
}
