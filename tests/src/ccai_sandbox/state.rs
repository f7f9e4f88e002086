//! The sandbox's tenant: agents, statuses, sessions.

use serde_json::{Value, json};
use std::collections::HashMap;

/// Statuses the platform sets itself; moves to or from them through the API are refused.
pub const SYSTEM_STATUSES: [&str; 3] = ["In-call", "In-chat", "Wrap-up"];

#[derive(Clone, Debug, PartialEq)]
pub struct AgentRecord {
    pub id: u64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub status: String,
    /// The status the agent chose for after the current session (the platform's "next status").
    pub next_status: Option<String>,
    pub online: bool,
    pub status_updated_at: String,
    /// The platform needs the agent to confirm outbound calls in the adapter (answers 202).
    pub adapter_confirm: bool,
    pub can_call: bool,
}

impl AgentRecord {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "agent_number": format!("{}", 1000 + self.id),
            "status": {"id": status_id(&self.status), "name": self.status, "color": "#1a7f37"},
            "status_updated_at": self.status_updated_at,
            "online": self.online,
            "wrap_up": self.status == "Wrap-up",
            "teams": [],
        })
    }

    pub fn info(&self) -> Value {
        json!({"id": self.id, "first_name": self.first_name, "last_name": self.last_name, "agent_number": format!("{}", 1000 + self.id)})
    }
}

/// A status's id: the documented built-in ids (ccai-api.md §2, H: signed, 0 and negative),
/// custom statuses positive. A name two statuses share answers the first (the built-in).
pub fn status_id(name: &str) -> i64 {
    STATUSES
        .iter()
        .find(|(_, n)| *n == name)
        .map_or(999, |(id, _)| *id)
}

/// The tenant's user statuses: the platform's built-ins with their documented ids, and custom
/// ones — among them a "Meal" beside the built-in "Meal", as a real tenant may have.
pub const STATUSES: [(i64, &str); 13] = [
    (0, "Available"),
    (-1, "Unavailable"),
    (-2, "Break"),
    (-3, "Special Task"),
    (-4, "Meal"),
    (-5, "Missed Call"),
    (-6, "Wrap-up"),
    (-7, "In-call"),
    (-8, "In-chat"),
    (-10, "Offline"),
    (1, "Lunch"),
    (2, "Training"),
    (5, "Meal"),
];

#[derive(Debug, Default)]
pub struct CcaiWorld {
    pub agents: Vec<AgentRecord>,
    pub statuses: Vec<String>,
    pub teams: Vec<Value>,
    pub menus: Vec<Value>,
    pub calls: Vec<Value>,
    pub chats: Vec<Value>,
    pub end_users: Vec<Value>,
    pub chat_messages: HashMap<u64, Vec<Value>>,
    /// Recording size per call id.
    pub recordings: HashMap<u64, u64>,
    /// Requests to the recording storage host that carried credentials (must stay 0).
    pub leaked_credentials: usize,
    /// Every status change applied to an agent: (agent id, from, to, by whom).
    pub status_history: Vec<(u64, String, String, &'static str)>,
    /// Requests to paths the platform does not have (`METHOD path`): each is a test failure.
    pub unexpected: Vec<String>,
    /// Sessions a list's churn has updated already (each is moved once).
    pub churned: std::collections::HashSet<u64>,
    next_id: u64,
    last_ms: i64,
}

impl CcaiWorld {
    pub fn seeded() -> Self {
        // Ids start at a random base per sandbox: tests share one state table, and a real
        // tenant's ids are never reused by another.
        let base = (uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as u64 * 1000;
        let mut world = Self {
            next_id: base,
            ..Default::default()
        };
        world.statuses = STATUSES.iter().map(|(_, s)| (*s).to_owned()).collect();
        world.teams = vec![
            json!({"id": 1, "name": "Support"}),
            json!({"id": 2, "name": "Sales"}),
        ];
        world.menus = vec![
            json!({"id": 11, "name": "Support line", "menu_type": "ivr_menu"}),
            json!({"id": 12, "name": "Billing", "menu_type": "ivr_menu"}),
            json!({"id": 21, "name": "App help", "menu_type": "mobile_menu"}),
            json!({"id": 31, "name": "Web chat", "menu_type": "web_menu"}),
        ];
        world
    }

    pub fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Now, ISO-8601 with milliseconds, strictly increasing.
    pub fn now(&mut self) -> String {
        let ms = chrono::Utc::now().timestamp_millis().max(self.last_ms + 1);
        self.last_ms = ms;
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    }

    pub fn add_agent(&mut self, email: &str, first_name: &str, status: &str) -> u64 {
        let id = self.new_id();
        let now = self.now();
        self.agents.push(AgentRecord {
            id,
            email: email.into(),
            first_name: first_name.into(),
            last_name: "Agent".into(),
            status: status.into(),
            next_status: None,
            online: status != "Offline",
            status_updated_at: now,
            adapter_confirm: false,
            can_call: true,
        });
        id
    }

    pub fn agent(&self, id: u64) -> Option<&AgentRecord> {
        self.agents.iter().find(|a| a.id == id)
    }

    pub fn agent_mut(&mut self, id: u64) -> Option<&mut AgentRecord> {
        self.agents.iter_mut().find(|a| a.id == id)
    }

    pub fn agent_status(&self, id: u64) -> Option<String> {
        self.agent(id).map(|a| a.status.clone())
    }

    /// Moves an agent, recording who did it (`platform`, `api`, `agent`).
    pub fn move_agent(&mut self, id: u64, to: &str, by: &'static str) {
        let now = self.now();
        if let Some(agent) = self.agent_mut(id) {
            let from = std::mem::replace(&mut agent.status, to.to_owned());
            agent.online = to != "Offline";
            agent.status_updated_at = now;
            self.status_history.push((id, from, to.to_owned(), by));
        }
    }

    /// After a session and its wrap-up: the agent's chosen next status, else Available.
    pub fn finish_session_for(&mut self, id: u64) {
        let next = self
            .agent_mut(id)
            .and_then(|a| a.next_status.take())
            .unwrap_or_else(|| "Available".into());
        self.move_agent(id, &next, "platform");
    }

    pub fn add_end_user(
        &mut self,
        identifier: &str,
        phone: Option<&str>,
        name: Option<&str>,
    ) -> u64 {
        if let Some(existing) = self
            .end_users
            .iter()
            .find(|u| u["identifier"] == identifier)
        {
            return existing["id"].as_u64().unwrap_or_default();
        }
        let id = self.new_id();
        self.end_users.push(json!({"id": id, "identifier": identifier, "name": name, "email": null, "phone": phone}));
        id
    }

    pub fn call(&self, id: u64) -> Option<&Value> {
        self.calls.iter().find(|c| c["id"] == id)
    }

    pub fn chat(&self, id: u64) -> Option<&Value> {
        self.chats.iter().find(|c| c["id"] == id)
    }

    /// The time [`CcaiWorld::now`] last handed out, in epoch milliseconds.
    pub fn last_ms(&self) -> i64 {
        self.last_ms
    }

    /// Applies `change` to a call or chat and stamps `updated_at`.
    pub fn update_session(
        &mut self,
        kind: &str,
        id: u64,
        change: impl FnOnce(&mut serde_json::Map<String, Value>),
    ) {
        let now = self.now();
        let list = if kind == "call" {
            &mut self.calls
        } else {
            &mut self.chats
        };
        if let Some(Value::Object(session)) = list.iter_mut().find(|c| c["id"] == id) {
            change(session);
            session.insert("updated_at".into(), json!(now));
        }
    }
}

/// A status mapping to the sandbox's statuses by name, resolved as the admin API resolves it
/// (by id, with the names to send): `(Kustomer status id, CCAI status name)` pairs.
pub fn mapping_by_name(to_ccai: &[(String, &str)]) -> bridge_shared::status::StatusMapping {
    let statuses: Vec<bridge_shared::ccai::model::UserStatus> = STATUSES
        .iter()
        .map(|(id, name)| bridge_shared::ccai::model::UserStatus {
            id: *id,
            name: (*name).into(),
            ..Default::default()
        })
        .collect();
    let mapping = bridge_shared::status::StatusMapping {
        to_ccai: to_ccai
            .iter()
            .map(|(kustomer, name)| (kustomer.clone(), status_id(name)))
            .collect(),
        ..Default::default()
    };
    let kustomer: Vec<String> = to_ccai.iter().map(|(k, _)| k.clone()).collect();
    match mapping.resolve(&kustomer, &statuses) {
        Ok(mapping) => mapping,
        Err(why) => panic!("test mapping refused: {why}"),
    }
}
