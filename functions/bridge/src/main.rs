//! The one binary every function of the bridge runs. `template.yaml` gives each function its
//! `Handler:` (`intake`, `status`, `admin`, `sync`, `files`, `reconcile`); Lambda hands it to the
//! process as `_HANDLER` ("_HANDLER – The handler location configured on the function",
//! docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html, reserved variables).
//!
//! One binary rather than six: each function builds only what it uses at start (its `run`), so
//! the extra code costs nothing until it is paged in, while one link instead of six cuts the
//! release build and one zip serves every function (bench/RESULTS.md has the numbers).

use bridge_shared::telemetry::{self, LogFormat};
use lambda_http::Error;

/// The handler names, as `template.yaml` writes them.
const FUNCTIONS: [&str; 6] = ["intake", "status", "admin", "sync", "files", "reconcile"];

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::from_env());
    let handler = std::env::var("_HANDLER").unwrap_or_default();
    match handler.as_str() {
        "intake" => bridge_intake::run::run().await,
        "status" => bridge_status::run::run().await,
        "admin" => bridge_admin::run::run().await,
        "sync" => bridge_sync::run::run().await,
        "files" => bridge_files::run::run().await,
        "reconcile" => bridge_reconcile::run::run().await,
        other => Err(format!(
            "_HANDLER is {other:?}: set the function's Handler to one of {}",
            FUNCTIONS.join(", ")
        )
        .into()),
    }
}
