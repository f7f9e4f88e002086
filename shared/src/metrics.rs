//! CloudWatch metrics from the functions, in the embedded metric format (EMF): one JSON line on
//! stdout per count, which Lambda's log pipeline turns into a metric in the `CcaiKustomerBridge`
//! namespace with the stack's name as its dimension (`STACK_NAME`, set by the template). No API
//! call, no latency; outside Lambda (tests, the local host) nothing is printed.
//!
//! Counted: `EventsIn` (session events stored by the intake), `SessionsApplied` (reconcile
//! passes that changed Kustomer), `Retried` and `DeadLettered` (R-E-7), `FilesStored`
//! (recordings, transcripts, media attached), `KustomerRateLimited` and `CcaiRateLimited`
//! (429s answered), `PacingWaits` (requests that waited for their shared-pacing slot).

use serde_json::json;
use std::sync::OnceLock;

pub const NAMESPACE: &str = "CcaiKustomerBridge";

/// The stack's name when running on Lambda, else `None` (no metrics).
fn stack() -> Option<&'static str> {
    static STACK: OnceLock<Option<String>> = OnceLock::new();
    STACK
        .get_or_init(|| {
            std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok()?;
            std::env::var("STACK_NAME").ok().filter(|s| !s.is_empty())
        })
        .as_deref()
}

/// The EMF line for `value` of `name` at `timestamp_ms`.
pub fn line(stack: &str, name: &str, value: f64, timestamp_ms: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Stack"]],
                "Metrics": [{"Name": name, "Unit": "Count"}],
            }],
        },
        "Stack": stack,
        name: value,
    })
    .to_string()
}

/// Counts `value` of `name` (on Lambda; a no-op elsewhere).
pub fn count(name: &str, value: u64) {
    if value == 0 {
        return;
    }
    if let Some(stack) = stack() {
        println!(
            "{}",
            line(stack, name, value as f64, crate::UnixMillis::now().0)
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_emf_line_names_its_metric_namespace_and_dimension() {
        let line: serde_json::Value = serde_json::from_str(&super::line(
            "bridge",
            "DeadLettered",
            2.0,
            1_700_000_000_000,
        ))
        .unwrap_or_default();
        assert_eq!(line["DeadLettered"], 2.0);
        assert_eq!(line["Stack"], "bridge");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], super::NAMESPACE);
        assert_eq!(directive["Dimensions"][0][0], "Stack");
        assert_eq!(directive["Metrics"][0]["Name"], "DeadLettered");
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000_i64);
    }
}
