//! The status service behind the status function (events.md §2): agent-tab leases, identity,
//! status changes.
//!
//! Hot path of a report: mapping and identity from the in-process cache (loaded from the state
//! store once per container), one Kustomer read of the agent's active work session (the truth,
//! R-S-4), one CCAI read of the agent, one conditional write to the agent's state item, then
//! the CCAI change. Leases only elect the tab that watches; they decide nothing.

use super::agent_state::{
    AgentState, Applied, Choice, ChoiceSource, Effect, IN_FLIGHT_FOR, InFlight, Offer, Outcome,
};
use super::mapping::StatusMapping;
use super::report_gate::{self, Turn};
use super::rules::{CcaiAgentView, Decision, PendingOutcome, decide, resolve_pending};
use crate::UnixMillis;
use crate::ccai::{CcaiClient, CcaiError};
use crate::kustomer::model::WorkSession;
use crate::kustomer::{KustomerClient, KustomerError};
use crate::retry::Retryable;
use crate::store::{Item, ItemKey, Lease, LeaseAcquisition, StateStore, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a claimed lease lives without renewal (R-S-4), unless configured otherwise.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// The partition listing every agent whose identity the bridge has resolved.
pub const AGENT_INDEX: &str = "AGENTS";
/// How long the mapping is served from memory before it is read again.
const MAPPING_TTL: Duration = Duration::from_secs(30);
/// How long the org's routing statuses (which are Kustomer's own busy ones) are kept.
const ROUTING_STATUSES_TTL: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("{0}")]
    Invalid(String),
    #[error("no agent with e-mail {email}: {detail}")]
    UnknownAgent { email: String, detail: String },
    /// R-S-3: one e-mail shared by several users, or one CCAI agent claimed by two.
    #[error("agent identity is ambiguous: {0}")]
    SharedUser(String),
    /// R-S-4: another instance holds the agent's lease.
    #[error("another instance drives this agent")]
    NotHolder {
        held_by: Option<String>,
        expires_in_s: u64,
    },
    #[error("Kustomer status {0} is not mapped to a CCAI status")]
    Unmapped(String),
    /// R-S-4: Kustomer has no work session for the agent at all (never signed in to
    /// routing): there is no status to follow.
    #[error("the agent has no work session in Kustomer (never signed in to routing)")]
    NoWorkSession,
    /// A report too soon after the agent's last followed one: nothing was read.
    #[error("the agent's status was read moments ago; report again in {retry_after_s} s")]
    TooSoon { retry_after_s: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ccai(#[from] CcaiError),
    #[error(transparent)]
    Kustomer(#[from] KustomerError),
}

impl Retryable for StatusError {
    fn is_retryable(&self) -> bool {
        match self {
            StatusError::Store(e) => e.is_retryable(),
            StatusError::Ccai(e) => e.is_retryable(),
            StatusError::Kustomer(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// An agent's identity in both systems (R-S-3), cached at `AGENT#<email>/PROFILE`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentProfile {
    pub kustomer_user_id: String,
    pub ccai_agent_id: u64,
}

/// What the widget is told about a change: `outcome` (`applied`, `pending`,
/// `ignored_offline`, `already_there`, `superseded`, `failed`, `in_progress`, with their
/// fields) and `message`, a sentence naming what happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChangeOutcome {
    #[serde(flatten)]
    pub outcome: Outcome,
    pub message: String,
}

impl From<Outcome> for ChangeOutcome {
    fn from(outcome: Outcome) -> Self {
        Self {
            message: outcome.describe(),
            outcome,
        }
    }
}

/// Who converges an agent's state (a report's request, a login, a session end, the scheduled
/// run): each has an id of its own, so one waits for another's effect instead of racing it to
/// CCAI.
fn actor(kind: &str) -> String {
    format!("{kind}:{}", uuid::Uuid::new_v4().simple())
}

fn source_name(source: ChoiceSource) -> &'static str {
    match source {
        ChoiceSource::Report => "report",
        ChoiceSource::Login => "login",
        ChoiceSource::Scheduled => "scheduled",
        ChoiceSource::Reflected => "reflected",
    }
}

/// One round's decision.
enum Step {
    Record(Outcome),
    Effect(String),
}

/// What the CCAI call did.
enum Made {
    Set,
    /// Refused for the agent (it entered a session meanwhile).
    Refused,
    /// Failed; `true` when retrying cannot help (a 4xx).
    Failed(String, bool),
}

/// How long an e-mail found to be no agent is answered from memory (a new agent waits at most
/// this long after being added in CCAI Platform or Kustomer).
pub const UNKNOWN_AGENT_FOR: std::time::Duration = std::time::Duration::from_secs(300);

/// Rounds of read–decide–write before a converge gives up for now (each lost round means
/// someone else wrote; the scheduled run finishes what is left).
const MAX_ROUNDS: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    Acquired {
        lease_token: u64,
        expires_at: UnixMillis,
        applied_at_login: Option<ChangeOutcome>,
    },
    Held {
        held_by: String,
        expires_in_s: u64,
    },
}

/// What one agent's scheduled reconciliation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentReconciled {
    /// The outcome of following the agent's active work session (`None`: none to follow).
    pub followed: Option<Outcome>,
    /// What became of a choice that waited for a session's end.
    pub pending: Option<PendingOutcome>,
    /// The Kustomer status set in two-way mode.
    pub reflected: Option<String>,
}

#[derive(Default)]
struct Cache {
    mapping: Option<(Instant, Arc<StatusMapping>)>,
    /// Kustomer's own busy statuses (see `set_by_kustomer`).
    system_busy: Option<(Instant, Arc<std::collections::HashSet<String>>)>,
    profiles: HashMap<String, AgentProfile>,
}

pub struct StatusService {
    store: Arc<dyn StateStore>,
    ccai: Arc<CcaiClient>,
    kustomer: Arc<KustomerClient>,
    lease_for: Duration,
    /// The least time between two work-session reads an agent's own requests cause
    /// ([`report_gate::REPORT_INTERVAL`]; zero: no gate).
    report_interval: Duration,
    cache: Mutex<Cache>,
}

fn normalise(email: &str) -> String {
    email.trim().to_lowercase()
}

impl StatusService {
    pub fn new(
        store: Arc<dyn StateStore>,
        ccai: Arc<CcaiClient>,
        kustomer: Arc<KustomerClient>,
        lease_for: Duration,
    ) -> Self {
        Self {
            store,
            ccai,
            kustomer,
            lease_for,
            report_interval: report_gate::REPORT_INTERVAL,
            cache: Mutex::default(),
        }
    }

    /// With another interval between the work-session reads an agent's requests cause (zero
    /// turns the gate off: tests that play reports at chosen instants).
    pub fn with_report_interval(mut self, interval: Duration) -> Self {
        self.report_interval = interval;
        self
    }

    /// The Kustomer client (the status function asks it whether a signed-in user stands).
    pub fn kustomer(&self) -> &KustomerClient {
        &self.kustomer
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The mapping, from memory when fresh, else from `CONFIG/STATUS_MAP`.
    pub async fn mapping(&self, now: UnixMillis) -> Result<Arc<StatusMapping>, StatusError> {
        if let Some((loaded, mapping)) = &self.cache().mapping
            && loaded.elapsed() < MAPPING_TTL
        {
            return Ok(mapping.clone());
        }
        let stored = self.store.get(&ItemKey::config("STATUS_MAP"), now).await?;
        let mapping: StatusMapping = match stored {
            Some(item) => serde_json::from_value(item.body).map_err(|e| StoreError::Malformed {
                key: "CONFIG/STATUS_MAP".into(),
                reason: e.to_string(),
            })?,
            None => StatusMapping::default(),
        };
        let mapping = Arc::new(mapping);
        self.cache().mapping = Some((Instant::now(), mapping.clone()));
        Ok(mapping)
    }

    /// Saves the mapping (admin) and refreshes this container's copy.
    pub async fn save_mapping(&self, mapping: &StatusMapping) -> Result<(), StatusError> {
        let body =
            serde_json::to_value(mapping).map_err(|e| StatusError::Invalid(e.to_string()))?;
        self.store
            .put(&Item::new(ItemKey::config("STATUS_MAP"), body))
            .await?;
        self.cache().mapping = Some((Instant::now(), Arc::new(mapping.clone())));
        Ok(())
    }

    /// The agent's identity: memory, then the state store, then both platforms by e-mail
    /// (R-S-3), refusing shared users.
    pub async fn profile(&self, email: &str, now: UnixMillis) -> Result<AgentProfile, StatusError> {
        let email = normalise(email);
        if let Some(profile) = self.cache().profiles.get(&email) {
            return Ok(profile.clone());
        }
        let key = ItemKey::agent_profile(&email);
        let profile = match self.store.get(&key, now).await? {
            Some(item) => serde_json::from_value(item.body).map_err(|e| StoreError::Malformed {
                key: key.to_string(),
                reason: e.to_string(),
            })?,
            None => {
                // An e-mail found to be no agent is not looked up on both platforms again for a
                // few minutes: each lookup lists every CCAI agent (review S13).
                let unknown = ItemKey::agent_unknown(&email);
                if let Some(known) = self.store.get(&unknown, now).await? {
                    return Err(StatusError::UnknownAgent {
                        email: email.clone(),
                        detail: known.body["detail"]
                            .as_str()
                            .unwrap_or("not an agent")
                            .to_owned(),
                    });
                }
                match self.resolve_profile(&email, now).await {
                    Err(StatusError::UnknownAgent { email, detail }) => {
                        let remembered = Item::new(unknown, json!({ "detail": detail }))
                            .expiring_at(now.plus(UNKNOWN_AGENT_FOR));
                        self.store.put(&remembered).await?;
                        return Err(StatusError::UnknownAgent { email, detail });
                    }
                    other => other?,
                }
            }
        };
        self.cache().profiles.insert(email, profile.clone());
        Ok(profile)
    }

    async fn resolve_profile(
        &self,
        email: &str,
        now: UnixMillis,
    ) -> Result<AgentProfile, StatusError> {
        let users = self.kustomer.users_by_email(email).await?;
        let agents = self.ccai.agents_by_email(email).await?;
        let unknown = |detail: &str| StatusError::UnknownAgent {
            email: email.to_owned(),
            detail: detail.to_owned(),
        };
        let user = match users.as_slice() {
            [] => return Err(unknown("no Kustomer user has it")),
            [user] => user.id.clone(),
            _ => {
                return Err(StatusError::SharedUser(format!(
                    "{} Kustomer users share the e-mail {email}",
                    users.len()
                )));
            }
        };
        let agent = match agents.as_slice() {
            [] => return Err(unknown("no CCAI agent has it")),
            [agent] => agent.id,
            _ => {
                return Err(StatusError::SharedUser(format!(
                    "{} CCAI agents share the e-mail {email}",
                    agents.len()
                )));
            }
        };
        // One CCAI agent for one Kustomer user: a claim on the agent id catches a second user.
        let owner = Item::new(
            ItemKey::new(format!("CCAI_AGENT#{agent}"), "OWNER"),
            json!({"email": email}),
        );
        if let crate::store::PutOutcome::Kept(existing) =
            self.store.put_if_absent(&owner, now).await?
            && existing.body["email"] != email
        {
            return Err(StatusError::SharedUser(format!(
                "CCAI agent {agent} is already matched to another Kustomer user"
            )));
        }
        let profile = AgentProfile {
            kustomer_user_id: user,
            ccai_agent_id: agent,
        };
        let body =
            serde_json::to_value(&profile).map_err(|e| StatusError::Invalid(e.to_string()))?;
        self.store
            .put_if_absent(&Item::new(ItemKey::agent_profile(email), body), now)
            .await?;
        // The admin's agent list (`AGENTS` partition, one item per agent).
        self.store
            .put(&Item::new(
                ItemKey::new(AGENT_INDEX, email),
                json!({ "email": email }),
            ))
            .await?;
        Ok(profile)
    }

    async fn ccai_view(&self, agent_id: u64) -> Result<CcaiAgentView, StatusError> {
        let agent = self.ccai.agent(agent_id).await?;
        let status_id = agent.status.as_ref().and_then(|s| s.id);
        let status = agent
            .status
            .and_then(|s| s.name)
            .unwrap_or_else(|| "Offline".into());
        // When the status became current (not when it was chosen: R-S-5, rules.rs).
        let since = agent
            .status_updated_at
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| UnixMillis(t.timestamp_millis()));
        Ok(CcaiAgentView {
            online: agent.online.unwrap_or(true),
            status,
            status_id,
            since,
        })
    }

    /// `POST /agents/instances`.
    pub async fn claim(
        &self,
        email: &str,
        instance_id: &str,
        now: UnixMillis,
    ) -> Result<ClaimOutcome, StatusError> {
        let profile = self.profile(email, now).await?;
        let resource = ItemKey::agent_lease(email);
        match self
            .store
            .acquire_lease(&resource, instance_id, now, self.lease_for)
            .await?
        {
            LeaseAcquisition::Held(holder) => Ok(ClaimOutcome::Held {
                held_by: holder.owner,
                expires_in_s: now.until(holder.expires_at).as_secs().max(1),
            }),
            LeaseAcquisition::Acquired(lease) => {
                // The login read takes the agent's report turn: claiming again and again is
                // no way around the gate (a claim too soon after a read skips it; the next
                // report or the scheduled run reads instead).
                let applied_at_login = if self.mapping(now).await?.apply_at_login
                    && report_gate::take_turn(self.store.as_ref(), email, self.report_interval, now)
                        .await?
                        == Turn::Taken
                {
                    self.apply_at_login(email, &profile, now).await?
                } else {
                    None
                };
                Ok(ClaimOutcome::Acquired {
                    lease_token: lease.fencing_token,
                    expires_at: lease.expires_at,
                    applied_at_login,
                })
            }
        }
    }

    /// R-S-8: the agent's active Kustomer work session decides their CCAI status at login
    /// (the same read as any report's).
    async fn apply_at_login(
        &self,
        email: &str,
        profile: &AgentProfile,
        now: UnixMillis,
    ) -> Result<Option<ChangeOutcome>, StatusError> {
        let Some(session) = self
            .kustomer
            .active_work_session(&profile.kustomer_user_id)
            .await?
        else {
            return Ok(None);
        };
        match self
            .follow(email, profile, &session, ChoiceSource::Login, now)
            .await?
        {
            // An unmapped status at login is recorded for the agent, not a failed login.
            Some(Outcome::Unmapped { .. }) | None => Ok(None),
            Some(outcome) => Ok(Some(ChangeOutcome::from(outcome))),
        }
    }

    /// The agent's status as Kustomer records it now: their active work session, else —
    /// signed out of routing — their latest one, whose last status is an offline-type one.
    async fn current_record(
        &self,
        profile: &AgentProfile,
    ) -> Result<Option<WorkSession>, StatusError> {
        let user = &profile.kustomer_user_id;
        if let Some(active) = self.kustomer.active_work_session(user).await? {
            return Ok(Some(active));
        }
        Ok(self.kustomer.latest_work_session(user).await?)
    }

    /// Converges the agent to what one read of their work session found (R-S-4): the truth,
    /// whoever read it. `None` when the session names no status to follow — none at all, or a
    /// busy status Kustomer set by itself during a call (kustomer-api.md, H: a consequence of
    /// the call, not the agent's choice; the widget never reported those either).
    async fn follow(
        &self,
        email: &str,
        profile: &AgentProfile,
        session: &WorkSession,
        source: ChoiceSource,
        now: UnixMillis,
    ) -> Result<Option<Outcome>, StatusError> {
        let Some(choice) = Choice::from_work_session(session, source, now) else {
            return Ok(None);
        };
        // Only a busy session can be in Kustomer's own busy status: no other report pays for
        // the org's statuses.
        if session.attributes.status_type.as_deref() == Some("busy")
            && self.set_by_kustomer(&choice.kustomer_status_id).await?
        {
            return Ok(None);
        }
        self.converge(
            email,
            profile,
            &actor(source_name(source)),
            Some(choice),
            now,
            None,
        )
        .await
    }

    /// Whether `status_id` is one of Kustomer's own busy statuses (`system`, type `busy`):
    /// Kustomer sets it during a call, mapped or not (the widget never reported it either).
    /// The org's statuses are read once per [`ROUTING_STATUSES_TTL`] per container.
    async fn set_by_kustomer(&self, status_id: &str) -> Result<bool, StatusError> {
        let known = self
            .cache()
            .system_busy
            .as_ref()
            .filter(|(loaded, _)| loaded.elapsed() < ROUTING_STATUSES_TTL)
            .map(|(_, ids)| ids.clone());
        let ids = match known {
            Some(ids) => ids,
            None => {
                let ids: Arc<std::collections::HashSet<String>> = Arc::new(
                    self.kustomer
                        .routing_statuses()
                        .await?
                        .into_iter()
                        .filter(|s| {
                            s.attributes.system == Some(true)
                                && s.attributes.status_type.as_deref() == Some("busy")
                        })
                        .map(|s| s.id)
                        .collect(),
                );
                self.cache().system_busy = Some((Instant::now(), ids.clone()));
                ids
            }
        };
        Ok(ids.contains(status_id))
    }

    /// `PUT /agents/instances/{id}`.
    pub async fn renew(
        &self,
        email: &str,
        instance_id: &str,
        lease_token: u64,
        now: UnixMillis,
    ) -> Result<UnixMillis, StatusError> {
        let lease = Lease {
            resource: ItemKey::agent_lease(email),
            owner: instance_id.into(),
            fencing_token: lease_token,
            expires_at: now,
        };
        match self.store.renew_lease(&lease, now, self.lease_for).await {
            Ok(renewed) => Ok(renewed.expires_at),
            Err(StoreError::LeaseLost { holder, .. }) => Err(not_holder(holder.map(|h| *h), now)),
            Err(err) => Err(err.into()),
        }
    }

    /// `DELETE /agents/instances/{id}`: releasing a lease one does not hold is not an error.
    pub async fn release(
        &self,
        email: &str,
        instance_id: &str,
        lease_token: u64,
    ) -> Result<bool, StatusError> {
        let lease = Lease {
            resource: ItemKey::agent_lease(email),
            owner: instance_id.into(),
            fencing_token: lease_token,
            expires_at: UnixMillis(0),
        };
        Ok(self.store.release_lease(&lease).await?)
    }

    /// `POST /webhooks/kustomer/status` (R-S-1 … R-S-6, R-S-4): a tab says the agent's status
    /// may have changed. What it says the status is counts for nothing: the bridge reads the
    /// agent's active work session from Kustomer and converges CCAI to that. `None`: the
    /// session names nothing to follow (a status Kustomer set itself during a call). At most
    /// one report per agent per interval is followed ([`report_gate`]); one sooner is
    /// [`StatusError::TooSoon`], having read nothing.
    pub async fn report(
        &self,
        email: &str,
        now: UnixMillis,
    ) -> Result<Option<ChangeOutcome>, StatusError> {
        if let Turn::TooSoon { retry_after_s } =
            report_gate::take_turn(self.store.as_ref(), email, self.report_interval, now).await?
        {
            return Err(StatusError::TooSoon { retry_after_s });
        }
        let profile = self.profile(email, now).await?;
        let session = self
            .current_record(&profile)
            .await?
            .ok_or(StatusError::NoWorkSession)?;
        match self
            .follow(email, &profile, &session, ChoiceSource::Report, now)
            .await?
        {
            Some(Outcome::Unmapped {
                kustomer_status_id, ..
            }) => Err(StatusError::Unmapped(kustomer_status_id)),
            Some(outcome) => Ok(Some(ChangeOutcome::from(outcome))),
            None => Ok(None),
        }
    }

    /// Writes the agent's state back against the version it was read at.
    async fn write_state(
        &self,
        resource: &ItemKey,
        expected: u64,
        state: &AgentState,
    ) -> Result<bool, StatusError> {
        let value = serde_json::to_value(state).map_err(|e| StatusError::Invalid(e.to_string()))?;
        Ok(self.store.replace_state(resource, expected, &value).await?)
    }

    async fn read_agent_state(&self, resource: &ItemKey) -> Result<(AgentState, u64), StatusError> {
        Ok(match self.store.read_state(resource).await? {
            Some(read) => (AgentState::from_stored(&read.state), read.version),
            None => (AgentState::default(), 0),
        })
    }

    /// Brings CCAI to the agent's desired choice (offering `choice` first, if given): read the
    /// state, decide, write back against what was read; an effect is claimed (`in_flight`)
    /// before CCAI is called and recorded only after CCAI answered, and when a newer choice
    /// arrived meanwhile the maker of the effect converges again. Another actor's live effect
    /// is left to it: it converges to the newest choice after its own (issue 13).
    async fn converge(
        &self,
        email: &str,
        profile: &AgentProfile,
        me: &str,
        mut choice: Option<Choice>,
        now: UnixMillis,
        session_ended_at: Option<UnixMillis>,
    ) -> Result<Option<Outcome>, StatusError> {
        let resource = ItemKey::agent_lease(email);
        let mut mapping = self.mapping(now).await?;
        // The container's copy of the mapping may predate an admin's save (30 s): a status it
        // does not know is looked up once more before it is recorded as unmapped, for good.
        let mut mapping_reread = false;
        // The choice this call offered, once recorded: its outcome is what the caller is told.
        let mut offered: Option<u64> = None;
        let told = |outcome: Outcome, offered: Option<u64>| match offered {
            Some(seq) if outcome.seq() != seq => Outcome::Superseded {
                seq,
                reason: "a newer change".into(),
            },
            _ => outcome,
        };
        for _ in 0..MAX_ROUNDS {
            let (mut state, version) = self.read_agent_state(&resource).await?;
            let mut changed = false;
            if let Some(mine) = choice.clone() {
                match state.offer(mine) {
                    Offer::Older { newer_seq } => {
                        return Ok(Some(Outcome::Superseded {
                            seq: newer_seq,
                            reason: "a newer change".into(),
                        }));
                    }
                    Offer::Repeat => {}
                    // The record advances (stored at once, so an older read arriving later
                    // stays older); what to do is the desired choice's as before.
                    Offer::Advanced => {
                        if !self.write_state(&resource, version, &state).await? {
                            continue;
                        }
                        choice = None;
                        continue;
                    }
                    Offer::Taken => changed = true,
                }
            }
            let Some(desired) = state.desired.clone() else {
                return Ok(None);
            };
            // A choice recorded in shadow mode is set when the agent reports it again live (not
            // by the scheduled run: it may be days old).
            let shadowed_reported_live = choice.is_some() && self.ccai.writes();
            if let Some(outcome) = state.outcome.clone().filter(|o| o.seq() == desired.seq)
                && outcome.settled()
                && !(shadowed_reported_live && matches!(outcome, Outcome::Shadow { .. }))
            {
                return Ok(Some(told(
                    outcome,
                    offered.or(choice.as_ref().map(|_| desired.seq)),
                )));
            }
            if state.busy_for(me, now) {
                // Someone else's effect is in flight: record the choice, leave the effect to it.
                let outcome = Outcome::InProgress { seq: desired.seq };
                if changed {
                    state.outcome = Some(outcome.clone());
                    if !self.write_state(&resource, version, &state).await? {
                        continue;
                    }
                }
                return Ok(Some(outcome));
            }
            let view = self.ccai_view(profile.ccai_agent_id).await?;
            let seq = desired.seq;
            let decision = decide(&desired.kustomer_status_id, &mapping, &view);
            if decision == Decision::Unmapped && !mapping_reread {
                mapping_reread = true;
                self.cache().mapping = None;
                mapping = self.mapping(now).await?;
                continue;
            }
            let step = match decision {
                Decision::Apply(target) => match &state.outcome {
                    // A choice that waited for the agent's session: the priority rule (R-S-5).
                    Some(Outcome::Pending { seq: waited, .. }) if *waited == seq => {
                        match resolve_pending(&target, mapping.priority, &view, session_ended_at) {
                            PendingOutcome::Drop(reason) => {
                                Step::Record(Outcome::Superseded { seq, reason })
                            }
                            PendingOutcome::Wait | PendingOutcome::Apply(_) => Step::Effect(target),
                        }
                    }
                    _ => Step::Effect(target),
                },
                Decision::KeepPending(ccai_status) => {
                    let since = match &state.outcome {
                        Some(Outcome::Pending { seq: s, since, .. }) if *s == seq => *since,
                        _ => now,
                    };
                    Step::Record(Outcome::Pending {
                        seq,
                        ccai_status,
                        since,
                    })
                }
                Decision::IgnoreOffline(ccai_status) => {
                    Step::Record(Outcome::IgnoredOffline { seq, ccai_status })
                }
                Decision::AlreadyThere(ccai_status) => {
                    state.last_applied = Some(Applied {
                        kustomer_status_id: desired.kustomer_status_id.clone(),
                        ccai_status: ccai_status.clone(),
                        seq,
                        at: now,
                    });
                    Step::Record(Outcome::AlreadyThere { seq, ccai_status })
                }
                Decision::Unmapped => Step::Record(Outcome::Unmapped {
                    seq,
                    kustomer_status_id: desired.kustomer_status_id.clone(),
                }),
            };
            // Shadow mode (R-F-2): the status that would be set is recorded; nothing is sent.
            let step = match step {
                Step::Effect(target) if !self.ccai.writes() => Step::Record(Outcome::Shadow {
                    seq,
                    ccai_status: target,
                }),
                step => step,
            };
            match step {
                Step::Record(outcome) => {
                    state.outcome = Some(outcome.clone());
                    if state.in_flight.as_ref().is_some_and(|f| f.by == me) {
                        state.in_flight = None;
                    }
                    if self.write_state(&resource, version, &state).await? {
                        if choice.take().is_some() {
                            offered = Some(seq);
                        }
                        return Ok(Some(told(outcome, offered)));
                    }
                }
                Step::Effect(target) => {
                    state.in_flight = Some(InFlight {
                        by: me.to_owned(),
                        seq,
                        until: now.plus(IN_FLIGHT_FOR),
                        effect: Effect::Ccai,
                    });
                    if !self.write_state(&resource, version, &state).await? {
                        continue;
                    }
                    if choice.take().is_some() {
                        offered = Some(seq);
                    }
                    let made = match self
                        .ccai
                        .set_agent_status(&target, &[profile.ccai_agent_id])
                        .await
                    {
                        Err(err) => {
                            // Only a refusal of the request itself (a status CCAI does not
                            // know, say); a rotated token or an unreadable answer is retried.
                            let permanent = matches!(
                                err,
                                crate::ccai::CcaiError::Client {
                                    status: 400 | 404 | 422,
                                    ..
                                } | crate::ccai::CcaiError::NotFound { .. }
                            );
                            Made::Failed(err.to_string(), permanent)
                        }
                        Ok(results) => match results.iter().find(|r| !r.applied()) {
                            // The agent entered a session between our read and the change.
                            Some(refused) => {
                                tracing::info!(message = ?refused.message, "CCAI refused the change for the agent; pending");
                                Made::Refused
                            }
                            None => Made::Set,
                        },
                    };
                    let recorded = self
                        .record_effect(
                            &resource,
                            (state.clone(), version + 1),
                            me,
                            &desired,
                            &target,
                            &made,
                            now,
                        )
                        .await?;
                    if let Some(outcome) = recorded {
                        return Ok(Some(told(outcome, offered)));
                    }
                    // A newer choice arrived while CCAI was being changed: converge to it.
                }
            }
        }
        let (state, _) = self.read_agent_state(&resource).await?;
        Ok(state.outcome.map(|o| told(o, offered)))
    }

    /// Records what an effect did, against whatever the state is now (it is never lost: the
    /// effect happened). Answers the outcome when the choice it made is still the desired one,
    /// `None` when a newer choice arrived meanwhile.
    #[allow(clippy::too_many_arguments)]
    async fn record_effect(
        &self,
        resource: &ItemKey,
        claimed: (AgentState, u64),
        me: &str,
        made_for: &Choice,
        target: &str,
        made: &Made,
        now: UnixMillis,
    ) -> Result<Option<Outcome>, StatusError> {
        // First against the state the claim wrote (no read on the usual path), then re-read.
        let mut known = Some(claimed);
        loop {
            let (mut state, version) = match known.take() {
                Some(claimed) => claimed,
                None => self.read_agent_state(resource).await?,
            };
            if state.in_flight.as_ref().is_some_and(|f| f.by == me) {
                state.in_flight = None;
            }
            let seq = made_for.seq;
            let current = state.desired.as_ref().is_some_and(|d| d.seq == seq);
            let outcome = match made {
                Made::Set => {
                    state.last_applied = Some(Applied {
                        kustomer_status_id: made_for.kustomer_status_id.clone(),
                        ccai_status: target.to_owned(),
                        seq,
                        at: now,
                    });
                    Outcome::Applied {
                        seq,
                        ccai_status: target.to_owned(),
                    }
                }
                Made::Refused => Outcome::Pending {
                    seq,
                    ccai_status: target.to_owned(),
                    since: now,
                },
                Made::Failed(message, permanent) => Outcome::Failed {
                    seq,
                    ccai_status: target.to_owned(),
                    message: message.clone(),
                    permanent: *permanent,
                },
            };
            if current {
                state.outcome = Some(outcome.clone());
            } else if matches!(made, Made::Set)
                && state
                    .desired
                    .as_ref()
                    .zip(state.outcome.as_ref())
                    .is_some_and(|(d, o)| o.seq() == d.seq && o.settled())
            {
                // An older choice landed in CCAI after the newer one was settled (its effect
                // outlived its claim): the newer one's outcome no longer holds, so it is made
                // again — by the loop that made this one, or the next run (finding 12).
                state.outcome = None;
            }
            let value =
                serde_json::to_value(&state).map_err(|e| StatusError::Invalid(e.to_string()))?;
            if self.store.replace_state(resource, version, &value).await? {
                return Ok(current.then_some(outcome));
            }
        }
    }

    /// After a session (the session-end event for this agent, or the scheduled run): a choice
    /// that waited for it, failed, or was left by an effect that never finished is converged
    /// now (R-S-5, R-S-6). `session_ended_at`: when the agent's wrap-up ended, when known (the
    /// ESE Final event); it is what *latest wins* measures a later CCAI choice from.
    pub async fn session_ended(
        &self,
        email: &str,
        session_ended_at: Option<UnixMillis>,
        now: UnixMillis,
    ) -> Result<Option<PendingOutcome>, StatusError> {
        let resource = ItemKey::agent_lease(email);
        let (state, _) = self.read_agent_state(&resource).await?;
        let Some(desired) = state.desired else {
            return Ok(None);
        };
        if state
            .outcome
            .as_ref()
            .is_some_and(|o| o.seq() == desired.seq && o.settled())
        {
            return Ok(None);
        }
        let profile = self.profile(email, now).await?;
        let actor_id = actor("session-end");
        let outcome = self
            .converge(email, &profile, &actor_id, None, now, session_ended_at)
            .await?;
        Ok(outcome.map(|outcome| match outcome {
            Outcome::Applied { ccai_status, .. } => PendingOutcome::Apply(ccai_status),
            Outcome::Pending { .. } | Outcome::InProgress { .. } | Outcome::Failed { .. } => {
                PendingOutcome::Wait
            }
            other => PendingOutcome::Drop(other.describe()),
        }))
    }

    /// R-S-7, two-way mode (experimental): reflects the agent's current CCAI status into their
    /// active Kustomer work session through the reverse mapping. Never while a choice of the
    /// agent is pending, failed or in flight (the agent's choice stands), never the bridge's
    /// own last change, never a status already reflected. The Kustomer write is claimed like
    /// any effect; when the agent chose something while it was made, the agent's choice is put
    /// back. Returns the Kustomer status id set, if any.
    pub async fn reflect_ccai_status(
        &self,
        email: &str,
        now: UnixMillis,
    ) -> Result<Option<String>, StatusError> {
        let mapping = self.mapping(now).await?;
        // Shadow mode (R-F-2) writes nothing to Kustomer: no work session is set.
        if !mapping.two_way || !self.kustomer.writes() {
            return Ok(None);
        }
        let profile = self.profile(email, now).await?;
        let resource = ItemKey::agent_lease(email);
        let (mut state, version) = self.read_agent_state(&resource).await?;
        if state.in_flight.as_ref().is_some_and(|f| f.is_live(now)) {
            return Ok(None);
        }
        if let (Some(desired), Some(outcome)) = (&state.desired, &state.outcome)
            && outcome.seq() == desired.seq
            && !outcome.settled()
        {
            return Ok(None);
        }
        let view = self.ccai_view(profile.ccai_agent_id).await?;
        let ours = state.last_applied.as_ref().map(|a| a.ccai_status.as_str());
        let Some(target) = super::rules::reverse_change(&view, &mapping, ours).map(str::to_owned)
        else {
            return Ok(None);
        };
        if state.last_reflected.as_deref() == Some(view.status.as_str()) {
            return Ok(None);
        }
        let Some(session) = self
            .kustomer
            .active_work_session(&profile.kustomer_user_id)
            .await?
        else {
            // Not signed in to Kustomer routing: there is no status to set.
            return Ok(None);
        };
        let me = actor("reflect");
        if session.status_id() == Some(target.as_str()) {
            state.last_reflected = Some(view.status.clone());
            self.write_state(&resource, version, &state).await?;
            return Ok(Some(target));
        }
        state.in_flight = Some(InFlight {
            by: me.clone(),
            seq: state.seq,
            until: now.plus(IN_FLIGHT_FOR),
            effect: Effect::Kustomer,
        });
        if !self.write_state(&resource, version, &state).await? {
            // The agent chose something meanwhile: their choice stands.
            return Ok(None);
        }
        let claimed_seq = state.seq;
        let put = self
            .kustomer
            .set_work_session_status(&session.id, &target, session.attributes.rev)
            .await;
        loop {
            let (mut state, version) = self.read_agent_state(&resource).await?;
            if state.in_flight.as_ref().is_some_and(|f| f.by == me) {
                state.in_flight = None;
            }
            let newer = state.seq != claimed_seq;
            match &put {
                Ok(reflected) => {
                    state.last_reflected = Some(view.status.clone());
                    state.two_way_error = None;
                    // What Kustomer now records is the bridge's own doing, already true in
                    // CCAI: it becomes the desired choice, settled, so no later read of it is
                    // followed as the agent's (a read of it would bring CCAI back to it after
                    // the agent moved on there, review of issue 26).
                    if !newer
                        && let Some(mut choice) =
                            Choice::from_work_session(reflected, ChoiceSource::Reflected, now)
                        && state.desired.as_ref().is_none_or(|d| choice.is_after(d))
                    {
                        state.seq += 1;
                        choice.seq = state.seq;
                        state.outcome = Some(Outcome::AlreadyThere {
                            seq: choice.seq,
                            ccai_status: view.status.clone(),
                        });
                        state.last_applied = Some(Applied {
                            kustomer_status_id: choice.kustomer_status_id.clone(),
                            ccai_status: view.status.clone(),
                            seq: choice.seq,
                            at: now,
                        });
                        state.desired = Some(choice);
                    }
                }
                // Two-way sync is experimental: the update body is a guess (kustomer-api.md,
                // L). A refusal is kept where the admin's agent list shows it.
                Err(err @ KustomerError::Client { .. }) => {
                    state.two_way_error = Some(format!(
                        "Kustomer refused the work-session update (two-way sync is experimental: the update body is undocumented): {err}"
                    ));
                }
                Err(_) => {}
            }
            let value =
                serde_json::to_value(&state).map_err(|e| StatusError::Invalid(e.to_string()))?;
            if !self.store.replace_state(&resource, version, &value).await? {
                continue;
            }
            if newer {
                // The agent chose in Kustomer while the reflection was made (their request left
                // the effect to us). If the reflection overwrote their choice, put it back;
                // then bring CCAI to it.
                if put.is_ok()
                    && let Some(desired) = &state.desired
                    && let Ok(Some(session)) = self
                        .kustomer
                        .active_work_session(&profile.kustomer_user_id)
                        .await
                    && session.status_id() != Some(desired.kustomer_status_id.as_str())
                {
                    self.kustomer
                        .set_work_session_status(
                            &session.id,
                            &desired.kustomer_status_id,
                            session.attributes.rev,
                        )
                        .await?;
                }
                self.converge(email, &profile, &me, None, now, None).await?;
                return Ok(None);
            }
            break;
        }
        match put {
            Ok(_) => Ok(Some(target)),
            Err(err) => Err(err.into()),
        }
    }

    /// Every active work session of the org by Kustomer user id (the scheduled run's one
    /// paged read: a report a tab never sent is caught within a run, R-S-4).
    pub async fn active_work_sessions(&self) -> Result<HashMap<String, WorkSession>, StatusError> {
        let mut by_user: HashMap<String, WorkSession> = HashMap::new();
        let mut unowned = 0;
        for session in self.kustomer.active_work_sessions().await? {
            let Some(user) = session.user_id().map(str::to_owned) else {
                unowned += 1;
                continue;
            };
            let later = by_user.get(&user).is_none_or(|known| {
                known.attributes.signed_in_at < session.attributes.signed_in_at
            });
            if later {
                by_user.insert(user, session);
            }
        }
        if unowned > 0 {
            // That list records carry `relationships.user` is what following them rests on
            // (kustomer-api.md): without it nothing is followed, so it is said loudly.
            tracing::warn!(
                unowned,
                "active work sessions without a user: their agents are not followed this run"
            );
        }
        Ok(by_user)
    }

    /// One agent's reconciliation (the scheduled job): the agent's active work session, as
    /// `sessions` found it (or the signed-out one, read once), is followed; a choice left
    /// pending, failed or unfinished is converged; then two-way mode reflects the CCAI status.
    pub async fn reconcile_agent(
        &self,
        email: &str,
        sessions: &HashMap<String, WorkSession>,
        now: UnixMillis,
    ) -> Result<AgentReconciled, StatusError> {
        let profile = self.profile(email, now).await?;
        let (state, _) = self.read_agent_state(&ItemKey::agent_lease(email)).await?;
        let user = &profile.kustomer_user_id;
        // Not in the list: signed out of routing since the bridge's last read? Then their last
        // status is the signed-out session's (one read, once per sign-out).
        let record = match sessions.get(user) {
            Some(active) => Some(active.clone()),
            None if state.desired.as_ref().is_some_and(|d| !d.signed_out) => {
                self.kustomer.latest_work_session(user).await?
            }
            None => None,
        };
        // Only what Kustomer records after the agent's desired choice is followed here (what
        // is known already is the pending run's below). An agent the bridge has never followed
        // (no report, no login read) is taken over only with apply-at-login on (R-S-8): with
        // it off, their status is theirs to keep in CCAI until they use the widget. A known
        // agent's new shift is followed: signing in to routing with a status is a Kustomer
        // change like any other (R-S-1), and a first report of it that was lost is caught.
        let apply_at_login = self.mapping(now).await?.apply_at_login;
        let mut changes_status = false;
        let newer = record.filter(|session| {
            Choice::from_work_session(session, ChoiceSource::Scheduled, now).is_some_and(|read| {
                changes_status = state
                    .desired
                    .as_ref()
                    .is_none_or(|d| d.kustomer_status_id != read.kustomer_status_id);
                match &state.desired {
                    None => apply_at_login,
                    Some(desired) => read.is_after(desired),
                }
            })
        });
        // A followed record converged whatever was pending for the agent: no second pass.
        let (followed, pending) = match newer {
            Some(session) => (
                self.follow(email, &profile, &session, ChoiceSource::Scheduled, now)
                    .await?
                    .filter(|_| changes_status),
                None,
            ),
            None => (None, self.session_ended(email, None, now).await?),
        };
        let reflected = self.reflect_ccai_status(email, now).await?;
        Ok(AgentReconciled {
            followed,
            pending,
            reflected,
        })
    }

    /// The e-mail of the Kustomer user matched to a CCAI agent (R-S-3), when that agent has
    /// ever driven status sync; `None` for agents the bridge does not know.
    pub async fn email_for_ccai_agent(
        &self,
        agent_id: u64,
        now: UnixMillis,
    ) -> Result<Option<String>, StatusError> {
        let owner = self
            .store
            .get(
                &ItemKey::new(format!("CCAI_AGENT#{agent_id}"), "OWNER"),
                now,
            )
            .await?;
        Ok(owner.and_then(|item| item.body["email"].as_str().map(str::to_owned)))
    }

    /// Every known agent's e-mail (admin view).
    pub async fn agent_emails(&self, now: UnixMillis) -> Result<Vec<String>, StatusError> {
        Ok(self
            .store
            .list_partition(AGENT_INDEX, now)
            .await?
            .into_iter()
            .map(|item| item.key.sk)
            .collect())
    }

    /// The agent's sync state (admin view).
    pub async fn agent_state(&self, email: &str) -> Result<Option<Value>, StatusError> {
        let Some(read) = self.store.read_state(&ItemKey::agent_lease(email)).await? else {
            return Ok(None);
        };
        let state = AgentState::from_stored(&read.state);
        Ok(Some(json!({
            "lease_holder": read.lease.as_ref().map(|l| &l.owner),
            "lease_expires_at": read.lease.as_ref().map(|l| l.expires_at.to_iso()),
            "outcome": state.outcome.as_ref().map(Outcome::describe),
            "state": state,
        })))
    }
}

fn not_holder(holder: Option<Lease>, now: UnixMillis) -> StatusError {
    match holder {
        Some(holder) if holder.is_live(now) => StatusError::NotHolder {
            held_by: Some(holder.owner),
            expires_in_s: now.until(holder.expires_at).as_secs().max(1),
        },
        _ => StatusError::NotHolder {
            held_by: None,
            expires_in_s: 0,
        },
    }
}
