//! The three-step attachment flow against the sandbox: its own upload target and the S3
//! stand-in (moto).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_shared::blob::{BlobKey, BlobStore, FsBlobStore};
use bridge_shared::kustomer::requests::*;
use bridge_shared::kustomer::{AttachmentFile, KustomerClient, KustomerError};
use bridge_tests::bytes_source::generated;
use bridge_tests::kustomer_sandbox::*;
use bridge_tests::kustomer_support::{client, sandbox};
use futures::StreamExt;
use sha2::Digest;

async fn conversation(client: &KustomerClient) -> String {
    let customer = client
        .create_customer(&NewCustomer {
            name: Some("Ana".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    client
        .create_conversation(&NewConversation {
            customer,
            external_id: Some("ccai-call-1".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .id
}

fn file(name: &str, len: u64) -> AttachmentFile {
    AttachmentFile {
        name: name.into(),
        content_type: "audio/mpeg".into(),
        content_length: len,
        body: generated(len, 16 * 1024, None),
    }
}

async fn sha256_of_generated(len: u64) -> String {
    let mut hasher = sha2::Sha256::new();
    let mut stream = generated(len, 1 << 20, None);
    while let Some(chunk) = stream.next().await {
        hasher.update(chunk.unwrap());
    }
    hex::encode(hasher.finalize())
}

#[tokio::test]
async fn an_uploaded_file_is_referenced_by_a_note() {
    let sandbox = sandbox(SandboxOptions {
        upload_success_status: 201,
        ..Default::default()
    })
    .await;
    let client = client(&sandbox);
    let conv = conversation(&client).await;
    let reference = client
        .upload_attachment(file("call-987.mp3", 10_000))
        .await
        .unwrap();
    assert_eq!(reference.content_length, 10_000);
    let upload = sandbox
        .inspect(|w| w.uploads.get(&reference.id).cloned())
        .unwrap();
    assert_eq!(upload.bytes, 10_000);
    assert_eq!(upload.sha256, sha256_of_generated(10_000).await);
    assert!(
        upload.fields.contains(&"key".to_owned()) && upload.fields.contains(&"Policy".to_owned())
    );

    let note = client
        .create_note(
            &conv,
            &NewNote {
                body: "Recording".into(),
                attachments: vec![reference.clone()],
                ..Default::default()
            },
            bridge_shared::kustomer::Attempt::First,
        )
        .await
        .unwrap();
    assert_eq!(note.attributes.attachments[0]["_id"], reference.id.as_str());
}

/// A 200 MiB recording goes from the blob store to Kustomer as a stream: the sandbox receives
/// every byte, in order, with the declared length.
#[tokio::test]
async fn r_r_1_a_200_mib_file_streams_from_the_blob_store_to_kustomer() {
    const LEN: u64 = 200 * 1024 * 1024;
    let root = std::env::temp_dir().join(bridge_tests::unique("attach"));
    let blobs = FsBlobStore::new(&root);
    let key = BlobKey::parse("recordings/2026/11/23/call-987.mp3").unwrap();
    blobs
        .upload(&key, "audio/mpeg", generated(LEN, 1 << 20, None))
        .await
        .unwrap();

    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    let download = blobs.download(&key).await.unwrap();
    let reference = client
        .upload_attachment(AttachmentFile {
            name: "call-987.mp3".into(),
            content_type: "audio/mpeg".into(),
            content_length: download.meta.size,
            body: download.body,
        })
        .await
        .unwrap();
    let upload = sandbox
        .inspect(|w| w.uploads.get(&reference.id).cloned())
        .unwrap();
    assert_eq!(upload.bytes, LEN);
    assert_eq!(upload.sha256, sha256_of_generated(LEN).await);
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test]
async fn a_file_shorter_than_declared_is_not_counted_as_uploaded() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    let conv = conversation(&client).await;
    let mut short = file("call-1.mp3", 5_000);
    short.body = generated(4_000, 1_000, None);
    assert!(client.upload_attachment(short).await.is_err());
    let attachment = sandbox.inspect(|w| w.attachments[0].clone());
    assert_eq!(attachment.attributes["uploaded"], false);
    let reference = AttachmentRef {
        id: attachment.id,
        name: "call-1.mp3".into(),
        content_type: "audio/mpeg".into(),
        content_length: 5_000,
    };
    let err = client
        .create_note(
            &conv,
            &NewNote {
                body: "x".into(),
                attachments: vec![reference],
                ..Default::default()
            },
            bridge_shared::kustomer::Attempt::First,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, KustomerError::Client { status: 400, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_source_that_breaks_off_is_reported_as_a_source_error() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    let mut broken = file("call-2.mp3", 100_000);
    broken.body = generated(100_000, 10_000, Some(50_000));
    let err = client.upload_attachment(broken).await.unwrap_err();
    assert!(matches!(err, KustomerError::Source { .. }), "{err:?}");
}

#[tokio::test]
async fn executables_are_refused_before_any_request() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let client = client(&sandbox);
    let err = client
        .upload_attachment(file("setup.exe", 10))
        .await
        .unwrap_err();
    assert!(matches!(err, KustomerError::Invalid(_)), "{err:?}");
    assert_eq!(sandbox.request_count(), 0);
}

/// The presigned POST points at the S3 stand-in: the object lands in the bucket and the
/// sandbox checks its length there before the attachment counts as uploaded.
#[tokio::test]
async fn an_upload_to_the_s3_stand_in_is_verified_there() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
        .expect("run through scripts/test (needs the S3 stand-in)");
    let bucket = bridge_tests::local::bucket_name();
    let sandbox = sandbox(SandboxOptions {
        upload_target: UploadTarget::S3 {
            endpoint,
            bucket: bucket.clone(),
        },
        ..Default::default()
    })
    .await;
    let client = client(&sandbox);
    let conv = conversation(&client).await;
    let reference = client
        .upload_attachment(file("call-3.mp3", 300_000))
        .await
        .unwrap();
    let head = bridge_tests::local::s3_client()
        .await
        .head_object()
        .bucket(&bucket)
        .key(format!("attachments/{}/call-3.mp3", reference.id))
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(300_000));
    client
        .create_note(
            &conv,
            &NewNote {
                body: "Recording".into(),
                attachments: vec![reference],
                ..Default::default()
            },
            bridge_shared::kustomer::Attempt::First,
        )
        .await
        .unwrap();
}
