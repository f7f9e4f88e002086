//! The session's audit (issue 29, R-ADM-2): for every trigger a worker handled, what it was,
//! what became of it and every write the worker sent to Kustomer or CCAI Platform for it —
//! written by the workers as they go (`SESSION#<kind>#<id>/AUDIT#…`), not rebuilt from logs.
//! The admin console's timeline is this record.
//!
//! The writes are noted by the platform clients themselves ([`note`]), and the decisions
//! behind them by the worker that makes them ([`decide`]: the truth merged, the placement and
//! its rule), into the record of the trigger being handled ([`recording`]): a task-local list, set only while that trigger's
//! future is polled, so triggers handled side by side in one task keep their own lists, and a
//! client used outside any trigger (the admin, the status function) notes nothing.

use crate::UnixMillis;
use crate::events::SessionTrigger;
use crate::store::{Item, ItemKey, StateStore, StoreError};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

/// How long an entry is kept by default (`AUDIT_DAYS`): as long as a dead letter.
pub const DEFAULT_KEPT: Duration = Duration::from_secs(30 * 24 * 3600);

/// `AUDIT_DAYS` (1–365 days; empty: [`DEFAULT_KEPT`]): how long each trigger's entry is kept.
pub fn kept_for(value: Option<&str>) -> Result<Duration, crate::config::ConfigError> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(DEFAULT_KEPT);
    };
    match text.parse::<u64>() {
        Ok(days @ 1..=365) => Ok(Duration::from_secs(days * 24 * 3600)),
        _ => Err(crate::config::ConfigError::Malformed {
            var: "AUDIT_DAYS".into(),
            reason: format!("{text:?}: expected a whole number of days from 1 to 365"),
        }),
    }
}

/// At most this many writes are listed per entry (a session's whole work is a few dozen); the
/// rest are counted in `writes_left_out`.
const MAX_WRITES: usize = 100;
/// Text fields are cut to this many characters: the record is bounded whatever a platform
/// answered.
const MAX_TEXT: usize = 300;

/// At most this many decisions are kept per entry (a pass makes a handful).
const MAX_DECISIONS: usize = 20;

tokio::task_local! {
    static NOTED: RefCell<Noted>;
}

/// What a trigger's handling noted as it went: the platform writes and the decisions behind
/// them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Noted {
    pub writes: Vec<Write>,
    /// What the worker decided and why, in words (the truth it merged, where it placed the
    /// session and by which rule): never a number, e-mail or comment of the customer.
    pub decisions: Vec<String>,
}

/// One write request sent to a platform, as the client saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Write {
    /// `kustomer`, `kustomer-upload` (the attachment's file) or `ccai`.
    pub platform: String,
    /// The client's name for it (`create conversation`, `update call`, …).
    pub operation: String,
    pub method: String,
    /// The path only: no query, no host (an upload's URL holds no secret in its path, and
    /// its signed fields are not kept).
    pub path: String,
    /// The answer's status; `None` when no answer came (timed out, connection lost: the write
    /// may have happened).
    pub status: Option<u16>,
    /// The id of what the write made or changed, when the answer names one (`data.id`, `id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Notes a write sent for the trigger being handled (nothing outside [`recording`]).
pub fn note(
    platform: &str,
    operation: &str,
    method: &str,
    url_or_path: &str,
    status: Option<u16>,
    answer: Option<&[u8]>,
) {
    let _ = NOTED.try_with(|noted| {
        let path = path_of(url_or_path);
        noted.borrow_mut().writes.push(Write {
            platform: platform.to_owned(),
            operation: cut(operation),
            method: method.to_owned(),
            path: cut(path),
            status,
            id: answer.and_then(id_of),
        });
    });
}

/// A write as the audit names it, before it is sent.
#[derive(Clone, Copy, Debug)]
pub struct Sent<'a> {
    /// `kustomer` or `ccai`.
    pub platform: &'a str,
    pub operation: &'a str,
    pub method: &'a str,
    pub url_or_path: &'a str,
}

/// Sends `request` and reads its whole answer. A write (`sent`) is noted in the trigger's
/// audit answered or not: with no answer (timed out, connection lost) it may have happened.
pub async fn exchange(
    request: reqwest::RequestBuilder,
    sent: Option<Sent<'_>>,
) -> Result<
    (
        reqwest::StatusCode,
        reqwest::header::HeaderMap,
        bytes::Bytes,
    ),
    reqwest::Error,
> {
    let noted = |status: Option<u16>, answer: Option<&[u8]>| {
        if let Some(sent) = &sent {
            note(
                sent.platform,
                sent.operation,
                sent.method,
                sent.url_or_path,
                status,
                answer,
            );
        }
    };
    let response = request.send().await.inspect_err(|_| noted(None, None))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.inspect_err(|_| noted(None, None))?;
    noted(Some(status.as_u16()), Some(&body));
    Ok((status, headers, body))
}

/// Notes, for the trigger being handled, what was decided and why (nothing outside
/// [`recording`]). The caller keeps it free of the customer's data: rules and states, not
/// values.
pub fn decide(decision: impl Into<String>) {
    let _ = NOTED.try_with(|noted| {
        let mut noted = noted.borrow_mut();
        if noted.decisions.len() < MAX_DECISIONS {
            noted.decisions.push(cut(&decision.into()));
        }
    });
}

/// Runs `work` with its writes and decisions noted; answers its output and what was noted.
pub async fn recording<F: Future>(work: F) -> (F::Output, Noted) {
    NOTED
        .scope(RefCell::new(Noted::default()), async {
            let output = work.await;
            let noted = NOTED.with(|noted| noted.take());
            (output, noted)
        })
        .await
}

/// One trigger as one worker handled it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// When the worker finished with it.
    pub at: String,
    /// `bridge-sync`, `bridge-recording`, `bridge-transcript`.
    pub worker: String,
    /// The trigger: its id, where it came from (ESE, poll, push, look, resync, replay) and the
    /// stage its source saw.
    pub trigger: String,
    pub source: String,
    pub hint: String,
    /// `applied`, `skipped: <why>` or `failed: <error>`.
    pub outcome: String,
    pub writes: Vec<Write>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub writes_left_out: usize,
    /// What the worker decided and why (see [`Noted::decisions`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The worker that reads every trigger (the inbox's stream reader): its entries are the
/// triggers' receipts, kept even when nothing was done.
pub const INBOX_WORKER: &str = "bridge-sync";

/// The prefix of every audit record's sort key.
pub const PREFIX: &str = "AUDIT#";

/// Keeps the entry under the trigger's session, for `kept_for`. Its key orders the session's
/// entries by time; the same trigger handled again (a retry) is a new entry.
pub async fn keep(
    store: &dyn StateStore,
    worker: &str,
    trigger: &SessionTrigger,
    outcome: String,
    noted: Noted,
    now: UnixMillis,
    kept_for: Duration,
) -> Result<(), StoreError> {
    let at = UnixMillis::now();
    let item = entry_item(
        worker,
        trigger,
        (outcome, noted),
        at,
        uuid::Uuid::new_v4().simple().to_string(),
    )?;
    store.put(&item.expiring_at(now.plus(kept_for))).await
}

/// Keeps an entry once for the trigger, dated `at`, whoever writes it again: for an entry a
/// retried run would otherwise repeat (a file given up). Its key is the date and the trigger.
pub async fn keep_once(
    store: &dyn StateStore,
    worker: &str,
    trigger: &SessionTrigger,
    outcome: String,
    at: UnixMillis,
    now: UnixMillis,
    kept_for: Duration,
) -> Result<(), StoreError> {
    let item = entry_item(
        worker,
        trigger,
        (outcome, Noted::default()),
        at,
        trigger.id.clone(),
    )?;
    store
        .put_if_absent(&item.expiring_at(now.plus(kept_for)), now)
        .await
        .map(drop)
}

fn entry_item(
    worker: &str,
    trigger: &SessionTrigger,
    (outcome, noted): (String, Noted),
    at: UnixMillis,
    unique: String,
) -> Result<Item, StoreError> {
    let Noted {
        mut writes,
        decisions,
    } = noted;
    let left_out = writes.len().saturating_sub(MAX_WRITES);
    writes.truncate(MAX_WRITES);
    let entry = Entry {
        at: at.to_iso(),
        worker: worker.to_owned(),
        trigger: cut(&trigger.id),
        source: format!("{:?}", trigger.source).to_lowercase(),
        hint: cut(&trigger.hint),
        outcome: cut(&outcome),
        writes,
        writes_left_out: left_out,
        decisions,
    };
    let key = ItemKey::new(
        format!(
            "SESSION#{}#{}",
            trigger.session.kind.as_str(),
            trigger.session.id
        ),
        format!("{PREFIX}{:013}#{worker}#{}", at.0.max(0), cut(&unique)),
    );
    let body = serde_json::to_value(&entry).map_err(|e| StoreError::Malformed {
        key: key.to_string(),
        reason: e.to_string(),
    })?;
    Ok(Item::new(key, body))
}

fn path_of(url_or_path: &str) -> &str {
    let without_query = url_or_path.split(['?', '#']).next().unwrap_or_default();
    match without_query.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |at| &rest[at..]),
        None => without_query,
    }
}

fn id_of(answer: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(answer).ok()?;
    let id = value
        .pointer("/data/id")
        .or_else(|| value.get("id"))
        .or_else(|| value.pointer("/data/0/id"))?;
    match id {
        serde_json::Value::String(s) => Some(cut(s)),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn cut(text: &str) -> String {
    text.chars().take(MAX_TEXT).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn r_adm_2_audit_days_are_read_and_a_bad_value_is_named() {
        assert_eq!(kept_for(None).unwrap(), DEFAULT_KEPT);
        assert_eq!(
            kept_for(Some("7")).unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        let err = kept_for(Some("0")).unwrap_err().to_string();
        assert!(err.contains("AUDIT_DAYS"), "{err}");
        assert!(kept_for(Some("a week")).is_err());
    }

    #[tokio::test]
    async fn r_adm_2_writes_are_noted_per_trigger_even_side_by_side_in_one_task() {
        let one = recording(async {
            note(
                "kustomer",
                "create conversation",
                "POST",
                "https://api.kustomerapp.com/v1/conversations?x=1",
                Some(201),
                Some(br#"{"data":{"id":"c1"}}"#),
            );
            tokio::task::yield_now().await;
            note(
                "ccai",
                "update call",
                "PATCH",
                "/apps/api/v1/calls/7",
                None,
                None,
            );
        });
        let two = recording(async {
            tokio::task::yield_now().await;
            note(
                "kustomer",
                "create note",
                "POST",
                "/v1/notes",
                Some(201),
                Some(br#"{"id": 9}"#),
            );
        });
        let ((_, first), (_, second)) = tokio::join!(one, two);
        let (first, second) = (first.writes, second.writes);
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].path, "/v1/conversations");
        assert_eq!(first[0].id.as_deref(), Some("c1"));
        assert_eq!(first[1].status, None);
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].id.as_deref(), Some("9"));
        // Outside a trigger: nothing is noted, nothing fails.
        note("kustomer", "x", "POST", "/v1/x", Some(200), None);
        decide("outside any trigger");
    }

    #[tokio::test]
    async fn r_adm_2_decisions_are_noted_per_trigger_and_bounded() {
        let (_, noted) = recording(async {
            decide("placed: a new conversation (R-T-2)");
            for n in 0..50 {
                decide(format!("decision {n} {}", "x".repeat(1000)));
            }
        })
        .await;
        assert_eq!(noted.decisions[0], "placed: a new conversation (R-T-2)");
        assert_eq!(noted.decisions.len(), MAX_DECISIONS);
        assert!(
            noted
                .decisions
                .iter()
                .all(|d| d.chars().count() <= MAX_TEXT)
        );
        assert!(noted.writes.is_empty());
    }
}
