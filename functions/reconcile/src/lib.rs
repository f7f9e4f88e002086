//! The scheduled reconciliation:
//! - the files sessions wait for (R-E-6): each due wait becomes a trigger for the file workers
//!   (`bridge_shared::storage::awaited`), until the file lands or its deadline passes;
//! - the session poller ([`poller`], R-E-4): calls and chats updated since the last poll become
//!   inbox triggers, so nothing External Session Events missed is lost, and a tenant without
//!   them is served all the same;
//! - for every known agent, the status of their active Kustomer work session (every active one
//!   read in one paged list: a report no tab sent is caught here, R-S-4), a pending CRM status
//!   change whose session has ended (R-S-5, R-S-6) and, in two-way mode, the agent's CCAI status
//!   reflected into Kustomer (R-S-7). One agent's failure is logged and counted; it never stops
//!   the others.

pub mod poller;
pub mod run;

use bridge_shared::UnixMillis;
use bridge_shared::status::PendingOutcome;
use bridge_shared::status::sync::StatusService;
use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub agents: usize,
    /// Agents whose Kustomer status was applied in CCAI by this run (no report had brought it).
    pub followed: usize,
    /// Kustomer's list of active work sessions could not be read this run.
    pub sessions_unread: bool,
    /// Agents left to the next run: the invocation's time ran short.
    pub deferred: usize,
    pub pending_applied: usize,
    pub pending_dropped: usize,
    pub still_waiting: usize,
    pub reflected_to_kustomer: usize,
    pub failed: usize,
}

/// What one agent's reconciliation may take (a few platform calls, each paced).
const AGENT_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

pub async fn reconcile_agents(
    service: &StatusService,
    now: UnixMillis,
) -> Result<Summary, bridge_shared::status::sync::StatusError> {
    let mut summary = Summary::default();
    // A failed list costs only this run's following: pending changes and two-way still run.
    let sessions = match service.active_work_sessions().await {
        Ok(sessions) => sessions,
        Err(err) => {
            tracing::warn!(error = %err, "active work sessions not read; none followed this run");
            summary.sessions_unread = true;
            Default::default()
        }
    };
    for email in service.agent_emails(now).await? {
        // Each agent at its own time (an in-flight claim's expiry is real time), and none
        // begun without the time to finish (the next run takes them).
        if !bridge_shared::deadline::allows(AGENT_MARGIN) {
            summary.deferred += 1;
            continue;
        }
        let now = UnixMillis::now().max(now);
        summary.agents += 1;
        match service.reconcile_agent(&email, &sessions, now).await {
            Ok(bridge_shared::status::sync::AgentReconciled {
                followed,
                pending,
                reflected,
            }) => {
                summary.followed += usize::from(matches!(
                    followed,
                    Some(bridge_shared::status::agent_state::Outcome::Applied { .. })
                ));
                match pending {
                    Some(PendingOutcome::Apply(_)) => summary.pending_applied += 1,
                    Some(PendingOutcome::Drop(_)) => summary.pending_dropped += 1,
                    Some(PendingOutcome::Wait) => summary.still_waiting += 1,
                    None => {}
                }
                summary.reflected_to_kustomer += usize::from(reflected.is_some());
            }
            Err(err) => {
                summary.failed += 1;
                // The e-mail is redacted by the log writer; the agent is findable by the admin list.
                tracing::warn!(agent = %email, error = %err, "agent reconciliation failed");
            }
        }
    }
    tracing::info!(?summary, "agents reconciled");
    Ok(summary)
}

/// How the scheduled run looks for files sessions wait for (R-E-6): `FILE_LOOK_SECONDS` (the
/// first interval, doubling up to an hour; default 60) and `FILE_DEADLINE_HOURS` (default 24).
#[derive(Clone, Copy, Debug)]
pub struct FileLooks {
    pub base: std::time::Duration,
    pub deadline: std::time::Duration,
    /// How long a file given up stays on the session's timeline (`AUDIT_DAYS`).
    pub audit_kept: std::time::Duration,
}

impl FileLooks {
    /// From `FILE_LOOK_SECONDS`, `FILE_DEADLINE_HOURS` and `AUDIT_DAYS` (unset: the
    /// defaults); a malformed value is an error naming the variable.
    pub fn from_env() -> Result<Self, bridge_shared::config::ConfigError> {
        let var = |name: &str| std::env::var(name).ok();
        let defaults = Self::default();
        let base = bridge_shared::config::seconds_setting(
            "FILE_LOOK_SECONDS",
            var("FILE_LOOK_SECONDS").as_deref(),
            1,
        )?
        .unwrap_or(defaults.base);
        let deadline = bridge_shared::config::seconds_setting(
            "FILE_DEADLINE_HOURS",
            var("FILE_DEADLINE_HOURS").as_deref(),
            1,
        )?
        .map(|hours| hours * 3600)
        .unwrap_or(defaults.deadline);
        let audit_kept = bridge_shared::audit::kept_for(var("AUDIT_DAYS").as_deref())?;
        Ok(Self {
            base,
            deadline,
            audit_kept,
        })
    }
}

impl Default for FileLooks {
    fn default() -> Self {
        Self {
            base: std::time::Duration::from_secs(60),
            deadline: std::time::Duration::from_secs(24 * 3600),
            audit_kept: bridge_shared::audit::DEFAULT_KEPT,
        }
    }
}

/// What one scheduled invocation did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ScheduledRun {
    pub polls: Vec<poller::PollSummary>,
    pub file_looks: Option<bridge_shared::storage::awaited::LookSummary>,
    /// Failed triggers put back into the inbox (R-E-7).
    pub retries: Option<bridge_shared::stream::failures::RetrySummary>,
    pub agents: Option<Summary>,
    pub errors: Vec<String>,
}

/// One scheduled invocation: the session poller (again every `poll_every` while `budget`
/// lasts, for tenants that need a shorter latency than the schedule), then the agents.
pub async fn scheduled_run(
    service: &StatusService,
    store: &dyn bridge_shared::store::StateStore,
    ccai: &bridge_shared::ccai::CcaiClient,
    poll_every: Option<std::time::Duration>,
    budget: std::time::Duration,
    files: FileLooks,
) -> ScheduledRun {
    let started = tokio::time::Instant::now();
    let mut run = ScheduledRun::default();
    loop {
        let left = budget.saturating_sub(started.elapsed());
        match poller::poll_sessions(store, ccai, UnixMillis::now(), left).await {
            Ok(summary) => run.polls.push(summary),
            Err(err) => {
                tracing::error!(error = %err, "session poll failed");
                run.errors.push(format!("session poll: {err}"));
            }
        }
        let Some(every) = poll_every else { break };
        if started.elapsed() + every > budget {
            break;
        }
        tokio::time::sleep_until(started + every * run.polls.len().max(1) as u32).await;
    }
    match bridge_shared::storage::awaited::look_for_files(
        store,
        files.base,
        files.deadline,
        files.audit_kept,
        UnixMillis::now(),
    )
    .await
    {
        Ok(summary) => run.file_looks = Some(summary),
        Err(err) => {
            tracing::error!(error = %err, "looking for awaited files failed");
            run.errors.push(format!("file looks: {err}"));
        }
    }
    match bridge_shared::stream::failures::requeue_due(store, UnixMillis::now()).await {
        Ok(summary) => run.retries = Some(summary),
        Err(err) => {
            tracing::error!(error = %err, "putting due retries back failed");
            run.errors.push(format!("retries: {err}"));
        }
    }
    match reconcile_agents(service, UnixMillis::now()).await {
        Ok(summary) => run.agents = Some(summary),
        Err(err) => {
            tracing::error!(error = %err, "agent reconciliation failed");
            run.errors.push(format!("agents: {err}"));
        }
    }
    bridge_shared::shapes::book::flush(store, UnixMillis::now()).await;
    run
}
