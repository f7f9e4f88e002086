//! The demo's agent-status scenario (R-S-1 … R-S-6), over HTTP through the local host: an
//! admin saves the mapping, two browser tabs of one agent claim the lease and report status
//! changes, and the CCAI sandbox shows what the platform did.

use crate::backends::Backends;
use crate::functions::{DEMO_ADMIN_TOKEN, Platforms, Tokens, demo_host};
use crate::report::Section;
use bridge_shared::UnixMillis;
use bridge_tests::platforms::SandboxedPlatforms;
use serde_json::{Value, json};

/// A client of the host's HTTP routes with one bearer token (an agent's tab, the admin).
pub(crate) struct Tab<'a> {
    pub http: &'a reqwest::Client,
    pub host: &'a str,
    pub token: &'a str,
}

/// The HTTP client the demo's tabs share.
pub(crate) fn demo_http() -> Result<reqwest::Client, String> {
    bridge_shared::http::builder()
        .build()
        .map_err(|e| e.to_string())
}

impl<'a> Tab<'a> {
    /// The admin, with the demo's admin token.
    pub fn admin(http: &'a reqwest::Client, host: &'a str) -> Self {
        Tab {
            http,
            host,
            token: DEMO_ADMIN_TOKEN,
        }
    }
}

impl Tab<'_> {
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<(u16, Value), String> {
        let answer = self
            .http
            .request(method, format!("{}{path}", self.host))
            .bearer_auth(self.token)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = answer.status().as_u16();
        let body = answer.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// A status report as the widget sends it: one refused as too soon after the agent's last
    /// (429 `too_soon`) is sent again after its `Retry-After`. Answers the last answer and how
    /// many seconds were waited.
    pub async fn report(&self, body: Value) -> Result<(u16, Value, u64), String> {
        let mut waited = 0;
        loop {
            let (status, answer) = self
                .send(
                    reqwest::Method::POST,
                    "/webhooks/kustomer/status",
                    body.clone(),
                )
                .await?;
            let wait = answer["retry_after_s"].as_u64().unwrap_or(1).clamp(1, 5);
            if status != 429 || answer["outcome"] != "too_soon" || waited >= 30 {
                return Ok((status, answer, waited));
            }
            tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
            waited += wait;
        }
    }
}

/// How a report's answer came: at once, or after being sent again.
fn resent(waited: u64) -> String {
    if waited == 0 {
        String::new()
    } else {
        format!(" (429 too soon after the last report; sent again {waited} s later)")
    }
}

fn outcome(body: &Value) -> &str {
    body["outcome"]
        .as_str()
        .or(body["error"].as_str())
        .unwrap_or("")
}

pub async fn agent_status(backends: &Backends, run: &str) -> crate::demo::Outcome {
    let sandboxes = SandboxedPlatforms::start()
        .await
        .map_err(|e| e.to_string())?;
    let (ccai, kustomer) = (&sandboxes.ccai, &sandboxes.kustomer);
    let email = format!("ana.status.{run}@example.com");
    let agent = sandboxes.add_agent(&email, "Ana", "Available");
    let platforms = Platforms::of(&sandboxes);
    let tokens = Tokens::demo(None).signing_in_with(&sandboxes.kustomer);
    let host = demo_host(backends.store.clone(), &platforms, &tokens).await?;
    let http = crate::agents::demo_http()?;
    let admin = Tab::admin(&http, &host.base_url);
    // The agent signs in with Kustomer (R-SEC-1): the tab acts with the session it was given.
    let session = sandboxes.sign_in(&host.base_url, &email).await?;
    let tab = Tab {
        http: &http,
        host: &host.base_url,
        token: &session,
    };
    let status = |name: &str| {
        kustomer
            .status_id(name)
            .ok_or(format!("no Kustomer status {name}"))
    };

    let mut section =
        Section::done("Agent status inheritance, Kustomer to CCAI (R-S-1 to R-S-6), over HTTP");
    // CCAI statuses by id (ccai-api.md §2): Available 0 and Break −2 are built-ins, Lunch a
    // custom status (1 in the sandbox).
    let mapping = json!({"to_ccai": {
        status("Available")?: 0, status("Busy")?: 0, status("Lunch")?: -2, status("Training")?: 1,
    }});
    let (code, _) = admin
        .send(reqwest::Method::PUT, "/admin/status-mapping", mapping)
        .await?;
    section.line(format!("admin saves the mapping Available→Available, Busy→Available, Lunch→Break, Training→Lunch: {code}"));

    let claim = |instance: &str| json!({"email": email, "instance_id": instance});
    let (code, first) = tab
        .send(reqwest::Method::POST, "/agents/instances", claim("tab-1"))
        .await?;
    section.line(format!(
        "tab-1 claims the agent: {code}, lease token {}",
        first["lease_token"]
    ));
    let (code, second) = tab
        .send(reqwest::Method::POST, "/agents/instances", claim("tab-2"))
        .await?;
    section.line(format!(
        "tab-2 claims the agent: {code}, another tab drives it for {} s more (which one is not said)",
        second["expires_in_s"]
    ));

    // The agent sets statuses in Kustomer; a tab's report is only a trigger: the bridge reads
    // the agent's work session (R-S-4), so any tab may report and a forged one changes nothing.
    let user = sandboxes
        .kustomer_user(&email)
        .ok_or("the agent has no Kustomer user")?;
    let report = |instance: &str, said: &str| -> Result<Value, String> {
        Ok(json!({"instance_id": instance, "status_id": status(said)?}))
    };
    let sets = || {
        ccai.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/agent_statuses"))
            .count() as u64
    };
    let before = sets();
    for (set, instance, said, note) in [
        (
            Some("Lunch"),
            "tab-2",
            "Lunch",
            " (the tab that does not watch)",
        ),
        (None, "tab-1", "Lunch", " (the same change reported again)"),
        (Some("Training"), "tab-1", "Training", ""),
        (
            None,
            "tab-1",
            "Available",
            " (a forged report: Kustomer still says Training)",
        ),
    ] {
        if let Some(name) = set {
            kustomer
                .set_work_session(&user, name)
                .ok_or(format!("no Kustomer status {name}"))?;
        }
        let (code, answer, waited) = tab.report(report(instance, said)?).await?;
        let what = set.map_or(String::new(), |name| {
            format!("agent sets Kustomer {name}; ")
        });
        section.line(format!(
            "{what}{instance} reports {said}{note}: {code} {}{}",
            outcome(&answer),
            resent(waited)
        ));
    }
    let applied = sets() - before;

    ccai.change(|w| w.move_agent(agent, "In-call", "platform"));
    kustomer
        .set_work_session(&user, "Lunch")
        .ok_or("no Kustomer status Lunch")?;
    let (code, answer, waited) = tab.report(report("tab-1", "Lunch")?).await?;
    section.line(format!(
        "during a call, Kustomer Lunch: {code} {}{}",
        outcome(&answer),
        resent(waited)
    ));
    ccai.change(|w| {
        w.move_agent(agent, "Wrap-up", "platform");
        w.finish_session_for(agent);
    });
    // No session events in this scenario: the scheduled reconciliation (bridge-reconcile)
    // resolves the pending change on its next run. (With events, the stream worker does it at
    // once: see the session-events scenario.)
    let service = sandboxes.status_service(backends.store.clone());
    let summary = bridge_reconcile::reconcile_agents(&service, UnixMillis::now())
        .await
        .map_err(|e| e.to_string())?;
    section.line(format!(
        "the call ends; the scheduled reconciliation applies {} pending change(s)",
        summary.pending_applied
    ));

    let (_, agents) = admin
        .send(reqwest::Method::GET, "/admin/agents", json!({}))
        .await?;
    let ours = agents
        .as_array()
        .and_then(|a| a.iter().find(|x| x["email"] == email.as_str()))
        .cloned()
        .unwrap_or(Value::Null);
    section.line(format!(
        "admin sees the agent: lease held by {}, last applied {}",
        ours["sync"]["lease_holder"], ours["sync"]["state"]["last_applied"]["ccai_status"]
    ));

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
    section.count("Kustomer calls", platforms.kustomer.calls_made());
    Ok(vec![section])
}
