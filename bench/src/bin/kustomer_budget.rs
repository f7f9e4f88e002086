//! Kustomer requests per session by kind of session (issue 27): for each kind, a tenant without
//! faults (the soak's: every function through the local host, DynamoDB Local, the sandboxes)
//! plays `SESSIONS` sessions of that kind from new callers; for repeat callers, a second tenant
//! plays the same sessions twice over (the second time from callers Kustomer already knows), and
//! the repeat cost is the difference. No custom fields. Requests are counted by the Kustomer
//! sandbox, by request kind; the agents' status reads of the scheduled run are counted apart
//! (they are per minute, not per session).
//!
//!   bench/run kustomer-budget [SESSIONS=10]
//!
//! Prints a table and writes `bench/results/kustomer-budget.md`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use bridge_bench::soak::faults::Faults;
use bridge_bench::soak::plan::{Kind, Plan, Step};
use bridge_bench::soak::tenant::{RunStats, Tenant};
use std::collections::BTreeMap;
use std::fmt::Write;

/// A session of the measured kind, from customer number `n`.
type MakeSession = fn(usize) -> Kind;

/// Request kinds that follow the agents' routing status, whatever the sessions.
fn per_minute(kind: &str) -> bool {
    kind.contains("/v1/routing/") || kind.contains("/v1/users")
}

fn plan_of(kinds: &[Kind]) -> Plan {
    let mut plan = Plan::generate(27, kinds.len().max(1), 2);
    plan.steps = kinds
        .iter()
        .map(|kind| Step {
            kind: kind.clone(),
            csat: None,
            smart_action: None,
            file_never: false,
        })
        .collect();
    plan.fields_created_before = usize::MAX;
    plan
}

async fn play(kinds: &[Kind]) -> RunStats {
    let plan = plan_of(kinds);
    let mut tenant = Tenant::start(&plan, Faults::none(), 2, 100_000)
        .await
        .expect("tenant");
    tenant.play(&plan).await.expect("played");
    let stats = tenant.stats.clone();
    tenant.drop_table().await;
    stats
}

/// Requests per session: (per session, by request kind), the per-minute kinds left out.
fn per_session(stats: &RunStats, sessions: usize) -> (f64, BTreeMap<String, f64>) {
    let by_kind: BTreeMap<String, f64> = stats
        .kustomer_by_kind
        .iter()
        .filter(|(kind, _)| !per_minute(kind))
        .map(|(kind, n)| (kind.clone(), *n as f64 / sessions as f64))
        .collect();
    (by_kind.values().sum(), by_kind)
}

#[tokio::main]
async fn main() {
    let sessions: usize = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let kinds: Vec<(&str, MakeSession)> = vec![
        ("IVR call answered", |c| Kind::IvrAnswered {
            agent: c % 2,
            caller: c,
        }),
        ("abandoned call", |c| Kind::Abandoned { caller: c }),
        ("voicemail", |c| Kind::Voicemail {
            caller: c,
            action: None,
        }),
        ("chat with transcript", |c| Kind::Chat {
            agent: c % 2,
            user: c,
            lines: 6,
        }),
        ("outbound call", |c| Kind::Outbound {
            agent: c % 2,
            caller: c,
        }),
    ];
    let mut out = String::new();
    writeln!(
        out,
        "Kustomer requests per session (`bench/run kustomer-budget {sessions}`: {sessions} sessions \
         of each kind, no faults, no custom fields; the scheduled run's status reads left out)\n"
    )
    .unwrap();
    writeln!(
        out,
        "| session | new customer | known customer | requests by kind (new customer) |\n|---|---|---|---|"
    )
    .unwrap();
    for (name, kind) in &kinds {
        let first: Vec<Kind> = (0..sessions).map(kind).collect();
        let new = play(&first).await;
        let twice: Vec<Kind> = first.iter().chain(first.iter()).cloned().collect();
        let both = play(&twice).await;
        let (new_total, by_kind) = per_session(&new, sessions);
        let (both_total, _) = per_session(&both, sessions);
        let known = both_total - new_total;
        let detail = by_kind
            .iter()
            .map(|(k, v)| format!("{k} {v:.1}"))
            .collect::<Vec<_>>()
            .join("; ");
        let row = format!("| {name} | {new_total:.1} | {known:.1} | {detail} |");
        println!("{row}");
        writeln!(out, "{row}").unwrap();
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("kustomer-budget.md"), &out).unwrap();
    println!("wrote bench/results/kustomer-budget.md");
}
