//! The readiness report, for a terminal and as HTML.

use super::{Check, Verdict, ready};
use crate::report::escape;

fn mark(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "✔",
        Verdict::Warn => "⚠",
        Verdict::Fail => "✖",
        Verdict::Unchecked => "·",
    }
}

fn summary(checks: &[Check]) -> String {
    let count = |v: Verdict| checks.iter().filter(|c| c.verdict == v).count();
    format!(
        "{}: {} passed, {} to know, {} failed, {} not checked",
        if ready(checks) { "ready" } else { "not ready" },
        count(Verdict::Pass),
        count(Verdict::Warn),
        count(Verdict::Fail),
        count(Verdict::Unchecked)
    )
}

pub fn text(checks: &[Check]) -> String {
    let mut out = String::from(
        "Readiness check (bridge-local doctor): nothing is written to either platform\n\n",
    );
    for check in checks {
        out.push_str(&format!(
            "{} {} [{}]\n    {}\n",
            mark(check.verdict),
            check.title,
            check.id,
            check.found
        ));
        if let Some(fix) = &check.fix {
            out.push_str(&format!("    → {fix}\n"));
        }
    }
    out.push_str(&format!("\n{}\n", summary(checks)));
    out
}

pub fn html(checks: &[Check]) -> String {
    let mut rows = String::new();
    for check in checks {
        let class = match check.verdict {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
            Verdict::Unchecked => "unchecked",
        };
        rows.push_str(&format!(
            "<tr class=\"{class}\"><td>{}</td><td>{}<br><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
            mark(check.verdict),
            escape(check.title),
            escape(check.id),
            escape(&check.found),
            escape(check.fix.as_deref().unwrap_or(""))
        ));
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Readiness check</title>\n\
         <style>body{{font-family:sans-serif;margin:2em}}td{{padding:.4em;vertical-align:top;border-bottom:1px solid #ddd}}\
         .pass td:first-child{{color:#2e7d4f}}.warn td:first-child{{color:#c27c0e}}.fail td:first-child{{color:#b00020}}\
         .unchecked{{color:#666}}</style></head>\n<body><h1>Readiness check</h1>\n<p>{}</p>\n\
         <table><tr><th></th><th>check</th><th>found</th><th>what to do</th></tr>\n{rows}</table></body></html>\n",
        escape(&summary(checks))
    )
}
