//! Cold start, size and memory of every function, beside a `lambda_http` hello world built with
//! the same profile, under a minimal Lambda Runtime API emulator (`emulator.rs`).
//!
//! Each start: spawn the binary with `AWS_LAMBDA_RUNTIME_API` pointing at a fresh emulator;
//! **init** is spawn → its first `GET /runtime/invocation/next`; the emulator hands it the
//! function's event (an API Gateway REST API request without credentials for the HTTP functions, an
//! empty stream batch for the workers, a scheduled event for reconcile); **first** is that
//! hand-over → the posted answer; then `--warm` more of the same (**warm**, their median);
//! **peak RSS** is the child's `VmHWM` after the last answer. Medians over `--starts` starts.
//!
//!   bench/coldstart/run [STARTS=15] [--compare DIR]
//!   coldstart --dir target/release [--starts 15] [--warm 20] [--out bench/results] [--compare DIR]
//!   coldstart --dir target/release --instructions [--out bench/results]   (init under callgrind)
//!
//! The functions are their own binaries (`bridge-intake`, …) in `--dir`. `--compare DIR` also
//! measures the one `bridge` binary of an older build (every function, chosen by `_HANDLER`)
//! found in DIR, in the same run.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod emulator;
mod instructions;
mod plot;
mod report;

use emulator::{Event, Run};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One thing to start: a binary, the handler it is told to be, the event it gets.
#[derive(Clone)]
pub struct Target {
    pub label: String,
    pub binary: PathBuf,
    pub handler: &'static str,
    pub event: Event,
    /// HTTP functions (the ≤ 1.5× and ≤ 32 MiB targets are theirs).
    pub http: bool,
}

pub struct Measured {
    pub target: Target,
    pub size: u64,
    pub deflated: u64,
    pub runs: Vec<Run>,
}

impl Measured {
    pub fn median(&self, pick: impl Fn(&Run) -> Duration) -> Duration {
        let mut values: Vec<Duration> = self.runs.iter().map(pick).collect();
        values.sort();
        values[values.len() / 2]
    }

    pub fn median_rss_kib(&self) -> u64 {
        let mut values: Vec<u64> = self.runs.iter().map(|r| r.peak_rss_kib).collect();
        values.sort();
        values[values.len() / 2]
    }
}

/// The bridge's functions: the handler names `template.yaml` gives (`Handler:`), the event each
/// is measured with.
fn functions(binary: &Path) -> Vec<Target> {
    let http =
        |label: &str, handler: &'static str, method: &'static str, path: &'static str| Target {
            label: label.into(),
            binary: binary.into(),
            handler,
            event: Event::Http { method, path },
            http: true,
        };
    let worker = |label: &str, handler: &'static str, event: Event| Target {
        label: label.into(),
        binary: binary.into(),
        handler,
        event,
        http: false,
    };
    vec![
        http("intake", "intake", "POST", "/webhooks/ccai"),
        http("status", "status", "POST", "/agents/instances"),
        http("admin", "admin", "GET", "/admin/agents"),
        worker("sync", "sync", Event::EmptyStreamBatch),
        // An empty batch reads the same in a stream's and a queue's shape (`Records`).
        worker("recording", "recording", Event::EmptyStreamBatch),
        worker("transcript", "transcript", Event::EmptyStreamBatch),
        worker("reconcile", "reconcile", Event::Scheduled),
    ]
}

fn arg_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(arg_value(&args, "--dir").unwrap_or_else(|| "target/release".into()));
    let starts: usize = arg_value(&args, "--starts").map_or(15, |v| v.parse().unwrap());
    let warm: usize = arg_value(&args, "--warm").map_or(20, |v| v.parse().unwrap());
    let out = PathBuf::from(arg_value(&args, "--out").unwrap_or_else(|| "bench/results".into()));
    std::fs::create_dir_all(&out).unwrap();

    let hello = Target {
        label: "hello world".into(),
        binary: dir.join("hello-lambda"),
        handler: "hello",
        event: Event::Http {
            method: "POST",
            path: "/webhooks/ccai",
        },
        http: true,
    };
    let mut targets = vec![hello];
    // Each function's own binary (`bridge-<function>`), as template.yaml deploys it.
    for mut target in functions(Path::new("")) {
        let binary = dir.join(format!("bridge-{}", target.handler));
        if binary.exists() {
            target.binary = binary;
            targets.push(target);
        }
    }
    // Under infra/local/with-services: the intake's answer with its durable write (issue 27,
    // events.md §1: p99 < 100 ms), five events stored in DynamoDB Local per invocation.
    if std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok() && dir.join("bridge-intake").exists() {
        targets.push(Target {
            label: "intake, 5 events stored".into(),
            binary: dir.join("bridge-intake"),
            handler: "intake",
            event: Event::EseBatch,
            http: true,
        });
    }
    // An older build to set beside it: the one `bridge` binary dispatching on `_HANDLER`.
    if let Some(compare) = arg_value(&args, "--compare") {
        let one = Path::new(&compare).join("bridge");
        if one.exists() {
            for mut target in functions(&one) {
                target.label = format!("{} (one binary for all)", target.label);
                targets.push(target);
            }
        }
    }

    if args.iter().any(|a| a == "--instructions") {
        let keep = arg_value(&args, "--callgrind-out").map(PathBuf::from);
        let counted: Vec<(String, u64)> = targets
            .iter()
            .filter(|t| !matches!(t.event, Event::EseBatch))
            .map(|t| {
                let n = instructions::count(t, keep.as_deref())
                    .unwrap_or_else(|| panic!("{}: no count from valgrind", t.label));
                eprintln!("coldstart: {:<34} init {n:>12} instructions", t.label);
                (t.label.clone(), n)
            })
            .collect();
        let table = instructions::table(&counted);
        println!("{table}");
        std::fs::write(out.join("coldstart-instructions.md"), &table).unwrap();
        return;
    }

    let mut measured = Vec::new();
    for target in targets {
        let size = std::fs::metadata(&target.binary)
            .unwrap_or_else(|e| panic!("{}: {e}", target.binary.display()))
            .len();
        let deflated = report::deflated_size(&target.binary);
        // One unmeasured start first: every target is then measured with its pages in the page
        // cache alike (a Lambda sandbox's start reads them from its own extracted zip).
        emulator::start(&target, 0).await.expect("warm-up start");
        let mut runs = Vec::new();
        for _ in 0..starts {
            match emulator::start(&target, warm).await {
                Ok(run) => runs.push(run),
                Err(error) => panic!("{}: {error}", target.label),
            }
        }
        let measured_target = Measured {
            target,
            size,
            deflated,
            runs,
        };
        eprintln!(
            "coldstart: {:<34} init {:>7.2} ms",
            measured_target.target.label,
            emulator::ms(measured_target.median(|r| r.init))
        );
        measured.push(measured_target);
    }
    let table = report::table(&measured, starts, warm);
    println!("{table}");
    std::fs::write(out.join("coldstart.md"), &table).unwrap();
    std::fs::write(
        out.join("coldstart.json"),
        report::json(&measured).to_string(),
    )
    .unwrap();
    plot::init_chart(&measured, &out.join("coldstart-init.svg"));
    eprintln!(
        "coldstart: wrote {}/coldstart.{{md,json}} and coldstart-init.svg",
        out.display()
    );
}
