use super::BlobError;
use crate::store::keys::SessionKind;
use chrono::{DateTime, Datelike, Utc};
use std::fmt;

/// A deterministic object key.
///
/// `recordings/{yyyy}/{mm}/{dd}/call-{id}.{ext}` · `transcripts/{yyyy}/{mm}/{dd}/chat-{id}.{ext}`
/// — the date is the session's creation date (UTC), which every retry computes the same way.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlobKey(String);

impl BlobKey {
    /// A key from text: relative, `/`-separated, no empty, `.` or `..` segments, printable ASCII.
    pub fn parse(key: &str) -> Result<Self, BlobError> {
        let invalid = |reason| BlobError::InvalidKey {
            key: key.to_owned(),
            reason,
        };
        if key.is_empty() || key.len() > 1024 {
            return Err(invalid("length must be 1 to 1024"));
        }
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid("only printable ASCII without spaces"));
        }
        if key
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..")
        {
            return Err(invalid("empty, '.' or '..' segment"));
        }
        Ok(Self(key.to_owned()))
    }

    pub fn recording(
        call_id: u64,
        created_at: DateTime<Utc>,
        extension: &str,
    ) -> Result<Self, BlobError> {
        Self::dated(
            "recordings",
            SessionKind::Call,
            call_id,
            created_at,
            extension,
        )
    }

    pub fn transcript(
        chat_id: u64,
        created_at: DateTime<Utc>,
        extension: &str,
    ) -> Result<Self, BlobError> {
        Self::dated(
            "transcripts",
            SessionKind::Chat,
            chat_id,
            created_at,
            extension,
        )
    }

    /// `media/{yyyy}/{mm}/{dd}/{name}`: an end-user upload under its original name.
    pub fn media(name: &str, created_at: DateTime<Utc>) -> Result<Self, BlobError> {
        if name.contains('/') {
            return Err(BlobError::InvalidKey {
                key: name.to_owned(),
                reason: "a media name is one segment",
            });
        }
        Self::parse(&format!(
            "media/{:04}/{:02}/{:02}/{name}",
            created_at.year(),
            created_at.month(),
            created_at.day()
        ))
    }

    fn dated(
        prefix: &str,
        kind: SessionKind,
        id: u64,
        at: DateTime<Utc>,
        extension: &str,
    ) -> Result<Self, BlobError> {
        if extension.is_empty() || !extension.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(BlobError::InvalidKey {
                key: extension.to_owned(),
                reason: "extension must be letters and digits",
            });
        }
        Self::parse(&format!(
            "{prefix}/{:04}/{:02}/{:02}/{}-{id}.{}",
            at.year(),
            at.month(),
            at.day(),
            kind.as_str(),
            extension.to_ascii_lowercase()
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn recording_and_transcript_keys_are_deterministic() {
        let at = Utc.with_ymd_and_hms(2026, 3, 7, 23, 59, 59).unwrap();
        assert_eq!(
            BlobKey::recording(987, at, "MP3").unwrap().as_str(),
            "recordings/2026/03/07/call-987.mp3"
        );
        assert_eq!(
            BlobKey::transcript(55, at, "html").unwrap().as_str(),
            "transcripts/2026/03/07/chat-55.html"
        );
    }

    #[test]
    fn keys_that_could_escape_or_confuse_are_refused() {
        for bad in ["", "/abs", "a//b", "a/../b", "a b", "./a", "a/"] {
            assert!(BlobKey::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(BlobKey::recording(1, Utc::now(), "m/p3").is_err());
    }
}
