//! Headless Chromium over WebDriver for the browser tests (the widget, the admin console):
//! Debian's `chromium` and `chromedriver`, each run in a process group of its own and ended
//! with it, whatever state the test ends in.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // test code

use fantoccini::{Client, ClientBuilder};
use serde_json::json;
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WAIT: Duration = Duration::from_secs(25);

pub struct Driver {
    pub client: Client,
    _chromedriver: std::process::Child,
    profile: std::path::PathBuf,
}

pub async fn browser(window_size: &str) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Its own process group: Chromium and its helpers are chromedriver's children, and killing
    // chromedriver alone leaves them running (they are ended with the group, see `Drop`).
    use std::os::unix::process::CommandExt;
    let chromedriver = std::process::Command::new(CHROMEDRIVER)
        .process_group(0)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < WAIT, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let profile =
        std::env::temp_dir().join(format!("bridge-chromium-{}", uuid::Uuid::new_v4().simple()));
    // The flags this machine needs (its closed network refuses Chromium's own connections).
    let capabilities = json!({"goog:chromeOptions": {"binary": CHROMIUM, "args": [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        format!("--window-size={window_size}"), format!("--user-data-dir={}", profile.display())]}});
    // fantoccini's TLS stack brings aws-lc beside the ring the project uses, so rustls cannot
    // pick a process default by itself (plain HTTP to chromedriver needs none, but the builder
    // asks); name ring, as the bridge does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = ClientBuilder::rustls()
        .unwrap()
        .capabilities(capabilities.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
    Driver {
        client,
        _chromedriver: chromedriver,
        profile,
    }
}

impl Drop for Driver {
    /// Runs when the test ends, passed or failed (a panic unwinds through it): the browser,
    /// its helpers and chromedriver all end, whatever state the session is in.
    fn drop(&mut self) {
        let group = format!("-{}", self._chromedriver.id());
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &group])
            .status();
        // A helper that left the group still carries the test's own profile directory.
        let _ = std::process::Command::new("pkill")
            .args(["-KILL", "-f"])
            .arg(format!("user-data-dir={}", self.profile.display()))
            .status();
        let _ = self._chromedriver.kill();
        let _ = self._chromedriver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

pub fn available() -> bool {
    let found =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    assert!(
        found || std::env::var_os("REQUIRE_BROWSER").is_none(),
        "REQUIRE_BROWSER is set but {CHROMIUM} or {CHROMEDRIVER} is missing"
    );
    if !found {
        eprintln!(
            "skipped: {CHROMIUM} or {CHROMEDRIVER} missing (infra/local/install installs them)"
        );
    }
    found
}
