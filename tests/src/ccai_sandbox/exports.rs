//! The tenant's external storage as CCAI Platform fills it (ccai-api.md §3, events.md §2): each
//! ended session's files are written into a bucket of the S3 stand-in (or a folder, for the
//! demo without services) some time after the end — each kind after its own delay, a metadata
//! file written again later, a file that never comes — and every object written is announced
//! the way the bucket's Pub/Sub notification does it: an `OBJECT_FINALIZE` push, signed by a
//! local key whose JWKS the sandbox serves, redelivered until acknowledged.
//!
//! Time here is the sandbox's file clock: the wall clock plus whatever a test advanced it by
//! ([`super::CcaiSandbox::advance_files`]), so "the recording lands 90 s after the end" is a
//! step a test takes, not a sleep.

use super::routes::recording_byte;
use super::state::ExportedFile;
use super::{CcaiSandbox, CcaiShared};
use crate::pubsub::{TokenClaims, envelope};
use bridge_shared::storage::object_key;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// Where the sandbox writes the tenant's files.
#[derive(Clone, Debug)]
pub enum ExportTarget {
    /// A folder (the demo without the S3 stand-in; the bridge reads it with
    /// `FsExternalStorage`).
    Folder(PathBuf),
    /// A bucket reached over the S3 API (the S3 stand-in playing the tenant's Cloud Storage
    /// bucket; the bridge reads it with `S3ExternalStorage`, as it reads the real one).
    Bucket {
        client: aws_sdk_s3::Client,
        bucket: String,
    },
}

impl ExportTarget {
    /// The bucket name a notification carries (`bucketId`).
    pub fn bucket_id(&self) -> String {
        match self {
            Self::Folder(_) => "tenant-exports".into(),
            Self::Bucket { bucket, .. } => bucket.clone(),
        }
    }
}

/// How long after a session's end each of its files lands (ccai-api.md §3 documents no delay
/// for recordings and transcripts, and "about 15 minutes" for the metadata file; tests scale
/// that down). Zero: written when the session ends.
#[derive(Clone, Debug, Default)]
pub struct FileDelays {
    pub recording: Duration,
    pub transcript: Duration,
    pub media: Duration,
    pub metadata: Duration,
    /// The metadata file is written a second time (a new generation) this long after the end;
    /// the first write lacks the CSAT comment (the survey was not answered yet).
    pub metadata_rewrite: Option<Duration>,
}

impl FileDelays {
    /// A day of a real tenant, on the sandbox's file clock: recordings and media 2 minutes
    /// after the end, transcripts 3, the metadata file after 15 (ccai-api.md §3) and again
    /// after 20 with the survey's comment.
    pub fn realistic() -> Self {
        const MINUTE: Duration = Duration::from_secs(60);
        Self {
            recording: 2 * MINUTE,
            transcript: 3 * MINUTE,
            media: 2 * MINUTE,
            metadata: 15 * MINUTE,
            metadata_rewrite: Some(20 * MINUTE),
        }
    }

    fn of(&self, name: &str) -> Duration {
        if name.starts_with("metadata") {
            self.metadata
        } else if name.starts_with("chat-") && name.ends_with(".txt") {
            self.transcript
        } else if name.contains("-photo-") || name.contains("-video-") {
            self.media
        } else {
            self.recording
        }
    }
}

/// The folders the files are written in below the prefix. CCAI's settings page documents flat
/// names under one folder (ccai-api.md §3, 2026-12-03, H); a dated layout plays what the bridge
/// must survive when a push names the object (R-E-6: opened by the key the push names).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ExportLayout {
    #[default]
    Flat,
    /// Every file in this folder below the prefix (e.g. `2026/12/02`).
    Folder(String),
}

impl ExportLayout {
    /// The file's name below the prefix.
    pub fn place(&self, name: &str) -> String {
        match self {
            ExportLayout::Flat => name.to_owned(),
            ExportLayout::Folder(folder) => format!("{}/{name}", folder.trim_matches('/')),
        }
    }
}

/// Where the bucket's notifications are pushed (a Pub/Sub push subscription).
#[derive(Clone, Debug)]
pub struct PushTarget {
    pub url: String,
    pub audience: String,
    pub service_account: String,
    /// Each push sent twice (Pub/Sub delivers at least once).
    pub duplicate: bool,
}

impl PushTarget {
    pub fn to(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            audience: url.to_owned(),
            service_account: "ccai-storage-push@tenant-project.iam.gserviceaccount.com".into(),
            duplicate: false,
        }
    }
}

/// What one publishing round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// File names written (a rewrite counts again).
    pub written: Vec<String>,
    /// Pushes acknowledged (2xx), and pushes kept for redelivery.
    pub pushes_acked: usize,
    pub pushes_pending: usize,
}

/// A file due now, with its generation.
struct Due {
    name: String,
    file: ExportedFile,
    digest: u64,
    generation: u64,
}

fn digest(bytes_or_size: &ExportedFile) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    match bytes_or_size {
        ExportedFile::Recording { size, .. } => size.hash(&mut hasher),
        ExportedFile::Bytes(bytes) => bytes.hash(&mut hasher),
    }
    hasher.finish()
}

/// The metadata file as first written when a rewrite is due later: without the CSAT block.
fn before_survey(file: ExportedFile) -> ExportedFile {
    let ExportedFile::Bytes(bytes) = &file else {
        return file;
    };
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut metadata) => {
            if let Some(fields) = metadata.as_object_mut() {
                fields.remove("csat");
            }
            ExportedFile::Bytes(metadata.to_string().into_bytes())
        }
        Err(_) => file,
    }
}

fn recording_bytes(call_id: u64, size: u64) -> Vec<u8> {
    (0..size).map(|o| recording_byte(call_id, o)).collect()
}

impl CcaiSandbox {
    /// Moves the file clock forward (files due by then land on the next
    /// [`CcaiSandbox::publish_due`]).
    pub fn advance_files(&self, by: Duration) {
        let mut skew = self
            .shared
            .file_skew
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *skew += by;
    }

    /// Writes every file that is due and not written yet (or changed since), then pushes a
    /// notification for each, redelivering earlier pushes that were not acknowledged.
    pub async fn publish_due(&self) -> std::io::Result<Published> {
        publish_due(&self.shared).await
    }

    /// The object name of a file, as notifications and listings carry it.
    pub fn object_name(&self, file: &str) -> String {
        let options = self.options();
        object_key(&options.external_prefix, &options.export_layout.place(file))
    }
}

pub(super) fn file_clock_ms(shared: &CcaiShared) -> i64 {
    let skew = *shared.file_skew.lock().unwrap_or_else(|p| p.into_inner());
    chrono::Utc::now().timestamp_millis() + skew.as_millis() as i64
}

pub(super) async fn publish_due(shared: &CcaiShared) -> std::io::Result<Published> {
    // One round at a time: a background round and a test's round must not write one file
    // twice or push it out of order.
    let _round = shared.publishing.lock().await;
    let options = shared.options();
    let Some(target) = options.external_storage.clone() else {
        return Ok(Published::default());
    };
    let now = file_clock_ms(shared);
    let due: Vec<Due> = {
        let mut world = shared.world();
        let files = world.exported_files();
        let mut due = Vec::new();
        for (name, file) in files {
            let first_seen = *world.files_seen.entry(name.clone()).or_insert(now);
            if world.withheld.contains(&name)
                || now < first_seen + options.file_delays.of(&name).as_millis() as i64
            {
                continue;
            }
            let rewrite = options
                .file_delays
                .metadata_rewrite
                .filter(|_| name.starts_with("metadata"))
                .map(|later| first_seen + later.as_millis() as i64);
            let file = match rewrite {
                Some(at) if now < at => before_survey(file),
                _ => file,
            };
            let digest = digest(&file);
            // The rewrite is a new generation even when nothing in it changed.
            let rewrite_due =
                rewrite.is_some_and(|at| now >= at) && !world.rewritten.contains(&name);
            if world.published.get(&name) == Some(&digest) && !rewrite_due {
                continue;
            }
            if rewrite_due {
                world.rewritten.insert(name.clone());
            }
            // Cloud Storage generations are microsecond timestamps: later writes, larger ones.
            let previous = world.generations.get(&name).copied().unwrap_or(0);
            let generation = (now as u64 * 1000).max(previous + 1);
            world.generations.insert(name.clone(), generation);
            due.push(Due {
                name,
                file,
                digest,
                generation,
            });
        }
        due
    };
    let mut written = Vec::new();
    for file in due {
        write(
            &target,
            &options.external_prefix,
            &options.export_layout,
            &file,
        )
        .await?;
        let mut world = shared.world();
        world.published.insert(file.name.clone(), file.digest);
        if options.push.is_some() {
            world
                .pending_pushes
                .push((file.name.clone(), file.generation));
        }
        written.push(file.name);
    }
    let (pushes_acked, pushes_pending) = match &options.push {
        Some(push) => {
            let prefix = object_key(&options.external_prefix, &options.export_layout.place(""));
            deliver_pushes(shared, &target, push, prefix.trim_end_matches('/')).await
        }
        None => (0, 0),
    };
    Ok(Published {
        written,
        pushes_acked,
        pushes_pending,
    })
}

async fn write(
    target: &ExportTarget,
    prefix: &str,
    layout: &ExportLayout,
    file: &Due,
) -> std::io::Result<()> {
    let bytes = match &file.file {
        ExportedFile::Recording { call_id, size } => recording_bytes(*call_id, *size),
        ExportedFile::Bytes(bytes) => bytes.clone(),
    };
    let placed = layout.place(&file.name);
    match target {
        ExportTarget::Folder(root) => {
            let path = root.join(prefix).join(&placed);
            let folder = path
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default();
            std::fs::create_dir_all(&folder)?;
            let partial = folder.join(format!(".{}.partial", file.name));
            std::fs::write(&partial, bytes)?;
            // Whole or not at all, as an object store finalizes an upload.
            std::fs::rename(&partial, path)
        }
        ExportTarget::Bucket { client, bucket } => client
            .put_object()
            .bucket(bucket)
            .key(object_key(prefix, &placed))
            .body(bytes.into())
            .send()
            .await
            .map(|_| ())
            .map_err(|err| std::io::Error::other(format!("writing {}: {err:?}", file.name))),
    }
}

/// Sends every pending push once (twice when duplicating); keeps those not acknowledged, as
/// Pub/Sub redelivers until a 2xx. Answers (acknowledged, still pending).
async fn deliver_pushes(
    shared: &CcaiShared,
    target: &ExportTarget,
    push: &PushTarget,
    prefix: &str,
) -> (usize, usize) {
    let pending = std::mem::take(&mut shared.world().pending_pushes);
    let token = shared
        .signer
        .token(&TokenClaims::google(&push.audience, &push.service_account));
    let http = bridge_shared::http::builder().build().unwrap();
    let mut acked = 0;
    let mut kept = Vec::new();
    for (name, generation) in pending {
        let body = envelope(&target.bucket_id(), &object_key(prefix, &name), generation);
        let copies = if push.duplicate { 2 } else { 1 };
        let mut ok = false;
        for _ in 0..copies {
            let answer = http
                .post(&push.url)
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await;
            ok = answer.is_ok_and(|a| a.status().is_success());
        }
        if ok {
            acked += 1;
        } else {
            kept.push((name, generation));
        }
    }
    let still = kept.len();
    shared.world().pending_pushes.extend(kept);
    (acked, still)
}
