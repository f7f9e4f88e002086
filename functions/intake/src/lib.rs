//! The intake: `POST /webhooks/storage` (events.md §2, the bucket's Pub/Sub push: a session's
//! file landed) and `POST /webhooks/ccai` (events.md §1, R-E-1 … R-E-3): CCAI Platform's External
//! Session Events. HTTP Basic is checked before anything else; the body is a batch
//! `{count, events}`; each well-formed event is stored once in the inbox (a conditional put on
//! `EVENT#<event_id>`), each malformed one is kept for `GET /admin/rejected`; the answer comes
//! after the durable writes. The slow work happens downstream, from the table's stream.
//!
//! Answers: 200 `{stored, duplicates, rejected: [{index, field, error}]}` · 400 naming the field
//! (not JSON, no `events` array) · 401 with `WWW-Authenticate: Basic realm="ccai-events"` ·
//! 413 over 1 MiB · 503 when a write failed (the platform's retry brings the batch again; what
//! was stored is then a duplicate).

pub mod run;
use bridge_shared::UnixMillis;
use bridge_shared::config::BasicCredential;
use bridge_shared::ese::{EseEvent, MAX_BATCH_BYTES, not_from_the_future, parse_batch};
use bridge_shared::events::{
    EventError, SessionKind, SessionRef, SessionTrigger, TriggerSource, hints,
};
use bridge_shared::lambda::{body_bytes, json_answer};
use bridge_shared::signature::check_basic;
use bridge_shared::storage::awaited::{AwaitedFile, is_awaited};
use bridge_shared::storage::push::{PushVerifier, parse_push};
use bridge_shared::storage::{DataType, FileKind, below_prefix, classify};
use bridge_shared::store::{DocumentStore, Item, ItemKey, PutOutcome, StoreError};
use lambda_http::http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub use bridge_shared::events::{INBOX_RETENTION, inbox_item};

/// How long a rejected event is kept for the admin to see.
pub const REJECTED_RETENTION: std::time::Duration = std::time::Duration::from_secs(14 * 24 * 3600);
/// How much of a rejected event is kept (enough to see what was wrong with it).
const REJECTED_EXCERPT: usize = 8 * 1024;

pub struct IntakeApi {
    pub store: Arc<dyn DocumentStore>,
    pub credentials: Vec<BasicCredential>,
    /// Storage notifications (`POST /webhooks/storage`), when configured.
    pub storage_push: Option<Arc<PushVerifier>>,
}

fn unauthorised(reason: String) -> Response<Body> {
    let mut answer = json_answer(StatusCode::UNAUTHORIZED, json!({"error": reason}));
    answer.headers_mut().insert(
        "www-authenticate",
        HeaderValue::from_static("Basic realm=\"ccai-events\""),
    );
    answer
}

/// What became of one batch.
#[derive(Default)]
struct Tally {
    stored: usize,
    duplicates: usize,
    rejected: Vec<Value>,
    /// Rejected events beyond those listed and kept (see [`MAX_REJECTED_KEPT`]).
    rejected_more: usize,
    failed: Option<StoreError>,
}

/// Writes of one request in flight at once: a batch's answer waits for its slowest write, not
/// for their sum, and a huge batch cannot open thousands of writes at once (review S7).
const WRITES_AT_ONCE: usize = 16;

/// Malformed events of one request kept for the admin and listed in the answer; the rest are
/// only counted (`rejected_more`): a body of a million junk entries costs a few writes, not a
/// million (review S7).
pub const MAX_REJECTED_KEPT: usize = 20;

pub async fn handle(api: &IntakeApi, request: Request, now: UnixMillis) -> Response<Body> {
    let response = answer(api, request, now).await;
    bridge_shared::shapes::book::flush_in_background(api.store.clone());
    response
}

async fn answer(api: &IntakeApi, request: Request, now: UnixMillis) -> Response<Body> {
    let path = bridge_shared::lambda::route_path(&request)
        .trim_end_matches('/')
        .to_owned();
    match (request.method() == Method::POST, path.as_str()) {
        (true, "/webhooks/ccai") => session_events(api, request, now).await,
        (true, "/webhooks/storage") => storage_notification(api, request, now).await,
        _ => json_answer(StatusCode::NOT_FOUND, json!({"error": "no such route"})),
    }
}

fn no_content() -> Response<Body> {
    let mut answer = Response::new(Body::Empty);
    *answer.status_mut() = StatusCode::NO_CONTENT;
    answer
}

/// `POST /webhooks/storage` (events.md §2): a file of a session landed in external storage.
/// Answers 204 for every push it takes (Pub/Sub acknowledges any 2xx), 401 for a token it
/// refuses, 400 for an envelope without the object's attributes, 503 when not stored.
async fn storage_notification(
    api: &IntakeApi,
    request: Request,
    now: UnixMillis,
) -> Response<Body> {
    let Some(verifier) = &api.storage_push else {
        return json_answer(
            StatusCode::NOT_FOUND,
            json!({"error": "storage notifications are not configured (STORAGE_PUSH_AUDIENCE)"}),
        );
    };
    let header = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if let Err(err) = verifier.verify(header).await {
        // The reason is logged, not answered: it names keys, URLs and the token's account
        // (review S16).
        tracing::warn!(reason = %err, "storage notification refused");
        return json_answer(StatusCode::UNAUTHORIZED, json!({"error": "token refused"}));
    }
    let pushed = match parse_push(body_bytes(&request)) {
        Ok(pushed) => pushed,
        Err(err) => {
            // A verified push that cannot be read is acknowledged (Pub/Sub would redeliver any
            // other answer until its retention ends, review L8) and kept for the admin
            // (`GET /admin/rejected`), naming the field.
            let raw = serde_json::from_slice::<Value>(body_bytes(&request)).ok();
            let (_, failed) = reject(api, 0, &err, raw.as_ref(), now).await;
            if let Some(store) = failed {
                tracing::error!(error = %store, "malformed push not kept; Pub/Sub redelivers it");
                return json_answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": "not stored; retry"}),
                );
            }
            return json_answer(
                StatusCode::OK,
                json!({"ignored": err.to_string(), "field": err.field}),
            );
        }
    };
    if pushed.event_type != "OBJECT_FINALIZE" {
        return no_content();
    }
    if verifier
        .settings
        .bucket
        .as_ref()
        .is_some_and(|b| b != &pushed.bucket)
    {
        tracing::info!(bucket = %pushed.bucket, "push for another bucket ignored");
        return no_content();
    }
    // The worker opens the object the push names (finding 3); CCAI writes only below the
    // configured folder, so an object elsewhere is not the tenant's export.
    let Some(name) = below_prefix(&verifier.settings.prefix, &pushed.object) else {
        tracing::info!("pushed object is outside the export folder; ignored");
        return no_content();
    };
    let Some(file) = classify(name) else {
        tracing::info!("pushed object is not a file the bridge uses");
        return no_content();
    };
    let session = match (&file.kind, file.session.clone(), file.metadata_id) {
        (
            FileKind::Recording { .. }
            | FileKind::Transcript
            | FileKind::Metadata
            | FileKind::Photo { .. }
            | FileKind::Video { .. },
            Some(session),
            _,
        ) => session,
        // `metadata-{id}.json` does not say call or chat: the session waiting for it does.
        (FileKind::Metadata, None, Some(id)) => match metadata_session(api, id, now).await {
            Ok(Some(session)) => session,
            Ok(None) => {
                tracing::info!(
                    "metadata file of no session the bridge knows; the scheduled look covers it"
                );
                return no_content();
            }
            Err(err) => {
                tracing::error!(error = %err, "storage notification not stored");
                return json_answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": "not stored; retry"}),
                );
            }
        },
        _ => {
            tracing::info!(kind = ?file.kind, "a session file the bridge does not read yet");
            return no_content();
        }
    };
    // Hinted by its data type, so only the worker that reads it is woken (finding 10).
    let hint = hints::file(session.kind, DataType::of(&file.kind).as_str());
    // Once per (object, generation): Pub/Sub delivers at least once, and a rewrite is a new
    // generation.
    let digest = hex::encode(&Sha256::digest(pushed.object.as_bytes())[..8]);
    let trigger = SessionTrigger {
        id: format!("file-{digest}-{}", pushed.generation),
        hint,
        occurred_at: chrono::DateTime::from_timestamp_millis(now.0).unwrap_or_default(),
        session,
        source: TriggerSource::Storage,
        item: None,
        object: Some(name.to_owned()),
    };
    let stored = match inbox_item(&trigger, now) {
        Ok(item) => api.store.put_if_absent(&item, now).await,
        Err(err) => Err(StoreError::Malformed {
            key: trigger.id.clone(),
            reason: err.to_string(),
        }),
    };
    match stored {
        Ok(_) => no_content(),
        Err(err) => {
            tracing::error!(error = %err, "storage notification not stored");
            json_answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "not stored; retry"}),
            )
        }
    }
}

/// The session a `metadata-{id}.json` belongs to: the call or the chat with that id waiting for
/// its metadata, else the one the bridge has placed in Kustomer already (a rewritten metadata
/// file, a new generation, concerns a session whose first file was read).
async fn metadata_session(
    api: &IntakeApi,
    id: u64,
    now: UnixMillis,
) -> Result<Option<SessionRef>, StoreError> {
    let kinds = [SessionKind::Call, SessionKind::Chat];
    for kind in kinds {
        let session = SessionRef { kind, id };
        if is_awaited(api.store.as_ref(), &session, AwaitedFile::Metadata, now).await? {
            return Ok(Some(session));
        }
    }
    for kind in kinds {
        if api
            .store
            .get(&ItemKey::session_link(kind, id), now)
            .await?
            .is_some()
        {
            return Ok(Some(SessionRef { kind, id }));
        }
    }
    Ok(None)
}

/// `POST /webhooks/ccai` (events.md §1).
async fn session_events(api: &IntakeApi, request: Request, now: UnixMillis) -> Response<Body> {
    let header = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let feed = match check_basic(header, &api.credentials) {
        Ok(user) => user.to_owned(),
        Err(err) => {
            tracing::warn!(reason = %err, "session events refused");
            return unauthorised(format!("authentication refused: {err}"));
        }
    };
    let body = body_bytes(&request);
    if body.len() > MAX_BATCH_BYTES {
        return json_answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"error": "body over 1 MiB"}),
        );
    }
    let events = match parse_batch(body) {
        Ok(events) => events
            .into_iter()
            .map(|event| event.and_then(|e| not_from_the_future(e, now)))
            .collect::<Vec<_>>(),
        Err(err) => {
            return json_answer(
                StatusCode::BAD_REQUEST,
                json!({"error": err.to_string(), "field": err.field}),
            );
        }
    };
    let raw: Vec<Value> = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("events").and_then(Value::as_array).cloned())
        .unwrap_or_default();

    let mut tally = Tally::default();
    let mut kept = 0;
    let events: Vec<(usize, &Result<EseEvent, EventError>)> = events
        .iter()
        .enumerate()
        .filter(|(_, event)| match event {
            Ok(_) => true,
            Err(_) if kept < MAX_REJECTED_KEPT => {
                kept += 1;
                true
            }
            Err(_) => {
                tally.rejected_more += 1;
                false
            }
        })
        .collect();
    if tally.rejected_more > 0 {
        tracing::warn!(
            more = tally.rejected_more,
            "more malformed events than are kept; only counted"
        );
    }
    // The batch's writes, a bounded number at once.
    use futures::StreamExt;
    let pending: Vec<_> = events
        .into_iter()
        .map(|(index, event)| write_one(api, index, event, raw.get(index), now))
        .collect();
    let writes = futures::stream::iter(pending)
        .buffer_unordered(WRITES_AT_ONCE)
        .collect::<Vec<_>>()
        .await;
    for (index, outcome) in writes {
        match outcome {
            Ok(Ok(PutOutcome::Written)) => tally.stored += 1,
            Ok(Ok(PutOutcome::Kept(_))) => tally.duplicates += 1,
            Ok(Err(err)) | Err((_, Some(err))) => tally.failed = Some(err),
            Err((error, None)) => tally
                .rejected
                .push(json!({"index": index, "field": error.field, "error": error.to_string()})),
        }
    }
    if let Some(err) = tally.failed {
        // Not everything is stored: a 5xx makes the platform send the batch again, so nothing
        // is lost (what was stored comes back as a duplicate).
        tracing::error!(error = %err, "session events not stored");
        return json_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "not stored; retry"}),
        );
    }
    // Written out of order: answered in the batch's.
    tally.rejected.sort_by_key(|r| r["index"].as_u64());
    bridge_shared::metrics::count("EventsIn", tally.stored as u64);
    tracing::info!(
        feed,
        stored = tally.stored,
        duplicates = tally.duplicates,
        rejected = tally.rejected.len(),
        "session events received"
    );
    json_answer(
        StatusCode::OK,
        if tally.rejected_more == 0 {
            json!({"stored": tally.stored, "duplicates": tally.duplicates, "rejected": tally.rejected})
        } else {
            json!({"stored": tally.stored, "duplicates": tally.duplicates, "rejected": tally.rejected,
                   "rejected_more": tally.rejected_more})
        },
    )
}

/// One event of a batch: stored, or kept as rejected.
#[allow(clippy::type_complexity)] // the tally's two outcomes, matched at its one call site
fn write_one<'a>(
    api: &'a IntakeApi,
    index: usize,
    event: &'a Result<EseEvent, EventError>,
    raw: Option<&'a Value>,
    now: UnixMillis,
) -> futures::future::BoxFuture<
    'a,
    (
        usize,
        Result<Result<PutOutcome, StoreError>, (EventError, Option<StoreError>)>,
    ),
> {
    Box::pin(async move {
        match event {
            Ok(event) => (index, Ok(store_event(api, event, now).await)),
            Err(err) => (index, Err(reject(api, index, err, raw, now).await)),
        }
    })
}

async fn store_event(
    api: &IntakeApi,
    event: &EseEvent,
    now: UnixMillis,
) -> Result<PutOutcome, StoreError> {
    let item = inbox_item(&event.trigger(), now).map_err(|err| StoreError::Malformed {
        key: ItemKey::inbox(&event.event_id).to_string(),
        reason: err.to_string(),
    })?;
    let outcome = api.store.put_if_absent(&item, now).await?;
    if matches!(outcome, PutOutcome::Written) {
        tracing::info!(event_id = %event.event_id, session = event.session.id, kind = event.session.kind.as_str(), "session event stored");
    }
    Ok(outcome)
}

/// Keeps a malformed event for the admin (`GET /admin/rejected`). The log line names only its
/// place in the batch and the field: the event itself may hold a caller's number.
async fn reject(
    api: &IntakeApi,
    index: usize,
    error: &EventError,
    raw: Option<&Value>,
    now: UnixMillis,
) -> (EventError, Option<StoreError>) {
    tracing::warn!(index, field = %error.field, "session event rejected");
    let mut excerpt = raw.map(Value::to_string).unwrap_or_default();
    if excerpt.len() > REJECTED_EXCERPT {
        let mut end = REJECTED_EXCERPT;
        while !excerpt.is_char_boundary(end) {
            end -= 1;
        }
        excerpt.truncate(end);
        excerpt.push('…');
    }
    let item = Item::new(
        ItemKey::rejected_event(now.0, &format!("{}-{index}", uuid::Uuid::new_v4())),
        json!({"index": index, "field": error.field, "error": error.to_string(),
               "event": excerpt, "received_at": now.to_iso()}),
    )
    .expiring_at(now.plus(REJECTED_RETENTION));
    (error.clone(), api.store.put(&item).await.err())
}
