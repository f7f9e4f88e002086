//! One view of a call or chat as the Manager API reports it now (R-E-5): the facts the
//! conversation rules read, who the customer is, and which agent has it.

use super::{Channel, Origin, SessionFacts};
use crate::ccai::model::{Call, Chat, Transfer};
use crate::events::SessionKind;

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
}

fn current_agent(assignee: Option<u64>, transfers: &[Transfer]) -> Option<u64> {
    transfers
        .iter()
        .rev()
        .find_map(|t| t.to_agent.as_ref().and_then(|a| a.id))
        .or(assignee)
}

const VOICEMAIL_STATUSES: [&str; 3] = ["voicemail", "voicemail_received", "voicemail_read"];

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
        Self {
            kind: SessionKind::Call,
            id: call.id,
            facts: SessionFacts {
                channel: Channel::Voice,
                origin,
                menu: call.selected_menu.as_ref().and_then(|m| m.name.clone()),
                answered: assignee.is_some() || call.assigned_at.is_some(),
                abandoned: call.is_abandoned(),
                voicemail: call
                    .status
                    .as_deref()
                    .is_some_and(|s| VOICEMAIL_STATUSES.contains(&s)),
            },
            phone: call.caller_phone().map(str::to_owned),
            identifier: call.end_user.as_ref().and_then(|u| u.identifier.clone()),
            end_user_id: call.end_user.as_ref().and_then(|u| u.id),
            agent: current_agent(assignee, &call.transfers),
            language: call.lang.clone(),
            started_at: call.created_at.clone(),
            answered_at: call.assigned_at.clone(),
        }
    }
}

impl From<&Chat> for SessionView {
    fn from(chat: &Chat) -> Self {
        let assignee = chat.agent_info.as_ref().and_then(|a| a.id);
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
            agent: current_agent(assignee, &chat.transfers),
            language: chat.lang.clone(),
            started_at: chat.created_at.clone(),
            answered_at: chat.assigned_at.clone(),
        }
    }
}

impl SessionView {
    /// Whether the customer is known by the SDK identifier (R-K-2) rather than by phone (R-K-1).
    pub fn by_identifier(&self) -> bool {
        self.facts.origin == Origin::Sdk
    }

    /// When the session started (UTC), for dated object keys; now when the platform gave no
    /// readable time.
    pub fn started(&self) -> chrono::DateTime<chrono::Utc> {
        self.started_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_else(chrono::Utc::now)
    }

    pub fn external_id(&self) -> String {
        let kind = match self.kind {
            SessionKind::Call => "call",
            SessionKind::Chat => "chat",
        };
        format!("ccai-{kind}-{}", self.id)
    }
}
