//! What an ESE `item` says about its session (ccai-api.md §1). Names are documented (H); where
//! they sit and the agent participant's keys are not (M/L), so every such read is one function
//! here, lenient, and `None` rather than an error when a field is missing.

use serde_json::{Map, Value};

/// The session's progression as ESE reports it (ccai-api.md §1, table "Session progression").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// `connected`, only the external participant.
    Start,
    /// Queued: `queue_path_names` known, no agent yet.
    Routing,
    /// An agent participant `accepted`.
    Assigned,
    /// An agent participant `connected`.
    Active,
    /// `state: disconnected`.
    End,
    /// An agent participant `dispositionSubmitted`.
    Final,
}

impl Stage {
    /// The trigger hint's stage word (`<kind>.<word>`).
    pub fn hint(self) -> &'static str {
        match self {
            Stage::Start | Stage::Routing => "created",
            Stage::Assigned | Stage::Active => "assigned",
            Stage::End | Stage::Final => "ended",
        }
    }
}

/// An agent participant. Which keys carry the agent's id and name is not documented (L): any
/// of `id`, `agent_id`, `user_id` for the id; `name`, `email` as given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EseAgent {
    pub id: Option<u64>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub state: Option<String>,
}

/// The agent's wrap-up (`dispositions {code, custom_code_id, note}`), at the Final stage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Disposition {
    pub code: Option<String>,
    pub note: Option<String>,
}

/// A read-only view of one `item`.
#[derive(Clone, Copy, Debug)]
pub struct EseItem<'a>(pub &'a Map<String, Value>);

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn id(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Agent participant states at which the agent has (had) the session.
const AGENT_TOOK_IT: [&str; 4] = [
    "accepted",
    "connected",
    "disconnected",
    "dispositionSubmitted",
];

impl<'a> EseItem<'a> {
    pub fn state(&self) -> Option<&'a str> {
        self.0.get("state").and_then(Value::as_str)
    }

    fn participants(&self) -> impl Iterator<Item = &'a Map<String, Value>> {
        self.0
            .get("participants")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
    }

    fn participant_state(p: &Map<String, Value>) -> Option<&str> {
        p.get("state").and_then(Value::as_str)
    }

    /// The customer's `dn` (external participant): a phone number on calls, `end_user_<id>`
    /// on chats.
    pub fn external_dn(&self) -> Option<String> {
        self.participants()
            .find(|p| p.get("type").and_then(Value::as_str) == Some("external"))
            .and_then(|p| text(p.get("dn")))
    }

    /// The caller's number: the external `dn` when it looks like a phone number (H for calls).
    pub fn caller_number(&self) -> Option<String> {
        self.external_dn().filter(|dn| {
            let digits = dn.chars().filter(char::is_ascii_digit).count();
            digits >= 3
                && dn
                    .chars()
                    .all(|c| c.is_ascii_digit() || "+-() .".contains(c))
        })
    }

    /// Agent participants in the order given.
    pub fn agents(&self) -> Vec<EseAgent> {
        self.participants()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("agent"))
            .map(|p| EseAgent {
                id: id(p.get("id"))
                    .or_else(|| id(p.get("agent_id")))
                    .or_else(|| id(p.get("user_id"))),
                name: text(p.get("name")),
                email: text(p.get("email")),
                state: Self::participant_state(p).map(str::to_owned),
            })
            .collect()
    }

    /// The agent who has the session now: the last agent participant who accepted it (a
    /// transfer adds a new agent reaching `accepted`, M).
    pub fn current_agent(&self) -> Option<EseAgent> {
        self.agents().into_iter().rev().find(|a| {
            a.state
                .as_deref()
                .is_some_and(|s| AGENT_TOOK_IT.contains(&s))
        })
    }

    /// Whether `agent` (by id; an agent participant without an id counts when it is the last
    /// one) has submitted the wrap-up: the Final stage, `dispositionSubmitted` (ccai-api.md §1,
    /// H). That moment ends the agent's Wrap-up status, so the event carrying it tells when
    /// CCAI moved the agent on (R-S-5, review finding 1).
    pub fn wrap_up_submitted_by(&self, agent: u64) -> bool {
        let agents = self.agents();
        let last = agents.len().checked_sub(1);
        agents.iter().enumerate().any(|(i, a)| {
            a.state.as_deref() == Some("dispositionSubmitted")
                && (a.id == Some(agent) || (a.id.is_none() && Some(i) == last))
        })
    }

    /// How many agents have taken the session (more than one: transferred).
    pub fn agents_who_took_it(&self) -> usize {
        self.agents()
            .iter()
            .filter(|a| {
                a.state
                    .as_deref()
                    .is_some_and(|s| AGENT_TOOK_IT.contains(&s))
            })
            .count()
    }

    pub fn stage(&self) -> Stage {
        let agent_states: Vec<&str> = self
            .participants()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("agent"))
            .filter_map(Self::participant_state)
            .collect();
        let has = |state: &str| agent_states.contains(&state);
        if has("dispositionSubmitted") {
            Stage::Final
        } else if self.state() == Some("disconnected") {
            Stage::End
        } else if has("connected") {
            Stage::Active
        } else if has("accepted") {
            Stage::Assigned
        } else if self.0.contains_key("queue_path_names") || self.0.contains_key("queue_path_ids") {
            Stage::Routing
        } else {
            Stage::Start
        }
    }

    /// The wrap-up, when the agent submitted one with a code or a note. An object is
    /// documented; an array of them is taken too (its last entry).
    pub fn disposition(&self) -> Option<Disposition> {
        let value = self.0.get("dispositions")?;
        let object = match value {
            Value::Object(object) => object,
            Value::Array(list) => list.iter().rev().find_map(Value::as_object)?,
            _ => return None,
        };
        let disposition = Disposition {
            code: text(object.get("code")),
            note: text(object.get("note")),
        };
        (disposition.code.is_some() || disposition.note.is_some()).then_some(disposition)
    }

    pub fn queue_path(&self) -> Option<String> {
        text(self.0.get("queue_path_names"))
    }

    pub fn connected_at(&self) -> Option<String> {
        text(self.0.get("connected_at"))
    }

    pub fn ends_at(&self) -> Option<String> {
        text(self.0.get("ends_at"))
    }

    pub fn language(&self) -> Option<String> {
        text(self.0.get("language")).or_else(|| text(self.0.get("lang")))
    }

    /// `session_type_v2` (chats, M) or `call_type`.
    pub fn session_type(&self) -> Option<String> {
        text(self.0.get("session_type_v2")).or_else(|| text(self.0.get("call_type")))
    }

    /// `initiator` is `<kind>_<id>` (e.g. `virtual_agent_15`, `agent_1`): an agent started
    /// the session (outbound) when the kind is `agent`.
    pub fn started_by_agent(&self) -> bool {
        self.0
            .get("initiator")
            .and_then(Value::as_str)
            .and_then(|i| i.rsplit_once('_'))
            .is_some_and(|(kind, id)| kind == "agent" && id.chars().all(|c| c.is_ascii_digit()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn item(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn external(state: &str) -> Value {
        json!({"type": "external", "state": state, "dn": "+15551234567"})
    }

    #[test]
    fn r_e_5_the_stage_follows_the_participants() {
        let stage = |v: Value| EseItem(&item(v)).stage();
        assert_eq!(
            stage(
                json!({"call_id": 1, "state": "connected", "participants": [external("connected")]})
            ),
            Stage::Start
        );
        assert_eq!(
            stage(
                json!({"call_id": 1, "state": "connected", "queue_path_names": "Support",
                "participants": [external("connected")]})
            ),
            Stage::Routing
        );
        assert_eq!(
            stage(
                json!({"call_id": 1, "state": "connected", "queue_path_names": "Support",
                "participants": [external("connected"), {"type": "agent", "state": "accepted", "id": 7}]})
            ),
            Stage::Assigned
        );
        assert_eq!(
            stage(json!({"call_id": 1, "state": "connected",
                "participants": [external("connected"), {"type": "agent", "state": "connected"}]})),
            Stage::Active
        );
        assert_eq!(
            stage(json!({"call_id": 1, "state": "disconnected",
                "participants": [external("disconnected"), {"type": "agent", "state": "disconnected"}]})),
            Stage::End
        );
        assert_eq!(
            stage(json!({"call_id": 1, "state": "disconnected",
                "participants": [external("disconnected"), {"type": "agent", "state": "dispositionSubmitted"}]})),
            Stage::Final
        );
    }

    #[test]
    fn r_u_4_a_new_agent_reaching_accepted_is_a_transfer() {
        let transferred = item(json!({"call_id": 1, "state": "connected", "participants": [
            external("connected"),
            {"type": "agent", "state": "disconnected", "agent_id": "7"},
            {"type": "agent", "state": "accepted", "id": 8, "email": "ben@example.com"}]}));
        let view = EseItem(&transferred);
        assert_eq!(view.agents_who_took_it(), 2);
        let current = view.current_agent().unwrap();
        assert_eq!(current.id, Some(8));
        assert_eq!(current.email.as_deref(), Some("ben@example.com"));
        assert_eq!(view.agents()[0].id, Some(7), "agent_id taken too (L)");
    }

    #[test]
    fn r_d_2_the_callers_number_is_the_external_dn() {
        let call = item(json!({"call_id": 1, "participants": [external("connected")]}));
        assert_eq!(
            EseItem(&call).caller_number().as_deref(),
            Some("+15551234567")
        );
        let chat = item(json!({"chat_id": 1, "participants": [
            {"type": "external", "state": "connected", "dn": "end_user_4411"}]}));
        assert_eq!(
            EseItem(&chat).external_dn().as_deref(),
            Some("end_user_4411")
        );
        assert_eq!(EseItem(&chat).caller_number(), None);
    }

    #[test]
    fn a_disposition_needs_a_code_or_a_note() {
        let with =
            |d: Value| EseItem(&item(json!({"call_id": 1, "dispositions": d}))).disposition();
        assert_eq!(
            with(json!({"code": "Resolved", "custom_code_id": 12, "note": "Refund sent"})),
            Some(Disposition {
                code: Some("Resolved".into()),
                note: Some("Refund sent".into())
            })
        );
        assert_eq!(
            with(json!([{"code": "A"}, {"code": "B"}]))
                .unwrap()
                .code
                .as_deref(),
            Some("B")
        );
        assert_eq!(with(json!({"custom_code_id": 12})), None);
        assert_eq!(with(json!("Resolved")), None);
    }

    #[test]
    fn the_initiator_tells_an_agents_outbound_call() {
        let by = |i: &str| EseItem(&item(json!({"call_id": 1, "initiator": i}))).started_by_agent();
        assert!(by("agent_1"));
        assert!(!by("virtual_agent_15"));
        assert!(!by("end_user_3"));
    }
}
