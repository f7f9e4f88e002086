//! The reconciliation Lambda, run on a schedule (template.yaml): the session poller, then the
//! agents.

use crate::scheduled_run;
use bridge_shared::coldstart::ColdStart;
use bridge_shared::config::seconds_setting;
use bridge_shared::status::sync::{DEFAULT_LEASE, StatusService};
use bridge_shared::telemetry;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Error, service_fn};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Builds what this function needs from the environment and serves its events until the
/// sandbox ends (called by this crate's binary, `src/main.rs`).
pub async fn run() -> Result<(), Error> {
    // SESSION_POLL_SECONDS: poll again within one run this often (unset: once per run).
    let poll_every = seconds_setting(
        "SESSION_POLL_SECONDS",
        std::env::var("SESSION_POLL_SECONDS").ok().as_deref(),
        1,
    )?;
    let files = crate::FileLooks::from_env()?;
    let cold = ColdStart::from_environment(bridge_shared::config::secrets::WORKER).await?;
    let store = cold.store();
    let platforms = cold.platforms(&store)?;
    let service = Arc::new(StatusService::new(
        store.clone(),
        platforms.ccai.clone(),
        platforms.kustomer,
        DEFAULT_LEASE,
    ));
    let ccai = platforms.ccai;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let (service, store, ccai) = (service.clone(), store.clone(), ccai.clone());
        let id = telemetry::correlation_id(Some(&event.context.request_id));
        // Leave the last 10 s of the invocation for the agents and the answer.
        let budget = event
            .context
            .deadline()
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default()
            .saturating_sub(Duration::from_secs(10));
        async move {
            let run =
                scheduled_run(&service, store.as_ref(), &ccai, poll_every, budget, files).await;
            if run.errors.is_empty() {
                Ok(run)
            } else {
                Err(Error::from(run.errors.join("; ")))
            }
        }
        .instrument(telemetry::event_span(&id))
    }))
    .await
}
