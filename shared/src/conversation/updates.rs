//! What a session's truth adds to its conversation beyond the placement: the customer's rating
//! (R-U-10), an agent's handling of a voicemail (R-U-11) and the agent's wrap-up disposition
//! (ESE `dispositions`). Pure and level-triggered: the notes follow from the session as it is
//! now, whichever trigger (ESE, poll, replay) brought the worker; each note has a stable
//! purpose, so the worker writes each one once (recorded in the session link, external id
//! `ccai-<kind>-<id>-<purpose>`).
//!
//! SmartAction results and failures (R-U-7, R-U-8) and the customer's comment come from the
//! session metadata file of external storage (ccai-api.md §3), read when the session has ended;
//! the wrap-up from the ESE item, else from the metadata.

use crate::ese::Disposition;
use crate::storage::metadata::SmartActionOutcome;

#[derive(Clone, Debug, PartialEq)]
pub struct ConversationUpdate {
    /// The note's text.
    pub note: String,
    /// Stable name of the note within its session (`csat`, `voicemail-read`, `wrap-up`,
    /// `smart-action-<id>`).
    pub purpose: String,
    /// The conversation is closed (`done`) as well.
    pub close: bool,
}

/// What an agent has done with a voicemail, as the call's status tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoicemailHandling {
    Read,
    CalledBack,
    Closed,
}

/// The voicemail handling a call's `status` shows. The platform's voicemail status values are
/// not documented (ccai-api.md §2, M: "voicemail states"): this is the one place they are read,
/// and the sandbox plays exactly these.
pub fn voicemail_handling(status: Option<&str>) -> Option<VoicemailHandling> {
    match status? {
        "voicemail_read" => Some(VoicemailHandling::Read),
        "voicemail_called_back" => Some(VoicemailHandling::CalledBack),
        "voicemail_closed" => Some(VoicemailHandling::Closed),
        _ => None,
    }
}

/// The facts the notes are made of.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NoteFacts {
    /// The end user's rating (Manager API `rating`, number or text on the wire).
    pub rating: Option<f64>,
    /// `has_feedback`: the user also left a comment (its text comes with the metadata file).
    pub has_feedback: bool,
    pub voicemail: Option<VoicemailHandling>,
    /// The agent's wrap-up, from the latest ESE item (Final stage) or the metadata file.
    pub disposition: Option<Disposition>,
    /// The customer's comment with the rating (metadata file).
    pub csat_comment: Option<String>,
    /// SmartActions of the session (metadata file).
    pub smart_actions: Vec<SmartActionOutcome>,
}

fn rating_text(rating: f64) -> String {
    if rating.fract() == 0.0 {
        format!("{rating:.0}")
    } else {
        format!("{rating}")
    }
}

/// Every note the session's conversation should carry now, in a stable order.
pub fn session_notes(facts: &NoteFacts) -> Vec<ConversationUpdate> {
    let mut notes = Vec::new();
    let mut note = |note: String, purpose: &str, close: bool| {
        notes.push(ConversationUpdate {
            note,
            purpose: purpose.to_owned(),
            close,
        })
    };
    if let Some(rating) = facts.rating {
        let mut line = format!("Customer rating: {}/5", rating_text(rating));
        if facts.has_feedback {
            line.push_str(" · the customer left a comment");
        }
        note(line, "csat", false);
    }
    match facts.voicemail {
        Some(VoicemailHandling::Read) => {
            note("Voicemail read by an agent".into(), "voicemail-read", false)
        }
        Some(VoicemailHandling::CalledBack) => note(
            "Voicemail called back".into(),
            "voicemail-called-back",
            false,
        ),
        Some(VoicemailHandling::Closed) => {
            note("Voicemail closed".into(), "voicemail-closed", true)
        }
        None => {}
    }
    if let Some(comment) = &facts.csat_comment {
        note(
            format!("Customer comment: \"{comment}\""),
            "csat-comment",
            false,
        );
    }
    for action in &facts.smart_actions {
        let line = match (action.completed, &action.detail) {
            (true, Some(result)) => format!("SmartAction {} completed: {result}", action.kind),
            (true, None) => format!("SmartAction {} completed", action.kind),
            (false, Some(error)) => {
                format!(
                    "SmartAction {} failed on the customer's side: {error}",
                    action.kind
                )
            }
            (false, None) => format!("SmartAction {} failed on the customer's side", action.kind),
        };
        note(line, &format!("smart-action-{}", action.id), false);
    }
    if let Some(disposition) = &facts.disposition {
        let text = match (&disposition.code, &disposition.note) {
            (Some(code), Some(text)) => format!("Wrap-up: {code} — {text}"),
            (Some(code), None) => format!("Wrap-up: {code}"),
            (None, Some(text)) => format!("Wrap-up: {text}"),
            (None, None) => String::new(),
        };
        if !text.is_empty() {
            note(text, "wrap-up", false);
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn r_u_7_r_u_8_r_u_10_smart_actions_and_the_comment_become_notes_with_stable_purposes() {
        let facts = NoteFacts {
            csat_comment: Some("Quick, thanks".into()),
            smart_actions: vec![
                SmartActionOutcome {
                    id: "31".into(),
                    kind: "photo".into(),
                    completed: true,
                    detail: Some("Photo received".into()),
                },
                SmartActionOutcome {
                    id: "32".into(),
                    kind: "verification".into(),
                    completed: false,
                    detail: Some("Fingerprint access is not enabled".into()),
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            notes(facts),
            vec![
                ("Customer comment: \"Quick, thanks\"".to_owned(), "csat-comment".to_owned(), false),
                ("SmartAction photo completed: Photo received".to_owned(), "smart-action-31".to_owned(), false),
                (
                    "SmartAction verification failed on the customer's side: Fingerprint access is not enabled".to_owned(),
                    "smart-action-32".to_owned(),
                    false
                ),
            ]
        );
    }

    fn notes(facts: NoteFacts) -> Vec<(String, String, bool)> {
        session_notes(&facts)
            .into_iter()
            .map(|u| (u.note, u.purpose, u.close))
            .collect()
    }

    #[test]
    fn r_u_10_a_rating_becomes_one_note() {
        assert_eq!(
            notes(NoteFacts {
                rating: Some(4.0),
                ..Default::default()
            }),
            vec![("Customer rating: 4/5".to_owned(), "csat".to_owned(), false)]
        );
        assert_eq!(
            notes(NoteFacts {
                rating: Some(4.5),
                has_feedback: true,
                ..Default::default()
            })[0]
                .0,
            "Customer rating: 4.5/5 · the customer left a comment"
        );
        assert!(notes(NoteFacts::default()).is_empty());
    }

    #[test]
    fn r_u_11_voicemail_read_called_back_closed() {
        let handled = |status: &str| {
            notes(NoteFacts {
                voicemail: voicemail_handling(Some(status)),
                ..Default::default()
            })
        };
        assert_eq!(handled("voicemail_read")[0].0, "Voicemail read by an agent");
        assert_eq!(
            handled("voicemail_called_back")[0].1,
            "voicemail-called-back"
        );
        assert_eq!(
            handled("voicemail_closed")[0],
            ("Voicemail closed".into(), "voicemail-closed".into(), true)
        );
        assert!(handled("voicemail_received").is_empty());
        assert!(handled("finished").is_empty());
    }

    #[test]
    fn the_wrap_up_disposition_becomes_a_note() {
        let with = |code: Option<&str>, note: Option<&str>| {
            notes(NoteFacts {
                disposition: Some(Disposition {
                    code: code.map(str::to_owned),
                    note: note.map(str::to_owned),
                }),
                ..Default::default()
            })
        };
        assert_eq!(
            with(Some("Resolved"), Some("Refund sent"))[0].0,
            "Wrap-up: Resolved — Refund sent"
        );
        assert_eq!(
            with(Some("Resolved"), None)[0],
            ("Wrap-up: Resolved".into(), "wrap-up".into(), false)
        );
        assert_eq!(
            with(None, Some("Call back Monday"))[0].0,
            "Wrap-up: Call back Monday"
        );
    }
}
