//! What the readiness check is given: the same settings and secrets as `scripts/deploy`
//! (`deploy/tenant.env` with the template's parameter names, `deploy/tenant.secrets` with the
//! SSM parameters' names), or the functions' own environment variables.

use bridge_shared::config::Secret;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Clone, Debug, Default)]
pub struct DoctorSettings {
    pub ccai_base_url: Option<String>,
    pub ccai_subdomain: Option<String>,
    pub ccai_api_token: Option<Secret>,
    pub kustomer_base_url: Option<String>,
    pub kustomer_api_key: Option<Secret>,
    /// The org's budget the bridge is told to keep under (`KUSTOMER_REQUESTS_PER_MINUTE`).
    pub kustomer_requests_per_minute: Option<u32>,
    pub kustomer_org: Option<String>,
    pub oauth_client_id: Option<String>,
    pub oauth_client_secret: Option<Secret>,
    /// The org's authorize page (a stand-in's when set; else from `kustomer_org`).
    pub oauth_authorize_url: Option<String>,
    pub storage_bucket: Option<String>,
    pub storage_prefix: String,
    pub storage_endpoint: Option<String>,
    pub storage_region: Option<String>,
    pub storage_access_key_id: Option<Secret>,
    pub storage_secret_access_key: Option<Secret>,
    /// `EXTERNAL_STORAGE_FILES` as written (default: all four types).
    pub storage_files: Option<String>,
    /// The stack's `ApiUrl` (a deployed stack's checks, and the sign-in's redirect URI).
    pub api_url: Option<String>,
    /// The admin API's token, for a deployed stack's health and dead letters.
    pub admin_token: Option<Secret>,
}

fn present(value: Option<&String>) -> Option<String> {
    value
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `NAME=value` lines; `#` comments and blank lines skipped.
pub fn read_pairs(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect())
}

impl DoctorSettings {
    /// From `scripts/deploy`'s files: the template's parameter names and the secrets' names.
    pub fn from_deploy_files(
        settings: &BTreeMap<String, String>,
        secrets: &BTreeMap<String, String>,
    ) -> Self {
        let setting = |name: &str| present(settings.get(name));
        let secret = |name: &str| present(secrets.get(name)).map(Secret::new);
        Self {
            ccai_base_url: setting("CcaiBaseUrl"),
            ccai_subdomain: setting("CcaiSubdomain"),
            ccai_api_token: secret("ccai-api-token"),
            kustomer_base_url: setting("KustomerBaseUrl"),
            kustomer_api_key: secret("kustomer-api-key"),
            // Not a template parameter (docs/configuration.md): the functions keep the default.
            kustomer_requests_per_minute: None,
            kustomer_org: setting("KustomerOrg"),
            oauth_client_id: setting("KustomerOAuthClientId"),
            oauth_client_secret: secret("kustomer-oauth-client-secret"),
            oauth_authorize_url: None,
            storage_bucket: setting("ExternalStorageBucket"),
            storage_prefix: setting("ExternalStoragePrefix").unwrap_or_default(),
            storage_endpoint: setting("ExternalStorageEndpoint"),
            storage_region: setting("ExternalStorageRegion"),
            storage_access_key_id: secret("external-storage-access-key-id"),
            storage_secret_access_key: secret("external-storage-secret-access-key"),
            storage_files: setting("ExternalStorageFiles"),
            api_url: setting("ApiUrl"),
            admin_token: secret("admin-token"),
        }
    }

    /// From the functions' own variables (`docs/configuration.md`), as `bridge-local serve`
    /// reads them; `BRIDGE_PUBLIC_URL` stands for the stack's `ApiUrl`.
    pub fn from_variables(vars: &BTreeMap<String, String>) -> Self {
        let var = |name: &str| present(vars.get(name));
        Self {
            ccai_base_url: var("CCAI_BASE_URL"),
            ccai_subdomain: var("CCAI_SUBDOMAIN"),
            ccai_api_token: var("CCAI_API_TOKEN").map(Secret::new),
            kustomer_base_url: var("KUSTOMER_BASE_URL"),
            kustomer_api_key: var("KUSTOMER_API_KEY").map(Secret::new),
            kustomer_requests_per_minute: var("KUSTOMER_REQUESTS_PER_MINUTE")
                .and_then(|v| v.parse().ok()),
            kustomer_org: var("KUSTOMER_ORG"),
            oauth_client_id: var("KUSTOMER_OAUTH_CLIENT_ID"),
            oauth_client_secret: var("KUSTOMER_OAUTH_CLIENT_SECRET").map(Secret::new),
            oauth_authorize_url: var("KUSTOMER_OAUTH_AUTHORIZE_URL"),
            storage_bucket: var("EXTERNAL_STORAGE_BUCKET"),
            storage_prefix: var("EXTERNAL_STORAGE_PREFIX").unwrap_or_default(),
            storage_endpoint: var("EXTERNAL_STORAGE_ENDPOINT"),
            storage_region: var("EXTERNAL_STORAGE_REGION"),
            storage_access_key_id: var("EXTERNAL_STORAGE_ACCESS_KEY_ID").map(Secret::new),
            storage_secret_access_key: var("EXTERNAL_STORAGE_SECRET_ACCESS_KEY").map(Secret::new),
            storage_files: var("EXTERNAL_STORAGE_FILES"),
            api_url: var("BRIDGE_PUBLIC_URL"),
            admin_token: var("ADMIN_TOKEN")
                .and_then(|t| t.split(',').next().map(str::trim).map(str::to_owned))
                .map(Secret::new),
        }
    }
}
