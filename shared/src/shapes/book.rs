//! What the platforms sent, by document kind: the shapes seen, counted in memory as documents
//! are read, and merged now and then into the table (`SHAPES` / `<kind>`, one item per kind,
//! capped), where `GET /admin/shapes` reads them with what the model does not read and what it
//! expected but did not get (issue 28, R-F).
//!
//! Recording costs no request: documents are sampled (at most [`SAMPLES_PER_MINUTE`] of a
//! kind per container and minute), and the book is written at a container's first chance and
//! then at most every [`FLUSH_EVERY`], one read and one write per kind seen (timed by the
//! container's own clock, not the events' times). Two containers writing a
//! kind at once may lose one's counts (a read, a merge, a write): the counts are a guide, the
//! paths and types are what matter, and a lost new path comes back with the next document.

use super::kinds::DocumentKind;
use super::shape::{Shape, shape_of};
use crate::UnixMillis;
use crate::store::{DocumentStore, Item, ItemKey, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const SAMPLES_PER_MINUTE: u32 = 50;
pub const FLUSH_EVERY: Duration = Duration::from_secs(300);
/// Paths kept per kind in the table; beyond, counted as cut.
pub const MAX_STORED_PATHS: usize = 400;
const PARTITION: &str = "SHAPES";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PathTally {
    pub types: BTreeSet<String>,
    pub count: u64,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// One kind's record, in memory and in the table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KindTally {
    pub documents: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    /// Paths not kept (a document over its cap, or the kind over [`MAX_STORED_PATHS`]).
    pub cut: u64,
    pub paths: BTreeMap<String, PathTally>,
}

impl KindTally {
    fn add_shape(&mut self, shape: &Shape, now: i64) {
        if self.documents == 0 {
            self.first_seen = now;
        }
        self.documents += 1;
        self.last_seen = now;
        self.cut += shape.cut as u64;
        for (path, types) in &shape.paths {
            if !self.paths.contains_key(path) && self.paths.len() >= MAX_STORED_PATHS {
                self.cut += 1;
                continue;
            }
            let tally = self.paths.entry(path.clone()).or_insert_with(|| PathTally {
                first_seen: now,
                ..Default::default()
            });
            tally.types.extend(types.iter().map(|t| (*t).to_owned()));
            tally.count += 1;
            tally.last_seen = now;
        }
    }

    /// `other` added to this (counts summed, types joined, times widened).
    pub fn merge(&mut self, other: &KindTally) {
        if other.documents == 0 {
            return;
        }
        self.first_seen = if self.documents == 0 {
            other.first_seen
        } else {
            self.first_seen.min(other.first_seen)
        };
        self.last_seen = self.last_seen.max(other.last_seen);
        self.documents += other.documents;
        self.cut += other.cut;
        for (path, theirs) in &other.paths {
            if !self.paths.contains_key(path) && self.paths.len() >= MAX_STORED_PATHS {
                self.cut += theirs.count;
                continue;
            }
            let mine = self.paths.entry(path.clone()).or_insert_with(|| PathTally {
                first_seen: theirs.first_seen,
                ..Default::default()
            });
            mine.types.extend(theirs.types.iter().cloned());
            mine.first_seen = mine.first_seen.min(theirs.first_seen);
            mine.last_seen = mine.last_seen.max(theirs.last_seen);
            mine.count += theirs.count;
        }
    }
}

#[derive(Default)]
struct Pending {
    kinds: HashMap<DocumentKind, KindTally>,
    last_flush: Option<Instant>,
    /// Samples taken this minute, by kind.
    samples: HashMap<DocumentKind, (i64, u32)>,
}

/// The process's book (every function of a process shares it: the local host runs them all).
pub struct ShapeBook {
    pending: Mutex<Pending>,
}

static BOOK: OnceLock<ShapeBook> = OnceLock::new();

pub fn book() -> &'static ShapeBook {
    BOOK.get_or_init(ShapeBook::new)
}

/// Records a document of `kind` in the process's book (sampled).
pub fn observe(kind: DocumentKind, document: &Value) {
    book().observe(kind, document, UnixMillis::now());
}

/// Records an answer holding one document of `kind` or a list of them (each recorded).
pub fn observe_each(kind: DocumentKind, bytes: &[u8]) {
    let now = UnixMillis::now();
    if !book().wants(kind, now) {
        return;
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Array(documents)) => {
            for document in documents.iter().filter(|d| d.is_object()) {
                book().observe(kind, document, now);
            }
        }
        Ok(document @ Value::Object(_)) => book().record(kind, &document, now),
        _ => {}
    }
}

/// Records a JSON:API answer's resources (`data`, one or a list) as documents of `kind`.
pub fn observe_resources(kind: DocumentKind, bytes: &[u8]) {
    let now = UnixMillis::now();
    if !book().wants(kind, now) {
        return;
    }
    let Ok(answer) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    match answer.get("data") {
        Some(Value::Array(resources)) => {
            for resource in resources.iter().filter(|r| r.is_object()) {
                book().observe(kind, resource, now);
            }
        }
        Some(resource @ Value::Object(_)) => book().record(kind, resource, now),
        _ => {}
    }
}

fn key(kind: DocumentKind) -> ItemKey {
    ItemKey::new(PARTITION, kind.name())
}

impl Default for ShapeBook {
    fn default() -> Self {
        Self::new()
    }
}

impl ShapeBook {
    pub fn new() -> Self {
        Self {
            pending: Mutex::new(Pending::default()),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a write is due (something recorded, and the first chance or an interval).
    pub fn due(&self) -> bool {
        let pending = self.pending();
        !pending.kinds.is_empty()
            && pending
                .last_flush
                .is_none_or(|last| last.elapsed() >= FLUSH_EVERY)
    }

    /// Whether a document of this kind is to be recorded now (the sample of the minute).
    pub fn wants(&self, kind: DocumentKind, now: UnixMillis) -> bool {
        let mut pending = self.pending();
        let minute = now.0 / 60_000;
        let (at, taken) = pending.samples.entry(kind).or_insert((minute, 0));
        if *at != minute {
            *at = minute;
            *taken = 0;
        }
        *taken < SAMPLES_PER_MINUTE
    }

    /// Records `document` if the kind's sample allows.
    pub fn observe(&self, kind: DocumentKind, document: &Value, now: UnixMillis) {
        if self.wants(kind, now) {
            self.record(kind, document, now);
        }
    }

    fn record(&self, kind: DocumentKind, document: &Value, now: UnixMillis) {
        let shape = shape_of(document, kind.walk());
        let mut pending = self.pending();
        if let Some((_, taken)) = pending.samples.get_mut(&kind) {
            *taken += 1;
        }
        pending
            .kinds
            .entry(kind)
            .or_default()
            .add_shape(&shape, now.0);
    }

    /// Writes what was recorded since the last write, at the first chance and then once every
    /// [`FLUSH_EVERY`]. A failed write keeps it for the next time.
    pub async fn flush_if_due(
        &self,
        store: &dyn DocumentStore,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        self.write_pending(store, now, false).await
    }

    /// Writes what was recorded, due or not (the admin's read of the record).
    pub async fn flush_now(
        &self,
        store: &dyn DocumentStore,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        self.write_pending(store, now, true).await
    }

    async fn write_pending(
        &self,
        store: &dyn DocumentStore,
        now: UnixMillis,
        force: bool,
    ) -> Result<(), StoreError> {
        let taken = {
            let mut pending = self.pending();
            let due = force
                || pending
                    .last_flush
                    .is_none_or(|last| last.elapsed() >= FLUSH_EVERY);
            if !due || pending.kinds.is_empty() {
                return Ok(());
            }
            pending.last_flush = Some(Instant::now());
            std::mem::take(&mut pending.kinds)
        };
        let mut failed = None;
        let mut unwritten = HashMap::new();
        for (kind, tally) in taken {
            if let Err(err) = write(store, kind, &tally, now).await {
                failed = Some(err);
                unwritten.insert(kind, tally);
            }
        }
        if let Some(err) = failed {
            let mut pending = self.pending();
            for (kind, tally) in unwritten {
                pending.kinds.entry(kind).or_default().merge(&tally);
            }
            // Tried again after an interval, not on every request (a refused or throttled
            // write must not cost each one).
            return Err(err);
        }
        Ok(())
    }
}

/// The longest a write of the record may take.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Writes the process's book when due, within [`FLUSH_TIMEOUT`]; a failure is logged and kept
/// for the next interval (the record of shapes never fails the work that fed it).
pub async fn flush(store: &dyn DocumentStore, now: UnixMillis) {
    match tokio::time::timeout(FLUSH_TIMEOUT, book().flush_if_due(store, now)).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "could not write the record of what the platforms sent");
        }
        Err(_) => tracing::warn!("writing the record of what the platforms sent took too long"),
    }
}

/// For the HTTP functions, whose answers must not wait for it (the intake answers CCAI
/// before any other work, events.md §1): the write, when due, runs beside the next answers.
pub fn flush_in_background(store: std::sync::Arc<dyn DocumentStore>) {
    if !book().due() {
        return;
    }
    tokio::spawn(async move { flush(store.as_ref(), UnixMillis::now()).await });
}

async fn write(
    store: &dyn DocumentStore,
    kind: DocumentKind,
    tally: &KindTally,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let key = key(kind);
    let mut stored = match store.get(&key, now).await? {
        Some(item) => serde_json::from_value::<KindTally>(item.body).unwrap_or_default(),
        None => KindTally::default(),
    };
    stored.merge(tally);
    let body = serde_json::to_value(&stored).map_err(|e| StoreError::Malformed {
        key: key.to_string(),
        reason: e.to_string(),
    })?;
    store.put(&Item::new(key, body)).await
}

/// One kind as `GET /admin/shapes` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KindReport {
    pub kind: &'static str,
    pub documents: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Every path seen: its types and in how many documents.
    pub paths: BTreeMap<String, PathReport>,
    /// Paths seen that the bridge's model does not read.
    pub unread: Vec<String>,
    /// Paths the model expects in every document, with how many documents lacked them.
    pub missing: BTreeMap<String, u64>,
    pub cut: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PathReport {
    pub types: Vec<String>,
    pub count: u64,
}

fn iso(ms: i64) -> Option<String> {
    (ms > 0).then(|| UnixMillis(ms).to_iso())
}

/// Whether `path` is read: listed, under a listed path, or on the way to one.
fn is_read(path: &str, reads: &[String]) -> bool {
    let below = |inner: &str, outer: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with("[]"))
    };
    reads
        .iter()
        .any(|read| path == read || below(path, read) || below(read, path))
}

/// What the tally says against the model (pure).
pub fn report(kind: DocumentKind, tally: &KindTally) -> KindReport {
    let reads = kind.reads();
    let unread = tally
        .paths
        .keys()
        .filter(|path| !is_read(path, &reads))
        .cloned()
        .collect();
    let missing = if tally.documents == 0 {
        BTreeMap::new()
    } else {
        kind.expects()
            .iter()
            .filter_map(|path| {
                let seen = tally.paths.get(*path).map_or(0, |p| p.count);
                let lacking = tally.documents.saturating_sub(seen);
                (lacking > 0).then(|| ((*path).to_owned(), lacking))
            })
            .collect()
    };
    KindReport {
        kind: kind.name(),
        documents: tally.documents,
        first_seen: iso(tally.first_seen),
        last_seen: iso(tally.last_seen),
        paths: tally
            .paths
            .iter()
            .map(|(path, p)| {
                (
                    path.clone(),
                    PathReport {
                        types: p.types.iter().cloned().collect(),
                        count: p.count,
                    },
                )
            })
            .collect(),
        unread,
        missing,
        cut: tally.cut,
    }
}

/// One document's report against the model (the readiness check's sample file), without the
/// process's record.
pub fn report_of_document(kind: DocumentKind, document: &Value) -> KindReport {
    let mut tally = KindTally::default();
    tally.add_shape(&shape_of(document, kind.walk()), UnixMillis::now().0);
    report(kind, &tally)
}

/// Every kind recorded in the table, reported.
pub async fn read_reports(
    store: &dyn DocumentStore,
    now: UnixMillis,
) -> Result<Vec<KindReport>, StoreError> {
    let mut reports = Vec::new();
    for item in store.list_partition(PARTITION, now).await? {
        let Some(kind) = DocumentKind::from_name(&item.key.sk) else {
            continue;
        };
        let tally = serde_json::from_value::<KindTally>(item.body).unwrap_or_default();
        reports.push(report(kind, &tally));
    }
    reports.sort_by(|a, b| a.kind.cmp(b.kind));
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EmbeddedStore;
    use serde_json::json;

    #[test]
    fn unread_and_missing_paths_are_flagged() {
        let book = ShapeBook::new();
        let now = UnixMillis(1_900_000_000_000);
        book.observe(
            DocumentKind::EseParticipant,
            &json!({"type": "agent", "id": 7, "mood": "calm"}),
            now,
        );
        book.observe(DocumentKind::EseParticipant, &json!({"kind": "agent"}), now);
        let tally = book.pending().kinds[&DocumentKind::EseParticipant].clone();
        let report = report(DocumentKind::EseParticipant, &tally);
        assert_eq!(report.documents, 2);
        assert_eq!(report.unread, ["kind", "mood"]);
        assert_eq!(report.missing, BTreeMap::from([("type".to_owned(), 1)]));
    }

    #[tokio::test]
    async fn the_book_is_written_at_once_then_each_interval_and_merged_with_what_is_kept() {
        let store = EmbeddedStore::new();
        let book = ShapeBook::new();
        let now = UnixMillis(1_900_000_000_000);
        book.observe(
            DocumentKind::EseEvent,
            &json!({"event_id": "a", "timestamp": 1}),
            now,
        );
        book.flush_if_due(&store, now).await.unwrap();
        // Within the interval: not written.
        book.observe(
            DocumentKind::EseEvent,
            &json!({"event_id": "b", "timestamp": 2}),
            now,
        );
        book.flush_if_due(&store, now).await.unwrap();
        let reports = read_reports(&store, now).await.unwrap();
        assert_eq!(reports[0].documents, 1);
        // Another container's book adds to it.
        let other = ShapeBook::new();
        other.observe(
            DocumentKind::EseEvent,
            &json!({"event_id": "c", "extra": true}),
            now,
        );
        other.flush_if_due(&store, now).await.unwrap();
        let reports = read_reports(&store, now).await.unwrap();
        assert_eq!(reports[0].documents, 2);
        assert_eq!(reports[0].unread, ["extra"]);
        assert_eq!(
            reports[0].missing,
            BTreeMap::from([("item".to_owned(), 2), ("timestamp".to_owned(), 1)])
        );
        // Written when asked (the admin's read): the rest is added.
        book.flush_now(&store, now).await.unwrap();
        assert_eq!(read_reports(&store, now).await.unwrap()[0].documents, 3);
    }

    #[test]
    fn a_kind_is_sampled_per_minute() {
        let book = ShapeBook::new();
        let now = UnixMillis(1_900_000_000_000);
        for _ in 0..(SAMPLES_PER_MINUTE + 20) {
            book.observe(DocumentKind::CcaiCall, &json!({"id": 1}), now);
        }
        assert_eq!(
            book.pending().kinds[&DocumentKind::CcaiCall].documents,
            SAMPLES_PER_MINUTE as u64
        );
        book.observe(
            DocumentKind::CcaiCall,
            &json!({"id": 1}),
            now.plus(Duration::from_secs(60)),
        );
        assert_eq!(
            book.pending().kinds[&DocumentKind::CcaiCall].documents,
            SAMPLES_PER_MINUTE as u64 + 1
        );
    }
}
