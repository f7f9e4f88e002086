//! What the bridge costs on AWS per session, from operations *measured* by the other benchmarks
//! (`bench/results/sync-worker.json`: store reads and writes, Kustomer and CCAI requests per
//! session; `bench/results/coldstart.json`: each function's peak memory) and AWS's published
//! prices, beside one small container running all month. Writes `bench/results/cost.md` and
//! `cost-per-session.svg`.
//!
//!   bench/run cost      (after `bench/run sync-worker` and `bench/coldstart/run`)
//!
//! The model (every figure below is an input, printed with the result):
//! - Lambda bills memory × duration. A worker's duration is dominated by waiting on the
//!   platforms, so it is modelled as its measured requests × a round trip (`PLATFORM_MS`) plus
//!   its measured store operations × `STORE_MS`, not timed on loopback.
//! - Per session: one intake invocation per session event (CCAI may batch; one each is the
//!   upper bound), one inbox-worker invocation per event (a stream batch of one, the low-volume
//!   case), one files invocation; the recording (`RECORDING_MB`) stored once, read once, sent
//!   to Kustomer once (data transfer out), kept `FILE_RETENTION_DAYS`.
//! - Each month, whatever the volume: the scheduled reconcile every 60 s (one CCAI list call and
//!   two store operations) and the template's three alarms.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use bench_plot::Line;
use serde_json::Value;
use std::fmt::Write;

// Prices, US East (N. Virginia), as published on 2026-12-02:
// aws.amazon.com/lambda/pricing (Arm), /api-gateway/pricing (REST APIs, first 333 M),
// /waf/pricing (web ACL, rule, requests),
// /dynamodb/pricing/on-demand (after the November 2024 reduction), /s3/pricing (Standard, first
// 50 TB; data transfer out, first 10 TB), /cloudwatch/pricing (standard alarm),
// /fargate/pricing (Linux/ARM), /elasticloadbalancing/pricing (ALB hour, LCUs left out).
const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
const REST_API_REQUEST: f64 = 3.50 / 1e6;
const WAF_REQUEST: f64 = 0.60 / 1e6;
/// The web ACL and its two rate-based rules (review S6; off when a per-address limit is 0).
const WAF_MONTH: f64 = 5.0 + 2.0 * 1.0;
const DYNAMO_WRITE_UNIT: f64 = 0.625 / 1e6;
const DYNAMO_READ_UNIT: f64 = 0.125 / 1e6;
const S3_PUT: f64 = 0.005 / 1e3;
const S3_GET: f64 = 0.0004 / 1e3;
const S3_GB_MONTH: f64 = 0.023;
const TRANSFER_OUT_GB: f64 = 0.09;
const ALARM_MONTH: f64 = 0.10;
const FARGATE_VCPU_HOUR: f64 = 0.032_38;
const FARGATE_GB_HOUR: f64 = 0.003_56;
const ALB_HOUR: f64 = 0.022_5;
const HOURS_PER_MONTH: f64 = 730.0;

// Assumptions (not measured here; change them and rerun).
const PLATFORM_MS: f64 = 120.0;
const STORE_MS: f64 = 5.0;
const RECORDING_MB: f64 = 4.0;
const FILE_RETENTION_DAYS: f64 = 30.0;
/// The files worker's Kustomer requests for one recording (attachment, upload, note).
const FILES_KUSTOMER_REQUESTS: f64 = 3.0;
/// `template.yaml`: HTTP functions at 128 MB, the inbox worker and reconcile at 256 MB, the
/// files worker at 512 MB.
const HTTP_MEMORY_GB: f64 = 0.125;
const WORKER_MEMORY_GB: f64 = 0.25;
const FILES_MEMORY_GB: f64 = 0.5;

struct Breakdown {
    lambda_compute: f64,
    lambda_requests: f64,
    api: f64,
    dynamo: f64,
    s3: f64,
    transfer: f64,
}

impl Breakdown {
    fn total(&self) -> f64 {
        self.lambda_compute
            + self.lambda_requests
            + self.api
            + self.dynamo
            + self.s3
            + self.transfer
    }
    /// What a container running the same code would pay too (state, files, transfer).
    fn shared(&self) -> f64 {
        self.dynamo + self.s3 + self.transfer
    }
}

fn per_session(measured: &Value) -> Breakdown {
    let get = |key: &str| measured[key].as_f64().expect(key);
    let events = get("events_per_session");
    let reads = get("store_reads_per_session");
    let writes = get("store_writes_per_session");
    let platform_requests = get("kustomer_requests_per_session") + get("ccai_requests_per_session");

    let intake_seconds = events * (STORE_MS / 1000.0);
    let sync_seconds = (platform_requests * PLATFORM_MS + (reads + writes) * STORE_MS) / 1000.0;
    let recording_gb = RECORDING_MB / 1024.0;
    let files_seconds =
        (FILES_KUSTOMER_REQUESTS * PLATFORM_MS + 3.0 * STORE_MS) / 1000.0 + RECORDING_MB / 50.0; // 50 MB/s through the function
    Breakdown {
        lambda_compute: (intake_seconds * HTTP_MEMORY_GB
            + sync_seconds * WORKER_MEMORY_GB
            + files_seconds * FILES_MEMORY_GB)
            * LAMBDA_GB_SECOND,
        lambda_requests: (events + events + 1.0) * LAMBDA_REQUEST,
        api: events * (REST_API_REQUEST + WAF_REQUEST),
        // Items under 1 KB written, under 4 KB read strongly: one unit each; the intake's
        // conditional put of each event is one more write.
        dynamo: (writes + events) * DYNAMO_WRITE_UNIT + reads * DYNAMO_READ_UNIT,
        s3: S3_PUT + S3_GET + recording_gb * S3_GB_MONTH * FILE_RETENTION_DAYS / 30.0,
        transfer: recording_gb * TRANSFER_OUT_GB,
    }
}

/// The month's fixed cost on Lambda: the reconcile schedule, the alarms and the web ACL.
fn lambda_fixed_month() -> f64 {
    let runs = 30.0 * 24.0 * 60.0;
    let seconds = (PLATFORM_MS + 2.0 * STORE_MS) / 1000.0;
    runs * (seconds * WORKER_MEMORY_GB * LAMBDA_GB_SECOND + LAMBDA_REQUEST)
        + runs * 2.0 * DYNAMO_READ_UNIT
        + 3.0 * ALARM_MONTH
        + WAF_MONTH
}

/// The smallest Fargate task (0.25 vCPU, 0.5 GB) all month, with and without a load balancer
/// in front (the webhooks need HTTPS).
fn container_month(with_balancer: bool) -> f64 {
    HOURS_PER_MONTH * (0.25 * FARGATE_VCPU_HOUR + 0.5 * FARGATE_GB_HOUR)
        + if with_balancer {
            HOURS_PER_MONTH * ALB_HOUR
        } else {
            0.0
        }
}

fn main() {
    let sync: Value = serde_json::from_str(
        &std::fs::read_to_string("bench/results/sync-worker.json")
            .expect("bench/results/sync-worker.json: run bench/run sync-worker first"),
    )
    .unwrap();
    let session = per_session(&sync["no_fields"]);
    let fixed = lambda_fixed_month();
    let container = container_month(true);
    let container_bare = container_month(false);

    let mut out = String::new();
    writeln!(
        out,
        "Measured per session (`bench/run sync-worker {}`, no custom fields): {} — assumptions: \
         platform round trip {PLATFORM_MS} ms, store operation {STORE_MS} ms, recording \
         {RECORDING_MB} MB kept {FILE_RETENTION_DAYS} days.\n",
        sync["sessions"], sync["no_fields"]
    )
    .unwrap();
    writeln!(out, "Cost of 10 000 sessions (USD, us-east-1):\n").unwrap();
    writeln!(out, "| part | per 10 000 sessions |\n|---|---|").unwrap();
    for (name, value) in [
        ("Lambda compute (GB-s)", session.lambda_compute),
        ("Lambda requests", session.lambda_requests),
        ("API Gateway REST API and AWS WAF", session.api),
        ("DynamoDB on-demand", session.dynamo),
        ("S3 (requests, storage)", session.s3),
        (
            "data transfer out (recordings to Kustomer)",
            session.transfer,
        ),
    ] {
        writeln!(out, "| {name} | ${:.4} |", value * 10_000.0).unwrap();
    }
    writeln!(
        out,
        "| **total** | **${:.4}** |\n| Lambda's fixed month (reconcile every 60 s, 3 alarms, the web ACL) | ${fixed:.4} |\n| a container all month (0.25 vCPU, 0.5 GB Fargate ARM; + ALB) | ${container_bare:.2}; ${container:.2} |\n",
        session.total() * 10_000.0
    )
    .unwrap();

    writeln!(
        out,
        "Cost per session by monthly volume:\n\n| sessions / month | Lambda | container + ALB (same state and files) | Lambda GB-s per session |\n|---|---|---|---|"
    )
    .unwrap();
    let volumes = [10.0, 30.0, 100.0, 300.0, 1_000.0, 3_000.0, 10_000.0];
    let mut lambda_line = Vec::new();
    let mut container_line = Vec::new();
    for n in volumes {
        let lambda = session.total() + fixed / n;
        let boxed = session.shared() + container / n;
        lambda_line.push((n, lambda));
        container_line.push((n, boxed));
        writeln!(
            out,
            "| {n} | ${lambda:.5} | ${boxed:.5} | {:.3} |",
            session.lambda_compute / LAMBDA_GB_SECOND
        )
        .unwrap();
    }
    println!("{out}");
    std::fs::create_dir_all("bench/results").unwrap();
    std::fs::write("bench/results/cost.md", &out).unwrap();
    bench_plot::lines(
        std::path::Path::new("bench/results/cost-per-session.svg"),
        "Cost per session (USD, log-log) by sessions a month",
        ("sessions / month", "USD per session"),
        &[
            Line {
                label: "Lambda (this stack)".into(),
                points: lambda_line,
            },
            Line {
                label: "container + ALB all month".into(),
                points: container_line,
            },
        ],
        bench_plot::Scale::LogLog,
    )
    .unwrap();
    eprintln!("cost: wrote bench/results/cost.md and cost-per-session.svg");
}
