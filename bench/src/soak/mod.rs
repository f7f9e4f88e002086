//! The soak (issue 25, product.md R-P-1, R-SEC-4): a seeded plan of sessions of every kind is
//! played twice through the whole function set — once with every fault of the platforms'
//! edges and of the functions themselves, once without (the oracle) — and the two end states
//! are compared entry by entry; the faulty run's invariants are checked on their own, and every
//! log line is searched for the run's numbers, e-mails and secrets.

pub mod cutoff;
pub mod faults;
pub mod invariants;
pub mod logs;
pub mod plan;
pub mod snapshot;
pub mod tenant;

use faults::Faults;
use plan::Plan;
use snapshot::Difference;
use tenant::{RunStats, Tenant};

#[derive(Clone, Debug)]
pub struct Settings {
    pub sessions: usize,
    pub agents: usize,
    pub seed: u64,
    pub faults: Faults,
    /// Stream batches of one function processed at once (ParallelizationFactor).
    pub lanes: usize,
    /// The Kustomer org's budget (the sandbox enforces it; the bridge paces under it).
    pub kustomer_per_minute: u32,
}

impl Settings {
    pub fn new(sessions: usize, seed: u64) -> Self {
        Self {
            sessions,
            agents: 6,
            seed,
            faults: Faults::all(),
            lanes: 4,
            kustomer_per_minute: 2000,
        }
    }
}

pub struct Outcome {
    pub plan: Plan,
    pub differences: Vec<Difference>,
    /// The faulty run's invariant violations.
    pub violations: Vec<String>,
    /// The oracle must hold them too (else the comparison proves little).
    pub oracle_violations: Vec<String>,
    pub oracle: RunStats,
    pub faulty: RunStats,
    pub sessions: usize,
    /// The faulty run's dead letters as the admin reads them (`GET /admin/dead-letters`), one
    /// JSON line each: searched for secrets like the logs (R-SEC-4).
    pub dead_letters: Vec<String>,
}

async fn run_one(plan: &Plan, faults: Faults, settings: &Settings) -> Result<Tenant, String> {
    let mut tenant =
        Tenant::start(plan, faults, settings.lanes, settings.kustomer_per_minute).await?;
    tenant.play(plan).await?;
    Ok(tenant)
}

/// Both runs side by side in one process, then the comparison and the invariants.
pub async fn run(settings: &Settings) -> Result<Outcome, String> {
    let plan = Plan::generate(settings.seed, settings.sessions, settings.agents);
    let (oracle, faulty) = tokio::join!(
        run_one(&plan, Faults::none(), settings),
        run_one(&plan, settings.faults, settings)
    );
    let (oracle, faulty) = (oracle?, faulty?);
    let differences = snapshot::compare(&snapshot::snapshot(&oracle), &snapshot::snapshot(&faulty));
    let violations = invariants::check(&faulty).await;
    let dead_letters = bridge_shared::stream::failures::dead_letters(
        faulty.store.as_ref(),
        bridge_shared::UnixMillis::now(),
    )
    .await
    .unwrap_or_default()
    .iter()
    .filter_map(|letter| serde_json::to_string(letter).ok())
    .collect();
    let oracle_violations = invariants::check(&oracle).await;
    let (oracle_stats, faulty_stats) = (oracle.stats.clone(), faulty.stats.clone());
    let sessions = faulty.sessions.len();
    oracle.drop_table().await;
    faulty.drop_table().await;
    Ok(Outcome {
        sessions,
        dead_letters,
        plan,
        differences,
        violations,
        oracle_violations,
        oracle: oracle_stats,
        faulty: faulty_stats,
    })
}

/// Every secret of a run: the callers' numbers, the agents' e-mails, the tokens and keys.
pub fn secrets(plan: &Plan) -> Vec<logs::Secret> {
    use logs::Secret;
    let mut out = Vec::new();
    let mut phones = plan.phones.clone();
    phones.push("+15550109999".into()); // in a customer's comment
    for phone in &phones {
        for value in logs::phone_spellings(phone) {
            out.push(Secret {
                kind: "phone number",
                value,
            });
        }
    }
    for agent in 0..plan.agents {
        for value in logs::email_spellings(&plan.agent_email(agent)) {
            out.push(Secret {
                kind: "e-mail",
                value,
            });
        }
    }
    let basic =
        bridge_shared::signature::basic_header(tenant::EVENTS_USER, tenant::EVENTS_PASSWORD);
    let tokens = [
        ("ESE password", tenant::EVENTS_PASSWORD.to_owned()),
        (
            "ESE Basic credential",
            basic.trim_start_matches("Basic ").to_owned(),
        ),
        ("admin token", tenant::ADMIN_TOKEN.to_owned()),
        (
            "Kustomer API key",
            bridge_tests::kustomer_sandbox::SandboxOptions::default().api_key,
        ),
        (
            "CCAI API token",
            bridge_tests::ccai_sandbox::CcaiSandboxOptions::default().api_token,
        ),
    ];
    for (kind, value) in tokens {
        out.push(Secret {
            kind,
            value: value.clone(),
        });
        out.push(Secret {
            kind,
            value: percent_encode(&value),
        });
    }
    out
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

impl Outcome {
    /// Seconds from each session's end to complete in Kustomer (complete sessions only).
    pub fn completion_seconds(stats: &RunStats) -> Vec<f64> {
        stats
            .completion
            .iter()
            .flatten()
            .map(std::time::Duration::as_secs_f64)
            .collect()
    }

    /// The report: figures of both runs, the faults played, every difference and violation.
    pub fn report(&self, settings: &Settings) -> String {
        let mut out = String::new();
        let mut line = |text: String| {
            out.push_str(&text);
            out.push('\n');
        };
        line(format!(
            "soak: seed {} · {} steps → {} sessions · {} agents · {} lanes · Kustomer budget {}/min",
            settings.seed,
            settings.sessions,
            self.sessions,
            settings.agents,
            settings.lanes,
            settings.kustomer_per_minute
        ));
        line(format!("faults: {}", settings.faults.describe()));
        for (name, stats) in [
            ("without faults", &self.oracle),
            ("with faults", &self.faulty),
        ] {
            let latency = Self::completion_seconds(stats);
            let n = self.sessions.max(1) as f64;
            line(format!(
                "{name}: {:.0} s, {:.2} sessions/s; completion after the session's end p50 {:.1} s, p99 {:.1} s, max {:.1} s ({} of {} complete); per session: Kustomer {:.2} requests ({} × 429), CCAI {:.2} ({} × 429), store reads {:.1}, writes {:.1}",
                stats.elapsed.as_secs_f64(),
                n / stats.elapsed.as_secs_f64().max(0.001),
                percentile(&latency, 0.5),
                percentile(&latency, 0.99),
                percentile(&latency, 1.0),
                latency.len(),
                self.sessions,
                stats.kustomer_requests as f64 / n,
                stats.kustomer_429,
                stats.ccai_requests as f64 / n,
                stats.ccai_429,
                stats.store_reads as f64 / n,
                stats.store_writes as f64 / n,
            ));
        }
        let f = &self.faulty;
        line(format!(
            "faults played: ESE events sent {} (dropped {}, duplicated {}, late {}; waves reordered {}); pushes lost {}, duplicated {}, outages {}; files late {}; Manager API lists churned {} sessions; invocations cut off {} (chosen {}) of {}; Kustomer {:?}; CCAI {:?}; stream dead letters {}; replayed {}; settle rounds {}",
            f.events_sent,
            f.events_dropped,
            f.events_duplicated,
            f.events_late,
            f.waves_reordered,
            f.pushes_lost,
            f.pushes_duplicated,
            f.push_outages,
            f.files_late,
            f.sessions_churned,
            f.invocations_cut,
            f.invocations_chosen,
            f.invocations,
            sorted(&f.kustomer_faults),
            sorted(&f.ccai_faults),
            f.stream_dead_letters,
            f.replayed,
            f.settle_rounds
        ));
        let per_session = |by: &std::collections::BTreeMap<String, usize>| {
            let mut kinds: Vec<(String, f64)> = by
                .iter()
                .map(|(k, v)| (k.clone(), *v as f64 / self.sessions.max(1) as f64))
                .collect();
            kinds.sort_by(|a, b| b.1.total_cmp(&a.1));
            kinds
                .iter()
                .take(8)
                .map(|(k, v)| format!("{k} {v:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        line(format!(
            "Kustomer requests per session (with faults): {}",
            per_session(&f.kustomer_by_kind)
        ));
        line(format!(
            "CCAI requests per session (with faults): {}",
            per_session(&f.ccai_by_kind)
        ));
        line(format!(
            "differences from the oracle: {} · invariant violations: {} (oracle: {})",
            self.differences.len(),
            self.violations.len(),
            self.oracle_violations.len()
        ));
        for difference in self.differences.iter().take(40) {
            line(format!("  DIFFERENCE {difference}"));
        }
        for violation in self.violations.iter().take(40) {
            line(format!("  VIOLATION {violation}"));
        }
        for violation in self.oracle_violations.iter().take(20) {
            line(format!("  ORACLE VIOLATION {violation}"));
        }
        out
    }
}

fn sorted(map: &std::collections::HashMap<&'static str, u64>) -> Vec<(&'static str, u64)> {
    let mut list: Vec<_> = map.iter().map(|(k, v)| (*k, *v)).collect();
    list.sort();
    list
}
