//! The tenant's external storage, read only: the bucket and prefix readable, files there and
//! their layout, the data types found against `EXTERNAL_STORAGE_FILES`, and one metadata file
//! and one transcript read as the workers read them, with the keys the bridge does not know
//! and the ones it expected (the record of what the platforms send, `bridge_shared::shapes`).

use super::{Check, DoctorSettings};
use bridge_shared::shapes::DocumentKind;
use bridge_shared::storage::{
    DataType, ExportedTypes, ExternalStorage, ExternalStorageSettings, FileKind, S3ExternalStorage,
    classify, read_whole,
};
use std::collections::BTreeMap;

const SMALL_FILE: u64 = 4 * 1024 * 1024;

pub async fn checks(settings: &DoctorSettings) -> Vec<Check> {
    let mut checks = Vec::new();
    let Some(bucket) = settings.storage_bucket.clone() else {
        checks.push(Check::fail(
            "storage.bucket",
            "External storage: the bucket",
            "ExternalStorageBucket is not given",
            "set ExternalStorageBucket (and, for Cloud Storage, ExternalStorageEndpoint \
             https://storage.googleapis.com with an HMAC key): recordings and transcripts come \
             from there (docs/recordings-and-transcripts.md)",
        ));
        return checks;
    };
    let exported = match settings.storage_files.as_deref() {
        None => ExportedTypes::default(),
        Some(text) => match ExportedTypes::parse(text) {
            Ok(types) => types,
            Err(err) => {
                checks.push(Check::fail(
                    "storage.types",
                    "External storage: the data types exported",
                    err.to_string(),
                    "ExternalStorageFiles: a comma list of recordings, transcripts, metadata, media",
                ));
                return checks;
            }
        },
    };
    let aws = bridge_shared::aws::load_config_with_profiles().await;
    let storage = S3ExternalStorage::new(
        &aws,
        &ExternalStorageSettings {
            bucket: bucket.clone(),
            prefix: settings.storage_prefix.clone(),
            endpoint: settings.storage_endpoint.clone(),
            region: settings.storage_region.clone(),
            access_key_id: settings.storage_access_key_id.clone(),
            secret_access_key: settings.storage_secret_access_key.clone(),
        },
    );
    let names = match storage.list("").await {
        Ok(names) => {
            checks.push(Check::pass(
                "storage.bucket",
                "External storage: the bucket",
                format!("{} readable", storage.describe()),
            ));
            names
        }
        Err(err) => {
            checks.push(Check::fail(
                "storage.bucket",
                "External storage: the bucket",
                err.to_string(),
                "check ExternalStorageBucket and the key: for Cloud Storage an HMAC key of a \
                 service account with Storage Object Viewer on the bucket \
                 (docs/recordings-and-transcripts.md, \"Giving the bridge the tenant's bucket\")",
            ));
            return checks;
        }
    };
    let files: Vec<(&String, FileKind)> = names
        .iter()
        .filter_map(|name| classify(name).map(|file| (name, file.kind)))
        .collect();
    if files.is_empty() {
        checks.push(Check::fail(
            "storage.files",
            "External storage: CCAI's files under the prefix",
            format!(
                "{} object(s) under \"{}\", none named as CCAI names its exports",
                names.len(),
                settings.storage_prefix
            ),
            "check ExternalStoragePrefix, and that CCAI Platform exports there (Settings › \
             Developer Settings › Session Data Export › External Storage)",
        ));
        return checks;
    }
    let in_folders = files.iter().filter(|(name, _)| name.contains('/')).count();
    checks.push(Check::pass(
        "storage.files",
        "External storage: CCAI's files under the prefix",
        format!(
            "{} file(s) of CCAI's, {}",
            files.len(),
            if in_folders == 0 {
                "all at the prefix (flat)".to_owned()
            } else {
                format!("{in_folders} in folders below it (found by name at any depth)")
            }
        ),
    ));
    let mut found: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (_, kind) in &files {
        *found.entry(DataType::of(kind).as_str()).or_default() += 1;
    }
    let listed_absent: Vec<&str> = DataType::ALL
        .into_iter()
        .filter(|t| exported.has(*t) && !found.contains_key(t.as_str()))
        .map(DataType::as_str)
        .collect();
    let present_unlisted: Vec<&str> = DataType::ALL
        .into_iter()
        .filter(|t| !exported.has(*t) && found.contains_key(t.as_str()))
        .map(DataType::as_str)
        .collect();
    let counts = found
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    checks.push(if !listed_absent.is_empty() {
        Check::fail(
            "storage.types",
            "External storage: the data types exported",
            format!(
                "found {counts}; listed in ExternalStorageFiles but absent: {}",
                listed_absent.join(", ")
            ),
            "tick those types in CCAI Platform's export, or take them out of \
             ExternalStorageFiles: the bridge waits 24 hours for each listed type of each \
             session before giving up (R-E-6)",
        )
    } else if !present_unlisted.is_empty() {
        Check::warn(
            "storage.types",
            "External storage: the data types exported",
            format!(
                "found {counts}; exported but not in ExternalStorageFiles: {}",
                present_unlisted.join(", ")
            ),
            "add them to ExternalStorageFiles if Kustomer should have them",
        )
    } else {
        Check::pass(
            "storage.types",
            "External storage: the data types exported",
            format!("found {counts}, as ExternalStorageFiles lists"),
        )
    });
    checks.push(ages(&storage, &names, &exported).await);
    checks.push(sample(&storage, &files, Sample::Metadata).await);
    checks.push(sample(&storage, &files, Sample::Transcript).await);
    checks
}

/// How long ago the newest file of each exported type was written: a type whose newest file is
/// a day old may no longer be exported (or the contact center was quiet).
const STALE_AFTER_MS: i64 = 24 * 3600 * 1000;

/// The newest file of each data type (by its session id, which grows), and its age.
async fn ages(storage: &dyn ExternalStorage, names: &[String], exported: &ExportedTypes) -> Check {
    // Calls and chats count their ids apart: the newest of each, by type.
    let mut newest: BTreeMap<(&'static str, Option<&'static str>), (u64, &String)> =
        BTreeMap::new();
    for name in names {
        let Some(file) = classify(name) else { continue };
        let data = DataType::of(&file.kind);
        if !exported.has(data) {
            continue;
        }
        let id = file
            .session
            .as_ref()
            .map(|s| s.id)
            .or(file.metadata_id)
            .unwrap_or(0);
        let kind = file.session.as_ref().map(|s| s.kind.as_str());
        let entry = newest.entry((data.as_str(), kind)).or_insert((id, name));
        if id > entry.0 {
            *entry = (id, name);
        }
    }
    let now = bridge_shared::UnixMillis::now().0;
    // Of a type's files (calls' and chats'), the youngest.
    let mut found: BTreeMap<&str, Option<i64>> = BTreeMap::new();
    for ((data, _), (_, name)) in newest {
        let modified = storage
            .stat(name)
            .await
            .ok()
            .flatten()
            .and_then(|f| f.modified_ms);
        let age = modified.map(|at| now - at);
        let entry = found.entry(data).or_insert(age);
        *entry = match (*entry, age) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    ages_check(&found.into_iter().collect::<Vec<_>>())
}

fn age_text(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    match minutes {
        0 => "under a minute".into(),
        1..=119 => format!("{minutes} min"),
        _ if minutes < 48 * 60 => format!("{} h", minutes / 60),
        _ => format!("{} days", minutes / (24 * 60)),
    }
}

/// The verdict on the newest files' ages (`None`: the store did not say).
pub fn ages_check(found: &[(&str, Option<i64>)]) -> Check {
    const ID: &str = "storage.ages";
    const TITLE: &str = "External storage: the newest files' ages";
    if found.is_empty() {
        return Check::unchecked(
            ID,
            TITLE,
            "no file of an exported type",
            "see storage.types",
        );
    }
    let text = found
        .iter()
        .map(|(data, age)| match age {
            Some(age) => format!("{data} {} old", age_text(*age)),
            None => format!("{data} (age unknown)"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let stale: Vec<&str> = found
        .iter()
        .filter(|(_, age)| age.is_some_and(|a| a > STALE_AFTER_MS))
        .map(|(data, _)| *data)
        .collect();
    if stale.is_empty() {
        Check::pass(ID, TITLE, format!("newest: {text}"))
    } else {
        Check::warn(
            ID,
            TITLE,
            format!("newest: {text}"),
            format!(
                "no {} written for over a day: check CCAI's export (Settings › Developer \
                 Settings › Session Data Export) unless the contact center was quiet",
                stale.join(", ")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Verdict;

    #[test]
    fn r_f_1_a_type_whose_newest_file_is_a_day_old_is_flagged() {
        let fresh = ages_check(&[("recordings", Some(120_000)), ("metadata", Some(3_600_000))]);
        assert_eq!(fresh.verdict, Verdict::Pass);
        assert_eq!(
            fresh.found,
            "newest: recordings 2 min old, metadata 60 min old"
        );
        let stale = ages_check(&[
            ("recordings", Some(60_000)),
            ("transcripts", Some(3 * STALE_AFTER_MS)),
        ]);
        assert_eq!(stale.verdict, Verdict::Warn);
        assert!(stale.fix.unwrap().starts_with("no transcripts written"));
        assert_eq!(ages_check(&[]).verdict, Verdict::Unchecked);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Sample {
    Metadata,
    Transcript,
}

/// One file of the kind read whole and parsed as the workers parse it; its keys against the
/// model's.
async fn sample(
    storage: &dyn ExternalStorage,
    files: &[(&String, FileKind)],
    which: Sample,
) -> Check {
    let (id, title, kind) = match which {
        Sample::Metadata => (
            "storage.metadata_file",
            "External storage: a metadata file, as the bridge reads it",
            DocumentKind::MetadataFile,
        ),
        Sample::Transcript => (
            "storage.transcript",
            "External storage: a chat transcript, as the bridge reads it",
            DocumentKind::Transcript,
        ),
    };
    let Some((name, _)) = files.iter().rev().find(|(_, kind)| match which {
        Sample::Metadata => *kind == FileKind::Metadata,
        Sample::Transcript => *kind == FileKind::Transcript,
    }) else {
        return Check::unchecked(
            id,
            title,
            "none in the bucket",
            "read one once CCAI exports it",
        );
    };
    let bytes = match read_whole(storage, name, SMALL_FILE).await {
        Ok(bytes) => bytes,
        Err(err) => {
            return Check::fail(
                id,
                title,
                err.to_string(),
                "the key must read objects, not only list them",
            );
        }
    };
    let document = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
    // What each worker needs to read the file as a document, not as text: a metadata file the
    // metadata parser takes; a transcript with its `entries` list (transcript_file.rs).
    let parsed = match which {
        Sample::Metadata => bridge_shared::storage::metadata::parse_metadata(&bytes).is_some(),
        Sample::Transcript => document
            .as_ref()
            .and_then(|d| d.get("entries"))
            .is_some_and(serde_json::Value::is_array),
    };
    let Some(document) = document.filter(|_| parsed) else {
        return Check::fail(
            id,
            title,
            format!("{name}: not read as a JSON document"),
            "the export's format is not the documented one (ccai-api.md §3): report it with the \
             file's keys (GET /admin/shapes)",
        );
    };
    let report = bridge_shared::shapes::book::report_of_document(kind, &document);
    if report.unread.is_empty() && report.missing.is_empty() {
        return Check::pass(id, title, format!("{name}: read, every key known"));
    }
    Check::warn(
        id,
        title,
        format!(
            "{name}: read; keys the bridge does not read: {}; expected and missing: {}",
            none_or(&report.unread),
            none_or(&report.missing.keys().cloned().collect::<Vec<_>>())
        ),
        "nothing to do unless a missing key is one the bridge needs; the record keeps \
             counting (GET /admin/shapes)",
    )
}

fn none_or(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
