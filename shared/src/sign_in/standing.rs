//! Whether the Kustomer user an agent session was issued to still stands (review of issue 26:
//! a session outlived its user's deactivation for up to 12 hours).
//!
//! Kustomer deactivates a user by setting `deleted` (its OpenAPI document,
//! `UpdateUserByIdData`), and its user list filters on it (`GetUsersData`: `deleted=false`
//! "returns only active users", `true` "only deactivated users"; M, from that document only).
//! A session ends only on positive evidence — the user listed as deactivated — never because a
//! lookup missed them (a case-sensitive e-mail filter, an e-mail changed since sign-in, a filter
//! ignored): those leave the session to its 12 hours, as before.
//!
//! The answer is kept in the table for the whole org (`AGENT#<email>` / `STANDING`), so each
//! user costs at most one Kustomer lookup per [`RECHECK`] however many containers serve them;
//! a lookup that fails or is unsure is not repeated for [`UNSURE_FOR`]. Each lookup is one
//! request within [`LOOKUP_TIMEOUT`] that does not wait out a 429: a slow or rate-limited
//! Kustomer delays no agent request more than that.

use crate::UnixMillis;
use crate::kustomer::{KustomerClient, without_rate_waits};
use crate::store::{Item, ItemKey, StateStore};
use serde_json::json;
use std::time::Duration;

/// How long a user found active is taken to stay so, for every container.
pub const RECHECK: Duration = Duration::from_secs(15 * 60);
/// How long a lookup that failed, or found the user neither active nor deactivated, is not
/// repeated.
pub const UNSURE_FOR: Duration = Duration::from_secs(60);
/// The longest an agent request waits for the lookup.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    Active,
    /// Kustomer lists the user among its deactivated users.
    Deactivated,
    /// Not known (a lookup failed or found neither): the session goes on.
    Unsure,
}

fn key(email: &str) -> ItemKey {
    ItemKey::new(ItemKey::agent_profile(email).pk, "STANDING")
}

/// The user's standing, from the table when a recent answer is kept there, else from Kustomer.
pub async fn standing(
    store: &dyn StateStore,
    kustomer: &KustomerClient,
    user_id: &str,
    email: &str,
    now: UnixMillis,
) -> Standing {
    let key = key(email);
    match store.get(&key, now).await {
        // The kept answer as it was: an unsure one stays unsure (the admin console refuses it).
        // (An entry kept before the distinction names none: the user is looked up again.)
        Ok(Some(kept))
            if kept.body["user_id"].as_str() == Some(user_id)
                && kept.body["standing"].is_string() =>
        {
            return if kept.body["standing"] == "active" {
                Standing::Active
            } else {
                Standing::Unsure
            };
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "state store failed reading a user's standing"),
    }
    let standing = look_up(kustomer, user_id, email).await;
    let keep_for = match standing {
        Standing::Active => RECHECK,
        Standing::Unsure => UNSURE_FOR,
        Standing::Deactivated => return standing,
    };
    let word = if standing == Standing::Active {
        "active"
    } else {
        "unsure"
    };
    let kept = Item::new(key, json!({ "user_id": user_id, "standing": word }))
        .expiring_at(now.plus(keep_for));
    if let Err(err) = store.put(&kept).await {
        tracing::warn!(error = %err, "state store failed keeping a user's standing");
    }
    standing
}

async fn look_up(kustomer: &KustomerClient, user_id: &str, email: &str) -> Standing {
    let listed = |deleted: bool| async move {
        let users = tokio::time::timeout(
            LOOKUP_TIMEOUT,
            without_rate_waits(kustomer.users_by_email_and_standing(email, deleted)),
        )
        .await;
        match users {
            Ok(Ok(users)) => Some(users.iter().any(|user| user.id == user_id)),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "could not ask Kustomer whether a user is active");
                None
            }
            Err(_) => {
                tracing::warn!("Kustomer did not say in time whether a user is active");
                None
            }
        }
    };
    match listed(false).await {
        Some(true) => Standing::Active,
        None => Standing::Unsure,
        Some(false) => match listed(true).await {
            Some(true) => Standing::Deactivated,
            _ => {
                tracing::warn!(
                    "a signed-in user is neither among Kustomer's active nor its deactivated users with their e-mail; the session goes on"
                );
                Standing::Unsure
            }
        },
    }
}
