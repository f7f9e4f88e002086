//! The admin Lambda: configuration, adapters and the runtime; the logic is in `lib.rs`.

use bridge_admin::{AdminApi, handle};
use bridge_shared::UnixMillis;
use bridge_shared::ccai::CcaiClient;
use bridge_shared::config::{BridgeConfig, Env, SsmParameterStore};
use bridge_shared::http::{HttpSettings, RetryPolicy, build_client, build_download_client};
use bridge_shared::kustomer::KustomerClient;
use bridge_shared::status::sync::{DEFAULT_LEASE, StatusService};
use bridge_shared::store::{DynamoStore, StateStore};
use bridge_shared::telemetry::{self, LogFormat};
use lambda_http::{Error, Request, RequestExt, service_fn};
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
    let store: Arc<dyn StateStore> = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&aws),
        config.table_name.clone(),
    ));
    let ccai = Arc::new(CcaiClient::new(
        &config.ccai,
        http.clone(),
        downloads,
        RetryPolicy::default(),
    ));
    let kustomer = Arc::new(KustomerClient::new(
        &config.kustomer,
        http,
        RetryPolicy::default(),
    ));
    let api = Arc::new(AdminApi {
        status: StatusService::new(store.clone(), ccai.clone(), kustomer.clone(), DEFAULT_LEASE),
        store,
        ccai,
        kustomer,
        admin_token: config.admin_token.clone(),
    });
    lambda_http::run(service_fn(move |request: Request| {
        let api = api.clone();
        let id =
            telemetry::correlation_id(request.lambda_context_ref().map(|c| c.request_id.as_str()));
        async move { Ok::<_, Error>(handle(&api, request, UnixMillis::now()).await) }
            .instrument(telemetry::event_span(&id))
    }))
    .await
}
