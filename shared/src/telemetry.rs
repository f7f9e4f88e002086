//! Logs: `tracing` with JSON output on Lambda, a correlation id per event, and every line passed
//! through [`crate::redact::redact`] before it is written.
//!
//! Level: `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default `info`). Format: JSON when
//! `AWS_LAMBDA_LOG_FORMAT=JSON` or when running on Lambda; readable text otherwise.

use crate::redact::redact;
use std::io::{self, Write};
use tracing::Span;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, current span fields flattened in (CloudWatch Logs Insights).
    Json,
    /// Human-readable lines for a terminal.
    Pretty,
}

impl LogFormat {
    /// JSON on Lambda or when asked for with `AWS_LAMBDA_LOG_FORMAT=JSON`.
    pub fn from_env() -> Self {
        let asked = std::env::var("AWS_LAMBDA_LOG_FORMAT").unwrap_or_default();
        if asked.eq_ignore_ascii_case("json")
            || (asked.is_empty() && std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some())
        {
            LogFormat::Json
        } else {
            LogFormat::Pretty
        }
    }
}

/// Installs the global subscriber writing to stdout. Call once, first thing in `main`.
/// A second call (e.g. from tests) leaves the first subscriber in place.
pub fn init(format: LogFormat) {
    init_with_writer(format, io::stdout);
}

/// Installs the global subscriber writing through `writer` (tests capture lines this way).
pub fn init_with_writer<W>(format: LogFormat, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter())
        .with_writer(Redacting(writer));
    let _already_set = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.with_target(false).try_init(),
    };
}

fn env_filter() -> EnvFilter {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    EnvFilter::try_new(level.to_ascii_lowercase()).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The span every event's work runs in: its fields appear on every line logged inside it.
pub fn event_span(correlation_id: &str) -> Span {
    tracing::info_span!("event", correlation_id = %correlation_id)
}

/// The correlation id for an event: the caller's own (an event id, an `x-correlation-id`
/// header, the Lambda request id) when it has a usable one, else a fresh UUID. Whatever comes
/// in is cut to 128 characters of `[A-Za-z0-9._:-]` so a hostile header cannot forge log lines.
pub fn correlation_id(candidate: Option<&str>) -> String {
    let cleaned: String = candidate
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))
        .take(128)
        .collect();
    if cleaned.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        cleaned
    }
}

/// Wraps a [`MakeWriter`] so that every formatted line is redacted before it is written.
struct Redacting<W>(W);

impl<'a, W: MakeWriter<'a>> MakeWriter<'a> for Redacting<W> {
    type Writer = RedactingWriter<W::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(self.0.make_writer())
    }
}

/// The formatter hands over each event as one buffer, so a line is redacted whole.
pub struct RedactingWriter<W>(W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn r_o_2_json_lines_carry_the_correlation_id_and_no_personal_data() {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(Redacting(capture.clone()))
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = event_span("evt-42");
            let _entered = span.enter();
            tracing::info!(
                phone = "+15550104477",
                email = "ana@example.com",
                authorization = "Bearer abc.def",
                "caller +1 555 010 4477 wrote from ana@example.com"
            );
        });
        let written = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(written.trim()).unwrap();
        assert_eq!(line["span"]["correlation_id"], "evt-42");
        for leaked in ["5550104477", "555 010", "ana@example.com", "abc.def"] {
            assert!(!written.contains(leaked), "{leaked} leaked into {written}");
        }
        assert_eq!(line["phone"], "[phone]");
        assert_eq!(line["email"], "[email]");
    }

    #[test]
    fn correlation_ids_are_kept_when_usable_and_cleaned_when_hostile() {
        assert_eq!(correlation_id(Some("0b7f3c1e-aa11")), "0b7f3c1e-aa11");
        assert_eq!(correlation_id(Some("a\nb\"c")), "abc");
        let fresh = correlation_id(Some("\n\n"));
        assert!(uuid::Uuid::parse_str(&fresh).is_ok());
    }
}
