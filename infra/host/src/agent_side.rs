//! The demo's agent-side scenario (R-C2C, R-A): the widget page as Kustomer frames it, and
//! click-to-call through the local host — a national number called in E.164, CCAI Platform's
//! refusal passed back in its own words, a bad number named. The widget itself runs in a real
//! browser in `infra/host/tests/widget_browser.rs` (screenshots in docs/widget/, shown in docs/widget.md).

use crate::agents::Tab;
use crate::backends::Backends;
use crate::functions::{Platforms, Tokens, demo_host};
use crate::report::Section;
use bridge_tests::platforms::SandboxedPlatforms;
use serde_json::json;

pub async fn agent_side(backends: &Backends, run: &str) -> crate::demo::Outcome {
    let sandboxes = SandboxedPlatforms::start()
        .await
        .map_err(|e| e.to_string())?;
    let email = format!("ana.calls.{run}@example.com");
    let agent = sandboxes.add_agent(&email, "Ana", "Available");
    let platforms = Platforms::of(&sandboxes);
    let host = demo_host(
        backends.store.clone(),
        &platforms,
        &Tokens::demo(None).signing_in_with(&sandboxes.kustomer),
    )
    .await?;
    let http = bridge_shared::http::builder()
        .build()
        .map_err(|e| e.to_string())?;
    let mut section = Section::done("Click-to-call and the agent widget page (R-C2C, R-A)");

    let page = http
        .get(format!("{}/widget/index.html", host.base_url))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let policy = page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let frame_ancestors = policy
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("frame-ancestors"))
        .unwrap_or("frame-ancestors (none)")
        .to_owned();
    section.line(format!(
        "GET /widget/index.html: {} ({frame_ancestors}; no token in the page: its calls go through Kustomer app commands)",
        page.status().as_u16()
    ));
    section.count("widget pages served", u64::from(page.status().is_success()));

    // The agent signs in with Kustomer (R-SEC-1): the tab acts with the session it was given.
    let session = sandboxes.sign_in(&host.base_url, &email).await?;
    let tab = Tab {
        http: &http,
        host: &host.base_url,
        token: &session,
    };
    // Ana has Camille's profile open in Kustomer; Camille's number is on it.
    let camille = sandboxes
        .kustomer_client
        .create_customer(&bridge_shared::kustomer::requests::NewCustomer {
            name: Some("Camille".into()),
            phones: vec![bridge_shared::kustomer::requests::NewPhone {
                kind: Some("mobile".into()),
                phone: "+16502530000".into(),
            }],
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?
        .id;
    let (code, answer) = tab
        .send(
            reqwest::Method::POST,
            "/click-to-call",
            json!({"phone": "(650) 253-0000", "customer_id": camille}),
        )
        .await?;
    let number = answer["call_id"]
        .as_u64()
        .and_then(|id| sandboxes.ccai.inspect(|w| w.call(id).cloned()))
        .and_then(|call| {
            call["participants"][0]["phone_number"]
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_default();
    section.line(format!(
        "Ana clicks (650) 253-0000: {code} {}, CCAI Platform calls {number} for customer {}",
        answer["outcome"].as_str().unwrap_or("?"),
        answer["customer_id"].as_str().unwrap_or("?")
    ));
    section.count("calls started", u64::from(code == 201));

    sandboxes
        .ccai
        .change(|w| w.move_agent(agent, "Break", "platform"));
    let (code, answer) = tab
        .send(
            reqwest::Method::POST,
            "/click-to-call",
            json!({"phone": "+16502530000", "customer_id": camille}),
        )
        .await?;
    section.line(format!(
        "on Break, again: {code} {}",
        answer["error"].as_str().unwrap_or("?")
    ));
    section.count("refusals passed back", u64::from(code == 400));
    let (code, answer) = tab
        .send(
            reqwest::Method::POST,
            "/click-to-call",
            json!({"phone": "call me maybe", "customer_id": camille}),
        )
        .await?;
    section.line(format!(
        "a number that is none: {code} {}",
        answer["error"].as_str().unwrap_or("?")
    ));
    section.count("bad numbers named", u64::from(code == 400));
    // R-SEC-2: a number that is not Camille's, and another agent named: refused.
    let (code, answer) = tab
        .send(
            reqwest::Method::POST,
            "/click-to-call",
            json!({"phone": "+16502539999", "customer_id": camille}),
        )
        .await?;
    section.line(format!(
        "a number not on Camille's profile: {code} {}",
        answer["error"].as_str().unwrap_or("?")
    ));
    let (other_code, _) = tab
        .send(
            reqwest::Method::POST,
            "/click-to-call",
            json!({"agent_email": "ben@example.com", "phone": "+16502530000", "customer_id": camille}),
        )
        .await?;
    section.line(format!("naming another agent: {other_code}"));
    section.count(
        "calls refused by the policy",
        u64::from(code == 403) + u64::from(other_code == 403),
    );
    let unexpected = sandboxes.unexpected_requests();
    if !unexpected.is_empty() {
        return Err(format!(
            "requests the platforms would refuse: {unexpected:?}"
        ));
    }
    Ok(vec![section])
}
