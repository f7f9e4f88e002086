//! One agent's status-sync state, kept on the agent's lease item (`AGENT#<email>/LEASE`) and
//! always written back against the version it was read at: every writer reads, decides and
//! writes, and a write in between is detected rather than overwritten (issue 13).
//!
//! - `desired`: the agent's latest choice in Kustomer, the state every actor converges to.
//!   Choices are ordered by the lease they came through (the fencing token, a server-side
//!   sequence per holder) and, within one holder, by the browser's own clock — one tab's
//!   clock is only ever compared with itself. Apply-at-login comes first in its holding.
//! - `in_flight`: an external effect being made (the CCAI status set, or in two-way mode the
//!   Kustomer work session), by whom and until when. One at a time per agent: others record
//!   what they want and leave the effect to its maker, who converges again after it.
//! - `outcome`: what became of the desired choice — what the widget is told, and the admin.

use crate::UnixMillis;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long an effect may be in flight before another actor may take over (a crashed
/// maker's claim runs out).
pub const IN_FLIGHT_FOR: Duration = Duration::from_secs(30);

/// How far a tab's `changed_at` may be from the server's clock before the change is refused.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentState {
    /// The server-side sequence: bumped by every accepted choice.
    #[serde(default)]
    pub seq: u64,
    pub desired: Option<Choice>,
    pub in_flight: Option<InFlight>,
    pub outcome: Option<Outcome>,
    /// The last status the bridge set in CCAI (or found there), and for which choice.
    pub last_applied: Option<Applied>,
    /// The CCAI status last reflected into Kustomer (two-way mode).
    pub last_reflected: Option<String>,
    pub two_way_error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChoiceSource {
    /// The agent's tab reported a Kustomer status change.
    Tab,
    /// The active Kustomer work session, read when the tab claimed the agent (R-S-8).
    Login,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub kustomer_status_id: String,
    /// This choice's place in the server-side sequence.
    pub seq: u64,
    /// The fencing token of the lease it came through.
    pub holder: u64,
    /// Orders choices within one holding: the browser's clock (ms), 0 at login.
    pub order_at: i64,
    /// When it was made (server time when the server made it).
    pub chosen_at: UnixMillis,
    pub source: ChoiceSource,
    /// The tab's clock was too far off to order by: the choice comes after everything its
    /// holding chose before (arrival order, review L1).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_arrival: bool,
}

impl Choice {
    /// Later than `other` in the agent's own sequence of choices (a repeat of the same one is
    /// not).
    pub fn is_after(&self, other: &Choice) -> bool {
        (self.holder, self.order_at) > (other.holder, other.order_at)
    }

    /// The same report again (a retried request).
    pub fn is_repeat_of(&self, other: &Choice) -> bool {
        (self.holder, self.order_at) == (other.holder, other.order_at)
            && self.kustomer_status_id == other.kustomer_status_id
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Setting the agent's CCAI status.
    Ccai,
    /// Setting the agent's Kustomer work session (two-way mode).
    Kustomer,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    pub by: String,
    pub seq: u64,
    pub until: UnixMillis,
    pub effect: Effect,
}

impl InFlight {
    pub fn is_live(&self, now: UnixMillis) -> bool {
        now < self.until
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub kustomer_status_id: String,
    pub ccai_status: String,
    pub seq: u64,
    pub at: UnixMillis,
}

/// What became of a choice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Applied {
        seq: u64,
        ccai_status: String,
    },
    /// Waits for the agent's session to end (R-S-6).
    Pending {
        seq: u64,
        ccai_status: String,
        since: UnixMillis,
    },
    IgnoredOffline {
        seq: u64,
        ccai_status: String,
    },
    AlreadyThere {
        seq: u64,
        ccai_status: String,
    },
    /// A newer choice (or the agent's later choice in CCAI) replaced it.
    Superseded {
        seq: u64,
        reason: String,
    },
    /// The platform failed; the scheduled run tries again — unless it refused for good (a 4xx:
    /// a status renamed since the mapping was saved, say), which retrying cannot change: then
    /// it is settled and shown until the agent chooses again (review L4).
    Failed {
        seq: u64,
        ccai_status: String,
        message: String,
        #[serde(default)]
        permanent: bool,
    },
    Unmapped {
        seq: u64,
        kustomer_status_id: String,
    },
    /// Another actor is making the effect now; it converges to this choice after it.
    InProgress {
        seq: u64,
    },
}

impl Outcome {
    pub fn seq(&self) -> u64 {
        match self {
            Outcome::Applied { seq, .. }
            | Outcome::Pending { seq, .. }
            | Outcome::IgnoredOffline { seq, .. }
            | Outcome::AlreadyThere { seq, .. }
            | Outcome::Superseded { seq, .. }
            | Outcome::Failed { seq, .. }
            | Outcome::Unmapped { seq, .. }
            | Outcome::InProgress { seq } => *seq,
        }
    }

    /// Nothing more to do for it (a pending or failed choice still has work left).
    pub fn settled(&self) -> bool {
        !matches!(
            self,
            Outcome::Pending { .. }
                | Outcome::Failed {
                    permanent: false,
                    ..
                }
                | Outcome::InProgress { .. }
        )
    }

    /// What the widget and the admin are told.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Applied { ccai_status, .. } => format!("applied: {ccai_status}"),
            Outcome::Pending { ccai_status, .. } => {
                format!("pending until the call ends: {ccai_status}")
            }
            Outcome::IgnoredOffline { .. } => "ignored: agent offline".into(),
            Outcome::AlreadyThere { ccai_status, .. } => format!("already {ccai_status}"),
            Outcome::Superseded { reason, .. } => format!("superseded by {reason}"),
            Outcome::Failed {
                message,
                permanent: false,
                ..
            } => format!("failed: {message}, will retry"),
            Outcome::Failed { message, .. } => {
                format!("failed: {message}; not retried (check the status mapping)")
            }
            Outcome::Unmapped {
                kustomer_status_id, ..
            } => format!("Kustomer status {kustomer_status_id} is not mapped"),
            Outcome::InProgress { .. } => {
                "in progress: applied after the change being made now".into()
            }
        }
    }
}

impl AgentState {
    /// The state as stored (absent or unreadable old shapes start afresh: the next choice
    /// rebuilds it).
    pub fn from_stored(value: &serde_json::Value) -> Self {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }

    /// Records `choice` as the desired one unless a later choice is there already; answers
    /// whether it is (now) the desired one.
    pub fn offer(&mut self, mut choice: Choice) -> Offer {
        if let Some(current) = &self.desired
            && choice.by_arrival
            && choice.holder == current.holder
            && choice.kustomer_status_id != current.kustomer_status_id
        {
            choice.order_at = choice.order_at.max(current.order_at + 1);
        }
        if let Some(current) = &self.desired {
            if choice.is_repeat_of(current) {
                return Offer::Repeat;
            }
            if !choice.is_after(current) {
                return Offer::Older {
                    newer_seq: current.seq,
                };
            }
        }
        self.seq += 1;
        choice.seq = self.seq;
        self.desired = Some(choice);
        self.outcome = None;
        Offer::Taken
    }

    /// Whether an effect by someone other than `actor` is in flight now.
    pub fn busy_for(&self, actor: &str, now: UnixMillis) -> bool {
        self.in_flight
            .as_ref()
            .is_some_and(|f| f.by != actor && f.is_live(now))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Offer {
    Taken,
    /// The same report again: the desired choice already.
    Repeat,
    /// A later choice is recorded.
    Older {
        newer_seq: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(holder: u64, order_at: i64, status: &str) -> Choice {
        Choice {
            kustomer_status_id: status.into(),
            seq: 0,
            holder,
            order_at,
            chosen_at: UnixMillis(order_at),
            source: ChoiceSource::Tab,
            by_arrival: false,
        }
    }

    #[test]
    fn r_s_6_choices_are_ordered_by_holder_then_by_that_tabs_own_clock() {
        let mut state = AgentState::default();
        assert_eq!(state.offer(choice(1, 5_000, "K1")), Offer::Taken);
        // Same tab, earlier by its own clock: arrived late, older.
        assert_eq!(
            state.offer(choice(1, 4_000, "K2")),
            Offer::Older { newer_seq: 1 }
        );
        // A retry of the same report.
        assert_eq!(state.offer(choice(1, 5_000, "K1")), Offer::Repeat);
        // A new holding (another computer whose clock is an hour slow) comes after.
        assert_eq!(state.offer(choice(2, -3_600_000, "K3")), Offer::Taken);
        assert_eq!(state.desired.as_ref().map(|d| d.seq), Some(2));
        // A change through the old lease is older than anything the new holder chose.
        assert_eq!(
            state.offer(choice(1, 9_000_000, "K4")),
            Offer::Older { newer_seq: 2 }
        );
    }

    #[test]
    fn outcomes_name_what_happened() {
        let failed = Outcome::Failed {
            seq: 1,
            ccai_status: "Lunch".into(),
            message: "CCAI answered 503".into(),
            permanent: false,
        };
        assert_eq!(failed.describe(), "failed: CCAI answered 503, will retry");
        assert!(!failed.settled());
        let pending = Outcome::Pending {
            seq: 1,
            ccai_status: "Lunch".into(),
            since: UnixMillis(0),
        };
        assert_eq!(pending.describe(), "pending until the call ends: Lunch");
        assert_eq!(
            Outcome::IgnoredOffline {
                seq: 1,
                ccai_status: "Lunch".into()
            }
            .describe(),
            "ignored: agent offline"
        );
    }
}
