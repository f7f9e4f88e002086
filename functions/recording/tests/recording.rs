//! The recording worker end to end (R-R-1, R-R-2, R-U-3): a call played in the CCAI sandbox,
//! which writes its recording into the tenant's external storage; its End trigger delivered as
//! a stream batch; the recording streamed from external storage into the S3 stand-in (moto)
//! through multipart upload, then into the Kustomer sandbox's attachment flow and a note;
//! state on DynamoDB Local.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_recording::{RecordingApi, handle};
use bridge_shared::UnixMillis;
use bridge_shared::blob::{BlobKey, BlobStore};
use bridge_shared::store::StateStore;
use bridge_tests::ccai_sandbox::recording_byte;
use bridge_tests::ccai_sandbox::{CcaiSandboxOptions, FileDelays, Played, ScenarioDriver};
use bridge_tests::kustomer_sandbox::{Fault, FaultMatch};
use bridge_tests::platforms::SandboxedPlatforms;
use bridge_tests::storage_support::WatchedStorage;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const MIB: u64 = 1024 * 1024;

struct Rig {
    platforms: SandboxedPlatforms,
    api: RecordingApi,
    storage: Arc<WatchedStorage>,
    sequence: AtomicU64,
}

async fn rig() -> Rig {
    rig_with(CcaiSandboxOptions::default()).await
}

async fn rig_with(options: CcaiSandboxOptions) -> Rig {
    let platforms = SandboxedPlatforms::start_with(options).await.unwrap();
    let store: Arc<dyn StateStore> = Arc::new(bridge_tests::local::dynamo_store().await);
    // 5 MiB parts, S3's minimum: a 12 MiB recording goes up in three.
    let blobs: Arc<dyn BlobStore> =
        Arc::new(bridge_tests::local::s3_blob_store(5 * 1024 * 1024).await);
    let storage = Arc::new(WatchedStorage::new(platforms.storage.clone()));
    let api = RecordingApi {
        status: platforms.status_service(store.clone()),
        store,
        blobs,
        storage: storage.clone(),
        ccai: platforms.ccai_client.clone(),
        kustomer: platforms.kustomer_client.clone(),
        caller_country: Default::default(),
        exported: Default::default(),
        failures: Default::default(),
        max_attachment_bytes: u64::MAX,
    };
    Rig {
        platforms,
        api,
        storage,
        sequence: AtomicU64::new(1),
    }
}

impl Rig {
    /// Delivers the session's `call.ended` event; the sequence numbers that failed.
    async fn deliver_end(&self, played: &Played) -> Vec<String> {
        let ended = played.events.iter().find(|e| e.stage == "End").unwrap();
        let item = bridge_intake::inbox_item(&ended.trigger(), UnixMillis::now()).unwrap();
        self.deliver_item(item).await
    }

    /// Delivers one stored inbox item as a stream batch; the sequence numbers that failed.
    async fn deliver_item(&self, item: bridge_shared::store::Item) -> Vec<String> {
        let first = self.sequence.fetch_add(1, Ordering::SeqCst);
        let batch = bridge_tests::stream_support::inserts(&[item], first);
        handle(&self.api, batch, UnixMillis::now())
            .await
            .unwrap()
            .batch_item_failures
            .into_iter()
            .filter_map(|f| f.item_identifier)
            .collect()
    }

    /// An agent both platforms know, Available.
    fn ana(&self) -> u64 {
        self.platforms.add_agent(
            &format!("{}@example.com", bridge_tests::unique("ana")),
            "Ana",
            "Available",
        )
    }

    fn recording_downloads(&self) -> usize {
        self.storage.opens()
    }

    fn attachment_creates(&self) -> usize {
        self.platforms
            .kustomer
            .requests_to("POST", "/v1/attachments")
    }

    fn recording_notes(&self) -> Vec<bridge_tests::kustomer_sandbox::Record> {
        self.platforms.kustomer.inspect(|w| {
            w.notes
                .iter()
                .filter(|n| {
                    n.text("externalId")
                        .is_some_and(|e| e.ends_with("-recording"))
                })
                .cloned()
                .collect()
        })
    }
}

fn expected_sha256(call_id: u64, size: u64) -> String {
    let mut hasher = Sha256::new();
    let mut chunk = Vec::with_capacity(64 * 1024);
    for offset in 0..size {
        chunk.push(recording_byte(call_id, offset));
        if chunk.len() == chunk.capacity() {
            hasher.update(&chunk);
            chunk.clear();
        }
    }
    hasher.update(&chunk);
    hex::encode(hasher.finalize())
}

async fn stored_size(rig: &Rig, call_id: u64) -> Option<u64> {
    let created = rig
        .platforms
        .ccai_client
        .call(call_id)
        .await
        .unwrap()
        .created_at
        .unwrap();
    let created = chrono::DateTime::parse_from_rfc3339(&created)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let key = BlobKey::recording(call_id, created, "mp3").unwrap();
    rig.api.blobs.stat(&key).await.unwrap().map(|m| m.size)
}

#[tokio::test]
async fn r_r_1_r_u_3_the_recording_is_stored_in_s3_and_attached_to_the_conversation_once() {
    let rig = rig().await;
    let agent = rig.ana();
    let size = 12 * MIB + 321;
    let mut driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    driver.recording_size = size;
    let call = driver.ivr_call_answered(agent, "+15550106601").await;

    assert!(rig.deliver_end(&call).await.is_empty());
    assert_eq!(
        stored_size(&rig, call.session_id).await,
        Some(size),
        "R-R-1: in the bucket"
    );
    let notes = rig.recording_notes();
    assert_eq!(notes.len(), 1, "R-U-3: one note");
    let conversation = rig
        .platforms
        .kustomer
        .inspect(|w| {
            w.find_by(
                "conversation",
                "externalId",
                &format!("ccai-call-{}", call.session_id),
            )
            .cloned()
        })
        .expect("the session's conversation");
    assert_eq!(
        notes[0].related("conversation"),
        Some(conversation.id.as_str())
    );
    let attachment = notes[0].attributes["attachments"][0].clone();
    assert_eq!(attachment["contentLength"], size);
    let uploads: Vec<_> = rig
        .platforms
        .kustomer
        .inspect(|w| w.uploads.values().cloned().collect());
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].bytes, size);
    assert_eq!(uploads[0].sha256, expected_sha256(call.session_id, size));

    // Delivered again (a retry, or the poller's call.ended): nothing is repeated.
    let (downloads, creates) = (rig.recording_downloads(), rig.attachment_creates());
    assert!(rig.deliver_end(&call).await.is_empty());
    assert_eq!(rig.recording_downloads(), downloads);
    assert_eq!(rig.attachment_creates(), creates);
    assert_eq!(rig.recording_notes().len(), 1);
}

#[tokio::test]
async fn r_r_2_a_download_cut_half_way_leaves_nothing_and_the_retry_completes() {
    let rig = rig().await;
    let agent = rig.ana();
    let size = 6 * MIB;
    let mut driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    driver.recording_size = size;
    let call = driver.ivr_call_answered(agent, "+15550106602").await;
    rig.storage.cut_after(Some(3 * MIB));
    assert_eq!(rig.deliver_end(&call).await.len(), 1, "the record fails");
    assert_eq!(
        stored_size(&rig, call.session_id).await,
        None,
        "no partial object"
    );
    assert!(rig.recording_notes().is_empty());

    rig.storage.cut_after(None);
    assert!(rig.deliver_end(&call).await.is_empty());
    assert_eq!(stored_size(&rig, call.session_id).await, Some(size));
    assert_eq!(rig.recording_notes().len(), 1);
}

/// R-E-7 with R-R-2: Kustomer refuses the attachment (a 400: permanent). The work is not
/// retried: it becomes a dead letter with its reason, the recording already stored. Once the
/// cause is fixed, the admin's replay attaches it — once, without downloading it again.
#[tokio::test]
async fn r_e_7_r_r_2_a_permanent_error_is_a_dead_letter_and_its_replay_applies_once() {
    use bridge_shared::stream::failures::{dead_letters, replay};
    let rig = rig().await;
    let agent = rig.ana();
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550106603").await;
    rig.platforms.kustomer.inject(
        FaultMatch::on(http::Method::POST, "/v1/attachments"),
        Fault::Answer(
            400,
            r#"{"errors":[{"status":"400","title":"attachments unavailable"}]}"#,
        ),
    );
    assert!(
        rig.deliver_end(&call).await.is_empty(),
        "a permanent error is not retried"
    );
    assert_eq!(rig.attachment_creates(), 1);
    assert!(stored_size(&rig, call.session_id).await.is_some());
    let downloads = rig.recording_downloads();
    assert_eq!(downloads, 1);
    let store = rig.api.store.as_ref();
    let letter = dead_letters(store, UnixMillis::now())
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.trigger.session.id == call.session_id)
        .expect("a dead letter");
    assert_eq!(letter.step, "bridge-recording");
    assert!(letter.permanent);
    assert_eq!(letter.attempts, 1);
    assert!(
        letter.last_error.contains("attachments unavailable"),
        "{letter:?}"
    );

    // The cause is fixed (the fault was the platform's, once); the admin replays the letter.
    let id = format!("{}#{}", letter.step, letter.id);
    let replayed = replay(store, Some(std::slice::from_ref(&id)), UnixMillis::now())
        .await
        .unwrap();
    assert_eq!(replayed.replayed, std::slice::from_ref(&id));
    let inbox = store
        .get(
            &bridge_shared::store::ItemKey::inbox(&replayed.triggers[0]),
            UnixMillis::now(),
        )
        .await
        .unwrap()
        .expect("the replay is in the inbox");
    assert!(rig.deliver_item(inbox).await.is_empty());
    assert_eq!(rig.recording_notes().len(), 1);
    assert_eq!(
        rig.recording_downloads(),
        downloads,
        "R-R-2: not downloaded twice"
    );
    // Replayed once: asked again, nothing is left to replay.
    let again = replay(store, Some(std::slice::from_ref(&id)), UnixMillis::now())
        .await
        .unwrap();
    assert_eq!(again.missing, [id]);
}

#[tokio::test]
async fn a_call_without_recording_is_skipped() {
    let rig = rig().await;
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let abandoned = driver.abandoned_call("+15550106604").await;
    assert!(rig.deliver_end(&abandoned).await.is_empty());
    assert_eq!(rig.attachment_creates(), 0);
    assert_eq!(rig.recording_downloads(), 0);
}

/// The platform writes each recording 90 s after its call ends.
async fn late_recording_rig() -> Rig {
    rig_with(CcaiSandboxOptions {
        file_delays: FileDelays {
            recording: Duration::from_secs(90),
            ..FileDelays::default()
        },
        ..CcaiSandboxOptions::default()
    })
    .await
}

#[tokio::test]
async fn r_e_6_a_recording_that_lands_after_the_calls_end_is_attached_by_a_later_trigger() {
    let rig = late_recording_rig().await;
    let agent = rig.ana();
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550106605").await;
    let recording = format!("call-{}.mp3", call.session_id);
    // The call ended; its recording is not in external storage yet.
    assert!(rig.deliver_end(&call).await.is_empty(), "not a failure");
    rig.platforms.ccai.advance_files(Duration::from_secs(89));
    assert!(
        !rig.platforms
            .ccai
            .publish_due()
            .await
            .unwrap()
            .written
            .contains(&recording)
    );
    assert!(
        rig.deliver_end(&call).await.is_empty(),
        "a second look, still nothing"
    );
    assert!(rig.recording_notes().is_empty());
    assert_eq!(rig.recording_downloads(), 0);
    // It lands; the next trigger (a poll, the scheduled look) attaches it, once.
    rig.platforms.ccai.advance_files(Duration::from_secs(1));
    assert!(
        rig.platforms
            .ccai
            .publish_due()
            .await
            .unwrap()
            .written
            .contains(&recording)
    );
    assert!(rig.deliver_end(&call).await.is_empty());
    assert!(rig.deliver_end(&call).await.is_empty());
    assert_eq!(rig.recording_notes().len(), 1);
    assert_eq!(rig.recording_downloads(), 1);
    // R-E-5, issue 25: four triggers, one Manager API read — the ended call is kept, and what
    // a file worker reads of it does not change once it ended.
    let reads = rig
        .platforms
        .ccai
        .requests()
        .iter()
        .filter(|r| r.path.ends_with(&format!("/calls/{}", call.session_id)))
        .count();
    assert_eq!(reads, 1, "the call read once for its four triggers");
}

#[tokio::test]
async fn r_r_1_r_u_7_an_end_user_photo_is_stored_and_attached_once() {
    let rig = rig().await;
    let agent = rig.ana();
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550106606").await;
    driver.smart_action(call.session_id, true);
    rig.platforms.ccai.publish_due().await.unwrap();
    assert!(rig.deliver_end(&call).await.is_empty());
    assert!(
        rig.deliver_end(&call).await.is_empty(),
        "again: nothing new"
    );
    let media: Vec<_> = rig.platforms.kustomer.inspect(|w| {
        w.notes
            .iter()
            .filter(|n| n.text("externalId").is_some_and(|e| e.contains("-media-")))
            .cloned()
            .collect()
    });
    assert_eq!(media.len(), 1, "one note per photo");
    let body = media[0].text("body").unwrap();
    assert!(
        body.starts_with("End-user photo (SmartAction): call-"),
        "{body}"
    );
    let attachment = &media[0].attributes["attachments"][0];
    assert_eq!(attachment["contentType"], "image/jpeg");
    assert_eq!(attachment["contentLength"], 20_004);
    // Stored in the files bucket under media/…, the recording beside it.
    assert_eq!(rig.recording_notes().len(), 1);
}

/// R-E-2 with R-R-1 and R-U-7: the recording's note and a photo's note each lose their answer
/// once, and with one attempt per request each loss fails the record, as an invocation that
/// times out would. Kustomer does not answer 409 to a reused note `externalId`; the progress
/// item's record of the note begun, and a look at the conversation's notes, keep each to one.
#[tokio::test]
async fn r_e_2_a_lost_answer_on_the_recording_and_photo_notes_leaves_exactly_one_each() {
    use bridge_tests::kustomer_sandbox::{Fault, FaultMatch};
    let mut rig = rig().await;
    rig.api.kustomer = Arc::new(bridge_tests::kustomer_support::one_attempt_client(
        &rig.platforms.kustomer,
    ));
    let agent = rig.ana();
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550106607").await;
    driver.smart_action(call.session_id, true);
    rig.platforms.ccai.publish_due().await.unwrap();
    for suffix in ["-recording\"", "-media-"] {
        rig.platforms.kustomer.inject(
            FaultMatch::body(http::Method::POST, "/notes", suffix),
            Fault::LoseAnswer,
        );
    }
    let mut failed = 0;
    while !rig.deliver_end(&call).await.is_empty() {
        failed += 1;
        assert!(failed < 10, "still failing");
    }
    assert_eq!(failed, 2, "each lost answer failed one delivery");
    let notes: Vec<String> = rig.platforms.kustomer.inspect(|w| {
        w.notes
            .iter()
            .filter_map(|n| n.text("externalId").map(str::to_owned))
            .collect()
    });
    let recording = notes.iter().filter(|e| e.ends_with("-recording")).count();
    let media = notes.iter().filter(|e| e.contains("-media-")).count();
    assert_eq!((recording, media), (1, 1), "{notes:?}");
    assert_eq!(
        rig.recording_downloads(),
        2,
        "R-R-2: the recording and the photo read once each"
    );
}

/// Review finding 6 (R-R-2, R-U-7): two triggers of one call (its End and Final on two shards)
/// attach its SmartAction photo at once. The first one's read of the photo is held; the second
/// finds the photo claimed and is retried; the photo is noted once.
#[tokio::test]
async fn finding_6_r_r_2_concurrent_triggers_attach_a_photo_once() {
    let rig = rig().await;
    let agent = rig.ana();
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550106611").await;
    driver.smart_action(call.session_id, true);
    rig.platforms.ccai.publish_due().await.unwrap();
    let session = bridge_shared::events::SessionRef {
        kind: bridge_shared::events::SessionKind::Call,
        id: call.session_id,
    };
    // The call is placed first (as the inbox worker would have): both triggers reach the photo.
    let view = rig
        .api
        .session_view(&session, UnixMillis::now())
        .await
        .unwrap();
    rig.api
        .contact()
        .sync(&view, UnixMillis::now())
        .await
        .unwrap();
    let gate = rig.storage.hold_opens();
    let first = rig
        .api
        .attach_session_media(&session, None, UnixMillis::now());
    let second = async {
        gate.arrivals(1).await;
        // Bounded: were the photo not claimed, this one would wait at the gate too.
        let second = tokio::time::timeout(
            Duration::from_secs(3),
            rig.api
                .attach_session_media(&session, None, UnixMillis::now()),
        )
        .await;
        gate.open();
        second
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.unwrap(), (1, 1));
    assert!(
        matches!(
            second,
            Ok(Err(
                bridge_shared::conversation::FileWorkerError::InProgressElsewhere(_)
            ))
        ),
        "the second finds the photo claimed: {second:?}"
    );
    let media = rig.platforms.kustomer.inspect(|w| {
        w.notes
            .iter()
            .filter(|n| n.text("externalId").is_some_and(|e| e.contains("-media-")))
            .count()
    });
    assert_eq!(media, 1);
}

/// Review finding 3 (R-E-6, R-R-1): the tenant's files land in a dated folder below the prefix,
/// not flat. The push names the object: the worker opens that key, attaches the recording, and
/// a later trigger without it (the End event) finds it done instead of waiting for a flat file.
#[tokio::test]
async fn finding_3_r_e_6_a_pushed_recording_in_a_dated_folder_is_attached() {
    let rig = rig_with(CcaiSandboxOptions {
        export_layout: bridge_tests::ccai_sandbox::ExportLayout::Folder("2026/12/02".into()),
        ..Default::default()
    })
    .await;
    let agent = rig.ana();
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550106612").await;
    rig.platforms.ccai.publish_due().await.unwrap();
    let name = format!("2026/12/02/call-{}.mp3", call.session_id);
    let pushed = bridge_shared::events::SessionTrigger {
        id: bridge_tests::unique("file"),
        hint: "call.file.recordings".into(),
        occurred_at: chrono::Utc::now(),
        session: bridge_shared::events::SessionRef {
            kind: bridge_shared::events::SessionKind::Call,
            id: call.session_id,
        },
        source: bridge_shared::events::TriggerSource::Storage,
        item: None,
        object: Some(name),
    };
    let item = bridge_intake::inbox_item(&pushed, UnixMillis::now()).unwrap();
    assert!(rig.deliver_item(item).await.is_empty());
    assert_eq!(rig.recording_notes().len(), 1);
    assert!(rig.deliver_end(&call).await.is_empty());
    assert_eq!(rig.recording_notes().len(), 1, "once");
    let waiting = rig
        .api
        .store
        .list_partition("AWAITING", UnixMillis::now())
        .await
        .unwrap();
    assert!(
        !waiting.iter().any(|w| w
            .key
            .sk
            .starts_with(&format!("call#{}#recording", call.session_id))),
        "nothing awaited: {waiting:?}"
    );
}

/// Review gap of finding 11 (R-R-1, R-U-3): an agent deletes the call's conversation in
/// Kustomer before its recording lands. The recording's note finds the conversation gone: the
/// session is placed again and the recording noted there, once — not retried against the
/// gone conversation until it is a dead letter.
#[tokio::test]
async fn finding_11_r_r_1_a_recording_for_a_deleted_conversation_lands_in_a_new_one() {
    let rig = late_recording_rig().await;
    let agent = rig.ana();
    let driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    let call = driver.ivr_call_answered(agent, "+15550106671").await;
    assert!(rig.deliver_end(&call).await.is_empty());
    // The inbox worker placed the call (the same contact-sync step).
    let session = bridge_shared::events::SessionRef {
        kind: bridge_shared::events::SessionKind::Call,
        id: call.session_id,
    };
    let view = rig
        .api
        .session_view(&session, UnixMillis::now())
        .await
        .unwrap();
    let contact = rig.api.contact();
    let placed = Box::pin(contact.conversation_of(&view, UnixMillis::now()))
        .await
        .unwrap()
        .unwrap();
    rig.platforms.kustomer.delete_conversation(&placed);

    rig.platforms.ccai.advance_files(Duration::from_secs(90));
    rig.platforms.ccai.publish_due().await.unwrap();
    assert!(rig.deliver_end(&call).await.is_empty(), "not a failure");
    let notes = rig.recording_notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    let noted_in = notes[0].related("conversation").unwrap().to_owned();
    assert_ne!(noted_in, placed);
    assert!(
        rig.platforms
            .kustomer
            .inspect(|w| w.conversations.iter().any(|c| c.id == noted_in)),
        "noted in a conversation Kustomer has"
    );
    assert_eq!(rig.recording_downloads(), 1);
    assert!(rig.deliver_end(&call).await.is_empty());
    assert_eq!(rig.recording_notes().len(), 1);
}

/// Review S15: a recording over `MAX_ATTACHMENT_MIB` is stored in the bucket but not sent to
/// Kustomer: a permanent dead letter saying so, not retried; no attachment is created.
#[tokio::test]
async fn s15_a_recording_over_the_attachment_limit_is_a_clear_dead_letter() {
    use bridge_shared::stream::failures::dead_letters;
    let mut rig = rig().await;
    rig.api.max_attachment_bytes = 2 * MIB;
    let agent = rig.ana();
    let mut driver = ScenarioDriver::new(&rig.platforms.ccai, None);
    driver.recording_size = 3 * MIB;
    let call = driver.ivr_call_answered(agent, "+15550106609").await;
    assert!(rig.deliver_end(&call).await.is_empty(), "not retried");
    assert_eq!(stored_size(&rig, call.session_id).await, Some(3 * MIB));
    assert_eq!(rig.attachment_creates(), 0);
    assert!(rig.recording_notes().is_empty());
    let letter = dead_letters(rig.api.store.as_ref(), UnixMillis::now())
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.trigger.session.id == call.session_id)
        .expect("a dead letter");
    assert!(letter.permanent);
    assert!(
        letter.last_error.contains("MAX_ATTACHMENT_MIB"),
        "{letter:?}"
    );
}
