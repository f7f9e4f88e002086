//! Contact sync for one session: the customer (R-K-1, R-K-2), the conversation it belongs to
//! (R-T, R-U-1, R-U-2 by [`placed_by_rule`]), its assignee (R-U-12, R-U-4), a new customer's
//! assignment (R-K-3), and the caller's phone number as a note (R-D-2).
//!
//! Each step is idempotent on its own: customers and conversations carry external ids (a lost
//! answer is found, never created twice), and the session link (`SESSION#…/LINK`) records what
//! has been written, so a redelivered or retried event repeats nothing.

use super::SessionView;
use super::held_lock::{HeldLock, LockError};
use crate::UnixMillis;
use crate::ccai::CcaiClient;
use crate::config::CountryCode;
use crate::conversation::{Channel, CurrentConversation, Origin, Placement, placed_by_rule};
use crate::events::SessionKind;
use crate::kustomer::requests::{
    ConversationPatch, CustomerPatch, NewConversation, NewCustomer, NewMessage, NewNote,
};
use crate::kustomer::without_rate_waits;
use crate::kustomer::{
    Attempt, CustomerDirectory, KustomerClient, KustomerError, Resolved, identifier_external_id,
    phone_external_id,
};
use crate::phone::{CallerNumber, normalise};
use crate::status::sync::StatusService;
use crate::store::{Item, ItemKey, StateStore, StoreError};
use std::time::Duration;

/// The caller's number of one pass, once read.
pub(super) type CallerMemo = tokio::sync::OnceCell<Option<CallerNumber>>;

/// The name of a customer whose caller id was withheld, anonymous or not a number (issue 14).
pub const UNKNOWN_CALLER: &str = "Unknown caller";
/// The tag on such a caller's conversation (Kustomer tags conversations by name through the
/// tags call; customers have no documented tag call).
pub const UNKNOWN_CALLER_TAG: &str = "ccai-unknown-caller";

/// The customer attribute R-K-3 records the agent in (provisioned by the bridge).
pub const ASSIGNED_AGENT_ATTRIBUTE: &str = "ccaiAssignedAgentStr";

/// How long a placement may hold the customer's lock (it expires on its own after a crash).
const PLACEMENT_LOCK: Duration = Duration::from_secs(30);
/// How long another session of the customer waits for it, and how often it looks.
const PLACEMENT_WAIT: Duration = Duration::from_secs(5);
const PLACEMENT_POLL: Duration = Duration::from_millis(50);
/// How often one pass waits out a Kustomer rate limit (lock released) before it fails.
const MAX_RATE_PAUSES: u32 = 3;
/// How long a callback waits for the call it returns to be placed (R-U-6).
const CALLBACK_WAIT: Duration = Duration::from_secs(10 * 60);
use crate::custom_fields::{FieldSettings, custom_values};
use crate::kustomer::requests::MessagePatch;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("CCAI: {0}")]
    Ccai(#[from] crate::ccai::CcaiError),
    #[error("Kustomer: {0}")]
    Kustomer(#[from] KustomerError),
    #[error("Kustomer customer: {0}")]
    Directory(#[from] crate::kustomer::DirectoryError),
    #[error(transparent)]
    Status(#[from] crate::status::sync::StatusError),
    /// A callback waits for the call it returns to be placed; the retry finds it placed.
    #[error("busy: {0}")]
    Busy(String),
    /// The session's or the customer's lock is held by another worker, or ours ran out.
    #[error("lock: {0}")]
    Lock(#[from] LockError),
}

impl crate::Retryable for ContactError {
    fn is_retryable(&self) -> bool {
        match self {
            ContactError::Store(e) => e.is_retryable(),
            ContactError::Ccai(e) => e.is_retryable(),
            ContactError::Kustomer(e) => e.is_retryable(),
            ContactError::Directory(e) => e.is_retryable(),
            ContactError::Status(e) => e.is_retryable(),
            ContactError::Busy(_) => true,
            ContactError::Lock(LockError::Store(e)) => e.is_retryable(),
            ContactError::Lock(_) => true,
        }
    }
}

impl ContactError {
    /// The Kustomer error underneath, if any (to find a 429 left for the caller to wait out).
    fn kustomer(&self) -> Option<&KustomerError> {
        match self {
            ContactError::Kustomer(e)
            | ContactError::Directory(crate::kustomer::DirectoryError::Kustomer(e))
            | ContactError::Status(crate::status::sync::StatusError::Kustomer(e)) => Some(e),
            _ => None,
        }
    }
}

/// What the bridge has written for one session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionLink {
    pub customer_id: Option<String>,
    /// The session is in its customer's session list (`CUSTOMER#<id>/SESSION#…`, the admin's
    /// search): links recorded before the list existed are listed by their next pass.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub listed: bool,
    /// The bridge created the customer for this session (R-K-3 applies).
    #[serde(default)]
    pub customer_created: bool,
    #[serde(default)]
    pub customer_assigned: bool,
    pub conversation_id: Option<String>,
    #[serde(default)]
    pub conversation_created: bool,
    pub assigned_user: Option<String>,
    #[serde(default)]
    pub phone_note: bool,
    /// The session's own voice or chat message (R-D-1, R-CF-4) is written.
    #[serde(default)]
    pub session_message: bool,
    /// It was written before the caller's number was known (a pass without the ESE item or
    /// the metadata file that carries it): the pass that learns the number completes its
    /// `meta` and preview (R-D-1). Never set for a caller known to give no number.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub message_lacks_caller: bool,
    /// The `meta` the message holds (kept while it lacks the caller's number): the completion
    /// sends it whole with the number added, never dropping what an earlier pass wrote.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub message_meta: Map<String, Value>,
    /// Its Kustomer id (links written before custom fields lack it: found by external id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The custom attributes the message carries (R-CF-4), to add what arrives later.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub message_custom: Map<String, Value>,
    /// The custom attributes written on the customer (`custom_user_id`, R-CF-4).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub customer_custom: Map<String, Value>,
    /// Purposes of the session notes written (R-U-10, R-U-11, wrap-up: `csat`, …).
    #[serde(default)]
    pub notes: Vec<String>,
    /// The conversation was closed for the session (a closed voicemail).
    #[serde(default)]
    pub closed: bool,
    /// External ids of notes and messages whose request was about to be sent and whose
    /// outcome is not recorded: a later pass looks for them before writing (exactly once
    /// without relying on an undocumented 409).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub begun: Vec<String>,
    /// The caller id as reported when it was withheld, anonymous or not a number (the
    /// session's "Unknown caller" customer); kept here, never logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_caller: Option<String>,
    /// Why the session's agent could not be assigned (finding 4), for the admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_error: Option<String>,
    /// What the session waits for before it can be placed, and since when (ms): a session that
    /// cannot progress says why (`GET /admin/sessions/{kind}/{id}`, findings 2 and 13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Waiting>,
    /// Why a metadata file found for the session was not used (its content names another).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_refused: Option<String>,
    /// The conversation this session created carries its tags (a step of its own, after the
    /// conversation is recorded: a refused tags call never re-creates it, finding 7).
    #[serde(default)]
    pub tagged: bool,
    /// Why tagging was refused for good (the API key's role may not create tags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_error: Option<String>,
    /// The Kustomer user whose assignment Kustomer refused for good (the reason is in
    /// `assignee_error`): not asked again unless the session's agent changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign_refused: Option<String>,
    /// Why the customer's agent attribute (R-K-3) was refused for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_assign_error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    pub reason: String,
    pub since: i64,
}

/// What a session message says of its caller, sent again once the number is known.
struct MessageCaller {
    meta: Map<String, Value>,
    preview: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct CurrentRecord {
    conversation_id: String,
    channel: Channel,
    menu: Option<String>,
}

/// What one pass changed, for the log and the worker's outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ContactOutcome {
    pub customer_created: bool,
    pub conversation_created: bool,
    pub appended_to: Option<String>,
    pub assigned: Option<String>,
    pub customer_assigned: bool,
    pub phone_note: bool,
    pub session_message: bool,
    /// Custom attributes this pass wrote on the message after creating it (R-CF-4).
    pub message_fields_updated: Vec<String>,
    /// This pass added the caller's number to a message written without it (R-D-1).
    pub message_caller_added: bool,
    pub customer_fields_updated: bool,
    /// Session notes written by this pass (their purposes).
    pub notes: Vec<String>,
    pub closed: bool,
    /// What the session waits for before it can be placed (no customer known yet).
    pub waiting_for: Option<String>,
    /// Why the session's agent was not assigned (finding 4).
    pub assignee_error: Option<String>,
}

impl ContactOutcome {
    pub fn changed_anything(&self) -> bool {
        Self {
            waiting_for: None,
            assignee_error: None,
            ..self.clone()
        } != Self::default()
    }
}

pub struct ContactSync<'a> {
    pub store: &'a dyn StateStore,
    pub kustomer: &'a KustomerClient,
    pub ccai: &'a CcaiClient,
    pub status: &'a StatusService,
    /// `DEFAULT_COUNTRY`: national caller numbers are read in it.
    pub country: &'a CountryCode,
    /// `AUDIT_DAYS`: a session's entry in its customer's session list is kept as long as its
    /// timeline.
    pub audit_kept: Duration,
}

/// Whether a read of a record says Kustomer no longer has it (404).
fn gone(answer: Result<(), KustomerError>) -> Result<bool, ContactError> {
    match answer {
        Ok(()) => Ok(false),
        Err(KustomerError::NotFound { .. }) => Ok(true),
        Err(err) => Err(ContactError::from(err)),
    }
}

/// A record the session's link names that Kustomer no longer has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GoneRecord {
    /// The customer, and its conversation with it (or none was placed yet).
    Customer(String),
    /// The customer, merged `into` another that now holds the session's conversation: the
    /// conversation and what it holds stand. What a merge does is not documented (no source
    /// in kustomer-api.md; L): the sandbox plays it as a gone id (404) whose conversations
    /// name the survivor (`merge_customers`). Should Kustomer leave the conversation naming
    /// the merged id, this reads as [`GoneRecord::Customer`], the behaviour before.
    Merged {
        customer: String,
        into: String,
    },
    Conversation(String),
}

/// What Kustomer says of the session's conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum ConversationState {
    Gone,
    /// It stands, under this customer.
    Under(Option<String>),
}

/// What Kustomer says now of the records a session's link names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Standing {
    pub customer_gone: bool,
    /// `None`: the link names no conversation.
    pub conversation: Option<ConversationState>,
}

impl GoneRecord {
    /// Which record the pass forgets after a lasting refusal, from what Kustomer says of the
    /// link's records: the customer first (merged, when its conversation stands under
    /// another), else the conversation.
    pub(super) fn of(link: &SessionLink, standing: &Standing) -> Option<GoneRecord> {
        if standing.customer_gone
            && let Some(customer) = &link.customer_id
        {
            return Some(match &standing.conversation {
                Some(ConversationState::Under(Some(into))) if into != customer => {
                    GoneRecord::Merged {
                        customer: customer.clone(),
                        into: into.clone(),
                    }
                }
                _ => GoneRecord::Customer(customer.clone()),
            });
        }
        match (&standing.conversation, &link.conversation_id) {
            (Some(ConversationState::Gone), Some(id)) => Some(GoneRecord::Conversation(id.clone())),
            _ => None,
        }
    }
}

/// Which steps of the pass are still due, by what the link records: one set of conditions for
/// the live pass and its dry run ([`super::preview`]), so the dry run lists what the pass does.
impl SessionLink {
    /// The conversation this session created is to be tagged (once; a refusal is not asked
    /// again).
    pub fn tag_due(&self) -> bool {
        self.conversation_created && !self.tagged && self.tag_error.is_none()
    }

    /// The caller's number as a note (R-D-2): once, by the session that created the
    /// conversation, when the number is known.
    pub fn phone_note_due(&self, phone_known: bool) -> bool {
        self.conversation_created && !self.phone_note && phone_known
    }

    /// The session's note of `purpose` (R-U-10, R-U-11, wrap-up) is not written yet.
    pub fn note_due(&self, purpose: &str) -> bool {
        !self.notes.iter().any(|written| written == purpose)
    }

    /// The conversation is to be assigned to `user`: not assigned to them, and not refused
    /// for them before (not asked again).
    pub fn assignment_due(&self, user: &str) -> bool {
        self.assign_refused.as_deref() != Some(user) && self.assigned_user.as_deref() != Some(user)
    }

    /// R-K-3: a customer the bridge created for the session is to get the answering agent.
    pub fn customer_agent_due(&self) -> bool {
        self.customer_created && !self.customer_assigned && self.customer_assign_error.is_none()
    }
}

impl SessionLink {
    /// The customer the session is under becomes `next` (none: resolved again); what was
    /// written on the gone one goes with it, so the next gets its own (R-CF-4, R-K-3).
    fn forget_customer(&mut self, next: Option<&String>) {
        self.customer_id = next.cloned();
        self.listed = false;
        self.customer_created = false;
        self.customer_assigned = false;
        self.customer_custom.clear();
        self.customer_assign_error = None;
    }

    /// Forgets what `gone` takes with it, so the pass resolves the customer (when it is the
    /// customer) and places the session again.
    pub fn forget_placement(&mut self, gone: &GoneRecord) {
        match gone {
            GoneRecord::Customer(_) => self.forget_customer(None),
            // The session stays where it is, under the customer that now holds it (not the
            // bridge's creation: R-K-3 is not its to follow).
            GoneRecord::Merged { into, .. } => return self.forget_customer(Some(into)),
            GoneRecord::Conversation(_) => {}
        }
        self.conversation_id = None;
        // What was written belongs to the gone conversation: the new one gets its own.
        self.conversation_created = false;
        self.assigned_user = None;
        self.phone_note = false;
        self.session_message = false;
        self.message_lacks_caller = false;
        self.message_meta.clear();
        self.message_id = None;
        self.message_custom.clear();
        self.notes.clear();
        self.closed = false;
        self.begun.clear();
        self.tagged = false;
        self.tag_error = None;
    }
}

/// Marks, in a link's `begun`, the creation of the session's customer (followed by the
/// customer's `externalId`): its answer can be lost after Kustomer created it.
const CUSTOMER_BEGUN: &str = "customer:";

/// How a customer found by lookup counts for R-K-3: as created by this session when this
/// session began creating it (`marker` in `begun`) and the answer never came back — the
/// customer found is the one it created, so the agent still follows (soak, issue 25).
fn ours(link: &SessionLink, marker: &str, resolved: Resolved) -> Resolved {
    if link.begun.iter().any(|b| b == marker) {
        Resolved::Created
    } else {
        resolved
    }
}

/// Whether this session began creating the customer of `external_id` and never heard back
/// (see [`ours`]): the dry run counts such a customer as the session's own, as the pass does.
pub(super) fn began_creating(link: &SessionLink, external_id: &str) -> bool {
    link.begun
        .iter()
        .any(|b| b.strip_prefix(CUSTOMER_BEGUN) == Some(external_id))
}

/// The session's entry in its customer's session list (the admin's search, R-ADM-2), kept as
/// long as the timeline it leads to (`AUDIT_DAYS`); `at` is when the session started (else
/// now), so a session listed late sorts where it happened.
fn customer_session(
    customer_id: &str,
    view: &SessionView,
    (now, kept_for): (UnixMillis, Duration),
) -> Item {
    let at = view
        .started_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(
            || now.to_iso(),
            |t| UnixMillis(t.timestamp_millis()).to_iso(),
        );
    Item::new(
        ItemKey::customer_session(customer_id, view.kind, view.id),
        serde_json::json!({ "at": at }),
    )
    .expiring_at(now.plus(kept_for))
}

fn malformed(key: &ItemKey, err: impl ToString) -> StoreError {
    StoreError::Malformed {
        key: key.to_string(),
        reason: err.to_string(),
    }
}

fn link_key(view: &SessionView) -> ItemKey {
    ItemKey::session_link(view.kind, view.id)
}

/// The session's sync lock (beside its link) and a fresh owner for one taking of it.
fn session_lock(link: &ItemKey) -> (ItemKey, String) {
    (
        ItemKey::new(link.pk.clone(), "SYNC_LOCK"),
        uuid::Uuid::new_v4().to_string(),
    )
}

impl ContactSync<'_> {
    /// Syncs the session, then answers its conversation (`None` while it has none, e.g. an
    /// IVR call nobody answered yet): what the file workers need before attaching.
    pub async fn conversation_of(
        &self,
        view: &SessionView,
        now: UnixMillis,
    ) -> Result<Option<String>, ContactError> {
        self.sync(view, now).await?;
        let link = self.store.get(&link_key(view), now).await?;
        Ok(link.and_then(|item| item.body["conversation_id"].as_str().map(str::to_owned)))
    }

    /// Syncs the session under its own lock: the inbox worker and the recording worker may
    /// both sync one session at once, and each must see what the other wrote. Kustomer's 429s
    /// are not waited out under the lock: the pass stops, the lock is released, and after the
    /// wait the pass runs again from what the link recorded (level-triggered).
    pub async fn sync(
        &self,
        view: &SessionView,
        now: UnixMillis,
    ) -> Result<ContactOutcome, ContactError> {
        let key = link_key(view);
        let (resource, owner) = session_lock(&key);
        let mut pauses = 0;
        let mut repaired = false;
        loop {
            let lock = self.take_lock(&resource, &owner).await?;
            let mut result = without_rate_waits(self.sync_locked(view, &key, &lock, now)).await;
            // A customer or conversation merged or deleted in Kustomer since the bridge
            // recorded it: forgotten, and the pass runs again once (finding 11).
            if !repaired
                && let Err(err) = &result
                && refused_for_good(err)
            {
                match self.forget_gone(view, &key, &lock, now).await {
                    Ok(true) => {
                        repaired = true;
                        lock.release().await;
                        continue;
                    }
                    Ok(false) => {}
                    Err(err) => result = Err(err),
                }
            }
            lock.release().await;
            let pause = match &result {
                Err(err) => err
                    .kustomer()
                    .and_then(|e| self.kustomer.rate_limit_pause(e)),
                Ok(_) => None,
            };
            match pause {
                // Never waited out past the invocation's deadline (finding 8): the pass fails
                // in time for the failure policy instead.
                Some(pause)
                    if pauses < MAX_RATE_PAUSES
                        && crate::deadline::allows(pause + crate::stream::RECORD_MARGIN) =>
                {
                    tracing::info!(
                        pause_ms = pause.as_millis() as u64,
                        "Kustomer rate limit: lock released while waiting"
                    );
                    tokio::time::sleep(pause).await;
                    pauses += 1;
                }
                _ => return result,
            }
        }
    }

    /// A file worker's note found `conversation_id` gone: if the session still records it
    /// and Kustomer no longer has it, it is forgotten so the next pass places the session
    /// again. Answers whether the session is to be placed again: true when it was forgotten
    /// now or another pass placed it elsewhere already; false when Kustomer still has it.
    pub async fn conversation_gone(
        &self,
        view: &SessionView,
        conversation_id: &str,
        now: UnixMillis,
    ) -> Result<bool, ContactError> {
        let key = link_key(view);
        let (resource, owner) = session_lock(&key);
        let lock = self.take_lock(&resource, &owner).await?;
        let recorded = match self.store.get(&key, now).await {
            Ok(item) => item
                .is_some_and(|item| item.body["conversation_id"].as_str() == Some(conversation_id)),
            Err(err) => {
                lock.release().await;
                return Err(err.into());
            }
        };
        let result = if recorded {
            self.forget_gone(view, &key, &lock, now).await
        } else {
            // Another pass placed it again already: the caller's retry uses that one.
            Ok(true)
        };
        lock.release().await;
        result
    }

    /// What Kustomer says now of the records the link names: one read of each.
    pub(super) async fn standing(&self, link: &SessionLink) -> Result<Standing, ContactError> {
        let customer_gone = match &link.customer_id {
            Some(customer) => gone(self.kustomer.customer(customer).await.map(drop))?,
            None => false,
        };
        let conversation = match &link.conversation_id {
            Some(conversation) => Some(match self.kustomer.conversation(conversation).await {
                Ok(found) => ConversationState::Under(found.customer_id().map(str::to_owned)),
                Err(KustomerError::NotFound { .. }) => ConversationState::Gone,
                Err(err) => return Err(err.into()),
            }),
            None => None,
        };
        Ok(Standing {
            customer_gone,
            conversation,
        })
    }

    /// Which of the session's recorded Kustomer records is gone (merged into another, or
    /// deleted — agents do both): [`GoneRecord::of`] what Kustomer says now. Reads only.
    pub(super) async fn gone_record(
        &self,
        link: &SessionLink,
    ) -> Result<Option<GoneRecord>, ContactError> {
        Ok(GoneRecord::of(link, &self.standing(link).await?))
    }

    /// After a lasting refusal: whether the session's recorded customer or conversation is gone
    /// from Kustomer ([`Self::gone_record`]). A gone customer is dropped from the directory's
    /// cache and from the link, so the pass resolves the caller again; a gone conversation is
    /// dropped from the link (and as the customer's current one), so the pass places the
    /// session again. Answers whether anything was forgotten.
    async fn forget_gone(
        &self,
        view: &SessionView,
        key: &ItemKey,
        lock: &HeldLock<'_>,
        now: UnixMillis,
    ) -> Result<bool, ContactError> {
        let Some(item) = self.store.get(key, now).await? else {
            return Ok(false);
        };
        let mut link: SessionLink =
            serde_json::from_value(item.body).map_err(|e| malformed(key, e))?;
        let Some(gone) = self.gone_record(&link).await? else {
            return Ok(false);
        };
        match &gone {
            GoneRecord::Customer(customer) | GoneRecord::Merged { customer, .. } => {
                tracing::warn!(
                    merged = matches!(gone, GoneRecord::Merged { .. }),
                    "the session's customer is gone from Kustomer; resolved again (merged: kept under the customer holding its conversation)"
                );
                // The number the pass looks the customer up by: the event's, else the Apps
                // API's (a cache entry under it would hand the gone customer back).
                let phone = match self.caller(view, &CallerMemo::default()).await? {
                    Some(CallerNumber::E164(number)) => Some(number.clone()),
                    _ => None,
                };
                CustomerDirectory::new(self.kustomer, self.store)
                    .forget(
                        customer,
                        view.identifier.as_deref(),
                        phone.as_deref(),
                        self.country,
                    )
                    .await?;
                // A click-to-call record naming it would link it again on every pass that
                // resolves the customer: the call's conversation (its ticket) names the one
                // that stands instead. (A merge keeps the link's customer: not consulted.)
                let clicked = crate::click_to_call::clicked_key(view.id);
                if matches!(gone, GoneRecord::Customer(_))
                    && self
                        .store
                        .get(&clicked, now)
                        .await?
                        .is_some_and(|c| c.body["customer_id"].as_str() == Some(customer.as_str()))
                {
                    self.store.delete(&clicked).await?;
                }
            }
            GoneRecord::Conversation(conversation) => {
                tracing::warn!("the session's conversation is gone from Kustomer; placed again");
                if let Some(customer) = &link.customer_id {
                    let current = ItemKey::customer_current_conversation(customer);
                    if self.store.get(&current, now).await?.is_some_and(|c| {
                        c.body["conversation_id"].as_str() == Some(conversation.as_str())
                    }) {
                        self.store.delete(&current).await?;
                    }
                }
            }
        }
        link.forget_placement(&gone);
        self.save(key, &link, lock).await?;
        Ok(true)
    }

    async fn take_lock(
        &self,
        resource: &ItemKey,
        owner: &str,
    ) -> Result<HeldLock<'_>, ContactError> {
        Ok(HeldLock::take(
            self.store,
            resource,
            owner,
            PLACEMENT_LOCK,
            PLACEMENT_WAIT,
            PLACEMENT_POLL,
        )
        .await?)
    }

    async fn sync_locked(
        &self,
        view: &SessionView,
        key: &ItemKey,
        lock: &HeldLock<'_>,
        now: UnixMillis,
    ) -> Result<ContactOutcome, ContactError> {
        let key = key.clone();
        let mut link: SessionLink = match self.store.get(&key, now).await? {
            Some(item) => serde_json::from_value(item.body).map_err(|e| malformed(&key, e))?,
            None => SessionLink::default(),
        };
        let mut outcome = ContactOutcome::default();
        // The caller's number, read (perhaps from the Apps API) at most once per pass.
        let caller = CallerMemo::default();

        // The customer (R-K-1, R-K-2).
        let customer_id = match link.customer_id.clone() {
            Some(id) if link.listed => id,
            // Placed before the customer's session list existed: listed now, once.
            Some(id) => {
                self.store
                    .put(&customer_session(&id, view, (now, self.audit_kept)))
                    .await?;
                link.listed = true;
                self.save(&key, &link, lock).await?;
                id
            }
            None => {
                // Nothing identifies the customer yet: a poll may come before the ESE item
                // that carries the caller's number (or before the metadata file). Not a
                // failure: the session waits for a trigger that knows more (level-triggered).
                let clicked = self.clicked_customer(view, now).await?;
                let resolved = match clicked {
                    Some(id) => Some((id, Resolved::Found, None)),
                    None => {
                        self.customer(view, &caller, (&key, lock), &mut link, now)
                            .await?
                    }
                };
                let Some((id, resolved, unknown_caller)) = resolved else {
                    let reason = "the caller's number or an SDK identifier";
                    outcome.waiting_for = Some(reason.into());
                    // Said once, with when it began (a write only when it changes).
                    if link.waiting.as_ref().map(|w| w.reason.as_str()) != Some(reason)
                        || link.metadata_refused != view.metadata_refused
                    {
                        link.waiting = Some(Waiting {
                            reason: reason.into(),
                            since: link.waiting.as_ref().map_or(now.0, |w| w.since),
                        });
                        link.metadata_refused = view.metadata_refused.clone();
                        self.save(&key, &link, lock).await?;
                    }
                    return Ok(outcome);
                };
                // Found again by the customer or their number in the admin console; put before
                // the link records the customer, so a retry after a failed put puts it again.
                self.store
                    .put(&customer_session(&id, view, (now, self.audit_kept)))
                    .await?;
                link.waiting = None;
                link.customer_id = Some(id.clone());
                link.listed = true;
                link.unknown_caller = unknown_caller;
                link.customer_created = resolved == Resolved::Created;
                link.begun.retain(|b| !b.starts_with(CUSTOMER_BEGUN));
                outcome.customer_created = link.customer_created;
                self.save(&key, &link, lock).await?;
                id
            }
        };

        // The conversation (R-T, R-U-1, R-U-2), decided under the customer's placement lock:
        // two sessions of one customer (a short call and its callback, say) may be handled at
        // once by different workers, and the second must see the first one's conversation.
        if link.conversation_id.is_none() {
            let placement = self
                .take_lock(
                    &ItemKey::new(format!("CUSTOMER#{customer_id}"), "PLACEMENT"),
                    &view.external_id(),
                )
                .await?;
            let placed = self
                .place(
                    view,
                    &customer_id,
                    (&key, lock),
                    &mut link,
                    &mut outcome,
                    &placement,
                    now,
                )
                .await;
            placement.release().await;
            placed?;
            if link.conversation_id.is_none() {
                return Ok(outcome);
            }
            self.save(&key, &link, lock).await?;
        }
        let Some(conversation_id) = link.conversation_id.clone() else {
            return Ok(outcome);
        };
        self.tag(view, &key, &mut link, lock, &conversation_id)
            .await?;

        // The session's own message, carrying its standard data (R-D-1) and the custom fields
        // (R-CF-4): one per session, whichever conversation it joined.
        let settings = FieldSettings::load(self.store, now).await?;
        // The number may cost an Apps API call (CCAI allows 10/s): read only when used.
        // A message waiting for its caller's number: an SDK session's end user rarely has one
        // (the Apps API is not asked again on every pass for it); its number comes late, if
        // ever, from the ESE item or the metadata file, both in the view.
        let phone_used = !link.session_message
            || (link.message_lacks_caller && (view.phone.is_some() || !view.by_identifier()))
            || link.phone_note_due(true)
            || settings
                .fields
                .contains_key(&crate::custom_fields::FieldId::FromPhone);
        let phone = if phone_used {
            self.phone(view, &caller).await?
        } else {
            None
        };
        let values = custom_values(&view.field_values(phone.as_deref()), &settings);
        if !link.session_message {
            let mut message = session_message(view, phone.as_deref());
            message.custom = values.message.clone();
            let external_id = message.external_id.clone().unwrap_or_default();
            let attempt = self.begin(&key, &mut link, &external_id, lock).await?;
            let written = lock
                .fenced(
                    self.kustomer
                        .create_message(&conversation_id, &message, attempt),
                )
                .await??;
            link.begun.retain(|b| *b != external_id);
            link.session_message = true;
            // What the message holds (a message found after a lost answer was written by an
            // earlier pass, which may not have known the number), unless the caller gave none.
            let holds_caller = match attempt {
                Attempt::First => phone.is_some(),
                Attempt::Repeat => written.attributes.meta.contains_key("callerId"),
            };
            let gave_none = matches!(
                self.caller(view, &caller).await?,
                Some(CallerNumber::Unknown { .. })
            );
            link.message_lacks_caller =
                view.kind == SessionKind::Call && !holds_caller && !gave_none;
            if link.message_lacks_caller {
                link.message_meta = match attempt {
                    Attempt::First => message.meta.clone(),
                    Attempt::Repeat => written.attributes.meta.clone(),
                };
            }
            link.message_id = Some(written.id.clone());
            // What the message holds: the answer's (a message found after a lost answer was
            // written by an earlier pass, perhaps with fewer values), else what was sent.
            link.message_custom =
                if written.attributes.custom.is_empty() && attempt == Attempt::First {
                    message.custom
                } else {
                    written.attributes.custom
                };
            outcome.session_message = true;
            self.save(&key, &link, lock).await?;
        }
        // The number learnt after the message was written: its `meta` and preview again, whole.
        let late_caller = match (&phone, link.message_lacks_caller) {
            (Some(phone), true) => {
                let message = session_message(view, Some(phone));
                // What was written first, then what this pass knows (the number among it).
                let mut meta = link.message_meta.clone();
                meta.extend(message.meta);
                Some(MessageCaller {
                    meta,
                    preview: message.preview,
                })
            }
            _ => None,
        };
        self.complete_message(
            view,
            &key,
            &mut link,
            lock,
            &customer_id,
            (values, late_caller),
            &mut outcome,
        )
        .await?;

        // The caller's number as a note (R-D-2), once per conversation: by the session that
        // created it (sessions appended later are the same customer's).
        if link.phone_note_due(phone.is_some())
            && let Some(phone) = phone
        {
            self.write_note(
                &key,
                &mut link,
                lock,
                &conversation_id,
                &format!("Caller's phone number: {phone}"),
                format!("{}-phone", view.external_id()),
            )
            .await?;
            link.phone_note = true;
            outcome.phone_note = true;
            self.save(&key, &link, lock).await?;
        }

        // What the session's truth adds (R-U-10 rating, R-U-11 voicemail handling, wrap-up):
        // each note once, whichever trigger saw it first.
        for update in super::session_notes(&view.notes) {
            if link.note_due(&update.purpose) {
                self.write_note(
                    &key,
                    &mut link,
                    lock,
                    &conversation_id,
                    &update.note,
                    format!("{}-{}", view.external_id(), update.purpose),
                )
                .await?;
                link.notes.push(update.purpose.clone());
                outcome.notes.push(update.purpose.clone());
                self.save(&key, &link, lock).await?;
            }
            if update.close && !link.closed {
                lock.fenced(self.kustomer.patch_conversation(
                    &conversation_id,
                    &ConversationPatch {
                        status: Some("done".into()),
                        ..Default::default()
                    },
                ))
                .await??;
                link.closed = true;
                outcome.closed = true;
                self.save(&key, &link, lock).await?;
            }
        }
        if link.metadata_refused != view.metadata_refused {
            link.metadata_refused = view.metadata_refused.clone();
            self.save(&key, &link, lock).await?;
        }
        // The agent who has the session (R-U-12; after a transfer, the receiver: R-U-4). Last,
        // and best-effort: an agent the bridge cannot match to one Kustomer user (a deleted or
        // virtual agent, an e-mail two users share) leaves the conversation unassigned and says
        // why in the link, and never stops the notes and files (review finding 4).
        if let Some(agent) = view.agent {
            match self.kustomer_user(agent, now).await? {
                Assignee::User(user, email) => {
                    let to = (&conversation_id[..], &customer_id[..], user, email);
                    self.assign(&key, &mut link, lock, to, &mut outcome, now)
                        .await?;
                }
                Assignee::Unresolved(reason) => {
                    if link.assignee_error.as_deref() != Some(reason.as_str()) {
                        tracing::warn!(ccai_agent = agent, reason = %reason, "session left unassigned");
                        link.assignee_error = Some(reason.clone());
                        self.save(&key, &link, lock).await?;
                    }
                    outcome.assignee_error = Some(reason);
                }
            }
        }
        Ok(outcome)
    }

    /// Assigns the conversation to the agent's Kustomer user, and a customer the bridge created
    /// to the agent (R-K-3), each once. Best-effort like the match (finding 4): a refusal that
    /// retrying cannot change (the user deactivated, the API key's role may not assign or
    /// create the customer attribute) is recorded on the link — and not asked again for that
    /// user — instead of failing the pass that carries the notes and files.
    #[allow(clippy::too_many_arguments)] // the pass's state, named at its one call site
    async fn assign(
        &self,
        key: &ItemKey,
        link: &mut SessionLink,
        lock: &HeldLock<'_>,
        (conversation_id, customer_id, user, email): (&str, &str, String, String),
        outcome: &mut ContactOutcome,
        now: UnixMillis,
    ) -> Result<(), ContactError> {
        let key = key.clone();
        let refused_before = link.assign_refused.as_deref() == Some(user.as_str());
        let cleared = !refused_before && link.assignee_error.take().is_some();
        if refused_before {
            outcome.assignee_error = link.assignee_error.clone();
        } else if link.assignment_due(&user) {
            let patched = lock
                .fenced(self.kustomer.patch_conversation(
                    conversation_id,
                    &ConversationPatch {
                        assigned_users: Some(vec![user.clone()]),
                        ..Default::default()
                    },
                ))
                .await?;
            match patched {
                Err(err) if refused_assignment(&err) => {
                    let reason = format!("Kustomer refused the assignment: {err}");
                    tracing::warn!(reason = %reason, "session left unassigned");
                    link.assign_refused = Some(user);
                    link.assignee_error = Some(reason.clone());
                    outcome.assignee_error = Some(reason);
                }
                Err(err) => return Err(err.into()),
                Ok(_) => {
                    link.assigned_user = Some(user.clone());
                    link.assign_refused = None;
                    outcome.assigned = Some(user);
                }
            }
            self.save(&key, link, lock).await?;
        }
        // R-K-3: a customer the bridge created follows the agent who answered. Customers
        // have no assignee attribute (kustomer-api.md, revised): the agent goes into the
        // bridge's own custom attribute.
        if link.customer_agent_due() {
            let mut custom = serde_json::Map::new();
            custom.insert(ASSIGNED_AGENT_ATTRIBUTE.into(), email.into());
            let patched = match self.ensure_customer_attribute(now).await {
                Ok(()) => {
                    lock.fenced(self.kustomer.patch_customer(
                        customer_id,
                        &CustomerPatch {
                            custom: Some(custom),
                            ..Default::default()
                        },
                    ))
                    .await?
                }
                Err(ContactError::Kustomer(err)) => Err(err),
                Err(err) => return Err(err),
            };
            match patched {
                Ok(_) => {
                    link.customer_assigned = true;
                    outcome.customer_assigned = true;
                }
                Err(err) if refused_assignment(&err) => {
                    let reason = format!("Kustomer refused the customer's agent: {err}");
                    tracing::warn!(reason = %reason, "customer left without its agent");
                    link.customer_assign_error = Some(reason);
                }
                Err(err) => return Err(err.into()),
            }
            self.save(&key, link, lock).await?;
        } else if cleared {
            self.save(&key, link, lock).await?;
        }
        Ok(())
    }

    /// Facts that arrive after the message was written (durations at the end, CSAT and the
    /// metadata file ~15 minutes after) complete the same message (R-CF-4), and the custom
    /// user id the customer; so does the caller's number learnt late (`late_caller`: the
    /// message's `meta` and preview, R-D-1), in the same request. Each object is sent whole:
    /// whether Kustomer's PATCH merges `custom` or `meta` or replaces them is not documented.
    /// Nothing is sent when nothing changed.
    #[allow(clippy::too_many_arguments)] // the pass's state, named at its one call site
    async fn complete_message(
        &self,
        view: &SessionView,
        key: &ItemKey,
        link: &mut SessionLink,
        lock: &HeldLock<'_>,
        customer_id: &str,
        (values, late_caller): (crate::custom_fields::CustomValues, Option<MessageCaller>),
        outcome: &mut ContactOutcome,
    ) -> Result<(), ContactError> {
        let mut complete = link.message_custom.clone();
        complete.extend(values.message);
        let custom_changed = complete != link.message_custom;
        if custom_changed || late_caller.is_some() {
            let message_id = match link.message_id.clone() {
                Some(id) => id,
                None => self.session_message_id(view).await?,
            };
            let caller_added = late_caller.is_some();
            let (meta, preview) = late_caller.map(|c| (c.meta, c.preview)).unzip();
            lock.fenced(self.kustomer.patch_message(
                &message_id,
                &MessagePatch {
                    custom: custom_changed.then(|| complete.clone()),
                    meta,
                    preview: preview.flatten(),
                },
            ))
            .await??;
            if caller_added {
                link.message_lacks_caller = false;
                link.message_meta.clear();
                outcome.message_caller_added = true;
            }
            outcome.message_fields_updated = complete
                .iter()
                .filter(|(name, value)| link.message_custom.get(*name) != Some(*value))
                .map(|(name, _)| name.clone())
                .collect();
            link.message_id = Some(message_id);
            link.message_custom = complete;
            self.save(key, link, lock).await?;
        }
        let mut customer_complete = link.customer_custom.clone();
        customer_complete.extend(values.customer);
        if customer_complete != link.customer_custom {
            lock.fenced(self.kustomer.patch_customer(
                customer_id,
                &CustomerPatch {
                    custom: Some(customer_complete.clone()),
                    ..Default::default()
                },
            ))
            .await??;
            link.customer_custom = customer_complete;
            outcome.customer_fields_updated = true;
            self.save(key, link, lock).await?;
        }

        Ok(())
    }

    /// The id of a session message written before the link kept it.
    async fn session_message_id(&self, view: &SessionView) -> Result<String, ContactError> {
        let external_id = format!("{}-session", view.external_id());
        match self.kustomer.message_by_external_id(&external_id).await? {
            Some(message) => Ok(message.id),
            None => Err(ContactError::Busy(format!(
                "the session message of {} is not found by its external id yet",
                view.external_id()
            ))),
        }
    }

    /// Records that the write of `external_id` begins (before its request), answering whether
    /// an earlier pass began it already: then its outcome is unknown and the client looks for
    /// it before writing.
    async fn begin(
        &self,
        key: &ItemKey,
        link: &mut SessionLink,
        external_id: &str,
        lock: &HeldLock<'_>,
    ) -> Result<Attempt, ContactError> {
        if link.begun.iter().any(|b| b == external_id) {
            return Ok(Attempt::Repeat);
        }
        link.begun.push(external_id.to_owned());
        self.save(key, link, lock).await?;
        Ok(Attempt::First)
    }

    /// A note with its external id, exactly once (every session note kind goes through here;
    /// file notes through `AttachedFile`). The caller records the note done in `link`.
    async fn write_note(
        &self,
        key: &ItemKey,
        link: &mut SessionLink,
        lock: &HeldLock<'_>,
        conversation_id: &str,
        body: &str,
        external_id: String,
    ) -> Result<(), ContactError> {
        let attempt = self.begin(key, link, &external_id, lock).await?;
        let note = NewNote {
            body: body.to_owned(),
            external_id: Some(external_id.clone()),
            ..Default::default()
        };
        lock.fenced(self.kustomer.create_note(conversation_id, &note, attempt))
            .await??;
        link.begun.retain(|b| *b != external_id);
        Ok(())
    }

    /// Places the session (or leaves it unplaced: `NotYet`), recording it in `link`.
    #[allow(clippy::too_many_arguments)] // the pass's state, named at its one call site
    async fn place(
        &self,
        view: &SessionView,
        customer_id: &str,
        (key, lock): (&ItemKey, &HeldLock<'_>),
        link: &mut SessionLink,
        outcome: &mut ContactOutcome,
        placement: &HeldLock<'_>,
        now: UnixMillis,
    ) -> Result<(), ContactError> {
        // Click-to-call named the conversation (`ticket_id`, back as `out_ticket_id`): the
        // call belongs there while Kustomer has it (R-C2C-4; the choice followed R-U-2).
        if let Some(ticket) = &view.ticket {
            match self.kustomer.conversation(ticket).await {
                Ok(conversation) => {
                    crate::audit::decide(
                        "placed: appended to the conversation click-to-call named (R-C2C-4)",
                    );
                    outcome.appended_to = Some(conversation.id.clone());
                    link.conversation_id = Some(conversation.id);
                    return Ok(());
                }
                Err(KustomerError::NotFound { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        let current = self.current_conversation(customer_id, now).await?;
        let original = self.original_conversation(view, now).await?;
        let (decided, rule) = placed_by_rule(&view.facts, current.as_ref(), original.as_ref());
        crate::audit::decide(match &decided {
            Placement::NotYet => rule.to_owned(),
            Placement::Append { .. } => format!("placed: appended — {rule}"),
            Placement::Create { .. } => format!("placed: a new conversation — {rule}"),
        });
        match decided {
            Placement::NotYet => {}
            Placement::Append { conversation_id } => {
                outcome.appended_to = Some(conversation_id.clone());
                link.conversation_id = Some(conversation_id);
            }
            Placement::Create { voicemail } => {
                // The intent first, then the create, then the result at once: a crash or a
                // failure after the POST finds the conversation by its external id, and a
                // re-run never takes it for the customer's open one to append to (finding 7).
                let external_id = view.external_id();
                let attempt = self.begin(key, link, &external_id, lock).await?;
                // The agent who has the session rides on the create (issue 27: the assignment
                // is then no request of its own); one whose assignment Kustomer refused
                // before is not asked again. Not finding the user now never holds the
                // conversation back: the pass's last step assigns it as before (finding 4).
                let assignee = match view.agent {
                    Some(agent) => match self.kustomer_user(agent, now).await {
                        Ok(Assignee::User(user, _))
                            if link.assign_refused.as_deref() != Some(user.as_str()) =>
                        {
                            Some(user)
                        }
                        _ => None,
                    },
                    None => None,
                };
                // Under both fences: the customer's lock decides where this customer's
                // sessions go, so a holder whose placement lock ran out may not create the
                // conversation the next holder is about to create too.
                let create = Box::pin(self.create_conversation(
                    view,
                    customer_id,
                    voicemail,
                    assignee.as_deref(),
                    attempt,
                ));
                let (id, assigned) = match placement.fenced(lock.fenced(create)).await?? {
                    // Only a conversation this request wrote has the assignee; one found by
                    // its external id (an earlier attempt or another worker wrote it, with
                    // what they knew then) is assigned by the pass's last step.
                    Ok((id, written)) => (id, assignee.filter(|_| written)),
                    // Kustomer refused the create with the assignee (a deactivated user, a
                    // role that may not assign): best-effort like any assignment (finding 4)
                    // — recorded, and the conversation created without it.
                    Err(ContactError::Kustomer(err))
                        if assignee.is_some() && refused_assignment(&err) =>
                    {
                        let reason = format!("Kustomer refused the assignment: {err}");
                        tracing::warn!(reason = %reason, "session left unassigned");
                        link.assign_refused = assignee.clone();
                        link.assignee_error = Some(reason.clone());
                        outcome.assignee_error = Some(reason);
                        let create = Box::pin(self.create_conversation(
                            view,
                            customer_id,
                            voicemail,
                            None,
                            Attempt::First,
                        ));
                        (placement.fenced(lock.fenced(create)).await???.0, None)
                    }
                    Err(err) => return Err(err),
                };
                link.begun.retain(|b| *b != external_id);
                link.conversation_id = Some(id.clone());
                link.conversation_created = true;
                if let Some(user) = assigned {
                    link.assigned_user = Some(user.clone());
                    outcome.assigned = Some(user);
                }
                outcome.conversation_created = true;
                self.save(key, link, lock).await?;
                if !voicemail {
                    // Only while the customer's lock is still ours: a holder whose lock ran
                    // out must not overwrite what the next holder decided.
                    placement.check().await?;
                    self.set_current(customer_id, &id, view).await?;
                }
            }
        }
        Ok(())
    }

    /// Writes the session link, only while the session's lock is still ours.
    async fn save(
        &self,
        key: &ItemKey,
        link: &SessionLink,
        lock: &HeldLock<'_>,
    ) -> Result<(), ContactError> {
        lock.check().await?;
        let body = serde_json::to_value(link).map_err(|e| malformed(key, e))?;
        self.store.put(&Item::new(key.clone(), body)).await?;
        Ok(())
    }

    /// The caller's number as reported — the participant's (ESE `dn`, metadata), else the Apps
    /// API end user's — normalised (issue 14). `None` while nothing reported one yet.
    pub(super) async fn caller<'m>(
        &self,
        view: &SessionView,
        memo: &'m CallerMemo,
    ) -> Result<&'m Option<CallerNumber>, ContactError> {
        memo.get_or_try_init(|| async {
            if view.kind == SessionKind::Chat {
                return Ok(None);
            }
            let raw = match (&view.phone, view.end_user_id) {
                (Some(phone), _) => Some(phone.clone()),
                (None, Some(end_user)) => self
                    .ccai
                    .end_user(end_user)
                    .await?
                    .and_then(|user| user.phone),
                (None, None) => None,
            };
            Ok(raw.map(|raw| normalise(&raw, self.country)))
        })
        .await
    }

    /// The caller's E.164 number, when they gave one.
    async fn phone(
        &self,
        view: &SessionView,
        memo: &CallerMemo,
    ) -> Result<Option<String>, ContactError> {
        Ok(match self.caller(view, memo).await? {
            Some(CallerNumber::E164(number)) => Some(number.clone()),
            _ => None,
        })
    }

    /// The session's customer; with it, for a caller who gave no number, the raw caller id.
    async fn customer(
        &self,
        view: &SessionView,
        memo: &CallerMemo,
        (key, lock): (&ItemKey, &HeldLock<'_>),
        link: &mut SessionLink,
        now: UnixMillis,
    ) -> Result<Option<(String, Resolved, Option<String>)>, ContactError> {
        let directory = CustomerDirectory::new(self.kustomer, self.store);
        if view.by_identifier()
            && let Some(identifier) = &view.identifier
        {
            let marker = format!("{CUSTOMER_BEGUN}{}", identifier_external_id(identifier));
            let (id, resolved) = match directory.known_identifier(identifier, now).await? {
                Some((id, resolved)) => (id, ours(link, &marker, resolved)),
                None => {
                    self.begin(key, link, &marker, lock).await?;
                    let custom = self.agent_attribute(view, now).await;
                    let create = |custom| {
                        directory.create_for_identifier_with(identifier, None, custom, now)
                    };
                    let id = self.created_with_agent(create, custom, link).await?;
                    (id, Resolved::Created)
                }
            };
            return Ok(Some((id, resolved, None)));
        }
        match self.caller(view, memo).await? {
            Some(CallerNumber::E164(phone)) => {
                let marker = format!("{CUSTOMER_BEGUN}{}", phone_external_id(phone));
                let (id, resolved) = match directory.known_phone(phone, now).await? {
                    Some((id, resolved)) => (id, ours(link, &marker, resolved)),
                    None => {
                        self.begin(key, link, &marker, lock).await?;
                        let custom = self.agent_attribute(view, now).await;
                        let create =
                            |custom| directory.create_for_phone_with(phone, None, custom, now);
                        let id = self.created_with_agent(create, custom, link).await?;
                        (id, Resolved::Created)
                    }
                };
                Ok(Some((id, resolved, None)))
            }
            // Withheld, anonymous or not a number: a customer of its own for this session,
            // found again by its external id on a retry (never a dead letter).
            Some(CallerNumber::Unknown { raw }) => {
                let customer = self
                    .kustomer
                    .create_customer(&NewCustomer {
                        name: Some(UNKNOWN_CALLER.into()),
                        external_id: Some(format!("{}-unknown-caller", view.external_id())),
                        ..Default::default()
                    })
                    .await?;
                Ok(Some((customer.id, Resolved::Created, Some(raw.clone()))))
            }
            None => Ok(None),
        }
    }

    /// The agent's attribute for a customer created now (R-K-3), when the agent who has the
    /// session is known and the attribute is provisioned: it then rides on the create (issue
    /// 27: no patch of its own). Never holds the customer back: without it, the pass's last
    /// step sets it as before.
    async fn agent_attribute(
        &self,
        view: &SessionView,
        now: UnixMillis,
    ) -> Option<serde_json::Map<String, Value>> {
        let agent = view.agent?;
        let Ok(Assignee::User(_, email)) = self.kustomer_user(agent, now).await else {
            return None;
        };
        self.ensure_customer_attribute(now).await.ok()?;
        let mut custom = serde_json::Map::new();
        custom.insert(ASSIGNED_AGENT_ATTRIBUTE.into(), email.into());
        Some(custom)
    }

    /// Creates the customer with the agent's attribute when there is one; should Kustomer
    /// refuse the create with it (best-effort like any assignment, finding 4), the refusal is
    /// recorded and the customer created without it.
    async fn created_with_agent<F, Fut>(
        &self,
        create: F,
        custom: Option<serde_json::Map<String, Value>>,
        link: &mut SessionLink,
    ) -> Result<String, ContactError>
    where
        F: Fn(serde_json::Map<String, Value>) -> Fut,
        Fut: std::future::Future<Output = Result<(String, bool), crate::kustomer::DirectoryError>>,
    {
        let Some(custom) = custom else {
            return Ok(create(Default::default()).await?.0);
        };
        match create(custom).await {
            // Only a customer this request wrote has the attribute; one found (another worker
            // wrote it first) is given it by the pass's last step.
            Ok((id, written)) => {
                link.customer_assigned = written;
                Ok(id)
            }
            Err(crate::kustomer::DirectoryError::Kustomer(err)) if refused_assignment(&err) => {
                let reason = format!("Kustomer refused the customer's agent: {err}");
                tracing::warn!(reason = %reason, "customer created without its agent");
                link.customer_assign_error = Some(reason);
                Ok(create(Default::default()).await?.0)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// The customer an agent clicked to call from (R-C2C-4, review L6): the one click-to-call
    /// recorded for the call, else the customer of the conversation it named as the call's
    /// ticket — never a customer found by the number, which Kustomer may hold in another
    /// format (a duplicate customer).
    pub(super) async fn clicked_customer(
        &self,
        view: &SessionView,
        now: UnixMillis,
    ) -> Result<Option<String>, ContactError> {
        self.clicked_customer_but(view, None, now).await
    }

    /// [`Self::clicked_customer`], as it answers once the record naming `forgotten` (a
    /// customer gone from Kustomer) is dropped: from the call's ticket (the dry run's view).
    pub(super) async fn clicked_customer_but(
        &self,
        view: &SessionView,
        forgotten: Option<&str>,
        now: UnixMillis,
    ) -> Result<Option<String>, ContactError> {
        if view.facts.origin != Origin::Outbound {
            return Ok(None);
        }
        if let Some(clicked) = self
            .store
            .get(&crate::click_to_call::clicked_key(view.id), now)
            .await?
            && let Some(customer) = clicked.body["customer_id"].as_str()
            && Some(customer) != forgotten
        {
            return Ok(Some(customer.to_owned()));
        }
        let Some(ticket) = &view.ticket else {
            return Ok(None);
        };
        match self.kustomer.conversation(ticket).await {
            Ok(conversation) => Ok(conversation.customer_id().map(str::to_owned)),
            Err(KustomerError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    pub(super) async fn current_conversation(
        &self,
        customer_id: &str,
        now: UnixMillis,
    ) -> Result<Option<CurrentConversation>, ContactError> {
        current_conversation(self.store, self.kustomer, customer_id, now)
            .await
            .map_err(|e| match e {
                CurrentError::Store(e) => ContactError::Store(e),
                CurrentError::Kustomer(e) => ContactError::Kustomer(e),
            })
    }

    /// The conversation of the call a callback returns (R-U-6), with its status in Kustomer.
    /// While that call is not placed yet (its worker may be a moment behind), a recent
    /// callback waits for it (a retryable failure) rather than guess; after
    /// [`CALLBACK_WAIT`] it is placed by the usual rule.
    pub(super) async fn original_conversation(
        &self,
        view: &SessionView,
        now: UnixMillis,
    ) -> Result<Option<CurrentConversation>, ContactError> {
        let Some(original) = view
            .original_call
            .filter(|_| view.facts.origin == Origin::Outbound)
        else {
            return Ok(None);
        };
        let link = self
            .store
            .get(&ItemKey::session_link(SessionKind::Call, original), now)
            .await?;
        let placed = link.and_then(|item| item.body["conversation_id"].as_str().map(str::to_owned));
        let Some(conversation_id) = placed else {
            let started = view
                .started_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp_millis());
            if started.is_some_and(|t| now.0 - t < CALLBACK_WAIT.as_millis() as i64) {
                return Err(ContactError::Busy(format!(
                    "call {} calls back call {original}, which is not placed yet",
                    view.id
                )));
            }
            return Ok(None);
        };
        let open = match self.kustomer.conversation(&conversation_id).await {
            Ok(conversation) => conversation.is_open(),
            Err(KustomerError::NotFound { .. }) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        Ok(Some(CurrentConversation {
            id: conversation_id,
            open,
            channel: Channel::Voice,
            menu: None,
        }))
    }

    async fn set_current(
        &self,
        customer_id: &str,
        conversation_id: &str,
        view: &SessionView,
    ) -> Result<(), ContactError> {
        let key = ItemKey::customer_current_conversation(customer_id);
        let record = CurrentRecord {
            conversation_id: conversation_id.to_owned(),
            channel: view.facts.channel,
            menu: view.facts.menu.clone(),
        };
        let body = serde_json::to_value(record).map_err(|e| malformed(&key, e))?;
        self.store.put(&Item::new(key, body)).await?;
        Ok(())
    }

    async fn create_conversation(
        &self,
        view: &SessionView,
        customer_id: &str,
        voicemail: bool,
        assignee: Option<&str>,
        attempt: Attempt,
    ) -> Result<(String, bool), ContactError> {
        let (name, direction) = match (view.kind, view.facts.origin) {
            (_, _) if voicemail => ("Voicemail", "in"),
            (SessionKind::Chat, _) => ("Chat", "in"),
            (SessionKind::Call, crate::conversation::Origin::Outbound) => ("Outbound call", "out"),
            (SessionKind::Call, _) => ("Call", "in"),
        };
        // Created untagged: `tags` on a conversation holds tag ids; names go through the tags
        // call, which creates missing tags (kustomer-api.md, revised) — a step of its own.
        let (conversation, written) = self
            .kustomer
            .create_conversation_noting(
                &NewConversation {
                    customer: customer_id.to_owned(),
                    name: Some(match &view.facts.menu {
                        Some(menu) => format!("{name} ({menu})"),
                        None => name.to_owned(),
                    }),
                    status: Some("open".into()),
                    external_id: Some(view.external_id()),
                    direction: Some(direction.into()),
                    assigned_users: assignee.map(str::to_owned).into_iter().collect(),
                    ..Default::default()
                },
                attempt,
            )
            .await?;
        Ok((conversation.id, written))
    }

    /// The tags of a conversation this session created (`ccai`, and what the session was),
    /// once. A transient refusal fails the pass (retried; the conversation is recorded, so
    /// nothing is created twice); a lasting one (403: the key's role may not create tags) is
    /// recorded and shown, and the session goes on without tags.
    async fn tag(
        &self,
        view: &SessionView,
        key: &ItemKey,
        link: &mut SessionLink,
        lock: &HeldLock<'_>,
        conversation_id: &str,
    ) -> Result<(), ContactError> {
        if !link.tag_due() {
            return Ok(());
        }
        let mut tags = vec!["ccai".to_owned()];
        if view.facts.voicemail {
            tags.push("voicemail".into());
        }
        if view.facts.abandoned {
            tags.push("abandoned".into());
        }
        if link.unknown_caller.is_some() {
            tags.push(UNKNOWN_CALLER_TAG.into());
        }
        match self.kustomer.tag_conversation(conversation_id, &tags).await {
            Ok(()) => link.tagged = true,
            Err(err) if crate::Retryable::is_retryable(&err) => return Err(err.into()),
            Err(err) => {
                tracing::warn!(error = %err, "conversation left untagged");
                link.tag_error = Some(format!("tags refused by Kustomer: {err}"));
                return self.save(key, link, lock).await;
            }
        }
        // Saved with the next step's record (the message's intent follows at once): a crash
        // before tags it again, which is harmless.
        Ok(())
    }

    /// Provisions the customer attribute R-K-3 writes (`ccaiAssignedAgentStr`, "Assigned
    /// agent") once: reads the customer metadata first and sends the union, because whether
    /// `PUT /v1/metadata` merges or replaces is not documented (L), so no other property is lost.
    /// Remembered at `CONFIG/CUSTOMER_ATTR#…` so later customers cost no metadata call.
    async fn ensure_customer_attribute(&self, now: UnixMillis) -> Result<(), ContactError> {
        let done = ItemKey::config(&format!("CUSTOMER_ATTR#{ASSIGNED_AGENT_ATTRIBUTE}"));
        if self.store.get(&done, now).await?.is_some() {
            return Ok(());
        }
        crate::custom_fields::admin::ensure_property(
            self.kustomer,
            "customer",
            ASSIGNED_AGENT_ATTRIBUTE,
            "Assigned agent",
        )
        .await?;
        self.store
            .put(&Item::new(done, serde_json::json!({"at": now.to_iso()})))
            .await?;
        Ok(())
    }

    /// The Kustomer user of a CCAI agent (same e-mail, R-S-3) and that e-mail, `None` when it
    /// has none.
    /// The Kustomer user of a CCAI agent (R-S-3: by the same e-mail), or why there is none. A
    /// refusal that retrying cannot change (the agent unknown to CCAI, no e-mail, no Kustomer
    /// user, one shared by two) is an answer, remembered for [`UNRESOLVED_FOR`] so the next
    /// sessions of that agent do not list every CCAI agent again; a transient error is an
    /// error (the pass is retried).
    pub(super) async fn kustomer_user(
        &self,
        agent: u64,
        now: UnixMillis,
    ) -> Result<Assignee, ContactError> {
        // An agent matched before is known by its profile (the usual path, no extra read).
        if let Some(email) = self.status.email_for_ccai_agent(agent, now).await?
            && let Ok(profile) = self.status.profile(&email, now).await
        {
            return Ok(Assignee::User(profile.kustomer_user_id, email));
        }
        let remembered = ItemKey::new(format!("CCAI_AGENT#{agent}"), "UNRESOLVED");
        if let Some(item) = self.store.get(&remembered, now).await?
            && let Some(reason) = item.body["reason"].as_str()
        {
            return Ok(Assignee::Unresolved(reason.to_owned()));
        }
        let resolved = self.resolve_user(agent, now).await;
        let reason = match resolved {
            Ok(Some(user)) => return Ok(Assignee::User(user.0, user.1)),
            Ok(None) => format!("CCAI agent {agent} has no e-mail"),
            Err(err) if crate::Retryable::is_retryable(&err) => return Err(err),
            Err(err) => format!("CCAI agent {agent}: {err}"),
        };
        self.store
            .put(
                &Item::new(remembered, serde_json::json!({"reason": reason}))
                    .expiring_at(now.plus(UNRESOLVED_FOR)),
            )
            .await?;
        Ok(Assignee::Unresolved(reason))
    }

    async fn resolve_user(
        &self,
        agent: u64,
        now: UnixMillis,
    ) -> Result<Option<(String, String)>, ContactError> {
        let email = match self.status.email_for_ccai_agent(agent, now).await? {
            Some(email) => email,
            None => match self.ccai.agent(agent).await?.email {
                Some(email) => email,
                None => return Ok(None),
            },
        };
        let profile = self.status.profile(&email, now).await?;
        Ok(Some((profile.kustomer_user_id, email)))
    }
}

/// A refusal retrying cannot change, from Kustomer: the id it names may be gone.
/// A refusal of an assignment that a retry cannot change. Not a 404: a gone conversation or
/// customer is forgotten and placed again (finding 11).
fn refused_assignment(err: &KustomerError) -> bool {
    matches!(
        err,
        KustomerError::Client {
            status: 400 | 403 | 422,
            ..
        }
    )
}

fn refused_for_good(err: &ContactError) -> bool {
    err.kustomer().is_some_and(|e| {
        matches!(
            e,
            KustomerError::NotFound { .. }
                | KustomerError::Client {
                    status: 400 | 404 | 422,
                    ..
                }
        )
    })
}

/// How long an agent the bridge could not match is not looked up again.
const UNRESOLVED_FOR: Duration = Duration::from_secs(15 * 60);

/// Whom a session's conversation is assigned to.
pub(super) enum Assignee {
    /// The Kustomer user, and the agent's e-mail (R-K-3).
    User(String, String),
    /// No one, and why.
    Unresolved(String),
}

#[derive(Debug, thiserror::Error)]
pub enum CurrentError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Kustomer: {0}")]
    Kustomer(#[from] KustomerError),
}

/// The customer's latest conversation the bridge placed (`CUSTOMER#…/CURRENT`), with whether
/// Kustomer has it open now (agents close and delete conversations there): what R-U-1, R-U-2
/// and click-to-call decide by.
pub async fn current_conversation(
    store: &dyn StateStore,
    kustomer: &KustomerClient,
    customer_id: &str,
    now: UnixMillis,
) -> Result<Option<CurrentConversation>, CurrentError> {
    let key = ItemKey::customer_current_conversation(customer_id);
    let Some(item) = store.get(&key, now).await? else {
        return Ok(None);
    };
    let record: CurrentRecord =
        serde_json::from_value(item.body).map_err(|e| malformed(&key, e))?;
    let open = match kustomer.conversation(&record.conversation_id).await {
        Ok(conversation) => conversation.is_open(),
        Err(KustomerError::NotFound { .. }) => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    Ok(Some(CurrentConversation {
        id: record.conversation_id,
        open,
        channel: record.channel,
        menu: record.menu,
    }))
}

/// The voice or chat message that logs one session in its conversation: caller id, language
/// and menu selection (R-D-1), with the session's times. Its external id makes a lost answer
/// findable (`GET /v1/messages/externalId=`).
pub fn session_message(view: &SessionView, phone: Option<&str>) -> NewMessage {
    let outbound = view.facts.origin == super::Origin::Outbound;
    let mut meta = serde_json::Map::new();
    let mut put = |name: &str, value: Option<&str>| {
        if let Some(value) = value {
            meta.insert(name.into(), serde_json::Value::String(value.to_owned()));
        }
    };
    put("callerId", phone);
    put("language", view.language.as_deref());
    put("menuSelection", view.facts.menu.as_deref());
    put("placedAt", view.started_at.as_deref());
    put("answeredAt", view.answered_at.as_deref());
    let (channel, what) = match view.kind {
        SessionKind::Call if outbound => ("voice", "Outbound call"),
        SessionKind::Call => ("voice", "Call"),
        SessionKind::Chat => ("chat", "Chat"),
    };
    let preview = [
        Some(what.to_owned()),
        phone.map(|p| {
            if outbound {
                format!("to {p}")
            } else {
                format!("from {p}")
            }
        }),
        view.facts.menu.clone(),
        view.language.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    NewMessage {
        channel: channel.into(),
        app: "ccai".into(),
        direction: if outbound { "out" } else { "in" }.into(),
        preview: Some(preview),
        meta,
        external_id: Some(format!("{}-session", view.external_id())),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn placed() -> SessionLink {
        let mut custom = Map::new();
        custom.insert("ccaiCustomUserIdStr".into(), Value::from("u-7"));
        SessionLink {
            customer_id: Some("cu-1".into()),
            listed: true,
            customer_created: true,
            customer_assigned: true,
            customer_custom: custom.clone(),
            customer_assign_error: Some("refused".into()),
            conversation_id: Some("co-1".into()),
            conversation_created: true,
            session_message: true,
            message_custom: custom,
            notes: vec!["csat".into()],
            closed: true,
            ..SessionLink::default()
        }
    }

    /// Review of 3f2bc33: what was written on a gone customer is forgotten with it, so the
    /// customer the pass resolves next gets its custom values (R-CF-4) and the agent (R-K-3);
    /// a gone conversation leaves the customer's record as it is.
    #[test]
    fn r_cf_4_r_k_3_a_gone_customer_takes_what_was_written_on_it() {
        let mut link = placed();
        link.forget_placement(&GoneRecord::Customer("cu-1".into()));
        assert_eq!(link.customer_id, None);
        assert!(!link.listed && !link.customer_created && !link.customer_assigned);
        assert!(link.customer_custom.is_empty());
        assert_eq!(link.customer_assign_error, None);
        assert_eq!(link.conversation_id, None);
        assert!(link.notes.is_empty() && !link.session_message && !link.closed);

        let mut link = placed();
        link.forget_placement(&GoneRecord::Conversation("co-1".into()));
        assert_eq!(link.customer_id.as_deref(), Some("cu-1"));
        assert!(link.listed && link.customer_assigned);
        assert_eq!(link.customer_custom, placed().customer_custom);
        assert_eq!(link.conversation_id, None);
        assert!(link.message_custom.is_empty() && link.notes.is_empty());

        // Merged: under the survivor, the conversation and what it holds kept.
        let mut link = placed();
        link.forget_placement(&GoneRecord::Merged {
            customer: "cu-1".into(),
            into: "cu-2".into(),
        });
        assert_eq!(link.customer_id.as_deref(), Some("cu-2"));
        assert!(!link.listed && !link.customer_created && link.customer_custom.is_empty());
        assert_eq!(link.conversation_id.as_deref(), Some("co-1"));
        assert!(link.session_message && link.closed);
        assert_eq!(link.notes, ["csat"]);
    }

    /// What the pass forgets, from what Kustomer says: the customer first; merged when its
    /// conversation stands under another.
    #[test]
    fn the_record_forgotten_follows_what_kustomer_says() {
        let link = placed();
        let standing = |customer_gone, conversation| Standing {
            customer_gone,
            conversation: Some(conversation),
        };
        let under = |id: &str| ConversationState::Under(Some(id.into()));
        assert_eq!(GoneRecord::of(&link, &standing(false, under("cu-1"))), None);
        assert_eq!(
            GoneRecord::of(&link, &standing(false, ConversationState::Gone)),
            Some(GoneRecord::Conversation("co-1".into()))
        );
        assert_eq!(
            GoneRecord::of(&link, &standing(true, ConversationState::Gone)),
            Some(GoneRecord::Customer("cu-1".into()))
        );
        assert_eq!(
            GoneRecord::of(&link, &standing(true, under("cu-1"))),
            Some(GoneRecord::Customer("cu-1".into()))
        );
        assert_eq!(
            GoneRecord::of(&link, &standing(true, under("cu-2"))),
            Some(GoneRecord::Merged {
                customer: "cu-1".into(),
                into: "cu-2".into()
            })
        );
    }
}
