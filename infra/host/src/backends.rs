//! Which state and blob stores the local run uses: the embedded store and files under
//! `.local/demo-files` by default (nothing to install); DynamoDB Local and the S3 stand-in when
//! their endpoints are set (as `infra/local/with-services` does).

use crate::stream::FeedSource;
use crate::stream::embedded::StreamingStore;
use bridge_shared::blob::{BlobStore, FsBlobStore, S3BlobStore, S3BlobStoreOptions, s3_client};
use bridge_shared::store::{DynamoStore, EmbeddedStore, StateStore};
use std::path::PathBuf;
use std::sync::Arc;

pub struct Backends {
    pub store: Arc<dyn StateStore>,
    pub store_name: String,
    /// Where stream-triggered functions read the store's changes.
    pub changes: FeedSource,
    pub blobs: Arc<dyn BlobStore>,
    pub blobs_name: String,
    /// `demo --keep`: the console a scenario leaves for after the demo, so the report's
    /// links to it keep working until Ctrl-C.
    pub kept: Option<Kept>,
}

/// A scenario's console kept for after the demo: its host and the sandboxes and clients
/// behind it. Its stream workers are not kept — while later scenarios play, they would read
/// those scenarios' triggers too — and start again, from the feed's end, once the demo is
/// over ([`crate::sessions::start_streams`]).
pub struct KeptConsole {
    pub sandboxes: bridge_tests::platforms::SandboxedPlatforms,
    pub host: crate::host::LocalHost,
    pub platforms: crate::functions::Platforms,
}

#[derive(Clone, Default)]
pub struct Kept(Arc<std::sync::Mutex<Option<KeptConsole>>>);

impl Kept {
    pub fn keep(&self, console: KeptConsole) {
        if let Ok(mut kept) = self.0.lock() {
            *kept = Some(console);
        }
    }

    pub fn take(&self) -> Option<KeptConsole> {
        self.0.lock().ok()?.take()
    }
}

fn set(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// The changes of `table` read through the Streams API at `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`,
/// else `AWS_ENDPOINT_URL_DYNAMODB` (DynamoDB Local serves both on one port).
pub fn dynamodb_changes(
    config: &aws_config::SdkConfig,
    tables: aws_sdk_dynamodb::Client,
    table: String,
) -> FeedSource {
    let endpoint = set("AWS_ENDPOINT_URL_DYNAMODB_STREAMS")
        .or_else(|| set("AWS_ENDPOINT_URL_DYNAMODB"))
        .unwrap_or_default();
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(
        aws_sdk_dynamodbstreams::config::Builder::from(config)
            .endpoint_url(endpoint)
            .interceptor(crate::stream::empty_map_repair::EmptyMapRepair)
            .build(),
    );
    FeedSource::DynamoDb {
        tables,
        streams,
        table,
    }
}

impl Backends {
    /// In-process store and a folder of files.
    pub fn embedded(files: PathBuf) -> Self {
        let (store, log) = StreamingStore::new(Arc::new(EmbeddedStore::new()));
        Self {
            store: Arc::new(store),
            changes: FeedSource::Embedded(log),
            store_name: "embedded store".into(),
            blobs_name: format!("files under {}", files.display()),
            blobs: Arc::new(FsBlobStore::new(files)),
            kept: None,
        }
    }

    /// Scenarios leave their console running after the demo ([`Kept`]).
    pub fn keeping(mut self) -> Self {
        self.kept = Some(Kept::default());
        self
    }

    /// Chosen from the environment: DynamoDB when `AWS_ENDPOINT_URL_DYNAMODB` and `TABLE_NAME`
    /// are set, S3 when `AWS_ENDPOINT_URL_S3` and `BUCKET_NAME` are; embedded otherwise.
    pub async fn from_env(files: PathBuf) -> Result<Self, String> {
        let mut backends = Self::embedded(files);
        let dynamodb = set("AWS_ENDPOINT_URL_DYNAMODB").zip(set("TABLE_NAME"));
        let s3 = set("AWS_ENDPOINT_URL_S3").zip(set("BUCKET_NAME"));
        if dynamodb.is_none() && s3.is_none() {
            return Ok(backends);
        }
        let config = bridge_shared::aws::load_config().await;
        if let Some((endpoint, table)) = dynamodb {
            backends.store_name = format!("DynamoDB at {endpoint}, table {table}");
            let tables = aws_sdk_dynamodb::Client::new(&config);
            backends.store = Arc::new(DynamoStore::new(tables.clone(), table.clone()));
            backends.changes = dynamodb_changes(&config, tables, table);
        }
        if let Some((endpoint, bucket)) = s3 {
            backends.blobs_name = format!("S3 at {endpoint}, bucket {bucket}");
            backends.blobs = Arc::new(
                S3BlobStore::new(s3_client(&config), bucket, S3BlobStoreOptions::default())
                    .map_err(|err| err.to_string())?,
            );
        }
        Ok(backends)
    }
}
