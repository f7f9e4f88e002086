//! The fuzz targets (issue 25, R-SEC-4): every parser of input from outside the bridge, one
//! function each taking the raw bytes. A target panics only on a bug — a parser that panics,
//! or a refusal without a message — so `cargo fuzz` (the project in `fuzz/`, libFuzzer) and the bounded
//! property run in the test command (`tests/bounded.rs`, proptest) drive the same code.
//!
//! What "a clear error" means is checked here, not just "no panic": every refusal carries a
//! message, and a refused ESE event names its field.

use bridge_shared::UnixMillis;
use std::sync::{Arc, OnceLock};

pub mod targets;

/// A target: the raw input, as it arrives.
pub type Target = fn(&[u8]);

/// Every target, by the name its corpus folder (`fuzz/corpus/<name>`) and its cargo-fuzz
/// binary (`fuzz/fuzz_targets/<name>.rs`) have.
pub const TARGETS: &[(&str, Target)] = &[
    ("ese_batch", targets::ese_batch),
    ("ese_webhook", targets::ese_webhook),
    ("storage_push", targets::storage_push),
    ("push_token", targets::push_token),
    ("object_name", targets::object_name),
    ("transcript_file", targets::transcript_file),
    ("metadata_file", targets::metadata_file),
    ("ccai_answer", targets::ccai_answer),
    ("kustomer_answer", targets::kustomer_answer),
    ("admin_body", targets::admin_body),
    ("auth_header", targets::auth_header),
    ("widget_body", targets::widget_body),
    ("admin_route", targets::admin_route),
];

/// One current-thread runtime per process for the async targets (a runtime per input would
/// be most of the time spent).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(err) => panic!("no runtime for the async targets: {err}"),
        }
    })
}

/// The intake as deployed, on the in-process store (no I/O leaves the process).
fn intake() -> &'static bridge_intake::IntakeApi {
    static API: OnceLock<bridge_intake::IntakeApi> = OnceLock::new();
    API.get_or_init(|| bridge_intake::IntakeApi {
        store: Arc::new(bridge_shared::store::EmbeddedStore::new()),
        credentials: vec![bridge_shared::config::BasicCredential {
            user: "calls".into(),
            password: bridge_shared::config::Secret::new("call-pass"),
        }],
        storage_push: None,
    })
}

fn now() -> UnixMillis {
    UnixMillis(1_764_669_600_000)
}
