//! The reconciliation Lambda, run on a schedule (template.yaml).

use bridge_reconcile::reconcile_agents;
use bridge_shared::UnixMillis;
use bridge_shared::ccai::CcaiClient;
use bridge_shared::config::{BridgeConfig, Env, SsmParameterStore};
use bridge_shared::http::{HttpSettings, RetryPolicy, build_client, build_download_client};
use bridge_shared::kustomer::KustomerClient;
use bridge_shared::status::sync::{DEFAULT_LEASE, StatusService};
use bridge_shared::store::DynamoStore;
use bridge_shared::telemetry::{self, LogFormat};
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Error, service_fn};
use std::sync::Arc;
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::from_env());
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let parameters = SsmParameterStore::new(aws_sdk_ssm::Client::new(&aws));
    let config = BridgeConfig::load(&Env::from_process(), Some(&parameters)).await?;
    let http = build_client(HttpSettings::default())?;
    let downloads = build_download_client(HttpSettings::default())?;
    let service = Arc::new(StatusService::new(
        Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&aws),
            config.table_name.clone(),
        )),
        Arc::new(CcaiClient::new(
            &config.ccai,
            http.clone(),
            downloads,
            RetryPolicy::default(),
        )),
        Arc::new(KustomerClient::new(
            &config.kustomer,
            http,
            RetryPolicy::default(),
        )),
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
