//! The admin's status mapping (R-S-2, R-S-5, R-S-7, R-S-8), stored at `CONFIG/STATUS_MAP`.

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
    /// Kustomer routing-status id → CCAI status name; many-to-one (R-S-2).
    #[serde(default)]
    pub to_ccai: BTreeMap<String, String>,
    /// CCAI status name → Kustomer routing-status id, for two-way mode (R-S-7). Explicit,
    /// because a many-to-one mapping has no inverse.
    #[serde(default)]
    pub to_kustomer: BTreeMap<String, String>,
    #[serde(default)]
    pub priority: PriorityMode,
    #[serde(default)]
    pub two_way: bool,
    #[serde(default)]
    pub apply_at_login: bool,
}

impl StatusMapping {
    pub fn ccai_status_for(&self, kustomer_status_id: &str) -> Option<&str> {
        self.to_ccai.get(kustomer_status_id).map(String::as_str)
    }

    pub fn kustomer_status_for(&self, ccai_status: &str) -> Option<&str> {
        self.to_kustomer.get(ccai_status).map(String::as_str)
    }
}
