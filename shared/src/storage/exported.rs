//! Which data types the tenant exports to external storage (`EXTERNAL_STORAGE_FILES`, product.md
//! R-E-6). CCAI Platform has one checkbox per data type (ccai-api.md §3, 2026-12-03, H), and the
//! bridge cannot see them: it is told, and never waits for or looks up a type it was told is
//! not exported — each wait costs a Manager API call per look, out of the tenant's 10 a second
//! (review finding 10).

use std::fmt;

/// One of the data types the bridge reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DataType {
    /// `call-{id}.mp3|wav`.
    Recordings,
    /// `chat-{id}.txt`.
    Transcripts,
    /// `metadata-{id}.json` / `metadata.json`.
    Metadata,
    /// End-user photos and videos (`…-photo-…`, `…-video-…`).
    Media,
}

impl DataType {
    pub const ALL: [DataType; 4] = [
        DataType::Recordings,
        DataType::Transcripts,
        DataType::Metadata,
        DataType::Media,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Recordings => "recordings",
            DataType::Transcripts => "transcripts",
            DataType::Metadata => "metadata",
            DataType::Media => "media",
        }
    }

    /// The data type a file of this kind belongs to.
    pub fn of(kind: &super::FileKind) -> Self {
        match kind {
            super::FileKind::Recording { .. } => DataType::Recordings,
            super::FileKind::Transcript => DataType::Transcripts,
            super::FileKind::Metadata => DataType::Metadata,
            super::FileKind::Photo { .. } | super::FileKind::Video { .. } => DataType::Media,
        }
    }
}

/// The exported types; all four unless configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportedTypes([bool; 4]);

impl Default for ExportedTypes {
    fn default() -> Self {
        Self([true; 4])
    }
}

/// `EXTERNAL_STORAGE_FILES` could not be read; the message names the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a data type: expected a comma list of recordings, transcripts, metadata, media"
)]
pub struct UnknownDataType(pub String);

impl ExportedTypes {
    /// Reads a comma list (`recordings,metadata`); blank means the default (all four).
    pub fn parse(text: &str) -> Result<Self, UnknownDataType> {
        let words: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            return Ok(Self::default());
        }
        let mut types = [false; 4];
        for word in words {
            let found = DataType::ALL
                .iter()
                .position(|t| t.as_str().eq_ignore_ascii_case(word))
                .ok_or_else(|| UnknownDataType(word.to_owned()))?;
            types[found] = true;
        }
        Ok(Self(types))
    }

    /// `EXTERNAL_STORAGE_FILES` from the environment (unset: all four).
    pub fn from_env(env: &crate::config::Env) -> Result<Self, crate::config::ConfigError> {
        Self::parse(env.get("EXTERNAL_STORAGE_FILES").unwrap_or_default()).map_err(|err| {
            crate::config::ConfigError::Malformed {
                var: "EXTERNAL_STORAGE_FILES".into(),
                reason: err.to_string(),
            }
        })
    }

    /// Only these types.
    pub fn only(types: &[DataType]) -> Self {
        let mut set = [false; 4];
        for t in types {
            set[*t as usize] = true;
        }
        Self(set)
    }

    pub fn has(self, data: DataType) -> bool {
        self.0[data as usize]
    }
}

impl fmt::Display for ExportedTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = DataType::ALL
            .iter()
            .filter(|t| self.has(**t))
            .map(|t| t.as_str())
            .collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_e_6_the_exported_types_are_read_from_a_comma_list() {
        assert_eq!(ExportedTypes::parse("").unwrap(), ExportedTypes::default());
        let some = ExportedTypes::parse(" recordings , Metadata").unwrap();
        assert!(some.has(DataType::Recordings) && some.has(DataType::Metadata));
        assert!(!some.has(DataType::Transcripts) && !some.has(DataType::Media));
        assert_eq!(some.to_string(), "recordings,metadata");
        assert_eq!(
            ExportedTypes::parse("recordings,emails").unwrap_err(),
            UnknownDataType("emails".into())
        );
        assert_eq!(ExportedTypes::only(&[DataType::Media]).to_string(), "media");
    }
}
