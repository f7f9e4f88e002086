//! The demo's external-storage scenario (issue 11; R-R-1, R-X-1, R-E-6): CCAI Platform writes
//! recordings, transcripts and metadata into the tenant's bucket (the S3 stand-in, or a folder
//! without services), late or never, and pushes the bucket's signed notifications; the bridge
//! attaches each once — through the push, or the scheduled look when the push did not get
//! through — and gives up on a file that never comes only at the deadline, saying why.

use crate::backends::Backends;
use crate::functions::{DEMO_EVENTS_PASSWORD, DEMO_EVENTS_USER, Platforms, Tokens, demo_host};
use crate::report::Section;
use crate::sessions::{count_deliveries, notes_ending, start_streams};
use bridge_shared::UnixMillis;
use bridge_shared::storage::awaited::look_for_files;
use bridge_shared::storage::push::PushVerifier;
use bridge_tests::ccai_sandbox::{
    CcaiSandboxOptions, EventSink, FileDelays, Published, PushTarget, ScenarioDriver,
};
use bridge_tests::platforms::SandboxedPlatforms;
use bridge_tests::pubsub::{PushSigner, TokenClaims};
use std::sync::Arc;
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);

pub async fn external_storage(backends: &Backends, run: &str) -> crate::demo::Outcome {
    // The platform writes recordings 2 minutes after the end, transcripts after 3, metadata
    // after 15 and again after 20 (on the sandbox's file clock, which the demo moves forward),
    // and pushes each object's notification, every one twice.
    let push = PushTarget {
        duplicate: true,
        ..PushTarget::to("http://127.0.0.1:9/webhooks/storage")
    };
    let sandboxes = SandboxedPlatforms::start_with(CcaiSandboxOptions {
        file_delays: FileDelays::realistic(),
        push: Some(push.clone()),
        ..CcaiSandboxOptions::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let ccai = &sandboxes.ccai;
    let agent = sandboxes.add_agent(&format!("dee.files.{run}@example.com"), "Dee", "Available");
    let platforms = Platforms::of(&sandboxes);
    let push_settings = ccai
        .push_settings()
        .ok_or("the sandbox has no push target")?;
    let bucket = push_settings.bucket.clone().unwrap_or_default();
    let tokens = Tokens::demo(Some(Arc::new(PushVerifier::new(
        push_settings,
        bridge_shared::http::builder()
            .build()
            .map_err(|e| e.to_string())?,
    ))));
    let host = demo_host(backends.store.clone(), &platforms, &tokens).await?;
    let push_url = format!("{}/webhooks/storage", host.base_url);
    ccai.reconfigure(|o| {
        o.push = Some(PushTarget {
            url: push_url.clone(),
            ..push.clone()
        })
    });
    let streams = start_streams(backends, &platforms).await?;
    let drain = || async {
        if streams.drain(Duration::from_secs(20)).await {
            Ok(())
        } else {
            Err("the stream was not drained within 20 s".to_owned())
        }
    };
    let publish = |by: Duration| async move {
        ccai.advance_files(by);
        ccai.publish_due().await.map_err(|e| e.to_string())
    };
    let mut section = Section::done(
        "Files from the tenant's external storage: late, pushed, or never (R-R-1, R-X-1, R-E-6)",
    );
    let sink = EventSink::new(
        &format!("{}/webhooks/ccai", host.base_url),
        DEMO_EVENTS_USER,
        DEMO_EVENTS_PASSWORD,
    );
    let driver = ScenarioDriver::new(ccai, Some(sink));

    // A call whose recording lands two minutes after the call: the push brings it.
    let late = driver.ivr_call_answered(agent, "+15550107801").await;
    driver.csat("call", late.session_id, 5, Some("Quick and kind"));
    // A call whose recording never comes.
    let never = driver.ivr_call_answered(agent, "+15550107802").await;
    ccai.change(|w| w.withheld.insert(format!("call-{}.mp3", never.session_id)));
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

    // Two minutes later the recording lands; its notification is pushed twice.
    let pushed = publish(2 * MINUTE).await?;
    drain().await?;
    section.line(format!(
        "+2 min: {} landed, {} push(es) acknowledged (each sent twice); {} recording(s) attached",
        pushed.written.join(", "),
        pushed.pushes_acked,
        attached("-recording")
    ));
    let forged = bridge_shared::http::builder()
        .build()
        .map_err(|e| e.to_string())?
        .post(&push_url)
        .bearer_auth(PushSigner::new().token(&TokenClaims::google(
            "https://elsewhere.example.com",
            &push.service_account,
        )))
        .json(&bridge_tests::pubsub::envelope(
            &bucket,
            &ccai.object_name(&format!("call-{}.mp3", late.session_id)),
            1,
        ))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .status()
        .as_u16();
    section.line(format!(
        "a push signed with the right key for another audience: {forged}"
    ));

    // The push endpoint is unreachable when the transcript lands: Pub/Sub keeps the push.
    ccai.reconfigure(|o| {
        o.push = Some(PushTarget {
            url: "http://127.0.0.1:9/unreachable".into(),
            ..push.clone()
        })
    });
    let missed = publish(MINUTE).await?;
    ccai.reconfigure(|o| {
        o.push = Some(PushTarget {
            url: push_url.clone(),
            ..push.clone()
        })
    });
    section.line(format!(
        "+3 min: {} landed while the push endpoint was down ({} push(es) kept for redelivery)",
        missed.written.join(", "),
        missed.pushes_pending
    ));
    // The scheduled look (the next run of bridge-reconcile) finds it; the redelivered push
    // comes after and attaches nothing more.
    let look = look_for_files(
        backends.store.as_ref(),
        MINUTE,
        24 * 60 * MINUTE,
        bridge_shared::audit::DEFAULT_KEPT,
        UnixMillis::now().plus(MINUTE),
    )
    .await
    .map_err(|e| e.to_string())?;
    drain().await?;
    let transcripts_after_look = attached("-transcript");
    let redelivered = publish(Duration::ZERO).await?;
    drain().await?;
    section.line(format!(
        "the scheduled look: {} session(s) waiting, {} looked for again; chat {}'s transcripts attached: {} after the look, {} after the redelivered push ({} acknowledged)",
        look.waiting,
        look.looked,
        chat.session_id,
        transcripts_after_look,
        attached("-transcript"),
        redelivered.pushes_acked
    ));
    // The metadata files land at +15 min and are rewritten at +20 (with the survey's comment).
    let metadata = publish(12 * MINUTE).await?;
    drain().await?;
    let rewritten = publish(5 * MINUTE).await?;
    drain().await?;
    let metadata_files = |round: &Published| {
        round
            .written
            .iter()
            .filter(|n| n.starts_with("metadata"))
            .count() as u64
    };
    // Each comment note by its external id and conversation: a second one says whose.
    let noted: Vec<String> = sandboxes.kustomer.inspect(|w| {
        w.notes
            .iter()
            .filter(|n| {
                n.text("body")
                    .is_some_and(|b| b.starts_with("Customer comment"))
            })
            .map(|n| {
                format!(
                    "{} on {}",
                    n.text("externalId").unwrap_or("no external id"),
                    n.related("conversation").unwrap_or("no conversation")
                )
            })
            .collect()
    });
    let comments = noted.len() as u64;
    if comments > 1 {
        section.line(format!("comment notes: {}", noted.join("; ")));
    }
    section.line(format!(
        "+15 min: {} metadata file(s) landed; +20 min: {} rewritten (new generations, pushed, one with the survey's comment) — customer comments noted: {comments}",
        metadata_files(&metadata),
        metadata_files(&rewritten),
    ));
    // A day later the recording that never came is given up, with its reason.
    let later = look_for_files(
        backends.store.as_ref(),
        MINUTE,
        24 * 60 * MINUTE,
        bridge_shared::audit::DEFAULT_KEPT,
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
    section.count("pushes refused", u64::from(forged == 401));
    section.count("recording pushes acknowledged", pushed.pushes_acked as u64);
    section.count(
        "transcripts attached by the scheduled look",
        transcripts_after_look as u64,
    );
    section.count(
        "pushes redelivered and acknowledged",
        redelivered.pushes_acked as u64,
    );
    section.count("metadata files rewritten", metadata_files(&rewritten));
    section.count("customer comments noted", comments);
    section.count(
        "files given up at the deadline",
        later.given_up.len() as u64,
    );
    count_deliveries(&mut section, &streams);
    Ok(vec![section])
}
