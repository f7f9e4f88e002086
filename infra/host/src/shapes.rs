//! The demo's last section (issue 28, R-F): what the platforms sent while the scenarios ran,
//! by document kind — the keys and types the bridge saw (never values), the keys its model
//! does not read and the ones it expected and did not get. Against a real tenant the same
//! record (`GET /admin/shapes`) is the first look at what CCAI Platform and Kustomer really send.

use crate::backends::Backends;
use crate::report::Section;
use bridge_shared::UnixMillis;
use bridge_shared::shapes::{book, read_reports};

pub async fn what_the_platforms_sent(backends: &Backends, _run: &str) -> crate::demo::Outcome {
    let now = UnixMillis::now();
    book()
        .flush_now(backends.store.as_ref(), now)
        .await
        .map_err(|e| e.to_string())?;
    let reports = read_reports(backends.store.as_ref(), now)
        .await
        .map_err(|e| e.to_string())?;
    let mut section = Section::done("What the platforms sent: keys and types, never values (R-F)");
    for kind in &reports {
        let list = |names: &[String]| {
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        };
        let missing: Vec<String> = kind
            .missing
            .iter()
            .map(|(path, lacking)| format!("{path} (in {lacking} of {})", kind.documents))
            .collect();
        section.line(format!(
            "{}: {} document(s), {} path(s); not read by the bridge: {}; expected, missing: {}",
            kind.kind,
            kind.documents,
            kind.paths.len(),
            list(&kind.unread),
            list(&missing)
        ));
    }
    section.count("document kinds seen", reports.len() as u64);
    section.count(
        "paths the bridge does not read",
        reports.iter().map(|k| k.unread.len() as u64).sum(),
    );
    Ok(vec![section])
}
