//! What the bridge would have done for one session in shadow mode, and where it is kept.
//!
//! - `SESSION#<kind>#<id>/SHADOW`: the session's plan, planned again by every trigger
//!   (level-triggered like the live pass); its placement, once decided, is kept.
//! - `SESSION#<kind>#<id>/SHADOW_FILE#<type>`: a file a file worker found and would attach.
//! - `CUSTOMER#<customer>/SHADOW_CURRENT`: the conversation the bridge would have made the
//!   customer's current one (R-U-1), so the next session of that customer is placed as the
//!   live bridge would place it.
//! - `SHADOW_DAY#<YYYY-MM-DD>/<kind>#<id>`: the sessions planned, by the day they started,
//!   which the comparison report lists.

use crate::UnixMillis;
use crate::events::{SessionKind, SessionRef};
use crate::store::{Item, ItemKey, StateStore, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Duration;

/// As long as the sessions' other records.
pub const KEEP_FOR: Duration = Duration::from_secs(14 * 24 * 3600);

/// The customer the session would have been logged on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PlannedCustomer {
    /// Kustomer's (found by the number, the SDK identifier, or click-to-call).
    Existing { id: String },
    /// Created by the bridge (R-K-1, R-K-2), with this `externalId`.
    Create { external_id: String },
    /// Nothing identifies the customer yet.
    Waiting { reason: String },
}

impl PlannedCustomer {
    /// What was decided, without whom (a created customer's `externalId` holds the number).
    pub fn action(&self) -> &'static str {
        match self {
            PlannedCustomer::Existing { .. } => "existing",
            PlannedCustomer::Create { .. } => "create",
            PlannedCustomer::Waiting { .. } => "waiting",
        }
    }

    /// The name the customer's shadow records go by: its id, or the one it would be created
    /// with.
    pub fn key(&self) -> Option<String> {
        match self {
            PlannedCustomer::Existing { id } => Some(id.clone()),
            PlannedCustomer::Create { external_id } => Some(format!("new:{external_id}")),
            PlannedCustomer::Waiting { .. } => None,
        }
    }
}

/// The conversation the session would have been placed in (R-T, R-U).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PlannedConversation {
    /// Not decidable yet (an IVR call nobody answered that is not over).
    NotYet,
    /// A new conversation, named `planned:<session's external id>` in later plans.
    Create { voicemail: bool, name: String },
    /// An existing conversation: a Kustomer id, or a conversation an earlier plan would create
    /// (`planned:…`).
    Append { conversation: String },
}

impl PlannedConversation {
    pub fn decided(&self) -> bool {
        !matches!(self, PlannedConversation::NotYet)
    }

    /// The conversation, by its Kustomer id or planned name.
    pub fn conversation(&self) -> Option<&str> {
        match self {
            PlannedConversation::NotYet => None,
            PlannedConversation::Create { name, .. } => Some(name),
            PlannedConversation::Append { conversation } => Some(conversation),
        }
    }
}

/// The name a planned conversation goes by.
pub fn planned_name(external_id: &str) -> String {
    format!("planned:{external_id}")
}

/// The session whose planned conversation `name` is (`planned:ccai-call-7`).
pub fn planned_session(name: &str) -> Option<SessionRef> {
    let rest = name.strip_prefix("planned:ccai-")?;
    let (kind, id) = rest.split_once('-')?;
    let kind = match kind {
        "call" => SessionKind::Call,
        "chat" => SessionKind::Chat,
        _ => return None,
    };
    Some(SessionRef {
        kind,
        id: id.parse().ok()?,
    })
}

/// One session's plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionPlan {
    pub kind: SessionKind,
    pub id: u64,
    pub started_at: Option<String>,
    /// `voice` or `chat`.
    pub channel: String,
    pub ended: bool,
    pub customer: PlannedCustomer,
    /// The caller's E.164 number, when the customer is looked up by it (the comparison
    /// looks the customer up by it in Kustomer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub conversation: PlannedConversation,
    /// The Kustomer user the conversation would be assigned to (R-U-12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_error: Option<String>,
    /// The session message's custom attributes (R-CF-4).
    #[serde(default)]
    pub custom: Map<String, Value>,
    /// The notes, by purpose (`phone`, `csat`, `voicemail-read`, `wrap-up`, …).
    #[serde(default)]
    pub notes: Vec<String>,
    /// The conversation would be closed (`done`).
    #[serde(default)]
    pub close: bool,
    pub planned_at: i64,
}

pub fn plan_key(session: &SessionRef) -> ItemKey {
    ItemKey::new(
        format!("SESSION#{}#{}", session.kind.as_str(), session.id),
        "SHADOW",
    )
}

fn file_key(session: &SessionRef, data_type: &str) -> ItemKey {
    ItemKey::new(
        format!("SESSION#{}#{}", session.kind.as_str(), session.id),
        format!("SHADOW_FILE#{data_type}"),
    )
}

pub fn current_key(customer: &str) -> ItemKey {
    ItemKey::new(format!("CUSTOMER#{customer}"), "SHADOW_CURRENT")
}

/// The day partition of a session that started at `started_ms`.
pub fn day_partition(started_ms: i64) -> String {
    let day = chrono::DateTime::from_timestamp_millis(started_ms)
        .unwrap_or_default()
        .format("%Y-%m-%d");
    format!("SHADOW_DAY#{day}")
}

fn malformed(key: &ItemKey, err: impl ToString) -> StoreError {
    StoreError::Malformed {
        key: key.to_string(),
        reason: err.to_string(),
    }
}

/// The session's plan, when one was made.
pub async fn load(
    store: &dyn StateStore,
    session: &SessionRef,
    now: UnixMillis,
) -> Result<Option<SessionPlan>, StoreError> {
    let key = plan_key(session);
    match store.get(&key, now).await? {
        Some(item) => Ok(Some(
            serde_json::from_value(item.body).map_err(|e| malformed(&key, e))?,
        )),
        None => Ok(None),
    }
}

/// Keeps the plan, and lists the session under the day it started.
pub async fn save(
    store: &dyn StateStore,
    plan: &SessionPlan,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let session = SessionRef {
        kind: plan.kind,
        id: plan.id,
    };
    let key = plan_key(&session);
    let body = serde_json::to_value(plan).map_err(|e| malformed(&key, e))?;
    store
        .put(&Item::new(key, body).expiring_at(now.plus(KEEP_FOR)))
        .await?;
    let started = plan
        .started_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or(now.0, |t| t.timestamp_millis());
    let listed = Item::new(
        ItemKey::new(
            day_partition(started),
            format!("{}#{}", plan.kind.as_str(), plan.id),
        ),
        serde_json::json!({"kind": plan.kind, "id": plan.id, "started_ms": started}),
    )
    .expiring_at(now.plus(KEEP_FOR));
    store.put_if_absent(&listed, now).await?;
    Ok(())
}

/// A file a file worker found and would attach (`recordings`, `transcripts`, `media`).
pub async fn note_file(
    store: &dyn StateStore,
    session: &SessionRef,
    data_type: &str,
    name: &str,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let item = Item::new(
        file_key(session, data_type),
        serde_json::json!({"name": name, "found_at": now.0}),
    )
    .expiring_at(now.plus(KEEP_FOR));
    store.put(&item).await
}

/// The files noted for the session: `(type, name)`.
pub async fn files(
    store: &dyn StateStore,
    session: &SessionRef,
    now: UnixMillis,
) -> Result<Vec<(String, String)>, StoreError> {
    let pk = format!("SESSION#{}#{}", session.kind.as_str(), session.id);
    Ok(store
        .list_partition(&pk, now)
        .await?
        .into_iter()
        .filter_map(|item| {
            let data_type = item.key.sk.strip_prefix("SHADOW_FILE#")?.to_owned();
            Some((data_type, item.body["name"].as_str()?.to_owned()))
        })
        .collect())
}

/// The sessions planned that started from `from` to `to` (ms, inclusive), with when they
/// started, the earliest first.
pub async fn sessions_between(
    store: &dyn StateStore,
    from: i64,
    to: i64,
    now: UnixMillis,
) -> Result<Vec<(i64, SessionRef)>, StoreError> {
    const DAY: i64 = 24 * 3600 * 1000;
    let mut sessions = Vec::new();
    let mut day = from - from.rem_euclid(DAY);
    while day <= to {
        for item in store.list_partition(&day_partition(day), now).await? {
            let started = item.body["started_ms"].as_i64().unwrap_or_default();
            if !(from..=to).contains(&started) {
                continue;
            }
            if let Ok(session) = serde_json::from_value::<SessionRef>(item.body) {
                sessions.push((started, session));
            }
        }
        day += DAY;
    }
    sessions.sort_by_key(|(started, session)| (*started, session.id));
    Ok(sessions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_f_2_a_plan_reads_back_as_written() {
        let plan = SessionPlan {
            kind: SessionKind::Call,
            id: 7,
            started_at: Some("2026-12-07T10:00:00Z".into()),
            channel: "voice".into(),
            ended: true,
            customer: PlannedCustomer::Create {
                external_id: "ccai-phone-+15550100".into(),
            },
            phone: Some("+15550100".into()),
            conversation: PlannedConversation::Create {
                voicemail: false,
                name: planned_name("ccai-call-7"),
            },
            assignee: Some("u1".into()),
            assignee_error: None,
            custom: Map::new(),
            notes: vec!["phone".into()],
            close: false,
            planned_at: 1,
        };
        let text = serde_json::to_value(&plan).unwrap();
        assert_eq!(text["customer"]["action"], "create");
        assert_eq!(text["conversation"]["action"], "create");
        assert_eq!(serde_json::from_value::<SessionPlan>(text).unwrap(), plan);
        assert_eq!(
            plan.customer.key().as_deref(),
            Some("new:ccai-phone-+15550100")
        );
        assert_eq!(day_partition(1_796_637_900_000), "SHADOW_DAY#2026-12-07");
        assert_eq!(
            planned_session(&planned_name("ccai-chat-12")),
            Some(SessionRef {
                kind: SessionKind::Chat,
                id: 12
            })
        );
        assert_eq!(planned_session("5f00aa"), None);
    }
}
