//! Click-to-call (R-C2C): an agent clicks a customer's number in Kustomer; the bridge
//! normalises it, finds or creates the customer, picks the conversation the call belongs to
//! (the one clicked from, else the customer's open one: R-U-2; none when it is closed, and the
//! call's own session then creates one: R-T-3), and asks CCAI Platform to start the call
//! (`POST /apps/api/v1/calls`, `Voice Outbound (API)`, `ticket_id` = that conversation). The
//! platform's answer is passed back as it came (R-C2C-3); the call's later events are placed in
//! the conversation its `out_ticket_id` names (see `conversation::contact`).
//!
//! Only as the signed-in agent, and only within [`policy`] (R-SEC-2): the clicked customer's
//! own number, a valid number of an allowed country, the customer's own conversation, a rate
//! per agent; every attempt leaves an [`audit`] record.

pub mod audit;
pub mod policy;

use crate::UnixMillis;
use crate::ccai::{
    CcaiClient, CcaiError, OUTBOUND_API_CALL, OutboundCallOutcome, OutboundCallRequest,
};
use crate::config::CountryCode;
use crate::conversation::contact::current_conversation;
use crate::kustomer::{KustomerClient, KustomerError};
use crate::phone::{CallerNumber, normalise};
use crate::store::{StateStore, StoreError};
use audit::{AuditEntry, Caller};
use policy::{CallPolicy, Refusal};
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
    /// The policy does not allow the call (403, or 429 over the agent's rate).
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Kustomer: {0}")]
    Kustomer(#[from] KustomerError),
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
    /// Which calls may be started (`CLICK_TO_CALL_*`).
    pub policy: CallPolicy,
}

impl ClickToCall {
    /// A call for the signed-in agent (`caller`), never one the request names; refused,
    /// counted and audited by the policy (R-SEC-2).
    pub async fn call(
        &self,
        caller: &Caller,
        request: &ClickRequest,
        now: UnixMillis,
    ) -> Result<ClickOutcome, ClickError> {
        let agent = caller.email.trim();
        if agent.is_empty() || !agent.contains('@') {
            return Err(ClickError::Invalid(
                "agent_email: the agent's e-mail address is required".into(),
            ));
        }
        if request.phone.len() > 64 {
            return Err(ClickError::Invalid("phone: at most 64 characters".into()));
        }
        let number = match normalise(&request.phone, &self.country) {
            CallerNumber::E164(number) => number,
            CallerNumber::Unknown { .. } => {
                return Err(ClickError::Invalid(format!(
                    "phone: not a phone number (national numbers are read in {})",
                    self.country.as_str()
                )));
            }
        };
        let Some(customer_id) = nonempty(&request.customer_id).map(str::to_owned) else {
            return Err(ClickError::Invalid(
                "customer_id: required (the customer whose number is clicked)".into(),
            ));
        };
        if !audit::take_attempt(self.store.as_ref(), agent, self.policy.per_hour, now).await? {
            tracing::warn!(session = %caller.session, "click-to-call over the agent's hourly rate");
            return Err(Refusal::Rate(self.policy.per_hour).into());
        }
        let entry = |outcome: &str, conversation: Option<&String>| AuditEntry {
            at: now.to_iso(),
            agent: agent.to_lowercase(),
            session: caller.session.clone(),
            customer_id: Some(customer_id.clone()),
            conversation_id: conversation.cloned(),
            source_ip: caller.source_ip.clone(),
            outcome: outcome.to_owned(),
        };
        let checked = self
            .checked(&number, &customer_id, request.conversation_id.as_deref())
            .await;
        let conversation_id = match checked {
            Ok(conversation) => conversation,
            Err(ClickError::Refused(refusal)) => {
                audit::record(
                    self.store.as_ref(),
                    &entry(&format!("refused: {refusal}"), None),
                    now,
                )
                .await?;
                tracing::warn!(session = %caller.session, refusal = %refusal, "click-to-call refused by the policy");
                return Err(refusal.into());
            }
            Err(err) => return Err(err),
        };
        let conversation_id = match conversation_id {
            Some(id) => Some(id),
            // R-U-2: the customer's latest conversation when it is open; R-T-3 otherwise.
            None => current_conversation(self.store.as_ref(), &self.kustomer, &customer_id, now)
                .await?
                .filter(|c| c.open)
                .map(|c| c.id),
        };
        let answer = self
            .start(agent, &number, &customer_id, conversation_id.clone(), now)
            .await;
        let outcome = match &answer {
            Ok(ClickOutcome::Created { call_id, .. }) => format!("created: call {call_id}"),
            Ok(ClickOutcome::AgentMustAct { .. }) => "agent must act".to_owned(),
            Ok(ClickOutcome::Refused { .. }) => "refused by CCAI Platform".to_owned(),
            Err(_) => "failed".to_owned(),
        };
        audit::record(
            self.store.as_ref(),
            &entry(&outcome, conversation_id.as_ref()),
            now,
        )
        .await?;
        answer
    }

    /// The policy's checks that need Kustomer: the destination, the number among the
    /// customer's phones, the conversation the customer's. Answers the conversation clicked.
    async fn checked(
        &self,
        number: &str,
        customer_id: &str,
        conversation_id: Option<&str>,
    ) -> Result<Option<String>, ClickError> {
        policy::destination(number, &self.policy)?;
        let customer = match self.kustomer.customer(customer_id).await {
            Ok(customer) => customer,
            Err(KustomerError::NotFound { .. }) => {
                return Err(ClickError::Invalid(
                    "customer_id: no such Kustomer customer".into(),
                ));
            }
            Err(err) => return Err(err.into()),
        };
        let phones = customer.attributes.phones.iter().map(|p| p.phone.as_str());
        if !policy::among_phones(number, phones, &self.country) {
            return Err(Refusal::NotTheCustomers.into());
        }
        let Some(id) = conversation_id.map(str::trim).filter(|id| !id.is_empty()) else {
            return Ok(None);
        };
        match self.kustomer.conversation(id).await {
            Ok(conversation) if conversation.customer_id() == Some(customer.id.as_str()) => {
                Ok(Some(conversation.id))
            }
            Ok(_) => Err(Refusal::OtherCustomersConversation.into()),
            Err(KustomerError::NotFound { .. }) => Err(ClickError::Invalid(
                "conversation_id: no such Kustomer conversation".into(),
            )),
            Err(err) => Err(err.into()),
        }
    }

    /// Asks CCAI Platform to start the call and remembers the clicked customer for its session.
    async fn start(
        &self,
        agent: &str,
        number: &str,
        customer_id: &str,
        conversation_id: Option<String>,
        now: UnixMillis,
    ) -> Result<ClickOutcome, ClickError> {
        let customer_id = customer_id.to_owned();
        let number = number.to_owned();
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

/// Where click-to-call records the customer a call was placed for (`CLICKED#call#<id>/CUSTOMER`).
/// A partition of its own, not the call's session's: the status function's role may write
/// this and no session's link (review S10). Until 2026-12-06 it was `SESSION#call#<id>/CLICKED`;
/// a call clicked before an upgrade and synced after it is placed through its ticket (the
/// clicked conversation) when it had one, else by its number, as an outbound call is.
pub fn clicked_key(call_id: u64) -> crate::store::ItemKey {
    crate::store::ItemKey::new(format!("CLICKED#call#{call_id}"), "CUSTOMER")
}

fn nonempty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}
