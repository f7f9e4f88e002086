//! The demo's shadow-mode scenario (R-F-2): the bridge runs beside CCAI's own Kustomer
//! connector with `BRIDGE_MODE=shadow` — sessions played through the host as in "session
//! events", every function running — and writes nothing to either platform. Kustomer is then
//! filled as the native connector would have filled it, with three differences seeded (an
//! assignee, a conversation's channel, a session the connector never logged), and
//! `GET /admin/shadow` must list those and no others.

use crate::agents::Tab;
use crate::backends::Backends;
use crate::functions::{DEMO_EVENTS_PASSWORD, DEMO_EVENTS_USER, Platforms, Tokens, demo_host};
use crate::report::Section;
use bridge_tests::ccai_sandbox::{EventSink, Played, ScenarioDriver};
use bridge_tests::kustomer_sandbox::state::{Record, as_map};
use bridge_tests::platforms::SandboxedPlatforms;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// What the native connector is made to do differently, by session (the scenario's seeds).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Native {
    /// Logged as the bridge would.
    Alike,
    /// Appended to the caller's open conversation (nothing new to write).
    Appended,
    /// Assigned to another agent.
    OtherAssignee,
    /// Logged on another channel.
    OtherChannel,
    /// Not logged at all: no customer, no conversation.
    Nothing,
}

fn platforms_reading_only(sandboxes: &SandboxedPlatforms) -> Platforms {
    Platforms {
        ccai: Arc::new(bridge_tests::ccai_support::client(&sandboxes.ccai).reading_only()),
        kustomer: Arc::new(
            bridge_tests::kustomer_support::client(&sandboxes.kustomer).reading_only(),
        ),
        storage: sandboxes.storage.clone(),
    }
}

/// The requests of the bridge that would have changed something: Kustomer's (its customer
/// search is a read) and CCAI's.
fn writes(sandboxes: &SandboxedPlatforms) -> (usize, usize) {
    let kustomer = sandboxes.kustomer.inspect(|w| {
        w.requests
            .iter()
            .filter(|r| r.method != "GET" && !r.path.ends_with("/search"))
            .count()
    });
    let ccai = sandboxes
        .ccai
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count();
    (kustomer, ccai)
}

/// What CCAI's own connector would have written for one session, as seeded.
fn fill_as_native(
    sandboxes: &SandboxedPlatforms,
    phone: &str,
    started_at: &str,
    (native, assignee): (Native, &str),
) {
    if native == Native::Nothing {
        return;
    }
    sandboxes.kustomer.inspect_mut(|world| {
        let customer = match world
            .customers
            .iter()
            .find(|c| c.attributes["phones"][0]["phone"] == phone)
        {
            Some(customer) => customer.id.clone(),
            None => {
                let id = world.new_id();
                world.customers.push(Record::new(
                    id.clone(),
                    "customer",
                    as_map(
                        json!({"name": phone, "phones": [{"type": "mobile", "phone": phone}],
                                  "createdAt": started_at}),
                    ),
                ));
                id
            }
        };
        if native == Native::Appended {
            return;
        }
        let channel = if native == Native::OtherChannel {
            "email"
        } else {
            "voice"
        };
        let id = world.new_id();
        world.conversations.push(
            Record::new(
                id,
                "conversation",
                as_map(json!({"status": "open", "channels": [channel],
                              "assignedUsers": [assignee], "createdAt": started_at})),
            )
            .relate("customer", "customer", &customer),
        );
    });
}

pub async fn shadow_mode(backends: &Backends, run: &str) -> crate::demo::Outcome {
    let sandboxes = SandboxedPlatforms::start()
        .await
        .map_err(|e| e.to_string())?;
    let ana_email = format!("ana.shadow.{run}@example.com");
    let ana = sandboxes.add_agent(&ana_email, "Ana", "Available");
    let ben_email = format!("ben.shadow.{run}@example.com");
    sandboxes.add_agent(&ben_email, "Ben", "Available");
    let user = |email: &str| {
        sandboxes
            .kustomer_user(email)
            .ok_or("an agent has no Kustomer user")
    };
    let (ana_user, ben_user) = (user(&ana_email)?, user(&ben_email)?);
    let platforms = platforms_reading_only(&sandboxes);
    let host = demo_host(backends.store.clone(), &platforms, &Tokens::demo(None)).await?;
    let streams = crate::sessions::start_streams(backends, &platforms).await?;
    let from = chrono::Utc::now() - chrono::Duration::minutes(1);
    let url = format!("{}/webhooks/ccai", host.base_url);
    let driver = ScenarioDriver::new(
        &sandboxes.ccai,
        Some(EventSink::new(&url, DEMO_EVENTS_USER, DEMO_EVENTS_PASSWORD)),
    );
    // Numbers of this run only: the demo's store is shared by its scenarios.
    let number = |n: u32| format!("+1555019{:04}", (n + run.len() as u32 * 37) % 10_000);
    let (p1, p2, p3, p4) = (number(1), number(2), number(3), number(4));
    let sessions: Vec<(Played, &str, Native)> = vec![
        (
            driver.ivr_call_answered(ana, &p1).await,
            p1.as_str(),
            Native::Alike,
        ),
        // The same caller again while the first conversation is open (R-U-1).
        (
            driver.ivr_call_answered(ana, &p1).await,
            p1.as_str(),
            Native::Appended,
        ),
        (
            driver.ivr_call_answered(ana, &p2).await,
            p2.as_str(),
            Native::OtherAssignee,
        ),
        (
            driver.ivr_call_answered(ana, &p3).await,
            p3.as_str(),
            Native::OtherChannel,
        ),
        (
            driver.abandoned_call(&p4).await,
            p4.as_str(),
            Native::Nothing,
        ),
    ];
    if !streams.drain(Duration::from_secs(20)).await {
        return Err("the stream was not drained within 20 s".into());
    }
    let mut section = Section::done(
        "Shadow mode beside CCAI's own connector: nothing written, every difference listed (R-F-2)",
    );
    let (kustomer_writes, ccai_writes) = writes(&sandboxes);
    section.count("writes to Kustomer", kustomer_writes as u64);
    section.count("writes to CCAI Platform", ccai_writes as u64);

    let http = crate::agents::demo_http()?;
    let admin = Tab::admin(&http, &host.base_url);
    let to = chrono::Utc::now() + chrono::Duration::minutes(30);
    let path = format!(
        "/admin/shadow?from={}&to={}",
        from.format("%Y-%m-%dT%H:%M:%SZ"),
        to.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let (code, planned) = admin.send(reqwest::Method::GET, &path, json!({})).await?;
    if code != 200 {
        return Err(format!("GET /admin/shadow answered {code}: {planned}"));
    }
    // Kustomer as the connector would have filled it, at each session's start.
    let started = |id: u64| -> Option<String> {
        planned["sessions"]
            .as_array()?
            .iter()
            .find(|s| s["id"] == id)?["plan"]["started_at"]
            .as_str()
            .map(str::to_owned)
    };
    let mut seeded = BTreeSet::new();
    for (played, phone, native) in &sessions {
        let at = started(played.session_id).ok_or_else(|| {
            format!(
                "call {} was not planned (the report: {} compared; dead letters: {:?})",
                played.session_id,
                planned["compared"],
                streams
                    .dead_letters()
                    .iter()
                    .map(|d| d.reason.clone())
                    .collect::<Vec<_>>()
            )
        })?;
        let assignee = if *native == Native::OtherAssignee {
            &ben_user
        } else {
            &ana_user
        };
        fill_as_native(&sandboxes, phone, &at, (*native, assignee));
        let id = played.session_id;
        match native {
            Native::OtherAssignee => {
                seeded.insert((id, "assignee".to_owned()));
            }
            Native::OtherChannel => {
                seeded.insert((id, "channel".to_owned()));
            }
            Native::Nothing => {
                seeded.insert((id, "customer".to_owned()));
                seeded.insert((id, "conversation".to_owned()));
            }
            Native::Alike | Native::Appended => {}
        }
    }
    let (code, compared) = admin.send(reqwest::Method::GET, &path, json!({})).await?;
    if code != 200 {
        return Err(format!("GET /admin/shadow answered {code}: {compared}"));
    }
    let mut listed = BTreeSet::new();
    for session in compared["sessions"].as_array().into_iter().flatten() {
        let id = session["id"].as_u64().unwrap_or_default();
        let plan = &session["plan"];
        section.line(format!(
            "call {id}: the bridge would {} the customer, {} ({})",
            plan["customer"]["action"].as_str().unwrap_or("?"),
            match plan["conversation"]["action"].as_str() {
                Some("create") => "create a conversation".to_owned(),
                Some("append") => format!(
                    "append to {}",
                    plan["conversation"]["conversation"].as_str().unwrap_or("?")
                ),
                other => format!("{other:?}"),
            },
            differences_text(&session["differences"]),
        ));
        for difference in session["differences"].as_array().into_iter().flatten() {
            listed.insert((
                id,
                difference["field"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    section.count(
        "sessions compared",
        compared["compared"].as_u64().unwrap_or(0),
    );
    section.count("differences seeded", seeded.len() as u64);
    section.count("differences listed", listed.len() as u64);
    section.count(
        "seeded differences listed",
        seeded.intersection(&listed).count() as u64,
    );
    if listed != seeded {
        section.line(format!("seeded {seeded:?}, listed {listed:?}"));
    }
    let (kustomer_after, ccai_after) = writes(&sandboxes);
    section.count(
        "writes to either platform by the comparison",
        (kustomer_after + ccai_after - kustomer_writes - ccai_writes) as u64,
    );
    Ok(vec![section])
}

fn differences_text(differences: &Value) -> String {
    let listed: Vec<String> = differences
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            format!(
                "{}: bridge {}, Kustomer {}",
                d["field"].as_str().unwrap_or("?"),
                d["bridge"].as_str().unwrap_or("?"),
                d["kustomer"].as_str().unwrap_or("?")
            )
        })
        .collect();
    if listed.is_empty() {
        "as Kustomer shows it".into()
    } else {
        listed.join("; ")
    }
}
