//! The end state of a run, in names both runs share: sessions by their step in the plan
//! (`s12`, `s12.2`), conversations by the sessions whose messages they hold, customers by
//! number or identifier, users by name, tags by name, attachments by their bytes' hash — so
//! the run with faults can be compared with the run without, entry by entry.
//!
//! Left out of the comparison, because they are the clocks' and not the bridge's: the values
//! of attributes whose names end in `At` (Kustomer's and the sessions' own times; whether one
//! is there is compared, but for `modifiedAt`, see [`VOLATILE`]) and the bytes of a transcript (each line carries its time; the
//! note's body counts its messages).

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
    /// The CCAI sandbox's first id less one: its other ids (SmartActions, photos, agents) are
    /// named by their distance from it, the same in both runs of one plan.
    ccai_base: u64,
}

impl Names {
    fn id(&self, digits: &str) -> Option<String> {
        if let Some(name) = self.sessions.get(digits) {
            return Some(name.clone());
        }
        let n: u64 = digits.parse().ok()?;
        (n > self.ccai_base && n - self.ccai_base < 10_000_000)
            .then(|| format!("id+{}", n - self.ccai_base))
    }

    fn text(&self, text: &str) -> String {
        self.session_id
            .replace_all(text, |c: &regex::Captures| {
                self.id(&c[0]).unwrap_or_else(|| c[0].to_owned())
            })
            .into_owned()
    }

    fn value(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => match self.kustomer.get(s) {
                Some(name) => json!(name),
                None => json!(self.text(s)),
            },
            Value::Number(n) => match self.id(&n.to_string()) {
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
            Value::Object(map) => {
                let mut map = self.map(map);
                // A text attachment's length varies with the times in its lines.
                if map
                    .get("contentType")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.starts_with("text/"))
                    && map.contains_key("contentLength")
                {
                    map.insert("contentLength".into(), json!("<text length>"));
                }
                Value::Object(map)
            }
            _ => value.clone(),
        }
    }

    fn map(&self, map: &Map<String, Value>) -> Map<String, Value> {
        map.iter()
            .filter(|(k, _)| !VOLATILE.contains(&k.as_str()))
            .map(|(k, v)| {
                // A time is the clocks', not the bridge's: whether it is there is compared.
                let value = if k.ends_with("At") && !v.is_null() {
                    json!("<time>")
                } else {
                    self.value(v)
                };
                (k.clone(), value)
            })
            .collect()
    }
}

/// Attributes that are not the end state: the sandbox's counters of its own requests, and
/// whether a record was changed after its creation (`modifiedAt`): a message created once its
/// metadata was read and one created at the session's end and completed later end the same,
/// and the faults decide which of the two happens (two of the 5 000-step run's differences).
const VOLATILE: [&str; 3] = ["rev", "uploaded", "modifiedAt"];

fn customer_name(record: &Record, names: &Names) -> String {
    let phone = record
        .attributes
        .get("phones")
        .unwrap_or(&Value::Null)
        .as_array()
        .and_then(|p| p.first())
        .and_then(|p| p["phone"].as_str());
    let external = record.text("externalId");
    let text = phone
        .or(external)
        .or(record.text("name"))
        .unwrap_or("?")
        .to_owned();
    names.text(&text)
}

/// What an attachment holds, in words both runs share: a call's recording is checked against
/// the bytes the platform exported for that call.
fn attachment_content(
    attachment: &Record,
    upload: Option<&bridge_tests::kustomer_sandbox::Upload>,
    sessions: &HashMap<String, String>,
) -> String {
    let Some(upload) = upload else {
        return "never uploaded".into();
    };
    if attachment
        .text("contentType")
        .is_some_and(|t| t.starts_with("text/"))
    {
        // A transcript's lines carry their times (and so its size varies with them): the
        // note's body counts its messages; the sandbox checked the upload was whole.
        return "text, uploaded whole".into();
    }
    let call = attachment.text("name").and_then(|n| {
        n.strip_prefix("call-")?
            .strip_suffix(".mp3")?
            .parse::<u64>()
            .ok()
    });
    if let Some(call) = call {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        let bytes: Vec<u8> = (0..upload.bytes)
            .map(|o| bridge_tests::ccai_sandbox::recording_byte(call, o))
            .collect();
        hasher.update(&bytes);
        if hex::encode(hasher.finalize()) == upload.sha256 {
            let name = sessions.get(&call.to_string()).cloned().unwrap_or_default();
            return format!("the recording of {name}, {} bytes", upload.bytes);
        }
    }
    format!("sha256 {}", upload.sha256)
}

/// The run's end state in shared names.
pub fn snapshot(tenant: &Tenant) -> Snapshot {
    let sessions: HashMap<String, String> = tenant
        .sessions
        .iter()
        .map(|s| (s.id.to_string(), s.name.clone()))
        .collect();
    let ccai_base = tenant
        .sandboxes
        .ccai
        .inspect(|w| w.agents.iter().map(|a| a.id).min().unwrap_or(1) - 1);
    let mut out = tenant
        .sandboxes
        .kustomer
        .inspect(|w| kustomer_state(w, &sessions, ccai_base));
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

fn kustomer_state(world: &World, sessions: &HashMap<String, String>, ccai_base: u64) -> Snapshot {
    let mut names = Names {
        sessions: sessions.clone(),
        kustomer: HashMap::new(),
        session_id: regex::Regex::new(r"\d{6,}").unwrap_or_else(|_| unreachable!()),
        ccai_base,
    };
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
        let name = names.text(attachment.text("name").unwrap_or("?"));
        let content = attachment_content(attachment, world.uploads.get(&attachment.id), sessions);
        kustomer.insert(
            attachment.id.clone(),
            format!("attachment {name} ({content})"),
        );
    }
    for customer in &world.customers {
        kustomer.insert(
            customer.id.clone(),
            format!("customer {}", customer_name(customer, &names)),
        );
    }
    // A conversation is named by the sessions whose messages it holds.
    let mut held: HashMap<&str, BTreeSet<String>> = HashMap::new();
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
    names.kustomer = kustomer;
    let names = names;
    let mut out = Snapshot::new();
    let mut entry = |kind: &str, record: &Record, key: String| {
        let relations: Map<String, Value> = record
            .relationships
            .iter()
            .map(|(k, v)| (k.clone(), names.value(&v["data"]["id"])))
            .collect();
        let mut attributes = names.map(&record.attributes);
        // A conversation's external id names the session that created it: which of its
        // sessions was placed first is the workers' order, not the sessions' truth.
        let sessions_of_conversation = key
            .strip_prefix("conversation [")
            .and_then(|k| k.strip_suffix(']'))
            .map(|list| list.split(", ").collect::<Vec<_>>())
            .unwrap_or_default();
        if let Some(Value::String(external)) = attributes.get("externalId")
            && sessions_of_conversation.contains(&external.trim_start_matches("ccai-"))
        {
            attributes.insert("externalId".into(), json!("ccai-<one of its sessions>"));
        }
        let full = format!("{kind} {key}");
        let rendered = json!({"attributes": attributes, "related": relations}).to_string();
        // Records under one name are all kept, numbered: a second one is a difference.
        let mut name = full.clone();
        let mut n = 1;
        while out.contains_key(&name) {
            n += 1;
            name = format!("{full} (#{n})");
        }
        out.insert(name, rendered);
    };
    for record in world.customers.iter().chain(&world.conversations) {
        let key = names.kustomer.get(&record.id).cloned().unwrap_or_default();
        entry("", record, key);
    }
    for message in &world.messages {
        let key = names.text(message.text("externalId").unwrap_or(&message.id));
        entry("message", message, key);
    }
    for note in &world.notes {
        let mut key = names.text(note.text("externalId").unwrap_or(&note.id));
        // The caller's number is noted once per conversation, by the session that created it.
        if key.ends_with("-phone") {
            let conversation = names.value(&json!(note.related("conversation")));
            key = format!(
                "caller's number in {}",
                conversation.as_str().unwrap_or("?")
            );
        }
        entry("note", note, key);
    }
    out.into_iter()
        .map(|(k, v)| (k.trim().to_owned(), v))
        .collect()
}
