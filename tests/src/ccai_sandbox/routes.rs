//! The sandbox's HTTP surface: Manager API and Apps API.

use super::state::SYSTEM_STATUSES;
use super::{CcaiShared, SeenRequest};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Shared = Arc<CcaiShared>;

pub(super) fn router(shared: Shared) -> Router {
    let api = Router::new()
        .route("/manager/api/v1/calls", get(list_calls))
        .route("/manager/api/v1/calls/{id}", get(get_call))
        .route("/manager/api/v1/chats", get(list_chats))
        .route("/manager/api/v1/chats/{id}", get(get_chat))
        .route("/manager/api/v1/agents", get(list_agents))
        .route("/manager/api/v1/agents/{id}", get(get_agent))
        .route("/manager/api/v1/user_statuses", get(user_statuses))
        .route("/manager/api/v1/menus", get(menus))
        .route("/manager/api/v1/teams", get(teams))
        .route("/manager/api/v1/settings/organization", get(organization))
        .route("/apps/api/v1/agent_statuses", post(set_agent_statuses))
        .route("/apps/api/v1/calls", post(create_call))
        .route("/apps/api/v1/end_users", get(end_users))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), gate));
    Router::new()
        .merge(api)
        // Google's, not CCAI Platform's: the keys the bucket's pushes are signed with.
        .route("/oauth2/v3/certs", get(jwks))
        .fallback(unknown_path)
        .with_state(shared)
}

async fn jwks(State(shared): State<Shared>) -> Response {
    axum::Json(shared.signer.jwks()).into_response()
}

/// A path CCAI Platform does not serve: 404, and recorded, because the bridge sent a request
/// the real platform would not accept.
async fn unknown_path(
    State(shared): State<Shared>,
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> Response {
    shared
        .world()
        .unexpected
        .push(format!("{method} {}", uri.path()));
    message(StatusCode::NOT_FOUND, "Not Found")
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({"message": text}))).into_response()
}

fn credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Basic auth, then the tenant's 10 requests/s (sliding window), then the request log.
async fn gate(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let arrived = Instant::now();
    let options = shared.options();
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let authorised = credentials(request.headers()).is_some_and(|(user, password)| {
        (user == options.subdomain && password == options.api_token)
            || (user == options.company_key && password == options.company_secret)
    });
    let response = if !authorised {
        message(StatusCode::UNAUTHORIZED, "Unauthorized")
    } else {
        let limited = {
            let mut recent = shared.recent.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            while recent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
            {
                recent.pop_front();
            }
            if recent.len() >= options.requests_per_second {
                true
            } else {
                recent.push_back(now);
                false
            }
        };
        if limited {
            message(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded")
        } else {
            match random_fault(&shared, &options) {
                Some(RandomFault::RateLimited) => {
                    message(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded")
                }
                Some(RandomFault::ServerError) => {
                    message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
                }
                Some(RandomFault::Slow(pause)) => {
                    tokio::time::sleep(pause).await;
                    next.run(request).await
                }
                None => next.run(request).await,
            }
        }
    };
    shared
        .seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(SeenRequest {
            at: arrived,
            method,
            path,
            status: response.status().as_u16(),
            authorised,
        });
    response
}

enum RandomFault {
    RateLimited,
    ServerError,
    Slow(Duration),
}

/// The next random fault, if the options ask for them (xorshift: reproducible from the seed).
fn random_fault(shared: &CcaiShared, options: &super::CcaiSandboxOptions) -> Option<RandomFault> {
    let rates = options.faults?;
    let mut state = shared.faults.lock().unwrap_or_else(|p| p.into_inner());
    let mut x = if state.0 == 0 {
        rates.seed | 1
    } else {
        state.0
    };
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    state.0 = x;
    let roll = (x % 1_000_000) as f64 / 1_000_000.0;
    let (fault, name) = if roll < rates.rate_limited {
        (RandomFault::RateLimited, "429")
    } else if roll < rates.rate_limited + rates.server_error {
        (RandomFault::ServerError, "5xx")
    } else if roll < rates.rate_limited + rates.server_error + rates.slow {
        (RandomFault::Slow(rates.slow_for), "slow")
    } else {
        return None;
    };
    *state.1.entry(name).or_default() += 1;
    Some(fault)
}

#[derive(serde::Deserialize, Default)]
struct ListQuery {
    page: Option<usize>,
    per: Option<usize>,
    #[serde(rename = "updated_at[from]")]
    updated_from: Option<String>,
}

/// A bare JSON array with `Total`, `Per-Page` and `Link: <…>; rel="next"`.
fn paged(
    shared: &CcaiShared,
    path: &str,
    items: Vec<Value>,
    query: &ListQuery,
    extra: &str,
) -> Response {
    let max = shared.options().max_per_page;
    let per = query.per.unwrap_or(max).clamp(1, max);
    let page = query.page.unwrap_or(1).max(1);
    let total = items.len();
    let data: Vec<Value> = items.into_iter().skip((page - 1) * per).take(per).collect();
    let mut response = axum::Json(data).into_response();
    let headers = response.headers_mut();
    headers.insert("total", HeaderValue::from(total));
    headers.insert("per-page", HeaderValue::from(per));
    let mut links = vec![format!(
        "<{}{path}?{extra}page=1&per={per}>; rel=\"first\"",
        shared.base_url
    )];
    if page * per < total {
        links.push(format!(
            "<{}{path}?{extra}page={}&per={per}>; rel=\"next\"",
            shared.base_url,
            page + 1
        ));
    }
    if let Ok(value) = HeaderValue::from_str(&links.join(", ")) {
        headers.insert("link", value);
    }
    response
}

fn updated_since(items: &[Value], from: Option<&str>) -> Vec<Value> {
    let mut selected: Vec<Value> = items
        .iter()
        .filter(|s| from.is_none_or(|f| s["updated_at"].as_str().is_some_and(|u| u >= f)))
        .cloned()
        .collect();
    selected.sort_by(|a, b| a["updated_at"].as_str().cmp(&b["updated_at"].as_str()));
    selected
}

fn filter_param(query: &ListQuery) -> String {
    query
        .updated_from
        .as_ref()
        .map(|f| format!("updated_at%5Bfrom%5D={}&", f.replace(':', "%3A")))
        .unwrap_or_default()
}

async fn list_sessions(shared: &CcaiShared, kind: &str, query: &ListQuery) -> Response {
    let options = shared.options();
    if let Some(delay) = options.list_delay {
        tokio::time::sleep(delay).await;
    }
    let items = {
        let world = shared.world();
        let all = if kind == "call" {
            &world.calls
        } else {
            &world.chats
        };
        updated_since(all, query.updated_from.as_deref())
    };
    let twist = if kind == "call" {
        &options.shape_twists.call
    } else {
        &options.shape_twists.chat
    };
    let items: Vec<Value> = items
        .into_iter()
        .map(|mut item| {
            twist.apply(&mut item);
            item
        })
        .collect();
    let max = options.max_per_page;
    let per = query.per.unwrap_or(max).clamp(1, max);
    let page = query.page.unwrap_or(1).max(1);
    let returned: Vec<u64> = items
        .iter()
        .skip((page - 1) * per)
        .take(per)
        .filter_map(|s| s["id"].as_u64())
        .collect();
    let response = paged(
        shared,
        &format!("/manager/api/v1/{kind}s"),
        items,
        query,
        &filter_param(query),
    );
    if options.list_churn > 0 {
        let mut world = shared.world();
        let moved: Vec<u64> = returned
            .into_iter()
            .filter(|id| !world.churned.contains(id))
            .take(options.list_churn)
            .collect();
        for id in moved {
            world.churned.insert(id);
            world.update_session(kind, id, |_| {});
        }
    }
    response
}

async fn list_calls(State(shared): State<Shared>, Query(query): Query<ListQuery>) -> Response {
    list_sessions(&shared, "call", &query).await
}

async fn list_chats(State(shared): State<Shared>, Query(query): Query<ListQuery>) -> Response {
    list_sessions(&shared, "chat", &query).await
}

async fn get_call(State(shared): State<Shared>, Path(id): Path<u64>) -> Response {
    let twist = shared.options().shape_twists.call;
    let call = shared.world().call(id).cloned();
    match call {
        Some(mut call) => {
            twist.apply(&mut call);
            axum::Json(call).into_response()
        }
        None => message(StatusCode::NOT_FOUND, "Call not found"),
    }
}

async fn get_chat(State(shared): State<Shared>, Path(id): Path<u64>) -> Response {
    let twist = shared.options().shape_twists.chat;
    let chat = shared.world().chat(id).cloned();
    match chat {
        Some(mut chat) => {
            twist.apply(&mut chat);
            axum::Json(chat).into_response()
        }
        None => message(StatusCode::NOT_FOUND, "Chat not found"),
    }
}

async fn list_agents(State(shared): State<Shared>, Query(query): Query<ListQuery>) -> Response {
    let items = shared.world().agents.iter().map(|a| a.to_json()).collect();
    paged(&shared, "/manager/api/v1/agents", items, &query, "")
}

async fn get_agent(State(shared): State<Shared>, Path(id): Path<u64>) -> Response {
    match shared.world().agent(id) {
        Some(agent) => axum::Json(agent.to_json()).into_response(),
        None => message(StatusCode::NOT_FOUND, "Agent not found"),
    }
}

async fn user_statuses(State(shared): State<Shared>, Query(query): Query<ListQuery>) -> Response {
    let items = super::state::STATUSES
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name, "color": "#888888", "wfm_id": null}))
        .collect();
    paged(&shared, "/manager/api/v1/user_statuses", items, &query, "")
}

async fn menus(State(shared): State<Shared>, Query(query): Query<ListQuery>) -> Response {
    let items = shared.world().menus.clone();
    paged(&shared, "/manager/api/v1/menus", items, &query, "")
}

async fn teams(State(shared): State<Shared>, Query(query): Query<ListQuery>) -> Response {
    let items = shared.world().teams.clone();
    paged(&shared, "/manager/api/v1/teams", items, &query, "")
}

async fn organization(State(shared): State<Shared>) -> Response {
    axum::Json(json!({"name": shared.options().subdomain, "time_zone": "UTC"})).into_response()
}

/// `POST /apps/api/v1/agent_statuses`: one result per agent; a move to or from a system status
/// is refused for that agent with a message.
async fn set_agent_statuses(State(shared): State<Shared>, body: Bytes) -> Response {
    let gate = {
        let mut slot = shared.status_gate.lock().unwrap_or_else(|p| p.into_inner());
        if shared
            .status_gate_once
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            slot.take()
        } else {
            slot.clone()
        }
    };
    if let Some(gate) = gate {
        gate.pass().await;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return message(StatusCode::BAD_REQUEST, "Invalid JSON");
    };
    {
        let mut world = shared.world();
        if world.failing_status_changes > 0 {
            world.failing_status_changes -= 1;
            return message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
        }
    }
    let Some(target) = body["status"].as_str().map(str::to_owned) else {
        return message(StatusCode::BAD_REQUEST, "status is required");
    };
    let mut world = shared.world();
    if !world.statuses.contains(&target) {
        return message(StatusCode::BAD_REQUEST, "Status not found");
    }
    let ids: Vec<u64> = body["agent_ids"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let mut results = Vec::new();
    for id in ids {
        let Some(agent) = world.agent(id).cloned() else {
            results.push(json!({"agent_id": id, "message": "Agent not found"}));
            continue;
        };
        let refusal = if SYSTEM_STATUSES.contains(&agent.status.as_str()) {
            Some(format!(
                "Cannot change status while agent is in {}",
                agent.status
            ))
        } else if SYSTEM_STATUSES.contains(&target.as_str()) {
            Some(format!("Cannot change status to {target}"))
        } else {
            None
        };
        match refusal {
            Some(text) => results.push(json!({
                "agent_id": id, "email": agent.email, "previous_status": agent.status,
                "current_status": agent.status, "message": text,
            })),
            None => {
                world.move_agent(id, &target, "api");
                results.push(json!({"agent_id": id, "email": agent.email, "previous_status": agent.status, "current_status": target}));
            }
        }
    }
    axum::Json(results).into_response()
}

fn well_formed_number(number: &str) -> bool {
    let digits = number.strip_prefix('+').unwrap_or(number);
    (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `POST /apps/api/v1/calls` (click-to-call): 201 with the call, 202 when the agent must act in
/// the adapter, 400 with the documented messages.
async fn create_call(State(shared): State<Shared>, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return message(StatusCode::BAD_REQUEST, "Invalid JSON");
    };
    if body["call_type"].as_str() != Some("Voice Outbound (API)") {
        return message(StatusCode::BAD_REQUEST, "Invalid call type");
    }
    let Some(email) = body["agent_email"].as_str().filter(|e| !e.is_empty()) else {
        return message(StatusCode::BAD_REQUEST, "Agent email required");
    };
    let number = body["end_user_number"].as_str();
    let ticket = body["ticket_id"].as_str();
    if number.is_none() && ticket.is_none() {
        return message(
            StatusCode::BAD_REQUEST,
            "ticket_id or end_user_number required",
        );
    }
    if number.is_some_and(|n| !well_formed_number(n)) {
        return message(
            StatusCode::BAD_REQUEST,
            "end_user_number is not well-formed",
        );
    }
    let mut world = shared.world();
    let Some(agent) = world
        .agents
        .iter()
        .find(|a| a.email.eq_ignore_ascii_case(email))
        .cloned()
    else {
        return message(StatusCode::BAD_REQUEST, "Not a valid agent email");
    };
    if !agent.can_call {
        return message(
            StatusCode::BAD_REQUEST,
            "Agent does not have access to make calls",
        );
    }
    if agent.status != "Available" {
        return message(
            StatusCode::BAD_REQUEST,
            "Agent is not available to take this call",
        );
    }
    if agent.adapter_confirm {
        return StatusCode::ACCEPTED.into_response();
    }
    let phone_on_participant = shared.options().phone_on_participant;
    let id = world.new_id();
    let now = world.now();
    let end_user = number.map(|n| world.add_end_user(&format!("phone-{n}"), Some(n), None));
    let call = json!({
        "id": id, "call_uuid": format!("uuid-{id}"), "call_type": "Voice Outbound (API)", "status": "connecting",
        "lang": body["lang"].as_str().unwrap_or("en"), "created_at": now, "updated_at": now,
        "agent_info": agent.info(), "out_ticket_id": ticket, "outbound_number": body["outbound_number"],
        "end_user": end_user.map(|e| json!({"id": e, "identifier": format!("phone-{}", number.unwrap_or_default())})),
        "participants": if phone_on_participant { json!([{"type": "end_user", "phone_number": number}]) } else { json!([]) },
        "transfers": [], "fail_reason": "nothing", "recording_url": null, "rating": null,
    });
    world.calls.push(call.clone());
    (StatusCode::CREATED, axum::Json(call)).into_response()
}

async fn end_users(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let world = shared.world();
    let found = world.end_users.iter().find(|u| {
        query
            .get("id")
            .is_some_and(|id| id.parse::<u64>().ok() == u["id"].as_u64())
            || query
                .get("identifier")
                .is_some_and(|i| u["identifier"] == i.as_str())
    });
    let documented_only = !shared.options().phone_on_participant;
    match found {
        Some(user) => {
            let mut user = user.clone();
            if documented_only && let Some(fields) = user.as_object_mut() {
                fields.remove("phone");
            }
            axum::Json(user).into_response()
        }
        None => message(StatusCode::NOT_FOUND, "End user not found"),
    }
}

/// The deterministic byte at `offset` of every recording (tests recompute it to check hashes).
pub fn recording_byte(call_id: u64, offset: u64) -> u8 {
    (offset
        .wrapping_mul(31)
        .wrapping_add(call_id.wrapping_mul(7))
        % 251) as u8
}
