//! The demo's custom-fields scenario (R-CF, R-U-9): two sessions start, then the admin creates
//! five fields and maps an SDK key through the admin API, then two more sessions start. All
//! four are synced afterwards, through the intake and the stream as in production: only the
//! sessions that started after the fields carry them (R-CF-3), on their one message; the
//! customer's rating, which comes later, completes the message (R-CF-4).

use crate::agents::Tab;
use crate::backends::Backends;
use crate::functions::{DEMO_EVENTS_PASSWORD, DEMO_EVENTS_USER, Platforms, Tokens, demo_host};
use crate::report::Section;
use crate::sessions::{count_deliveries, start_streams};
use bridge_shared::UnixMillis;
use bridge_tests::ccai_sandbox::{Delivery, EventSink, Played, ScenarioDriver};
use bridge_tests::platforms::SandboxedPlatforms;
use serde_json::{Value, json};
use std::time::Duration;

/// The five fields the admin creates mid-run.
const FIVE: [&str; 5] = [
    "queue_name",
    "session_type",
    "call_duration",
    "csat_rating",
    "custom_user_id",
];

fn custom_data(run: &str) -> Value {
    json!({"tier": {"value": "gold", "type": "string", "label": "Loyalty tier"},
           "cart": {"value": format!("cart-{run}"), "type": "string", "label": "Cart"}})
}

async fn remove_fields(admin: &Tab<'_>) -> Result<(), String> {
    for field in FIVE {
        admin
            .send(
                reqwest::Method::DELETE,
                &format!("/admin/custom-fields/{field}"),
                json!({}),
            )
            .await?;
    }
    Ok(())
}

pub async fn custom_fields(backends: &Backends, run: &str) -> crate::demo::Outcome {
    let sandboxes = SandboxedPlatforms::start()
        .await
        .map_err(|e| e.to_string())?;
    // An attribute the tenant defined in Kustomer before: an SDK key may be mapped to it.
    sandboxes.kustomer.inspect_mut(|w| {
        w.metadata.entry("message".into()).or_default().insert(
            "loyaltyTierStr".into(),
            json!({"displayName": "Loyalty tier", "type": "string"}),
        );
    });
    let agent = sandboxes.add_agent(&format!("ana.fields.{run}@example.com"), "Ana", "Available");
    let platforms = Platforms::of(&sandboxes);
    let host = demo_host(backends.store.clone(), &platforms, &Tokens::demo(None)).await?;
    let streams = start_streams(backends, &platforms).await?;
    let http = crate::agents::demo_http()?;
    let admin = Tab::admin(&http, &host.base_url);
    let mut section =
        Section::done("Custom fields created mid-run, filled for later sessions (R-CF, R-U-9)");
    // The fields live in the state table every scenario shares: start from none, end with none.
    remove_fields(&admin).await?;

    // Sessions are played silently, their SDK custom data set, then their events sent.
    let sink = EventSink::new(
        &format!("{}/webhooks/ccai", host.base_url),
        DEMO_EVENTS_USER,
        DEMO_EVENTS_PASSWORD,
    );
    let mut driver = ScenarioDriver::new(&sandboxes.ccai, Some(sink.clone()));
    driver.delivery = Delivery {
        silent: true,
        ..Delivery::default()
    };
    let play_pair = |label: &'static str| {
        let driver = &driver;
        async move {
            let call = driver
                .ivr_call_answered(agent, &format!("+1555010{label}"))
                .await;
            let app = driver
                .sdk_call(agent, &format!("app-user-{label}-{run}"))
                .await;
            driver.sdk_custom_data("call", app.session_id, custom_data(run));
            [call, app]
        }
    };
    let before = play_pair("5501").await;
    // The sandbox's clock hands out strictly increasing times, so after a burst it can run a
    // little ahead of the wall clock the admin API stamps the fields with: wait until the wall
    // clock has passed the last session time it gave, so "before" means before.
    let ahead = sandboxes.ccai.inspect(|w| w.last_ms()) - UnixMillis::now().0;
    if ahead >= 0 {
        tokio::time::sleep(Duration::from_millis(ahead as u64 + 1)).await;
    }

    let mut created = 0;
    for field in FIVE {
        let (code, answer) = admin
            .send(
                reqwest::Method::POST,
                "/admin/custom-fields",
                json!({"field": field, "created_by": "demo admin"}),
            )
            .await?;
        if code != 201 {
            return Err(format!("creating {field}: {code} {answer}"));
        }
        created += 1;
        section.line(format!(
            "the admin creates {field}: {code}, Kustomer attribute {} \"{}\"",
            answer["attribute"].as_str().unwrap_or("?"),
            answer["display_name"].as_str().unwrap_or("?")
        ));
    }
    let (code, refused) = admin
        .send(
            reqwest::Method::POST,
            "/admin/custom-fields",
            json!({"field": "queue"}),
        )
        .await?;
    section.line(format!(
        "an unknown field: {code} {}",
        refused["error"].as_str().unwrap_or("?")
    ));
    let (code, keys) = admin
        .send(
            reqwest::Method::PUT,
            "/admin/sdk-keys",
            json!({"keys": {"tier": "loyaltyTierStr"}}),
        )
        .await?;
    section.line(format!(
        "SDK key tier → loyaltyTierStr: {code} {}",
        keys["keys"]
    ));

    let after = play_pair("5502").await;
    let played: Vec<&Played> = before.iter().chain(after.iter()).collect();
    for session in &played {
        let bodies: Vec<Value> = session.events.iter().map(|e| e.body.clone()).collect();
        sink.send(&bodies).await;
    }
    if !streams.drain(Duration::from_secs(20)).await {
        return Err("the stream was not drained within 20 s".into());
    }
    // The customer of the later call rates it after the end: the scheduled poll brings it.
    driver.csat("call", after[0].session_id, 4, None);
    bridge_reconcile::poller::poll_sessions(
        backends.store.as_ref(),
        &sandboxes.ccai_client,
        UnixMillis::now(),
        Duration::from_secs(10),
    )
    .await
    .map_err(|e| e.to_string())?;
    if !streams.drain(Duration::from_secs(20)).await {
        return Err("the stream was not drained within 20 s".into());
    }

    let mut before_without = 0;
    let mut after_with = 0;
    let mut messages = 0;
    for (session, when) in played.iter().zip(["before", "before", "after", "after"]) {
        let external = format!("ccai-call-{}-session", session.session_id);
        let found: Vec<Value> = sandboxes.kustomer.inspect(|w| {
            w.messages
                .iter()
                .filter(|m| m.text("externalId") == Some(external.as_str()))
                .map(|m| m.attributes.get("custom").cloned().unwrap_or(Value::Null))
                .collect()
        });
        messages += found.len() as u64;
        let custom = found.first().cloned().unwrap_or(Value::Null);
        let shown = match custom.as_object() {
            Some(values) if !values.is_empty() => {
                after_with += u64::from(when == "after");
                values
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
            _ => {
                before_without += u64::from(when == "before");
                "no custom fields".to_owned()
            }
        };
        section.line(format!(
            "call {} (started {when} the fields): {shown}",
            session.session_id
        ));
    }
    remove_fields(&admin).await?;
    section.count("fields created", created);
    section.count(
        "sessions started before the fields, without values",
        before_without,
    );
    section.count("sessions started after the fields, with values", after_with);
    section.count("messages per session", messages / played.len() as u64);
    count_deliveries(&mut section, &streams);
    let unexpected = sandboxes.unexpected_requests();
    if !unexpected.is_empty() {
        return Err(format!(
            "requests the platforms would refuse: {unexpected:?}"
        ));
    }
    Ok(vec![section])
}
