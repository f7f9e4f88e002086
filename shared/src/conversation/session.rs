//! One view of a call or chat as the Manager API reports it now (R-E-5): the facts the
//! conversation rules read, who the customer is, and which agent has it.

use super::updates::{NoteFacts, voicemail_handling};
use super::{Channel, Origin, SessionFacts};
use crate::ccai::model::{AgentInfo, MenuRef};
use crate::ccai::model::{Call, Chat, Transfer, is_ended_status};
use crate::custom_fields::{FieldFacts, read_custom_data};
use crate::ese::EseItem;
use crate::events::SessionKind;
use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct SessionView {
    pub kind: SessionKind,
    pub id: u64,
    pub facts: SessionFacts,
    /// The caller's number as the platform gives it (participant), if it does.
    pub phone: Option<String>,
    /// The SDK end user's identifier.
    pub identifier: Option<String>,
    pub end_user_id: Option<u64>,
    /// The agent on the session now: the last transfer's receiver, else the assignee.
    pub agent: Option<u64>,
    pub language: Option<String>,
    pub started_at: Option<String>,
    pub answered_at: Option<String>,
    /// The session has ended (Manager API status, or the ESE item's `disconnected`).
    pub ended: bool,
    /// What the conversation's notes say (R-U-10, R-U-11, wrap-up).
    pub notes: NoteFacts,
    /// The call this one calls back (R-U-6), when the platform links them.
    pub original_call: Option<u64>,
    /// When the session ended (`ends_at`), when the platform says.
    pub ended_at: Option<String>,
    /// What the custom fields carry (R-CF-4, R-CF-5).
    pub fields: FieldFacts,
    /// The Kustomer conversation click-to-call named (`out_ticket_id`, R-C2C-4); only a
    /// Kustomer id (24 hex digits) — other CRMs' ticket ids are not ours.
    pub ticket: Option<String>,
    /// Why the metadata file found for the session was refused (its content names another
    /// session), to be shown; `None` when it was used or not found.
    pub metadata_refused: Option<String>,
}

fn current_agent(assignee: Option<u64>, transfers: &[Transfer]) -> Option<u64> {
    transfers
        .iter()
        .rev()
        .find_map(|t| t.to_agent.as_ref().and_then(AgentInfo::human_id))
        .or(assignee)
}

/// The queue the session was routed to last: a transfer's queue, else the selected one.
fn queue_name(selected: Option<&MenuRef>, transfers: &[Transfer]) -> Option<String> {
    transfers
        .iter()
        .rev()
        .find_map(|t| t.to_menu.as_ref().and_then(|m| m.name.clone()))
        .or_else(|| selected.and_then(|m| m.name.clone()))
}

fn kustomer_ticket(ticket: Option<&str>) -> Option<String> {
    ticket
        .map(str::trim)
        .filter(|t| t.len() == 24 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
}

fn ended(status: Option<&str>) -> bool {
    status.is_some_and(|s| is_ended_status(s) || s == "voicemail_closed")
}

impl From<&Call> for SessionView {
    fn from(call: &Call) -> Self {
        let outbound = call
            .call_type
            .as_deref()
            .is_some_and(|t| t.contains("Outbound"));
        let origin = if outbound {
            Origin::Outbound
        } else if call.is_sdk() {
            Origin::Sdk
        } else {
            Origin::Ivr
        };
        let assignee = call.agent_info.as_ref().and_then(|a| a.id);
        // A virtual agent answers too, but has no Kustomer user (finding 4).
        let human = call.agent_info.as_ref().and_then(AgentInfo::human_id);
        Self {
            kind: SessionKind::Call,
            id: call.id,
            facts: SessionFacts {
                channel: Channel::Voice,
                origin,
                menu: call.selected_menu.as_ref().and_then(|m| m.name.clone()),
                answered: assignee.is_some() || call.assigned_at.is_some(),
                abandoned: call.is_abandoned(),
                voicemail: call.is_voicemail(),
            },
            phone: call.caller_phone().map(str::to_owned),
            identifier: call.end_user.as_ref().and_then(|u| u.identifier.clone()),
            end_user_id: call.end_user.as_ref().and_then(|u| u.id),
            agent: current_agent(human, &call.transfers),
            language: call.lang.clone(),
            started_at: call.created_at.clone(),
            answered_at: call.assigned_at.clone(),
            ended: ended(call.status.as_deref()) || call.is_voicemail(),
            original_call: call.original_call(),
            ended_at: call.ends_at.clone(),
            ticket: kustomer_ticket(call.out_ticket_id.as_deref()),
            metadata_refused: None,
            fields: FieldFacts {
                session_type: call
                    .session_type_v2
                    .clone()
                    .or_else(|| call.call_type.clone()),
                queue_name: queue_name(call.selected_menu.as_ref(), &call.transfers),
                menu_selection: call.menu_path.as_ref().and_then(|m| m.name.clone()),
                duration: call.call_duration,
                hold_time: call.hold_duration,
                wait_time: call.wait_duration.or(call.queue_duration),
                inweb_email: call.end_user.as_ref().and_then(|u| u.email.clone()),
                custom_data: read_custom_data(call.custom_data.as_ref()),
            },
            notes: NoteFacts {
                rating: call.rating,
                has_feedback: call.has_feedback.unwrap_or(false),
                voicemail: voicemail_handling(call.status.as_deref()),
                disposition: None,
                csat_comment: None,
                smart_actions: Vec::new(),
            },
        }
    }
}

impl From<&Chat> for SessionView {
    fn from(chat: &Chat) -> Self {
        let assignee = chat.agent_info.as_ref().and_then(|a| a.id);
        // A virtual agent answers too, but has no Kustomer user (finding 4).
        let human = chat.agent_info.as_ref().and_then(AgentInfo::human_id);
        Self {
            kind: SessionKind::Chat,
            id: chat.id,
            facts: SessionFacts {
                channel: Channel::Chat,
                // Chats come from the mobile or web SDK.
                origin: Origin::Sdk,
                menu: chat.selected_menu.as_ref().and_then(|m| m.name.clone()),
                answered: assignee.is_some() || chat.assigned_at.is_some(),
                abandoned: false,
                voicemail: false,
            },
            phone: None,
            identifier: chat.end_user.as_ref().and_then(|u| u.identifier.clone()),
            end_user_id: chat.end_user.as_ref().and_then(|u| u.id),
            agent: current_agent(human, &chat.transfers),
            language: chat.lang.clone(),
            started_at: chat.created_at.clone(),
            answered_at: chat.assigned_at.clone(),
            ended: ended(chat.status.as_deref()),
            original_call: None,
            ended_at: chat.ends_at.clone(),
            ticket: None,
            metadata_refused: None,
            fields: FieldFacts {
                session_type: chat
                    .session_type_v2
                    .clone()
                    .or_else(|| chat.chat_type.clone()),
                queue_name: queue_name(chat.selected_menu.as_ref(), &chat.transfers),
                menu_selection: chat.menu_path.as_ref().and_then(|m| m.name.clone()),
                duration: chat.chat_duration,
                hold_time: None,
                wait_time: chat.wait_duration,
                inweb_email: chat.end_user.as_ref().and_then(|u| u.email.clone()),
                custom_data: read_custom_data(chat.custom_data.as_ref()),
            },
            notes: NoteFacts {
                rating: chat.rating,
                has_feedback: chat.has_feedback.unwrap_or(false),
                voicemail: None,
                disposition: None,
                csat_comment: None,
                smart_actions: Vec::new(),
            },
        }
    }
}

impl SessionView {
    /// When the session started, as epoch milliseconds (R-CF-3 compares it with a field's
    /// creation).
    pub fn started_millis(&self) -> Option<i64> {
        self.started_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis())
    }

    /// When the session ended, as epoch milliseconds.
    pub fn ended_at_millis(&self) -> Option<crate::UnixMillis> {
        self.ended_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| crate::UnixMillis(t.timestamp_millis()))
    }

    /// Adds what only the latest ESE item knows (R-E-5): the caller's number (the external
    /// participant's `dn`, H; it is not a documented Manager API field), the wrap-up
    /// disposition, and — only where the Manager API object is silent — the agent, language
    /// and queue. Decisions the Manager API can make (answered, abandoned, voicemail) stay its
    /// own, so a tenant without ESE reaches the same Kustomer state.
    pub fn with_ese(mut self, item: Option<&Map<String, Value>>) -> Self {
        let Some(item) = item.map(EseItem) else {
            return self;
        };
        if self.kind == SessionKind::Call
            && let Some(number) = item.caller_number()
        {
            self.phone = Some(number);
        }
        self.notes.disposition = item.disposition();
        if self.agent.is_none() {
            self.agent = item.current_agent().and_then(|agent| agent.id);
        }
        if self.language.is_none() {
            self.language = item.language();
        }
        if self.facts.menu.is_none() {
            self.facts.menu = item.queue_path();
        }
        self.fields.fill_from(FieldFacts {
            session_type: item.session_type(),
            menu_selection: item.queue_path(),
            ..FieldFacts::default()
        });
        self.ended |= item.state() == Some("disconnected");
        self
    }

    /// Whether the customer is known by the SDK identifier (R-K-2) rather than by phone (R-K-1).
    /// What the session's custom values are made of (R-CF-4), with the caller's number when
    /// it is known.
    pub fn field_values<'a>(
        &'a self,
        phone: Option<&'a str>,
    ) -> crate::custom_fields::SessionValues<'a> {
        crate::custom_fields::SessionValues {
            facts: &self.fields,
            session_id: self.id,
            custom_user_id: self.identifier.as_deref().filter(|_| self.by_identifier()),
            from_phone: phone,
            csat_rating: self.notes.rating,
            csat_comment: self.notes.csat_comment.as_deref(),
            started_ms: self.started_millis(),
        }
    }

    /// The truth the pass merged, in words for the admin's timeline (R-ADM-2): states and
    /// rules' inputs, never the caller's number, identifier or comment (whether there is one).
    /// `ese`: the session's ESE item was merged; `metadata`: what became of its metadata file.
    pub fn summary(&self, ese: bool, metadata: &str) -> String {
        let mut parts = vec![format!(
            "truth: {} {} · {} · {}",
            self.kind.as_str(),
            self.id,
            match self.facts.origin {
                Origin::Ivr => "IVR",
                Origin::Sdk => "SDK",
                Origin::Outbound => "outbound",
            },
            match self.facts.channel {
                Channel::Voice => "voice",
                Channel::Chat => "chat",
            }
        )];
        if let Some(menu) = &self.facts.menu {
            parts.push(format!("menu {menu}"));
        }
        let flags = [
            (self.facts.answered, "answered"),
            (self.facts.abandoned, "abandoned"),
            (self.facts.voicemail, "voicemail"),
            (self.ended, "ended"),
            (!self.ended, "not over"),
        ];
        parts.extend(
            flags
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, w)| (*w).to_owned()),
        );
        if let Some(agent) = self.agent {
            parts.push(format!("agent {agent}"));
        }
        parts.push(
            match (&self.phone, &self.identifier) {
                (Some(_), _) => "caller's number known",
                (None, Some(_)) => "SDK identifier known",
                (None, None) => "no caller number",
            }
            .to_owned(),
        );
        if self.ticket.is_some() {
            parts.push("click-to-call conversation named".into());
        }
        if self.original_call.is_some() {
            parts.push("calls back an earlier call".into());
        }
        if let Some(rating) = self.notes.rating {
            parts.push(format!("rated {rating}"));
        }
        if self.notes.csat_comment.is_some() {
            parts.push("a survey comment".into());
        }
        if !self.notes.smart_actions.is_empty() {
            parts.push(format!("{} SmartAction(s)", self.notes.smart_actions.len()));
        }
        if self.notes.disposition.is_some() {
            parts.push("wrap-up".into());
        }
        parts.push(
            if ese {
                "ESE item merged"
            } else {
                "no ESE item"
            }
            .into(),
        );
        parts.push(format!("metadata file {metadata}"));
        parts.join(" · ")
    }

    pub fn by_identifier(&self) -> bool {
        self.facts.origin == Origin::Sdk
    }

    /// Adds what the session metadata file tells (R-U-7, R-U-8, R-U-10): the caller's number
    /// when nothing else gave it (finding 2: the poller-only tenant's only documented source),
    /// the customer's comment, SmartAction outcomes, and the wrap-up when ESE brought none.
    pub fn with_metadata(
        mut self,
        metadata: Option<&crate::storage::metadata::SessionMetadata>,
    ) -> Self {
        let Some(metadata) = metadata else {
            return self;
        };
        if self.kind == SessionKind::Call && self.phone.is_none() {
            self.phone = metadata.caller_number.clone();
        }
        self.notes.csat_comment = metadata.csat_comment.clone();
        self.notes.smart_actions = metadata.smart_actions.clone();
        if self.notes.disposition.is_none() {
            self.notes.disposition = metadata.disposition.clone();
        }
        if self.notes.rating.is_none() {
            self.notes.rating = metadata.rating;
        }
        self.fields.fill_from(metadata.fields.clone());
        self
    }

    /// When the session started (UTC), for dated object keys: its start, else its end, else
    /// the epoch — never the clock, so a retry on another day opens the same key (R-R-2,
    /// review L7).
    pub fn started(&self) -> chrono::DateTime<chrono::Utc> {
        [self.started_at.as_deref(), self.ended_at.as_deref()]
            .into_iter()
            .flatten()
            .find_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or(chrono::DateTime::UNIX_EPOCH)
    }

    pub fn external_id(&self) -> String {
        let kind = match self.kind {
            SessionKind::Call => "call",
            SessionKind::Chat => "chat",
        };
        format!("ccai-{kind}-{}", self.id)
    }
}

/// The latest ESE `item` kept for a session (`SESSION#…/ESE`, written by the inbox worker), for
/// workers that read a session without being handed its event.
pub async fn kept_ese_item(
    store: &dyn crate::store::StateStore,
    kind: SessionKind,
    id: u64,
    now: crate::UnixMillis,
) -> Result<Option<Map<String, Value>>, crate::store::StoreError> {
    let item = store
        .get(&crate::store::ItemKey::session_ese(kind, id), now)
        .await?;
    Ok(item
        .and_then(|item| crate::ese::KeptEse::from_stored(item.body, item.version))
        .map(|kept| kept.item))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l7_r_r_2_a_sessions_object_date_never_follows_the_clock() {
        let call: Call = serde_json::from_value(serde_json::json!({"id": 7, "status": "finished",
            "ends_at": "2026-12-02T10:07:40Z"}))
        .unwrap_or_default();
        let view = SessionView::from(&call);
        assert_eq!(view.started().to_rfc3339(), "2026-12-02T10:07:40+00:00");
        let bare = SessionView::from(&Call::default());
        assert_eq!(bare.started(), chrono::DateTime::UNIX_EPOCH);
    }

    #[test]
    fn r_adm_2_the_truths_summary_names_states_never_the_customers_data() {
        let call: Call = serde_json::from_value(serde_json::json!({
            "id": 4242, "status": "finished", "call_type": "ivr", "rating": "4",
            "has_feedback": true, "ends_at": "2026-12-02T10:07:40Z",
        }))
        .unwrap_or_default();
        let mut view = SessionView::from(&call);
        view.phone = Some("+14155550123".into());
        view.identifier = Some("user-77@example.com".into());
        view.notes.csat_comment = Some("Ask for Dana at +14155550199".into());
        let text = view.summary(true, "read");
        for part in [
            "truth: call 4242",
            "ended",
            "caller's number known",
            "a survey comment",
            "ESE item merged",
            "metadata file read",
            "rated 4",
        ] {
            assert!(text.contains(part), "{part:?} missing from {text:?}");
        }
        for secret in ["+1415", "example.com", "Dana"] {
            assert!(!text.contains(secret), "{secret:?} in {text:?}");
        }
    }
}
