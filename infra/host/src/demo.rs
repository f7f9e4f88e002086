//! The demo: plays scenarios through the real store and blob adapters and reports what
//! happened. Features that do not exist yet are reported as such, never simulated.

use crate::backends::Backends;
use crate::report::{Report, Section};
use bridge_shared::UnixMillis;
use bridge_shared::blob::{BlobKey, ByteStream};
use bridge_shared::store::{Claim, Item, ItemKey, LeaseAcquisition, PutOutcome, StoreError};
use bytes::Bytes;
use futures::StreamExt;
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(30);

/// A scenario's sections (most have one), or why it failed.
pub type Outcome = Result<Vec<Section>, String>;

fn failed(what: &str) -> impl Fn(StoreError) -> String + '_ {
    move |err| format!("{what}: {err}")
}

/// Three tabs of one agent open at once (R-S-4).
async fn agent_tabs(backends: &Backends, run: &str) -> Outcome {
    let store = &backends.store;
    let resource = ItemKey::agent_lease(&format!("ana.{run}@example.com"));
    let now = UnixMillis::now();
    let tabs = ["tab-1", "tab-2", "tab-3"];
    let claims = futures::future::join_all(
        tabs.iter()
            .map(|tab| store.acquire_lease(&resource, tab, now, LEASE)),
    )
    .await;
    let mut section = Section::done("Agent tabs race for the lease (R-S-4)");
    let mut winner = None;
    for (tab, claim) in tabs.iter().zip(claims) {
        match claim.map_err(failed("lease claim"))? {
            LeaseAcquisition::Acquired(lease) => {
                section.line(format!(
                    "{tab}: holds the lease, fencing token {}",
                    lease.fencing_token
                ));
                winner = Some(lease);
            }
            LeaseAcquisition::Held(holder) => section.line(format!(
                "{tab}: refused (409): held by {} for {} s",
                holder.owner,
                now.until(holder.expires_at).as_secs()
            )),
        }
    }
    let winner = winner.ok_or("no tab won the lease")?;
    section.count("lease winners", 1);

    // The winning tab is closed without releasing; 31 s later another tab takes over.
    let later = now.plus(LEASE + Duration::from_secs(1));
    let loser = tabs
        .iter()
        .find(|t| **t != winner.owner)
        .copied()
        .unwrap_or("tab-x");
    match store
        .acquire_lease(&resource, loser, later, LEASE)
        .await
        .map_err(failed("takeover"))?
    {
        LeaseAcquisition::Acquired(lease) => section.line(format!(
            "31 s later {loser} takes over the expired lease, fencing token {}",
            lease.fencing_token
        )),
        LeaseAcquisition::Held(holder) => return Err(format!("takeover refused: {holder:?}")),
    }
    match store.renew_lease(&winner, later, LEASE).await {
        Err(StoreError::LeaseLost { .. }) => section.line(format!(
            "{}'s stale renewal (token {}) is refused",
            winner.owner, winner.fencing_token
        )),
        other => return Err(format!("stale renewal was not refused: {other:?}")),
    }
    Ok(vec![section])
}

/// One CCAI event delivered four times at once (R-E-2 at the store level).
async fn duplicate_delivery(backends: &Backends, run: &str) -> Outcome {
    let store = &backends.store;
    let key = format!("demo-{run}-evt-1");
    let now = UnixMillis::now();
    let keep = Duration::from_secs(3600);
    let claims = futures::future::join_all(
        (0..4).map(|_| store.claim(&key, now, Duration::from_secs(30), keep)),
    )
    .await;
    let mut section = Section::done("The same event delivered four times at once (R-E-2)");
    let (mut applied, mut duplicates) = (0, 0);
    for claim in claims {
        match claim.map_err(failed("claim"))? {
            Claim::Claimed(ticket) => {
                applied += 1;
                store
                    .complete(&ticket, &serde_json::json!({"applied": true}), now, keep)
                    .await
                    .map_err(failed("complete"))?;
            }
            Claim::Duplicate(record) => {
                duplicates += 1;
                section.line(format!(
                    "a duplicate saw the first delivery {:?}",
                    record.status
                ));
            }
        }
    }
    section.count("events in", 4);
    section.count("applied", applied);
    section.count("duplicates ignored", duplicates);
    Ok(vec![section])
}

/// Status changes arriving out of order: only the newest stays.
async fn out_of_order(backends: &Backends, run: &str) -> Outcome {
    let store = &backends.store;
    let key = ItemKey::new(format!("DEMO#{run}"), "VERSIONED");
    let mut section = Section::done("Changes arriving out of order (versioned put)");
    for (version, status) in [(3, "Lunch"), (1, "Available"), (2, "Break")] {
        let item =
            Item::new(key.clone(), serde_json::json!({"status": status})).with_version(version);
        let outcome = store
            .put_if_newer(&item)
            .await
            .map_err(failed("versioned put"))?;
        section.line(match outcome {
            PutOutcome::Written => format!("version {version} ({status}) written"),
            PutOutcome::Kept(stored) => format!(
                "version {version} ({status}) dropped: version {} is newer",
                stored.version
            ),
        });
    }
    let stored = store
        .get(&key, UnixMillis::now())
        .await
        .map_err(failed("read"))?
        .ok_or("status missing")?;
    section.line(format!("stored: {}", stored.body["status"]));
    Ok(vec![section])
}

fn recording(size: u64) -> ByteStream {
    let chunk = Bytes::from(vec![0x5a; 64 * 1024]);
    futures::stream::unfold(0u64, move |sent| {
        let chunk = chunk.clone();
        async move {
            (sent < size).then(|| {
                let len = (size - sent).min(chunk.len() as u64) as usize;
                (Ok(chunk.slice(..len)), sent + len as u64)
            })
        }
    })
    .boxed()
}

/// A 20 MiB recording streamed into the blob store, then a retry that finds it stored.
async fn recording_stream(backends: &Backends, run: &str) -> Outcome {
    let call_id = 987;
    let key = BlobKey::parse(&format!("demo/{run}/recordings/call-{call_id}.mp3"))
        .map_err(|err| err.to_string())?;
    let size = 20 * 1024 * 1024;
    let report = backends
        .blobs
        .upload(&key, "audio/mpeg", recording(size))
        .await
        .map_err(|err| err.to_string())?;
    let mut section =
        Section::done("A 20 MiB recording streamed into the blob store (R-R-1, R-R-2)");
    section.line(format!(
        "stored {key}: {} bytes in {}",
        report.size,
        if report.parts == 0 {
            "one request".to_owned()
        } else {
            format!("{} parts", report.parts)
        }
    ));
    match backends
        .blobs
        .stat(&key)
        .await
        .map_err(|err| err.to_string())?
    {
        Some(meta) if meta.size == size => section
            .line("a retried worker finds it by its key and does not download it again".to_owned()),
        other => return Err(format!("recording not found after upload: {other:?}")),
    }
    section.count("recording bytes", report.size);
    Ok(vec![section])
}

/// How many scenarios the demo plays (for the progress display).
pub const SCENARIOS: usize = 12;

/// Plays every scenario and returns the report. A scenario that fails is reported as failed.
pub async fn run(backends: &Backends, progress: &mut dyn FnMut(&str)) -> Report {
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let mut report = Report::new(&backends.store_name, &backends.blobs_name);
    type Scenario = for<'a> fn(&'a Backends, &'a str) -> futures::future::BoxFuture<'a, Outcome>;
    let scenarios: [(&str, Scenario); SCENARIOS] = [
        ("agent tabs", |b, r| Box::pin(agent_tabs(b, r))),
        ("duplicate delivery", |b, r| {
            Box::pin(duplicate_delivery(b, r))
        }),
        ("out-of-order changes", |b, r| Box::pin(out_of_order(b, r))),
        ("recording stream", |b, r| Box::pin(recording_stream(b, r))),
        ("agent status", |b, r| {
            Box::pin(crate::agents::agent_status(b, r))
        }),
        ("session events", |b, r| {
            Box::pin(crate::sessions::session_events(b, r))
        }),
        ("two tenants", |b, r| {
            Box::pin(crate::tenants::two_tenants(b, r))
        }),
        ("external storage", |b, r| {
            Box::pin(crate::files::external_storage(b, r))
        }),
        ("custom fields", |b, r| {
            Box::pin(crate::fields::custom_fields(b, r))
        }),
        ("click-to-call", |b, r| {
            Box::pin(crate::agent_side::agent_side(b, r))
        }),
        ("shadow mode", |b, r| {
            Box::pin(crate::shadow::shadow_mode(b, r))
        }),
        // Last: what every scenario before it made the platforms send.
        ("what the platforms sent", |b, r| {
            Box::pin(crate::shapes::what_the_platforms_sent(b, r))
        }),
    ];
    for (name, scenario) in scenarios {
        progress(name);
        let sections = scenario(backends, &run)
            .await
            .unwrap_or_else(|err| vec![Section::failed(name, &err)]);
        for section in sections {
            report.push(section);
        }
    }
    report
}
