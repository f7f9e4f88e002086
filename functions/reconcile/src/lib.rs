//! The scheduled reconciliation: for every known agent, resolve a pending CRM status change
//! whose session has ended (R-S-5, R-S-6) and, in two-way mode, reflect the agent's CCAI
//! status into Kustomer (R-S-7). One agent's failure is logged and counted; it never stops the
//! others. (Polling the Manager API for missed session events, R-E-4, joins this function with
//! the intake.)

use bridge_shared::UnixMillis;
use bridge_shared::status::PendingOutcome;
use bridge_shared::status::sync::StatusService;
use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub agents: usize,
    pub pending_applied: usize,
    pub pending_dropped: usize,
    pub still_waiting: usize,
    pub reflected_to_kustomer: usize,
    pub failed: usize,
}

pub async fn reconcile_agents(
    service: &StatusService,
    now: UnixMillis,
) -> Result<Summary, bridge_shared::status::sync::StatusError> {
    let mut summary = Summary::default();
    for email in service.agent_emails(now).await? {
        summary.agents += 1;
        match service.reconcile_agent(&email, now).await {
            Ok((pending, reflected)) => {
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
