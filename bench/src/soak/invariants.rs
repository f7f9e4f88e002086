//! What must hold on the run with faults alone, whatever the oracle says (product.md R-P-1):
//! one message per session; every exported recording and transcript attached exactly once; no
//! note, message or conversation written twice; every session complete, visibly waiting with
//! its reason, or dead-lettered with its reason; no request the platforms would refuse.

use super::tenant::Tenant;
use bridge_shared::UnixMillis;
use bridge_shared::events::{SessionKind, SessionRef};
use std::collections::HashMap;

/// Every violation, one line each, naming the session by its step (`s12`) and kind.
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
    let (messages, notes, conversations, attached) = tenant.sandboxes.kustomer.inspect(|w| {
        let count = |records: &Vec<bridge_tests::kustomer_sandbox::Record>| {
            let mut by: HashMap<String, usize> = HashMap::new();
            for r in records {
                *by.entry(r.text("externalId").unwrap_or("(none)").to_owned())
                    .or_default() += 1;
            }
            by
        };
        // Notes whose every attachment was uploaded whole.
        let attached: HashMap<String, bool> = w
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
        (
            count(&w.messages),
            count(&w.notes),
            count(&w.conversations),
            attached,
        )
    });
    for (external, n) in notes.iter().filter(|(_, n)| **n > 1) {
        violations.push(format!("note {} written {n} times", named(external)));
    }
    if let Some(n) = notes.get("(none)") {
        violations.push(format!("{n} note(s) without an external id"));
    }
    for (external, n) in conversations
        .iter()
        .filter(|(e, n)| **n > 1 && *e != "(none)")
    {
        violations.push(format!(
            "conversation {} created {n} times",
            named(external)
        ));
    }
    let dead =
        bridge_shared::stream::failures::dead_letters(tenant.store.as_ref(), UnixMillis::now())
            .await
            .unwrap_or_default();
    for session in &tenant.sessions {
        let base = format!("ccai-{}-{}", session.kind, session.id);
        let who = format!("{} ({} {})", session.name, session.kind, session.id);
        let message = messages
            .get(&format!("{base}-session"))
            .copied()
            .unwrap_or(0);
        if message > 1 {
            violations.push(format!("{who}: {message} session messages"));
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
            .map(|n| notes.get(n).copied().unwrap_or(0))
            .unwrap_or(0);
        if files > 1 {
            violations.push(format!("{who}: its file attached {files} times"));
        }
        if let Some(note) = &file_note
            && files == 1
            && attached.get(note) != Some(&true)
        {
            violations.push(format!("{who}: its file's note has no whole attachment"));
        }
        if session.file_never {
            if files > 0 {
                violations.push(format!("{who}: a file that was never exported is attached"));
            } else if !visibly_waiting(tenant, session.kind, session.id).await {
                // Never exported: the session must say it gave the file up, and why.
                violations.push(format!("{who}: its file never came and nothing says so"));
            }
            continue;
        }
        if message == 1 && (session.file.is_none() || files == 1) {
            continue;
        }
        let dead_lettered = dead
            .iter()
            .any(|d| d.trigger.session.id == session.id && !d.last_error.trim().is_empty());
        if !dead_lettered && !visibly_waiting(tenant, session.kind, session.id).await {
            violations.push(format!(
                "{who}: incomplete (message {message}, file notes {files}) and neither waiting with a reason nor dead-lettered"
            ));
        }
    }
    for unexpected in tenant.sandboxes.unexpected_requests() {
        violations.push(format!("a request the platform would refuse: {unexpected}"));
    }
    violations
}

/// The session report (`GET /admin/sessions/{kind}/{id}`) says what it waits for, or why it
/// stopped.
async fn visibly_waiting(tenant: &Tenant, kind: &str, id: u64) -> bool {
    let session = SessionRef {
        kind: if kind == "chat" {
            SessionKind::Chat
        } else {
            SessionKind::Call
        },
        id,
    };
    match bridge_shared::conversation::report::session_report(
        tenant.store.as_ref(),
        &session,
        UnixMillis::now(),
    )
    .await
    {
        Ok(Some(report)) => {
            report["state"]
                .as_str()
                .is_some_and(|s| s.starts_with("waiting for"))
                || report["problems"].as_array().is_some_and(|p| !p.is_empty())
                || report["awaiting"].as_array().is_some_and(|a| !a.is_empty())
        }
        _ => false,
    }
}
