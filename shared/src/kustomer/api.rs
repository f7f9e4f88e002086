//! The typed calls the bridge makes (kustomer-api.md).

use super::client::{
    Attempt, Call, KustomerClient, Lookup, MAX_NOTE_PAGES, encode_segment, notes_of,
};
use super::error::KustomerError;
use super::model::*;
use super::requests::*;
use reqwest::Method;
use serde_json::{Map, Value, json};

/// Lists are read 100 at a time, and never more than this many pages.
const PAGE_SIZE: u32 = 100;
const MAX_PAGES: usize = 50;

fn body(value: &impl serde::Serialize) -> Result<Option<Value>, KustomerError> {
    serde_json::to_value(value)
        .map(Some)
        .map_err(|err| KustomerError::Invalid(err.to_string()))
}

/// E.164: `+`, then 7 to 15 digits, the first not zero.
pub fn is_e164(phone: &str) -> bool {
    phone.strip_prefix('+').is_some_and(|digits| {
        (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

fn require_e164(phone: &str) -> Result<(), KustomerError> {
    if is_e164(phone) {
        Ok(())
    } else {
        Err(KustomerError::Invalid(
            "phone must be E.164 (+ and 7 to 15 digits)".into(),
        ))
    }
}

impl KustomerClient {
    // ---- customers ----

    /// Creates a customer; with an `externalId`, a lost answer is found rather than duplicated.
    pub async fn create_customer(&self, customer: &NewCustomer) -> Result<Customer, KustomerError> {
        Ok(self.create_customer_noting(customer).await?.0)
    }

    /// [`Self::create_customer`], saying whether this request wrote it (`false`: found by its
    /// external id after a lost answer or a conflict — written by someone else, perhaps
    /// without this body's attributes).
    pub async fn create_customer_noting(
        &self,
        customer: &NewCustomer,
    ) -> Result<(Customer, bool), KustomerError> {
        for phone in &customer.phones {
            require_e164(&phone.phone)?;
        }
        let lookup = customer.external_id.as_deref().map(|id| {
            Lookup::Get(Call::get(
                "customer by externalId",
                format!("/v1/customers/externalId={}", encode_segment(id)),
            ))
        });
        self.create_noting(
            Call::new(
                "create customer",
                Method::POST,
                "/v1/customers",
                body(customer)?,
            ),
            lookup,
            Attempt::First,
        )
        .await
    }

    pub async fn customer(&self, id: &str) -> Result<Customer, KustomerError> {
        Ok(self
            .fetch(Call::get(
                "get customer",
                format!("/v1/customers/{}", encode_segment(id)),
            ))
            .await?
            .data)
    }

    pub async fn patch_customer(
        &self,
        id: &str,
        patch: &CustomerPatch,
    ) -> Result<Customer, KustomerError> {
        let call = Call::new(
            "patch customer",
            Method::PATCH,
            format!("/v1/customers/{}", encode_segment(id)),
            body(patch)?,
        );
        Ok(self.fetch(call).await?.data)
    }

    /// `GET /v1/customers/phone={E.164}`, `+` sent as `%2B`; `None` on 404.
    pub async fn customer_by_phone(&self, e164: &str) -> Result<Option<Customer>, KustomerError> {
        require_e164(e164)?;
        self.fetch_optional(Call::get(
            "customer by phone",
            format!("/v1/customers/phone={}", encode_segment(e164)),
        ))
        .await
    }

    pub async fn customer_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<Customer>, KustomerError> {
        self.fetch_optional(Call::get(
            "customer by externalId",
            format!("/v1/customers/externalId={}", encode_segment(external_id)),
        ))
        .await
    }

    pub async fn customer_by_email(&self, email: &str) -> Result<Option<Customer>, KustomerError> {
        self.fetch_optional(Call::get(
            "customer by email",
            format!("/v1/customers/email={}", encode_segment(email)),
        ))
        .await
    }

    /// `POST /v1/customers/search` on `customer_phone`.
    pub async fn search_customers_by_phone(
        &self,
        e164: &str,
    ) -> Result<Vec<Customer>, KustomerError> {
        require_e164(e164)?;
        let query =
            json!({"and": [{"customer_phone": {"equals": e164}}], "queryContext": "customer"});
        let call = Call::new(
            "search customers",
            Method::POST,
            "/v1/customers/search",
            Some(query),
        );
        // A search is a read: safe to repeat.
        let answer = self.execute(&call, true).await?;
        Ok(Self::decode::<Document<Vec<Customer>>>(call.operation, &answer)?.data)
    }

    // ---- conversations ----

    /// Creates a conversation (a first attempt); with an `externalId`, a lost answer is found.
    pub async fn create_conversation(
        &self,
        conversation: &NewConversation,
    ) -> Result<Conversation, KustomerError> {
        self.create_conversation_as(conversation, Attempt::First)
            .await
    }

    /// Creates a conversation; with an `externalId` (`ccai-call-<id>`), a lost answer is found.
    /// `Attempt::Repeat` (an earlier pass began it and its outcome is not recorded) looks it up
    /// by external id first: it is never re-posted blind, whether or not Kustomer answers 409
    /// on a reused conversation `externalId` (undocumented, review finding 7).
    pub async fn create_conversation_as(
        &self,
        conversation: &NewConversation,
        attempt: Attempt,
    ) -> Result<Conversation, KustomerError> {
        Ok(self
            .create_conversation_noting(conversation, attempt)
            .await?
            .0)
    }

    /// [`Self::create_conversation_as`], saying whether this request wrote it (`false`: found
    /// by its external id, as an earlier attempt or another worker wrote it).
    pub async fn create_conversation_noting(
        &self,
        conversation: &NewConversation,
        attempt: Attempt,
    ) -> Result<(Conversation, bool), KustomerError> {
        let lookup = conversation.external_id.as_deref().map(|id| {
            Lookup::Get(Call::get(
                "conversation by externalId",
                format!("/v1/conversations/externalId={}", encode_segment(id)),
            ))
        });
        self.create_noting(
            Call::new(
                "create conversation",
                Method::POST,
                "/v1/conversations",
                body(conversation)?,
            ),
            lookup,
            attempt,
        )
        .await
    }

    pub async fn conversation(&self, id: &str) -> Result<Conversation, KustomerError> {
        Ok(self
            .fetch(Call::get(
                "get conversation",
                format!("/v1/conversations/{}", encode_segment(id)),
            ))
            .await?
            .data)
    }

    pub async fn conversation_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<Conversation>, KustomerError> {
        self.fetch_optional(Call::get(
            "conversation by externalId",
            format!(
                "/v1/conversations/externalId={}",
                encode_segment(external_id)
            ),
        ))
        .await
    }

    /// `POST /v1/conversations/{id}/tags` with tag **names** (kustomer-api.md, revised: a
    /// conversation's `tags` attribute holds tag ids; this call takes names and creates missing
    /// tags). Adding a tag twice is harmless.
    pub async fn tag_conversation(&self, id: &str, names: &[String]) -> Result<(), KustomerError> {
        let call = Call::new(
            "tag conversation",
            Method::POST,
            format!("/v1/conversations/{}/tags", encode_segment(id)),
            Some(json!({ "tags": names })),
        );
        self.execute(&call, true).await.map(drop)
    }

    pub async fn patch_conversation(
        &self,
        id: &str,
        patch: &ConversationPatch,
    ) -> Result<Conversation, KustomerError> {
        let call = Call::new(
            "patch conversation",
            Method::PATCH,
            format!("/v1/conversations/{}", encode_segment(id)),
            body(patch)?,
        );
        Ok(self.fetch(call).await?.data)
    }

    /// All of a customer's conversations, newest first (Kustomer has no sort parameter).
    pub async fn customer_conversations(
        &self,
        customer_id: &str,
    ) -> Result<Vec<Conversation>, KustomerError> {
        let first = Call::get(
            "customer conversations",
            format!(
                "/v1/customers/{}/conversations",
                encode_segment(customer_id)
            ),
        )
        .query("page", 1)
        .query("pageSize", PAGE_SIZE);
        let mut conversations: Vec<Conversation> = self.fetch_all(first, MAX_PAGES).await?;
        // ISO-8601 UTC timestamps of one format sort as text.
        conversations.sort_by(|a, b| b.attributes.created_at.cmp(&a.attributes.created_at));
        Ok(conversations)
    }

    // ---- messages and notes ----

    /// Creates a message, exactly once by its `externalId`: when the answer is lost the
    /// message is looked up (both spellings of the lookup) before anything is sent again, and
    /// with [`Attempt::Repeat`] before the first send.
    pub async fn create_message(
        &self,
        conversation_id: &str,
        message: &NewMessage,
        attempt: Attempt,
    ) -> Result<Message, KustomerError> {
        let lookup = message.external_id.as_ref().map(|id| Lookup::Message {
            external_id: id.clone(),
        });
        let call = Call::new(
            "create message",
            Method::POST,
            format!(
                "/v1/conversations/{}/messages",
                encode_segment(conversation_id)
            ),
            body(message)?,
        );
        self.create(call, lookup, attempt).await
    }

    /// Updates a message's attributes (`PATCH /v1/messages/{id}`, documented in Kustomer's
    /// OpenAPI document as "Update message attributes"; subject to Kustomer's per-object update
    /// limit, whose size is not documented — callers patch only when a value changed).
    pub async fn patch_message(
        &self,
        id: &str,
        patch: &MessagePatch,
    ) -> Result<Message, KustomerError> {
        let call = Call::new(
            "patch message",
            Method::PATCH,
            format!("/v1/messages/{}", encode_segment(id)),
            body(patch)?,
        );
        Ok(self.fetch(call).await?.data)
    }

    /// A message by its external id (either spelling of the lookup).
    pub async fn message_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<Message>, KustomerError> {
        self.find(&Lookup::Message {
            external_id: external_id.to_owned(),
        })
        .await
    }

    /// Creates a note, exactly once by its `externalId`. Kustomer has no note lookup and does
    /// not document a 409 on a reused `externalId` (kustomer-api.md, revised): when the answer
    /// is lost — or, with [`Attempt::Repeat`], before the first send — the conversation's notes
    /// are listed and matched.
    pub async fn create_note(
        &self,
        conversation_id: &str,
        note: &NewNote,
        attempt: Attempt,
    ) -> Result<Note, KustomerError> {
        let lookup = note.external_id.as_ref().map(|id| Lookup::Note {
            conversation_id: conversation_id.to_owned(),
            external_id: id.clone(),
        });
        let call = Call::new(
            "create note",
            Method::POST,
            format!(
                "/v1/conversations/{}/notes",
                encode_segment(conversation_id)
            ),
            body(note)?,
        );
        self.create(call, lookup, attempt).await
    }

    /// The conversation's notes (every page).
    pub async fn conversation_notes(
        &self,
        conversation_id: &str,
    ) -> Result<Vec<Note>, KustomerError> {
        self.fetch_all(notes_of(conversation_id), MAX_NOTE_PAGES)
            .await
    }

    // ---- metadata (custom attributes) ----

    pub async fn metadata(&self, resource: &str) -> Result<Metadata, KustomerError> {
        let call = Call::get(
            "get metadata",
            format!("/v1/metadata/{}", encode_segment(resource)),
        );
        let answer = self.execute(&call, true).await?;
        let value: Value = Self::decode(call.operation, &answer)?;
        Metadata::from_answer(&value).ok_or_else(|| KustomerError::Decode {
            operation: call.operation.into(),
            message: "no properties in the answer".into(),
        })
    }

    /// Adds or updates custom attribute definitions (`PUT`, merging; creating twice is harmless).
    pub async fn put_metadata(
        &self,
        resource: &str,
        properties: &Map<String, Value>,
    ) -> Result<(), KustomerError> {
        let call = Call::new(
            "put metadata",
            Method::PUT,
            format!("/v1/metadata/{}", encode_segment(resource)),
            Some(json!({ "properties": properties })),
        );
        self.execute(&call, true).await.map(drop)
    }

    // ---- users, teams, routing ----

    /// Every user with this e-mail (more than one means a shared address: R-S-3 refuses it).
    pub async fn users_by_email(&self, email: &str) -> Result<Vec<User>, KustomerError> {
        let call = Call::get("users by email", "/v1/users").query("email", email);
        Ok(self.fetch::<Vec<User>>(call).await?.data)
    }

    /// The users with this e-mail that are active (`deleted` false) or deactivated (true):
    /// `GET /v1/users?email=…&deleted=…`. Kustomer deactivates a user by setting `deleted`
    /// (its OpenAPI document, `UpdateUserByIdData`), and its list's `deleted` filter "false
    /// returns only active users", "true returns only deactivated users" (`GetUsersData`; M,
    /// read from that document only: `sign_in::standing` acts only on a positive answer).
    pub async fn users_by_email_and_standing(
        &self,
        email: &str,
        deleted: bool,
    ) -> Result<Vec<User>, KustomerError> {
        let call = Call::get("users by email and standing", "/v1/users")
            .query("email", email)
            .query("deleted", deleted);
        Ok(self.fetch::<Vec<User>>(call).await?.data)
    }

    pub async fn teams(&self) -> Result<Vec<Team>, KustomerError> {
        let first = Call::get("teams", "/v1/teams")
            .query("page", 1)
            .query("pageSize", PAGE_SIZE);
        self.fetch_all(first, MAX_PAGES).await
    }

    pub async fn user_teams(&self, user_id: &str) -> Result<Vec<Team>, KustomerError> {
        Ok(self
            .fetch::<Vec<Team>>(Call::get(
                "user teams",
                format!("/v1/users/{}/teams", encode_segment(user_id)),
            ))
            .await?
            .data)
    }

    pub async fn routing_statuses(&self) -> Result<Vec<RoutingStatus>, KustomerError> {
        let first = Call::get("routing statuses", "/v1/routing/statuses")
            .query("page", 1)
            .query("pageSize", PAGE_SIZE);
        self.fetch_all(first, MAX_PAGES).await
    }

    /// The user's active work session, if they have one: `active=true` is only a filter of
    /// the list, so each record is checked too (no `signedOutAt`); the latest sign-in wins.
    pub async fn active_work_session(
        &self,
        user_id: &str,
    ) -> Result<Option<WorkSession>, KustomerError> {
        let call = Call::get(
            "user work sessions",
            format!(
                "/v1/routing/users/{}/work-sessions",
                encode_segment(user_id)
            ),
        )
        .query("active", true);
        // A 404 on these lists is read as an empty list (undocumented either way).
        let sessions = match self.fetch::<Vec<WorkSession>>(call).await {
            Ok(page) => page.data,
            Err(KustomerError::NotFound { .. }) => return Ok(None),
            Err(err) => return Err(err),
        };
        Ok(sessions
            .into_iter()
            .filter(WorkSession::is_active)
            .max_by(|a, b| a.attributes.signed_in_at.cmp(&b.attributes.signed_in_at)))
    }

    /// Every agent's active work session (`GET /v1/routing/work-sessions?active=true`, paged;
    /// with the API key, not a user's token, the list is the org's: kustomer-api.md,
    /// 2026-12-03, H). Each record is checked too, as `active` is only a filter.
    pub async fn active_work_sessions(&self) -> Result<Vec<WorkSession>, KustomerError> {
        let first = Call::get("active work sessions", "/v1/routing/work-sessions")
            .query("active", true)
            .query("page", 1)
            .query("pageSize", PAGE_SIZE);
        let sessions: Vec<WorkSession> = match self.fetch_all(first, MAX_PAGES).await {
            Ok(sessions) => sessions,
            Err(KustomerError::NotFound { .. }) => Vec::new(),
            Err(err) => return Err(err),
        };
        Ok(sessions
            .into_iter()
            .filter(WorkSession::is_active)
            .collect())
    }

    /// The user's latest work session, signed out or not (`GET
    /// /v1/routing/users/{id}/work-sessions`, every page: the order of the list is not
    /// documented, so the latest sign-in is looked for across all of it). Read only when the
    /// user has no active one: their last status is the signed-out session's.
    pub async fn latest_work_session(
        &self,
        user_id: &str,
    ) -> Result<Option<WorkSession>, KustomerError> {
        let first = Call::get(
            "user work sessions",
            format!(
                "/v1/routing/users/{}/work-sessions",
                encode_segment(user_id)
            ),
        )
        .query("page", 1)
        .query("pageSize", PAGE_SIZE);
        let sessions: Vec<WorkSession> = match self.fetch_all(first, MAX_PAGES).await {
            Ok(sessions) => sessions,
            Err(KustomerError::NotFound { .. }) => return Ok(None),
            Err(err) => return Err(err),
        };
        Ok(sessions
            .into_iter()
            .max_by(|a, b| a.attributes.signed_in_at.cmp(&b.attributes.signed_in_at)))
    }

    pub async fn work_session(&self, id: &str) -> Result<WorkSession, KustomerError> {
        Ok(self
            .fetch(Call::get(
                "get work session",
                format!("/v1/routing/work-sessions/{}", encode_segment(id)),
            ))
            .await?
            .data)
    }

    /// Moves a work session to a routing status (two-way sync, R-S-7, experimental).
    /// `PUT /v1/routing/work-sessions/{id}` is listed by Kustomer but its body is not documented
    /// (kustomer-api.md, L): the guess lives here and nowhere else. With the session's `rev`
    /// (read with it), the update is conditional the way Kustomer's documented update bodies
    /// are (a stale `rev` answers 409): an agent's change made since is not overwritten.
    pub async fn set_work_session_status(
        &self,
        id: &str,
        status_id: &str,
        rev: Option<u64>,
    ) -> Result<WorkSession, KustomerError> {
        let mut body = json!({ "status": status_id });
        if let Some(rev) = rev {
            body["rev"] = json!(rev);
        }
        let call = Call::new(
            "update work session",
            Method::PUT,
            format!("/v1/routing/work-sessions/{}", encode_segment(id)),
            Some(body),
        );
        Ok(self.fetch(call).await?.data)
    }

    // ---- outbound webhooks ----

    /// Registers a webhook; the answer carries its signing token.
    pub async fn create_outbound_webhook(
        &self,
        webhook: &NewOutboundWebhook,
    ) -> Result<OutboundWebhook, KustomerError> {
        self.create(
            Call::new(
                "create outbound webhook",
                Method::POST,
                "/v1/outbound-webhooks",
                body(webhook)?,
            ),
            None,
            Attempt::First,
        )
        .await
    }

    pub async fn outbound_webhooks(&self) -> Result<Vec<OutboundWebhook>, KustomerError> {
        Ok(self
            .fetch::<Vec<OutboundWebhook>>(Call::get("outbound webhooks", "/v1/outbound-webhooks"))
            .await?
            .data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_is_checked_before_any_request() {
        assert!(is_e164("+15550104477"));
        assert!(is_e164("+442079460958"));
        for bad in [
            "15550104477",
            "+0555010447",
            "+1 555 010 4477",
            "+123",
            "+1234567890123456",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }
}
