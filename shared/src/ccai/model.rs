//! The platform's objects (ccai-api.md), parsed leniently: unknown keys ignored, optional
//! fields `None` when missing, enumerations kept as text (`call_type`, `status`,
//! `fail_reason`) so a value the platform adds tomorrow is not a failure today.

use super::lenient;
use serde::Deserialize;
use serde_json::Value;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct MenuPath {
    pub name: Option<String>,
    pub materialized_path: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct MenuRef {
    #[serde(deserialize_with = "lenient::id")]
    pub id: Option<u64>,
    pub name: Option<String>,
    /// `ivr_menu`, `mobile_menu`, `web_menu`.
    pub menu_type: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct AgentInfo {
    #[serde(deserialize_with = "lenient::id")]
    pub id: Option<u64>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub agent_number: Option<String>,
    pub email: Option<String>,
    /// Set for a virtual agent (`{id, name, va_alias}`, the metadata file's documented shape,
    /// ccai-api.md §3, H; the Manager API's `agent_info` is taken to share it, M): no Kustomer
    /// user to assign, and its id is not a human agent's.
    #[serde(deserialize_with = "lenient::text")]
    pub va_alias: Option<String>,
}

impl AgentInfo {
    /// The id of a human agent (a virtual agent has none to assign).
    pub fn human_id(&self) -> Option<u64> {
        self.id.filter(|_| self.va_alias.is_none())
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct EndUserRef {
    #[serde(deserialize_with = "lenient::id")]
    pub id: Option<u64>,
    #[serde(deserialize_with = "lenient::text")]
    pub identifier: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub out_contact_id: Option<String>,
    /// The In-Web end user's e-mail: not in the documented field list (L), read when present
    /// (custom field `inweb_email`).
    pub email: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Transfer {
    #[serde(deserialize_with = "lenient::id")]
    pub id: Option<u64>,
    pub status: Option<String>,
    pub to_agent: Option<AgentInfo>,
    pub from_agent: Option<AgentInfo>,
    pub to_menu: Option<MenuRef>,
    pub created_at: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Participant {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub phone_number: Option<String>,
    pub agent_id: Option<Value>,
    pub end_user_id: Option<Value>,
}

/// A call (Manager API). There is no plain `duration`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Call {
    pub id: u64,
    pub call_uuid: Option<String>,
    pub call_type: Option<String>,
    /// The same values as `call_type` (H); preferred when both are present.
    pub session_type_v2: Option<String>,
    pub status: Option<String>,
    pub lang: Option<String>,
    pub created_at: Option<String>,
    pub queued_at: Option<String>,
    pub assigned_at: Option<String>,
    pub connected_at: Option<String>,
    pub ends_at: Option<String>,
    pub updated_at: Option<String>,
    #[serde(deserialize_with = "lenient::number")]
    pub queue_duration: Option<f64>,
    #[serde(deserialize_with = "lenient::number")]
    pub call_duration: Option<f64>,
    #[serde(deserialize_with = "lenient::number")]
    pub hold_duration: Option<f64>,
    /// Listed for calls in the metadata file (H); `queue_duration` is the Manager API's.
    #[serde(deserialize_with = "lenient::number")]
    pub wait_duration: Option<f64>,
    /// SDK custom data (R-CF-5): where it reaches an integration is not documented (L).
    pub custom_data: Option<Value>,
    /// A number or a string on the wire.
    #[serde(deserialize_with = "lenient::number")]
    pub rating: Option<f64>,
    pub has_feedback: Option<bool>,
    pub recording_url: Option<String>,
    /// `"not_voicemail"` when the call is no voicemail (H).
    pub voicemail_reason: Option<String>,
    pub sub_status: Option<String>,
    /// `"nothing"` means no failure.
    pub fail_reason: Option<String>,
    pub menu_path: Option<MenuPath>,
    pub selected_menu: Option<MenuRef>,
    pub agent_info: Option<AgentInfo>,
    pub end_user: Option<EndUserRef>,
    pub transfers: Vec<Transfer>,
    pub participants: Vec<Participant>,
    #[serde(deserialize_with = "lenient::text")]
    pub out_ticket_id: Option<String>,
    pub outbound_number: Option<String>,
    pub answer_type: Option<String>,
    /// See [`Call::original_call`].
    #[serde(deserialize_with = "lenient::id")]
    pub previous_call_id: Option<u64>,
    #[serde(deserialize_with = "lenient::id")]
    pub parent_id: Option<u64>,
}

/// Statuses of a finished call or chat (ccai-api.md §2: `finished`, `failed`, `deflected`,
/// chats' `no_response`, `canceled`; the others are values the platform may add, M). Read by the
/// session view and the poller's hint, in this one place.
const ENDED_STATUSES: [&str; 10] = [
    "finished",
    "failed",
    "action_only_finished",
    "deflected",
    "abandoned",
    "dismissed",
    "timeout",
    "ended",
    "no_response",
    "canceled",
];

/// Whether a call's or chat's `status` says it is over.
pub fn is_ended_status(status: &str) -> bool {
    ENDED_STATUSES.contains(&status)
}

/// Call statuses of a voicemail (M: the platform documents "voicemail states", not their names;
/// read here only, and by [`crate::conversation::voicemail_handling`]).
const VOICEMAIL_STATUSES: [&str; 5] = [
    "voicemail",
    "voicemail_received",
    "voicemail_read",
    "voicemail_called_back",
    "voicemail_closed",
];

impl Call {
    /// The call a callback returns (R-U-6). `parent_id` is a documented call field (H) whose
    /// meaning is not; `previous_call_id` is the name the callback link was given to us by
    /// (issue 12) but is not in the field list (L). Both are read here and nowhere else; the
    /// CCAI sandbox serves either (`callback_link`).
    pub fn original_call(&self) -> Option<u64> {
        self.previous_call_id
            .or(self.parent_id)
            .filter(|id| *id != self.id)
    }

    /// A voicemail: a voicemail status, or a `voicemail_reason` other than `not_voicemail`.
    pub fn is_voicemail(&self) -> bool {
        self.status
            .as_deref()
            .is_some_and(|s| VOICEMAIL_STATUSES.contains(&s))
            || self
                .voicemail_reason
                .as_deref()
                .is_some_and(|r| !r.is_empty() && r != "not_voicemail")
    }

    /// The caller's number, from the `end_user` participant when the platform gives one (the
    /// Apps API end user is the fallback, a second call).
    pub fn caller_phone(&self) -> Option<&str> {
        self.participants
            .iter()
            .filter(|p| p.kind.as_deref() == Some("end_user"))
            .find_map(|p| p.phone_number.as_deref())
            .filter(|p| !p.is_empty())
    }

    /// Hung up before any agent answered: "abandoned" is not a status but a failed, never
    /// assigned call (M), or an explicit `abandoned` outcome.
    pub fn is_abandoned(&self) -> bool {
        let status = self.status.as_deref().unwrap_or_default();
        status == "abandoned"
            || self.fail_reason.as_deref() == Some("abandoned")
            || (status == "failed" && self.assigned_at.is_none() && self.agent_info.is_none())
    }

    /// The menu type tells IVR from SDK calls even when `call_type` is unfamiliar.
    pub fn is_sdk(&self) -> bool {
        matches!(
            self.selected_menu
                .as_ref()
                .and_then(|m| m.menu_type.as_deref()),
            Some("mobile_menu" | "web_menu")
        ) || self
            .call_type
            .as_deref()
            .is_some_and(|t| t.contains("(Mobile)") || t.contains("(App)"))
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Chat {
    pub id: u64,
    pub chat_type: Option<String>,
    pub session_type_v2: Option<String>,
    /// SDK custom data (R-CF-5, L).
    pub custom_data: Option<Value>,
    pub status: Option<String>,
    pub lang: Option<String>,
    pub created_at: Option<String>,
    pub assigned_at: Option<String>,
    pub ends_at: Option<String>,
    pub updated_at: Option<String>,
    #[serde(deserialize_with = "lenient::number")]
    pub chat_duration: Option<f64>,
    #[serde(deserialize_with = "lenient::number")]
    pub wait_duration: Option<f64>,
    #[serde(deserialize_with = "lenient::number")]
    pub message_count: Option<f64>,
    #[serde(deserialize_with = "lenient::number")]
    pub rating: Option<f64>,
    pub has_feedback: Option<bool>,
    pub transcript: Option<bool>,
    pub menu_path: Option<MenuPath>,
    pub selected_menu: Option<MenuRef>,
    pub agent_info: Option<AgentInfo>,
    pub end_user: Option<EndUserRef>,
    pub transfers: Vec<Transfer>,
    pub participants: Vec<Participant>,
    #[serde(deserialize_with = "lenient::text")]
    pub out_ticket_id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct StatusRef {
    /// Signed: built-in statuses are 0 and negative (ccai-api.md §2, H).
    #[serde(deserialize_with = "lenient::signed_id")]
    pub id: Option<i64>,
    pub name: Option<String>,
    pub color: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Agent {
    pub id: u64,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub agent_number: Option<String>,
    pub status: Option<StatusRef>,
    pub status_updated_at: Option<String>,
    pub online: Option<bool>,
    pub wrap_up: Option<bool>,
    pub teams: Vec<Value>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct UserStatus {
    /// Signed: Available 0, Unavailable −1 … Offline −10; custom statuses positive. Names
    /// repeat (a custom "Meal" beside the built-in one), so the id is the key (ccai-api.md §2).
    pub id: i64,
    pub name: String,
    pub color: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    pub wfm_id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Menu {
    pub id: u64,
    pub name: Option<String>,
    pub menu_type: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Team {
    pub id: u64,
    pub name: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct EndUser {
    pub id: u64,
    #[serde(deserialize_with = "lenient::text")]
    pub identifier: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// One agent's answer from `POST /apps/api/v1/agent_statuses`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct AgentStatusResult {
    #[serde(deserialize_with = "lenient::id")]
    pub agent_id: Option<u64>,
    pub email: Option<String>,
    pub previous_status: Option<String>,
    pub current_status: Option<String>,
    /// Set when the change was refused for this agent (e.g. in a system status).
    pub message: Option<String>,
}

impl AgentStatusResult {
    pub fn applied(&self) -> bool {
        self.message.as_deref().is_none_or(str::is_empty)
    }
}
