//! Serves a CCAI Platform sandbox until interrupted; optionally plays every scenario, pushing
//! External Session Events (HTTP Basic) to a URL.
//!
//!   cargo run -p bridge-tests --bin ccai-sandbox -- [--port 8282]
//!       [--play-to http://127.0.0.1:9000/bridge/webhooks/ccai --credentials user:password]
//!       [--files ./tenant-storage [--push-to http://127.0.0.1:9000/bridge/webhooks/storage]]
//!
//! With `--files`, each ended session's files are written under that folder (`ccai-exports/…`)
//! as the platform writes them into external storage; with `--push-to`, each object's
//! notification is pushed there, signed by the key served at `/oauth2/v3/certs` (the audience
//! is the push URL, the service account `ccai-storage-push@tenant-project.iam.gserviceaccount.com`).

use bridge_tests::ccai_sandbox::{
    CcaiSandbox, CcaiSandboxOptions, EventSink, ExportTarget, PushTarget, ScenarioDriver,
};

fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = flag("--port").unwrap_or_else(|| "8282".into());
    let options = CcaiSandboxOptions {
        external_storage: flag("--files").map(|f| ExportTarget::Folder(f.into())),
        push: flag("--push-to").map(|url| PushTarget::to(&url)),
        publish_every: Some(std::time::Duration::from_secs(2)),
        ..CcaiSandboxOptions::default()
    };
    let sandbox = CcaiSandbox::start_on(&format!("127.0.0.1:{port}"), options).await?;
    let options = sandbox.options();
    let ana = sandbox.change(|w| w.add_agent("ana@example.com", "Ana", "Available"));
    let bo = sandbox.change(|w| w.add_agent("bo@example.com", "Bo", "Available"));
    println!(
        "CCAI sandbox on {} (Basic {}:{}; agents ana@example.com={ana}, bo@example.com={bo})",
        sandbox.base_url, options.subdomain, options.api_token
    );
    if let Some(url) = flag("--play-to") {
        let credentials =
            flag("--credentials").unwrap_or_else(|| "ccai-events:local-events-password".into());
        let (user, password) = credentials
            .split_once(':')
            .unwrap_or((credentials.as_str(), ""));
        let driver = ScenarioDriver::new(&sandbox, Some(EventSink::new(&url, user, password)));
        let phone = "+15550104477";
        let played = [
            driver.ivr_call_answered(ana, phone).await,
            driver.sdk_call(ana, "app-user-1").await,
            driver.abandoned_call(phone).await,
            driver.voicemail(phone, Some("read")).await,
            driver.transfer(ana, bo, phone).await,
            driver.outbound_call(ana, phone, false, None).await,
            driver
                .chat_with_transcript(ana, "web-user-1", &[("end_user", "Hi"), ("agent", "Hello")])
                .await,
        ];
        for session in &played {
            println!(
                "played {} {}: {}",
                session.kind,
                session.session_id,
                session.types().join(", ")
            );
        }
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}
