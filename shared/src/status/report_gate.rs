//! One Kustomer read per agent per interval, whatever reports (issue 26, left open from the
//! review of R-S-4): a report is only a trigger, and each one the bridge follows costs a read
//! of the agent's work session from the tenant's shared Kustomer budget. An agent's own tab
//! (or a script holding their session) reporting in a loop would spend that budget for every
//! other agent and every session. So a report within [`REPORT_INTERVAL`] of the agent's last
//! followed one is refused with the time left; the widget sends it again then, so a change
//! made in quick succession is followed a moment later, never lost (and the scheduled run
//! reads every agent's work session each minute regardless).
//!
//! Item: `AGENT#<email>` / `REPORTED`, written only if no live one exists (a conditional
//! write: two reports racing take one turn between them), expiring after the interval.

use crate::UnixMillis;
use crate::store::{Item, ItemKey, PutOutcome, StateStore, StoreError};
use serde_json::json;
use std::time::Duration;

/// The least time between two reads of one agent's work session that a report causes.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(2);

fn key(email: &str) -> ItemKey {
    let agent = ItemKey::agent_profile(email);
    ItemKey::new(agent.pk, "REPORTED")
}

/// Whether this report may be followed now.
#[derive(Debug, PartialEq, Eq)]
pub enum Turn {
    Taken,
    /// Too soon after the last one: send it again after this long (whole seconds, at least 1).
    TooSoon {
        retry_after_s: u64,
    },
}

/// Takes the agent's turn to be read, if the last was at least `interval` ago. A zero
/// interval turns the gate off (nothing is written).
pub async fn take_turn(
    store: &dyn StateStore,
    email: &str,
    interval: Duration,
    now: UnixMillis,
) -> Result<Turn, StoreError> {
    if interval.is_zero() {
        return Ok(Turn::Taken);
    }
    let turn = Item::new(key(email), json!({ "at": now.0 })).expiring_at(now.plus(interval));
    Ok(match store.put_if_absent(&turn, now).await? {
        PutOutcome::Written => Turn::Taken,
        PutOutcome::Kept(last) => {
            let left_ms = last
                .expires_at
                .map_or(interval.as_millis() as i64, |at| at.0 - now.0)
                .max(1);
            Turn::TooSoon {
                retry_after_s: (left_ms as u64).div_ceil(1000),
            }
        }
    })
}
