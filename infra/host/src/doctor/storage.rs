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
    let aws = bridge_shared::aws::load_config().await;
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
    checks.push(sample(&storage, &files, Sample::Metadata).await);
    checks.push(sample(&storage, &files, Sample::Transcript).await);
    checks
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
