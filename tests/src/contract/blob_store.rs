//! The blob-store contract (`bridge_shared::blob`).
//!
//! Cases take the adapter's part size so that bodies straddle part boundaries on S3; an adapter
//! without parts (the filesystem) runs them with S3's minimum part size.

use crate::bytes_source::{collect, expected, generated};
use crate::unique;
use bridge_shared::blob::*;
use std::sync::Arc;

pub type Blobs = Arc<dyn BlobStore>;

fn key() -> BlobKey {
    BlobKey::parse(&format!("contract/{}/call-1.mp3", unique("blob"))).unwrap()
}

async fn assert_stored(blobs: &Blobs, key: &BlobKey, len: u64) {
    let meta = blobs.stat(key).await.unwrap().expect("object stored");
    assert_eq!(meta.size, len);
    let download = blobs.download(key).await.unwrap();
    assert_eq!(download.meta.size, len);
    let body = collect(download.body).await.unwrap();
    assert_eq!(body.len() as u64, len);
    assert!(
        body == expected(len),
        "downloaded bytes differ from uploaded bytes"
    );
}

pub async fn small_body_round_trips(blobs: Blobs, part_size: usize) {
    let key = key();
    let report = blobs
        .upload(&key, "audio/mpeg", generated(1_000, 333, None))
        .await
        .unwrap();
    assert_eq!(
        report,
        UploadReport {
            size: 1_000,
            parts: 0
        }
    );
    assert_stored(&blobs, &key, 1_000).await;
    let _ = part_size;
}

pub async fn empty_body_is_stored_as_an_empty_object(blobs: Blobs, _part_size: usize) {
    let key = key();
    let report = blobs
        .upload(&key, "text/plain", generated(0, 1, None))
        .await
        .unwrap();
    assert_eq!(report.size, 0);
    assert_stored(&blobs, &key, 0).await;
}

/// A body that is not a multiple of the part size: two full parts and a short third.
pub async fn multipart_body_not_a_multiple_of_the_part_size(blobs: Blobs, part_size: usize) {
    let key = key();
    let len = 2 * part_size as u64 + 12_345;
    // Odd chunk size: parts are cut across chunk boundaries.
    let report = blobs
        .upload(&key, "audio/mpeg", generated(len, 64 * 1024 + 7, None))
        .await
        .unwrap();
    assert_eq!(report.size, len);
    assert!(report.parts == 3 || report.parts == 0, "{report:?}");
    assert_stored(&blobs, &key, len).await;
}

pub async fn multipart_body_of_exactly_two_parts(blobs: Blobs, part_size: usize) {
    let key = key();
    let len = 2 * part_size as u64;
    let report = blobs
        .upload(&key, "audio/wav", generated(len, 1 << 20, None))
        .await
        .unwrap();
    assert!(report.parts == 2 || report.parts == 0, "{report:?}");
    assert_stored(&blobs, &key, len).await;
}

/// The source breaks off half-way through the second part: the upload fails with a source
/// error and nothing is stored under the key.
pub async fn a_source_failing_half_way_leaves_nothing(blobs: Blobs, part_size: usize) {
    let key = key();
    let cut = part_size as u64 * 3 / 2;
    let err = blobs
        .upload(
            &key,
            "audio/mpeg",
            generated(3 * part_size as u64, 100_000, Some(cut)),
        )
        .await
        .unwrap_err();
    match err {
        BlobError::Source { bytes_read, .. } => assert!(bytes_read <= cut, "{bytes_read}"),
        other => panic!("expected a source error, got {other:?}"),
    }
    assert_eq!(blobs.stat(&key).await.unwrap(), None);
}

pub async fn a_failed_upload_keeps_the_previous_object(blobs: Blobs, part_size: usize) {
    let key = key();
    blobs
        .upload(&key, "audio/mpeg", generated(2_000, 500, None))
        .await
        .unwrap();
    let cut = part_size as u64 + 10;
    assert!(
        blobs
            .upload(
                &key,
                "audio/mpeg",
                generated(3 * part_size as u64, 100_000, Some(cut))
            )
            .await
            .is_err()
    );
    assert_stored(&blobs, &key, 2_000).await;
}

pub async fn missing_objects_are_reported_plainly(blobs: Blobs, _part_size: usize) {
    let key = key();
    assert_eq!(blobs.stat(&key).await.unwrap(), None);
    assert!(matches!(
        blobs.download(&key).await,
        Err(BlobError::NotFound { .. })
    ));
    blobs.delete(&key).await.unwrap();
}

pub async fn overwrite_replaces_and_delete_removes(blobs: Blobs, _part_size: usize) {
    let key = key();
    blobs
        .upload(&key, "text/plain", generated(10, 3, None))
        .await
        .unwrap();
    blobs
        .upload(&key, "text/plain", generated(20, 7, None))
        .await
        .unwrap();
    assert_stored(&blobs, &key, 20).await;
    blobs.delete(&key).await.unwrap();
    assert_eq!(blobs.stat(&key).await.unwrap(), None);
}

/// Expands to one test per case, given an async expression building a fresh adapter and the
/// part size to shape bodies with.
#[macro_export]
macro_rules! blob_store_contract {
    ($make:expr, $part_size:expr) => {
        $crate::blob_store_contract!(@cases $make, $part_size;
            small_body_round_trips,
            empty_body_is_stored_as_an_empty_object,
            multipart_body_not_a_multiple_of_the_part_size,
            multipart_body_of_exactly_two_parts,
            a_source_failing_half_way_leaves_nothing,
            a_failed_upload_keeps_the_previous_object,
            missing_objects_are_reported_plainly,
            overwrite_replaces_and_delete_removes,
        );
    };
    (@cases $make:expr, $part_size:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let blobs: $crate::contract::blob_store::Blobs = std::sync::Arc::new($make.await);
                $crate::contract::blob_store::$case(blobs, $part_size).await;
            }
        )*
    };
}
