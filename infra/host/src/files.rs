//! The demo's external-storage scenario (issue 11; R-R-1, R-X-1, R-E-6): CCAI Platform writes
//! recordings and transcripts into the tenant's bucket (here a folder), late or never; the
//! bridge attaches each once — through the bucket's Google-signed push, or the scheduled look —
//! and gives up on a file that never comes only at the deadline, saying why.

use crate::backends::Backends;
use crate::functions::{Platforms, Tokens, handlers};
use crate::host::LocalHost;
use crate::report::Section;
use crate::routes::{TEMPLATE, template_routes};
use crate::sessions::{count_deliveries, notes_ending, start_streams};
use bridge_shared::UnixMillis;
use bridge_shared::config::{BasicCredential, Secret};
use bridge_shared::storage::awaited::look_for_files;
use bridge_shared::storage::push::PushVerifier;
use bridge_tests::ccai_sandbox::{EventSink, ScenarioDriver};
use bridge_tests::platforms::SandboxedPlatforms;
use bridge_tests::storage_support::StoragePusher;
use std::sync::Arc;
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);

pub async fn external_storage(backends: &Backends, run: &str) -> crate::demo::Outcome {
    let sandboxes = SandboxedPlatforms::start()
        .await
        .map_err(|e| e.to_string())?;
    let prefix = sandboxes.ccai.options().external_prefix;
    let agent = sandboxes.add_agent(&format!("dee.files.{run}@example.com"), "Dee", "Available");
    let pusher = StoragePusher::start("tenant-exports").await;
    let platforms = Platforms::of(&sandboxes);
    let tokens = Tokens {
        bridge: Secret::new("demo-bridge-token"),
        admin: Secret::new("demo-admin-token"),
        ccai_events: vec![BasicCredential {
            user: "ccai-events".into(),
            password: Secret::new("demo-events-password"),
        }],
        storage_push: Some(Arc::new(PushVerifier::new(
            pusher.settings(),
            reqwest::Client::new(),
        ))),
    };
    let host = LocalHost::start(
        "127.0.0.1:0",
        template_routes(TEMPLATE)?,
        handlers(backends.store.clone(), &platforms, &tokens),
    )
    .await
    .map_err(|e| e.to_string())?;
    let streams = start_streams(backends, &platforms).await?;
    let drain = || async {
        if streams.drain(Duration::from_secs(20)).await {
            Ok(())
        } else {
            Err("the stream was not drained within 20 s".to_owned())
        }
    };
    let mut section = Section::done(
        "Files from the tenant's external storage: late, pushed, or never (R-R-1, R-X-1, R-E-6)",
    );
    let sink = EventSink::new(
        &format!("{}/webhooks/ccai", host.base_url),
        "ccai-events",
        "demo-events-password",
    );
    let mut driver = ScenarioDriver::new(&sandboxes.ccai, Some(sink));
    driver.hold_files = true;

    // A call whose recording lands after the call: the push brings it.
    let late = driver.ivr_call_answered(agent, "+15550107801").await;
    // A call whose recording never comes.
    let never = driver.ivr_call_answered(agent, "+15550107802").await;
    sandboxes
        .ccai
        .change(|w| w.withheld.insert(format!("call-{}.mp3", never.session_id)));
    // A chat whose transcript lands later, with no push: the scheduled look finds it.
    let chat = driver
        .chat_with_transcript(
            agent,
            &format!("web-files-{run}"),
            &[("end_user", "Hi"), ("agent", "Hello")],
        )
        .await;
    drain().await?;
    let attached = |suffix: &'static str| {
        sandboxes
            .kustomer
            .inspect(|w| notes_ending(w, suffix).count())
    };
    section.line(format!(
        "the sessions ended, no file in the bucket yet: {} recording(s) and {} transcript(s) attached, nothing failed",
        attached("-recording"),
        attached("-transcript")
    ));

    // The files land; the bucket pushes the recording's OBJECT_FINALIZE (twice: at least once).
    let landed = sandboxes.ccai.publish_files().map_err(|e| e.to_string())?;
    let object = format!("{prefix}/call-{}.mp3", late.session_id);
    let token = pusher.token(&pusher.good_claims());
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let answer = http
            .post(format!("{}/webhooks/storage", host.base_url))
            .bearer_auth(&token)
            .json(&pusher.envelope(&object, 1))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        statuses.push(answer.status().as_u16());
    }
    let forged = http
        .post(format!("{}/webhooks/storage", host.base_url))
        .bearer_auth(pusher.token(&bridge_tests::storage_support::TokenClaims {
            audience: "https://elsewhere.example.com".into(),
            ..pusher.good_claims()
        }))
        .json(&pusher.envelope(&object, 2))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .status()
        .as_u16();
    drain().await?;
    section.line(format!(
        "{} file(s) landed; the push of call-{}.mp3 (sent twice): {:?}; a token for another audience: {forged}",
        landed.len(),
        late.session_id,
        statuses
    ));
    section.line(format!(
        "after the push: {} recording(s) attached",
        attached("-recording")
    ));

    // The scheduled look (the next run of bridge-reconcile, a minute later).
    let look = look_for_files(
        backends.store.as_ref(),
        MINUTE,
        24 * 60 * MINUTE,
        UnixMillis::now().plus(MINUTE),
    )
    .await
    .map_err(|e| e.to_string())?;
    drain().await?;
    section.line(format!(
        "the scheduled look: {} session(s) waiting, {} looked for again; chat {}'s transcript attached: {}",
        look.waiting,
        look.looked,
        chat.session_id,
        attached("-transcript") == 1
    ));
    // A day later the recording that never came is given up, with its reason.
    let later = look_for_files(
        backends.store.as_ref(),
        MINUTE,
        24 * 60 * MINUTE,
        UnixMillis::now().plus(25 * 60 * MINUTE),
    )
    .await
    .map_err(|e| e.to_string())?;
    let reason = backends
        .store
        .get(
            &bridge_shared::store::ItemKey::new(
                format!("SESSION#call#{}", never.session_id),
                "RECORDING",
            ),
            UnixMillis::now(),
        )
        .await
        .map_err(|e| e.to_string())?
        .and_then(|item| item.body["final"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "no final outcome".into());
    section.line(format!(
        "25 hours later: gave up on {} — call {}: {reason}",
        later.given_up.join(", "),
        never.session_id
    ));
    let unexpected = sandboxes.unexpected_requests();
    if !unexpected.is_empty() {
        return Err(format!(
            "requests the platforms would refuse: {unexpected:?}"
        ));
    }
    section.count("recordings attached", attached("-recording") as u64);
    section.count("transcripts attached", attached("-transcript") as u64);
    section.count(
        "pushes accepted",
        statuses.iter().filter(|s| **s == 204).count() as u64,
    );
    section.count("pushes refused", u64::from(forged == 401));
    section.count(
        "files given up at the deadline",
        later.given_up.len() as u64,
    );
    count_deliveries(&mut section, &streams);
    Ok(vec![section])
}
