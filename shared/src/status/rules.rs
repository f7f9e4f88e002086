//! The status rules (R-S-1, R-S-2, R-S-5, R-S-6, R-S-7) as pure functions over data. Ordering
//! of changes (a change older than the last one is dropped, R-S-6) is enforced by the state
//! store's versioned write, not here.

use super::mapping::{PriorityMode, StatusMapping};
use crate::UnixMillis;

/// Statuses CCAI sets itself during sessions.
pub const SYSTEM_STATUSES: [&str; 3] = ["In-call", "In-chat", "Wrap-up"];
/// The CCAI status of an agent who is signed out.
pub const OFFLINE: &str = "Offline";

pub fn is_system_status(status: &str) -> bool {
    SYSTEM_STATUSES
        .iter()
        .any(|s| s.eq_ignore_ascii_case(status))
}

/// What the bridge knows of the agent in CCAI at decision time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CcaiAgentView {
    pub status: String,
    /// The status's id (signed, ccai-api.md §2), when the platform gave one.
    pub status_id: Option<i64>,
    pub online: bool,
    /// When the current status became current (`status_updated_at`). That is when the agent
    /// chose it only outside a session: a next status chosen during a call becomes current
    /// when the call ends (R-S-5), and CCAI does not say when it was chosen.
    pub since: Option<UnixMillis>,
}

impl CcaiAgentView {
    fn offline(&self) -> bool {
        !self.online || self.status.eq_ignore_ascii_case(OFFLINE)
    }
}

/// What to do with one CRM status change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Set this CCAI status now.
    Apply(String),
    /// The agent is in a system status: keep this as pending, apply when it ends (R-S-6).
    KeepPending(String),
    /// The agent is offline in CCAI: record, do not apply (R-S-6).
    IgnoreOffline(String),
    /// Already in that status: nothing to send.
    AlreadyThere(String),
    /// No mapping for this Kustomer status: an error for that agent (R-S-2).
    Unmapped,
}

pub fn decide(
    kustomer_status_id: &str,
    mapping: &StatusMapping,
    agent: &CcaiAgentView,
) -> Decision {
    let Some(target) = mapping.ccai_status_for(kustomer_status_id) else {
        return Decision::Unmapped;
    };
    let target = target.to_owned();
    if agent.offline() {
        Decision::IgnoreOffline(target)
    } else if is_system_status(&agent.status) {
        Decision::KeepPending(target)
    } else if agent.status.eq_ignore_ascii_case(&target) {
        Decision::AlreadyThere(target)
    } else {
        Decision::Apply(target)
    }
}

/// What becomes of a CRM change that waited for the agent's session, once the session is
/// over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PendingOutcome {
    /// Still in a system status.
    Wait,
    Apply(String),
    /// Dropped, with the reason (for the agent's record).
    Drop(String),
}

/// A status that became current this long after the agent's system status ended was chosen
/// after it, so it is the agent's own later choice; one that became current within it is the
/// status CCAI moved the agent to as the wrap-up ended (a next status picked during the call,
/// or the default).
pub const NEXT_STATUS_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// R-S-5 and R-S-6 for a CRM change made during a session, once the agent's session is over
/// (`system_status_ended_at`: when the agent left Wrap-up, when known — ESE's Final event).
///
/// *Latest wins* compares when each choice was made. The CRM change was made during the call.
/// CCAI tells when its current status became current, not when it was chosen: the status the
/// agent leaves Wrap-up into became current at that moment, whether it was chosen before or
/// after the CRM change — and a wrap-up lasts as long as the agent takes, so the call's own
/// end proves nothing (review finding 1). So the agent's CCAI status wins only when it provably
/// came later: it became current more than [`NEXT_STATUS_GRACE`] after the system status
/// ended. Without that moment nothing proves it, and the CRM change made during the call wins
/// (docs/agent-status.md).
pub fn resolve_pending(
    ccai_status: &str,
    mode: PriorityMode,
    agent: &CcaiAgentView,
    system_status_ended_at: Option<UnixMillis>,
) -> PendingOutcome {
    if agent.offline() {
        return PendingOutcome::Drop("agent went offline".into());
    }
    if is_system_status(&agent.status) {
        return PendingOutcome::Wait;
    }
    if agent.status.eq_ignore_ascii_case(ccai_status) {
        return PendingOutcome::Drop(format!("already {}", agent.status));
    }
    match (mode, agent.since, system_status_ended_at) {
        (PriorityMode::LatestWins, Some(since), Some(ended))
            if since > ended.plus(NEXT_STATUS_GRACE) =>
        {
            PendingOutcome::Drop(format!(
                "the agent chose {} in CCAI after the wrap-up",
                agent.status
            ))
        }
        _ => PendingOutcome::Apply(ccai_status.to_owned()),
    }
}

/// R-S-7: the Kustomer status to set for the agent's CCAI status (looked up by its id), in
/// two-way mode. `None` for system statuses, unmapped statuses, and the bridge's own last
/// change (no echo loop).
pub fn reverse_change<'m>(
    agent: &CcaiAgentView,
    mapping: &'m StatusMapping,
    last_applied_by_bridge: Option<&str>,
) -> Option<&'m str> {
    if !mapping.two_way || is_system_status(&agent.status) {
        return None;
    }
    if last_applied_by_bridge.is_some_and(|ours| ours.eq_ignore_ascii_case(&agent.status)) {
        return None;
    }
    mapping.kustomer_status_for(agent.status_id?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The example of R-S-2: K1→A, K2→A, K3→B, K4→D.
    fn mapping() -> StatusMapping {
        StatusMapping {
            to_ccai: BTreeMap::from([
                ("K1".into(), 0),
                ("K2".into(), 0),
                ("K3".into(), -2),
                ("K4".into(), 1),
            ]),
            to_kustomer: BTreeMap::from([("-2".into(), "K3".into()), ("0".into(), "K1".into())]),
            ccai_names: BTreeMap::from([
                ("0".into(), "Available".into()),
                ("-2".into(), "Break".into()),
                ("1".into(), "Lunch".into()),
            ]),
            two_way: true,
            ..Default::default()
        }
    }

    fn agent(status: &str) -> CcaiAgentView {
        let id = match status {
            "Available" => Some(0),
            "Break" => Some(-2),
            "Lunch" => Some(1),
            "In-call" => Some(-7),
            _ => None,
        };
        CcaiAgentView {
            status: status.into(),
            status_id: id,
            online: status != OFFLINE,
            since: None,
        }
    }

    #[test]
    fn r_s_2_mapping_is_many_to_one() {
        let lunch = agent("Lunch");
        assert_eq!(
            decide("K1", &mapping(), &lunch),
            Decision::Apply("Available".into())
        );
        assert_eq!(
            decide("K2", &mapping(), &lunch),
            Decision::Apply("Available".into())
        );
        assert_eq!(
            decide("K3", &mapping(), &lunch),
            Decision::Apply("Break".into())
        );
        assert_eq!(
            decide("K4", &mapping(), &agent("Available")),
            Decision::Apply("Lunch".into())
        );
    }

    #[test]
    fn r_s_2_an_unmapped_status_changes_nothing() {
        assert_eq!(
            decide("K9", &mapping(), &agent("Available")),
            Decision::Unmapped
        );
    }

    #[test]
    fn r_s_6_offline_agents_are_recorded_not_changed() {
        assert_eq!(
            decide("K3", &mapping(), &agent(OFFLINE)),
            Decision::IgnoreOffline("Break".into())
        );
        let signed_out = CcaiAgentView {
            status: "Available".into(),
            status_id: Some(0),
            online: false,
            since: None,
        };
        assert_eq!(
            decide("K3", &mapping(), &signed_out),
            Decision::IgnoreOffline("Break".into())
        );
    }

    #[test]
    fn r_s_6_system_statuses_keep_the_change_pending() {
        for status in SYSTEM_STATUSES {
            assert_eq!(
                decide("K3", &mapping(), &agent(status)),
                Decision::KeepPending("Break".into())
            );
        }
    }

    #[test]
    fn a_change_to_the_current_status_sends_nothing() {
        assert_eq!(
            decide("K2", &mapping(), &agent("Available")),
            Decision::AlreadyThere("Available".into())
        );
    }

    const ENDED: UnixMillis = UnixMillis(10_000);

    #[test]
    fn r_s_6_pending_waits_while_the_session_lasts_and_applies_after() {
        let mode = PriorityMode::LatestWins;
        assert_eq!(
            resolve_pending("Break", mode, &agent("Wrap-up"), Some(ENDED)),
            PendingOutcome::Wait
        );
        assert_eq!(
            resolve_pending("Break", mode, &agent("Available"), Some(ENDED)),
            PendingOutcome::Apply("Break".into())
        );
        assert!(matches!(
            resolve_pending(
                "Break",
                PriorityMode::CrmOverrides,
                &agent(OFFLINE),
                Some(ENDED)
            ),
            PendingOutcome::Drop(_)
        ));
    }

    fn lunch_since(at: i64) -> CcaiAgentView {
        CcaiAgentView {
            since: Some(UnixMillis(at)),
            ..agent("Lunch")
        }
    }

    #[test]
    fn r_s_5_latest_wins_keeps_a_choice_made_after_the_session() {
        let later = lunch_since(ENDED.0 + 60_000);
        assert!(matches!(
            resolve_pending("Break", PriorityMode::LatestWins, &later, Some(ENDED)),
            PendingOutcome::Drop(_)
        ));
    }

    #[test]
    fn r_s_5_a_next_status_that_became_current_at_the_calls_end_loses_to_the_crm_change() {
        // Chosen during the call (when, CCAI does not say), current since the call ended: the
        // CRM change made during the call wins, even though "current since" is later than it.
        let at_the_end = lunch_since(ENDED.0 + 800);
        assert_eq!(
            resolve_pending("Break", PriorityMode::LatestWins, &at_the_end, Some(ENDED)),
            PendingOutcome::Apply("Break".into())
        );
        // Without the session's end (the scheduled run), nothing proves the agent chose later.
        let later = lunch_since(ENDED.0 + 60_000);
        assert_eq!(
            resolve_pending("Break", PriorityMode::LatestWins, &later, None),
            PendingOutcome::Apply("Break".into())
        );
    }

    #[test]
    fn r_s_5_crm_overrides_replaces_the_agents_choice() {
        let later = lunch_since(ENDED.0 + 60_000);
        assert_eq!(
            resolve_pending("Break", PriorityMode::CrmOverrides, &later, Some(ENDED)),
            PendingOutcome::Apply("Break".into())
        );
    }

    #[test]
    fn r_s_7_two_way_reflects_ccai_changes_but_never_echoes_the_bridges_own() {
        let mapping = mapping();
        assert_eq!(
            reverse_change(&agent("Break"), &mapping, Some("Available")),
            Some("K3")
        );
        assert_eq!(
            reverse_change(&agent("Break"), &mapping, Some("Break")),
            None,
            "our own change"
        );
        assert_eq!(reverse_change(&agent("In-call"), &mapping, None), None);
        assert_eq!(
            reverse_change(&agent("Lunch"), &mapping, None),
            None,
            "unmapped"
        );
        let one_way = StatusMapping {
            two_way: false,
            ..mapping
        };
        assert_eq!(reverse_change(&agent("Break"), &one_way, None), None);
    }
}
