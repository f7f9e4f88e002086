//! Init counted in instructions, not seconds: each binary started under valgrind's callgrind with
//! the environment of a measured start, but a Runtime API that refuses the connection, so the
//! process does its cold start, fails its first `GET /runtime/invocation/next` and exits. The
//! count is the same on every run of the same binary whatever else the machine is doing
//! (bench/RESULTS.md): the wall-clock init beside it moves by ±30 % between runs on this machine.
//!
//!   coldstart --dir target/release --instructions [--callgrind-out DIR]   (valgrind on PATH)
//!
//! `--callgrind-out DIR` keeps each profile (`DIR/<binary>.callgrind`) for `callgrind_annotate`
//! (build without `strip` for names: `CARGO_PROFILE_RELEASE_STRIP=false`).

use crate::Target;
use std::process::Command;

/// Instructions from exec to exit; `None` when valgrind is missing or says nothing countable.
pub fn count(target: &Target, keep_in: Option<&std::path::Path>) -> Option<u64> {
    let out_file = match keep_in {
        Some(dir) => dir
            .join(format!("{}.callgrind", target.label.replace(' ', "-")))
            .display()
            .to_string(),
        None => "/dev/null".into(),
    };
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={out_file}"))
        .arg(&target.binary)
        .env_clear()
        // Port 9 (discard) is closed here: the runtime's first poll is refused.
        .envs(crate::report::environment(target, "127.0.0.1:9"))
        .output()
        .ok()?;
    let log = String::from_utf8_lossy(&output.stderr);
    log.lines()
        .find_map(|line| line.split_once("Collected :"))
        .and_then(|(_, n)| n.trim().parse().ok())
}

/// The table: each binary's count and its ratio to the hello world's (the first target).
pub fn table(counted: &[(String, u64)]) -> String {
    let hello = counted.first().map_or(1, |(_, n)| (*n).max(1));
    let mut out =
        String::from("| binary | init, instructions (callgrind) | × hello |\n|---|---|---|\n");
    for (label, n) in counted {
        out.push_str(&format!(
            "| {label} | {} | {:.2} |\n",
            thousands(*n),
            *n as f64 / hello as f64
        ));
    }
    out
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn ratios_are_to_the_first_row() {
        let table = super::table(&[("hello".into(), 2_000_000), ("intake".into(), 3_000_000)]);
        assert!(table.contains("| hello | 2 000 000 | 1.00 |"), "{table}");
        assert!(table.contains("| intake | 3 000 000 | 1.50 |"), "{table}");
    }
}
