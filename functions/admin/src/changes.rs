//! Who changed what through the admin API (R-ADM-3: every change made in the console is
//! recorded with who made it), kept in the table beside the sessions' audit and for as long
//! (`AUDIT_DAYS`): `ADMIN#CHANGES/<ms13>#<uuid>` `{at, by, method, route, status}`. The log
//! line ("admin change") names the session, never an e-mail; this record names the admin —
//! the table already holds the admins' sign-in sessions — so that who made a change is still
//! known once the session that made it is gone. The health page lists the latest.

use bridge_shared::UnixMillis;
use bridge_shared::store::{Item, ItemKey, StateStore, StoreError};
use serde_json::{Value, json};
use std::time::Duration;

const PARTITION: &str = "ADMIN#CHANGES";

/// How many changes the health page shows.
pub const SHOWN: usize = 20;

/// Keeps one change: `by` the admin's e-mail or `ADMIN_TOKEN`, `route` as the template names it
/// (an agent's e-mail in the path is not kept), the answer's status.
pub async fn keep(
    store: &dyn StateStore,
    by: &str,
    (method, route, status): (&str, &str, u16),
    now: UnixMillis,
    kept_for: Duration,
) -> Result<(), StoreError> {
    let key = ItemKey::new(
        PARTITION,
        format!("{:013}#{}", now.0.max(0), uuid::Uuid::new_v4().simple()),
    );
    let body =
        json!({"at": now.to_iso(), "by": by, "method": method, "route": route, "status": status});
    store
        .put(&Item::new(key, body).expiring_at(now.plus(kept_for)))
        .await
}

/// The latest changes, newest first.
pub async fn latest(store: &dyn StateStore, now: UnixMillis) -> Result<Vec<Value>, StoreError> {
    // Keyed by time: the newest are read, never the whole partition.
    Ok(store
        .newest_of_partition(PARTITION, SHOWN, now)
        .await?
        .into_iter()
        .map(|item| item.body)
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use bridge_shared::store::EmbeddedStore;

    #[tokio::test]
    async fn r_adm_3_changes_are_kept_with_who_made_them_newest_first_and_expire() {
        let store = EmbeddedStore::new();
        let day = Duration::from_secs(86_400);
        for n in 0..(SHOWN as i64 + 5) {
            keep(
                &store,
                "admin@example.com",
                ("PUT", "/admin/status-mapping", 200),
                UnixMillis(1_000 + n),
                day,
            )
            .await
            .unwrap();
        }
        let shown = latest(&store, UnixMillis(2_000)).await.unwrap();
        assert_eq!(shown.len(), SHOWN);
        assert_eq!(shown[0]["by"], "admin@example.com");
        assert_eq!(
            shown[0]["at"],
            UnixMillis(1_000 + SHOWN as i64 + 4).to_iso()
        );
        assert!(shown[0]["at"].as_str() > shown[1]["at"].as_str());
        let later = UnixMillis(1_000).plus(day).plus(Duration::from_secs(60));
        assert!(latest(&store, later).await.unwrap().is_empty());
    }
}
