//! The admin console in a real browser (R-ADM-1…3, issue 29): headless Chromium opens
//! `/admin/` on the local host, with every function of the template behind it (the table's
//! stream and the file queues included) and both platforms' sandboxes behind those.
//!
//! The admin signs in through the Kustomer sandbox's OAuth pages (no secret pasted anywhere);
//! a mapping entry CCAI would refuse is refused with its reason beside it; two Kustomer
//! statuses mapped to one CCAI status are followed by an agent; a field created on its page
//! is carried by the next session's message; a session is found, read and resynced without
//! anything written twice; a dead letter is replayed. Every control has a label and the pages
//! are reached with the keyboard. A screenshot of each page is saved (`screenshot`).
//!
//! Skipped (with a message) when `chromium` or `chromedriver` is missing: `infra/local/install`
//! installs both, and `scripts/test` runs it with `REQUIRE_BROWSER` set.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod browser;

use bridge_local::audit_check;
use bridge_local::backends::Backends;
use bridge_local::functions::{Platforms, Tokens, demo_host};
use bridge_shared::UnixMillis;
use bridge_shared::events::SessionRef;
use bridge_shared::store::keys::SessionKind;
use bridge_shared::stream::failures::{FailurePlan, FailurePolicy};
use bridge_tests::ccai_sandbox::{EventSink, Played, ScenarioDriver};
use bridge_tests::platforms::SandboxedPlatforms;
use fantoccini::{Client, Locator, key::Key};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(25);

/// Saved under `target/admin-screenshots/`; with `UPDATE_SCREENSHOTS` set, under `docs/admin/`
/// (the README's pictures), so a test run leaves the committed ones alone.
async fn screenshot(client: &Client, name: &str) {
    let to = if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        "../../docs/admin"
    } else {
        "../../target/admin-screenshots"
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(to);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{name}.png")),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
}

/// The text at `css`, or empty when there is no such element.
async fn text(client: &Client, css: &str) -> String {
    match client.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until the text at `css` satisfies `ok` (the page loads on its own).
async fn wait_for(client: &Client, css: &str, ok: impl Fn(&str) -> bool, what: &str) -> String {
    let started = Instant::now();
    loop {
        let found = text(client, css).await;
        if ok(&found) {
            return found;
        }
        if started.elapsed() > WAIT {
            let page = text(client, "main").await;
            panic!("{what}: {css} says {found:?}; the page: {page}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn click(client: &Client, css: &str) {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Picks the option of the `<select>` at `css` whose value is `value`.
async fn choose(client: &Client, css: &str, value: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .select_by_value(value)
        .await
        .unwrap();
}

/// Goes to a page by its link in the navigation, with the keyboard only: Tab until the link
/// has the focus, then Enter.
async fn go_by_keyboard(client: &Client, page: &str, heading: &str) {
    let href = format!("#{page}");
    client
        .execute(
            "document.activeElement && document.activeElement.blur()",
            vec![],
        )
        .await
        .unwrap();
    for _ in 0..40 {
        // Keys go to whatever has the focus, as a keyboard's do.
        let focused = client.active_element().await.unwrap();
        focused
            .send_keys(&char::from(Key::Tab).to_string())
            .await
            .unwrap();
        let at = client
            .execute(
                "return document.activeElement && document.activeElement.getAttribute('href')",
                vec![],
            )
            .await
            .unwrap();
        if at.as_str() == Some(href.as_str()) {
            client
                .active_element()
                .await
                .unwrap()
                .send_keys(&char::from(Key::Enter).to_string())
                .await
                .unwrap();
            wait_for(client, "#page-title", |t| t == heading, heading).await;
            wait_for(
                client,
                "#content",
                |t| !t.starts_with("Loading"),
                "the page loads",
            )
            .await;
            return;
        }
    }
    panic!("the keyboard never reached the link to {page}");
}

/// Every control of the page has an accessible name: a `<label for>`, `aria-label`, or text.
async fn every_control_is_labelled(client: &Client, page: &str) {
    let unlabelled = client
        .execute(
            "return [...document.querySelectorAll('main button, main select, main input')]
               .filter(c => !c.closest('[hidden]'))
               .filter(c => !(c.getAttribute('aria-label')
                 || (c.id && document.querySelector('label[for=\"' + c.id + '\"]'))
                 || c.closest('label')
                 || (c.tagName === 'BUTTON' && c.textContent.trim())))
               .map(c => c.outerHTML.slice(0, 80));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(unlabelled, json!([]), "{page}: controls without a label");
}

/// Kustomer's writes for one session's customer: (conversations, messages, notes).
fn written(sandboxes: &SandboxedPlatforms, phone: &str) -> (usize, usize, usize) {
    sandboxes.kustomer.inspect(|w| {
        let customer = w
            .customers
            .iter()
            .find(|c| c.attributes["phones"].to_string().contains(phone))
            .map(|c| c.id.clone())
            .unwrap_or_default();
        let conversations: Vec<&str> = w
            .conversations
            .iter()
            .filter(|c| c.related("customer") == Some(customer.as_str()))
            .map(|c| c.id.as_str())
            .collect();
        let in_them = |r: &&bridge_tests::kustomer_sandbox::state::Record| {
            r.related("conversation")
                .is_some_and(|id| conversations.contains(&id))
        };
        (
            conversations.len(),
            w.messages.iter().filter(in_them).count(),
            w.notes.iter().filter(in_them).count(),
        )
    })
}

/// The call's timeline and its writes to the platforms' APIs, sorted.
async fn timeline(
    http: &reqwest::Client,
    bridge: &str,
    played: &Played,
) -> (Vec<Value>, Vec<audit_check::Write>) {
    let timelines = audit_check::timelines(http, bridge, std::slice::from_ref(played))
        .await
        .unwrap();
    let writes = audit_check::audited_writes(&timelines);
    (timelines.into_iter().next().unwrap().1, writes)
}

#[tokio::test]
async fn r_adm_1_to_3_an_admin_maps_statuses_creates_a_field_resyncs_a_session_and_replays_a_dead_letter()
 {
    if !browser::available() {
        return;
    }
    let sandboxes = SandboxedPlatforms::start().await.unwrap();
    let admin_email = format!("{}@example.com", bridge_tests::unique("ada"));
    sandboxes.add_agent(&admin_email, "Ada", "Available");
    let admin_user = sandboxes.kustomer_user(&admin_email).unwrap();
    let ana_email = format!("{}@example.com", bridge_tests::unique("ana"));
    let ana = sandboxes.add_agent(&ana_email, "Ana", "Available");
    let ana_user = sandboxes.kustomer_user(&ana_email).unwrap();
    sandboxes
        .kustomer
        .set_work_session(&ana_user, "Available")
        .unwrap();
    let files = std::env::temp_dir().join(format!("admin-console-{}", uuid::Uuid::new_v4()));
    let backends = Backends::embedded(files.clone());
    let platforms = Platforms::of(&sandboxes);
    let mut tokens = Tokens::demo(None).signing_in_with(&sandboxes.kustomer);
    // In any case, as Kustomer may spell it.
    tokens.admin_emails =
        bridge_admin::access::AdminEmails::parse(Some(&admin_email.to_uppercase())).unwrap();
    // KUSTOMER_ORG: the session's records and writes link into Kustomer's web app.
    tokens.kustomer_ui = Some(bridge_shared::kustomer::KustomerUi::of_org("acme").unwrap());
    let host = demo_host(backends.store.clone(), &platforms, &tokens)
        .await
        .unwrap();
    let streams = bridge_local::sessions::start_streams(&backends, &platforms)
        .await
        .unwrap();
    let http = bridge_shared::http::builder().build().unwrap();

    // R-ADM-3: a Kustomer user who is not on ADMIN_EMAILS is signed in, and refused.
    let ana_session = sandboxes.sign_in(&host.base_url, &ana_email).await.unwrap();
    let refused = http
        .get(format!("{}/admin/whoami", host.base_url))
        .bearer_auth(&ana_session)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);

    let driver = browser::browser("1200,1000").await;
    let client = &driver.client;
    client
        .goto(
            &sandboxes
                .kustomer
                .browser_sign_in_url(&admin_user, &format!("{}/admin/", host.base_url)),
        )
        .await
        .unwrap();
    wait_for(
        client,
        "#sign-in",
        |t| t == "Sign in with Kustomer",
        "the sign-in button",
    )
    .await;
    screenshot(client, "0-sign-in").await;
    let console = client.window().await.unwrap();
    let before = client.windows().await.unwrap();
    click(client, "#sign-in").await;
    let started = Instant::now();
    let popup = loop {
        let now = client.windows().await.unwrap();
        if let Some(new) = now.into_iter().find(|w| !before.contains(w)) {
            break new;
        }
        assert!(started.elapsed() < WAIT, "no sign-in window opened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    client.switch_to_window(popup).await.unwrap();
    click(client, "#allow").await;
    let started = Instant::now();
    while client.windows().await.unwrap().len() > before.len() {
        assert!(started.elapsed() < WAIT, "the sign-in window did not close");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.switch_to_window(console).await.unwrap();
    wait_for(
        client,
        "#who",
        |t| t.eq_ignore_ascii_case(&format!("Signed in as {admin_email}")),
        "signed in",
    )
    .await;

    // The console's session is the console's: no agent route opens with it (R-ADM-3).
    let console_token = client
        .execute(
            "return JSON.parse(sessionStorage.getItem('ccai-bridge-admin-session')).token",
            vec![],
        )
        .await
        .unwrap();
    let as_agent = http
        .post(format!("{}/agents/instances", host.base_url))
        .bearer_auth(console_token.as_str().unwrap())
        .json(&json!({"instance_id": "tab-admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(as_agent.status().as_u16(), 401);

    // Status mapping (R-S-2, R-ADM-1): a target CCAI sets itself is refused, beside its entry.
    go_by_keyboard(client, "mapping", "Status mapping").await;
    every_control_is_labelled(client, "mapping").await;
    let busy = sandboxes.kustomer.status_id("Busy").unwrap();
    let lunch = sandboxes.kustomer.status_id("Lunch").unwrap();
    let training = sandboxes.kustomer.status_id("Training").unwrap();
    choose(client, &format!("#to-ccai-{busy}"), "-7").await; // In-call
    click(client, "#save-mapping").await;
    let refusal = wait_for(
        client,
        &format!("[id='error-to_ccai.{busy}']"),
        |t| !t.is_empty(),
        "the refused entry",
    )
    .await;
    assert!(refusal.contains("set by CCAI itself"), "{refusal}");
    assert!(text(client, "#notice").await.starts_with("Not saved"));
    screenshot(client, "1-mapping-refused").await;
    // Two Kustomer statuses to one CCAI status, applied at login.
    choose(client, &format!("#to-ccai-{busy}"), "").await;
    choose(client, &format!("#to-ccai-{lunch}"), "-2").await; // Break
    choose(client, &format!("#to-ccai-{training}"), "-2").await;
    click(client, "#apply-at-login").await;
    click(client, "#save-mapping").await;
    wait_for(client, "#notice", |t| t.starts_with("Saved"), "saved").await;
    assert_eq!(
        text(client, &format!("[id='error-to_ccai.{busy}']")).await,
        "",
        "the refusal is gone once the entry is mended"
    );
    screenshot(client, "2-mapping").await;
    // Ana picks Training in Kustomer and opens it: her widget claims her lease, and the
    // status she has is applied at login (R-S-8) — Training, mapped to Break.
    sandboxes
        .kustomer
        .set_work_session(&ana_user, "Training")
        .unwrap();
    let claimed = http
        .post(format!("{}/agents/instances", host.base_url))
        .bearer_auth(&ana_session)
        .json(&json!({"instance_id": "tab-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        claimed.status().as_u16(),
        201,
        "{}",
        claimed.text().await.unwrap()
    );
    assert_eq!(
        sandboxes.ccai.inspect(|w| w.agent_status(ana)).as_deref(),
        Some("Break"),
        "Training maps to Break"
    );

    // Agents: Ana's Kustomer choice and CCAI status.
    go_by_keyboard(client, "agents", "Agents").await;
    every_control_is_labelled(client, "agents").await;
    let row = wait_for(
        client,
        &format!("tr[data-agent='{ana_email}']"),
        |t| t.contains("Break"),
        "Ana's row",
    )
    .await;
    assert!(row.contains("Training"), "{row}");
    screenshot(client, "3-agents").await;

    // Custom fields (R-CF-2): the session id field, created from the page.
    go_by_keyboard(client, "fields", "Custom fields").await;
    every_control_is_labelled(client, "fields").await;
    let attribute = text(client, "tr[data-field='session_id'] code").await;
    assert!(!attribute.is_empty(), "the field's attribute is shown");
    click(client, "tr[data-field='session_id'] button").await;
    wait_for(
        client,
        "#notice",
        |t| t.contains("created in Kustomer"),
        "created",
    )
    .await;
    let state = text(client, "tr[data-field='session_id']").await;
    assert!(
        state.to_lowercase().contains(&admin_email.to_lowercase()),
        "recorded with who created it: {state}"
    );
    screenshot(client, "4-custom-fields").await;

    // A call, through the intake, the stream and the workers: its message carries the field.
    let phone = "+15550107733";
    let scenarios = ScenarioDriver::new(
        &sandboxes.ccai,
        Some(EventSink::new(
            &format!("{}/webhooks/ccai", host.base_url),
            bridge_local::functions::DEMO_EVENTS_USER,
            bridge_local::functions::DEMO_EVENTS_PASSWORD,
        )),
    );
    let before_the_call = sandboxes.log_lengths();
    let played = scenarios.ivr_call_answered(ana, phone).await;
    assert!(
        streams.drain(Duration::from_secs(30)).await,
        "the stream drained"
    );
    let call = played.session_id.to_string();
    let carried = sandboxes.kustomer.inspect(|w| {
        w.messages
            .iter()
            .filter_map(|m| m.attributes.get("custom"))
            .any(|custom| custom[&attribute].to_string().contains(&call))
    });
    assert!(carried, "the call's message carries {attribute}");
    let once = written(&sandboxes, phone);
    assert_eq!(once.0, 1, "one conversation");
    // The audit is whole (issue 29): every write the platforms received for the call is on
    // its timeline, once, and nothing else is.
    let (entries, audited) = timeline(&http, &host.base_url, &played).await;
    let received = sandboxes.writes_since(before_the_call);
    assert!(received.len() >= 4, "the call was written: {received:?}");
    assert_eq!(
        audited, received,
        "the timeline's writes are the platforms' log"
    );
    assert!(
        entries
            .iter()
            .all(|e| e["worker"].is_string() && e["outcome"].is_string()),
        "{entries:?}"
    );
    // What it decided and why (R-ADM-2): the truth merged, and the placement by its rule —
    // a new caller's answered IVR call opens a conversation (R-T-2); never the number.
    let decisions: Vec<&str> = entries
        .iter()
        .flat_map(|e| e["decisions"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    assert!(
        decisions.iter().any(|d| d.starts_with("truth: call")),
        "{decisions:?}"
    );
    let placed: Vec<&&str> = decisions
        .iter()
        .filter(|d| d.starts_with("placed:"))
        .collect();
    assert_eq!(placed.len(), 1, "placed once: {decisions:?}");
    assert!(placed[0].contains("R-T-2"), "{placed:?}");
    assert!(
        decisions.iter().all(|d| !d.contains(phone)),
        "{decisions:?}"
    );

    // Sessions (R-ADM-2): found by the caller's number, read, resynced; nothing written twice.
    go_by_keyboard(client, "sessions", "Sessions").await;
    every_control_is_labelled(client, "sessions").await;
    client
        .find(Locator::Css("#search-value"))
        .await
        .unwrap()
        .send_keys(phone)
        .await
        .unwrap();
    click(client, "#search").await;
    wait_for(
        client,
        "#search-result",
        |t| t.ends_with(": 1 session(s)"),
        "the caller's sessions",
    )
    .await;
    click(client, &format!("a[href='#sessions/call/{call}']")).await;
    wait_for(
        client,
        "#session-state",
        |t| t == "placed",
        "the session's state",
    )
    .await;
    wait_for(
        client,
        "#timeline",
        |t| t.contains("placed: a new conversation — R-T-2") && t.contains("truth: call"),
        "the timeline's truth, placement and rule",
    )
    .await;
    // Links into Kustomer (R-ADM-2): the conversation the call was placed in, from the
    // session's record and from the write that created it.
    let conversation = entries
        .iter()
        .flat_map(|e| e["writes"].as_array().into_iter().flatten())
        .find(|w| w["operation"] == "create conversation")
        .and_then(|w| w["id"].as_str())
        .expect("the call's conversation was created on its timeline")
        .to_owned();
    let page = format!("https://acme.kustomerapp.com/app/conversations/{conversation}");
    for link in client.find_all(Locator::Css("a.kustomer")).await.unwrap() {
        assert_eq!(
            link.attr("rel").await.unwrap().as_deref(),
            Some("noopener noreferrer")
        );
    }
    let linked: Vec<String> = {
        let mut hrefs = Vec::new();
        for link in client.find_all(Locator::Css("a.kustomer")).await.unwrap() {
            hrefs.extend(link.attr("href").await.unwrap());
        }
        hrefs
    };
    assert!(
        linked.iter().filter(|href| **href == page).count() >= 2,
        "the record and the creating write link {page}: {linked:?}"
    );
    // The customer rates the call afterwards and nothing tells the bridge: the dry run lists
    // the note a resync would write, and writes nothing (R-ADM-2).
    scenarios.csat("call", played.session_id, 5, None);
    click(client, "#dry-run").await;
    wait_for(
        client,
        "#preview",
        |t| t.contains("write the note csat"),
        "the dry run's steps",
    )
    .await;
    assert_eq!(written(&sandboxes, phone), once, "a dry run writes nothing");
    screenshot(client, "5-session").await;
    let once = (once.0, once.1, once.2 + 1);
    click(client, "#resync").await;
    wait_for(
        client,
        "#notice",
        |t| t.starts_with("Resync queued"),
        "resync",
    )
    .await;
    assert!(
        streams.drain(Duration::from_secs(30)).await,
        "the resync drained"
    );
    assert_eq!(
        written(&sandboxes, phone),
        once,
        "a resync writes the rating's note and nothing twice"
    );

    // Dead letters (R-E-7): a trigger of this call the sync worker gave up on, replayed.
    let session = SessionRef {
        kind: SessionKind::Call,
        id: played.session_id,
    };
    let mut trigger =
        bridge_shared::conversation::report::resync_trigger(&session, UnixMillis::now());
    trigger.id = format!("poll-call-{call}-1");
    #[derive(Debug)]
    struct Refused;
    impl std::fmt::Display for Refused {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Kustomer answered 400")
        }
    }
    impl bridge_shared::retry::Retryable for Refused {
        fn is_retryable(&self) -> bool {
            false
        }
    }
    FailurePolicy {
        store: backends.store.as_ref(),
        step: "bridge-sync",
        plan: &FailurePlan::default(),
    }
    .keep(&trigger, &Refused, UnixMillis::now())
    .await
    .unwrap();
    go_by_keyboard(client, "dead-letters", "Dead letters").await;
    every_control_is_labelled(client, "dead-letters").await;
    let letter = format!("tr[data-letter='bridge-sync#{}']", trigger.id);
    let shown = wait_for(client, &letter, |t| !t.is_empty(), "the dead letter").await;
    assert!(shown.contains("Kustomer answered 400"), "{shown}");
    screenshot(client, "6-dead-letters").await;
    click(client, &format!("{letter} button")).await;
    wait_for(
        client,
        "#notice",
        |t| t.starts_with("Replayed: 1"),
        "replayed",
    )
    .await;
    assert!(
        streams.drain(Duration::from_secs(30)).await,
        "the replay drained"
    );
    assert_eq!(
        written(&sandboxes, phone),
        once,
        "a replay writes nothing twice"
    );
    let letters: Value = http
        .get(format!("{}/admin/dead-letters", host.base_url))
        .bearer_auth(bridge_local::functions::DEMO_ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(letters, json!([]), "the replayed letter is gone");

    // The read-only pages load and are labelled.
    for (page, heading, name) in [
        ("rejected", "Rejected events", "7-rejected"),
        ("health", "Health", "8-health"),
        ("shapes", "Shapes", "9-shapes"),
        ("shadow", "Shadow mode", "10-shadow"),
    ] {
        go_by_keyboard(client, page, heading).await;
        every_control_is_labelled(client, page).await;
        if page == "health" {
            let work = text(client, "#work").await;
            assert!(
                work.contains("Call poll") && work.contains("Dead letters\n0"),
                "{work}"
            );
            // The demo host paces each process alone: said so, not a lag of zero.
            assert!(
                work.contains("Pacing lag\nper process (SHARED_PACING off)"),
                "{work}"
            );
            // Who changed what (R-ADM-3): the mapping saved above, by this admin.
            let page = text(client, "main").await.to_lowercase();
            assert!(
                page.contains("latest changes")
                    && page.contains(&admin_email.to_lowercase())
                    && page.contains("put /admin/status-mapping"),
                "{page}"
            );
        }
        assert!(
            text(client, "#content .error[role='alert']")
                .await
                .is_empty(),
            "{page} failed"
        );
        screenshot(client, name).await;
    }
    let _ = std::fs::remove_dir_all(files);
}
