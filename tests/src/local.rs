//! Connections to the stand-ins that `infra/local/with-services` starts (DynamoDB Local, moto).
//!
//! These tests do not skip themselves when the stand-ins are absent: run them through
//! `scripts/test`, or inside `infra/local/with-services`.

use bridge_shared::blob::{S3BlobStore, S3BlobStoreOptions};
use bridge_shared::store::DynamoStore;

fn required(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: this test needs the local stand-ins. Run `scripts/test`, or \
             `infra/local/with-services cargo test --workspace`."
        )
    })
}

pub async fn aws_config() -> aws_config::SdkConfig {
    required("AWS_ENDPOINT_URL_DYNAMODB");
    bridge_shared::aws::load_config().await
}

pub fn table_name() -> String {
    required("TABLE_NAME")
}

pub fn bucket_name() -> String {
    required("BUCKET_NAME")
}

pub async fn dynamo_store() -> DynamoStore {
    let config = aws_config().await;
    DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table_name())
}

/// An S3 client for the moto stand-in (path-style addressing).
pub async fn s3_client() -> aws_sdk_s3::Client {
    required("AWS_ENDPOINT_URL_S3");
    bridge_shared::blob::s3_client(&aws_config().await)
}

pub async fn s3_blob_store(part_size: usize) -> S3BlobStore {
    S3BlobStore::new(
        s3_client().await,
        bucket_name(),
        S3BlobStoreOptions { part_size },
    )
    .unwrap()
}

pub async fn sqs_client() -> aws_sdk_sqs::Client {
    required("AWS_ENDPOINT_URL_SQS");
    aws_sdk_sqs::Client::new(&aws_config().await)
}

pub async fn ssm_client() -> aws_sdk_ssm::Client {
    required("AWS_ENDPOINT_URL_SSM");
    aws_sdk_ssm::Client::new(&aws_config().await)
}
