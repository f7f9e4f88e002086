//! The demo's report: readable text for the terminal and an HTML page.

use std::fmt::Write as _;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Done,
    Failed(String),
    NotImplemented(String),
}

#[derive(Clone, Debug)]
pub struct Section {
    pub title: String,
    pub status: Status,
    pub lines: Vec<String>,
    pub counts: Vec<(String, u64)>,
}

impl Section {
    pub fn done(title: &str) -> Self {
        Self::with(title, Status::Done)
    }

    pub fn failed(title: &str, why: &str) -> Self {
        Self::with(title, Status::Failed(why.to_owned()))
    }

    pub fn not_implemented(title: &str, planned: &str) -> Self {
        Self::with(title, Status::NotImplemented(planned.to_owned()))
    }

    fn with(title: &str, status: Status) -> Self {
        Self {
            title: title.to_owned(),
            status,
            lines: Vec::new(),
            counts: Vec::new(),
        }
    }

    pub fn line(&mut self, text: String) {
        self.lines.push(text);
    }

    pub fn count(&mut self, name: &str, value: u64) {
        self.counts.push((name.to_owned(), value));
    }

    /// The value of a count, if the section has it.
    pub fn counted(&self, name: &str) -> Option<u64> {
        self.counts.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
}

#[derive(Clone, Debug)]
pub struct Report {
    pub store: String,
    pub blobs: String,
    pub sections: Vec<Section>,
}

impl Report {
    pub fn new(store: &str, blobs: &str) -> Self {
        Self {
            store: store.to_owned(),
            blobs: blobs.to_owned(),
            sections: Vec::new(),
        }
    }

    pub fn push(&mut self, section: Section) {
        self.sections.push(section);
    }

    pub fn section(&self, title_start: &str) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| s.title.starts_with(title_start))
    }

    pub fn failures(&self) -> usize {
        self.sections
            .iter()
            .filter(|s| matches!(s.status, Status::Failed(_)))
            .count()
    }

    pub fn to_text(&self) -> String {
        let mut out = format!(
            "ccai-kustomer-bridge demo\nstate: {}\nfiles: {}\n",
            self.store, self.blobs
        );
        for section in &self.sections {
            let mark = match &section.status {
                Status::Done => "✔".to_owned(),
                Status::Failed(why) => format!("✘ FAILED: {why}"),
                Status::NotImplemented(planned) => format!("· not implemented yet ({planned})"),
            };
            let _ = write!(
                out,
                "\n{} {}\n",
                mark_symbol(&section.status),
                section.title
            );
            if !matches!(section.status, Status::Done) {
                let _ = writeln!(out, "    {mark}");
            }
            for line in &section.lines {
                let _ = writeln!(out, "    {line}");
            }
            if !section.counts.is_empty() {
                let counts: Vec<String> = section
                    .counts
                    .iter()
                    .map(|(n, v)| format!("{n}: {v}"))
                    .collect();
                let _ = writeln!(out, "    [{}]", counts.join(", "));
            }
        }
        out
    }

    pub fn to_html(&self) -> String {
        let mut out = String::from(
            "<!doctype html><meta charset=\"utf-8\"><title>ccai-kustomer-bridge demo</title>\
             <style>body{font:15px system-ui;max-width:52rem;margin:2rem auto}\
             .done{color:#176b2c}.failed{color:#a11}.todo{color:#777}\
             section{border-left:4px solid #ddd;padding:.2rem 1rem;margin:1rem 0}</style>\
             <h1>ccai-kustomer-bridge demo</h1>",
        );
        let _ = write!(
            out,
            "<p>State: {}<br>Files: {}</p>",
            escape(&self.store),
            escape(&self.blobs)
        );
        for section in &self.sections {
            let (class, note) = match &section.status {
                Status::Done => ("done", String::new()),
                Status::Failed(why) => ("failed", format!("<p>Failed: {}</p>", escape(why))),
                Status::NotImplemented(planned) => (
                    "todo",
                    format!("<p>Not implemented yet ({}).</p>", escape(planned)),
                ),
            };
            let _ = write!(
                out,
                "<section class=\"{class}\"><h2>{}</h2>{note}<ul>",
                escape(&section.title)
            );
            for line in &section.lines {
                let _ = write!(out, "<li>{}</li>", escape(line));
            }
            out.push_str("</ul>");
            if !section.counts.is_empty() {
                out.push_str("<table>");
                for (name, value) in &section.counts {
                    let _ = write!(out, "<tr><td>{}</td><td>{value}</td></tr>", escape(name));
                }
                out.push_str("</table>");
            }
            out.push_str("</section>");
        }
        out
    }
}

fn mark_symbol(status: &Status) -> &'static str {
    match status {
        Status::Done => "✔",
        Status::Failed(_) => "✘",
        Status::NotImplemented(_) => "·",
    }
}

/// Text made safe inside HTML (the demo's and the doctor's reports).
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
