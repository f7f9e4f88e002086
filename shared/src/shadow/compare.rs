//! The shadow run beside what Kustomer shows (R-F-2): for each session planned in a period,
//! the plan set against the customer and conversation CCAI's own connector wrote, and every
//! difference listed — the customer, whether a conversation was created or the session
//! appended, its channel, its assignee.
//!
//! How the connector's conversation of a session is found is not documented (its
//! `externalId` convention is unknown, L): it is the customer's first conversation created
//! from two minutes before the session started to thirty minutes after. [`differences`] is
//! pure; [`report`] reads the plans and asks Kustomer (two reads a session: the customer by
//! number, their conversations).

use super::plan::{self, PlannedConversation, PlannedCustomer, SessionPlan};
use crate::UnixMillis;
use crate::kustomer::{KustomerClient, KustomerError};
use crate::store::{StateStore, StoreError};
use serde::Serialize;

/// The window in which a conversation counts as the session's: from this long before it
/// started (two platforms' clocks) …
pub const BEFORE_MS: i64 = 2 * 60 * 1000;
/// … to this long after (a conversation made when the call was answered or ended).
pub const AFTER_MS: i64 = 30 * 60 * 1000;
/// Sessions compared in one report at most (each costs two Kustomer reads, from the org's
/// budget: 50 is 100 reads, a third of the smallest plan's minute).
pub const MAX_SESSIONS: usize = 200;
/// Sessions compared when the request does not say.
pub const DEFAULT_SESSIONS: usize = 50;
/// The longest period one report reads (a day's partition each).
pub const MAX_DAYS: i64 = 31;

/// A conversation of the customer, as Kustomer shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Seen {
    pub id: String,
    pub created_ms: i64,
    pub channels: Vec<String>,
    pub assigned_users: Vec<String>,
    pub open: bool,
}

impl Seen {
    /// The conversation as the comparison reads it; `None` without a readable creation time.
    pub fn of(conversation: crate::kustomer::model::Conversation) -> Option<Self> {
        Some(Seen {
            created_ms: millis(conversation.attributes.created_at.as_deref())?,
            open: conversation.is_open(),
            channels: conversation.attributes.channels,
            assigned_users: conversation.attributes.assigned_users,
            id: conversation.id,
        })
    }
}

/// What Kustomer shows for a session's customer.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Observed {
    /// The customer Kustomer has for the session's number (or the one the plan found).
    pub customer: Option<String>,
    pub conversations: Vec<Seen>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// `customer`, `conversation`, `channel` or `assignee`.
    pub field: &'static str,
    /// What the bridge would have done.
    pub bridge: String,
    /// What Kustomer shows.
    pub kustomer: String,
}

fn difference(
    field: &'static str,
    bridge: impl Into<String>,
    kustomer: impl Into<String>,
) -> Difference {
    Difference {
        field,
        bridge: bridge.into(),
        kustomer: kustomer.into(),
    }
}

/// The conversation Kustomer shows for a session that started at `started_ms`: of those
/// created in its window, the one created nearest its start (a repeat caller's earlier
/// conversation may be in the window too).
pub fn counterpart(observed: &Observed, started_ms: i64) -> Option<&Seen> {
    observed
        .conversations
        .iter()
        .filter(|c| (started_ms - BEFORE_MS..=started_ms + AFTER_MS).contains(&c.created_ms))
        .min_by_key(|c| (c.created_ms - started_ms).abs())
}

/// Every difference between the plan and what Kustomer shows (a plan still waiting for its
/// customer or placement is compared on what it decided). `appended_to` is the Kustomer
/// conversation of the session a plan appends to, when that one was planned too (the
/// conversation Kustomer shows for it). A session whose customer is not looked up by a
/// number (an SDK identifier, a withheld number) is compared only once Kustomer had the
/// customer when the plan was made: how the connector finds such customers is unknown.
pub fn differences(
    plan: &SessionPlan,
    started_ms: i64,
    observed: &Observed,
    appended_to: Option<&str>,
) -> Vec<Difference> {
    let mut found = Vec::new();
    if plan.phone.is_none() && observed.customer.is_none() {
        return found;
    }
    match (&plan.customer, &observed.customer) {
        (PlannedCustomer::Existing { id }, Some(seen)) if id != seen => {
            found.push(difference("customer", id.clone(), seen.clone()));
        }
        (PlannedCustomer::Existing { id }, None) => {
            found.push(difference(
                "customer",
                id.clone(),
                "none for the session's number",
            ));
        }
        (PlannedCustomer::Create { .. }, None) => found.push(difference(
            "customer",
            "a new customer",
            "none for the session's number",
        )),
        _ => {}
    }
    let theirs = counterpart(observed, started_ms);
    match (&plan.conversation, theirs) {
        (PlannedConversation::Create { .. }, None) => found.push(difference(
            "conversation",
            "a new conversation",
            "no conversation from the session's time",
        )),
        (PlannedConversation::Append { conversation }, Some(seen))
            if appended_to.unwrap_or(conversation) != seen.id =>
        {
            found.push(difference(
                "conversation",
                format!("appended to {}", appended_to.unwrap_or(conversation)),
                format!("a new conversation {}", seen.id),
            ));
        }
        _ => {}
    }
    // The conversation that holds the session in Kustomer: the new one, or the one appended to.
    let holding = theirs.or_else(|| match &plan.conversation {
        PlannedConversation::Append { conversation } => {
            let target = appended_to.unwrap_or(conversation);
            observed.conversations.iter().find(|c| c.id == target)
        }
        _ => None,
    });
    if let Some(seen) = holding {
        if !seen.channels.is_empty() && !seen.channels.contains(&plan.channel) {
            found.push(difference(
                "channel",
                plan.channel.clone(),
                seen.channels.join(", "),
            ));
        }
        match &plan.assignee {
            Some(user) if !seen.assigned_users.contains(user) => found.push(difference(
                "assignee",
                user.clone(),
                if seen.assigned_users.is_empty() {
                    "unassigned".to_owned()
                } else {
                    seen.assigned_users.join(", ")
                },
            )),
            None if plan.ended && !seen.assigned_users.is_empty() => found.push(difference(
                "assignee",
                match &plan.assignee_error {
                    Some(why) => format!("unassigned ({why})"),
                    None => "unassigned".to_owned(),
                },
                seen.assigned_users.join(", "),
            )),
            _ => {}
        }
    }
    found
}

/// One session of the report.
#[derive(Clone, Debug, Serialize)]
pub struct Compared {
    pub kind: crate::events::SessionKind,
    pub id: u64,
    pub plan: SessionPlan,
    /// The files a file worker found and would have attached: `(type, name)`.
    pub files: Vec<(String, String)>,
    pub kustomer: Observed,
    pub differences: Vec<Difference>,
}

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("reading Kustomer: {0}")]
    Kustomer(#[from] KustomerError),
}

fn millis(text: Option<&str>) -> Option<i64> {
    Some(
        chrono::DateTime::parse_from_rfc3339(text?)
            .ok()?
            .timestamp_millis(),
    )
}

/// What Kustomer shows for the plan's customer.
async fn observe(kustomer: &KustomerClient, plan: &SessionPlan) -> Result<Observed, KustomerError> {
    let customer = match (&plan.phone, &plan.customer) {
        (Some(phone), _) => kustomer.customer_by_phone(phone).await?.map(|c| c.id),
        (None, PlannedCustomer::Existing { id }) => Some(id.clone()),
        (None, _) => None,
    };
    let Some(id) = &customer else {
        return Ok(Observed::default());
    };
    let conversations = match kustomer.customer_conversations(id).await {
        Ok(list) => list,
        Err(KustomerError::NotFound { .. }) => Vec::new(),
        Err(err) => return Err(err),
    };
    Ok(Observed {
        customer,
        conversations: conversations.into_iter().filter_map(Seen::of).collect(),
    })
}

/// Every session planned that started from `from` to `to` (ms), compared, the earliest
/// first: at most `limit`, and only while the invocation has time left (each costs paced
/// Kustomer reads). The second value, when sessions were left out, is where the next report
/// starts (ms): the first of them.
pub async fn report(
    store: &dyn StateStore,
    kustomer: &KustomerClient,
    (from, to): (i64, i64),
    limit: usize,
    now: UnixMillis,
) -> Result<(Vec<Compared>, Option<i64>), CompareError> {
    let sessions = plan::sessions_between(store, from, to, now).await?;
    // Where the next report starts when this one stops short: the first session left out.
    let mut next_from = sessions.get(limit).map(|(started, _)| *started);
    let mut compared = Vec::new();
    for (started, session) in sessions.into_iter().take(limit) {
        // The Kustomer client sends nothing it could not see answered before the deadline.
        if !crate::deadline::allows(
            crate::kustomer::SEND_MARGIN + std::time::Duration::from_secs(2),
        ) {
            next_from = Some(started);
            break;
        }
        let Some(plan) = plan::load(store, &session, now).await? else {
            continue;
        };
        let started = millis(plan.started_at.as_deref()).unwrap_or(plan.planned_at);
        let kustomer_now = match observe(kustomer, &plan).await {
            Ok(observed) => observed,
            // Not sent in the time left (or the org's schedule is full): what is compared so
            // far is answered, with where to go on.
            Err(KustomerError::NotSent { .. }) if !compared.is_empty() => {
                next_from = Some(started);
                break;
            }
            Err(err) => return Err(err.into()),
        };
        // A conversation another plan would have made: the one Kustomer shows for that session.
        let appended_to = match &plan.conversation {
            PlannedConversation::Append { conversation } => {
                match plan::planned_session(conversation) {
                    Some(earlier) => plan::load(store, &earlier, now).await?.and_then(|p| {
                        let at = millis(p.started_at.as_deref()).unwrap_or(p.planned_at);
                        counterpart(&kustomer_now, at).map(|c| c.id.clone())
                    }),
                    None => None,
                }
            }
            _ => None,
        };
        compared.push(Compared {
            kind: session.kind,
            id: session.id,
            files: plan::files(store, &session, now).await?,
            differences: differences(&plan, started, &kustomer_now, appended_to.as_deref()),
            kustomer: kustomer_now,
            plan,
        });
    }
    Ok((compared, next_from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::SessionKind;

    const T: i64 = 1_796_637_900_000;

    fn plan(customer: PlannedCustomer, conversation: PlannedConversation) -> SessionPlan {
        SessionPlan {
            kind: SessionKind::Call,
            id: 7,
            started_at: None,
            channel: "voice".into(),
            ended: true,
            customer,
            phone: Some("+15550100".into()),
            conversation,
            assignee: Some("u1".into()),
            assignee_error: None,
            custom: Default::default(),
            notes: vec![],
            close: false,
            planned_at: T,
        }
    }

    fn create() -> PlannedConversation {
        PlannedConversation::Create {
            voicemail: false,
            name: "planned:ccai-call-7".into(),
        }
    }

    fn seen(id: &str, at: i64, user: &str) -> Seen {
        Seen {
            id: id.into(),
            created_ms: at,
            channels: vec!["voice".into()],
            assigned_users: vec![user.into()],
            open: true,
        }
    }

    #[test]
    fn r_f_2_a_session_the_connector_logged_alike_has_no_difference() {
        let new = PlannedCustomer::Create {
            external_id: "ccai-phone-+15550100".into(),
        };
        let observed = Observed {
            customer: Some("k1".into()),
            conversations: vec![
                seen("old", T - 3_600_000, "u2"),
                seen("c1", T + 5_000, "u1"),
            ],
        };
        assert!(differences(&plan(new, create()), T, &observed, None).is_empty());
        let appended = plan(
            PlannedCustomer::Existing { id: "k1".into() },
            PlannedConversation::Append {
                conversation: "old".into(),
            },
        );
        let only_old = Observed {
            customer: Some("k1".into()),
            conversations: vec![seen("old", T - 3_600_000, "u1")],
        };
        assert!(differences(&appended, T, &only_old, None).is_empty());
        // Appended to the conversation another plan would have made: the one Kustomer shows
        // for that session, created seconds before this one started.
        let after_planned = plan(
            PlannedCustomer::Existing { id: "k1".into() },
            PlannedConversation::Append {
                conversation: "planned:ccai-call-6".into(),
            },
        );
        let just_before = Observed {
            customer: Some("k1".into()),
            conversations: vec![seen("c6", T - 10_000, "u1")],
        };
        assert!(differences(&after_planned, T, &just_before, Some("c6")).is_empty());
        assert_eq!(
            differences(&after_planned, T, &just_before, Some("c5"))[0].field,
            "conversation"
        );
        // A customer found by an SDK identifier the plan could not find is not compared.
        let mut by_identifier = plan(
            PlannedCustomer::Create {
                external_id: "ccai-user-u".into(),
            },
            create(),
        );
        by_identifier.phone = None;
        assert!(differences(&by_identifier, T, &Observed::default(), None).is_empty());
    }

    #[test]
    fn r_f_2_each_way_the_connector_differs_is_listed() {
        let existing = || PlannedCustomer::Existing { id: "k1".into() };
        // No conversation at all.
        let none = Observed {
            customer: Some("k1".into()),
            conversations: vec![],
        };
        let fields = |d: Vec<Difference>| d.into_iter().map(|d| d.field).collect::<Vec<_>>();
        assert_eq!(
            fields(differences(&plan(existing(), create()), T, &none, None)),
            ["conversation"]
        );
        // Another assignee, another channel.
        let mut other = seen("c1", T + 1_000, "u9");
        other.channels = vec!["chat".into()];
        let observed = Observed {
            customer: Some("k1".into()),
            conversations: vec![other],
        };
        assert_eq!(
            fields(differences(&plan(existing(), create()), T, &observed, None)),
            ["channel", "assignee"]
        );
        // A new conversation where the bridge would append.
        let appended = plan(
            existing(),
            PlannedConversation::Append {
                conversation: "old".into(),
            },
        );
        let observed = Observed {
            customer: Some("k1".into()),
            conversations: vec![
                seen("old", T - 3_600_000, "u1"),
                seen("c2", T + 1_000, "u1"),
            ],
        };
        assert_eq!(
            fields(differences(&appended, T, &observed, None)),
            ["conversation"]
        );
        // Another customer for the number; none at all.
        let observed = Observed {
            customer: Some("k2".into()),
            conversations: vec![seen("c1", T, "u1")],
        };
        assert_eq!(
            fields(differences(&plan(existing(), create()), T, &observed, None)),
            ["customer"]
        );
        assert_eq!(
            fields(differences(
                &plan(existing(), create()),
                T,
                &Observed::default(),
                None
            )),
            ["customer", "conversation"]
        );
        // The bridge would leave it unassigned (an agent it cannot match); the connector did not.
        let mut unassigned = plan(existing(), create());
        unassigned.assignee = None;
        unassigned.assignee_error = Some("CCAI agent 4 has no e-mail".into());
        let observed = Observed {
            customer: Some("k1".into()),
            conversations: vec![seen("c1", T, "u1")],
        };
        let found = differences(&unassigned, T, &observed, None);
        assert_eq!(fields(found.clone()), ["assignee"]);
        assert_eq!(found[0].bridge, "unassigned (CCAI agent 4 has no e-mail)");
        // A conversation outside the window is not the session's.
        let late = Observed {
            customer: Some("k1".into()),
            conversations: vec![seen("c1", T + AFTER_MS + 1, "u1")],
        };
        assert_eq!(
            fields(differences(&plan(existing(), create()), T, &late, None)),
            ["conversation"]
        );
    }
}
