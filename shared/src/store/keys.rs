//! The single-table key schema.
//!
//! One DynamoDB table, partition key `pk` (S) and sort key `sk` (S), on-demand capacity, stream
//! of new images, TTL attribute `ttl` (epoch seconds, clean-up only).
//!
//! | item | `pk` | `sk` | attributes |
//! |---|---|---|---|
//! | agent profile | `AGENT#<email>` | `PROFILE` | `body` {Kustomer user id, CCAI agent id} |
//! | agent lease (R-S-4) | `AGENT#<email>` | `LEASE` | `owner`, `fence` (N, only grows), `exp_ms`, `ttl` |
//! | CCAI agent owner (R-S-3) | `CCAI_AGENT#<id>` | `OWNER` | `body` {email}: one Kustomer user per CCAI agent |
//! | agent sync state (R-S) | `AGENT#<email>` | `LEASE` | on the lease item: `state` {last applied, pending, ignored, last error, last reflected}, `state_ver` (the change's time) |
//! | agent index | `AGENTS` | `<email>` | `body` {email}: the admin's agent list |
//! | configuration | `CONFIG` | `STATUS_MAP`, `CURSOR#calls`, `CURSOR#chats`, `CUSTOMER_ATTR#…` | `body`, `ver` |
//! | custom fields (R-CF) | `FIELDS` | `FIELD#<id>` {created_at, created_by}, `SDK_KEYS` {key: target} | `body` |
//! | session link | `SESSION#call#<id>`, `SESSION#chat#<id>` | `LINK` | `body` {conversation, customer, customer created, assignee, phone note, session message (id, custom values written), notes written, customer custom values} |
//! | session's latest ESE item (R-E-5) | `SESSION#call#<id>`, `SESSION#chat#<id>` | `ESE` | `body` (the `item`), `ver` (the event's `timestamp` ms) |
//! | rejected ESE event | `REJECTED` | `<received ms>#<id>` | `body` {error, field, event (redacted), received_at}, `ttl` |
//! | customer link | `CUSTOMER#phone#<e164>`, `CUSTOMER#uid#<identifier>` | `LINK` | `body` {Kustomer customer id} |
//! | customer's current conversation | `CUSTOMER#<Kustomer customer id>` | `CURRENT` | `body` {conversation id, channel, menu} |
//! | customer's sessions (the console's search) | `CUSTOMER#<Kustomer customer id>` | `SESSION#<kind>#<id>` | `body` {at} |
//! | session audit (R-ADM-2) | `SESSION#<kind>#<id>` | `AUDIT#<ms13>#<worker>#<uuid>` | `body` {at, worker, trigger, source, hint, outcome, decisions, writes}, `ttl` (`AUDIT_DAYS`) |
//! | a resync's dry run (R-ADM-2) | `SESSION#<kind>#<id>` | `PREVIEW` | `body` {at, trigger, steps}, `ttl` |
//! | admin change (R-ADM-3) | `ADMIN#CHANGES` | `<ms13>#<uuid>` | `body` {at, by, method, route, status}, `ttl` (`AUDIT_DAYS`) |
//! | inbox trigger | `EVENT#<ESE event_id or poll-…>` | `INBOX` | `body` (the trigger), `exp_ms`, `ttl` |
//! | idempotency | `IDEM#<key>` | `IDEM` | `status`, `claim`, `ip_exp_ms`, `exp_ms`, `result`, `ttl` |
//!
//! Documents keep their JSON in `body` as a native map, so stream filters can match on it
//! (`body.type`). E-mail addresses are lower-cased in keys: both platforms treat them
//! case-insensitively.

use std::fmt;

/// The sort-key prefix of a customer's sessions ([`ItemKey::customer_session`]).
pub const CUSTOMER_SESSION_PREFIX: &str = "SESSION#";

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemKey {
    pub pk: String,
    pub sk: String,
}

/// Which kind of CCAI session a key is about (one type with the events').
pub use crate::events::SessionKind;

impl ItemKey {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    pub fn agent_profile(email: &str) -> Self {
        Self::new(agent_pk(email), "PROFILE")
    }

    /// An e-mail neither platform knows as one agent, remembered a few minutes (review S13).
    pub fn agent_unknown(email: &str) -> Self {
        Self::new(agent_pk(email), "UNKNOWN")
    }

    pub fn agent_lease(email: &str) -> Self {
        Self::new(agent_pk(email), "LEASE")
    }

    /// `name`: `STATUS_MAP`, `CURSOR#calls`, `CURSOR#chats`, …
    pub fn config(name: &str) -> Self {
        Self::new("CONFIG", name)
    }

    pub fn session_link(kind: SessionKind, session_id: u64) -> Self {
        Self::new(format!("SESSION#{}#{session_id}", kind.as_str()), "LINK")
    }

    /// The latest External Session Event `item` of a session (versioned by its `timestamp`).
    pub fn session_ese(kind: SessionKind, session_id: u64) -> Self {
        Self::new(format!("SESSION#{}#{session_id}", kind.as_str()), "ESE")
    }

    /// A malformed ESE event kept for `GET /admin/rejected`; sorted by arrival.
    pub fn rejected_event(received_ms: i64, id: &str) -> Self {
        Self::new("REJECTED", format!("{received_ms:015}#{id}"))
    }

    pub fn customer_by_phone(e164: &str) -> Self {
        Self::new(format!("CUSTOMER#phone#{e164}"), "LINK")
    }

    pub fn customer_by_identifier(identifier: &str) -> Self {
        Self::new(format!("CUSTOMER#uid#{identifier}"), "LINK")
    }

    /// The conversation the bridge last placed a session of this customer in (R-U-1, R-U-2).
    pub fn customer_current_conversation(customer_id: &str) -> Self {
        Self::new(format!("CUSTOMER#{customer_id}"), "CURRENT")
    }

    /// A session placed for this customer (the admin console's search by customer or number,
    /// R-ADM-2): one item per session, sorted by kind and id.
    pub fn customer_session(customer_id: &str, kind: SessionKind, session_id: u64) -> Self {
        Self::new(
            format!("CUSTOMER#{customer_id}"),
            format!("{}{}#{session_id}", CUSTOMER_SESSION_PREFIX, kind.as_str()),
        )
    }

    pub fn inbox(event_id: &str) -> Self {
        Self::new(format!("EVENT#{event_id}"), "INBOX")
    }

    pub fn idempotency(key: &str) -> Self {
        Self::new(format!("IDEM#{key}"), "IDEM")
    }
}

fn agent_pk(email: &str) -> String {
    format!("AGENT#{}", email.trim().to_lowercase())
}

impl fmt::Display for ItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.pk, self.sk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_keys_ignore_email_case_and_padding() {
        assert_eq!(
            ItemKey::agent_lease(" Ana@Example.com "),
            ItemKey::new("AGENT#ana@example.com", "LEASE")
        );
    }

    #[test]
    fn session_and_customer_keys_follow_the_documented_schema() {
        assert_eq!(
            ItemKey::session_link(SessionKind::Chat, 55).to_string(),
            "SESSION#chat#55/LINK"
        );
        assert_eq!(
            ItemKey::customer_by_phone("+15550104477").pk,
            "CUSTOMER#phone#+15550104477"
        );
        assert_eq!(ItemKey::idempotency("evt-1").to_string(), "IDEM#evt-1/IDEM");
    }
}
