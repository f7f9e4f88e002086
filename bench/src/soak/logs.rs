//! Every log line of a run, captured as the functions write it (JSON, through the redacting
//! writer), and searched for every phone number, e-mail, token and secret the generator knows,
//! in the spellings and encodings they could take (R-SEC-4).

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use tracing_subscriber::fmt::MakeWriter;

/// The process's log lines (install once, before the runs); also appended to the file
/// `SOAK_LOG_FILE` names, when set, to watch a run as it goes.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>, Option<Arc<Mutex<std::fs::File>>>);

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        if let Some(file) = &self.1 {
            file.lock()
                .unwrap_or_else(|p| p.into_inner())
                .write_all(buf)?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl LogCapture {
    /// Installs the capture as the process's subscriber, with the functions' own redaction.
    pub fn install() -> Self {
        let file = std::env::var("SOAK_LOG_FILE")
            .ok()
            .and_then(|path| std::fs::File::create(path).ok())
            .map(|f| Arc::new(Mutex::new(f)));
        let capture = Self(Arc::default(), file);
        bridge_shared::telemetry::init_with_writer(
            bridge_shared::telemetry::LogFormat::Json,
            capture.clone(),
        );
        capture
    }

    /// The lines the bridge wrote: the sandboxes' and the soak's own are not the bridge's.
    pub fn bridge_lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|line| {
                let target = serde_json::from_str::<serde_json::Value>(line)
                    .ok()
                    .and_then(|v| v["target"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                !target.starts_with("bridge_tests") && !target.starts_with("bridge_bench")
            })
            .map(str::to_owned)
            .collect()
    }
}

/// A secret the logs must not hold, by what it is (the report names the kind, never the value).
pub struct Secret {
    pub kind: &'static str,
    pub value: String,
}

/// Every spelling of an E.164 North-American number a log line could carry.
pub fn phone_spellings(e164: &str) -> Vec<String> {
    let digits: String = e164.chars().filter(char::is_ascii_digit).collect();
    let national = digits.strip_prefix('1').unwrap_or(&digits).to_owned();
    let mut out = vec![
        e164.to_owned(),
        digits.clone(),
        national.clone(),
        format!("%2B{digits}"),
        format!("%2b{digits}"),
        format!("\\u002b{digits}"),
    ];
    if national.len() == 10 {
        let (a, b, c) = (&national[..3], &national[3..6], &national[6..]);
        out.extend([
            format!("{a}-{b}-{c}"),
            format!("({a}) {b}-{c}"),
            format!("{a} {b} {c}"),
            format!("{a}.{b}.{c}"),
            format!("%28{a}%29%20{b}-{c}"),
            format!("{a}%20{b}%20{c}"),
            format!("{a}+{b}+{c}"),
            format!("%2B1%20{a}%20{b}%20{c}"),
            format!("+1 {a} {b} {c}"),
        ]);
    }
    out
}

pub fn email_spellings(email: &str) -> Vec<String> {
    vec![
        email.to_owned(),
        email.replace('@', "%40"),
        email.replace('@', "\\u0040"),
    ]
}

/// Each line holding a secret: (line number, kind of secret). A phone number's national digits
/// are searched for only where they are not part of a longer number (ids are long numbers).
///
/// One Aho-Corasick automaton over every secret: a 5 000-session run has millions of lines and
/// tens of thousands of spellings, which a search per secret and line could not get through.
pub fn scan(lines: &[String], secrets: &[Secret]) -> Vec<(usize, &'static str)> {
    let values: Vec<String> = secrets.iter().map(|s| s.value.to_lowercase()).collect();
    let Ok(automaton) = aho_corasick::AhoCorasick::new(&values) else {
        // Only a pattern set beyond the automaton's size limit fails; searching nothing would
        // pass a run that was not checked.
        panic!("the secrets of the run could not be compiled into one search");
    };
    let mut found = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        // Whatever the case: an upper-cased e-mail or hex escape is the same secret.
        let line = line.to_lowercase();
        let hit = automaton
            .find_overlapping_iter(&line)
            .find(|m| alone(&line, m.start(), m.end()));
        if let Some(m) = hit {
            found.push((n + 1, secrets[m.pattern().as_usize()].kind));
        }
    }
    found
}

/// The match `line[begin..end]` is not a piece of a longer run of digits (a needle that starts
/// or ends in a letter or sign needs no such check at that edge).
fn alone(line: &str, begin: usize, end: usize) -> bool {
    let needle = &line[begin..end];
    let starts_in_digit = needle.chars().next().is_some_and(|c| c.is_ascii_digit());
    if !starts_in_digit {
        return true;
    }
    let ends_in_digit = needle.chars().last().is_some_and(|c| c.is_ascii_digit());
    let before = line[..begin].chars().next_back();
    let after = line[end..].chars().next();
    !(before.is_some_and(|c| c.is_ascii_digit())
        || (ends_in_digit && after.is_some_and(|c| c.is_ascii_digit())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_sec_4_a_number_is_found_in_every_spelling_and_not_inside_a_longer_one() {
        let secrets: Vec<Secret> = phone_spellings("+15551000042")
            .into_iter()
            .map(|value| Secret {
                kind: "phone",
                value,
            })
            .collect();
        let lines: Vec<String> = [
            r#"{"msg":"caller +15551000042"}"#,
            r#"{"url":"/v1/customers?phone=%2B15551000042"}"#,
            r#"{"msg":"(555) 100-0042 called"}"#,
            r#"{"session":"call 75551000042123"}"#,
            r#"{"msg":"caller [phone]"}"#,
        ]
        .map(str::to_owned)
        .to_vec();
        let found: Vec<usize> = scan(&lines, &secrets).into_iter().map(|(n, _)| n).collect();
        assert_eq!(found, vec![1, 2, 3]);
    }
}
