//! The soak benchmark (issue 25): the same seeded sessions with every fault and without,
//! compared; invariants and logs checked; figures printed and plotted.
//!
//!   bench/run soak [SESSIONS=5000] [SEED=random] [CLASS RATE]
//!
//! With a fault class and a rate (e.g. `cut_off 0.3`), only that class is on (to show it is
//! exercised) and nothing is plotted. Exits 1 on any difference, violation or secret found in
//! the logs.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use bench_plot::{Bar, Line};
use bridge_bench::soak::{self, Outcome, Settings, faults::Faults, logs::LogCapture};

#[tokio::main]
async fn main() {
    let capture = LogCapture::install();
    let args: Vec<String> = std::env::args().collect();
    let sessions = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(5000);
    let seed = args
        .get(2)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| uuid::Uuid::new_v4().as_u128() as u64 % 1_000_000);
    let mut settings = Settings::new(sessions, seed);
    if let (Some(class), Some(rate)) = (args.get(3), args.get(4).and_then(|r| r.parse().ok())) {
        settings.faults = Faults::only(class, rate).unwrap_or_else(|| {
            eprintln!(
                "no fault class {class}; classes: {:?}",
                soak::faults::CLASSES
            );
            std::process::exit(2)
        });
    }
    println!("soak: seed {seed} (replay with: bench/run soak {sessions} {seed})");
    let outcome = soak::run(&settings).await.unwrap_or_else(|err| {
        eprintln!("soak failed to run: {err}");
        std::process::exit(1)
    });
    print!("{}", outcome.report(&settings));
    let mut lines = capture.bridge_lines();
    lines.extend(outcome.dead_letters.iter().cloned());
    let leaks = soak::logs::scan(&lines, &soak::secrets(&outcome.plan));
    println!(
        "logs: {} lines of the bridge searched, {} holding a number, e-mail or secret of the run",
        lines.len(),
        leaks.len()
    );
    for (line, kind) in leaks.iter().take(20) {
        println!("  LEAK line {line}: a {kind}");
    }
    println!(
        "peak RSS of the process (both runs): {:.0} MiB",
        bridge_bench::peak_rss_mib()
    );
    // One class alone shows the class is exercised; the plots stay those of a whole run.
    if args.get(3).is_none() {
        plot(&outcome, &settings);
    }
    if !outcome.differences.is_empty()
        || !outcome.violations.is_empty()
        || !outcome.oracle_violations.is_empty()
        || !leaks.is_empty()
    {
        std::process::exit(1);
    }
}

/// Throughput over the run, the completion-latency CDF and requests per session by kind, as
/// SVG under bench/results/ (soak-*.svg).
fn plot(outcome: &Outcome, settings: &Settings) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    let progress = |stats: &soak::tenant::RunStats| -> Vec<(f64, f64)> {
        stats
            .progress
            .iter()
            .map(|(t, n)| (*t, *n as f64))
            .collect()
    };
    let cdf = |stats: &soak::tenant::RunStats| -> Vec<(f64, f64)> {
        let mut seconds = Outcome::completion_seconds(stats);
        seconds.sort_by(f64::total_cmp);
        let n = seconds.len().max(1) as f64;
        seconds
            .iter()
            .enumerate()
            .map(|(i, s)| (*s, (i + 1) as f64 / n))
            .collect()
    };
    let title = format!("{} sessions, seed {}", outcome.sessions, settings.seed);
    let line = |label: &str, points: Vec<(f64, f64)>| Line {
        label: label.to_owned(),
        points,
    };
    let drawn = [
        bench_plot::lines(
            &dir.join("soak-throughput.svg"),
            &format!("Sessions complete in Kustomer over the run ({title})"),
            ("seconds since the start", "sessions complete"),
            &[
                line("without faults", progress(&outcome.oracle)),
                line("with faults", progress(&outcome.faulty)),
            ],
            bench_plot::Scale::Linear,
        ),
        bench_plot::lines(
            &dir.join("soak-latency-cdf.svg"),
            &format!("Completion after the session's end, CDF ({title})"),
            ("seconds", "fraction of sessions complete"),
            &[
                line("without faults", cdf(&outcome.oracle)),
                line("with faults", cdf(&outcome.faulty)),
            ],
            bench_plot::Scale::Linear,
        ),
    ];
    let n = outcome.sessions.max(1) as f64;
    let bars: Vec<Bar> = outcome
        .faulty
        .kustomer_by_kind
        .iter()
        .map(|(k, v)| (format!("K {k}"), *v as f64 / n))
        .chain(
            outcome
                .faulty
                .ccai_by_kind
                .iter()
                .map(|(k, v)| (format!("C {k}"), *v as f64 / n)),
        )
        .filter(|(_, v)| *v >= 0.05)
        .map(|(label, value)| Bar {
            label,
            value,
            low: value,
            high: value,
        })
        .collect();
    let requests = bench_plot::bars(
        &dir.join("soak-requests.svg"),
        &format!("Requests per session by kind, with faults (K Kustomer, C CCAI; {title})"),
        "requests per session",
        &bars,
        None,
    );
    for result in drawn.into_iter().chain([requests]) {
        if let Err(err) = result {
            eprintln!("a soak chart could not be drawn: {err}");
        }
    }
}
