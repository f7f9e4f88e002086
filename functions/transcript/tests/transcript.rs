//! The transcript worker end to end (R-X-1, R-D-3): a chat played in the CCAI sandbox, which
//! writes its transcript (JSON 1.0) into the tenant's external storage; its End trigger
//! delivered as a stream batch; the rendered transcript stored (files under a temporary
//! folder), attached through the Kustomer sandbox's upload flow, on a note.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_shared::UnixMillis;
use bridge_shared::blob::FsBlobStore;
use bridge_shared::conversation::render_transcript_file;
use bridge_shared::store::EmbeddedStore;
use bridge_tests::ccai_sandbox::{CcaiSandboxOptions, FileDelays, ScenarioDriver};
use bridge_tests::kustomer_sandbox::{Fault, FaultMatch};
use bridge_tests::platforms::SandboxedPlatforms;
use bridge_transcript::{TranscriptApi, handle};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn r_x_1_r_d_3_r_e_2_the_transcript_is_stored_and_attached_on_a_note_once() {
    // The transcript lands a minute after the chat ends.
    let platforms = SandboxedPlatforms::start_with(CcaiSandboxOptions {
        file_delays: FileDelays {
            transcript: Duration::from_secs(60),
            ..FileDelays::default()
        },
        ..CcaiSandboxOptions::default()
    })
    .await
    .unwrap();
    let store = Arc::new(EmbeddedStore::new());
    let files = std::env::temp_dir().join(bridge_tests::unique("transcripts"));
    let api = TranscriptApi {
        status: platforms.status_service(store.clone()),
        store,
        blobs: Arc::new(FsBlobStore::new(files.clone())),
        storage: platforms.storage.clone(),
        ccai: platforms.ccai_client.clone(),
        kustomer: platforms.kustomer_client.clone(),
        caller_country: Default::default(),
        exported: Default::default(),
        failures: Default::default(),
        max_attachment_bytes: u64::MAX,
    };
    let agent = platforms.add_agent(
        &format!("{}@example.com", bridge_tests::unique("ana")),
        "Ana",
        "Available",
    );
    let driver = ScenarioDriver::new(&platforms.ccai, None);
    let chat = driver
        .chat_with_transcript(
            agent,
            &bridge_tests::unique("web"),
            &[("end_user", "Where is my order?"), ("agent", "On its way")],
        )
        .await;
    let ended = chat.events.iter().find(|e| e.stage == "End").unwrap();
    let item = bridge_intake::inbox_item(&ended.trigger(), UnixMillis::now()).unwrap();
    let deliver = |first| {
        let batch = bridge_tests::stream_support::inserts(std::slice::from_ref(&item), first);
        let api = &api;
        async move { handle(api, batch, UnixMillis::now()).await.unwrap() }
    };
    // R-E-6: the transcript has not landed yet: nothing happens, nothing fails.
    assert!(deliver(1).await.batch_item_failures.is_empty());
    assert!(platforms.kustomer.inspect(|w| w.notes.is_empty()));
    platforms.ccai.advance_files(Duration::from_secs(60));
    let landed = platforms.ccai.publish_due().await.unwrap().written;
    assert!(
        landed.contains(&format!("chat-{}.txt", chat.session_id)),
        "{landed:?}"
    );
    // R-E-2: the note's answer is lost (Kustomer wrote it); the client finds it among the
    // conversation's notes instead of writing it again (no 409 to rely on).
    platforms.kustomer.inject(
        FaultMatch::body(lambda_http::http::Method::POST, "/notes", "-transcript\""),
        Fault::LoseAnswer,
    );
    assert!(deliver(2).await.batch_item_failures.is_empty());
    assert!(
        platforms.kustomer.inspect(|w| w
            .requests
            .iter()
            .any(|r| r.method == "GET" && r.path.ends_with("/notes"))),
        "the lost note was looked for"
    );

    let exported = platforms
        .ccai
        .inspect(|w| w.transcripts[&chat.session_id].to_string());
    let expected = render_transcript_file(chat.session_id, exported.as_bytes()).text;
    assert!(
        expected.contains("(customer): Where is my order?"),
        "{expected}"
    );
    assert!(expected.contains("times America/Los_Angeles"));
    let notes = platforms.kustomer.inspect(|w| w.notes.clone());
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0]
            .text("body")
            .unwrap()
            .starts_with("Chat transcript (2 messages)")
    );
    let attachment = notes[0].attributes["attachments"][0].clone();
    assert_eq!(
        attachment["name"],
        format!("chat-{}.txt", chat.session_id).as_str()
    );
    let uploads: Vec<_> = platforms
        .kustomer
        .inspect(|w| w.uploads.values().cloned().collect());
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].bytes, expected.len() as u64);
    assert_eq!(
        uploads[0].sha256,
        hex::encode(Sha256::digest(expected.as_bytes()))
    );

    // Delivered again: nothing new in Kustomer.
    let requests = platforms.kustomer.request_count();
    assert!(deliver(3).await.batch_item_failures.is_empty());
    assert_eq!(platforms.kustomer.request_count(), requests);
    let _ = std::fs::remove_dir_all(files);
}
