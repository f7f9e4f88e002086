//! The blob-store contract against the filesystem adapter, plus what only a filesystem shows.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_shared::blob::{FsBlobStore, MIN_PART_SIZE};

fn root() -> std::path::PathBuf {
    std::env::temp_dir().join(bridge_tests::unique("bridge-blobs"))
}

bridge_tests::blob_store_contract!(async { FsBlobStore::new(root()) }, MIN_PART_SIZE);

mod filesystem {
    use super::*;
    use bridge_shared::blob::{BlobKey, BlobStore};
    use bridge_tests::bytes_source::generated;

    /// No temporary file survives a failed upload.
    #[tokio::test]
    async fn a_failed_upload_leaves_no_file_behind() {
        let root = root();
        let blobs = FsBlobStore::new(&root);
        let key = BlobKey::parse("recordings/2026/11/23/call-7.mp3").unwrap();
        assert!(
            blobs
                .upload(&key, "audio/mpeg", generated(10_000, 1_000, Some(4_000)))
                .await
                .is_err()
        );
        let folder = root.join("recordings/2026/11/23");
        let left: Vec<_> = std::fs::read_dir(&folder).unwrap().collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}
