//! The demo's agent-status scenario (R-S-1 … R-S-6): two browser tabs of one agent, status
//! changes from the Kustomer side through the status function's own handler, and what CCAI
//! Platform (its sandbox) did.

use crate::backends::Backends;
use crate::report::Section;
use bridge_shared::UnixMillis;
use bridge_shared::config::Secret;
use bridge_shared::status::StatusMapping;
use bridge_shared::status::sync::{DEFAULT_LEASE, StatusService};
use bridge_status::{StatusApi, handle};
use bridge_tests::ccai_sandbox::{CcaiSandbox, CcaiSandboxOptions};
use bridge_tests::kustomer_sandbox::{KustomerSandbox, SandboxOptions};
use lambda_http::Body;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

const TOKEN: &str = "demo-bridge-token";

fn request(method: &str, path: &str, body: Value) -> Result<lambda_http::Request, String> {
    http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::Text(body.to_string()))
        .map_err(|e| e.to_string())
}

async fn send(
    api: &StatusApi,
    method: &str,
    path: &str,
    body: Value,
    now: UnixMillis,
) -> Result<(u16, Value), String> {
    let response = handle(api, request(method, path, body)?, now).await;
    let status = response.status().as_u16();
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    Ok((status, body))
}

fn iso(at: UnixMillis) -> String {
    chrono::DateTime::from_timestamp_millis(at.0)
        .unwrap_or_default()
        .to_rfc3339()
}

pub async fn agent_status(backends: &Backends, run: &str) -> Result<Section, String> {
    let ccai = CcaiSandbox::start(CcaiSandboxOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let kustomer = KustomerSandbox::start(SandboxOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let email = format!("ana.status.{run}@example.com");
    let agent = ccai.change(|w| w.add_agent(&email, "Ana", "Available"));
    kustomer.add_user("Ana", &email);
    let status = |name: &str| {
        kustomer
            .status_id(name)
            .ok_or(format!("no Kustomer status {name}"))
    };
    let mapping = StatusMapping {
        to_ccai: BTreeMap::from([
            (status("Available")?, "Available".to_owned()),
            (status("Busy")?, "Available".to_owned()),
            (status("Lunch")?, "Break".to_owned()),
            (status("Training")?, "Lunch".to_owned()),
        ]),
        ..Default::default()
    };
    let service = StatusService::new(
        backends.store.clone(),
        Arc::new(bridge_tests::ccai_support::client(&ccai)),
        Arc::new(bridge_tests::kustomer_support::client(&kustomer)),
        DEFAULT_LEASE,
    );
    service
        .save_mapping(&mapping)
        .await
        .map_err(|e| e.to_string())?;
    let api = StatusApi {
        service,
        bridge_token: Secret::new(TOKEN),
    };
    let mut section = Section::done("Agent status inheritance, Kustomer to CCAI (R-S-1 to R-S-6)");
    section
        .line("mapping: Available→Available, Busy→Available, Lunch→Break, Training→Lunch".into());

    let now = UnixMillis::now();
    let (code, first) = send(
        &api,
        "POST",
        "/agents/instances",
        json!({"email": email, "instance_id": "tab-1"}),
        now,
    )
    .await?;
    section.line(format!(
        "tab-1 claims the agent: {code}, lease token {}",
        first["lease_token"]
    ));
    let (code, second) = send(
        &api,
        "POST",
        "/agents/instances",
        json!({"email": email, "instance_id": "tab-2"}),
        now,
    )
    .await?;
    section.line(format!(
        "tab-2 claims the agent: {code}, held by {} for {} s",
        second["held_by"], second["expires_in_s"]
    ));
    let token = first["lease_token"].clone();

    let mut step = 0i64;
    let mut change = |name: &str, tab: &str| {
        step += 1;
        let changed = now.plus(std::time::Duration::from_millis(step as u64 * 10));
        (
            json!({"email": email, "instance_id": tab, "lease_token": token, "status_id": kustomer.status_id(name), "changed_at": iso(changed)}),
            changed,
        )
    };
    let mut applied = 0;
    for (name, tab) in [
        ("Lunch", "tab-2"),
        ("Lunch", "tab-1"),
        ("Training", "tab-1"),
    ] {
        let (body, at) = change(name, tab);
        let (code, answer) = send(&api, "POST", "/webhooks/kustomer/status", body, at).await?;
        applied += u64::from(answer["outcome"] == "applied");
        section.line(format!(
            "{tab} sets Kustomer {name}: {code} {}",
            answer["outcome"]
                .as_str()
                .or(answer["error"].as_str())
                .unwrap_or("")
        ));
    }
    let (late, _) = change("Lunch", "tab-1");
    let mut stale = late.clone();
    stale["changed_at"] = json!(iso(now));
    let (_, answer) = send(
        &api,
        "POST",
        "/webhooks/kustomer/status",
        stale,
        now.plus(std::time::Duration::from_millis(100)),
    )
    .await?;
    section.line(format!(
        "a delayed older change arrives: {}",
        answer["outcome"].as_str().unwrap_or("")
    ));

    ccai.change(|w| w.move_agent(agent, "In-call", "platform"));
    let (code, answer) = send(
        &api,
        "POST",
        "/webhooks/kustomer/status",
        late,
        now.plus(std::time::Duration::from_millis(200)),
    )
    .await?;
    section.line(format!(
        "during a call, Kustomer Lunch: {code} {}",
        answer["outcome"].as_str().unwrap_or("")
    ));
    ccai.change(|w| {
        w.move_agent(agent, "Wrap-up", "platform");
        w.finish_session_for(agent);
    });
    let outcome = api
        .service
        .session_ended(&email, UnixMillis::now())
        .await
        .map_err(|e| e.to_string())?;
    section.line(format!("the call ends: pending change {outcome:?}"));

    let history = ccai.inspect(|w| {
        w.status_history
            .iter()
            .filter(|(id, ..)| *id == agent)
            .map(|(_, from, to, by)| format!("{from}→{to} ({by})"))
            .collect::<Vec<_>>()
    });
    section.line(format!(
        "CCAI status history of the agent: {}",
        history.join(", ")
    ));
    let final_status = ccai.inspect(|w| w.agent_status(agent)).unwrap_or_default();
    section.line(format!("CCAI status now: {final_status}"));
    section.count("status changes applied", applied);
    section.count(
        "pending change applied after the call",
        u64::from(final_status == "Break"),
    );
    Ok(section)
}
