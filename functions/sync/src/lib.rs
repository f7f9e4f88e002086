//! The inbox stream worker (`bridge-sync`): the DynamoDB stream delivers every new inbox item
//! (filtered in template.yaml). Each item is a trigger — an External Session Event or a poll —
//! meaning only "this session may have changed"; the worker reconciles the whole session from
//! its truth ([`apply`]), so every trigger is applied exactly once in effect (R-E-2): an
//! idempotency claim on the trigger id makes redelivered records no-ops, and each Kustomer
//! step is recorded as done in the session link, so a second trigger repeats nothing.

pub mod run;
pub mod session_end;

use bridge_shared::UnixMillis;
use bridge_shared::blob::BlobError;
use bridge_shared::ccai::{CcaiClient, CcaiError};
use bridge_shared::config::CountryCode;
use bridge_shared::conversation::report::is_resync;
use bridge_shared::conversation::{
    ContactError, ContactSync, Need, SessionView, Truth, TruthError, session_truth,
};
use bridge_shared::ese::{KeptEse, kept};
use bridge_shared::events::SessionRef;
use bridge_shared::events::{SessionKind, SessionTrigger, TriggerSource, hints};
use bridge_shared::kustomer::KustomerClient;
use bridge_shared::queue::WorkQueues;
use bridge_shared::queue::handoff::hand_off;
use bridge_shared::shadow::planned_only;
use bridge_shared::status::PendingOutcome;
use bridge_shared::status::sync::{StatusError, StatusService};
use bridge_shared::storage::awaited::{self, AwaitedFile};
use bridge_shared::storage::metadata::{SessionMetadata, parse_metadata};
use bridge_shared::storage::{
    DataType, ExportedTypes, ExternalStorage, LocateError, locate, read_whole,
};
use bridge_shared::store::{Item, ItemKey, PutOutcome};
use bridge_shared::store::{Once, StateStore, StoreError, run_once};
use bridge_shared::stream::failures::{FailurePlan, FailurePolicy};
use bridge_shared::stream::{
    BatchError, DynamoDbEventResponse, InboxError, RecordOutcome, StreamEvent, handle_inbox_batch,
};
use serde_json::Value;
use session_end::{SessionAgents, agents_released};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Sessions handled at once within one batch (each costs a few platform calls; the CCAI
/// tenant allows 10 requests per second in all).
const CONCURRENCY: usize = 4;
/// How long a claimed event may be in progress: the function's timeout (template.yaml).
const IN_PROGRESS_FOR: Duration = Duration::from_secs(60);
/// How long an applied trigger id (and a session's latest ESE item) is remembered: the inbox
/// keeps triggers 14 days, and the stream redelivers at most for its 24 h retention.
const REMEMBER_FOR: Duration = Duration::from_secs(14 * 24 * 3600);

pub struct SyncApi {
    pub store: Arc<dyn StateStore>,
    pub ccai: Arc<CcaiClient>,
    pub kustomer: Arc<KustomerClient>,
    pub status: StatusService,
    /// The tenant's external storage, for the session metadata file (`None`: not read).
    pub storage: Option<Arc<dyn ExternalStorage>>,
    /// The data types the tenant exports (`EXTERNAL_STORAGE_FILES`): metadata is waited for
    /// only when it is one.
    pub exported: ExportedTypes,
    /// `DEFAULT_COUNTRY`: national caller numbers are read in it.
    pub caller_country: CountryCode,
    /// How failed triggers are retried, then kept as dead letters (R-E-7).
    pub failures: FailurePlan,
    /// The file workers' queues: every trigger of a session's files is handed to them
    /// (`bridge_shared::queue`; `None` only where no file worker runs).
    pub file_work: Option<Arc<dyn WorkQueues>>,
}

/// Largest metadata file read (one session's JSON).
const MAX_METADATA_BYTES: u64 = 4 * 1024 * 1024;

/// What the session's metadata file gave.
enum MetadataFile {
    /// Read, and about this session.
    Read(Box<SessionMetadata>, Option<Item>),
    /// Not there (yet), not exported, or no external storage: waited for when it is exported.
    Absent,
    /// There, but its content names another session (its `id`, or call against chat): never
    /// used, and said in the session's status (ccai-api.md §3, 2026-12-03).
    Contradicts(String),
    /// The generation read before: nothing new (a look for a rewrite).
    Unchanged,
}

/// How long a metadata file that was read is looked at again for a rewrite no push announces
/// (the survey's answer rewrites it, ccai-api.md §3), and when the first of those looks comes.
const METADATA_REWRITE_WATCH: Duration = Duration::from_secs(2 * 3600);
const METADATA_REWRITE_FIRST_LOOK: Duration = Duration::from_secs(5 * 60);

/// The session's metadata file, once the session has ended: read when it is there (the pushed
/// object, where a push said, or the flat name), else waited for (the scheduled look brings
/// the session back when it lands, R-E-6) — unless the tenant does not export metadata.
async fn session_metadata(
    api: &SyncApi,
    trigger: &SessionTrigger,
    now: UnixMillis,
) -> Result<MetadataFile, SyncError> {
    // A dry run reads the file as the pass would, and schedules no look for it.
    let schedules = !hints::is_preview(&trigger.hint);
    let session = &trigger.session;
    let Some(storage) = api
        .storage
        .as_ref()
        .filter(|_| api.exported.has(DataType::Metadata))
    else {
        return Ok(MetadataFile::Absent);
    };
    let found = locate(
        api.store.as_ref(),
        storage.as_ref(),
        session,
        DataType::Metadata,
        trigger.object.as_deref(),
        now,
    )
    .await?;
    let Some((name, stored)) = found else {
        if schedules {
            awaited::await_file(api.store.as_ref(), session, AwaitedFile::Metadata, now).await?;
        }
        return Ok(MetadataFile::Absent);
    };
    // The generation read last (`SESSION#…/METADATA`): a look that finds it again is done.
    let progress = awaited::progress_key(session, AwaitedFile::Metadata);
    let generation = stored.generation.clone().unwrap_or_default();
    let read_before = api.store.get(&progress, now).await?;
    if hints::is_look(&trigger.hint)
        && read_before
            .as_ref()
            .is_some_and(|p| p.body["generation"] == generation.as_str())
    {
        return Ok(MetadataFile::Unchanged);
    }
    let bytes = read_whole(storage.as_ref(), &name, MAX_METADATA_BYTES)
        .await
        .map_err(SyncError::Storage)?;
    // Recorded as read only once the pass that used it succeeded (`apply`): a pass that
    // fails is retried with the same look, which must read it again (review of issue 24).
    let read = read_before
        .is_none_or(|p| p.body["generation"] != generation.as_str())
        .then(|| {
            Item::new(
                progress,
                serde_json::json!({"generation": generation, "name": name, "read_at": now.to_iso()}),
            )
        });
    // Looked at again for a while: a rewrite without a push is read too (review L5).
    if schedules {
        awaited::watch_for_rewrite(
            api.store.as_ref(),
            session,
            AwaitedFile::Metadata,
            METADATA_REWRITE_FIRST_LOOK,
            now.plus(METADATA_REWRITE_WATCH),
            now,
        )
        .await?;
    }
    let Some(metadata) = parse_metadata(&bytes) else {
        tracing::warn!("metadata file is not a JSON object; ignored");
        return Ok(MetadataFile::Absent);
    };
    if let Some(why) = contradiction(&metadata, session) {
        tracing::warn!(reason = %why, "metadata file refused");
        return Ok(MetadataFile::Contradicts(why));
    }
    Ok(MetadataFile::Read(Box::new(metadata), read))
}

/// A resync's dry run (R-ADM-2): the view a resync builds — a fresh Manager API read, the
/// ESE item, the metadata file — and every step the live pass would take from it (kept by the
/// caller at `SESSION#…/PREVIEW` for the console). Nothing is written to Kustomer or CCAI,
/// and no look is scheduled. In shadow mode a resync itself writes nothing (it plans again),
/// and a session left to shadow mode is written only by a resync: the steps say so first.
async fn preview(
    api: &SyncApi,
    trigger: &SessionTrigger,
    sessions: &SessionsSeen,
    now: UnixMillis,
) -> Result<Vec<String>, SyncError> {
    if !api.kustomer.writes() {
        return Ok(vec![SHADOW_RESYNC.to_owned()]);
    }
    let left_to_shadow = planned_only(api.store.as_ref(), &trigger.session, now).await?;
    let ese = latest_ese_item(api.store.as_ref(), trigger, now).await?;
    let item = ese.as_ref().map(|kept| &kept.item);
    let view = sessions.get(api, trigger, now).await?.view().with_ese(item);
    let metadata = if view.ended {
        session_metadata(api, trigger, now).await?
    } else {
        MetadataFile::Absent
    };
    let mut view = match &metadata {
        MetadataFile::Read(metadata, _) => view.with_metadata(Some(metadata.as_ref())),
        _ => view,
    };
    audit_truth(&view, item.is_some(), &metadata);
    if let MetadataFile::Contradicts(why) = metadata {
        view.metadata_refused = Some(why);
    }
    let sync = contact_sync(api);
    let mut steps = sync.preview(&view, now).await?;
    if left_to_shadow && !steps.is_empty() {
        steps.insert(0, LEFT_TO_SHADOW.to_owned());
    }
    tracing::info!(steps = steps.len(), "resync dry run made");
    Ok(steps)
}

/// A dry run's only step in shadow mode (R-F-2).
pub const SHADOW_RESYNC: &str = "shadow mode: a resync writes nothing to Kustomer or CCAI — it plans the session again, and GET /admin/shadow compares the plan with Kustomer";

/// A dry run's first step for a session that ended in shadow mode, back in live mode.
pub const LEFT_TO_SHADOW: &str =
    "the session ended in shadow mode: no trigger but a resync writes it, and a resync would:";

/// The contact sync over this worker's adapters.
fn contact_sync(api: &SyncApi) -> ContactSync<'_> {
    ContactSync {
        store: api.store.as_ref(),
        kustomer: &api.kustomer,
        ccai: &api.ccai,
        status: &api.status,
        country: &api.caller_country,
        audit_kept: api.failures.audit_kept,
    }
}

/// The truth this pass merged, in the trigger's audit entry (R-ADM-2).
fn audit_truth(view: &SessionView, ese: bool, metadata: &MetadataFile) {
    let file = match metadata {
        MetadataFile::Read(..) => "read",
        MetadataFile::Absent if !view.ended => "not looked for (the session is not over)",
        MetadataFile::Absent => "not there yet (or not exported)",
        MetadataFile::Contradicts(_) => "refused: it names another session",
        MetadataFile::Unchanged => "unchanged",
    };
    bridge_shared::audit::decide(view.summary(ese, file));
}

/// Why a metadata file is not this session's, if it says so: a `metadata-{id}.json` name does
/// not tell a call from a chat with the same id, and a file in a folder may be misplaced.
fn contradiction(metadata: &SessionMetadata, session: &SessionRef) -> Option<String> {
    let kind = session.kind.as_str();
    if let Some(id) = metadata.id.filter(|id| *id != session.id) {
        return Some(format!(
            "the metadata file found for {kind} {} is about session {id}",
            session.id
        ));
    }
    let is_chat = session.kind == SessionKind::Chat;
    match metadata.is_chat {
        Some(chat) if chat != is_chat => Some(format!(
            "the metadata file found for {kind} {} is about a {}",
            session.id,
            if chat { "chat" } else { "call" }
        )),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Inbox(#[from] InboxError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("fetching the session from CCAI: {0}")]
    Ccai(#[from] CcaiError),
    #[error(transparent)]
    Status(#[from] StatusError),
    #[error(transparent)]
    Contact(#[from] ContactError),
    /// Another worker holds the event's claim; the retry finds it completed (or expired).
    #[error("event {0} is being applied by another worker")]
    InProgressElsewhere(String),
    #[error("external storage: {0}")]
    Storage(BlobError),
    #[error(transparent)]
    Locate(#[from] LocateError),
    /// The event's file work could not be queued for its file worker.
    #[error("handing the file work on: {0}")]
    HandOff(bridge_shared::queue::QueueError),
}

impl From<TruthError> for SyncError {
    fn from(err: TruthError) -> Self {
        match err {
            TruthError::Ccai(err) => SyncError::Ccai(err),
            TruthError::Store(err) => SyncError::Store(err),
        }
    }
}

impl bridge_shared::Retryable for SyncError {
    fn is_retryable(&self) -> bool {
        match self {
            // A record the intake could not have written: retrying cannot help.
            SyncError::Inbox(_) => false,
            SyncError::Store(e) => e.is_retryable(),
            // A session the Manager API does not list yet may be a moment behind the event
            // that announced it: retried (a day at most), not given up at once.
            SyncError::Ccai(CcaiError::NotFound { .. }) => true,
            SyncError::Ccai(e) => e.is_retryable(),
            SyncError::Status(e) => e.is_retryable(),
            SyncError::Contact(e) => e.is_retryable(),
            SyncError::InProgressElsewhere(_) => true,
            SyncError::Storage(e) => e.is_retryable(),
            SyncError::Locate(LocateError::Store(e)) => e.is_retryable(),
            SyncError::Locate(LocateError::Storage(e)) => e.is_retryable(),
            // SQS unreachable, throttling, or refusing one message: retried, then (a day
            // later) a dead letter to replay.
            SyncError::HandOff(_) => true,
        }
    }
}

/// One Lambda invocation: a stream batch in, the failed records out.
pub async fn handle(
    api: &SyncApi,
    event: StreamEvent,
    now: UnixMillis,
) -> Result<DynamoDbEventResponse, BatchError> {
    let handled = handle_batch(api, event, now).await;
    bridge_shared::shapes::book::flush(api.store.as_ref(), now).await;
    handled
}

async fn handle_batch(
    api: &SyncApi,
    event: StreamEvent,
    now: UnixMillis,
) -> Result<DynamoDbEventResponse, BatchError> {
    let sessions = SessionsSeen::default();
    let sessions = &sessions;
    let failures = FailurePolicy {
        store: api.store.as_ref(),
        step: "bridge-sync",
        plan: &api.failures,
    };
    handle_inbox_batch(&event, CONCURRENCY, &failures, now, |event| async move {
        // The event's own work, then its file work handed to the file workers' queue —
        // whether or not the own work succeeded: a file worker does not wait on the agents'
        // status or anything else of this worker's (it places the session itself if need be),
        // and after this worker's work it usually finds the conversation made. Either failing
        // fails the event, which the failure policy retries as a whole (quickly, then by the
        // scheduled run, then a dead letter: nothing is lost between the table and a queue).
        let applied = apply_once(api, &event, sessions, now).await;
        let handed = match &api.file_work {
            Some(queues) => hand_off(queues.as_ref(), &event)
                .await
                .map_err(SyncError::HandOff),
            None => Ok(false),
        };
        let outcome = applied?;
        handed?;
        Ok::<_, SyncError>(outcome)
    })
    .await
}

/// The sessions read while handling one batch. Every event of the batch was stored before
/// the batch began, so a session read for its first event is at least as new as all of
/// them: one read per session per batch, not one per event (the tenant allows 10 requests a
/// second in all; a call's created, assigned and ended usually arrive together). Across
/// batches, `truth` serves the triggers that cannot bring anything newer from the object kept.
#[derive(Default)]
pub struct SessionsSeen(Mutex<HashMap<(SessionKind, u64), Truth>>);

impl SessionsSeen {
    async fn get(
        &self,
        api: &SyncApi,
        event: &SessionTrigger,
        now: UnixMillis,
    ) -> Result<Truth, SyncError> {
        let key = (event.session.kind, event.session.id);
        if let Some(truth) = self.0.lock().ok().and_then(|seen| seen.get(&key).cloned()) {
            return Ok(truth);
        }
        let need = Need::of(event);
        let truth = session_truth(api.store.as_ref(), &api.ccai, &event.session, need, now).await?;
        // Only a read now serves the batch's other triggers: a kept object may be older than
        // an ESE event of the batch.
        if need == Need::Fresh
            && let Ok(mut seen) = self.0.lock()
        {
            seen.insert(key, truth.clone());
        }
        Ok(truth)
    }
}

/// The event's work under an idempotency claim on its id (R-E-2).
pub async fn apply_once(
    api: &SyncApi,
    event: &SessionTrigger,
    sessions: &SessionsSeen,
    now: UnixMillis,
) -> Result<RecordOutcome, SyncError> {
    let key = format!("sync#{}", event.id);
    let once = run_once(
        api.store.as_ref(),
        &key,
        now,
        IN_PROGRESS_FOR,
        REMEMBER_FOR,
        || apply(api, event, sessions, now),
    )
    .await?;
    match once {
        Once::Ran(outcome) => Ok(outcome),
        Once::AlreadyDone => {
            tracing::info!(event_id = %event.id, "event already applied");
            Ok(RecordOutcome::Skipped("already applied".into()))
        }
        Once::InProgressElsewhere => Err(SyncError::InProgressElsewhere(event.id.clone())),
    }
}

/// The latest ESE item of the session (R-E-5): this trigger's item when it is newer than the
/// one kept (`SESSION#…/ESE`, versioned by the event's `timestamp` and stage, so a late or
/// duplicated event never moves it back), else the one kept. A poll brings no item; it reads
/// the kept one.
async fn latest_ese_item(
    store: &dyn StateStore,
    trigger: &SessionTrigger,
    now: UnixMillis,
) -> Result<Option<KeptEse>, SyncError> {
    let key = ItemKey::session_ese(trigger.session.kind, trigger.session.id);
    let kept = match (&trigger.item, trigger.source) {
        (Some(item), TriggerSource::Ese) => {
            let version = kept::version_of(trigger.occurred_at.timestamp_millis(), item);
            let stored = Item::new(key, Value::Object(item.clone()))
                .with_version(version)
                .expiring_at(now.plus(REMEMBER_FOR));
            match store.put_if_newer(&stored).await? {
                PutOutcome::Written => return Ok(KeptEse::from_stored(stored.body, version)),
                PutOutcome::Kept(newer) => Some(newer),
            }
        }
        _ => store.get(&key, now).await?,
    };
    Ok(kept.and_then(|item| KeptEse::from_stored(item.body, item.version)))
}

/// One level-triggered reconcile of the trigger's session (architecture.md): the truth is the
/// Manager API object (fetched, R-E-5) with the latest ESE item; contact sync applies whatever
/// of the session's desired Kustomer state is not yet recorded as done (customer,
/// conversation, assignee, message, notes); then, once the session (or an agent's part of it)
/// is over, each such agent's pending status change (R-S-6). The trigger's kind or stage
/// decides nothing, so duplicates, reorderings and a poller-only tenant all end the same.
async fn apply(
    api: &SyncApi,
    trigger: &SessionTrigger,
    sessions: &SessionsSeen,
    now: UnixMillis,
) -> Result<RecordOutcome, SyncError> {
    if !hints::for_sync_worker(&trigger.hint) {
        return Ok(RecordOutcome::Skipped("a file worker's trigger".into()));
    }
    if hints::is_preview(&trigger.hint) {
        // Boxed: the live pass's future is large enough without the dry run's beside it. A
        // dry run that fails says so in its record: it is not work to retry or dead-letter.
        let steps = Box::pin(preview(api, trigger, sessions, now)).await;
        let (steps, error) = match steps {
            Ok(steps) => (steps, None),
            Err(err) => {
                tracing::warn!(error = %err, "resync dry run failed");
                (
                    Vec::new(),
                    Some(bridge_shared::redact::redact(&err.to_string()).into_owned()),
                )
            }
        };
        let record = Item::new(
            ItemKey::new(
                format!(
                    "SESSION#{}#{}",
                    trigger.session.kind.as_str(),
                    trigger.session.id
                ),
                bridge_shared::conversation::report::PREVIEW,
            ),
            serde_json::json!({"at": now.to_iso(),
                               "trigger": bridge_shared::stream::failures::original_id(&trigger.id),
                               "steps": steps, "error": error}),
        )
        .expiring_at(now.plus(api.failures.audit_kept));
        api.store.put(&record).await?;
        bridge_shared::audit::decide(match &error {
            None => format!("dry run: a resync would take {} step(s)", steps.len()),
            Some(_) => "dry run failed: see the session's preview".to_owned(),
        });
        return Ok(RecordOutcome::Skipped("dry run: nothing written".into()));
    }
    // Switching shadow mode off replays no backlog into Kustomer (R-F-2): checked first, so a
    // session left to shadow mode costs no Manager API read or file look.
    if api.kustomer.writes()
        && !is_resync(trigger)
        && planned_only(api.store.as_ref(), &trigger.session, now).await?
    {
        // No look goes on for its metadata file either.
        awaited::file_found(api.store.as_ref(), &trigger.session, AwaitedFile::Metadata).await?;
        return Ok(RecordOutcome::Skipped(
            "ended in shadow mode: written only by an admin's resync".into(),
        ));
    }
    // A look for the metadata file that is still not there changes nothing: it costs one
    // listing, not a Manager API call (review finding 10).
    let mut metadata = None;
    if hints::is_look(&trigger.hint) {
        match session_metadata(api, trigger, now).await? {
            MetadataFile::Absent => {
                return Ok(RecordOutcome::Skipped("metadata file not there yet".into()));
            }
            MetadataFile::Unchanged => {
                return Ok(RecordOutcome::Skipped("metadata file unchanged".into()));
            }
            found => metadata = Some(found),
        }
    }
    let ese = latest_ese_item(api.store.as_ref(), trigger, now).await?;
    let (view, agents) = match sessions.get(api, trigger, now).await? {
        Truth::Call(call) => (
            SessionView::from(call.as_ref()),
            SessionAgents::from(call.as_ref()),
        ),
        Truth::Chat(chat) => (
            SessionView::from(chat.as_ref()),
            SessionAgents::from(chat.as_ref()),
        ),
    };
    let item = ese.as_ref().map(|kept| &kept.item);
    let view = view.with_ese(item);
    let metadata = match metadata {
        Some(found) => found,
        None if view.ended => session_metadata(api, trigger, now).await?,
        None => MetadataFile::Absent,
    };
    let mut view = match &metadata {
        MetadataFile::Read(metadata, _) => view.with_metadata(Some(metadata.as_ref())),
        MetadataFile::Absent | MetadataFile::Contradicts(_) | MetadataFile::Unchanged => view,
    };
    audit_truth(&view, item.is_some(), &metadata);
    let mut read = None;
    match metadata {
        MetadataFile::Contradicts(why) => view.metadata_refused = Some(why),
        MetadataFile::Read(_, record) => read = record,
        MetadataFile::Absent | MetadataFile::Unchanged => {}
    }
    let agents = agents.with_ese(item);
    let sync = contact_sync(api);
    let mut resolved = if api.kustomer.writes() {
        let contact = sync.sync(&view, now).await?;
        if let Some(read) = read {
            api.store.put(&read).await?;
        }
        tracing::info!(?contact, "session reconciled");
        if let Some(what) = &contact.waiting_for {
            return Ok(RecordOutcome::Skipped(format!("waiting for {what}")));
        }
        bridge_shared::metrics::count("SessionsApplied", u64::from(contact.changed_anything()));
        usize::from(contact.changed_anything())
    } else {
        // Shadow mode (R-F-2): what the live pass would do, planned; nothing written.
        let plan = sync.plan(&view, now).await.map_err(SyncError::Contact)?;
        if let Some(read) = read {
            api.store.put(&read).await?;
        }
        // The plan's customer holds the caller's number: only what was decided is logged.
        tracing::info!(
            customer = plan.customer.action(),
            conversation = ?plan.conversation,
            "shadow mode: session planned"
        );
        1
    };
    for agent in agents_released(view.ended, &agents) {
        let Some(email) = api.status.email_for_ccai_agent(agent, now).await? else {
            continue;
        };
        // The grace of R-S-5 runs from the end of the agent's wrap-up (the Final event), not
        // from the call's end: CCAI moves the agent on when the wrap-up is submitted, and that
        // move is not a choice made later (review finding 1). A tenant with ESE sends that
        // event: until it comes, the change stays pending (the scheduled run settles it
        // within a minute if it never comes); without ESE nothing tells, and the CRM change
        // made during the call wins.
        let wrap_up_ended = match ese.as_ref().map(|kept| kept.wrap_up_ended_for(agent)) {
            Some(None) => {
                tracing::info!(ccai_agent = agent, "agent's wrap-up not submitted yet");
                continue;
            }
            Some(ended) => ended,
            None => None,
        };
        let outcome = api.status.session_ended(&email, wrap_up_ended, now).await?;
        tracing::info!(ccai_agent = agent, outcome = ?outcome, "agent's session ended");
        resolved += usize::from(matches!(
            outcome,
            Some(PendingOutcome::Apply(_) | PendingOutcome::Drop(_))
        ));
    }
    Ok(if resolved > 0 {
        RecordOutcome::Applied
    } else {
        RecordOutcome::Skipped("nothing left to change".into())
    })
}
