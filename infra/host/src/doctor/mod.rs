//! The readiness check (issue 28, R-F): before a tenant switches to the bridge, everything it
//! will rely on is tried for real — CCAI Platform's credentials, statuses and agents, the
//! tenant's bucket and what is in it, Kustomer's key, its reads and budget, the sign-in app,
//! and a deployed stack's endpoints — each a ✔, a ⚠ or a ✖ with what was found and the fix.
//! Nothing is written to either platform.
//!
//! `bridge-local doctor` (the functions' variables, or `--settings`/`--secrets` as
//! `scripts/deploy` reads them; `scripts/doctor` for a deployed stack). The report is printed
//! and written to `doctor-report.html`.

pub mod ccai;
pub mod kustomer;
pub mod render;
pub mod settings;
pub mod stack;
pub mod storage;

pub use settings::DoctorSettings;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Works, with something to know (a status name two statuses share).
    Warn,
    Fail,
    /// Not tried: what it needs was not given, or it cannot be tried without writing.
    Unchecked,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// `ccai.credentials`, `storage.types`, …: stable, for tests and scripts.
    pub id: &'static str,
    pub title: &'static str,
    pub verdict: Verdict,
    /// What was found (no secret, no phone number or e-mail).
    pub found: String,
    /// What to do, for anything but a pass.
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(id: &'static str, title: &'static str, found: impl Into<String>) -> Self {
        Self {
            id,
            title,
            verdict: Verdict::Pass,
            found: found.into(),
            fix: None,
        }
    }

    pub fn fail(
        id: &'static str,
        title: &'static str,
        found: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            id,
            title,
            verdict: Verdict::Fail,
            found: found.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn warn(
        id: &'static str,
        title: &'static str,
        found: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            verdict: Verdict::Warn,
            ..Self::fail(id, title, found, fix)
        }
    }

    pub fn unchecked(
        id: &'static str,
        title: &'static str,
        why: impl Into<String>,
        to_check: impl Into<String>,
    ) -> Self {
        Self {
            verdict: Verdict::Unchecked,
            ..Self::fail(id, title, why, to_check)
        }
    }
}

/// Every check, in order.
pub async fn run(settings: &DoctorSettings) -> Vec<Check> {
    let mut checks = Vec::new();
    let ccai = ccai::checks(settings).await;
    let agents_emails = ccai.agent_emails.clone();
    checks.extend(ccai.checks);
    checks.extend(kustomer::checks(settings, &agents_emails).await);
    checks.extend(storage::checks(settings).await);
    checks.extend(stack::checks(settings).await);
    checks
}

/// Whether the tenant is ready: nothing failed.
pub fn ready(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.verdict != Verdict::Fail)
}
