//! Uploads a generated stream through the S3 blob-store adapter to the S3 stand-in and reports
//! throughput (median of the runs) and the process's peak resident memory.
//!
//!   bench/run s3-upload [SIZE_MIB] [RUNS] [PART_MIB]
//!
//! The source yields 64 KiB chunks (like an HTTP download) from one shared buffer, so the
//! source itself holds no memory: the peak RSS is the adapter's (plus the runtime's).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use bridge_bench::peak_rss_mib;
use bridge_shared::blob::{
    BlobKey, BlobStore, ByteStream, S3BlobStore, S3BlobStoreOptions, s3_client,
};
use bytes::Bytes;
use futures::StreamExt;
use std::time::Instant;

const MIB: u64 = 1024 * 1024;
const CHUNK: usize = 64 * 1024;

fn source(size: u64) -> ByteStream {
    let chunk = Bytes::from(
        (0..CHUNK)
            .map(|i| (i * 31 % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    futures::stream::unfold(0u64, move |sent| {
        let chunk = chunk.clone();
        async move {
            if sent >= size {
                return None;
            }
            let len = (size - sent).min(CHUNK as u64) as usize;
            Some((Ok(chunk.slice(..len)), sent + len as u64))
        }
    })
    .boxed()
}

fn arg(index: usize, default: u64) -> u64 {
    std::env::args()
        .nth(index)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let size = arg(1, 256) * MIB;
    let runs = arg(2, 3).max(1);
    let part = arg(3, 8) * MIB;
    let bucket = std::env::var("BUCKET_NAME").expect("BUCKET_NAME (run through bench/run)");
    let config = bridge_shared::aws::load_config().await;
    let store = S3BlobStore::new(
        s3_client(&config),
        bucket,
        S3BlobStoreOptions {
            part_size: part as usize,
        },
    )
    .expect("valid part size");

    let rss_before = peak_rss_mib();
    let mut rates = Vec::new();
    for run in 1..=runs {
        let key = BlobKey::parse(&format!(
            "bench/{}/call-{run}.bin",
            uuid::Uuid::new_v4().simple()
        ))
        .unwrap();
        let started = Instant::now();
        let report = store
            .upload(&key, "application/octet-stream", source(size))
            .await
            .unwrap();
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(report.size, size);
        let rate = size as f64 / MIB as f64 / seconds;
        println!(
            "run {run}: {} MiB in {} parts, {seconds:.2} s, {rate:.1} MiB/s",
            size / MIB,
            report.parts
        );
        rates.push(rate);
        store.delete(&key).await.unwrap();
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    println!(
        "s3-upload: size {} MiB, part {} MiB, {runs} runs: median {median:.1} MiB/s; peak RSS {:.1} MiB (before the first upload {:.1} MiB)",
        size / MIB,
        part / MIB,
        peak_rss_mib(),
        rss_before
    );
}
