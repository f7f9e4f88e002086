//! The admin's status mapping (R-S-2, R-S-5, R-S-7, R-S-8), stored at `CONFIG/STATUS_MAP`.
//!
//! CCAI statuses are kept by **id** (ccai-api.md §2, H): ids are signed (built-ins 0 and
//! negative, custom ones positive) and names repeat (a custom "Meal" beside the built-in one).
//! The Apps API sets a status by *name*, so a target's name is resolved when the mapping is
//! saved ([`StatusMapping::resolve`]) and a name two statuses share is refused: the platform
//! could not be told which one is meant.

use super::rules::is_system_status;
use crate::ccai::model::UserStatus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// R-S-5: who wins when a CRM change waits while the agent also chose a next status in CCAI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorityMode {
    /// The most recent change, from the CRM or from CCAI, stands.
    #[default]
    LatestWins,
    /// A CRM change always replaces the agent's chosen next status.
    CrmOverrides,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusMapping {
    /// Kustomer routing-status id → CCAI status id; many-to-one (R-S-2).
    #[serde(default)]
    pub to_ccai: BTreeMap<String, i64>,
    /// CCAI status id (as text: JSON keys are strings) → Kustomer routing-status id, for
    /// two-way mode (R-S-7). Explicit, because a many-to-one mapping has no inverse.
    #[serde(default)]
    pub to_kustomer: BTreeMap<String, String>,
    /// The name of each CCAI status in `to_ccai`, by id, as resolved at save time (what the
    /// Apps API is sent). Filled by [`StatusMapping::resolve`]; ignored in a request.
    #[serde(default)]
    pub ccai_names: BTreeMap<String, String>,
    #[serde(default)]
    pub priority: PriorityMode,
    #[serde(default)]
    pub two_way: bool,
    #[serde(default)]
    pub apply_at_login: bool,
}

impl StatusMapping {
    /// The CCAI status name to set for a Kustomer status.
    pub fn ccai_status_for(&self, kustomer_status_id: &str) -> Option<&str> {
        let id = self.to_ccai.get(kustomer_status_id)?;
        self.ccai_names.get(&id.to_string()).map(String::as_str)
    }

    /// The Kustomer status for a CCAI status id (two-way mode).
    pub fn kustomer_status_for(&self, ccai_status_id: i64) -> Option<&str> {
        self.to_kustomer
            .get(&ccai_status_id.to_string())
            .map(String::as_str)
    }

    /// Checks the mapping against the statuses that exist and resolves the names of its CCAI
    /// targets. The error names the bad entry (`to_ccai.<id>`, `to_kustomer.<id>`) and why.
    pub fn resolve(mut self, kustomer_ids: &[String], ccai: &[UserStatus]) -> Result<Self, String> {
        let by_id = |id: i64| ccai.iter().find(|s| s.id == id);
        let mut names = BTreeMap::new();
        for (kustomer, ccai_id) in &self.to_ccai {
            if !kustomer_ids.contains(kustomer) {
                return Err(format!(
                    "to_ccai.{kustomer}: no Kustomer routing status has this id"
                ));
            }
            let Some(status) = by_id(*ccai_id) else {
                return Err(format!(
                    "to_ccai.{kustomer}: CCAI has no status with the id {ccai_id}"
                ));
            };
            if is_system_status(&status.name) {
                return Err(format!(
                    "to_ccai.{kustomer}: {} ({ccai_id}) is set by CCAI itself during sessions and cannot be a target",
                    status.name
                ));
            }
            let twins: Vec<String> = ccai
                .iter()
                .filter(|s| s.id != *ccai_id && s.name.eq_ignore_ascii_case(&status.name))
                .map(|s| s.id.to_string())
                .collect();
            if !twins.is_empty() {
                return Err(format!(
                    "to_ccai.{kustomer}: CCAI status {ccai_id} is named {:?} like status {}; CCAI sets statuses by name, so the bridge cannot tell it which one is meant (rename one of them in CCAI)",
                    status.name,
                    twins.join(", ")
                ));
            }
            names.insert(ccai_id.to_string(), status.name.clone());
        }
        for (ccai_id, kustomer) in &self.to_kustomer {
            let parsed = ccai_id.parse::<i64>().ok();
            if parsed.and_then(by_id).is_none() {
                return Err(format!(
                    "to_kustomer.{ccai_id}: CCAI has no status with this id"
                ));
            }
            if !kustomer_ids.contains(kustomer) {
                return Err(format!(
                    "to_kustomer.{ccai_id}: no Kustomer routing status has the id {kustomer:?}"
                ));
            }
            // Two ways that disagree undo each other: the agent picks CCAI status X, the
            // bridge sets Kustomer status Y, and Y mapped forward would set CCAI to another
            // status whenever Kustomer's record of Y is followed (a new shift, another tab).
            if self.two_way
                && let Some(forward) = self.to_ccai.get(kustomer)
                && Some(*forward) != parsed
            {
                return Err(format!(
                    "to_kustomer.{ccai_id}: Kustomer status {kustomer:?} maps back to CCAI status {forward} (to_ccai.{kustomer}), not {ccai_id}; in two-way mode both directions must agree, or a change made in CCAI would be undone"
                ));
            }
        }
        self.ccai_names = names;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn statuses() -> Vec<UserStatus> {
        [
            (0, "Available"),
            (-2, "Break"),
            (-4, "Meal"),
            (-7, "In-call"),
            (1, "Lunch"),
            (5, "Meal"),
        ]
        .iter()
        .map(|(id, name)| UserStatus {
            id: *id,
            name: (*name).into(),
            ..Default::default()
        })
        .collect()
    }

    fn kustomer() -> Vec<String> {
        vec!["K1".into(), "K2".into()]
    }

    fn mapping(to_ccai: &[(&str, i64)]) -> StatusMapping {
        StatusMapping {
            to_ccai: to_ccai
                .iter()
                .map(|(k, id)| ((*k).to_owned(), *id))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn r_s_2_targets_are_kept_by_id_and_sent_by_their_name() {
        let resolved = mapping(&[("K1", 0), ("K2", -2)])
            .resolve(&kustomer(), &statuses())
            .unwrap();
        assert_eq!(resolved.ccai_status_for("K1"), Some("Available"));
        assert_eq!(resolved.ccai_status_for("K2"), Some("Break"));
        assert_eq!(resolved.ccai_status_for("K3"), None);
    }

    #[test]
    fn r_s_2_ids_at_or_below_zero_are_statuses_like_any_other() {
        let resolved = mapping(&[("K1", 1)])
            .resolve(&kustomer(), &statuses())
            .unwrap();
        assert_eq!(resolved.ccai_status_for("K1"), Some("Lunch"));
        assert!(
            mapping(&[("K1", -3)])
                .resolve(&kustomer(), &statuses())
                .unwrap_err()
                .contains("no status with the id -3")
        );
    }

    #[test]
    fn r_s_2_a_name_two_statuses_share_is_refused_with_the_reason() {
        for id in [-4, 5] {
            let err = mapping(&[("K1", id)])
                .resolve(&kustomer(), &statuses())
                .unwrap_err();
            assert!(err.starts_with("to_ccai.K1: "), "{err}");
            assert!(err.contains("\"Meal\"") && err.contains("by name"), "{err}");
        }
    }

    #[test]
    fn r_s_2_system_statuses_and_unknown_entries_are_refused() {
        let err = mapping(&[("K1", -7)])
            .resolve(&kustomer(), &statuses())
            .unwrap_err();
        assert!(err.contains("In-call (-7) is set by CCAI itself"), "{err}");
        let err = mapping(&[("K9", 0)])
            .resolve(&kustomer(), &statuses())
            .unwrap_err();
        assert!(err.starts_with("to_ccai.K9"), "{err}");
        let mut reverse = mapping(&[]);
        reverse.to_kustomer.insert("-99".into(), "K1".into());
        assert!(
            reverse
                .clone()
                .resolve(&kustomer(), &statuses())
                .unwrap_err()
                .starts_with("to_kustomer.-99")
        );
        reverse.to_kustomer = BTreeMap::from([("-2".into(), "K9".into())]);
        assert!(
            reverse
                .resolve(&kustomer(), &statuses())
                .unwrap_err()
                .starts_with("to_kustomer.-2")
        );
    }

    #[test]
    fn r_s_7_two_way_directions_that_disagree_are_refused() {
        // K1 and K2 both set Available (many-to-one); Available goes back to K1: agreed.
        let mut both = mapping(&[("K1", 0), ("K2", 0)]);
        both.two_way = true;
        both.to_kustomer.insert("0".into(), "K1".into());
        both.clone().resolve(&kustomer(), &statuses()).unwrap();
        // Ids are compared as numbers, whatever the key's spelling.
        let mut spelt = both.clone();
        spelt.to_kustomer = BTreeMap::from([("00".into(), "K1".into())]);
        spelt.resolve(&kustomer(), &statuses()).unwrap();
        // Break goes back to K2, but K2 sets Available: a Break chosen in CCAI would be undone.
        both.to_kustomer.insert("-2".into(), "K2".into());
        let err = both.clone().resolve(&kustomer(), &statuses()).unwrap_err();
        assert!(err.starts_with("to_kustomer.-2: "), "{err}");
        assert!(err.contains("to_ccai.K2"), "{err}");
        // One-way mode ignores the reverse direction's agreement.
        both.two_way = false;
        both.resolve(&kustomer(), &statuses()).unwrap();
    }
}
