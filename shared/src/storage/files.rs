//! The tenant's external-storage file names (ccai-api.md §3, H): which file is which, for which
//! session. The folder layout below the configured prefix is not documented (L), so a file is
//! recognised by its **name** at any depth; only `metadata.json` (the newer pages' name) takes
//! its session from the nearest folder named like a session, or from its content.

use crate::events::{SessionKind, SessionRef};

/// What a file in external storage is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `call-{id}.mp3` or `call-{id}.wav` (voicemails too, M).
    Recording { extension: String },
    /// `chat-{id}.txt`: the chat transcript (JSON version 1.0; plain text tolerated).
    Transcript,
    /// `call|chat-{id}-photo-{n}.jpg`: an end-user upload (SmartAction).
    Photo { media_id: String },
    /// `call|chat-{id}-video-{n}.mp4`.
    Video { media_id: String },
    /// `metadata-{id}.json` or `…/metadata.json`: the session's metadata, written about 15
    /// minutes after the end and possibly rewritten.
    Metadata,
}

/// A file the bridge uses, and the session it belongs to (`None` for a `metadata.json` whose
/// folder does not name one: its content does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionFile {
    pub kind: FileKind,
    pub session: Option<SessionRef>,
    /// The id in a `metadata-{id}.json` name: a call's or a chat's, which the content tells.
    pub metadata_id: Option<u64>,
}

fn session_prefix(name: &str) -> Option<(SessionKind, &str)> {
    if let Some(rest) = name.strip_prefix("call-") {
        Some((SessionKind::Call, rest))
    } else {
        name.strip_prefix("chat-")
            .map(|rest| (SessionKind::Chat, rest))
    }
}

fn id(text: &str) -> Option<u64> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// The session a folder name such as `call-1917` names.
fn folder_session(folder: &str) -> Option<SessionRef> {
    let (kind, rest) = session_prefix(folder)?;
    Some(SessionRef {
        kind,
        id: id(rest)?,
    })
}

/// What the object `key` is, or `None` for a file the bridge does not use (e-mail PDFs, other
/// data types, anything else), which is ignored.
pub fn classify(key: &str) -> Option<SessionFile> {
    let mut parts = key.rsplit('/');
    let name = parts.next()?;
    if name == "metadata.json" {
        return Some(SessionFile {
            kind: FileKind::Metadata,
            session: parts.find_map(folder_session),
            metadata_id: None,
        });
    }
    if let Some(rest) = name.strip_prefix("metadata-") {
        return Some(SessionFile {
            kind: FileKind::Metadata,
            session: None,
            metadata_id: Some(id(rest.strip_suffix(".json")?)?),
        });
    }
    let (kind, rest) = session_prefix(name)?;
    let (stem, extension) = rest.rsplit_once('.')?;
    let extension = extension.to_ascii_lowercase();
    let (session_id, file) = match stem.split_once('-') {
        None => (id(stem)?, None),
        Some((session_id, media)) => (id(session_id)?, Some(media)),
    };
    let session = Some(SessionRef {
        kind,
        id: session_id,
    });
    let kind = match (kind, file, extension.as_str()) {
        (SessionKind::Call, None, "mp3" | "wav") => FileKind::Recording { extension },
        (SessionKind::Chat, None, "txt") => FileKind::Transcript,
        (_, Some(media), "jpg") => FileKind::Photo {
            media_id: media
                .strip_prefix("photo-")
                .filter(|m| !m.is_empty())?
                .to_owned(),
        },
        (_, Some(media), "mp4") => FileKind::Video {
            media_id: media
                .strip_prefix("video-")
                .filter(|m| !m.is_empty())?
                .to_owned(),
        },
        _ => return None,
    };
    Some(SessionFile {
        kind,
        session,
        metadata_id: None,
    })
}

/// The names a session's recording, transcript and metadata may have (what the scheduled look
/// asks for under the prefix, flat layout — L).
pub fn expected_names(session: &SessionRef) -> Vec<String> {
    let id = session.id;
    match session.kind {
        SessionKind::Call => vec![format!("call-{id}.mp3"), format!("call-{id}.wav")],
        SessionKind::Chat => vec![format!("chat-{id}.txt")],
    }
}

/// The metadata file's name for a session (flat layout, L).
pub fn metadata_name(session: &SessionRef) -> String {
    format!("metadata-{}.json", session.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: u64) -> Option<SessionRef> {
        Some(SessionRef {
            kind: SessionKind::Call,
            id,
        })
    }

    fn chat(id: u64) -> Option<SessionRef> {
        Some(SessionRef {
            kind: SessionKind::Chat,
            id,
        })
    }

    #[test]
    fn r_r_1_r_x_1_documented_names_are_recognised_at_any_depth() {
        let recording = |ext: &str| FileKind::Recording {
            extension: ext.into(),
        };
        for (key, kind, session) in [
            ("call-1917.mp3", recording("mp3"), call(1917)),
            (
                "tenant/2026/12/02/call-1917.wav",
                recording("wav"),
                call(1917),
            ),
            ("a/b/c/d/CALL-1.mp3", recording("mp3"), call(1)),
            ("exports/chat-44.txt", FileKind::Transcript, chat(44)),
            (
                "call-7-photo-3.jpg",
                FileKind::Photo {
                    media_id: "3".into(),
                },
                call(7),
            ),
            (
                "x/chat-8-video-12.mp4",
                FileKind::Video {
                    media_id: "12".into(),
                },
                chat(8),
            ),
        ] {
            if key.contains("CALL") {
                assert_eq!(classify(key), None, "names are lower case: {key}");
                continue;
            }
            let file = classify(key).unwrap_or_else(|| panic!("{key}"));
            assert_eq!((file.kind, file.session), (kind, session), "{key}");
        }
    }

    #[test]
    fn metadata_takes_its_session_from_the_name_the_folder_or_later_the_content() {
        let named = classify("p/metadata-1917.json").unwrap();
        assert_eq!(
            (named.kind, named.metadata_id),
            (FileKind::Metadata, Some(1917))
        );
        let in_folder = classify("p/call-1917/metadata.json").unwrap();
        assert_eq!(in_folder.session, call(1917));
        let loose = classify("p/2026-12-02/metadata.json").unwrap();
        assert_eq!(loose.session, None);
    }

    #[test]
    fn r_e_6_files_the_bridge_does_not_use_are_ignored() {
        for key in [
            "email-55.pdf",
            "chat-44.mp3",
            "call-1917.txt",
            "call-abc.mp3",
            "call-.mp3",
            "call-12-photo-.jpg",
            "call-12-sticker-1.png",
            "metadata-x.json",
            "notes.txt",
            "",
            "folder/",
        ] {
            assert_eq!(classify(key), None, "{key}");
        }
    }

    #[test]
    fn the_scheduled_look_knows_each_sessions_names() {
        assert_eq!(
            expected_names(&SessionRef {
                kind: SessionKind::Call,
                id: 5
            }),
            ["call-5.mp3", "call-5.wav"]
        );
        assert_eq!(
            metadata_name(&SessionRef {
                kind: SessionKind::Chat,
                id: 6
            }),
            "metadata-6.json"
        );
    }
}
