//! Links from the admin console into Kustomer's web app (R-ADM-2: "every Kustomer and CCAI
//! write with its id (links into Kustomer)"). The bridge only forms these addresses for the
//! admin's browser; it never requests them.
//!
//! - The web app's host is the org's own, `https://<org>.kustomerapp.com` — H: Kustomer's
//!   "Regions and base URLs" (developer.kustomer.com/docs/get-started/regions-and-base-urls),
//!   "`https://<org>.kustomerapp.com` — The Kustomer web app", with the org name "the subdomain
//!   you sign in at" (`KUSTOMER_ORG`, the agents' sign-in setting).
//! - The pages' paths, `/app/customers/<customer id>` and `/app/conversations/<conversation
//!   id>` — M: not documented by Kustomer; seen in several independent integrations' code (a
//!   Slack bot, a Yext connector, LookML and scripts of other orgs, and Kustomer's own org's
//!   `kustomer.kustomerapp.com/app/conversations/…`). The form seen beside it for a
//!   conversation, `/app/customers/<customer>/event/<conversation>`, needs the customer too;
//!   should Kustomer drop the short form, [`KustomerUi::conversation`] is the one place to
//!   change.

use std::fmt;

/// The org's web app, when the bridge knows the org.
#[derive(Clone, PartialEq, Eq)]
pub struct KustomerUi {
    base: String,
}

impl fmt::Debug for KustomerUi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)
    }
}

/// Why `KUSTOMER_ORG` cannot name a web app.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("expected the org's sign-in name, such as acme for acme.kustomerapp.com")]
pub struct NotAnOrgName;

impl KustomerUi {
    /// The web app of the org `org` signs in at (`acme` for `acme.kustomerapp.com`).
    pub fn of_org(org: &str) -> Result<Self, NotAnOrgName> {
        if !is_org_name(org) {
            return Err(NotAnOrgName);
        }
        Ok(Self {
            base: format!("https://{}.kustomerapp.com", org.to_ascii_lowercase()),
        })
    }

    /// A customer's page.
    pub fn customer(&self, id: &str) -> Option<String> {
        is_id(id).then(|| format!("{}/app/customers/{id}", self.base))
    }

    /// A conversation's page.
    pub fn conversation(&self, id: &str) -> Option<String> {
        is_id(id).then(|| format!("{}/app/conversations/{id}", self.base))
    }

    /// The page of what a Kustomer write made or changed, from its path and the id its answer
    /// named: a customer (`POST /v1/customers`, `…/customers/<id>`), a conversation
    /// (`POST /v1/conversations`, `POST /v1/customers/<id>/conversations`, and anything under
    /// `/v1/conversations/<id>`: its messages, notes, tags). None for writes with no page of
    /// their own (metadata, routing, a message by itself).
    pub fn of_write(&self, path: &str, answered_id: Option<&str>) -> Option<String> {
        let segments: Vec<&str> = path
            .trim_start_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        match segments.as_slice() {
            ["v1", "customers"] => self.customer(answered_id?),
            ["v1", "customers", _, "conversations"] => self.conversation(answered_id?),
            ["v1", "customers", id] => self.customer(id),
            ["v1", "conversations"] => self.conversation(answered_id?),
            ["v1", "conversations", id, ..] => self.conversation(id),
            _ => None,
        }
    }
}

/// The org names Kustomer's sign-in subdomains take (letters, digits, hyphens), as the
/// agents' sign-in checks `KUSTOMER_ORG`.
pub fn is_org_name(org: &str) -> bool {
    !org.is_empty() && org.len() <= 63 && org.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A Kustomer id as it may stand in a page's path: never a lookup (`externalId=…`) or
/// anything that would change the address.
fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn r_adm_2_writes_link_to_the_customer_or_conversation_they_changed() {
        let ui = KustomerUi::of_org("Acme").unwrap();
        let customer = "https://acme.kustomerapp.com/app/customers/5f1e";
        let conversation = "https://acme.kustomerapp.com/app/conversations/6a2b";
        assert_eq!(
            ui.of_write("/v1/customers", Some("5f1e")).as_deref(),
            Some(customer)
        );
        assert_eq!(
            ui.of_write("/v1/customers/5f1e", None).as_deref(),
            Some(customer)
        );
        assert_eq!(
            ui.of_write("/v1/customers/5f1e/conversations", Some("6a2b"))
                .as_deref(),
            Some(conversation)
        );
        assert_eq!(
            ui.of_write("/v1/conversations", Some("6a2b")).as_deref(),
            Some(conversation)
        );
        for under in ["", "/messages", "/notes", "/tags"] {
            assert_eq!(
                ui.of_write(&format!("/v1/conversations/6a2b{under}"), Some("m1"))
                    .as_deref(),
                Some(conversation),
                "{under}"
            );
        }
        // No page of their own, or an id that is a lookup.
        assert_eq!(ui.of_write("/v1/messages/m1", Some("m1")), None);
        assert_eq!(ui.of_write("/v1/metadata/conversation", Some("x")), None);
        assert_eq!(ui.of_write("/v1/customers", None), None);
        assert_eq!(ui.of_write("/v1/customers/externalId=abc", None), None);
        assert_eq!(ui.of_write("/v1/conversations", Some("a/../b")), None);
    }

    #[test]
    fn r_adm_2_only_an_org_name_makes_a_web_app_address() {
        for bad in ["", "acme.evil.com", "acme/x", "a b", "acme@x"] {
            assert_eq!(KustomerUi::of_org(bad), Err(NotAnOrgName), "{bad}");
        }
        assert_eq!(
            KustomerUi::of_org("acme-eu")
                .unwrap()
                .customer("c1")
                .as_deref(),
            Some("https://acme-eu.kustomerapp.com/app/customers/c1")
        );
    }
}
