//! What must hold on each run alone, whatever the other run did (product.md R-P-1): one
//! message per session; every exported recording and transcript attached exactly once,
//! whole; no note, message or conversation written twice; one customer per number and per app
//! user; custom values only on sessions that started after the fields were created (R-CF-3)
//! and on all of those (R-CF-4); every session complete, or waiting for what it lacks with the
//! reason in its session report, or dead-lettered with its error; a file never exported given
//! up with its reason; a survey comment the platform exported noted once; settling ended
//! with every session done; no request the platforms would refuse.

use super::tenant::{PlayedSession, Tenant};
use bridge_shared::UnixMillis;
use bridge_shared::events::{SessionKind, SessionRef};
use std::collections::HashMap;

/// What Kustomer holds, counted by external id.
struct Counts {
    messages: HashMap<String, usize>,
    notes: HashMap<String, usize>,
    conversations: HashMap<String, usize>,
    /// Notes whose every attachment was uploaded whole.
    attached: HashMap<String, bool>,
    /// Messages with custom values.
    with_custom: std::collections::HashSet<String>,
    /// Customers by phone and by external id (more than one is a duplicate).
    by_phone: HashMap<String, usize>,
    by_external: HashMap<String, usize>,
}

fn counts(tenant: &Tenant) -> Counts {
    tenant.sandboxes.kustomer.inspect(|w| {
        let count = |records: &Vec<bridge_tests::kustomer_sandbox::Record>| {
            let mut by: HashMap<String, usize> = HashMap::new();
            for r in records {
                *by.entry(r.text("externalId").unwrap_or("(none)").to_owned())
                    .or_default() += 1;
            }
            by
        };
        let attached = w
            .notes
            .iter()
            .filter_map(|n| {
                let ids: Vec<&str> = n
                    .attributes
                    .get("attachments")?
                    .as_array()?
                    .iter()
                    .filter_map(|a| a["_id"].as_str())
                    .collect();
                let whole = !ids.is_empty() && ids.iter().all(|id| w.uploads.contains_key(*id));
                Some((n.text("externalId")?.to_owned(), whole))
            })
            .collect();
        let with_custom = w
            .messages
            .iter()
            .filter(|m| {
                m.attributes
                    .get("custom")
                    .and_then(|c| c.as_object())
                    .is_some_and(|c| !c.is_empty())
            })
            .filter_map(|m| m.text("externalId").map(str::to_owned))
            .collect();
        let mut by_phone: HashMap<String, usize> = HashMap::new();
        let mut by_external: HashMap<String, usize> = HashMap::new();
        for customer in &w.customers {
            for phone in customer
                .attributes
                .get("phones")
                .and_then(|p| p.as_array())
                .into_iter()
                .flatten()
                .filter_map(|p| p["phone"].as_str())
            {
                *by_phone.entry(phone.to_owned()).or_default() += 1;
            }
            if let Some(external) = customer.text("externalId") {
                *by_external.entry(external.to_owned()).or_default() += 1;
            }
        }
        Counts {
            messages: count(&w.messages),
            notes: count(&w.notes),
            conversations: count(&w.conversations),
            attached,
            with_custom,
            by_phone,
            by_external,
        }
    })
}

/// Every violation, one line each, naming sessions by their step (`s12`).
pub async fn check(tenant: &Tenant) -> Vec<String> {
    let mut violations = Vec::new();
    // External ids name sessions by their CCAI id: the report names them by their step.
    let names: HashMap<String, String> = tenant
        .sessions
        .iter()
        .map(|s| (format!("-{}-", s.id), format!("-{}-", s.name)))
        .collect();
    let named = |external: &str| {
        let mut text = external.to_owned();
        for (id, name) in &names {
            if text.contains(id.as_str()) {
                text = text.replace(id.as_str(), name);
                break;
            }
        }
        text
    };
    let k = counts(tenant);
    for (external, n) in k.notes.iter().filter(|(_, n)| **n > 1) {
        violations.push(format!("note {} written {n} times", named(external)));
    }
    if let Some(n) = k.notes.get("(none)") {
        violations.push(format!("{n} note(s) without an external id"));
    }
    for (external, n) in k
        .conversations
        .iter()
        .filter(|(e, n)| **n > 1 && *e != "(none)")
    {
        violations.push(format!(
            "conversation {} created {n} times",
            named(external)
        ));
    }
    for (phone, n) in k.by_phone.iter().filter(|(_, n)| **n > 1) {
        // The number itself is the run's secret: its length only.
        violations.push(format!(
            "{n} customers share one number ({} digits)",
            phone.len()
        ));
    }
    for (external, n) in k.by_external.iter().filter(|(_, n)| **n > 1) {
        violations.push(format!(
            "{n} customers share the external id {}",
            named(external)
        ));
    }
    if let Some(why) = &tenant.unsettled {
        violations.push(format!("the run did not settle: {why}"));
    }
    let dead =
        bridge_shared::stream::failures::dead_letters(tenant.store.as_ref(), UnixMillis::now())
            .await
            .unwrap_or_default();
    let starts = tenant.sandboxes.ccai.inspect(|w| {
        tenant
            .sessions
            .iter()
            .map(|s| {
                let record = if s.kind == "chat" {
                    w.chat(s.id)
                } else {
                    w.call(s.id)
                };
                let started = record
                    .and_then(|r| r["created_at"].as_str())
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.timestamp_millis());
                (s.id, started)
            })
            .collect::<HashMap<u64, Option<i64>>>()
    });
    let comments: std::collections::HashSet<u64> = tenant
        .sandboxes
        .ccai
        .inspect(|w| w.csat_comments.keys().copied().collect());
    for session in &tenant.sessions {
        let base = format!("ccai-{}-{}", session.kind, session.id);
        let who = format!("{} ({} {})", session.name, session.kind, session.id);
        let message_id = format!("{base}-session");
        let message = k.messages.get(&message_id).copied().unwrap_or(0);
        if message > 1 {
            violations.push(format!("{who}: {message} session messages"));
        }
        // R-CF-3 / R-CF-4: values from the fields' creation on, never before.
        if let (Some(from), Some(until), Some(Some(started))) = (
            tenant.fields_from,
            tenant.fields_until,
            starts.get(&session.id),
        ) && message == 1
        {
            let has = k.with_custom.contains(&message_id);
            if *started < from.0 && has {
                violations.push(format!(
                    "{who}: custom values on a session that started before the fields were created (R-CF-3)"
                ));
            }
            if *started > until.0 && !has {
                violations.push(format!(
                    "{who}: no custom values on a session that started after the fields were created (R-CF-4)"
                ));
            }
        }
        let file_note = session.file.as_ref().map(|f| {
            let purpose = if f.ends_with(".txt") {
                "transcript"
            } else {
                "recording"
            };
            format!("{base}-{purpose}")
        });
        let files = file_note
            .as_ref()
            .map(|n| k.notes.get(n).copied().unwrap_or(0))
            .unwrap_or(0);
        if files > 1 {
            violations.push(format!("{who}: its file attached {files} times"));
        }
        if let Some(note) = &file_note
            && files == 1
            && k.attached.get(note) != Some(&true)
        {
            violations.push(format!("{who}: its file's note has no whole attachment"));
        }
        if session.file_never && files > 0 {
            violations.push(format!("{who}: a file that was never exported is attached"));
        }
        // R-U-10: a survey comment the platform exported is noted once. The faulty run alone
        // shows it: a comment lost where the rewrite's push was lost is no difference from a
        // crash, and the oracle is not needed to see it (issue 25's 5 000-step runs).
        let comment_note = format!("{base}-csat-comment");
        let commented = comments.contains(&session.id);
        let comment_missing = commented && message == 1 && !k.notes.contains_key(&comment_note);
        let file_missing = session.file.is_some() && files == 0;
        if message == 1 && !file_missing && !comment_missing {
            continue;
        }
        let dead_steps: Vec<&str> = dead
            .iter()
            .filter(|d| d.trigger.session.id == session.id && !d.last_error.trim().is_empty())
            .map(|d| d.step.as_str())
            .collect();
        if comment_lost(comment_missing, &dead_steps) {
            violations.push(format!(
                "{who}: the customer's survey comment was exported but never noted"
            ));
            continue;
        }
        if !dead_steps.is_empty() {
            continue;
        }
        if !reported(tenant, session, message == 0, file_missing).await {
            violations.push(format!(
                "{who}: incomplete (message {message}, file notes {files}) and its session report does not say what it waits for, nor is it dead-lettered"
            ));
        }
    }
    for unexpected in tenant.sandboxes.unexpected_requests() {
        violations.push(format!("a request the platform would refuse: {unexpected}"));
    }
    violations
}

/// R-U-10: a survey comment exported and not noted on the session's conversation is lost —
/// unless the inbox worker, the only one that notes comments, dead-lettered the session's work
/// (then the admin holds it). Another worker's dead letter excuses nothing.
fn comment_lost(missing: bool, dead_steps: &[&str]) -> bool {
    missing && !dead_steps.contains(&bridge_shared::audit::INBOX_WORKER)
}

/// The session report (`GET /admin/sessions/{kind}/{id}`) names what is missing: a session not
/// placed says what it waits for; a missing file is awaited, or given up with a reason that
/// names it.
async fn reported(
    tenant: &Tenant,
    session: &PlayedSession,
    message_missing: bool,
    file_missing: bool,
) -> bool {
    let reference = SessionRef {
        kind: if session.kind == "chat" {
            SessionKind::Chat
        } else {
            SessionKind::Call
        },
        id: session.id,
    };
    let Ok(Some(report)) = bridge_shared::conversation::report::session_report(
        tenant.store.as_ref(),
        &reference,
        UnixMillis::now(),
    )
    .await
    else {
        return false;
    };
    let waits = report["state"]
        .as_str()
        .is_some_and(|s| s.starts_with("waiting for"));
    let file = if session.kind == "chat" {
        "transcript"
    } else {
        "recording"
    };
    let awaited = report["awaiting"]
        .as_array()
        .is_some_and(|a| a.iter().any(|f| f.as_str() == Some(file)));
    let given_up = report["problems"].as_array().is_some_and(|p| {
        p.iter()
            .filter_map(|p| p.as_str())
            .any(|p| p.contains(file))
    });
    (!message_missing || waits) && (!file_missing || awaited || given_up)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_u_10_an_exported_comment_never_noted_is_lost_unless_the_inbox_worker_dead_lettered_it() {
        let inbox = bridge_shared::audit::INBOX_WORKER;
        assert!(comment_lost(true, &[]));
        assert!(
            comment_lost(true, &["bridge-recording", "bridge-transcript"]),
            "a file worker's dead letter excuses nothing"
        );
        assert!(!comment_lost(true, &["bridge-recording", inbox]));
        assert!(!comment_lost(false, &[]), "noted, or never exported");
    }
}
