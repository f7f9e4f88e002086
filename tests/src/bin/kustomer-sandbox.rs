//! Serves a Kustomer sandbox until interrupted.
//!
//!   cargo run -p bridge-tests --bin kustomer-sandbox -- [--port 8181] [--api-key KEY]
//!       [--s3-endpoint URL --s3-bucket NAME] [--org-budget N]
//!
//! `GET /__sandbox/state` shows everything it holds.

use bridge_tests::kustomer_sandbox::{KustomerSandbox, SandboxOptions, UploadTarget};

fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut options = SandboxOptions::default();
    if let Some(key) = flag("--api-key") {
        options.api_key = key;
    }
    if let (Some(endpoint), Some(bucket)) = (flag("--s3-endpoint"), flag("--s3-bucket")) {
        options.upload_target = UploadTarget::S3 { endpoint, bucket };
    }
    options.org_budget = flag("--org-budget").and_then(|n| n.parse().ok());
    let port = flag("--port").unwrap_or_else(|| "8181".into());
    let sandbox = KustomerSandbox::start_on(&format!("127.0.0.1:{port}"), options).await?;
    println!(
        "Kustomer sandbox on {} (API key {})",
        sandbox.base_url,
        sandbox.api_key()
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
