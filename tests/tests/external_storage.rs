//! The external-storage reader (issue 11) against the S3 stand-in playing the tenant's Cloud
//! Storage bucket: Cloud Storage's settings (its own endpoint, region `auto`, HMAC key,
//! path-style, checksums only when required) and a folder prefix; and the folder adapter.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_shared::config::Env;
use bridge_shared::storage::{
    ExternalStorage, ExternalStorageSettings, FsExternalStorage, S3ExternalStorage,
};
use futures::TryStreamExt;

async fn read_all(storage: &dyn ExternalStorage, name: &str) -> Vec<u8> {
    let download = storage.open(name).await.unwrap();
    let chunks: Vec<bytes::Bytes> = download.body.try_collect().await.unwrap();
    chunks.concat()
}

#[tokio::test]
async fn r_r_1_the_tenants_bucket_is_read_through_the_s3_api_with_hmac_keys() {
    let endpoint =
        std::env::var("AWS_ENDPOINT_URL_S3").expect("run under infra/local/with-services");
    let bucket = bridge_tests::unique("tenant-gcs").to_lowercase();
    let writer = bridge_tests::local::s3_client().await;
    writer.create_bucket().bucket(&bucket).send().await.unwrap();
    for (key, body) in [
        ("ccai/exports/call-1917.mp3", &b"ID3 recording"[..]),
        (
            "ccai/exports/chat-44.txt",
            &b"{\"transcript_version\": \"1.0\"}"[..],
        ),
    ] {
        writer
            .put_object()
            .bucket(&bucket)
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let env = Env::from_pairs([
        ("EXTERNAL_STORAGE_BUCKET", bucket.as_str()),
        ("EXTERNAL_STORAGE_PREFIX", "ccai/exports/"),
        ("EXTERNAL_STORAGE_ENDPOINT", endpoint.as_str()),
        ("EXTERNAL_STORAGE_REGION", "auto"),
        ("EXTERNAL_STORAGE_ACCESS_KEY_ID", "GOOG1EHMACKEY"),
        ("EXTERNAL_STORAGE_SECRET_ACCESS_KEY", "hmac-secret"),
    ]);
    let settings = ExternalStorageSettings::from_env(&env, None)
        .await
        .unwrap()
        .unwrap();
    let storage = S3ExternalStorage::new(&bridge_tests::local::aws_config().await, &settings);

    let found = storage.stat("call-1917.mp3").await.unwrap().unwrap();
    assert_eq!(found.meta.size, 13);
    assert!(found.generation.is_some());
    assert_eq!(read_all(&storage, "call-1917.mp3").await, b"ID3 recording");
    assert_eq!(
        read_all(&storage, "chat-44.txt").await,
        b"{\"transcript_version\": \"1.0\"}"
    );
    assert!(
        storage.stat("call-1917.wav").await.unwrap().is_none(),
        "not there (yet)"
    );
    assert!(storage.open("call-1.mp3").await.is_err());
    assert!(!storage.describe().contains("hmac-secret"));

    // A rewrite is a new generation.
    writer
        .put_object()
        .bucket(&bucket)
        .key("ccai/exports/call-1917.mp3")
        .body(b"ID3 recording, longer".to_vec().into())
        .send()
        .await
        .unwrap();
    let rewritten = storage.stat("call-1917.mp3").await.unwrap().unwrap();
    assert_ne!(rewritten.generation, found.generation);
}

#[tokio::test]
async fn external_storage_settings_are_optional_and_refuse_half_a_key() {
    assert!(
        ExternalStorageSettings::from_env(&Env::from_pairs::<&str, &str>([]), None)
            .await
            .unwrap()
            .is_none()
    );
    let half = Env::from_pairs([
        ("EXTERNAL_STORAGE_BUCKET", "tenant-bucket"),
        ("EXTERNAL_STORAGE_ACCESS_KEY_ID", "GOOG1E"),
    ]);
    let err = ExternalStorageSettings::from_env(&half, None)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("EXTERNAL_STORAGE_ACCESS_KEY_ID"),
        "{err}"
    );
    let role = Env::from_pairs([("EXTERNAL_STORAGE_BUCKET", "s3-export-bucket")]);
    let settings = ExternalStorageSettings::from_env(&role, None)
        .await
        .unwrap()
        .unwrap();
    assert!(settings.endpoint.is_none() && settings.access_key_id.is_none());
}

#[tokio::test]
async fn a_folder_plays_the_bucket_for_the_local_demo() {
    let root = std::env::temp_dir().join(bridge_tests::unique("ext"));
    tokio::fs::create_dir_all(root.join("ccai")).await.unwrap();
    tokio::fs::write(root.join("ccai/chat-44.txt"), b"hello")
        .await
        .unwrap();
    let storage = FsExternalStorage::new(&root, "ccai");
    assert_eq!(
        storage
            .stat("chat-44.txt")
            .await
            .unwrap()
            .unwrap()
            .meta
            .size,
        5
    );
    assert_eq!(read_all(&storage, "chat-44.txt").await, b"hello");
    assert!(storage.stat("chat-45.txt").await.unwrap().is_none());
    assert!(storage.stat("../etc/passwd").await.is_err());
}
