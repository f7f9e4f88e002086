//! Click-to-call (R-C2C): an agent clicks a customer's number in Kustomer; the bridge
//! normalises it, finds or creates the customer, picks the conversation the call belongs to
//! (the one clicked from, else the customer's open one: R-U-2; none when it is closed, and the
//! call's own session then creates one: R-T-3), and asks CCAI Platform to start the call
//! (`POST /apps/api/v1/calls`, `Voice Outbound (API)`, `ticket_id` = that conversation). The
//! platform's answer is passed back as it came (R-C2C-3); the call's later events are placed in
//! the conversation its `out_ticket_id` names (see `conversation::contact`).

use crate::UnixMillis;
use crate::ccai::{
    CcaiClient, CcaiError, OUTBOUND_API_CALL, OutboundCallOutcome, OutboundCallRequest,
};
use crate::config::CountryCode;
use crate::conversation::contact::current_conversation;
use crate::kustomer::{CustomerDirectory, DirectoryError, KustomerClient, KustomerError};
use crate::phone::{CallerNumber, normalise};
use crate::store::{StateStore, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `POST /click-to-call` (events.md §3).
#[derive(Clone, Debug, Deserialize)]
pub struct ClickRequest {
    /// Ignored when it names the signed-in agent, refused (403) when it names another: the
    /// agent is the session's (R-SEC-1).
    #[serde(default)]
    pub agent_email: Option<String>,
    pub phone: String,
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub conversation_id: Option<String>,
}

/// What the platform made of it, with what the bridge chose.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ClickOutcome {
    /// 201: the call exists.
    Created {
        call_id: u64,
        customer_id: String,
        conversation_id: Option<String>,
    },
    /// 202: the agent confirms the call in the CCAI adapter.
    AgentMustAct {
        customer_id: String,
        conversation_id: Option<String>,
        message: String,
    },
    /// 400 from the platform, with its own words.
    Refused { message: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ClickError {
    /// A field of the request is wrong (400, naming it).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Kustomer: {0}")]
    Kustomer(#[from] KustomerError),
    #[error("Kustomer customer: {0}")]
    Directory(#[from] DirectoryError),
    #[error("CCAI Platform: {0}")]
    Ccai(#[from] CcaiError),
}

impl From<crate::conversation::contact::CurrentError> for ClickError {
    fn from(err: crate::conversation::contact::CurrentError) -> Self {
        match err {
            crate::conversation::contact::CurrentError::Store(e) => ClickError::Store(e),
            crate::conversation::contact::CurrentError::Kustomer(e) => ClickError::Kustomer(e),
        }
    }
}

pub struct ClickToCall {
    pub store: Arc<dyn StateStore>,
    pub kustomer: Arc<KustomerClient>,
    pub ccai: Arc<CcaiClient>,
    /// `DEFAULT_COUNTRY`: national numbers are read in it.
    pub country: CountryCode,
}

impl ClickToCall {
    /// A call for `agent`: the signed-in agent's e-mail, never one the request names.
    pub async fn call(
        &self,
        agent: &str,
        request: &ClickRequest,
        now: UnixMillis,
    ) -> Result<ClickOutcome, ClickError> {
        let agent = agent.trim();
        if agent.is_empty() || !agent.contains('@') {
            return Err(ClickError::Invalid(
                "agent_email: the agent's e-mail address is required".into(),
            ));
        }
        let number = match normalise(&request.phone, &self.country) {
            CallerNumber::E164(number) => number,
            CallerNumber::Unknown { .. } => {
                return Err(ClickError::Invalid(format!(
                    "phone: {:?} is not a phone number (national numbers are read in {})",
                    request.phone,
                    self.country.as_str()
                )));
            }
        };
        let customer_id = match nonempty(&request.customer_id) {
            Some(id) => match self.kustomer.customer(id).await {
                Ok(customer) => customer.id,
                Err(KustomerError::NotFound { .. }) => {
                    return Err(ClickError::Invalid(format!(
                        "customer_id: no Kustomer customer {id}"
                    )));
                }
                Err(err) => return Err(err.into()),
            },
            None => {
                CustomerDirectory::new(&self.kustomer, self.store.as_ref())
                    .customer_for_phone(&number, None, now)
                    .await?
                    .0
            }
        };
        let conversation_id = match nonempty(&request.conversation_id) {
            Some(id) => match self.kustomer.conversation(id).await {
                Ok(conversation) => Some(conversation.id),
                Err(KustomerError::NotFound { .. }) => {
                    return Err(ClickError::Invalid(format!(
                        "conversation_id: no Kustomer conversation {id}"
                    )));
                }
                Err(err) => return Err(err.into()),
            },
            // R-U-2: the customer's latest conversation when it is open; R-T-3 otherwise.
            None => current_conversation(self.store.as_ref(), &self.kustomer, &customer_id, now)
                .await?
                .filter(|c| c.open)
                .map(|c| c.id),
        };
        let outcome = self
            .ccai
            .create_outbound_call(&OutboundCallRequest {
                call_type: OUTBOUND_API_CALL.into(),
                agent_email: agent.to_owned(),
                end_user_number: Some(number),
                ticket_id: conversation_id.clone(),
                ..Default::default()
            })
            .await?;
        // The call's session is placed under the clicked customer, not one found by number
        // (review L6): remembered by the call's id when CCAI gives it.
        if let OutboundCallOutcome::Created(call) = &outcome {
            let clicked = crate::store::Item::new(
                clicked_key(call.id),
                serde_json::json!({"customer_id": customer_id, "conversation_id": conversation_id}),
            )
            .expiring_at(now.plus(std::time::Duration::from_secs(14 * 24 * 3600)));
            self.store.put(&clicked).await?;
        }
        tracing::info!(
            created = matches!(outcome, OutboundCallOutcome::Created(_)),
            with_ticket = conversation_id.is_some(),
            "click-to-call"
        );
        Ok(match outcome {
            OutboundCallOutcome::Created(call) => ClickOutcome::Created {
                call_id: call.id,
                customer_id,
                conversation_id,
            },
            OutboundCallOutcome::AgentMustAct => ClickOutcome::AgentMustAct {
                customer_id,
                conversation_id,
                message: "confirm the call in the CCAI Platform adapter".into(),
            },
            OutboundCallOutcome::Refused { message } => ClickOutcome::Refused { message },
        })
    }
}

/// Where click-to-call records the customer a call was placed for (`SESSION#call#<id>/CLICKED`).
pub fn clicked_key(call_id: u64) -> crate::store::ItemKey {
    crate::store::ItemKey::new(format!("SESSION#call#{call_id}"), "CLICKED")
}

fn nonempty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}
