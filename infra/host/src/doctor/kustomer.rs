//! Kustomer, read only: the API key and the org's budget (`x-ratelimit-limit`, kustomer-api.md),
//! each read the bridge makes, the agents' users, and the sign-in app (the authorize page
//! accepts its client id and redirect URI). Writes are named, not tried.

use super::{Check, DoctorSettings};
use bridge_shared::config::KustomerSettings;
use bridge_shared::http::RetryPolicy;
use bridge_shared::kustomer::KustomerClient;

/// The reads the bridge makes, by what they are for.
const READS: [(&str, &str, &str); 3] = [
    (
        "kustomer.read_statuses",
        "/v1/routing/statuses",
        "routing statuses (the status mapping, R-S-2)",
    ),
    (
        "kustomer.read_work_sessions",
        "/v1/routing/work-sessions?active=true",
        "agents' work sessions (status from the truth, R-S-4)",
    ),
    (
        "kustomer.read_metadata",
        "/v1/metadata/customer",
        "custom attribute definitions (R-K-3, R-CF)",
    ),
];

struct Answer {
    status: u16,
    limit: Option<u32>,
}

async fn get(http: &reqwest::Client, base: &str, key: &str, path: &str) -> Result<Answer, String> {
    let answer = http
        .get(format!("{base}{path}"))
        .bearer_auth(key)
        .send()
        .await
        .map_err(|e| {
            format!(
                "Kustomer unreachable: {}",
                bridge_shared::redact::redact(&e.to_string())
            )
        })?;
    Ok(Answer {
        status: answer.status().as_u16(),
        limit: answer
            .headers()
            .get("x-ratelimit-limit")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok()),
    })
}

/// A Kustomer client for the settings' key, reads only (the doctor writes nothing).
pub fn client(settings: &DoctorSettings) -> Result<KustomerClient, String> {
    let (Some(base), Some(key)) = (
        settings.kustomer_base_url.as_deref(),
        settings.kustomer_api_key.clone(),
    ) else {
        return Err("KustomerBaseUrl and the secret kustomer-api-key are needed".into());
    };
    let http = bridge_shared::http::builder()
        .build()
        .map_err(|e| e.to_string())?;
    Ok(KustomerClient::new(
        &KustomerSettings {
            base_url: base.trim_end_matches('/').to_owned(),
            api_key: key,
        },
        http,
        RetryPolicy {
            max_attempts: 2,
            ..Default::default()
        },
    )
    .reading_only())
}

pub async fn checks(settings: &DoctorSettings, agent_emails: &[String]) -> Vec<Check> {
    let mut checks = Vec::new();
    let (Some(base), Some(key)) = (
        settings
            .kustomer_base_url
            .as_deref()
            .map(|b| b.trim_end_matches('/').to_owned()),
        settings.kustomer_api_key.clone(),
    ) else {
        checks.push(Check::fail(
            "kustomer.key",
            "Kustomer: API key",
            "KustomerBaseUrl or the secret kustomer-api-key is not given",
            "set KustomerBaseUrl (https://api.kustomerapp.com) and kustomer-api-key",
        ));
        return checks;
    };
    let http = match bridge_shared::http::builder().build() {
        Ok(http) => http,
        Err(err) => {
            checks.push(Check::fail(
                "kustomer.key",
                "Kustomer: API key",
                err.to_string(),
                "—",
            ));
            return checks;
        }
    };
    let first = get(&http, &base, key.expose(), "/v1/users?pageSize=1").await;
    let limit = match first {
        Ok(Answer { status: 200, limit }) => {
            checks.push(Check::pass(
                "kustomer.key",
                "Kustomer: API key",
                "Kustomer accepts the key (GET /v1/users)",
            ));
            limit
        }
        Ok(Answer { status, .. }) => {
            checks.push(Check::fail(
                "kustomer.key",
                "Kustomer: API key",
                format!("GET /v1/users answered {status}"),
                "make an API key for the bridge in Kustomer (docs/operations.md, kustomer-api-key) \
                 and put it in the secret kustomer-api-key",
            ));
            return checks;
        }
        Err(why) => {
            checks.push(Check::fail(
                "kustomer.key",
                "Kustomer: API key",
                why,
                "check KustomerBaseUrl (https://api.kustomerapp.com, or your region's)",
            ));
            return checks;
        }
    };
    let configured = settings
        .kustomer_requests_per_minute
        .unwrap_or(bridge_shared::config::KUSTOMER_REQUESTS_PER_MINUTE);
    checks.push(match limit {
        Some(limit) if configured > limit => Check::fail(
            "kustomer.budget",
            "Kustomer: the org's request budget",
            format!("the plan allows {limit} requests a minute; the bridge is set to {configured}"),
            format!(
                "set KUSTOMER_REQUESTS_PER_MINUTE to {limit} or less: above it, Kustomer's 429s \
                 slow every client of the org"
            ),
        ),
        Some(limit) => Check::pass(
            "kustomer.budget",
            "Kustomer: the org's request budget",
            format!(
                "the plan allows {limit} requests a minute; the bridge keeps under {configured}"
            ),
        ),
        None => Check::unchecked(
            "kustomer.budget",
            "Kustomer: the org's request budget",
            "Kustomer sent no x-ratelimit-limit",
            format!("the bridge keeps under {configured} a minute; check your plan's budget"),
        ),
    });
    for (id, path, what) in READS {
        checks.push(match get(&http, &base, key.expose(), path).await {
            Ok(Answer { status: 200, .. }) => Check::pass(
                id,
                "Kustomer: a read the bridge makes",
                format!("{what}: readable"),
            ),
            Ok(Answer { status, .. }) => Check::fail(
                id,
                "Kustomer: a read the bridge makes",
                format!(
                    "{what}: GET {} answered {status}",
                    path.split('?').next().unwrap_or(path)
                ),
                "give the key's user a role that may read it (org.admin and org.user)",
            ),
            Err(why) => Check::fail(
                id,
                "Kustomer: a read the bridge makes",
                why,
                "retry; check the network",
            ),
        });
    }
    checks.push(Check::unchecked(
        "kustomer.writes",
        "Kustomer: the writes the bridge makes",
        "customers, conversations, messages, notes, attachments, attribute definitions: not \
         tried (the check writes nothing)",
        "the first sessions show them: a refused write is a dead letter naming Kustomer's answer \
         (GET /admin/dead-letters)",
    ));
    checks.push(agents(&base, &key, agent_emails).await);
    checks.push(sign_in(settings, &http).await);
    checks
}

/// Agents whose Kustomer user is looked up (one request each).
const AGENTS_LOOKED_UP: usize = 50;

/// Each CCAI agent has exactly one Kustomer user with their e-mail (R-S-3).
async fn agents(base: &str, key: &bridge_shared::config::Secret, emails: &[String]) -> Check {
    const ID: &str = "kustomer.agents";
    const TITLE: &str = "Kustomer: a user for each CCAI agent";
    if emails.is_empty() {
        return Check::unchecked(
            ID,
            TITLE,
            "no CCAI agent was read",
            "fix the CCAI checks first",
        );
    }
    let Ok(http) = bridge_shared::http::builder().build() else {
        return Check::unchecked(ID, TITLE, "no HTTP client", "—");
    };
    let client = KustomerClient::new(
        &KustomerSettings {
            base_url: base.to_owned(),
            api_key: key.clone(),
        },
        http,
        RetryPolicy {
            max_attempts: 2,
            ..Default::default()
        },
    );
    let (mut none, mut shared) = (0, 0);
    // One lookup per agent, from the org's shared budget: a sample, not every agent.
    for email in emails.iter().take(AGENTS_LOOKED_UP) {
        match client.users_by_email(email).await {
            Ok(users) if users.is_empty() => none += 1,
            Ok(users) if users.len() > 1 => shared += 1,
            Ok(_) => {}
            Err(err) => {
                return Check::fail(ID, TITLE, err.to_string(), "the key must read users");
            }
        }
    }
    let checked = emails.len().min(AGENTS_LOOKED_UP);
    if none == 0 && shared == 0 {
        Check::pass(
            ID,
            TITLE,
            format!("{checked} agents, each with one Kustomer user"),
        )
    } else {
        Check::warn(
            ID,
            TITLE,
            format!(
                "{checked} agents: {none} with no Kustomer user of their e-mail, {shared} whose \
                 e-mail several users share"
            ),
            "an agent's status follows Kustomer only when one Kustomer user has their CCAI \
             e-mail (R-S-3): align the e-mails (GET /admin/agents lists who is followed)",
        )
    }
}

/// The sign-in app: its settings, and Kustomer's authorize page accepting its client id and
/// the bridge's redirect URI (an OAuth server refuses an unknown client or an unregistered
/// redirect before asking anyone: RFC 6749 §4.1.2.1).
async fn sign_in(settings: &DoctorSettings, http: &reqwest::Client) -> Check {
    const ID: &str = "kustomer.sign_in";
    const TITLE: &str = "Kustomer: agent sign-in (the app's OAuth client)";
    let (Some(client_id), Some(_secret)) = (
        settings.oauth_client_id.as_deref(),
        settings.oauth_client_secret.as_ref(),
    ) else {
        return Check::fail(
            ID,
            TITLE,
            "KustomerOAuthClientId or the secret kustomer-oauth-client-secret is not given: \
             agents cannot sign in, and their status does not follow",
            "register the Kustomer app (docs/widget.md), put its clientId in \
             KustomerOAuthClientId and its secret in kustomer-oauth-client-secret, deploy again",
        );
    };
    let authorize = match (&settings.oauth_authorize_url, &settings.kustomer_org) {
        (Some(url), _) => url.clone(),
        (None, Some(org)) => format!("https://{org}.kustomerapp.com/oauth/authorize"),
        (None, None) => {
            return Check::fail(
                ID,
                TITLE,
                "KustomerOrg is not given",
                "set KustomerOrg (acme for acme.kustomerapp.com)",
            );
        }
    };
    let Some(api_url) = settings.api_url.as_deref() else {
        return Check::unchecked(
            ID,
            TITLE,
            "the stack's ApiUrl is not given: the redirect URI is not known",
            "run with --api-url <ApiUrl> (scripts/doctor reads it from the stack)",
        );
    };
    let redirect = format!("{}/agents/sign-in/callback", api_url.trim_end_matches('/'));
    if !redirect.starts_with("https://") && !redirect.starts_with("http://127.0.0.1") {
        return Check::fail(
            ID,
            TITLE,
            format!("the redirect URI {redirect} is not https"),
            "use the stack's https ApiUrl (or BRIDGE_PUBLIC_URL on https)",
        );
    }
    let Ok(mut url) = reqwest::Url::parse(&authorize) else {
        return Check::fail(
            ID,
            TITLE,
            format!("{authorize} is not a URL"),
            "fix KUSTOMER_OAUTH_AUTHORIZE_URL",
        );
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", &redirect)
        .append_pair("state", "bridge-doctor")
        .append_pair("code_challenge", &"d".repeat(43))
        .append_pair("code_challenge_method", "S256");
    let no_redirects = bridge_shared::http::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|_| http.clone());
    match no_redirects.get(url).send().await {
        Ok(answer) if answer.status().is_client_error() => Check::fail(
            ID,
            TITLE,
            format!(
                "Kustomer's authorize page refused the client id and redirect URI ({})",
                answer.status().as_u16()
            ),
            format!(
                "KustomerOAuthClientId must be the installed app's clientId, and the app's \
                 redirectUris must hold {redirect} (kustomer-app/ccai-bridge.json)"
            ),
        ),
        Ok(answer) => Check::pass(
            ID,
            TITLE,
            format!(
                "Kustomer's authorize page takes the client id and {redirect} ({})",
                answer.status().as_u16()
            ),
        ),
        Err(err) => Check::fail(
            ID,
            TITLE,
            format!(
                "{authorize}: {}",
                bridge_shared::redact::redact(&err.to_string())
            ),
            "check KustomerOrg",
        ),
    }
}
