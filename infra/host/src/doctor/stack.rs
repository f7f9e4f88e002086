//! A deployed stack (when its `ApiUrl` is given): the session-events endpoint refusing a sender
//! without credentials, the widget served, and — with the admin token — the admin's health
//! and the dead letters waiting.

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
