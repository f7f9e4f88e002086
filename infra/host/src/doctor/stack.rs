//! A deployed stack (when its `ApiUrl` is given): the session-events endpoint refusing a sender
//! without credentials, the widget served, and — with the admin token — the admin's health,
//! the dead letters waiting, the status mapping's targets still in both platforms, and the
//! custom attributes the bridge provisioned still in Kustomer.

use super::{Check, DoctorSettings};
use serde_json::Value;

pub async fn checks(settings: &DoctorSettings) -> Vec<Check> {
    let Some(api) = settings.api_url.as_deref().map(|u| u.trim_end_matches('/')) else {
        return vec![Check::unchecked(
            "stack.endpoints",
            "The stack: its endpoints",
            "no ApiUrl given",
            "after deploying, run scripts/doctor (it reads ApiUrl from the stack), or pass \
             --api-url",
        )];
    };
    let Ok(http) = bridge_shared::http::builder().build() else {
        return Vec::new();
    };
    let mut checks = Vec::new();
    let events = http
        .post(format!("{api}/webhooks/ccai"))
        .json(&serde_json::json!({"count": 0, "events": []}))
        .send()
        .await;
    checks.push(match events {
        Ok(answer) if answer.status().as_u16() == 401 => Check::pass(
            "stack.events_endpoint",
            "The stack: CCAI's session-events endpoint",
            format!("{api}/webhooks/ccai answers 401 without credentials"),
        ),
        Ok(answer) => Check::fail(
            "stack.events_endpoint",
            "The stack: CCAI's session-events endpoint",
            format!(
                "{api}/webhooks/ccai answered {} without credentials",
                answer.status().as_u16()
            ),
            "ApiUrl must be the stack's output; the intake must refuse a sender without \
             credentials (is ccai-events-credentials set?)",
        ),
        Err(err) => Check::fail(
            "stack.events_endpoint",
            "The stack: CCAI's session-events endpoint",
            bridge_shared::redact::redact(&err.to_string()),
            "check ApiUrl (the stack output)",
        ),
    });
    let Some(token) = settings.admin_token.as_ref() else {
        checks.push(Check::unchecked(
            "stack.health",
            "The stack: health and dead letters",
            "no admin token given",
            "give admin-token in the secrets file",
        ));
        return checks;
    };
    let admin = |path: &str| {
        http.get(format!("{api}/admin/{path}"))
            .bearer_auth(token.expose())
            .send()
    };
    let health = match admin("health").await {
        Ok(answer) => (
            answer.status().as_u16(),
            answer.json::<Value>().await.unwrap_or(Value::Null),
        ),
        Err(err) => (
            0,
            Value::String(bridge_shared::redact::redact(&err.to_string()).into_owned()),
        ),
    };
    let token_refused = matches!(health.0, 401 | 403);
    checks.push(match health {
        (200, _) => Check::pass(
            "stack.health",
            "The stack: health and dead letters",
            "GET /admin/health: both platforms answer the deployed functions",
        ),
        (status, body) => Check::fail(
            "stack.health",
            "The stack: health and dead letters",
            format!("GET /admin/health answered {status}: {body}"),
            "each failed check names the setting or secret to fix (docs/operations.md)",
        ),
    });
    if token_refused {
        // One cause, said once: the checks that need the admin API are not tried.
        for (id, title) in [
            (
                "stack.events_received",
                "The stack: CCAI's session events received",
            ),
            ("stack.mapping", "The stack: the status mapping's targets"),
            (
                "stack.custom_fields",
                "The stack: custom attributes in Kustomer",
            ),
        ] {
            checks.push(Check::unchecked(
                id,
                title,
                "the admin token was refused",
                "see stack.health",
            ));
        }
        return checks;
    }
    let read = |path: &'static str| {
        let request = admin(path);
        async move {
            match request.await {
                Ok(answer) if answer.status().is_success() => {
                    answer.json::<Value>().await.map_err(|e| e.to_string())
                }
                Ok(answer) => Err(format!("GET /admin/{path} answered {}", answer.status())),
                Err(err) => Err(bridge_shared::redact::redact(&err.to_string()).into_owned()),
            }
        }
    };
    checks.push(match read("shapes").await {
        Ok(answer) => events_check(&answer, bridge_shared::UnixMillis::now().0),
        Err(why) => Check::fail(
            "stack.events_received",
            "The stack: CCAI's session events received",
            why,
            "see stack.health",
        ),
    });
    checks.push(match read("status-mapping").await {
        Ok(answer) => mapping_check(&answer),
        Err(why) => Check::fail(
            "stack.mapping",
            "The stack: the status mapping's targets",
            why,
            "the admin function reads both platforms' statuses: see stack.health",
        ),
    });
    checks.push(match read("custom-fields").await {
        Ok(answer) => fields_check(&answer, settings).await,
        Err(why) => Check::fail(
            "stack.custom_fields",
            "The stack: custom attributes in Kustomer",
            why,
            "see stack.health",
        ),
    });
    if let Ok(answer) = admin("dead-letters").await
        && let Ok(Value::Array(letters)) = answer.json::<Value>().await
    {
        checks.push(if letters.is_empty() {
            Check::pass(
                "stack.dead_letters",
                "The stack: dead letters",
                "none waiting",
            )
        } else {
            Check::warn(
                "stack.dead_letters",
                "The stack: dead letters",
                format!("{} waiting", letters.len()),
                "read each reason (GET /admin/dead-letters), fix, then replay \
                 (POST /admin/dead-letters/replay)",
            )
        });
    }
    checks
}

/// The saved mapping (R-S-2) against both platforms' statuses now: every Kustomer status it
/// maps still exists, and every CCAI target still exists under the name it was saved with and
/// may still be a target (a status renamed, deleted or sharing its name since is not set).
pub fn mapping_check(answer: &Value) -> Check {
    const ID: &str = "stack.mapping";
    const TITLE: &str = "The stack: the status mapping's targets";
    let mapping = &answer["mapping"];
    let to_ccai = mapping["to_ccai"].as_object().cloned().unwrap_or_default();
    if to_ccai.is_empty() {
        return Check::warn(
            ID,
            TITLE,
            "no status mapping saved: agents' CCAI statuses do not follow Kustomer",
            "map Kustomer statuses to CCAI statuses (PUT /admin/status-mapping, \
             docs/agent-status.md)",
        );
    }
    let listed =
        |list: &str| -> Vec<Value> { answer[list].as_array().cloned().unwrap_or_default() };
    let (kustomer, ccai) = (listed("kustomer_statuses"), listed("ccai_statuses"));
    let mut problems = Vec::new();
    for (kustomer_id, target) in &to_ccai {
        if !kustomer.iter().any(|s| s["id"] == kustomer_id.as_str()) {
            problems.push(format!("Kustomer status {kustomer_id} no longer exists"));
        }
        let saved_name = mapping["ccai_names"][target.to_string()]
            .as_str()
            .unwrap_or("?");
        let same_name = |now: &Value| {
            now["name"]
                .as_str()
                .is_some_and(|name| name.eq_ignore_ascii_case(saved_name))
        };
        match ccai.iter().find(|s| s["id"] == *target) {
            None => problems.push(format!(
                "CCAI status {saved_name} ({target}) no longer exists"
            )),
            Some(now) if !same_name(now) => problems.push(format!(
                "CCAI status {target} was saved as {saved_name} and is now named {}",
                now["name"].as_str().unwrap_or("?")
            )),
            Some(now) if now["can_be_target"] == false => problems.push(format!(
                "CCAI status {saved_name} can no longer be a target (a system status, or a name \
                 another status shares)"
            )),
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        Check::pass(
            ID,
            TITLE,
            format!(
                "{} Kustomer status(es) mapped; every target still in CCAI Platform under its name",
                to_ccai.len()
            ),
        )
    } else {
        Check::fail(
            ID,
            TITLE,
            problems.join("; "),
            "save the mapping again with the statuses as they are now (PUT \
             /admin/status-mapping): until then those choices are not followed",
        )
    }
}

/// The custom fields created (R-CF-2): each one's attribute still defined in Kustomer for
/// each resource it is written on (an attribute deleted in Kustomer is refused on write).
async fn fields_check(answer: &Value, settings: &DoctorSettings) -> Check {
    const ID: &str = "stack.custom_fields";
    const TITLE: &str = "The stack: custom attributes in Kustomer";
    let created: Vec<&Value> = answer["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| !f["created"].is_null())
        .collect();
    if created.is_empty() {
        return Check::pass(ID, TITLE, "no custom field created (none to check)");
    }
    let Ok(client) = super::kustomer::client(settings) else {
        return Check::unchecked(
            ID,
            TITLE,
            "no Kustomer key given",
            "give kustomer-api-key in the secrets file",
        );
    };
    let mut defined: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut missing = Vec::new();
    for field in created {
        let attribute = field["attribute"].as_str().unwrap_or_default();
        for resource in field["resources"].as_array().into_iter().flatten() {
            let resource = resource.as_str().unwrap_or_default().to_owned();
            if !defined.contains_key(&resource) {
                match client.metadata(&resource).await {
                    Ok(metadata) => {
                        defined.insert(
                            resource.clone(),
                            metadata.properties.keys().cloned().collect(),
                        );
                    }
                    Err(err) => {
                        return Check::fail(
                            ID,
                            TITLE,
                            format!("GET /v1/metadata/{resource}: {err}"),
                            "the Kustomer key needs to read custom attribute definitions",
                        );
                    }
                }
            }
            if !defined[&resource].iter().any(|p| p == attribute) {
                missing.push(format!("{attribute} on {resource}"));
            }
        }
    }
    if missing.is_empty() {
        Check::pass(
            ID,
            TITLE,
            format!(
                "every created field's attribute is defined in Kustomer ({} resource(s) read)",
                defined.len()
            ),
        )
    } else {
        Check::fail(
            ID,
            TITLE,
            format!(
                "created in the bridge, not defined in Kustomer: {}",
                missing.join(", ")
            ),
            "create the field again (POST /admin/custom-fields provisions its attribute), or \
             remove it (DELETE /admin/custom-fields/{field}) so sessions stop writing it",
        )
    }
}

/// When the stack last received a batch of CCAI's session events (the record of shapes keeps
/// when each kind of document was last seen, `GET /admin/shapes`).
pub fn events_check(shapes: &Value, now_ms: i64) -> Check {
    const ID: &str = "stack.events_received";
    const TITLE: &str = "The stack: CCAI's session events received";
    let last = shapes["kinds"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["kind"] == "ese.batch")
        .and_then(|k| k["last_seen"].as_str())
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis());
    let fix = "check CCAI Platform's External Session Events (Settings › Developer Settings): \
               on, with the stack's /webhooks/ccai URL and the credentials of \
               ccai-events-credentials. A tenant without them works from the poll alone \
               (R-E-4), minutes later";
    match last {
        None => Check::warn(ID, TITLE, "none received yet", fix),
        Some(at) if now_ms - at > 24 * 3600 * 1000 => Check::warn(
            ID,
            TITLE,
            format!("the last batch {} h ago", (now_ms - at) / 3_600_000),
            fix,
        ),
        Some(at) => Check::pass(
            ID,
            TITLE,
            format!("the last batch {} min ago", (now_ms - at).max(0) / 60_000),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Verdict;
    use serde_json::json;

    #[test]
    fn r_f_1_session_events_received_lately_or_not() {
        let shapes = |at: &str| json!({"kinds": [{"kind": "ccai.call"}, {"kind": "ese.batch", "last_seen": at}]});
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .timestamp_millis();
        let recent = events_check(&shapes("2026-12-07T09:55:00Z"), now);
        assert_eq!(
            (recent.verdict, recent.found.as_str()),
            (Verdict::Pass, "the last batch 5 min ago")
        );
        assert_eq!(
            events_check(&shapes("2026-12-05T09:00:00Z"), now).verdict,
            Verdict::Warn
        );
        assert_eq!(
            events_check(&json!({"kinds": []}), now).verdict,
            Verdict::Warn
        );
    }

    #[test]
    fn r_f_1_a_mapping_target_renamed_since_is_a_failure() {
        let answer = |name: &str| {
            json!({
                "mapping": {"to_ccai": {"k1": 5}, "ccai_names": {"5": "Break"}},
                "kustomer_statuses": [{"id": "k1", "name": "Lunch"}],
                "ccai_statuses": [{"id": 5, "name": name, "can_be_target": true}],
            })
        };
        assert_eq!(mapping_check(&answer("Break")).verdict, Verdict::Pass);
        let renamed = mapping_check(&answer("Meal"));
        assert_eq!(renamed.verdict, Verdict::Fail);
        assert!(renamed.found.contains("now named Meal"), "{renamed:?}");
        assert_eq!(
            mapping_check(&json!({"mapping": {}})).verdict,
            Verdict::Warn
        );
    }
}
