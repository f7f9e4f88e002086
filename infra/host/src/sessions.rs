//! The demo's session-event scenario (R-E-1 … R-E-3, R-S-6): the CCAI scenario driver plays
//! calls and a chat, sending signed session events over HTTP to the intake through the local
//! host (every event twice, and one sender with a wrong secret). The table's stream then
//! delivers the stored events to the inbox worker exactly as its event source mapping in
//! template.yaml would: an agent's status change made during the call is applied when the
//! `call.ended` event arrives, and a corrupt inbox item is retried, then dead-lettered.

use crate::agents::Tab;
use crate::backends::Backends;
use crate::functions::{
    DEMO_EVENTS_PASSWORD, DEMO_EVENTS_USER, Platforms, Tokens, demo_host, start_triggered,
};
use crate::report::Section;
use crate::routes::TEMPLATE;
use crate::stream::{Pace, StartingPosition, StreamRunner, template_subscriptions};
use bridge_shared::UnixMillis;
use bridge_shared::store::keys::SessionKind;
use bridge_shared::store::{Item, ItemKey};
use bridge_tests::ccai_sandbox::{Delivery, EventSink, Played, ScenarioDriver};
use bridge_tests::platforms::SandboxedPlatforms;
use serde_json::json;
use std::time::Duration;

fn tally(played: &[Played], status: u16) -> u64 {
    played
        .iter()
        .flat_map(|p| &p.events)
        .flat_map(|e| &e.deliveries)
        .filter(|d| **d == Some(status))
        .count() as u64
}

pub async fn session_events(backends: &Backends, run: &str) -> crate::demo::Outcome {
    let sandboxes = SandboxedPlatforms::start()
        .await
        .map_err(|e| e.to_string())?;
    let email = format!("ana.sessions.{run}@example.com");
    let agent = sandboxes.add_agent(&email, "Ana", "Available");
    let ben = sandboxes.add_agent(
        &format!("ben.sessions.{run}@example.com"),
        "Ben",
        "Available",
    );
    let platforms = Platforms::of(&sandboxes);
    let mut tokens = Tokens::demo(None).signing_in_with(&sandboxes.kustomer);
    // Ana is the console's admin too (R-ADM-3): `demo --keep` leaves it open for her.
    tokens.admin_emails =
        bridge_admin::access::AdminEmails::parse(Some(&email)).map_err(|e| e.to_string())?;
    let host = demo_host(backends.store.clone(), &platforms, &tokens).await?;
    let streams = start_streams(backends, &platforms).await?;
    let mut section = Section::done(
        "CCAI External Session Events: Basic auth, batches, inbox, stream worker (R-E-1 to R-E-5, R-S-6)",
    );

    // The agent picks Lunch in Kustomer while on a call: pending until the call ends.
    let http = crate::agents::demo_http()?;
    let admin = Tab::admin(&http, &host.base_url);
    // The agent signs in with Kustomer (R-SEC-1): the tab acts with the session it was given.
    let session = sandboxes.sign_in(&host.base_url, &email).await?;
    let tab = Tab {
        http: &http,
        host: &host.base_url,
        token: &session,
    };
    let lunch = sandboxes
        .kustomer
        .status_id("Lunch")
        .ok_or("no Kustomer status Lunch")?;
    admin
        .send(
            reqwest::Method::PUT,
            "/admin/status-mapping",
            json!({"to_ccai": {lunch.clone(): -2}}),
        )
        .await?;
    let (_, lease) = tab
        .send(
            reqwest::Method::POST,
            "/agents/instances",
            json!({"email": email, "instance_id": "tab-1"}),
        )
        .await?;
    sandboxes
        .ccai
        .change(|w| w.move_agent(agent, "In-call", "platform"));
    let user = sandboxes
        .kustomer_user(&email)
        .ok_or("the agent has no Kustomer user")?;
    sandboxes
        .kustomer
        .set_work_session(&user, "Lunch")
        .ok_or("no Kustomer status Lunch")?;
    let (code, answer, _) = tab
        .report(json!({"instance_id": "tab-1", "lease_token": lease["lease_token"]}))
        .await?;
    section.line(format!(
        "Ana, on a call, sets Kustomer Lunch: {code} {}",
        answer["outcome"].as_str().unwrap_or("?")
    ));

    let before_the_calls = sandboxes.log_lengths();
    let url = format!("{}/webhooks/ccai", host.base_url);
    let mut driver = ScenarioDriver::new(
        &sandboxes.ccai,
        Some(EventSink::new(&url, DEMO_EVENTS_USER, DEMO_EVENTS_PASSWORD)),
    );
    driver.delivery = Delivery {
        duplicate: true,
        ..Default::default()
    };
    let phone = "+15550104477";
    let mut played = vec![
        driver.ivr_call_answered(agent, phone).await,
        driver.ivr_call_answered(agent, phone).await,
        driver.abandoned_call("+15550104478").await,
        driver.voicemail(phone, Some("read")).await,
        driver
            .chat_with_transcript(
                agent,
                &format!("web-user-{run}"),
                &[("end_user", "Where is my order?"), ("agent", "On its way")],
            )
            .await,
        driver.sdk_call(agent, &format!("app-user-{run}")).await,
        driver.transfer(agent, ben, "+15550104479").await,
    ];
    let (short, callback) = driver.short_call_and_callback(agent, "+15550104480").await;
    played.extend([short, callback]);
    // After the first call the customer rates it (R-U-10). The platform sends no event after
    // the wrap-up: the scheduled poll finds the rating, as it finds the voicemail read above.
    driver.csat("call", played[0].session_id, 5, Some("Solved at once"));
    let forged = ScenarioDriver::new(
        &sandboxes.ccai,
        Some(EventSink::new(&url, DEMO_EVENTS_USER, "not-the-password")),
    );
    let refused = forged.abandoned_call(phone).await;
    for session in &played {
        section.line(format!(
            "{} {}: {}",
            session.kind,
            session.session_id,
            session.types().join(", ")
        ));
    }
    section.line(format!(
        "a sender with the wrong password: {} events refused (401), nothing stored",
        tally(std::slice::from_ref(&refused), 401)
    ));
    if !streams.drain(Duration::from_secs(20)).await {
        return Err("the stream was not drained within 20 s".into());
    }
    let poll = bridge_reconcile::poller::poll_sessions(
        backends.store.as_ref(),
        &sandboxes.ccai_client,
        UnixMillis::now(),
        Duration::from_secs(10),
    )
    .await
    .map_err(|e| e.to_string())?;
    section.line(format!(
        "the scheduled poll: {} change(s) ESE did not bring (a rating, a voicemail read), {} already known",
        poll.events_stored, poll.already_stored
    ));

    // An inbox item no intake could have written (say, edited by hand in the console).
    let corrupt = Item::new(
        ItemKey::inbox(&format!("demo-{run}-corrupt")),
        json!({"id": format!("demo-{run}-corrupt"), "type": "call.ended"}),
    );
    backends
        .store
        .put_if_absent(&corrupt, UnixMillis::now())
        .await
        .map_err(|e| e.to_string())?;

    if !streams.drain(Duration::from_secs(20)).await {
        return Err("the stream was not drained within 20 s".into());
    }
    let stats = streams.stats();
    for mapping in &streams.mappings {
        section.line(format!("stream: {}", mapping.describe()));
    }
    let history = sandboxes.ccai.inspect(|w| {
        w.status_history
            .iter()
            .filter(|(id, ..)| *id == agent)
            .map(|(_, from, to, by)| format!("{from}→{to} ({by})"))
            .collect::<Vec<_>>()
    });
    section.line(format!(
        "CCAI status history of Ana: {}",
        history.join(", ")
    ));
    let applied_at_call_end = history
        .iter()
        .any(|h| h == "Wrap-up→Break (api)" || h == "Available→Break (api)");
    section.line(if applied_at_call_end {
        "call.ended reached bridge-sync through the stream: Ana's pending Lunch became Break in CCAI"
            .to_owned()
    } else {
        "the pending change was NOT applied at call end".to_owned()
    });
    for letter in streams.dead_letters() {
        section.line(format!(
            "dead letter from {} ({}): records {}..{} after {} invocations: {}",
            letter.function,
            letter.condition,
            letter.first_sequence_number,
            letter.last_sequence_number,
            letter.approximate_invoke_count,
            letter.reason
        ));
    }

    let deliveries: u64 = played
        .iter()
        .flat_map(|p| &p.events)
        .map(|e| e.deliveries.len() as u64)
        .sum();
    let stored = played
        .iter()
        .flat_map(|p| &p.events)
        .filter(|e| e.deliveries.contains(&Some(200)))
        .count() as u64;
    section.count("events in", deliveries);
    section.count("stored once", stored);
    section.count("duplicates ignored", deliveries - stored);
    section.count("stored by the scheduled poll", poll.events_stored as u64);
    section.count(
        "refused (wrong credentials)",
        tally(std::slice::from_ref(&refused), 401),
    );
    section.count("stream records read", stats.records_read);
    section.count("filtered out", stats.filtered_out);
    count_deliveries(&mut section, &streams);
    section.count(
        "pending status applied at call end",
        u64::from(applied_at_call_end),
    );
    section.count("CCAI status changes by the bridge", {
        sandboxes.ccai.inspect(|w| {
            w.status_history
                .iter()
                .filter(|(id, _, _, by)| *id == agent && *by == "api")
                .count() as u64
        })
    });
    let unexpected = sandboxes.unexpected_requests();
    if !unexpected.is_empty() {
        return Err(format!(
            "requests the platforms would refuse: {unexpected:?}"
        ));
    }
    // The refused sender's call is not lost: the scheduled poll found it in the Manager API.
    played.push(refused);
    // Each session's timeline (the admin console's, issue 29): every write the platforms
    // received since the calls began is on one of them, once, and nothing else is.
    let timelines = crate::audit_check::timelines(&http, &host.base_url, &played).await?;
    let received = sandboxes.writes_since(before_the_calls);
    let audited = crate::audit_check::audited_writes(&timelines);
    if audited != received {
        return Err(format!(
            "the sessions' timelines do not hold what the platforms received: timelines {audited:?}, platforms {received:?}"
        ));
    }
    for (session, timeline) in &timelines {
        section.line(format!(
            "{session}: {} trigger(s) on its timeline, {} write(s) — in the console (kept open by `demo --keep`): {}/admin/#sessions/{}",
            timeline.len(),
            timeline
                .iter()
                .map(|e| e["writes"].as_array().map_or(0, Vec::len))
                .sum::<usize>(),
            host.base_url,
            session.replace(' ', "/"),
        ));
    }
    section.count("writes on the sessions' timelines", audited.len() as u64);
    section.count("writes the platforms received", received.len() as u64);
    let kustomer = kustomer_view(
        "Sessions in Kustomer: customers, conversations, assignees, notes (R-T, R-U, R-K, R-D)",
        backends,
        &sandboxes,
        &played,
    )
    .await?;
    if let Some(kept) = &backends.kept {
        // `demo --keep`: this host and the sandboxes behind it stay up (its workers start
        // again once the demo is over), and Ana signs in to the console through the sandbox's
        // Kustomer (consent given for her).
        let oauth = sandboxes.kustomer.oauth();
        oauth.set_auto_consent(true);
        let ana = sandboxes
            .kustomer_user(&email)
            .ok_or("the demo's agent is no Kustomer user")?;
        section.line(format!(
            "the console stays open at {}/admin/ — sign in to the sandbox's Kustomer as Ana first: {}",
            host.base_url,
            oauth.browser_sign_in_url(&ana, &format!("{}/admin/", host.base_url)),
        ));
        drop(streams);
        kept.keep(crate::backends::KeptConsole {
            sandboxes,
            host,
            platforms,
        });
    }
    Ok(vec![section, kustomer])
}

/// The notes whose external id ends with `suffix` (`-recording`, `-transcript`).
pub(crate) fn notes_ending<'a>(
    world: &'a bridge_tests::kustomer_sandbox::World,
    suffix: &'a str,
) -> impl Iterator<Item = &'a bridge_tests::kustomer_sandbox::Record> + 'a {
    world
        .notes
        .iter()
        .filter(move |n| n.text("externalId").is_some_and(|e| e.ends_with(suffix)))
}

/// Per stream-triggered function: records done, retried invocations, dead-lettered records;
/// per queue-triggered one: messages done, redelivered, dead-lettered; and the file work the
/// inbox worker handed to the queues.
pub(crate) fn count_deliveries(section: &mut Section, streams: &StreamRunner) {
    for mapping in &streams.mappings {
        let (name, stats) = (mapping.function(), mapping.stats());
        section.count(&format!("{name}: records done"), stats.records_done);
        section.count(&format!("{name}: retried invocations"), stats.retries);
        section.count(
            &format!("{name}: dead-lettered"),
            stats.records_dead_lettered,
        );
    }
    let Some(queues) = &streams.queues else {
        return;
    };
    section.count("file work queued", queues.sent());
    for mapping in &streams.queue_mappings {
        let (subscription, stats) = (&mapping.subscription, mapping.stats());
        let name = &subscription.function;
        section.count(&format!("{name}: messages done"), stats.messages_deleted);
        section.count(&format!("{name}: messages redelivered"), stats.redeliveries);
        let dead = queues
            .dead_letters()
            .iter()
            .filter(|d| d.queue == subscription.queue)
            .count();
        section.count(&format!("{name}: messages dead-lettered"), dead as u64);
    }
}

/// The template's stream subscriptions, reading only what the scenario writes (a shared
/// DynamoDB Local may hold other runs' events), retries paced for a demo, not for an outage.
pub async fn start_streams(
    backends: &Backends,
    platforms: &Platforms,
) -> Result<StreamRunner, String> {
    let subscriptions = template_subscriptions(TEMPLATE)?
        .into_iter()
        .map(|mut s| {
            s.starting_position = StartingPosition::Latest;
            s
        })
        .collect();
    start_triggered(
        &backends.changes,
        subscriptions,
        backends.store.clone(),
        backends.blobs.clone(),
        platforms,
        Pace {
            retry_base: Duration::from_millis(20),
            retry_max: Duration::from_millis(200),
            poll_interval: Duration::from_millis(50),
        },
        |handler| handler,
    )
    .await
}

/// What each session became in Kustomer, read back from the Kustomer sandbox and the session
/// links the worker wrote.
async fn kustomer_view(
    title: &str,
    backends: &Backends,
    sandboxes: &SandboxedPlatforms,
    played: &[Played],
) -> Result<Section, String> {
    let mut section = Section::done(title);
    let (mut created, mut appended, mut notes) = (0, 0, 0);
    // Two sessions of one new customer handled at once both see it created: count customers.
    let mut customers_created = std::collections::BTreeSet::new();
    for session in played {
        let kind = if session.kind == "call" {
            SessionKind::Call
        } else {
            SessionKind::Chat
        };
        let link = backends
            .store
            .get(
                &ItemKey::session_link(kind, session.session_id),
                UnixMillis::now(),
            )
            .await
            .map_err(|e| e.to_string())?
            .map(|item| item.body)
            .unwrap_or_default();
        let Some(conversation_id) = link["conversation_id"].as_str() else {
            section.line(format!(
                "{} {}: no conversation",
                session.kind, session.session_id
            ));
            continue;
        };
        let was_created = link["conversation_created"] == true;
        created += u64::from(was_created);
        appended += u64::from(!was_created);
        if link["customer_created"] == true {
            customers_created.insert(link["customer_id"].to_string());
        }
        let line = sandboxes.kustomer.inspect(|w| {
            let conversation = w.find("conversation", conversation_id);
            let name_of = |id: &str| {
                w.find("user", id)
                    .and_then(|u| u.text("name"))
                    .unwrap_or(id)
                    .to_owned()
            };
            let customer = conversation
                .and_then(|c| c.related("customer"))
                .and_then(|id| w.find("customer", id))
                .and_then(|c| c.text("name").or(c.text("externalId")))
                .unwrap_or("?")
                .to_owned();
            let assignees: Vec<String> = conversation
                .and_then(|c| c.attributes["assignedUsers"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|u| u.as_str().map(name_of))
                .collect();
            let session_notes: Vec<String> = w
                .notes
                .iter()
                .filter(|n| n.related("conversation") == Some(conversation_id))
                .map(|n| {
                    let files: Vec<String> = n
                        .attributes
                        .get("attachments")
                        .and_then(|a| a.as_array())
                        .map(|list| {
                            list.iter()
                                .map(|a| {
                                    format!(
                                        "{} {} KiB",
                                        a["name"].as_str().unwrap_or("?"),
                                        a["contentLength"].as_u64().unwrap_or(0) / 1024
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let body = n.text("body").unwrap_or_default();
                    if files.is_empty() {
                        body.to_owned()
                    } else {
                        format!("{body} [{}]", files.join(", "))
                    }
                })
                .collect();
            format!(
                "{} {} ({}): customer {customer}{} · conversation {conversation_id} {} ({}) · {} · assigned {} · notes: {}",
                session.kind,
                session.session_id,
                if session.events.iter().any(|e| !e.deliveries.is_empty()) {
                    session.types().join(", ")
                } else {
                    "no webhook".to_owned()
                },
                if link["customer_created"] == true { " (new)" } else { "" },
                if was_created { "created" } else { "appended to" },
                conversation.and_then(|c| c.text("name")).unwrap_or("?"),
                conversation.and_then(|c| c.text("status")).unwrap_or("?"),
                if assignees.is_empty() { "to nobody".to_owned() } else { assignees.join(", ") },
                if session_notes.is_empty() { "none".to_owned() } else { session_notes.join(" | ") },
            )
        });
        notes += u64::from(link["phone_note"] == true);
        section.line(line);
    }
    section.count("sessions", played.len() as u64);
    section.count("conversations created", created);
    section.count("sessions appended to an open conversation", appended);
    section.count("customers created", customers_created.len() as u64);
    section.count("phone notes", notes);
    section.count(
        "recordings attached",
        sandboxes
            .kustomer
            .inspect(|w| notes_ending(w, "-recording").count() as u64),
    );
    section.count(
        "session messages (R-D-1)",
        sandboxes.kustomer.inspect(|w| {
            w.messages
                .iter()
                .filter(|m| {
                    m.text("externalId")
                        .is_some_and(|e| e.ends_with("-session"))
                })
                .count() as u64
        }),
    );
    section.count(
        "transcripts attached",
        sandboxes
            .kustomer
            .inspect(|w| notes_ending(w, "-transcript").count() as u64),
    );
    section.count(
        "recording bytes attached",
        sandboxes.kustomer.inspect(|w| {
            notes_ending(w, "-recording")
                .filter_map(|n| n.attributes.get("attachments")?.as_array().cloned())
                .flatten()
                .filter_map(|a| a["contentLength"].as_u64())
                .sum::<u64>()
        }),
    );
    section.count(
        "Kustomer conversations in the org",
        sandboxes.kustomer.inspect(|w| w.conversations.len() as u64),
    );
    section.count("Kustomer calls", sandboxes.kustomer_client.calls_made());
    Ok(section)
}
