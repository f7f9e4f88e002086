//! CCAI Platform, read only: the API token, the user statuses the mapping targets, menus and
//! teams, and the agents (whose e-mails the Kustomer checks match to users).

use super::{Check, DoctorSettings};
use bridge_shared::ccai::{CcaiClient, CcaiError};
use bridge_shared::config::CcaiSettings;
use bridge_shared::http::RetryPolicy;
use std::collections::BTreeMap;

pub struct CcaiChecks {
    pub checks: Vec<Check>,
    /// The agents' e-mails, lower-cased (never printed).
    pub agent_emails: Vec<String>,
}

const TOKEN_FIX: &str = "in CCAI Platform, Settings › Developer Settings › API Credentials: make a \
     token for this subdomain and put it in the secret ccai-api-token (CcaiSubdomain is the API's \
     user)";

fn refused(err: &CcaiError) -> bool {
    matches!(
        err,
        CcaiError::Client {
            status: 401 | 403,
            ..
        }
    )
}

pub fn client(settings: &DoctorSettings) -> Result<CcaiClient, String> {
    let (Some(base_url), Some(subdomain), Some(token)) = (
        settings.ccai_base_url.clone(),
        settings.ccai_subdomain.clone(),
        settings.ccai_api_token.clone(),
    ) else {
        return Err("CcaiBaseUrl, CcaiSubdomain and the secret ccai-api-token are needed".into());
    };
    let http = bridge_shared::http::builder()
        .build()
        .map_err(|e| e.to_string())?;
    Ok(CcaiClient::new(
        &CcaiSettings {
            base_url: base_url.trim_end_matches('/').to_owned(),
            subdomain,
            api_token: token,
        },
        http,
        RetryPolicy {
            max_attempts: 2,
            ..Default::default()
        },
    ))
}

pub async fn checks(settings: &DoctorSettings) -> CcaiChecks {
    let mut checks = Vec::new();
    let client = match client(settings) {
        Ok(client) => client,
        Err(why) => {
            checks.push(Check::fail(
                "ccai.credentials",
                "CCAI Platform: API token",
                why,
                "set CcaiBaseUrl and CcaiSubdomain in the settings and ccai-api-token in the secrets",
            ));
            return CcaiChecks {
                checks,
                agent_emails: Vec::new(),
            };
        }
    };
    match client.check_credentials().await {
        Ok(()) => checks.push(Check::pass(
            "ccai.credentials",
            "CCAI Platform: API token",
            "the Manager API answers with this token",
        )),
        Err(err) => {
            let fix = if refused(&err) {
                TOKEN_FIX.to_owned()
            } else {
                "check CcaiBaseUrl (the tenant's host, e.g. https://acme.uc1.ccaiplatform.com)"
                    .to_owned()
            };
            checks.push(Check::fail(
                "ccai.credentials",
                "CCAI Platform: API token",
                err.to_string(),
                fix,
            ));
            return CcaiChecks {
                checks,
                agent_emails: Vec::new(),
            };
        }
    }
    match client.user_statuses().await {
        Ok(statuses) => {
            let mut by_name: BTreeMap<&str, usize> = BTreeMap::new();
            for status in &statuses {
                *by_name.entry(status.name.as_str()).or_default() += 1;
            }
            let shared: Vec<&str> = by_name
                .iter()
                .filter(|(_, n)| **n > 1)
                .map(|(name, _)| *name)
                .collect();
            if shared.is_empty() {
                checks.push(Check::pass(
                    "ccai.statuses",
                    "CCAI Platform: user statuses",
                    format!("{} statuses, every name its own", statuses.len()),
                ));
            } else {
                checks.push(Check::warn(
                    "ccai.statuses",
                    "CCAI Platform: user statuses",
                    format!(
                        "{} statuses; a name two statuses share: {}",
                        statuses.len(),
                        shared.join(", ")
                    ),
                    "CCAI sets an agent's status by name, so a shared name cannot be a mapping's \
                     target (the admin's mapping refuses it): rename one of them in CCAI Platform \
                     if agents should be set to it",
                ));
            }
        }
        Err(err) => checks.push(Check::fail(
            "ccai.statuses",
            "CCAI Platform: user statuses",
            err.to_string(),
            "the token needs to read user statuses (Manager API)",
        )),
    }
    match (client.menus().await, client.teams().await) {
        (Ok(menus), Ok(teams)) => checks.push(Check::pass(
            "ccai.menus_teams",
            "CCAI Platform: menus and teams",
            format!("{} menus, {} teams", menus.len(), teams.len()),
        )),
        (Err(err), _) | (_, Err(err)) => checks.push(Check::fail(
            "ccai.menus_teams",
            "CCAI Platform: menus and teams",
            err.to_string(),
            "the token needs to read menus and teams (conversation names, R-T)",
        )),
    }
    let agent_emails = match client.agents().await {
        Ok(agents) => {
            let emails: Vec<String> = agents
                .iter()
                .filter_map(|a| a.email.as_deref())
                .map(|e| e.trim().to_lowercase())
                .filter(|e| !e.is_empty())
                .collect();
            let without = agents.len() - emails.len();
            checks.push(if without == 0 {
                Check::pass(
                    "ccai.agents",
                    "CCAI Platform: agents",
                    format!("{} agents, each with an e-mail", agents.len()),
                )
            } else {
                Check::warn(
                    "ccai.agents",
                    "CCAI Platform: agents",
                    format!("{} agents, {without} without an e-mail", agents.len()),
                    "an agent is matched to their Kustomer user by e-mail (R-S-3): give each one",
                )
            });
            emails
        }
        Err(err) => {
            checks.push(Check::fail(
                "ccai.agents",
                "CCAI Platform: agents",
                err.to_string(),
                "the token needs to read agents",
            ));
            Vec::new()
        }
    };
    CcaiChecks {
        checks,
        agent_emails,
    }
}
