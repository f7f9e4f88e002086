//! The latest ESE `item` kept per session (`SESSION#…/ESE`): written by the inbox worker with a
//! version that orders events by their `timestamp`, then by their stage, so a late or repeated
//! event never moves it back, and of two events stamped in the same millisecond the later stage
//! is kept (review L3: the one with `dispositions`, not whichever was handled first).

use super::item::{EseItem, Stage};
use crate::UnixMillis;
use serde_json::{Map, Value};

/// Stages per millisecond in the version.
const STAGES: u64 = 8;

fn stage_rank(stage: Stage) -> u64 {
    match stage {
        Stage::Start => 0,
        Stage::Routing => 1,
        Stage::Assigned => 2,
        Stage::Active => 3,
        Stage::End => 4,
        Stage::Final => 5,
    }
}

/// The stored version of an item sent at `timestamp_ms`.
pub fn version_of(timestamp_ms: i64, item: &Map<String, Value>) -> u64 {
    (timestamp_ms.max(0) as u64)
        .saturating_mul(STAGES)
        .saturating_add(stage_rank(EseItem(item).stage()))
}

/// When the event that carried the kept item was sent.
pub fn sent_at(version: u64) -> UnixMillis {
    UnixMillis(i64::try_from(version / STAGES).unwrap_or(i64::MAX))
}

/// The kept item and when its event was sent.
#[derive(Clone, Debug, PartialEq)]
pub struct KeptEse {
    pub item: Map<String, Value>,
    pub sent_at: UnixMillis,
}

impl KeptEse {
    pub fn from_stored(body: Value, version: u64) -> Option<Self> {
        match body {
            Value::Object(item) => Some(Self {
                item,
                sent_at: sent_at(version),
            }),
            _ => None,
        }
    }

    /// When `agent`'s wrap-up ended, as far as ESE tells: the time of the Final event that
    /// shows them `dispositionSubmitted` (`None` before it, or without ESE).
    pub fn wrap_up_ended_for(&self, agent: u64) -> Option<UnixMillis> {
        EseItem(&self.item)
            .wrap_up_submitted_by(agent)
            .then_some(self.sent_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn l3_of_two_events_in_one_millisecond_the_later_stage_is_newer() {
        let end = item(json!({"call_id": 1, "state": "disconnected",
            "participants": [{"type": "agent", "state": "disconnected", "id": 7}]}));
        let last = item(json!({"call_id": 1, "state": "disconnected",
            "participants": [{"type": "agent", "state": "dispositionSubmitted", "id": 7}],
            "dispositions": {"code": "Resolved"}}));
        assert!(version_of(1_000, &last) > version_of(1_000, &end));
        // A later millisecond still wins over any stage.
        assert!(version_of(1_001, &end) > version_of(1_000, &last));
        assert_eq!(sent_at(version_of(1_000, &last)), UnixMillis(1_000));
    }

    #[test]
    fn r_s_5_the_final_event_tells_when_the_agents_wrap_up_ended() {
        let last = item(json!({"call_id": 1, "state": "disconnected",
            "participants": [{"type": "agent", "state": "disconnected", "id": 6},
                             {"type": "agent", "state": "dispositionSubmitted", "id": 7}]}));
        let kept =
            KeptEse::from_stored(Value::Object(last.clone()), version_of(5_000, &last)).unwrap();
        assert_eq!(kept.wrap_up_ended_for(7), Some(UnixMillis(5_000)));
        assert_eq!(kept.wrap_up_ended_for(6), None, "the agent who handed over");
        let ended = item(json!({"call_id": 1, "state": "disconnected",
            "participants": [{"type": "agent", "state": "disconnected", "id": 7}]}));
        let kept =
            KeptEse::from_stored(Value::Object(ended.clone()), version_of(5_000, &ended)).unwrap();
        assert_eq!(kept.wrap_up_ended_for(7), None, "still wrapping up");
    }
}
