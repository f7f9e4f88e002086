//! The sandbox's in-memory Kustomer org.

use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// One stored resource, kept in Kustomer's JSON:API shape.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Record {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub attributes: Map<String, Value>,
    pub relationships: Map<String, Value>,
}

impl Record {
    pub fn new(id: String, kind: &'static str, attributes: Map<String, Value>) -> Self {
        Self {
            id,
            kind,
            attributes,
            relationships: Map::new(),
        }
    }

    pub fn relate(mut self, name: &str, kind: &str, id: &str) -> Self {
        self.relationships
            .insert(name.into(), json!({"data": {"type": kind, "id": id}}));
        self
    }

    pub fn related(&self, name: &str) -> Option<&str> {
        self.relationships
            .get(name)?
            .get("data")?
            .get("id")?
            .as_str()
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.attributes.get(name)?.as_str()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "type": self.kind,
            "id": self.id,
            "attributes": self.attributes,
            "relationships": self.relationships,
            "links": {"self": format!("/v1/{}s/{}", self.kind, self.id)},
        })
    }
}

/// Bytes received for an attachment through the sandbox's own upload target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    pub bytes: u64,
    pub sha256: String,
    /// The form fields, in the order they arrived (the file is always last).
    pub fields: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub status: u16,
}

/// A webhook delivery the sandbox made.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub event: String,
    pub url: String,
    pub status: Option<u16>,
}

#[derive(Debug, Default)]
pub struct World {
    pub customers: Vec<Record>,
    pub conversations: Vec<Record>,
    pub messages: Vec<Record>,
    pub notes: Vec<Record>,
    pub attachments: Vec<Record>,
    pub users: Vec<Record>,
    pub teams: Vec<Record>,
    pub user_teams: HashMap<String, Vec<String>>,
    pub statuses: Vec<Record>,
    pub work_sessions: Vec<Record>,
    pub webhooks: Vec<Record>,
    pub metadata: BTreeMap<String, Map<String, Value>>,
    pub uploads: HashMap<String, Upload>,
    pub requests: Vec<LoggedRequest>,
    pub deliveries: Vec<Delivery>,
    /// The org's tags: (id, name).
    pub tags: Vec<(String, String)>,
    /// Session tokens of signed-in agents → their user id (the Cards SDK's requests).
    pub agent_tokens: HashMap<String, String>,
    /// Users deactivated by an admin (`deleted: true`).
    pub deactivated_users: std::collections::HashSet<String>,
    /// The org's OAuth provider: clients, codes, refresh tokens, signed-in browsers.
    pub oauth: super::oauth::OAuthWorld,
    /// Updates per message id (`PATCH /v1/messages/{id}`).
    pub message_updates: HashMap<String, u32>,
    /// Requests to paths Kustomer does not have (`METHOD path`): each is a test failure.
    pub unexpected: Vec<String>,
    next_id: u64,
    last_timestamp_ms: i64,
    pub(super) org_window: Option<(Instant, u32)>,
    pub(super) customer_windows: HashMap<String, (Instant, u32)>,
    pub(super) random_state: u64,
}

impl World {
    /// A Kustomer-shaped id: 24 hex digits.
    /// The names of a conversation's tags.
    pub fn tag_names(&self, conversation: &Record) -> Vec<String> {
        conversation.attributes["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|id| {
                let id = id.as_str()?;
                self.tags
                    .iter()
                    .find(|(t, _)| t == id)
                    .map(|(_, n)| n.clone())
            })
            .collect()
    }

    pub fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("5f{:022x}", self.next_id)
    }

    /// ISO-8601 UTC with milliseconds, strictly increasing so creation order is observable.
    pub fn timestamp(&mut self) -> String {
        let now = chrono::Utc::now()
            .timestamp_millis()
            .max(self.last_timestamp_ms + 1);
        self.last_timestamp_ms = now;
        chrono::DateTime::from_timestamp_millis(now)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    }

    pub fn collection(&self, kind: &str) -> &Vec<Record> {
        match kind {
            "customer" => &self.customers,
            "conversation" => &self.conversations,
            "message" => &self.messages,
            "note" => &self.notes,
            "attachment" => &self.attachments,
            "user" => &self.users,
            "team" => &self.teams,
            "routing-status" => &self.statuses,
            "work_session" => &self.work_sessions,
            _ => &self.webhooks,
        }
    }

    pub fn collection_mut(&mut self, kind: &str) -> &mut Vec<Record> {
        match kind {
            "customer" => &mut self.customers,
            "conversation" => &mut self.conversations,
            "message" => &mut self.messages,
            "note" => &mut self.notes,
            "attachment" => &mut self.attachments,
            "user" => &mut self.users,
            "team" => &mut self.teams,
            "routing-status" => &mut self.statuses,
            "work_session" => &mut self.work_sessions,
            _ => &mut self.webhooks,
        }
    }

    pub fn find(&self, kind: &str, id: &str) -> Option<&Record> {
        self.collection(kind).iter().find(|r| r.id == id)
    }

    pub fn find_mut(&mut self, kind: &str, id: &str) -> Option<&mut Record> {
        self.collection_mut(kind).iter_mut().find(|r| r.id == id)
    }

    pub fn find_by(&self, kind: &str, attribute: &str, value: &str) -> Option<&Record> {
        self.collection(kind)
            .iter()
            .find(|r| r.text(attribute) == Some(value))
    }

    /// Seeds the routing statuses every org has.
    pub fn seed(&mut self) {
        for (name, status_type, system) in [
            ("Available", "available", true),
            ("Busy", "busy", true),
            ("Offline", "offline", true),
            ("Lunch", "unavailable", false),
            ("Training", "unavailable", false),
            // A busy status an admin made, which agents choose themselves (not Kustomer's own).
            ("Coaching", "busy", false),
        ] {
            let id = self.new_id();
            let attributes = json!({"name": name, "statusType": status_type, "system": system});
            self.statuses
                .push(Record::new(id, "routing-status", as_map(attributes)));
        }
    }
}

pub fn as_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
