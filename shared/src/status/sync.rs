//! The status service behind the status function (events.md §2): agent-tab leases, identity,
//! status changes.
//!
//! Hot path of a change: mapping and identity from the in-process cache (loaded from the state
//! store once per container), one CCAI read of the agent, one conditional write to the agent's
//! lease item (lease held + not older, both checked by that write), then the CCAI change.

use super::mapping::StatusMapping;
use super::rules::{CcaiAgentView, Decision, Pending, PendingOutcome, decide, resolve_pending};
use crate::UnixMillis;
use crate::ccai::{CcaiClient, CcaiError};
use crate::kustomer::{KustomerClient, KustomerError};
use crate::retry::Retryable;
use crate::store::{GuardedWrite, Item, ItemKey, Lease, LeaseAcquisition, StateStore, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a claimed lease lives without renewal (R-S-4), unless configured otherwise.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// The partition listing every agent whose identity the bridge has resolved.
pub const AGENT_INDEX: &str = "AGENTS";
/// How long the mapping is served from memory before it is read again.
const MAPPING_TTL: Duration = Duration::from_secs(30);

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

/// A status change reported by the agent's tab.
#[derive(Clone, Debug, Deserialize)]
pub struct StatusChange {
    pub email: String,
    pub instance_id: String,
    pub lease_token: u64,
    pub status_id: String,
    #[serde(default)]
    pub status_name: Option<String>,
    pub changed_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ChangeOutcome {
    Applied {
        ccai_status: String,
    },
    Pending {
        ccai_status: String,
    },
    IgnoredOffline {
        ccai_status: String,
    },
    AlreadyThere {
        ccai_status: String,
    },
    /// Older than the last change applied (R-S-6): dropped.
    Stale,
}

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

#[derive(Default)]
struct Cache {
    mapping: Option<(Instant, Arc<StatusMapping>)>,
    profiles: HashMap<String, AgentProfile>,
}

pub struct StatusService {
    store: Arc<dyn StateStore>,
    ccai: Arc<CcaiClient>,
    kustomer: Arc<KustomerClient>,
    lease_for: Duration,
    cache: Mutex<Cache>,
}

fn normalise(email: &str) -> String {
    email.trim().to_lowercase()
}

fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn millis(at: &chrono::DateTime<chrono::Utc>) -> UnixMillis {
    UnixMillis(at.timestamp_millis())
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
            cache: Mutex::default(),
        }
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
            None => self.resolve_profile(&email, now).await?,
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
        // The platform's own default after a session is Available; any other status with a
        // timestamp is treated as the agent's choice (R-S-5).
        let chosen_at = agent
            .status_updated_at
            .filter(|_| !status.eq_ignore_ascii_case("Available"))
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| UnixMillis(t.timestamp_millis()));
        Ok(CcaiAgentView {
            online: agent.online.unwrap_or(true),
            status,
            status_id,
            chosen_at,
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
                let applied_at_login = if self.mapping(now).await?.apply_at_login {
                    self.apply_at_login(&lease, &profile, now).await?
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

    /// R-S-8: the agent's active Kustomer work session decides their CCAI status at login.
    async fn apply_at_login(
        &self,
        lease: &Lease,
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
        let Some(status_id) = session.status_id().map(str::to_owned) else {
            return Ok(None);
        };
        match self.apply(lease, profile, &status_id, now, now).await {
            Ok(outcome) => Ok(Some(outcome)),
            // An unmapped status at login is recorded for the agent, not a failed login.
            Err(StatusError::Unmapped(_)) => Ok(None),
            Err(err) => Err(err),
        }
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

    /// `POST /webhooks/kustomer/status` (R-S-1 … R-S-6).
    pub async fn change(
        &self,
        change: &StatusChange,
        now: UnixMillis,
    ) -> Result<ChangeOutcome, StatusError> {
        if change.email.trim().is_empty() {
            return Err(StatusError::Invalid("email is required".into()));
        }
        let profile = self.profile(&change.email, now).await?;
        let lease = Lease {
            resource: ItemKey::agent_lease(&change.email),
            owner: change.instance_id.clone(),
            fencing_token: change.lease_token,
            expires_at: now,
        };
        self.apply(
            &lease,
            &profile,
            &change.status_id,
            millis(&change.changed_at),
            now,
        )
        .await
    }

    async fn apply(
        &self,
        lease: &Lease,
        profile: &AgentProfile,
        status_id: &str,
        changed_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<ChangeOutcome, StatusError> {
        let mapping = self.mapping(now).await?;
        let version = u64::try_from(changed_at.0).unwrap_or(0);
        let view = self.ccai_view(profile.ccai_agent_id).await?;
        let decision = decide(status_id, &mapping, &view);
        let record = |fields_: Value| fields(fields_);
        let (state, outcome) = match &decision {
            Decision::Unmapped => (
                record(
                    json!({"last_error": format!("Kustomer status {status_id} is not mapped"), "last_change_at": changed_at.to_iso()}),
                ),
                None,
            ),
            Decision::IgnoreOffline(target) => (
                record(
                    json!({"ignored": {"ccai_status": target, "reason": "agent offline in CCAI", "at": changed_at.to_iso()}, "last_change_at": changed_at.to_iso()}),
                ),
                Some(ChangeOutcome::IgnoredOffline {
                    ccai_status: target.clone(),
                }),
            ),
            Decision::KeepPending(target) => {
                let pending = Pending {
                    kustomer_status_id: status_id.into(),
                    ccai_status: target.clone(),
                    changed_at,
                };
                (
                    record(json!({"pending": pending, "last_change_at": changed_at.to_iso()})),
                    Some(ChangeOutcome::Pending {
                        ccai_status: target.clone(),
                    }),
                )
            }
            Decision::AlreadyThere(target) => (
                record(
                    json!({"pending": null, "last_applied": {"kustomer_status_id": status_id, "ccai_status": target, "at": changed_at.to_iso()}, "last_change_at": changed_at.to_iso(), "last_reflected": null}),
                ),
                Some(ChangeOutcome::AlreadyThere {
                    ccai_status: target.clone(),
                }),
            ),
            Decision::Apply(target) => (
                record(
                    json!({"pending": null, "last_applied": {"kustomer_status_id": status_id, "ccai_status": target, "at": changed_at.to_iso()}, "last_error": null, "last_change_at": changed_at.to_iso(), "last_reflected": null}),
                ),
                Some(ChangeOutcome::Applied {
                    ccai_status: target.clone(),
                }),
            ),
        };
        match self
            .store
            .write_as_holder(lease, now, version, &state)
            .await?
        {
            GuardedWrite::Written => {}
            GuardedWrite::Stale { .. } => return Ok(ChangeOutcome::Stale),
            GuardedWrite::NotHolder(holder) => return Err(not_holder(holder, now)),
        }
        let Some(outcome) = outcome else {
            return Err(StatusError::Unmapped(status_id.into()));
        };
        if let ChangeOutcome::Applied { ccai_status } = &outcome {
            let results = match self
                .ccai
                .set_agent_status(ccai_status, &[profile.ccai_agent_id])
                .await
            {
                Ok(results) => results,
                Err(err) => {
                    self.record(lease, now, version, json!({"last_error": err.to_string()}))
                        .await?;
                    return Err(err.into());
                }
            };
            if let Some(refused) = results.iter().find(|r| !r.applied()) {
                // The agent entered a session between our read and the change: keep it pending.
                let pending = Pending {
                    kustomer_status_id: status_id.into(),
                    ccai_status: ccai_status.clone(),
                    changed_at,
                };
                let message = refused.message.clone().unwrap_or_default();
                self.record(
                    lease,
                    now,
                    version,
                    json!({"pending": pending, "last_applied": null, "last_error": message}),
                )
                .await?;
                return Ok(ChangeOutcome::Pending {
                    ccai_status: ccai_status.clone(),
                });
            }
        }
        Ok(outcome)
    }

    async fn record(
        &self,
        lease: &Lease,
        now: UnixMillis,
        version: u64,
        value: Value,
    ) -> Result<(), StatusError> {
        match self
            .store
            .write_as_holder(lease, now, version, &fields(value))
            .await?
        {
            GuardedWrite::NotHolder(holder) => Err(not_holder(holder, now)),
            GuardedWrite::Written | GuardedWrite::Stale { .. } => Ok(()),
        }
    }

    /// After a session (the session-end event for this agent, or reconciliation): applies or
    /// drops the agent's pending change (R-S-5, R-S-6). Needs no lease: it writes only if
    /// nobody wrote the state in between.
    pub async fn session_ended(
        &self,
        email: &str,
        now: UnixMillis,
    ) -> Result<Option<PendingOutcome>, StatusError> {
        let resource = ItemKey::agent_lease(email);
        let Some(current) = self.store.read_state(&resource).await? else {
            return Ok(None);
        };
        let Some(pending) = current
            .state
            .get("pending")
            .filter(|p| !p.is_null())
            .cloned()
        else {
            return Ok(None);
        };
        let pending: Pending =
            serde_json::from_value(pending).map_err(|e| StoreError::Malformed {
                key: resource.to_string(),
                reason: e.to_string(),
            })?;
        let profile = self.profile(email, now).await?;
        let mapping = self.mapping(now).await?;
        let view = self.ccai_view(profile.ccai_agent_id).await?;
        let outcome = resolve_pending(&pending, mapping.priority, &view);
        let mut state = match current.state.clone() {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        match &outcome {
            PendingOutcome::Wait => return Ok(Some(outcome)),
            PendingOutcome::Drop(reason) => {
                state.insert("pending".into(), Value::Null);
                state.insert(
                    "ignored".into(),
                    json!({"ccai_status": pending.ccai_status, "reason": reason, "at": now.to_iso()}),
                );
            }
            PendingOutcome::Apply(target) => {
                let results = self
                    .ccai
                    .set_agent_status(target, &[profile.ccai_agent_id])
                    .await?;
                if results.iter().any(|r| !r.applied()) {
                    return Ok(Some(PendingOutcome::Wait));
                }
                state.insert("pending".into(), Value::Null);
                state.insert("last_applied".into(), json!({"kustomer_status_id": pending.kustomer_status_id, "ccai_status": target, "at": now.to_iso()}));
            }
        }
        // Lost to a concurrent write: that writer's state stands; the next look resolves it.
        self.store
            .replace_state(
                &resource,
                current.version,
                current.version,
                &Value::Object(state),
            )
            .await?;
        Ok(Some(outcome))
    }

    /// R-S-7, two-way mode: reflects the agent's current CCAI status into their active Kustomer
    /// work session through the reverse mapping. Never echoes the bridge's own last change, a
    /// system status, or a status already reflected; the tab's report of the resulting Kustomer
    /// change maps back to the CCAI status the agent already has, so nothing loops. Returns the
    /// Kustomer status id set, if any.
    pub async fn reflect_ccai_status(
        &self,
        email: &str,
        now: UnixMillis,
    ) -> Result<Option<String>, StatusError> {
        let mapping = self.mapping(now).await?;
        if !mapping.two_way {
            return Ok(None);
        }
        let profile = self.profile(email, now).await?;
        let view = self.ccai_view(profile.ccai_agent_id).await?;
        let resource = ItemKey::agent_lease(email);
        let current = self.store.read_state(&resource).await?;
        let (state, version) = match &current {
            Some(current) => (current.state.clone(), current.version),
            None => (Value::Null, 0),
        };
        let ours = state
            .get("last_applied")
            .and_then(|a| a.get("ccai_status"))
            .and_then(Value::as_str);
        let Some(target) = super::rules::reverse_change(&view, &mapping, ours) else {
            return Ok(None);
        };
        if state.get("last_reflected").and_then(Value::as_str) == Some(view.status.as_str()) {
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
        let mut updated = match state {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        if session.status_id() != Some(target) {
            match self
                .kustomer
                .set_work_session_status(&session.id, target)
                .await
            {
                Ok(_) => {}
                // Two-way sync is experimental: the update body is a guess (kustomer-api.md,
                // L). A refusal is kept where the admin's agent list shows it.
                Err(err @ KustomerError::Client { .. }) => {
                    updated.insert(
                        "two_way_error".into(),
                        json!(format!(
                            "Kustomer refused the work-session update (two-way sync is experimental: the update body is undocumented): {err}"
                        )),
                    );
                    self.store
                        .replace_state(&resource, version, version, &Value::Object(updated))
                        .await?;
                    return Err(err.into());
                }
                Err(err) => return Err(err.into()),
            }
        }
        updated.remove("two_way_error");
        updated.insert("last_reflected".into(), json!(view.status));
        // Losing this race only means the reflection is recorded by the next look.
        self.store
            .replace_state(&resource, version, version, &Value::Object(updated))
            .await?;
        Ok(Some(target.to_owned()))
    }

    /// One agent's reconciliation (the scheduled job and session-end events call this): a
    /// pending change is resolved, then two-way mode reflects the CCAI status.
    pub async fn reconcile_agent(
        &self,
        email: &str,
        now: UnixMillis,
    ) -> Result<(Option<PendingOutcome>, Option<String>), StatusError> {
        let pending = self.session_ended(email, now).await?;
        let reflected = self.reflect_ccai_status(email, now).await?;
        Ok((pending, reflected))
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
        let Some(state) = self.store.read_state(&ItemKey::agent_lease(email)).await? else {
            return Ok(None);
        };
        Ok(Some(json!({
            "lease_holder": state.lease.as_ref().map(|l| &l.owner),
            "lease_expires_at": state.lease.as_ref().map(|l| l.expires_at.to_iso()),
            "state": state.state,
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
