//! The typed calls the bridge makes (ccai-api.md).

use super::client::{CcaiClient, platform_message};
use super::error::CcaiError;
use super::model::*;
use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

const MANAGER: &str = "/manager/api/v1";
const APPS: &str = "/apps/api/v1";
const PER_PAGE: u32 = 100;
const MAX_PAGES: usize = 200;

/// `POST /apps/api/v1/calls`.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct OutboundCallRequest {
    pub call_type: String,
    pub agent_email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_user_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbound_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

/// The call type of click-to-call (R-C2C-2).
pub const OUTBOUND_API_CALL: &str = "Voice Outbound (API)";

/// What the platform made of an outbound call request (R-C2C-3).
#[derive(Clone, Debug, PartialEq)]
pub enum OutboundCallOutcome {
    /// 201: the call exists.
    Created(Box<Call>),
    /// 202: the agent must act in the adapter.
    AgentMustAct,
    /// 400: the platform's own message ("Agent is not available to take this call", …).
    Refused { message: String },
}

fn iso(timestamp: &chrono::DateTime<chrono::Utc>) -> String {
    timestamp.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Encodes a query value (`updated_at[from]` carries `:` and `+`).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Records per page of a tail read (the platform's maximum, H).
pub const TAIL_PAGE: usize = PER_PAGE as usize;

fn tail_path(list: &str, from: chrono::DateTime<chrono::Utc>, page: u32) -> String {
    format!(
        "{MANAGER}/{list}?updated_at%5Bfrom%5D={}&sort_column=updated_at&sort_direction=asc&per={PER_PAGE}&page={page}",
        encode(&iso(&from))
    )
}

impl CcaiClient {
    pub async fn call(&self, id: u64) -> Result<Call, CcaiError> {
        self.get("get call", &format!("{MANAGER}/calls/{id}")).await
    }

    pub async fn chat(&self, id: u64) -> Result<Chat, CcaiError> {
        self.get("get chat", &format!("{MANAGER}/chats/{id}")).await
    }

    /// The call as sent, for keeping (`conversation::truth`).
    pub async fn call_object(&self, id: u64) -> Result<Value, CcaiError> {
        self.get("get call", &format!("{MANAGER}/calls/{id}")).await
    }

    /// The chat as sent, for keeping (`conversation::truth`).
    pub async fn chat_object(&self, id: u64) -> Result<Value, CcaiError> {
        self.get("get chat", &format!("{MANAGER}/chats/{id}")).await
    }

    /// One page of the calls updated at or after `from`, oldest first: the tail read Google
    /// recommends (ccai-api.md §2, H). Paging a list that changes while it is read skips
    /// records; a reader repeats from the last record's `updated_at` instead, with `page` > 1
    /// only when a whole page shares one `updated_at`.
    pub async fn calls_page(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        page: u32,
    ) -> Result<Vec<Call>, CcaiError> {
        self.get("list calls", &tail_path("calls", from, page))
            .await
    }

    /// One page of the chats updated at or after `from`, oldest first (see [`Self::calls_page`]).
    pub async fn chats_page(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        page: u32,
    ) -> Result<Vec<Chat>, CcaiError> {
        self.get("list chats", &tail_path("chats", from, page))
            .await
    }

    pub async fn agents(&self) -> Result<Vec<Agent>, CcaiError> {
        Ok(self
            .get_all(
                "list agents",
                &format!("{MANAGER}/agents?per={PER_PAGE}&page=1"),
                MAX_PAGES,
            )
            .await?
            .0)
    }

    pub async fn agent(&self, id: u64) -> Result<Agent, CcaiError> {
        self.get("get agent", &format!("{MANAGER}/agents/{id}"))
            .await
    }

    /// Agents whose e-mail matches, case-insensitively (the API has no e-mail filter: list and
    /// match). More than one means a shared address, which R-S-3 refuses.
    pub async fn agents_by_email(&self, email: &str) -> Result<Vec<Agent>, CcaiError> {
        let wanted = email.trim();
        Ok(self
            .agents()
            .await?
            .into_iter()
            .filter(|a| {
                a.email
                    .as_deref()
                    .is_some_and(|e| e.trim().eq_ignore_ascii_case(wanted))
            })
            .collect())
    }

    pub async fn user_statuses(&self) -> Result<Vec<UserStatus>, CcaiError> {
        Ok(self
            .get_all(
                "user statuses",
                &format!("{MANAGER}/user_statuses?per={PER_PAGE}&page=1"),
                MAX_PAGES,
            )
            .await?
            .0)
    }

    pub async fn menus(&self) -> Result<Vec<Menu>, CcaiError> {
        Ok(self
            .get_all(
                "menus",
                &format!("{MANAGER}/menus?per={PER_PAGE}&page=1"),
                MAX_PAGES,
            )
            .await?
            .0)
    }

    pub async fn teams(&self) -> Result<Vec<Team>, CcaiError> {
        Ok(self
            .get_all(
                "teams",
                &format!("{MANAGER}/teams?per={PER_PAGE}&page=1"),
                MAX_PAGES,
            )
            .await?
            .0)
    }

    /// A cheap authenticated call: `Ok` when the credentials work.
    pub async fn check_credentials(&self) -> Result<(), CcaiError> {
        self.get::<Value>(
            "check credentials",
            &format!("{MANAGER}/settings/organization"),
        )
        .await
        .map(drop)
    }

    /// Sets one or more agents' status by its name; one result per agent, a refusal (e.g. an
    /// agent in In-call) carried in that agent's `message`. Setting a status twice is harmless,
    /// so the call is retried on unknown outcomes.
    pub async fn set_agent_status(
        &self,
        status_name: &str,
        agent_ids: &[u64],
    ) -> Result<Vec<AgentStatusResult>, CcaiError> {
        let body = json!({"status": status_name, "agent_ids": agent_ids, "team_ids": []});
        let answer = self
            .send(
                "set agent status",
                Method::POST,
                &format!("{APPS}/agent_statuses"),
                Some(&body),
                true,
            )
            .await?;
        Self::decode("set agent status", &answer.body)
    }

    /// Starts an outbound call. Never repeated on an unknown outcome: a second call would ring
    /// the customer twice.
    pub async fn create_outbound_call(
        &self,
        request: &OutboundCallRequest,
    ) -> Result<OutboundCallOutcome, CcaiError> {
        let body = serde_json::to_value(request).map_err(|e| CcaiError::Invalid(e.to_string()))?;
        match self
            .send(
                "create call",
                Method::POST,
                &format!("{APPS}/calls"),
                Some(&body),
                false,
            )
            .await
        {
            Ok(answer) if answer.body.is_empty() => Ok(OutboundCallOutcome::AgentMustAct),
            Ok(answer) => match serde_json::from_slice::<Call>(&answer.body) {
                Ok(call) if call.id != 0 => Ok(OutboundCallOutcome::Created(Box::new(call))),
                // 202 has no call object.
                _ => Ok(OutboundCallOutcome::AgentMustAct),
            },
            Err(CcaiError::Client {
                status: 400,
                message,
                ..
            }) => Ok(OutboundCallOutcome::Refused { message }),
            Err(err) => Err(err),
        }
    }

    /// The Apps API end user (for the caller's phone when no participant carries it).
    pub async fn end_user(&self, id: u64) -> Result<Option<EndUser>, CcaiError> {
        let users: Value = match self
            .get("get end user", &format!("{APPS}/end_users?id={id}"))
            .await
        {
            Ok(value) => value,
            Err(CcaiError::NotFound { .. }) => return Ok(None),
            Err(err) => return Err(err),
        };
        // Tolerate an object or a one-element array.
        let user = match users {
            Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
            Value::Array(_) => return Ok(None),
            other => other,
        };
        serde_json::from_value(user)
            .map(Some)
            .map_err(|e| CcaiError::Decode {
                operation: "get end user".into(),
                message: e.to_string(),
            })
    }
}

/// The platform's message when an answer is an error; for tests and logs.
pub fn message_of(body: &[u8]) -> String {
    platform_message(body)
}
