//! Shadow mode's pass (`BRIDGE_MODE=shadow`, R-F-2): the live pass's decisions, with reads
//! only. The session's customer is looked up as the live pass looks it up (and would be
//! created when none is found); its placement is decided by the same rules (`place_session`)
//! against the conversations earlier plans would have made; its message's custom values, its
//! notes and its assignee are computed as the live pass computes them. Nothing is written to
//! Kustomer or CCAI: the plan is kept in the table (`crate::shadow::plan`) for the comparison
//! report.
//!
//! What a plan cannot know: whether a conversation it would have made is still open. It takes
//! the status of the conversation Kustomer shows for that session (CCAI's own connector writes
//! one while it is on), found as the comparison finds it (`shadow::compare::counterpart`); with
//! none, open.

use super::contact::{Assignee, CallerMemo, ContactError, ContactSync};
use super::{Channel, CurrentConversation, Origin, Placement, SessionView, place_session};
use crate::UnixMillis;
use crate::custom_fields::{FieldSettings, custom_values};
use crate::events::{SessionKind, SessionRef};
use crate::kustomer::KustomerError;
use crate::kustomer::{CustomerDirectory, identifier_external_id, phone_external_id};
use crate::phone::CallerNumber;
use crate::shadow::compare::{Observed, Seen, counterpart};
use crate::shadow::plan::{
    self, PlannedConversation, PlannedCustomer, SessionPlan, current_key, planned_name,
};
use crate::store::Item;
use serde_json::json;

/// How the session's customer is found, which names its shadow records: the same caller is
/// the same customer whether or not Kustomer had them when a plan was made.
fn customer_handle(customer: &PlannedCustomer, phone: Option<&str>, view: &SessionView) -> String {
    if let Some(phone) = phone {
        return format!("phone:{phone}");
    }
    if view.by_identifier()
        && let Some(identifier) = &view.identifier
    {
        return format!("identifier:{identifier}");
    }
    customer.key().unwrap_or_default()
}

impl ContactSync<'_> {
    /// The session's plan: kept and returned. Level-triggered like the live pass: each
    /// trigger plans again from the session's truth; a customer and a placement once decided
    /// are kept.
    pub async fn plan(
        &self,
        view: &SessionView,
        now: UnixMillis,
    ) -> Result<SessionPlan, ContactError> {
        let session = SessionRef {
            kind: view.kind,
            id: view.id,
        };
        let kept = plan::load(self.store, &session, now).await?;
        let memo = CallerMemo::default();
        let (customer, phone) = match &kept {
            Some(kept) if !matches!(kept.customer, PlannedCustomer::Waiting { .. }) => {
                (kept.customer.clone(), kept.phone.clone())
            }
            _ => self.planned_customer(view, &memo, now).await?,
        };
        let conversation = match &kept {
            Some(kept) if kept.conversation.decided() => kept.conversation.clone(),
            _ if matches!(customer, PlannedCustomer::Waiting { .. }) => PlannedConversation::NotYet,
            _ => {
                let handle = customer_handle(&customer, phone.as_deref(), view);
                self.planned_placement(view, &customer, &handle, now)
                    .await?
            }
        };
        let (assignee, assignee_error) = match view.agent {
            Some(agent) => match self.kustomer_user(agent, now).await? {
                Assignee::User(user, _) => (Some(user), None),
                Assignee::Unresolved(reason) => (None, Some(reason)),
            },
            None => (None, None),
        };
        let settings = FieldSettings::load(self.store, now).await?;
        let values = custom_values(&view.field_values(phone.as_deref()), &settings);
        let mut notes = Vec::new();
        if matches!(conversation, PlannedConversation::Create { .. }) && phone.is_some() {
            notes.push("phone".to_owned());
        }
        let updates = super::session_notes(&view.notes);
        notes.extend(updates.iter().map(|u| u.purpose.clone()));
        let plan = SessionPlan {
            kind: view.kind,
            id: view.id,
            started_at: view.started_at.clone(),
            channel: match view.facts.channel {
                Channel::Voice => "voice",
                Channel::Chat => "chat",
            }
            .to_owned(),
            // Over, with its end time: not a voicemail still being left (the session would be
            // left to shadow mode after the switch, and nobody would log its end).
            ended: view.ended && view.ended_at.is_some(),
            customer,
            phone,
            conversation,
            assignee,
            assignee_error,
            custom: values.message,
            notes,
            close: updates.iter().any(|u| u.close),
            planned_at: now.0,
        };
        plan::save(self.store, &plan, now).await?;
        Ok(plan)
    }

    /// The customer as the live pass would find or create it, with the caller's number when
    /// it is looked up by it.
    async fn planned_customer(
        &self,
        view: &SessionView,
        memo: &CallerMemo,
        now: UnixMillis,
    ) -> Result<(PlannedCustomer, Option<String>), ContactError> {
        if let Some(id) = self.clicked_customer(view, now).await? {
            return Ok((PlannedCustomer::Existing { id }, None));
        }
        let directory = CustomerDirectory::new(self.kustomer, self.store);
        if view.by_identifier()
            && let Some(identifier) = &view.identifier
        {
            let customer = match directory.known_identifier(identifier, now).await? {
                Some((id, _)) => PlannedCustomer::Existing { id },
                None => PlannedCustomer::Create {
                    external_id: identifier_external_id(identifier),
                },
            };
            return Ok((customer, None));
        }
        Ok(match self.caller(view, memo).await? {
            Some(CallerNumber::E164(phone)) => {
                let customer = match directory.known_phone(phone, now).await? {
                    Some((id, _)) => PlannedCustomer::Existing { id },
                    None => PlannedCustomer::Create {
                        external_id: phone_external_id(phone),
                    },
                };
                (customer, Some(phone.clone()))
            }
            Some(CallerNumber::Unknown { .. }) => (
                PlannedCustomer::Create {
                    external_id: format!("{}-unknown-caller", view.external_id()),
                },
                None,
            ),
            None => (
                PlannedCustomer::Waiting {
                    reason: "the caller's number or an SDK identifier".into(),
                },
                None,
            ),
        })
    }

    /// Where the live pass would place the session, against the conversations earlier plans
    /// would have made.
    async fn planned_placement(
        &self,
        view: &SessionView,
        customer: &PlannedCustomer,
        handle: &str,
        now: UnixMillis,
    ) -> Result<PlannedConversation, ContactError> {
        if let Some(ticket) = &view.ticket {
            match self.kustomer.conversation(ticket).await {
                Ok(conversation) => {
                    return Ok(PlannedConversation::Append {
                        conversation: conversation.id,
                    });
                }
                Err(KustomerError::NotFound { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        let current = match self.store.get(&current_key(handle), now).await? {
            Some(item) => {
                let since = item.body["started_ms"].as_i64().unwrap_or_default();
                Some(CurrentConversation {
                    id: item.body["conversation"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    open: self.counterpart_open(customer, since).await?,
                    channel: serde_json::from_value(item.body["channel"].clone())
                        .unwrap_or(Channel::Voice),
                    menu: item.body["menu"].as_str().map(str::to_owned),
                })
            }
            None => None,
        };
        let original = match view
            .original_call
            .filter(|_| view.facts.origin == Origin::Outbound)
        {
            Some(original) => {
                let session = SessionRef {
                    kind: SessionKind::Call,
                    id: original,
                };
                plan::load(self.store, &session, now)
                    .await?
                    .and_then(|p| p.conversation.conversation().map(str::to_owned))
                    .map(|id| CurrentConversation {
                        id,
                        open: true,
                        channel: Channel::Voice,
                        menu: None,
                    })
            }
            None => None,
        };
        Ok(
            match place_session(&view.facts, current.as_ref(), original.as_ref()) {
                Placement::NotYet => PlannedConversation::NotYet,
                Placement::Append { conversation_id } => PlannedConversation::Append {
                    conversation: conversation_id,
                },
                Placement::Create { voicemail } => {
                    let name = planned_name(&view.external_id());
                    if !voicemail {
                        let record = json!({
                            "conversation": name,
                            "channel": view.facts.channel,
                            "menu": view.facts.menu,
                            "started_ms": view.started_millis().unwrap_or(now.0),
                        });
                        self.store
                            .put(
                                &Item::new(current_key(handle), record)
                                    .expiring_at(now.plus(plan::KEEP_FOR)),
                            )
                            .await?;
                    }
                    PlannedConversation::Create { voicemail, name }
                }
            },
        )
    }

    /// Whether the conversation a plan made at `since` (ms) is still open: the status of the
    /// one Kustomer shows for that session, when the customer is in Kustomer.
    async fn counterpart_open(
        &self,
        customer: &PlannedCustomer,
        since: i64,
    ) -> Result<bool, ContactError> {
        let PlannedCustomer::Existing { id } = customer else {
            return Ok(true);
        };
        let conversations = match self.kustomer.customer_conversations(id).await {
            Ok(conversations) => conversations,
            Err(KustomerError::NotFound { .. }) => return Ok(true),
            Err(err) => return Err(err.into()),
        };
        // The comparison's rule for the conversation Kustomer shows for a session.
        let observed = Observed {
            customer: Some(id.clone()),
            conversations: conversations.into_iter().filter_map(Seen::of).collect(),
        };
        Ok(counterpart(&observed, since).is_none_or(|c| c.open))
    }
}
