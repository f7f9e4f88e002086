//! Whose session an event ends (R-S-6): an agent's pending status change waits for this.

use bridge_shared::ccai::model::{AgentInfo, Call, Chat, Transfer};

/// The agents of one call or chat, as the Manager API reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionAgents {
    /// The agent on the session now (after transfers, the last receiver).
    pub current: Option<u64>,
    /// `(from, to)` of each transfer, oldest first.
    pub transfers: Vec<(Option<u64>, Option<u64>)>,
}

fn id_of(agent: Option<&AgentInfo>) -> Option<u64> {
    agent.and_then(|a| a.id)
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

/// The agents whose part in the session is over after `event_type`: everyone on an ended
/// session; the handing-over agents of a transfer. Each agent once, in order of appearance.
pub fn agents_released(event_type: &str, agents: &SessionAgents) -> Vec<u64> {
    let candidates: Vec<Option<u64>> = match event_type {
        "call.ended" | "chat.ended" => std::iter::once(agents.current)
            .chain(agents.transfers.iter().flat_map(|(from, to)| [*from, *to]))
            .collect(),
        "call.transferred" | "chat.transferred" => {
            agents.transfers.iter().map(|(from, _)| *from).collect()
        }
        _ => Vec::new(),
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
        assert_eq!(agents_released("call.ended", &transferred()), vec![12, 11]);
        assert_eq!(agents_released("chat.ended", &transferred()), vec![12, 11]);
    }

    #[test]
    fn r_s_6_a_transfer_releases_the_agent_who_handed_over() {
        assert_eq!(
            agents_released("call.transferred", &transferred()),
            vec![11]
        );
    }

    #[test]
    fn r_s_6_other_events_release_nobody() {
        for event_type in ["call.assigned", "call.created", "csat.submitted"] {
            assert!(agents_released(event_type, &transferred()).is_empty());
        }
    }

    #[test]
    fn a_session_nobody_answered_releases_nobody() {
        assert!(agents_released("call.ended", &SessionAgents::default()).is_empty());
    }
}
