//! `bridge-local demo`: plays the demo scenarios and writes `demo-report.html`.
//!
//! Embedded store and files under `.local/demo-files` by default; DynamoDB Local and the S3
//! stand-in when their endpoints are set (`infra/local/with-services cargo run -p bridge-local
//! -- demo`).

use bridge_local::backends::Backends;
use bridge_shared::telemetry::{self, LogFormat};
use std::path::PathBuf;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let format = if std::env::args().any(|a| a == "--json") {
        LogFormat::Json
    } else {
        LogFormat::Pretty
    };
    telemetry::init(format);
    let command = std::env::args().nth(1).unwrap_or_default();
    if command != "demo" {
        eprintln!("usage: bridge-local demo [--json]");
        return ExitCode::from(2);
    }
    let backends = match Backends::from_env(PathBuf::from(".local/demo-files")).await {
        Ok(backends) => backends,
        Err(err) => {
            eprintln!("demo: cannot set up the stores: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut step = 0;
    let report = bridge_local::demo::run(&backends, &mut |name| {
        step += 1;
        eprintln!("[{step}/5] {name} …");
    })
    .await;
    println!("{}", report.to_text());
    match std::fs::write("demo-report.html", report.to_html()) {
        Ok(()) => println!("report written to demo-report.html"),
        Err(err) => eprintln!("demo: could not write demo-report.html: {err}"),
    }
    if report.failures() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
