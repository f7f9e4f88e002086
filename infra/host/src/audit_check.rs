//! The sessions' audit held against the sandboxes' request logs (issue 29): a timeline is
//! complete when every write the platforms received for its session is on it, once. The demo
//! checks its sessions this way; the admin console's browser test checks one call.

use crate::functions::DEMO_ADMIN_TOKEN;
use bridge_tests::ccai_sandbox::Played;
use serde_json::Value;

/// A write as both sides name it: (platform, method, path).
pub use bridge_tests::platforms::Write;

/// Each played session's timeline, as the admin API answers it (`call 123` → its entries).
pub async fn timelines(
    http: &reqwest::Client,
    bridge: &str,
    played: &[Played],
) -> Result<Vec<(String, Vec<Value>)>, String> {
    let mut timelines = Vec::new();
    for session in played {
        let kind = if session.kind == "call" {
            "call"
        } else {
            "chat"
        };
        let url = format!("{bridge}/admin/sessions/{kind}/{}", session.session_id);
        let report: Value = http
            .get(&url)
            .bearer_auth(DEMO_ADMIN_TOKEN)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let entries = report["timeline"].as_array().cloned().unwrap_or_default();
        timelines.push((format!("{kind} {}", session.session_id), entries));
    }
    Ok(timelines)
}

/// Every write on the timelines to the platforms' APIs, sorted.
pub fn audited_writes(timelines: &[(String, Vec<Value>)]) -> Vec<Write> {
    let mut writes: Vec<Write> = timelines
        .iter()
        .flat_map(|(_, entries)| entries)
        .flat_map(|e| e["writes"].as_array().cloned().unwrap_or_default())
        .filter(|w| w["platform"] == "kustomer" || w["platform"] == "ccai")
        .map(|w| {
            let text = |field: &str| w[field].as_str().unwrap_or_default().to_owned();
            (text("platform"), text("method"), text("path"))
        })
        .collect();
    writes.sort();
    writes
}
