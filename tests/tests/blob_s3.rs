//! The blob-store contract against S3 (the moto stand-in), plus the multipart specifics.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_shared::blob::MIN_PART_SIZE;

bridge_tests::blob_store_contract!(
    bridge_tests::local::s3_blob_store(MIN_PART_SIZE),
    MIN_PART_SIZE
);

mod multipart {
    use super::*;
    use bridge_shared::blob::{BlobError, BlobKey, BlobStore, S3BlobStore, S3BlobStoreOptions};
    use bridge_tests::bytes_source::generated;
    use bridge_tests::local::{bucket_name, s3_blob_store, s3_client};

    /// A source failing half-way aborts the multipart upload: no upload is left open for the
    /// key (it would cost storage until the lifecycle rule removed it).
    #[tokio::test]
    async fn r_r_1_a_failed_source_aborts_the_multipart_upload() {
        let blobs = s3_blob_store(MIN_PART_SIZE).await;
        let key =
            BlobKey::parse(&format!("aborted/{}/call-9.mp3", bridge_tests::unique("k"))).unwrap();
        let cut = MIN_PART_SIZE as u64 * 5 / 2;
        let err = blobs
            .upload(
                &key,
                "audio/mpeg",
                generated(4 * MIN_PART_SIZE as u64, 256 * 1024, Some(cut)),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, BlobError::Source { .. }), "{err:?}");

        let open = s3_client()
            .await
            .list_multipart_uploads()
            .bucket(bucket_name())
            .prefix(key.as_str())
            .send()
            .await
            .unwrap();
        assert!(
            open.uploads().is_empty(),
            "uploads left open: {:?}",
            open.uploads()
        );
    }

    #[tokio::test]
    async fn the_content_type_is_kept() {
        let blobs = s3_blob_store(MIN_PART_SIZE).await;
        let key = BlobKey::parse(&format!("typed/{}.html", bridge_tests::unique("t"))).unwrap();
        blobs
            .upload(&key, "text/html; charset=utf-8", generated(100, 10, None))
            .await
            .unwrap();
        let meta = blobs.stat(&key).await.unwrap().unwrap();
        assert_eq!(
            meta.content_type.as_deref(),
            Some("text/html; charset=utf-8")
        );
    }

    #[tokio::test]
    async fn a_part_size_below_s3s_minimum_is_refused() {
        let err = S3BlobStore::new(
            s3_client().await,
            bucket_name(),
            S3BlobStoreOptions {
                part_size: MIN_PART_SIZE - 1,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("part size"), "{err}");
    }
}
