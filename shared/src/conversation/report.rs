//! What the bridge knows and did for one session (`GET /admin/sessions/{kind}/{id}`, events.md
//! §4), and the trigger that re-applies it (`POST …/resync`). A session that cannot progress
//! — no caller number yet, an agent with no Kustomer user, a metadata file about another
//! session, a file still awaited — says why here (review finding 13).

use crate::UnixMillis;
use crate::ese::{EseItem, KeptEse};
use crate::events::{SessionRef, SessionTrigger, TriggerSource, hints};
use crate::storage::awaited::{AwaitedFile, is_awaited};
use crate::store::{StateStore, StoreError};
use serde_json::{Map, Value, json};

/// Records of the session partition that hold only coordination (locks), not facts.
const NOT_SHOWN: [&str; 1] = ["SYNC_LOCK"];

/// The sort key of a resync's dry run ([`preview_trigger`]): the latest one's steps.
pub const PREVIEW: &str = "PREVIEW";

/// The session's report, or `None` when the bridge has nothing for it.
pub async fn session_report(
    store: &dyn StateStore,
    session: &SessionRef,
    now: UnixMillis,
) -> Result<Option<Value>, StoreError> {
    let pk = format!("SESSION#{}#{}", session.kind.as_str(), session.id);
    let items = store.list_partition(&pk, now).await?;
    let mut records = Map::new();
    // The workers' audit entries (`crate::audit`), in the order they were kept.
    let mut timeline = Vec::new();
    let mut link = Value::Null;
    let mut ese = Value::Null;
    let mut preview = Value::Null;
    for item in items {
        let sk = item.key.sk.clone();
        match sk.as_str() {
            "LINK" => link = item.body,
            PREVIEW => preview = item.body,
            // The event's item holds the caller's number: its stage and time only.
            "ESE" => {
                if let Some(kept) = KeptEse::from_stored(item.body, item.version) {
                    ese = json!({"stage": format!("{:?}", EseItem(&kept.item).stage()),
                                 "sent_at": kept.sent_at.to_iso()});
                }
            }
            // The kept Manager API object holds the caller's details: its version and status.
            "TRUTH" => {
                records.insert(
                    sk,
                    json!({"updated_at": item.body["object"]["updated_at"],
                           "status": item.body["object"]["status"]}),
                );
            }
            other if other.starts_with(crate::audit::PREFIX) => timeline.push(item.body),
            other if NOT_SHOWN.contains(&other) => {}
            _ => {
                records.insert(sk, item.body);
            }
        }
    }
    let mut awaited = Vec::new();
    for file in [
        AwaitedFile::Recording,
        AwaitedFile::Transcript,
        AwaitedFile::Metadata,
    ] {
        if is_awaited(store, session, file, now).await? {
            awaited.push(file.as_str());
        }
    }
    if link.is_null()
        && ese.is_null()
        && records.is_empty()
        && timeline.is_empty()
        && awaited.is_empty()
    {
        return Ok(None);
    }
    let state = if let Some(reason) = link["waiting"]["reason"].as_str() {
        format!("waiting for {reason}")
    } else if link["conversation_id"].is_string() {
        "placed".into()
    } else {
        "not placed yet".into()
    };
    let mut problems = Vec::new();
    for field in [
        "assignee_error",
        "customer_assign_error",
        "tag_error",
        "metadata_refused",
    ] {
        if let Some(problem) = link[field].as_str() {
            problems.push(problem.to_owned());
        }
    }
    for body in records.values() {
        if let Some(reason) = crate::storage::awaited::is_final(body) {
            problems.push(reason.to_owned());
        }
    }
    Ok(Some(json!({
        "session": {"kind": session.kind.as_str(), "id": session.id},
        "state": state,
        "problems": problems,
        "awaiting": awaited,
        "ese": ese,
        "link": link,
        "records": records,
        "timeline": timeline,
        "preview": preview,
    })))
}

/// Adds the Kustomer web app's pages to a report (R-ADM-2's links into Kustomer): the
/// session's customer and conversation (`link.customer_url`, `link.conversation_url`) and,
/// on each Kustomer write of the timeline, the page of what it made or changed (`url`).
/// Formed when the report is read, so entries kept before the org was configured get them.
pub fn with_kustomer_links(report: &mut Value, ui: &crate::kustomer::KustomerUi) {
    let link = &mut report["link"];
    if link.is_object() {
        let customer = link["customer_id"].as_str().and_then(|id| ui.customer(id));
        let conversation = link["conversation_id"]
            .as_str()
            .and_then(|id| ui.conversation(id));
        if let Some(url) = customer {
            link["customer_url"] = json!(url);
        }
        if let Some(url) = conversation {
            link["conversation_url"] = json!(url);
        }
    }
    let Some(timeline) = report["timeline"].as_array_mut() else {
        return;
    };
    for write in timeline
        .iter_mut()
        .filter_map(|entry| entry["writes"].as_array_mut())
        .flatten()
    {
        // Not `kustomer-upload`: a file's upload is no page of Kustomer's.
        if write["platform"] != "kustomer" {
            continue;
        }
        let path = write["path"].as_str().unwrap_or_default();
        if let Some(url) = ui.of_write(path, write["id"].as_str()) {
            write["url"] = json!(url);
        }
    }
}

/// An admin's dry run of a resync (`POST …/resync?dry_run=true`): the inbox worker builds the
/// session's view as a resync would and keeps every step the live pass would take at
/// `SESSION#…/PREVIEW`, writing nothing to the platforms; the file workers leave it alone.
pub fn preview_trigger(session: &SessionRef, now: UnixMillis) -> SessionTrigger {
    SessionTrigger {
        id: format!("preview-{}-{}-{}", session.kind.as_str(), session.id, now.0),
        hint: hints::preview(session.kind),
        occurred_at: chrono::DateTime::from_timestamp_millis(now.0).unwrap_or_default(),
        session: session.clone(),
        source: TriggerSource::Poller,
        item: None,
        object: None,
    }
}

/// Whether the trigger is an admin's resync ([`resync_trigger`]), or its retry or replay.
pub fn is_resync(trigger: &SessionTrigger) -> bool {
    crate::stream::failures::original_id(&trigger.id).starts_with("resync-")
}

/// "Session S may have changed", from the admin: hinted as the session's end, so the inbox
/// worker and the file workers each reconcile it from its truth (level-triggered: nothing done
/// is done again).
pub fn resync_trigger(session: &SessionRef, now: UnixMillis) -> SessionTrigger {
    SessionTrigger {
        id: format!("resync-{}-{}-{}", session.kind.as_str(), session.id, now.0),
        hint: hints::ended(session.kind),
        occurred_at: chrono::DateTime::from_timestamp_millis(now.0).unwrap_or_default(),
        session: session.clone(),
        source: TriggerSource::Poller,
        item: None,
        object: None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn r_adm_2_a_report_links_its_kustomer_records_and_writes_into_the_web_app() {
        let ui = crate::kustomer::KustomerUi::of_org("acme").unwrap();
        let mut report = json!({
            "link": {"customer_id": "cu1", "conversation_id": "co1"},
            "timeline": [{"writes": [
                {"platform": "kustomer", "path": "/v1/conversations/co1/notes", "id": "n1"},
                {"platform": "kustomer", "path": "/v1/customers", "id": "cu1"},
                {"platform": "kustomer-upload", "path": "/v1/conversations/co1", "id": "f"},
                {"platform": "ccai", "path": "/apps/api/v1/calls/7", "id": "7"},
                {"platform": "kustomer", "path": "/v1/messages/m1", "id": "m1"},
            ]}],
        });
        with_kustomer_links(&mut report, &ui);
        let app = "https://acme.kustomerapp.com/app";
        assert_eq!(
            report["link"]["customer_url"],
            format!("{app}/customers/cu1")
        );
        assert_eq!(
            report["link"]["conversation_url"],
            format!("{app}/conversations/co1")
        );
        let urls: Vec<&Value> = report["timeline"][0]["writes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| &w["url"])
            .collect();
        assert_eq!(
            urls,
            [
                &json!(format!("{app}/conversations/co1")),
                &json!(format!("{app}/customers/cu1")),
                &Value::Null,
                &Value::Null,
                &Value::Null,
            ]
        );
        // A session not placed yet has no pages.
        let mut unplaced = json!({"link": null, "timeline": []});
        with_kustomer_links(&mut unplaced, &ui);
        assert_eq!(unplaced["link"], Value::Null);
    }
}
