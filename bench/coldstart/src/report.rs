//! The environment a start gets, and the figures written out.

use crate::emulator::ms;
use crate::{Measured, Target};
use std::io::Write;
use std::path::Path;

/// What Lambda sets (`AWS_LAMBDA_*`, `_HANDLER`, the region and role credentials) and what
/// `template.yaml` sets, with the secrets given as plain values so no SSM call is made (on AWS
/// the one `GetParameters` call is the same for every design). Every AWS endpoint is a closed
/// local port: a start that calls AWS fails its run instead of waiting on the network.
pub fn environment(target: &Target, runtime_api: &str) -> Vec<(String, String)> {
    let pairs = [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api),
        ("AWS_LAMBDA_FUNCTION_NAME", "bench"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/02/[$LATEST]bench"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("_HANDLER", target.handler),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "ASIABENCHBENCHBENCH0"),
        ("AWS_SECRET_ACCESS_KEY", "bench-secret-access-key"),
        ("AWS_SESSION_TOKEN", "bench-session-token"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_MAX_ATTEMPTS", "1"),
        ("STACK_NAME", "bench"),
        ("TABLE_NAME", "bench-state"),
        ("BUCKET_NAME", "bench-files"),
        // A closed local port, not a host name: the machine has no network, and a name lookup
        // that fails slowly would be measured as the scheduled run's start.
        ("KUSTOMER_BASE_URL", "http://127.0.0.1:9"),
        ("CCAI_BASE_URL", "http://127.0.0.1:9"),
        ("CCAI_SUBDOMAIN", "bench"),
        ("DEFAULT_COUNTRY", "US"),
        ("EXTERNAL_STORAGE_BUCKET", "bench-tenant"),
        ("KUSTOMER_API_KEY", "bench-kustomer-key"),
        ("CCAI_API_TOKEN", "bench-ccai-token"),
        ("CCAI_EVENTS_CREDENTIALS", "ccai:bench-password"),
        (
            "RECORDING_QUEUE_URL",
            "http://127.0.0.1:9/000000000000/bench-recording",
        ),
        (
            "TRANSCRIPT_QUEUE_URL",
            "http://127.0.0.1:9/000000000000/bench-transcript",
        ),
        ("ADMIN_TOKEN", "bench-admin-token-0123456789"),
        ("PATH", "/usr/bin:/bin"),
    ];
    let mut env: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // The stored batch writes to DynamoDB Local's table (with-services), all else as above.
    if matches!(target.event, crate::emulator::Event::EseBatch) {
        for name in [
            "AWS_ENDPOINT_URL_DYNAMODB",
            "TABLE_NAME",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            // DynamoDB Local keeps a table per access key and region.
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
        ] {
            if let Ok(value) = std::env::var(name) {
                env.retain(|(k, _)| k != name);
                env.push((name.to_owned(), value));
            }
        }
        env.retain(|(k, _)| k != "AWS_SESSION_TOKEN");
    }
    env
}

/// The binary deflated as a Lambda zip holds it (level 6, as cargo-lambda writes).
pub fn deflated_size(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
    encoder.write_all(&bytes).unwrap();
    encoder.finish().unwrap().len() as u64
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0 / 1024.0
}

pub fn table(measured: &[Measured], starts: usize, warm: usize) -> String {
    let floor = &measured[0];
    let floor_init = ms(floor.median(|r| r.init));
    let floor_rss = floor.median_rss_kib() as f64;
    let mut out = format!(
        "Medians of {starts} starts, {warm} warm invocations each; ratios to `{}` of the same run.\n\n\
         | function | binary | deflated | init | × floor | first | warm | peak RSS | × floor |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        floor.target.label
    );
    for m in measured {
        let init = ms(m.median(|r| r.init));
        let rss = m.median_rss_kib() as f64;
        out.push_str(&format!(
            "| {} | {:.2} MiB | {:.2} MiB | {:.2} ms | {:.2} | {:.2} ms | {:.3} ms | {:.1} MiB | {:.2} |\n",
            m.target.label,
            mib(m.size),
            mib(m.deflated),
            init,
            init / floor_init,
            ms(m.median(|r| r.first)),
            ms(m.median(|r| r.warm)),
            rss / 1024.0,
            rss / floor_rss,
        ));
    }
    out
}

pub fn json(measured: &[Measured]) -> serde_json::Value {
    serde_json::Value::Array(
        measured
            .iter()
            .map(|m| {
                serde_json::json!({
                    "label": m.target.label,
                    "handler": m.target.handler,
                    "http": m.target.http,
                    "binary_bytes": m.size,
                    "deflated_bytes": m.deflated,
                    "init_ms": m.runs.iter().map(|r| ms(r.init)).collect::<Vec<_>>(),
                    "first_ms": m.runs.iter().map(|r| ms(r.first)).collect::<Vec<_>>(),
                    "warm_ms": m.runs.iter().map(|r| ms(r.warm)).collect::<Vec<_>>(),
                    "peak_rss_kib": m.runs.iter().map(|r| r.peak_rss_kib).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}
