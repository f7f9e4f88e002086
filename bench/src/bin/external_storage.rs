//! A recording's path from the tenant's external storage (the S3 stand-in playing Cloud
//! Storage, read through the bridge's S3-API reader with Cloud Storage's settings) into the
//! files bucket and on into Kustomer's attachment flow (the Kustomer sandbox's presigned POST),
//! beside a plain copy of the same bytes (external storage → files bucket only) and the Kustomer
//! leg alone (external storage → Kustomer's upload). Each path runs
//! in a child process of its own, so each peak RSS is that path's alone (the Kustomer sandbox
//! runs in the parent).
//!
//! A fourth path copies the same bytes *buffered* (the whole object read into memory, then
//! uploaded), and each path's resident memory is sampled over its first run:
//! `bench/results/copy-rss.svg`.
//!
//!   bench/run external-storage [SIZE_MIB=1024] [RUNS=3]
#![allow(clippy::expect_used, clippy::unwrap_used)]

use bench_plot::Line;
use bridge_bench::peak_rss_mib;
use bridge_shared::UnixMillis;
use bridge_shared::blob::{
    BlobKey, BlobStore, ByteStream, S3BlobStore, S3BlobStoreOptions, s3_client,
};
use bridge_shared::config::{Env, Secret};
use bridge_shared::conversation::{AttachError, AttachedFile, FileToAttach};
use bridge_shared::storage::{ExternalStorage, ExternalStorageSettings, S3ExternalStorage};
use bridge_shared::store::{EmbeddedStore, ItemKey};
use bytes::Bytes;
use futures::StreamExt;
use std::time::Instant;

const MIB: u64 = 1024 * 1024;

fn source(size: u64) -> ByteStream {
    let chunk = Bytes::from(
        (0..65_536)
            .map(|i| (i * 31 % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    futures::stream::unfold(0u64, move |sent| {
        let chunk = chunk.clone();
        async move {
            (sent < size).then(|| {
                let len = (size - sent).min(65_536) as usize;
                (Ok(chunk.slice(..len)), sent + len as u64)
            })
        }
    })
    .boxed()
}

async fn tenant_storage(bucket: &str, prefix: &str) -> S3ExternalStorage {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_S3").expect("run through bench/run");
    let env = Env::from_pairs([
        ("EXTERNAL_STORAGE_BUCKET", bucket),
        ("EXTERNAL_STORAGE_PREFIX", prefix),
        ("EXTERNAL_STORAGE_ENDPOINT", endpoint.as_str()),
        ("EXTERNAL_STORAGE_REGION", "auto"),
        ("EXTERNAL_STORAGE_ACCESS_KEY_ID", "GOOG1EBENCH"),
        ("EXTERNAL_STORAGE_SECRET_ACCESS_KEY", "bench-hmac-secret"),
    ]);
    let settings = ExternalStorageSettings::from_env(&env, None)
        .await
        .unwrap()
        .unwrap();
    let config = bridge_shared::aws::load_config().await;
    S3ExternalStorage::new(&config, &settings)
}

/// One path in this (child) process: `plain` or `attach`; prints `seconds peak_rss_mib`.
async fn child(path: &str, bucket: &str, prefix: &str, size: u64, kustomer_url: &str) {
    let config = bridge_shared::aws::load_config().await;
    let files = S3BlobStore::new(
        s3_client(&config),
        std::env::var("BUCKET_NAME").unwrap(),
        S3BlobStoreOptions::default(),
    )
    .unwrap();
    let tenant = tenant_storage(bucket, prefix).await;
    let key = BlobKey::parse(&format!(
        "recordings/bench/{}/call-1.mp3",
        uuid::Uuid::new_v4().simple()
    ))
    .unwrap();
    let started = Instant::now();
    match path {
        "plain" => {
            let download = tenant.open("call-1.mp3").await.unwrap();
            let report = files
                .upload(&key, "audio/mpeg", download.body)
                .await
                .unwrap();
            assert_eq!(report.size, size);
        }
        "buffered" => {
            // What streaming avoids: the whole recording in memory, then uploaded.
            let download = tenant.open("call-1.mp3").await.unwrap();
            let whole: Vec<u8> = download
                .body
                .fold(Vec::new(), |mut all, chunk| async move {
                    all.extend_from_slice(&chunk.unwrap());
                    all
                })
                .await;
            let body = futures::stream::once(async move { Ok(Bytes::from(whole)) }).boxed();
            let report = files.upload(&key, "audio/mpeg", body).await.unwrap();
            assert_eq!(report.size, size);
        }
        "kustomer" => {
            // The second leg alone: the tenant's object straight into Kustomer's upload.
            let kustomer = kustomer_client(kustomer_url);
            let download = tenant.open("call-1.mp3").await.unwrap();
            kustomer
                .upload_attachment(bridge_shared::kustomer::AttachmentFile {
                    name: "call-1.mp3".into(),
                    content_type: "audio/mpeg".into(),
                    content_length: size,
                    body: download.body,
                })
                .await
                .unwrap();
            println!("{} {}", started.elapsed().as_secs_f64(), peak_rss_mib());
            return;
        }
        _ => {
            let kustomer = kustomer_client(kustomer_url);
            let store = EmbeddedStore::new();
            let file = FileToAttach {
                progress: ItemKey::new("SESSION#call#1", "RECORDING"),
                blob: key.clone(),
                content_type: "audio/mpeg".into(),
                conversation_id: std::env::var("BENCH_CONVERSATION").unwrap(),
                note_body: "Call recording".into(),
                note_external_id: "bench-recording".into(),
            };
            let tenant = &tenant;
            let outcome = AttachedFile {
                store: &store,
                blobs: &files,
                kustomer: &kustomer,
                max_bytes: u64::MAX,
            }
            .attach(
                &file,
                || async move {
                    let download =
                        tenant
                            .open("call-1.mp3")
                            .await
                            .map_err(|e| AttachError::Source {
                                retryable: false,
                                message: e.to_string(),
                            })?;
                    Ok(download.body)
                },
                UnixMillis::now(),
            )
            .await
            .unwrap();
            assert!(outcome.noted);
        }
    }
    println!("{} {}", started.elapsed().as_secs_f64(), peak_rss_mib());
    files.delete(&key).await.unwrap();
}

/// The attaching child's Kustomer client (the sandbox's key comes from the parent).
fn kustomer_client(url: &str) -> bridge_shared::kustomer::KustomerClient {
    let http =
        bridge_shared::http::build_client(bridge_shared::http::HttpSettings::default()).unwrap();
    bridge_shared::kustomer::KustomerClient::new(
        &bridge_shared::config::KustomerSettings {
            base_url: url.to_owned(),
            api_key: Secret::new(std::env::var("BENCH_KUSTOMER_KEY").unwrap()),
        },
        http,
        bridge_shared::http::RetryPolicy::default(),
    )
}

/// Waits for `child`, reading its resident memory (`VmRSS`) every 20 ms: (seconds, MiB).
fn sample_rss(mut child: std::process::Child) -> (std::process::Output, Vec<(f64, f64)>) {
    let started = Instant::now();
    let status_file = format!("/proc/{}/status", child.id());
    let mut samples = Vec::new();
    while child.try_wait().unwrap().is_none() {
        if let Some(kib) = std::fs::read_to_string(&status_file)
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        {
            samples.push((started.elapsed().as_secs_f64(), kib / 1024.0));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (child.wait_with_output().unwrap(), samples)
}

fn arg(index: usize, default: u64) -> u64 {
    std::env::args()
        .nth(index)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let size: u64 = args[5].parse().unwrap();
        child(&args[2], &args[3], &args[4], size, &args[6]).await;
        return;
    }
    let size = arg(1, 1024) * MIB;
    let runs = arg(2, 3).max(1);
    // The tenant's bucket, holding one recording of `size` bytes.
    let bucket = format!("bench-tenant-{}", uuid::Uuid::new_v4().simple());
    let prefix = "ccai-exports";
    let config = bridge_shared::aws::load_config().await;
    let client = s3_client(&config);
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    let writer = S3BlobStore::new(client, bucket.clone(), S3BlobStoreOptions::default()).unwrap();
    let object = BlobKey::parse(&format!("{prefix}/call-1.mp3"))
        .unwrap_or_else(|_| panic!("{prefix}/call-1.mp3 is not a blob key"));
    writer
        .upload(&object, "audio/mpeg", source(size))
        .await
        .unwrap();

    // Kustomer: the sandbox in this process; the attaching child only talks to it.
    let kustomer = bridge_tests::kustomer_sandbox::KustomerSandbox::start(Default::default())
        .await
        .unwrap();
    let client = bridge_tests::kustomer_support::client(&kustomer);
    let customer = client
        .create_customer(&bridge_shared::kustomer::requests::NewCustomer {
            name: Some("Bench".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let conversation = client
        .create_conversation(&bridge_shared::kustomer::requests::NewConversation {
            customer: customer.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();

    let mut report = Vec::new();
    let mut curves = Vec::new();
    for path in ["plain", "kustomer", "attach", "buffered"] {
        let mut seconds = Vec::new();
        let mut rss = 0f64;
        for _ in 0..runs {
            let child = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--child",
                    path,
                    &bucket,
                    prefix,
                    &size.to_string(),
                    &kustomer.base_url,
                ])
                .env("BENCH_KUSTOMER_KEY", kustomer.api_key())
                .env("BENCH_CONVERSATION", &conversation.id)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let (out, samples) = sample_rss(child);
            if curves.iter().all(|c: &Line| c.label != path) {
                curves.push(Line {
                    label: path.to_owned(),
                    points: samples,
                });
            }
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let line = String::from_utf8_lossy(&out.stdout);
            let mut fields = line.split_whitespace().map(|f| f.parse::<f64>().unwrap());
            seconds.push(fields.next().unwrap());
            rss = rss.max(fields.next().unwrap());
        }
        seconds.sort_by(f64::total_cmp);
        let median = seconds[seconds.len() / 2];
        let rate = size as f64 / MIB as f64 / median;
        println!(
            "{path:>6}: {} MiB, {runs} runs: median {median:.2} s ({rate:.1} MiB/s); peak RSS {rss:.1} MiB",
            size / MIB
        );
        report.push(median);
    }
    let out = std::path::Path::new("bench/results");
    std::fs::create_dir_all(out).unwrap();
    bench_plot::lines(
        &out.join("copy-rss.svg"),
        &format!("Resident memory over a {} MiB recording's copy", size / MIB),
        ("seconds", "RSS (MiB)"),
        &curves,
        bench_plot::Scale::Linear,
    )
    .unwrap();
    eprintln!("external-storage: wrote bench/results/copy-rss.svg");
    println!(
        "external-storage: {} MiB from the tenant bucket; attach path (→ bucket → Kustomer) / plain copy (→ bucket) = {:.2}× the time; the Kustomer leg alone (tenant → Kustomer) = {:.2}× the plain copy",
        size / MIB,
        report[2] / report[0],
        report[1] / report[0]
    );
}
