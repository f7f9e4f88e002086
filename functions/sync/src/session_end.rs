//! Whose session an event ends (R-S-6): an agent's pending status change waits for this.

use bridge_shared::ccai::model::{AgentInfo, Call, Chat, Transfer};
use bridge_shared::ese::EseItem;

/// The agents of one call or chat, as the Manager API reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionAgents {
    /// The agent on the session now (after transfers, the last receiver).
    pub current: Option<u64>,
    /// `(from, to)` of each transfer, oldest first.
    pub transfers: Vec<(Option<u64>, Option<u64>)>,
}

fn id_of(agent: Option<&AgentInfo>) -> Option<u64> {
    agent.and_then(AgentInfo::human_id)
}

fn transfers(transfers: &[Transfer]) -> Vec<(Option<u64>, Option<u64>)> {
    transfers
        .iter()
        .map(|t| (id_of(t.from_agent.as_ref()), id_of(t.to_agent.as_ref())))
        .collect()
}

impl From<&Call> for SessionAgents {
    fn from(call: &Call) -> Self {
        Self {
            current: id_of(call.agent_info.as_ref()),
            transfers: transfers(&call.transfers),
        }
    }
}

impl From<&Chat> for SessionAgents {
    fn from(chat: &Chat) -> Self {
        Self {
            current: id_of(chat.agent_info.as_ref()),
            transfers: transfers(&chat.transfers),
        }
    }
}

impl SessionAgents {
    /// Adds the ESE item's agents the Manager API does not report (M: transfers show as a new
    /// agent participant reaching `accepted`): the current one when the object has none, and
    /// every earlier one as having handed over.
    pub fn with_ese(mut self, item: Option<&serde_json::Map<String, serde_json::Value>>) -> Self {
        let Some(item) = item.map(EseItem) else {
            return self;
        };
        let took_it: Vec<u64> = item
            .agents()
            .into_iter()
            .filter(|a| a.state.is_some() && a.state.as_deref() != Some("declined"))
            .filter_map(|a| a.id)
            .collect();
        if self.current.is_none() {
            self.current = took_it.last().copied();
        }
        for pair in took_it.windows(2) {
            let known = self
                .transfers
                .iter()
                .any(|(from, _)| *from == Some(pair[0]));
            if !known {
                self.transfers.push((Some(pair[0]), Some(pair[1])));
            }
        }
        self
    }
}

/// The agents whose part in the session is over: everyone on an ended session; while it goes
/// on, the agents who handed it over. Each agent once, in order of appearance. Read from the
/// session's truth, not from an event's type, so a poll finds the same agents as ESE.
pub fn agents_released(ended: bool, agents: &SessionAgents) -> Vec<u64> {
    let candidates: Vec<Option<u64>> = if ended {
        std::iter::once(agents.current)
            .chain(agents.transfers.iter().flat_map(|(from, to)| [*from, *to]))
            .collect()
    } else {
        agents.transfers.iter().map(|(from, _)| *from).collect()
    };
    let mut released = Vec::new();
    for agent in candidates.into_iter().flatten() {
        if !released.contains(&agent) {
            released.push(agent);
        }
    }
    released
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transferred() -> SessionAgents {
        SessionAgents {
            current: Some(12),
            transfers: vec![(Some(11), Some(12))],
        }
    }

    #[test]
    fn r_s_6_an_ended_session_releases_every_agent_on_it() {
        assert_eq!(agents_released(true, &transferred()), vec![12, 11]);
    }

    #[test]
    fn r_s_6_a_transfer_releases_the_agent_who_handed_over() {
        assert_eq!(agents_released(false, &transferred()), vec![11]);
    }

    #[test]
    fn r_s_6_a_session_going_on_releases_nobody_else() {
        let answered = SessionAgents {
            current: Some(12),
            transfers: vec![],
        };
        assert!(agents_released(false, &answered).is_empty());
    }

    #[test]
    fn r_s_6_ese_agents_fill_what_the_manager_api_leaves_out() {
        let item = serde_json::json!({"call_id": 1, "participants": [
            {"type": "agent", "state": "disconnected", "id": 11},
            {"type": "agent", "state": "accepted", "id": 12}]});
        let agents = SessionAgents::default().with_ese(item.as_object());
        assert_eq!(agents.current, Some(12));
        assert_eq!(agents_released(false, &agents), vec![11]);
        assert_eq!(agents_released(true, &agents), vec![12, 11]);
    }

    #[test]
    fn a_session_nobody_answered_releases_nobody() {
        assert!(agents_released(true, &SessionAgents::default()).is_empty());
    }
}
