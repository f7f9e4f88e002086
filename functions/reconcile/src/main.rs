//! The reconciliation Lambda, run on a schedule (template.yaml).

use bridge_reconcile::reconcile_agents;
use bridge_shared::UnixMillis;
use bridge_shared::coldstart::ColdStart;
use bridge_shared::status::sync::{DEFAULT_LEASE, StatusService};
use bridge_shared::telemetry::{self, LogFormat};
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Error, service_fn};
use std::sync::Arc;
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::from_env());
    let cold = ColdStart::from_environment().await?;
    let service = Arc::new(StatusService::new(
        cold.store,
        cold.ccai,
        cold.kustomer,
        DEFAULT_LEASE,
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let service = service.clone();
        let id = telemetry::correlation_id(Some(&event.context.request_id));
        async move { Ok::<_, Error>(reconcile_agents(&service, UnixMillis::now()).await?) }
            .instrument(telemetry::event_span(&id))
    }))
    .await
}
