//! One agent's status-sync state, kept on the agent's lease item (`AGENT#<email>/LEASE`) and
//! always written back against the version it was read at: every writer reads, decides and
//! writes, and a write in between is detected rather than overwritten (issue 13).
//!
//! - `desired`: the agent's status as Kustomer records it (their active work session, read with
//!   the bridge's own credentials: R-S-4), the state every actor converges to. No tab's claim
//!   is trusted; a report only triggers a read. Reads are ordered by Kustomer's own record of
//!   the change ([`Choice::from_work_session`]), never by a browser's clock.
//! - `in_flight`: an external effect being made (the CCAI status set, or in two-way mode the
//!   Kustomer work session), by whom and until when. One at a time per agent: others record
//!   what they want and leave the effect to its maker, who converges again after it.
//! - `outcome`: what became of the desired choice — what the widget is told, and the admin.

use crate::UnixMillis;
use crate::kustomer::model::WorkSession;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long an effect may be in flight before another actor may take over (a crashed
/// maker's claim runs out).
pub const IN_FLIGHT_FOR: Duration = Duration::from_secs(30);

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

/// What made the bridge read the agent's work session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChoiceSource {
    /// A tab reported that the agent's status may have changed.
    #[serde(alias = "tab")]
    Report,
    /// A tab claimed the agent's lease (apply at login, R-S-8).
    Login,
    /// The scheduled run's read of every active work session.
    Scheduled,
    /// The work session as the bridge's own two-way reflection left it (R-S-7): what Kustomer
    /// records because CCAI said so, already true in CCAI.
    Reflected,
}

/// The agent's status as one read of Kustomer found it, with Kustomer's record of when it
/// was set: the work session (a routing shift, from sign-in to sign-out) and, within it, the
/// session's revision and update time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub kustomer_status_id: String,
    /// This choice's place in the server-side sequence.
    pub seq: u64,
    /// The work session's sign-in time (ms): a later shift's statuses come after.
    #[serde(alias = "holder")]
    pub session_at: u64,
    /// The work session's `rev` (0 when Kustomer gives none).
    #[serde(default)]
    pub rev: u64,
    /// The work session's `updatedAt` (ms).
    #[serde(alias = "order_at")]
    pub updated_at: i64,
    /// When it was read (server time).
    pub chosen_at: UnixMillis,
    pub source: ChoiceSource,
    /// The work session was signed out (its last status, an `offline`-type one): nothing
    /// newer is read until the agent signs in again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub signed_out: bool,
}

impl Choice {
    /// The choice one read of the agent's active work session makes, `None` when the session
    /// names no status. How Kustomer orders one agent's changes lives here and nowhere else:
    /// by shift (`signedInAt`), then the session's `rev`, then `updatedAt` (kustomer-api.md:
    /// the attributes are H; that `rev` grows with every change is M — it is what a
    /// conditional update is checked against — so `updatedAt` decides when it does not).
    pub fn from_work_session(
        session: &WorkSession,
        source: ChoiceSource,
        now: UnixMillis,
    ) -> Option<Self> {
        let millis = |at: &Option<String>| {
            at.as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map_or(0, |t| t.timestamp_millis())
        };
        Some(Self {
            kustomer_status_id: session.status_id()?.to_owned(),
            seq: 0,
            session_at: u64::try_from(millis(&session.attributes.signed_in_at)).unwrap_or(0),
            rev: session.attributes.rev.unwrap_or(0),
            updated_at: millis(&session.attributes.updated_at),
            chosen_at: now,
            source,
            signed_out: !session.is_active(),
        })
    }

    fn order(&self) -> (u64, u64, i64) {
        (self.session_at, self.rev, self.updated_at)
    }

    /// Later than `other` in Kustomer's record of the agent's changes. Two reads with the
    /// same record and different statuses cannot be told apart (a tenant whose sessions carry
    /// no `rev`, two changes in one millisecond): the one read now is taken — a later change is
    /// never dropped for an equal timestamp, and the next read (a minute at most) settles it.
    pub fn is_after(&self, other: &Choice) -> bool {
        self.order() > other.order()
            || (self.order() == other.order()
                && self.kustomer_status_id != other.kustomer_status_id)
    }

    /// The same record read again.
    pub fn is_repeat_of(&self, other: &Choice) -> bool {
        self.order() == other.order() && self.kustomer_status_id == other.kustomer_status_id
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
    /// Shadow mode (`BRIDGE_MODE=shadow`, R-F-2): the CCAI status the choice would have set;
    /// nothing was sent.
    Shadow {
        seq: u64,
        ccai_status: String,
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
            | Outcome::InProgress { seq }
            | Outcome::Shadow { seq, .. } => *seq,
        }
    }

    /// Nothing more to do for it (a pending or failed choice still has work left). A choice
    /// recorded in shadow mode is settled: back in live mode the scheduled run does not set
    /// days-old choices over what agents did in CCAI since; the agent's next report does.
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
            Outcome::Shadow { ccai_status, .. } => {
                format!("shadow mode: would set {ccai_status} (nothing sent)")
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
    /// whether it is (now) the desired one. A later record of the *same* status (the session
    /// updated without a status change, a new shift that keeps it) is no new choice: the
    /// record advances — an older read arriving after it stays older — and the outcome stands,
    /// so a status the agent chose in CCAI since is not overwritten (latest wins, R-S-5).
    pub fn offer(&mut self, mut choice: Choice) -> Offer {
        if let Some(current) = &mut self.desired {
            if choice.is_repeat_of(current) {
                return Offer::Repeat;
            }
            if !choice.is_after(current) {
                return Offer::Older {
                    newer_seq: current.seq,
                };
            }
            if choice.kustomer_status_id == current.kustomer_status_id {
                current.session_at = choice.session_at;
                current.rev = choice.rev;
                current.updated_at = choice.updated_at;
                current.signed_out = choice.signed_out;
                return Offer::Advanced;
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
    /// A later record of the desired status: the record advanced, the outcome stands.
    Advanced,
    /// A later choice is recorded.
    Older {
        newer_seq: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(session_at: u64, rev: u64, updated_at: i64, status: &str) -> Choice {
        Choice {
            kustomer_status_id: status.into(),
            seq: 0,
            session_at,
            rev,
            updated_at,
            chosen_at: UnixMillis(updated_at),
            source: ChoiceSource::Report,
            signed_out: false,
        }
    }

    #[test]
    fn r_s_4_r_s_6_reads_are_ordered_by_kustomers_record_of_the_change() {
        let mut state = AgentState::default();
        assert_eq!(state.offer(choice(1, 3, 5_000, "K1")), Offer::Taken);
        // An earlier revision of the same shift, read before but recorded after: older.
        assert_eq!(
            state.offer(choice(1, 2, 4_000, "K2")),
            Offer::Older { newer_seq: 1 }
        );
        // The same record read again (another tab's report, the schedule).
        assert_eq!(state.offer(choice(1, 3, 5_000, "K1")), Offer::Repeat);
        // A later shift comes after whatever the earlier one recorded.
        assert_eq!(state.offer(choice(2, 1, 1_000, "K3")), Offer::Taken);
        assert_eq!(
            state.offer(choice(1, 9, 9_000, "K4")),
            Offer::Older { newer_seq: 2 }
        );
    }

    #[test]
    fn r_s_6_a_later_change_with_the_same_timestamp_is_not_dropped() {
        let mut state = AgentState::default();
        // A tenant whose sessions carry no `rev`: two changes in one millisecond.
        assert_eq!(state.offer(choice(1, 0, 5_000, "K1")), Offer::Taken);
        assert_eq!(state.offer(choice(1, 0, 5_000, "K2")), Offer::Taken);
        assert_eq!(
            state
                .desired
                .as_ref()
                .map(|d| d.kustomer_status_id.as_str()),
            Some("K2")
        );
        // With `rev`, the revision orders them whatever the timestamps say.
        assert_eq!(state.offer(choice(1, 2, 5_000, "K3")), Offer::Taken);
        assert_eq!(
            state.offer(choice(1, 1, 5_000, "K4")),
            Offer::Older { newer_seq: 3 }
        );
    }

    #[test]
    fn r_s_5_a_later_record_of_the_same_status_is_no_new_choice() {
        let mut state = AgentState::default();
        assert_eq!(state.offer(choice(1, 5, 5_000, "K1")), Offer::Taken);
        state.outcome = Some(Outcome::Applied {
            seq: 1,
            ccai_status: "Available".into(),
        });
        // The session updated without a status change (rev 6): the outcome stands.
        assert_eq!(state.offer(choice(1, 6, 6_000, "K1")), Offer::Advanced);
        assert_eq!(state.seq, 1);
        assert!(state.outcome.is_some());
        // An older read of another status, arriving after it, stays older.
        assert_eq!(
            state.offer(choice(1, 5, 5_500, "K2")),
            Offer::Older { newer_seq: 1 }
        );
        assert_eq!(state.offer(choice(1, 7, 7_000, "K2")), Offer::Taken);
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
