//! Shadow mode (`BRIDGE_MODE=shadow`, product.md R-F-2): everything runs — events, polls,
//! files, status triggers — but nothing is written to Kustomer or CCAI. Each session keeps
//! what the bridge would have done (`plan`, made by `conversation::planner`), each file worker
//! what it would have attached, each agent the status it would have set; `compare` sets the
//! plans beside what Kustomer shows (written there by CCAI's own connector while it is on)
//! and lists every difference (`GET /admin/shadow`).
//!
//! The clients refuse every write in this mode ([`crate::kustomer::KustomerClient::reading_only`],
//! [`crate::ccai::CcaiClient::reading_only`]), whatever path reaches one. Switching back to
//! live writes nothing for the sessions that ended in shadow mode unless an admin resyncs one
//! ([`planned_only`]): no backlog is replayed into Kustomer unasked. A session still going on
//! at the switch is the live bridge's from then on (the connector is off by then).

pub mod compare;
pub mod plan;

use crate::UnixMillis;
use crate::events::SessionRef;
use crate::store::{ItemKey, StateStore, StoreError};

/// Whether the session ended in shadow mode (its plan says so) and was never placed live: a
/// live trigger then leaves it alone (only an admin's resync writes it).
pub async fn planned_only(
    store: &dyn StateStore,
    session: &SessionRef,
    now: UnixMillis,
) -> Result<bool, StoreError> {
    if !plan::load(store, session, now)
        .await?
        .is_some_and(|plan| plan.ended)
    {
        return Ok(false);
    }
    let link = ItemKey::session_link(session.kind, session.id);
    Ok(store.get(&link, now).await?.is_none())
}
