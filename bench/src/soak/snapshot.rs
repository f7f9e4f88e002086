//! The end state of a run, in names both runs share: sessions by their step in the plan
//! (`s12`, `s12.2`), conversations by the sessions whose messages they hold, customers by
//! number or identifier, users by name, tags by name, attachments by their bytes' hash — so
//! the run with faults can be compared with the run without, entry by entry.
//!
//! Left out of the comparison, because they are the clocks' and not the bridge's: attributes
//! whose names end in `At` (Kustomer's and the sessions' own times) and the bytes of a
//! transcript (each line carries its time; its length is compared).

use super::tenant::Tenant;
use bridge_tests::kustomer_sandbox::{Record, World};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Entries by key: `customer …`, `conversation …`, `message …`, `note …`, `agent …`.
pub type Snapshot = BTreeMap<String, String>;

/// One entry that is not the same in both runs.
#[derive(Clone, Debug)]
pub struct Difference {
    pub key: String,
    pub oracle: Option<String>,
    pub faulty: Option<String>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
        write!(
            f,
            "{}\n    without faults: {}\n    with faults:    {}",
            self.key,
            show(&self.oracle),
            show(&self.faulty)
        )
    }
}

pub fn compare(oracle: &Snapshot, faulty: &Snapshot) -> Vec<Difference> {
    let keys: BTreeSet<&String> = oracle.keys().chain(faulty.keys()).collect();
    keys.into_iter()
        .filter(|k| oracle.get(*k) != faulty.get(*k))
        .map(|k| Difference {
            key: k.clone(),
            oracle: oracle.get(k).cloned(),
            faulty: faulty.get(k).cloned(),
        })
        .collect()
}

/// Names for every id of one run.
struct Names {
    /// CCAI session id → `s<step>`.
    sessions: HashMap<String, String>,
    /// Kustomer id (customer, conversation, user, tag, attachment) → its shared name.
    kustomer: HashMap<String, String>,
    session_id: regex::Regex,
}

impl Names {
    fn text(&self, text: &str) -> String {
        self.session_id
            .replace_all(text, |c: &regex::Captures| {
                self.sessions
                    .get(&c[0])
                    .cloned()
                    .unwrap_or_else(|| c[0].to_owned())
            })
            .into_owned()
    }

    fn value(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => match self.kustomer.get(s) {
                Some(name) => json!(name),
                None => json!(self.text(s)),
            },
            Value::Number(n) => match self.sessions.get(&n.to_string()) {
                Some(name) => json!(name),
                None => value.clone(),
            },
            Value::Array(list) => {
                let mut items: Vec<Value> = list.iter().map(|v| self.value(v)).collect();
                // Order of ids in a list is Kustomer's, not meaningful (tags, users).
                if items.iter().all(Value::is_string) {
                    items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                }
                Value::Array(items)
            }
            Value::Object(map) => Value::Object(self.map(map)),
            _ => value.clone(),
        }
    }

    fn map(&self, map: &Map<String, Value>) -> Map<String, Value> {
        map.iter()
            .filter(|(k, _)| !k.ends_with("At") && !VOLATILE.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), self.value(v)))
            .collect()
    }
}

/// Attributes the sandbox keeps that are counters of its own requests, not state.
const VOLATILE: [&str; 2] = ["rev", "uploaded"];

fn customer_name(record: &Record, sessions: &HashMap<String, String>) -> String {
    let phone = record.attributes["phones"]
        .as_array()
        .and_then(|p| p.first())
        .and_then(|p| p["phone"].as_str());
    let external = record.text("externalId");
    let text = phone
        .or(external)
        .or(record.text("name"))
        .unwrap_or("?")
        .to_owned();
    let session_id = regex::Regex::new(r"\d{6,}").unwrap_or_else(|_| unreachable!());
    session_id
        .replace_all(&text, |c: &regex::Captures| {
            sessions
                .get(&c[0])
                .cloned()
                .unwrap_or_else(|| c[0].to_owned())
        })
        .into_owned()
}

/// The run's end state in shared names.
pub fn snapshot(tenant: &Tenant) -> Snapshot {
    let sessions: HashMap<String, String> = tenant
        .sessions
        .iter()
        .map(|s| (s.id.to_string(), s.name.clone()))
        .collect();
    let mut out = tenant
        .sandboxes
        .kustomer
        .inspect(|w| kustomer_state(w, &sessions));
    let agents = tenant.sandboxes.ccai.inspect(|w| {
        w.agents
            .iter()
            .map(|a| (a.email.clone(), a.status.clone()))
            .collect::<Vec<_>>()
    });
    for (email, status) in agents {
        out.insert(format!("agent {email}"), format!("CCAI status {status}"));
    }
    out
}

fn kustomer_state(world: &World, sessions: &HashMap<String, String>) -> Snapshot {
    let mut kustomer: HashMap<String, String> = HashMap::new();
    for user in &world.users {
        kustomer.insert(
            user.id.clone(),
            format!("user {}", user.text("name").unwrap_or("?")),
        );
    }
    for (id, name) in &world.tags {
        kustomer.insert(id.clone(), format!("tag {name}"));
    }
    for attachment in &world.attachments {
        let name = attachment.text("name").unwrap_or("?");
        let upload = world.uploads.get(&attachment.id);
        let content = match (upload, attachment.text("contentType")) {
            // A transcript's lines carry their times: its size stands for it.
            (Some(u), Some(t)) if t.starts_with("text/") => format!("{} bytes", u.bytes),
            (Some(u), _) => format!("sha256 {}", u.sha256),
            (None, _) => "never uploaded".into(),
        };
        kustomer.insert(
            attachment.id.clone(),
            format!("attachment {name} ({content})"),
        );
    }
    for customer in &world.customers {
        kustomer.insert(
            customer.id.clone(),
            format!("customer {}", customer_name(customer, sessions)),
        );
    }
    // A conversation is named by the sessions whose messages it holds.
    let mut held: HashMap<&str, BTreeSet<String>> = HashMap::new();
    let names = Names {
        sessions: sessions.clone(),
        kustomer: kustomer.clone(),
        session_id: regex::Regex::new(r"\d{6,}").unwrap_or_else(|_| unreachable!()),
    };
    for message in &world.messages {
        if let (Some(conversation), Some(external)) =
            (message.related("conversation"), message.text("externalId"))
        {
            held.entry(conversation)
                .or_default()
                .insert(names.text(external));
        }
    }
    for (n, conversation) in world.conversations.iter().enumerate() {
        let name = match held.get(conversation.id.as_str()) {
            Some(set) => format!(
                "conversation [{}]",
                set.iter()
                    .map(|e| e.trim_start_matches("ccai-").trim_end_matches("-session"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => format!(
                "conversation without a message #{n} of {}",
                conversation
                    .related("customer")
                    .and_then(|c| kustomer.get(c))
                    .cloned()
                    .unwrap_or_default()
            ),
        };
        kustomer.insert(conversation.id.clone(), name);
    }
    let names = Names { kustomer, ..names };
    let mut out = Snapshot::new();
    let mut entry = |kind: &str, record: &Record, key: String| {
        let relations: Map<String, Value> = record
            .relationships
            .iter()
            .map(|(k, v)| (k.clone(), names.value(&v["data"]["id"])))
            .collect();
        let attributes = names.map(&record.attributes);
        let full = format!("{kind} {key}");
        let rendered = json!({"attributes": attributes, "related": relations}).to_string();
        if let Some(earlier) = out.insert(full.clone(), rendered.clone()) {
            // Two records under one name: both are kept, visibly.
            out.insert(format!("{full} (again)"), earlier);
        }
    };
    for customer in &world.customers {
        let key = names
            .kustomer
            .get(&customer.id)
            .cloned()
            .unwrap_or_default();
        entry("", customer, key);
    }
    for conversation in &world.conversations {
        let key = names
            .kustomer
            .get(&conversation.id)
            .cloned()
            .unwrap_or_default();
        entry("", conversation, key.clone());
    }
    for message in &world.messages {
        let key = names.text(message.text("externalId").unwrap_or(&message.id));
        entry("message", message, key);
    }
    for note in &world.notes {
        let key = names.text(note.text("externalId").unwrap_or(&note.id));
        entry("note", note, key);
    }
    out.into_iter()
        .map(|(k, v)| (k.trim().to_owned(), v))
        .collect()
}
