//! The demo's session-event scenario (R-E-1 … R-E-3): the CCAI scenario driver plays calls and
//! a chat, sending signed session events over HTTP to the intake through the local host, with
//! every event delivered twice and one sender using a wrong secret.

use crate::backends::Backends;
use crate::functions::{Platforms, Tokens, handlers};
use crate::host::LocalHost;
use crate::report::Section;
use crate::routes::{TEMPLATE, template_routes};
use bridge_shared::config::Secret;
use bridge_tests::ccai_sandbox::{Delivery, EventSink, Played, ScenarioDriver};
use bridge_tests::platforms::SandboxedPlatforms;

const SECRET: &str = "demo-webhook-secret";

fn tally(played: &[Played], status: u16) -> u64 {
    played
        .iter()
        .flat_map(|p| &p.events)
        .flat_map(|e| &e.deliveries)
        .filter(|d| **d == Some(status))
        .count() as u64
}

pub async fn session_events(backends: &Backends, run: &str) -> Result<Section, String> {
    let sandboxes = SandboxedPlatforms::start()
        .await
        .map_err(|e| e.to_string())?;
    let agent = sandboxes.add_agent(
        &format!("ana.sessions.{run}@example.com"),
        "Ana",
        "Available",
    );
    let platforms = Platforms {
        ccai: sandboxes.ccai_client.clone(),
        kustomer: sandboxes.kustomer_client.clone(),
    };
    let tokens = Tokens {
        bridge: Secret::new("demo-bridge-token"),
        admin: Secret::new("demo-admin-token"),
        ccai_webhook: vec![Secret::new(SECRET)],
    };
    let host = LocalHost::start(
        "127.0.0.1:0",
        template_routes(TEMPLATE)?,
        handlers(backends.store.clone(), &platforms, &tokens),
    )
    .await
    .map_err(|e| e.to_string())?;
    let url = format!("{}/webhooks/ccai", host.base_url);

    let mut driver = ScenarioDriver::new(&sandboxes.ccai, Some(EventSink::new(&url, SECRET, None)));
    driver.delivery = Delivery {
        duplicate: true,
        ..Default::default()
    };
    let phone = "+15550104477";
    let played = vec![
        driver.ivr_call_answered(agent, phone).await,
        driver.abandoned_call(phone).await,
        driver.voicemail(phone, Some("read")).await,
        driver
            .chat_with_transcript(
                agent,
                "web-user-1",
                &[("end_user", "Where is my order?"), ("agent", "On its way")],
            )
            .await,
    ];
    let forged = ScenarioDriver::new(
        &sandboxes.ccai,
        Some(EventSink::new(&url, "not-the-secret", None)),
    );
    let refused = forged.abandoned_call(phone).await;

    let mut section =
        Section::done("CCAI session events through the signed webhook (R-E-1 to R-E-3)");
    for session in &played {
        section.line(format!(
            "{} {}: {}",
            session.kind,
            session.session_id,
            session.types().join(", ")
        ));
    }
    section.line(format!(
        "a sender with the wrong secret: {} events refused (401), nothing stored",
        tally(std::slice::from_ref(&refused), 401)
    ));
    let sent: u64 = played.iter().map(|p| p.events.len() as u64).sum();
    section.count("events in", 2 * sent);
    section.count("stored once", tally(&played, 202));
    section.count("duplicates ignored", tally(&played, 200));
    section.count(
        "refused (bad signature)",
        tally(std::slice::from_ref(&refused), 401),
    );
    Ok(section)
}
