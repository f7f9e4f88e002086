//! The sandbox's HTTP surface: Kustomer's paths, status codes and shapes.
// Helpers return `Result<_, Response>` so handlers can answer early with `?`-like matches; a
// boxed Response would only add noise in test-side code.
#![allow(clippy::result_large_err)]

use super::options::{ErrorShape, MessageLookup, UploadTarget, WorkSessionPut};
use super::state::{Record, Upload, World, as_map};
use super::webhooks;
use super::{Sandbox, Shared};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use sha2::Digest;
use std::collections::HashMap;

pub(super) fn router(sandbox: Shared) -> Router {
    let api = Router::new()
        .route("/v1/customers", post(create_customer))
        .route("/v1/customers/search", post(search_customers))
        .route(
            "/v1/customers/{key}",
            get(get_customer).patch(patch_customer).put(patch_customer),
        )
        .route(
            "/v1/customers/{id}/conversations",
            get(customer_conversations).post(create_customer_conversation),
        )
        .route("/v1/conversations", post(create_conversation))
        .route(
            "/v1/conversations/{key}",
            get(get_conversation).patch(patch_conversation),
        )
        .route("/v1/conversations/{id}/messages", post(create_message))
        .route("/v1/conversations/{id}/tags", post(tag_conversation))
        .route(
            "/v1/conversations/{id}/notes",
            post(create_note).get(conversation_notes),
        )
        .route("/v1/messages/{key}", get(get_message).patch(patch_message))
        .route("/v1/attachments", post(create_attachment))
        .route(
            "/v1/metadata/{resource}",
            get(get_metadata).put(put_metadata),
        )
        .route("/v1/users", get(list_users))
        .route("/v1/users/current", get(current_user))
        .route("/v1/users/{id}/teams", get(user_teams))
        .route("/v1/teams", get(list_teams))
        .route("/v1/routing/statuses", get(list_statuses))
        .route("/v1/routing/work-sessions", get(list_work_sessions))
        .route(
            "/v1/routing/work-sessions/{id}",
            get(get_work_session).put(put_work_session),
        )
        .route(
            "/v1/routing/users/{id}/work-sessions",
            get(user_work_sessions),
        )
        .route(
            "/v1/outbound-webhooks",
            get(list_webhooks).post(create_webhook),
        )
        .layer(axum::middleware::from_fn_with_state(
            sandbox.clone(),
            super::gate::api_gate,
        ))
        // The gate answers 413 itself, from the real body length.
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .merge(api)
        .route(
            "/__upload/{id}",
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/__sandbox/state", get(state_dump))
        .route(
            "/__sandbox/browser-sign-in",
            get(super::oauth::browser_sign_in),
        )
        .route(
            "/oauth/authorize",
            get(super::oauth::authorize).post(super::oauth::consent),
        )
        .route("/oauth/token", post(super::oauth::token))
        // Browsers on the sign-in pages ask for it; not a request of the bridge's.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .fallback(unknown_path)
        .with_state(sandbox)
}

/// A path Kustomer does not serve: 404, and recorded, because the bridge sent a request the
/// real service would not accept.
async fn unknown_path(
    State(sandbox): State<Shared>,
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> Response {
    sandbox
        .world()
        .unexpected
        .push(format!("{method} {}", uri.path()));
    error(&sandbox, StatusCode::NOT_FOUND, "Not Found")
}

/// An error in the shape the sandbox is set to answer with.
pub(super) fn error(sandbox: &Sandbox, status: StatusCode, title: &str) -> Response {
    let body = match sandbox.options.error_shape {
        ErrorShape::JsonApi => {
            json!({"errors": [{"status": status.as_u16(), "code": status.canonical_reason().unwrap_or("error").to_lowercase().replace(' ', "_"), "title": title}]})
        }
        ErrorShape::Legacy => {
            json!({"error": status.canonical_reason().unwrap_or("Error"), "message": title})
        }
    };
    (status, axum::Json(body)).into_response()
}

fn document(status: StatusCode, record: &Record) -> Response {
    (status, axum::Json(json!({"data": record.to_json()}))).into_response()
}

fn parse_body(sandbox: &Sandbox, body: &Bytes) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(error(
            sandbox,
            StatusCode::BAD_REQUEST,
            "body must be a JSON object",
        )),
        Err(err) => Err(error(
            sandbox,
            StatusCode::BAD_REQUEST,
            &format!("invalid JSON: {err}"),
        )),
    }
}

/// `phone=+1…`, `externalId=…`, `email=…` or a plain id.
fn lookup<'a>(
    world: &'a World,
    kind: &str,
    key: &str,
    normalise_phone: bool,
) -> Option<&'a Record> {
    if let Some(phone) = key.strip_prefix("phone=") {
        let wanted = if normalise_phone {
            digits(phone)
        } else {
            phone.to_owned()
        };
        return world.collection(kind).iter().find(|r| {
            r.attributes
                .get("phones")
                .and_then(Value::as_array)
                .is_some_and(|phones| {
                    phones
                        .iter()
                        .filter_map(|p| p.get("phone")?.as_str())
                        .any(|p| {
                            if normalise_phone {
                                digits(p) == wanted
                            } else {
                                p == wanted
                            }
                        })
                })
        });
    }
    if let Some(email) = key.strip_prefix("email=") {
        return world.collection(kind).iter().find(|r| {
            r.attributes
                .get("emails")
                .and_then(Value::as_array)
                .is_some_and(|emails| {
                    emails
                        .iter()
                        .filter_map(|e| e.get("email")?.as_str())
                        .any(|e| e.eq_ignore_ascii_case(email))
                })
        });
    }
    if let Some(external) = key.strip_prefix("externalId=") {
        return world.find_by(kind, "externalId", external);
    }
    world.find(kind, key)
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// Stores a new record, stamping the common attributes.
fn insert(world: &mut World, kind: &'static str, mut attributes: Map<String, Value>) -> Record {
    let id = world.new_id();
    let now = world.timestamp();
    attributes.insert("createdAt".into(), json!(now));
    attributes.insert("updatedAt".into(), json!(now));
    let record = Record::new(id, kind, attributes);
    world.collection_mut(kind).push(record.clone());
    record
}

fn duplicate_external_id(world: &World, kind: &str, attributes: &Map<String, Value>) -> bool {
    attributes
        .get("externalId")
        .and_then(Value::as_str)
        .is_some_and(|external| world.find_by(kind, "externalId", external).is_some())
}

/// The attributes each request body may carry, from the bodies Kustomer's OpenAPI document
/// declares (GitHub `LarisLab/kustomer-client`, `src/api/types.gen.ts`: `CreateCustomerData`
/// and `UpdateCustomerData`, `CreateConversationData`, `UpdateConversationData`,
/// `CreateMessageFromConversationData`, `CreateNoteWithinConversationData`). Anything else is
/// refused with a 400 naming it — `assignedUsers` on a customer among them (kustomer-api.md,
/// revised).
const CUSTOMER_ATTRIBUTES: &[&str] = &[
    "name",
    "company",
    "externalId",
    "username",
    "signedUpAt",
    "lastActivityAt",
    "lastCustomerActivityAt",
    "lastSeenAt",
    "avatarUrl",
    "externalIds",
    "sharedExternalIds",
    "emails",
    "sharedEmails",
    "phones",
    "sharedPhones",
    "whatsapps",
    "facebookIds",
    "instagramIds",
    "socials",
    "sharedSocials",
    "urls",
    "locations",
    "locale",
    "timeZone",
    "tags",
    "sentiment",
    "custom",
    "birthdayAt",
    "gender",
    "createdAt",
    "importedAt",
    "rev",
    "defaultLang",
];
const CONVERSATION_CREATE_ATTRIBUTES: &[&str] = &[
    "id",
    "customer",
    "externalId",
    "name",
    "status",
    "priority",
    "createdAt",
    "importedAt",
    "direction",
    "replyChannel",
    "tags",
    "assignedUsers",
    "assignedTeams",
    "custom",
    "defaultLang",
    "queue",
];
const CONVERSATION_UPDATE_ATTRIBUTES: &[&str] = &[
    "externalId",
    "name",
    "direction",
    "priority",
    "satisfaction",
    "satisfactionLevel",
    "suggestedShortcuts",
    "status",
    "replyChannel",
    "subStatus",
    "snooze",
    "tags",
    "suggestedTags",
    "sentiment",
    "assignedUsers",
    "assignedTeams",
    "custom",
    "deleted",
    "ended",
    "endedAt",
    "endedReason",
    "endedBy",
    "endedByType",
    "locked",
    "rev",
    "defaultLang",
    "queue",
];
const MESSAGE_ATTRIBUTES: &[&str] = &[
    "id",
    "externalId",
    "customer",
    "conversation",
    "reference",
    "channel",
    "preview",
    "subject",
    "direction",
    "app",
    "size",
    "related",
    "status",
    "error",
    "errorAt",
    "auto",
    "sentAt",
    "source",
    "shortcuts",
    "kbArticles",
    "attachments",
    "location",
    "meta",
    "custom",
    "sentiment",
    "createdAt",
    "modifiedAt",
    "createdBy",
    "modifiedBy",
    "importedAt",
    "lang",
    "queue",
];
const NOTE_ATTRIBUTES: &[&str] = &[
    "id",
    "conversation",
    "externalId",
    "body",
    "userMentions",
    "attachments",
    "createdAt",
    "modifiedAt",
    "createdBy",
    "modifiedBy",
    "importedAt",
    "lang",
];

/// A 400 naming the first attribute `resource` does not have, or the first custom value its
/// type refuses.
fn refuse_unknown_attributes(
    sandbox: &Sandbox,
    resource: &str,
    allowed: &[&str],
    attributes: &Map<String, Value>,
) -> Result<(), Response> {
    if let Some(name) = attributes
        .keys()
        .find(|name| !allowed.contains(&name.as_str()))
    {
        return Err(error(
            sandbox,
            StatusCode::BAD_REQUEST,
            &format!("{name} is not a {resource} attribute"),
        ));
    }
    let checked = {
        let world = sandbox.world();
        super::custom::check(attributes.get("custom"), world.metadata.get(resource))
    };
    checked.map_err(|why| error(sandbox, StatusCode::BAD_REQUEST, &why))
}

/// The attributes `PATCH /v1/messages/{id}` takes (`UpdateMessageAttributesData`).
const MESSAGE_UPDATE_ATTRIBUTES: &[&str] = &[
    "conversation",
    "externalId",
    "preview",
    "subject",
    "status",
    "error",
    "errorAt",
    "sentAt",
    "size",
    "attachments",
    "meta",
    "custom",
    "related",
    "sentiment",
    "createdAt",
    "modifiedAt",
    "updatedAt",
    "createdBy",
    "modifiedBy",
    "lang",
];

/// `PATCH /v1/messages/{id}` ("Update message attributes"). Whether `custom` and `meta` merge
/// key by key or are replaced is not documented: [`SandboxOptions::message_patch_merges`]
/// plays either.
/// Each update is counted per message (Kustomer limits updates per object; how many is not
/// documented), so tests can hold the bridge to few.
async fn patch_message(
    State(sandbox): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let mut patch = match parse_body(&sandbox, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(refused) =
        refuse_unknown_attributes(&sandbox, "message", MESSAGE_UPDATE_ATTRIBUTES, &patch)
    {
        return refused;
    }
    if let Err(r) = check_attachments(&sandbox, &patch).await {
        return r;
    }
    let mut world = sandbox.world();
    let now = world.timestamp();
    let Some(record) = world.find_mut("message", &id) else {
        return error(&sandbox, StatusCode::NOT_FOUND, "message not found");
    };
    if sandbox.options.message_patch_merges {
        if let Some(Value::Object(existing)) = record.attributes.get_mut("meta")
            && let Some(Value::Object(meta)) = patch.get("meta")
        {
            existing.extend(meta.clone());
            patch.remove("meta");
        }
    } else if let Some(custom) = patch.remove("custom") {
        record.attributes.insert("custom".into(), custom);
    }
    merge(&mut record.attributes, patch);
    record.attributes.insert("updatedAt".into(), json!(now));
    record.attributes.insert("modifiedAt".into(), json!(now));
    let record = record.clone();
    *world.message_updates.entry(id).or_default() += 1;
    document(StatusCode::OK, &record)
}

async fn create_customer(State(sandbox): State<Shared>, body: Bytes) -> Response {
    let attributes = match parse_body(&sandbox, &body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Err(refused) =
        refuse_unknown_attributes(&sandbox, "customer", CUSTOMER_ATTRIBUTES, &attributes)
    {
        return refused;
    }
    let mut world = sandbox.world();
    if duplicate_external_id(&world, "customer", &attributes) {
        return error(&sandbox, StatusCode::CONFLICT, "externalId already exists");
    }
    if let Some(phones) = attributes.get("phones").and_then(Value::as_array)
        && phones
            .iter()
            .any(|p| p.get("phone").and_then(Value::as_str).is_none())
    {
        return error(
            &sandbox,
            StatusCode::BAD_REQUEST,
            "phones[].phone is required",
        );
    }
    let record = insert(&mut world, "customer", attributes);
    document(StatusCode::CREATED, &record)
}

async fn get_customer(
    State(sandbox): State<Shared>,
    Path(key): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    // Servers commonly read a raw `+` in a lookup value as a space: only `%2B` finds E.164.
    let key = if uri.path().contains("phone=+") {
        key.replace('+', " ")
    } else {
        key
    };
    let world = sandbox.world();
    match lookup(
        &world,
        "customer",
        &key,
        sandbox.options.phone_lookup_normalises,
    ) {
        Some(record) if sandbox.options.customer_twist.is_none() => {
            document(StatusCode::OK, record)
        }
        // The customer's attributes in another shape (issue 28: a key added, dropped, renamed).
        Some(record) => {
            let mut record = record.clone();
            let mut attributes = serde_json::Value::Object(record.attributes);
            sandbox.options.customer_twist.apply(&mut attributes);
            record.attributes = match attributes {
                serde_json::Value::Object(map) => map,
                _ => Default::default(),
            };
            document(StatusCode::OK, &record)
        }
        None => error(&sandbox, StatusCode::NOT_FOUND, "customer not found"),
    }
}

/// PATCH, and PUT with `replace=false`: both merge the given attributes.
async fn patch_customer(
    State(sandbox): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let patch = match parse_body(&sandbox, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(refused) =
        refuse_unknown_attributes(&sandbox, "customer", CUSTOMER_ATTRIBUTES, &patch)
    {
        return refused;
    }
    let mut world = sandbox.world();
    let now = world.timestamp();
    let Some(record) = world.find_mut("customer", &id) else {
        return error(&sandbox, StatusCode::NOT_FOUND, "customer not found");
    };
    merge(&mut record.attributes, patch);
    record.attributes.insert("updatedAt".into(), json!(now));
    let record = record.clone();
    document(StatusCode::OK, &record)
}

/// Merges a patch: `custom` merges key by key, other attributes are replaced.
fn merge(attributes: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (name, value) in patch {
        match (name.as_str(), attributes.get_mut(&name), value) {
            ("custom", Some(Value::Object(existing)), Value::Object(new)) => existing.extend(new),
            (_, _, value) => {
                attributes.insert(name, value);
            }
        }
    }
}

async fn search_customers(State(sandbox): State<Shared>, body: Bytes) -> Response {
    let query = match parse_body(&sandbox, &body) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let phone = query.get("and").and_then(Value::as_array).and_then(|c| {
        c.iter()
            .find_map(|c| c.get("customer_phone")?.get("equals")?.as_str())
    });
    let Some(phone) = phone else {
        return error(
            &sandbox,
            StatusCode::BAD_REQUEST,
            "unsupported search: only customer_phone equals",
        );
    };
    let world = sandbox.world();
    let found: Vec<Value> = world
        .customers
        .iter()
        .filter(|r| {
            r.attributes
                .get("phones")
                .and_then(Value::as_array)
                .is_some_and(|phones| {
                    phones
                        .iter()
                        .any(|p| p.get("phone").and_then(Value::as_str) == Some(phone))
                })
        })
        .map(Record::to_json)
        .collect();
    axum::Json(json!({"data": found, "meta": {"total": found.len()}})).into_response()
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PageQuery {
    page: Option<usize>,
    page_size: Option<usize>,
}

/// One page of `items` with Kustomer's `meta` and `links.next`.
fn page(sandbox: &Sandbox, path: &str, items: Vec<Value>, query: &PageQuery) -> Response {
    let size = query
        .page_size
        .unwrap_or(sandbox.options.max_page_size)
        .clamp(1, sandbox.options.max_page_size);
    let number = query.page.unwrap_or(1).max(1);
    let total = items.len();
    let data: Vec<Value> = items
        .into_iter()
        .skip((number - 1) * size)
        .take(size)
        .collect();
    // The list's own filters stay in its links (`path` may carry them).
    let join = if path.contains('?') { '&' } else { '?' };
    let next =
        (number * size < total).then(|| format!("{path}{join}page={}&pageSize={size}", number + 1));
    axum::Json(json!({
        "data": data,
        "meta": {"page": number, "pageSize": size, "total": total},
        "links": {"self": format!("{path}{join}page={number}&pageSize={size}"), "next": next},
    }))
    .into_response()
}

async fn customer_conversations(
    State(sandbox): State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let world = sandbox.world();
    if world.find("customer", &id).is_none() {
        return error(&sandbox, StatusCode::NOT_FOUND, "customer not found");
    }
    // Kustomer gives no order guarantee: oldest first here, so clients must sort.
    let items = world
        .conversations
        .iter()
        .filter(|c| c.related("customer") == Some(id.as_str()))
        .map(Record::to_json)
        .collect();
    page(
        &sandbox,
        &format!("/v1/customers/{id}/conversations"),
        items,
        &query,
    )
}

async fn create_customer_conversation(
    State(sandbox): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let mut attributes = match parse_body(&sandbox, &body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    attributes.insert("customer".into(), json!(id));
    new_conversation(&sandbox, attributes)
}

async fn create_conversation(State(sandbox): State<Shared>, body: Bytes) -> Response {
    match parse_body(&sandbox, &body) {
        Ok(attributes) => new_conversation(&sandbox, attributes),
        Err(r) => r,
    }
}

/// A Kustomer id: 24 hexadecimal digits.
fn is_kustomer_id(value: &str) -> bool {
    value.len() == 24 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `POST /v1/conversations/{id}/tags {"tags": [names or ids]}`: missing tags are created.
async fn tag_conversation(
    State(sandbox): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_body(&sandbox, &body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(names) = body.get("tags").and_then(Value::as_array).filter(|t| {
        !t.is_empty()
            && t.iter()
                .all(|n| n.as_str().is_some_and(|s| !s.trim().is_empty()))
    }) else {
        return error(
            &sandbox,
            StatusCode::BAD_REQUEST,
            "tags must be a non-empty list of names or ids",
        );
    };
    let mut world = sandbox.world();
    let mut ids = Vec::new();
    for name in names.iter().filter_map(Value::as_str) {
        let known = world
            .tags
            .iter()
            .find(|(_, n)| n == name)
            .map(|(id, _)| id.clone());
        let id = match known {
            _ if is_kustomer_id(name) => name.to_owned(),
            Some(id) => id,
            None => {
                let id = world.new_id();
                world.tags.push((id.clone(), name.to_owned()));
                id
            }
        };
        ids.push(id);
    }
    let Some(record) = world.find_mut("conversation", &id) else {
        return error(&sandbox, StatusCode::NOT_FOUND, "conversation not found");
    };
    let tags = record.attributes.entry("tags").or_insert_with(|| json!([]));
    if let Value::Array(list) = tags {
        for id in ids {
            if !list.iter().any(|t| t == &id) {
                list.push(json!(id));
            }
        }
    }
    let record = record.clone();
    document(StatusCode::OK, &record)
}

fn new_conversation(sandbox: &Shared, mut attributes: Map<String, Value>) -> Response {
    if let Err(refused) = refuse_unknown_attributes(
        sandbox,
        "conversation",
        CONVERSATION_CREATE_ATTRIBUTES,
        &attributes,
    ) {
        return refused;
    }
    if let Some(tags) = attributes.get("tags")
        && !tags
            .as_array()
            .is_some_and(|t| t.iter().all(|id| id.as_str().is_some_and(is_kustomer_id)))
    {
        // `tags` holds tag ids (kustomer-api.md, revised); names go through the tags call.
        return error(sandbox, StatusCode::BAD_REQUEST, "tags must be tag ids");
    }
    let Some(customer) = attributes
        .remove("customer")
        .and_then(|c| c.as_str().map(str::to_owned))
    else {
        return error(sandbox, StatusCode::BAD_REQUEST, "customer is required");
    };
    let status = attributes
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("open")
        .to_owned();
    if !matches!(status.as_str(), "open" | "done" | "snoozed") {
        return error(
            sandbox,
            StatusCode::BAD_REQUEST,
            "status must be open, snoozed or done",
        );
    }
    let record = {
        let mut world = sandbox.world();
        if world.find("customer", &customer).is_none() {
            return error(sandbox, StatusCode::BAD_REQUEST, "customer does not exist");
        }
        if sandbox.options.conversation_external_id_conflict
            && duplicate_external_id(&world, "conversation", &attributes)
        {
            return error(sandbox, StatusCode::CONFLICT, "externalId already exists");
        }
        if !sandbox.take_customer_create(&mut world, &customer) {
            drop(world);
            return sandbox.rate_limited();
        }
        attributes.insert("status".into(), json!(status));
        attributes.insert("rev".into(), json!(1));
        attributes.entry("assignedUsers").or_insert(json!([]));
        attributes.entry("channels").or_insert(json!([]));
        let id = world.new_id();
        let now = world.timestamp();
        attributes.insert("createdAt".into(), json!(now));
        attributes.insert("updatedAt".into(), json!(now));
        let record =
            Record::new(id, "conversation", attributes).relate("customer", "customer", &customer);
        world.conversations.push(record.clone());
        record
    };
    webhooks::notify(sandbox, "kustomer.conversation.create", &record, None);
    document(StatusCode::CREATED, &record)
}

async fn get_conversation(State(sandbox): State<Shared>, Path(key): Path<String>) -> Response {
    let world = sandbox.world();
    match lookup(&world, "conversation", &key, false) {
        Some(record) => document(StatusCode::OK, record),
        None => error(&sandbox, StatusCode::NOT_FOUND, "conversation not found"),
    }
}

async fn patch_conversation(
    State(sandbox): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let mut patch = match parse_body(&sandbox, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(refused) = refuse_unknown_attributes(
        &sandbox,
        "conversation",
        CONVERSATION_UPDATE_ATTRIBUTES,
        &patch,
    ) {
        return refused;
    }
    if let Some(status) = patch.get("status").and_then(Value::as_str)
        && !matches!(status, "open" | "done" | "snoozed")
    {
        return error(
            &sandbox,
            StatusCode::BAD_REQUEST,
            "status must be open, snoozed or done",
        );
    }
    let (record, changes) = {
        let mut world = sandbox.world();
        let now = world.timestamp();
        let Some(record) = world.find_mut("conversation", &id) else {
            return error(&sandbox, StatusCode::NOT_FOUND, "conversation not found");
        };
        let rev = record
            .attributes
            .get("rev")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        if let Some(given) = patch.remove("rev")
            && given.as_i64() != Some(rev)
        {
            return error(&sandbox, StatusCode::CONFLICT, "stale rev");
        }
        let mut changes = Map::new();
        for (name, value) in &patch {
            let before = record.attributes.get(name).cloned().unwrap_or(Value::Null);
            changes.insert(
                name.clone(),
                json!({"op": "replace", "before": before, "after": value}),
            );
        }
        merge(&mut record.attributes, patch);
        record.attributes.insert("rev".into(), json!(rev + 1));
        record.attributes.insert("updatedAt".into(), json!(now));
        (record.clone(), changes)
    };
    webhooks::notify(
        &sandbox,
        "kustomer.conversation.update",
        &record,
        Some(changes),
    );
    document(StatusCode::OK, &record)
}

/// The referenced attachments must exist and be uploaded with their declared length.
async fn check_attachments(
    sandbox: &Shared,
    attributes: &Map<String, Value>,
) -> Result<(), Response> {
    let Some(list) = attributes.get("attachments").and_then(Value::as_array) else {
        return Ok(());
    };
    for reference in list {
        let Some(id) = reference.get("_id").and_then(Value::as_str) else {
            return Err(error(
                sandbox,
                StatusCode::BAD_REQUEST,
                "attachments[]._id is required",
            ));
        };
        if !sandbox.attachment_uploaded(id).await {
            return Err(error(
                sandbox,
                StatusCode::BAD_REQUEST,
                &format!("attachment {id} is not uploaded"),
            ));
        }
    }
    Ok(())
}

async fn create_message(
    State(sandbox): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let attributes = match parse_body(&sandbox, &body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Err(refused) =
        refuse_unknown_attributes(&sandbox, "message", MESSAGE_ATTRIBUTES, &attributes)
    {
        return refused;
    }
    for field in ["channel", "app", "direction"] {
        if attributes.get(field).and_then(Value::as_str).is_none() {
            return error(
                &sandbox,
                StatusCode::BAD_REQUEST,
                &format!("{field} is required"),
            );
        }
    }
    if let Err(r) = check_attachments(&sandbox, &attributes).await {
        return r;
    }
    conversation_child(&sandbox, &id, "message", attributes)
}

async fn create_note(
    State(sandbox): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let attributes = match parse_body(&sandbox, &body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Err(refused) = refuse_unknown_attributes(&sandbox, "note", NOTE_ATTRIBUTES, &attributes)
    {
        return refused;
    }
    if attributes
        .get("body")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return error(&sandbox, StatusCode::BAD_REQUEST, "body is required");
    }
    if let Err(r) = check_attachments(&sandbox, &attributes).await {
        return r;
    }
    conversation_child(&sandbox, &id, "note", attributes)
}

/// `GET /v1/conversations/{id}/notes`: the conversation's notes, oldest first, paged.
async fn conversation_notes(
    State(sandbox): State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let world = sandbox.world();
    if world.find("conversation", &id).is_none() {
        return error(&sandbox, StatusCode::NOT_FOUND, "conversation not found");
    }
    let notes: Vec<Value> = world
        .notes
        .iter()
        .filter(|n| n.related("conversation") == Some(id.as_str()))
        .map(Record::to_json)
        .collect();
    drop(world);
    page(
        &sandbox,
        &format!("/v1/conversations/{id}/notes"),
        notes,
        &query,
    )
}

/// A message or note: counted against its customer's create budget.
fn conversation_child(
    sandbox: &Shared,
    conversation_id: &str,
    kind: &'static str,
    attributes: Map<String, Value>,
) -> Response {
    let mut world = sandbox.world();
    let Some(customer) = world
        .find("conversation", conversation_id)
        .and_then(|c| c.related("customer"))
        .map(str::to_owned)
    else {
        return error(sandbox, StatusCode::NOT_FOUND, "conversation not found");
    };
    // Kustomer does not document a 409 for a reused note or message `externalId`
    // (kustomer-api.md, revised): by default a second one is simply created.
    if sandbox.options.child_external_id_conflict
        && duplicate_external_id(&world, kind, &attributes)
    {
        return error(sandbox, StatusCode::CONFLICT, "externalId already exists");
    }
    if !sandbox.take_customer_create(&mut world, &customer) {
        drop(world);
        return sandbox.rate_limited();
    }
    if kind == "message"
        && let Some(channel) = attributes.get("channel").and_then(Value::as_str)
        && let Some(conversation) = world.find_mut("conversation", conversation_id)
        && let Some(Value::Array(channels)) = conversation.attributes.get_mut("channels")
        && !channels.iter().any(|c| c == channel)
    {
        channels.push(json!(channel));
    }
    let record = insert(&mut world, kind, attributes);
    let record = record
        .relate("conversation", "conversation", conversation_id)
        .relate("customer", "customer", &customer);
    if let Some(stored) = world.collection_mut(kind).last_mut() {
        *stored = record.clone();
    }
    document(StatusCode::CREATED, &record)
}

/// `GET /v1/messages/{id}` and the external-id lookup, under the one spelling the sandbox
/// serves ([`SandboxOptions::message_lookup`]); the other spelling is an id nobody has (404).
async fn get_message(State(sandbox): State<Shared>, Path(key): Path<String>) -> Response {
    let world = sandbox.world();
    let served = match sandbox.options.message_lookup {
        MessageLookup::CamelCase => "externalId=",
        MessageLookup::Lowercase => "externalid=",
    };
    let key = match key.strip_prefix(served) {
        Some(external) => format!("externalId={external}"),
        None if key.contains('=') => {
            return error(&sandbox, StatusCode::NOT_FOUND, "message not found");
        }
        None => key,
    };
    match lookup(&world, "message", &key, false) {
        Some(record) => document(StatusCode::OK, record),
        None => error(&sandbox, StatusCode::NOT_FOUND, "message not found"),
    }
}

async fn create_attachment(State(sandbox): State<Shared>, body: Bytes) -> Response {
    let mut attributes = match parse_body(&sandbox, &body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let name = attributes
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let content_type = attributes
        .get("contentType")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let length = attributes.get("contentLength").and_then(Value::as_u64);
    let (Some(name), Some(content_type), Some(length)) = (name, content_type, length) else {
        return error(
            &sandbox,
            StatusCode::BAD_REQUEST,
            "name, contentType and contentLength are required",
        );
    };
    let extension = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if ["exe", "bat", "bin", "com", "msi", "ps1", "vbs"].contains(&extension.as_str()) {
        return error(&sandbox, StatusCode::BAD_REQUEST, "file type not allowed");
    }
    attributes.insert("uploaded".into(), json!(false));
    let record = {
        let mut world = sandbox.world();
        insert(&mut world, "attachment", attributes)
    };
    let key = format!("attachments/{}/{}", record.id, name);
    let policy = json!({
        "expiration": "2099-01-01T00:00:00Z",
        "conditions": [{"key": key}, {"Content-Type": content_type}, ["content-length-range", length, length]],
    });
    let policy = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        policy.to_string(),
    );
    let url = match &sandbox.options.upload_target {
        UploadTarget::Sandbox => format!("{}/__upload/{}", sandbox.base_url(), record.id),
        UploadTarget::S3 { endpoint, bucket } => format!("{endpoint}/{bucket}"),
    };
    let fields = json!({
        "key": key,
        "acl": "private",
        "Content-Type": content_type,
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": "SANDBOX/20261123/us-east-1/s3/aws4_request",
        "X-Amz-Date": "20261123T000000Z",
        "Policy": policy,
        "X-Amz-Signature": hex::encode(sha2::Sha256::digest(policy.as_bytes())),
    });
    let answer =
        json!({"data": record.to_json(), "meta": {"upload": {"url": url, "fields": fields}}});
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

/// The sandbox's stand-in for S3's presigned POST: fields first, the file last, its length
/// checked against the declared `contentLength`.
async fn upload(
    State(sandbox): State<Shared>,
    Path(id): Path<String>,
    mut form: Multipart,
) -> Response {
    let s3_error = |status: StatusCode, code: &str| {
        (
            status,
            [("content-type", "application/xml")],
            format!("<Error><Code>{code}</Code></Error>"),
        )
            .into_response()
    };
    let declared = {
        let world = sandbox.world();
        match world.find("attachment", &id) {
            Some(record) => record
                .attributes
                .get("contentLength")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            None => return s3_error(StatusCode::FORBIDDEN, "AccessDenied"),
        }
    };
    let mut fields = Vec::new();
    let mut received: Option<(u64, String)> = None;
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => return s3_error(StatusCode::BAD_REQUEST, "MalformedPOSTRequest"),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if received.is_some() {
            // S3 ignores fields after the file; the contract says the file comes last.
            return s3_error(StatusCode::BAD_REQUEST, "FileMustBeLastField");
        }
        if name == "file" {
            let mut hasher = sha2::Sha256::new();
            let mut bytes = 0u64;
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        bytes += chunk.len() as u64;
                        hasher.update(&chunk);
                    }
                    Ok(None) => break,
                    Err(_) => return s3_error(StatusCode::BAD_REQUEST, "IncompleteBody"),
                }
            }
            received = Some((bytes, hex::encode(hasher.finalize())));
        } else {
            fields.push(name);
        }
    }
    let Some((bytes, sha256)) = received else {
        return s3_error(
            StatusCode::BAD_REQUEST,
            "POST requires exactly one file upload per request",
        );
    };
    for required in ["key", "Policy", "X-Amz-Signature"] {
        if !fields.iter().any(|f| f == required) {
            return s3_error(StatusCode::FORBIDDEN, "AccessDenied");
        }
    }
    if bytes != declared {
        let code = if bytes > declared {
            "EntityTooLarge"
        } else {
            "EntityTooSmall"
        };
        return s3_error(StatusCode::BAD_REQUEST, code);
    }
    let mut world = sandbox.world();
    world.uploads.insert(
        id.clone(),
        Upload {
            bytes,
            sha256,
            fields,
        },
    );
    if let Some(record) = world.find_mut("attachment", &id) {
        record.attributes.insert("uploaded".into(), json!(true));
    }
    StatusCode::from_u16(sandbox.options.upload_success_status)
        .unwrap_or(StatusCode::NO_CONTENT)
        .into_response()
}

async fn get_metadata(State(sandbox): State<Shared>, Path(resource): Path<String>) -> Response {
    if !["conversation", "customer", "message", "company"].contains(&resource.as_str()) {
        return error(&sandbox, StatusCode::NOT_FOUND, "unknown metadata resource");
    }
    let world = sandbox.world();
    let properties = world.metadata.get(&resource).cloned().unwrap_or_default();
    axum::Json(json!({"data": {"type": "metadata", "id": resource, "attributes": {"properties": properties}}})).into_response()
}

async fn put_metadata(
    State(sandbox): State<Shared>,
    Path(resource): Path<String>,
    body: Bytes,
) -> Response {
    if !["conversation", "customer", "message", "company"].contains(&resource.as_str()) {
        return error(&sandbox, StatusCode::NOT_FOUND, "unknown metadata resource");
    }
    let body = match parse_body(&sandbox, &body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(Value::Object(mut properties)) = body.get("properties").cloned() else {
        return error(&sandbox, StatusCode::BAD_REQUEST, "properties is required");
    };
    // The history keys the answer shows are not definitions: the sandbox refuses them back
    // (stricter than anything documented, so a bridge that strips them works either way).
    for (name, definition) in &properties {
        let Value::Object(fields) = definition else {
            return error(
                &sandbox,
                StatusCode::BAD_REQUEST,
                &format!("property {name} must be an object"),
            );
        };
        if let Some(key) = super::custom::AUDIT_KEYS
            .iter()
            .find(|k| fields.contains_key(**k))
        {
            return error(
                &sandbox,
                StatusCode::BAD_REQUEST,
                &format!("property {name}: {key} is not writable"),
            );
        }
    }
    const SUFFIXES: [&str; 7] = ["Str", "Txt", "Num", "At", "Bool", "Url", "Id"];
    if let Some(bad) = properties
        .keys()
        .find(|name| !SUFFIXES.iter().any(|s| name.ends_with(s)))
    {
        return error(
            &sandbox,
            StatusCode::BAD_REQUEST,
            &format!("property {bad} has no type suffix"),
        );
    }
    let mut world = sandbox.world();
    let now = world.timestamp();
    let before = world.metadata.get(&resource).cloned().unwrap_or_default();
    for (name, definition) in properties.iter_mut() {
        if let Value::Object(fields) = definition
            && before.get(name) != Some(&Value::Object(fields.clone()))
        {
            fields
                .entry("type")
                .or_insert_with(|| json!(super::custom::type_of(name)));
            fields.insert("modifiedAt".into(), json!(now));
            fields.insert("updatedAt".into(), json!(now));
            fields.insert("modifiedBy".into(), json!("sandbox-api-user"));
        }
    }
    let stored = world.metadata.entry(resource.clone()).or_default();
    if !sandbox.options.metadata_put_merges {
        stored.clear();
    }
    stored.extend(properties);
    let properties = stored.clone();
    axum::Json(json!({"data": {"type": "metadata", "id": resource, "attributes": {"properties": properties}}})).into_response()
}

/// `GET /v1/users/current`: the calling user (in the OpenAPI document); the org's API key is
/// no agent here, so it is answered 404.
async fn current_user(
    State(sandbox): State<Shared>,
    axum::Extension(caller): axum::Extension<super::Caller>,
) -> Response {
    let super::Caller::User(id) = caller else {
        return error(
            &sandbox,
            StatusCode::NOT_FOUND,
            "no current user for an API key",
        );
    };
    let world = sandbox.world();
    match world.find("user", &id) {
        Some(user) => document(StatusCode::OK, user),
        None => error(&sandbox, StatusCode::NOT_FOUND, "user not found"),
    }
}

async fn list_users(
    State(sandbox): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let world = sandbox.world();
    let deleted = match query.get("deleted").map(String::as_str) {
        _ if !sandbox.options.users_deleted_filter => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        None => None,
        // The OpenAPI document types the filter as a boolean.
        Some(other) => {
            drop(world);
            return error(
                &sandbox,
                StatusCode::BAD_REQUEST,
                &format!("deleted must be true or false, not {other}"),
            );
        }
    };
    let users: Vec<Value> = world
        .users
        .iter()
        .filter(|u| {
            query
                .get("email")
                .is_none_or(|e| u.text("email").is_some_and(|ue| ue.eq_ignore_ascii_case(e)))
        })
        .filter(|u| deleted.is_none_or(|d| world.deactivated_users.contains(&u.id) == d))
        .map(Record::to_json)
        .collect();
    axum::Json(json!({"data": users})).into_response()
}

async fn user_teams(State(sandbox): State<Shared>, Path(id): Path<String>) -> Response {
    let world = sandbox.world();
    if world.find("user", &id).is_none() {
        return error(&sandbox, StatusCode::NOT_FOUND, "user not found");
    }
    let teams: Vec<Value> = world
        .user_teams
        .get(&id)
        .into_iter()
        .flatten()
        .filter_map(|t| world.find("team", t))
        .map(Record::to_json)
        .collect();
    axum::Json(json!({"data": teams})).into_response()
}

async fn list_teams(State(sandbox): State<Shared>, Query(query): Query<PageQuery>) -> Response {
    let items = sandbox.world().teams.iter().map(Record::to_json).collect();
    page(&sandbox, "/v1/teams", items, &query)
}

async fn list_statuses(State(sandbox): State<Shared>, Query(query): Query<PageQuery>) -> Response {
    let items = sandbox
        .world()
        .statuses
        .iter()
        .map(Record::to_json)
        .collect();
    page(&sandbox, "/v1/routing/statuses", items, &query)
}

fn work_sessions_where(world: &World, filter: impl Fn(&Record) -> bool) -> Vec<Value> {
    world
        .work_sessions
        .iter()
        .filter(|s| filter(s))
        .map(Record::to_json)
        .collect()
}

/// `user=true` keeps the calling user's own sessions (an API key is no user: none); paged like
/// Kustomer's lists, the filters kept in the next page's link.
async fn list_work_sessions(
    State(sandbox): State<Shared>,
    axum::Extension(caller): axum::Extension<super::Caller>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let world = sandbox.world();
    let active_only = query.get("active").is_some_and(|v| v == "true");
    let mine = query.get("user").is_some_and(|v| v == "true");
    let items = work_sessions_where(&world, |s| {
        (!active_only || is_active(s))
            && (!mine
                || matches!(&caller, super::Caller::User(u) if s.related("user") == Some(u.as_str())))
    });
    let mut path = String::from("/v1/routing/work-sessions");
    let filters: Vec<String> = ["active", "user"]
        .iter()
        .filter_map(|name| query.get(*name).map(|v| format!("{name}={v}")))
        .collect();
    if !filters.is_empty() {
        path = format!("{path}?{}", filters.join("&"));
    }
    let paging = PageQuery {
        page: query.get("page").and_then(|p| p.parse().ok()),
        page_size: query.get("pageSize").and_then(|p| p.parse().ok()),
    };
    page(&sandbox, &path, items, &paging)
}

async fn user_work_sessions(
    State(sandbox): State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let world = sandbox.world();
    let active_only = query.get("active").is_some_and(|v| v == "true");
    let items = work_sessions_where(&world, |s| {
        s.related("user") == Some(id.as_str()) && (!active_only || is_active(s))
    });
    let mut path = format!("/v1/routing/users/{id}/work-sessions");
    if let Some(active) = query.get("active") {
        path = format!("{path}?active={active}");
    }
    let paging = PageQuery {
        page: query.get("page").and_then(|p| p.parse().ok()),
        page_size: query.get("pageSize").and_then(|p| p.parse().ok()),
    };
    page(&sandbox, &path, items, &paging)
}

async fn get_work_session(State(sandbox): State<Shared>, Path(id): Path<String>) -> Response {
    let world = sandbox.world();
    match world.find("work_session", &id) {
        Some(record) => document(StatusCode::OK, record),
        None => error(&sandbox, StatusCode::NOT_FOUND, "work session not found"),
    }
}

/// Active while not signed out: records carry no `active` attribute (kustomer-api.md, revised).
fn is_active(session: &Record) -> bool {
    !session.attributes.contains_key("signedOutAt")
}

/// Moves a work session to a status; an `offline`-type status signs it out.
pub(super) fn move_work_session(
    session: &mut Record,
    status_id: &str,
    status_type: &str,
    now: &str,
) {
    *session = session.clone().relate("status", "status", status_id);
    let attributes = &mut session.attributes;
    attributes.insert("statusType".into(), json!(status_type));
    attributes.insert("routable".into(), json!(status_type == "available"));
    attributes.insert("updatedAt".into(), json!(now));
    let rev = attributes.get("rev").and_then(Value::as_u64).unwrap_or(0);
    attributes.insert("rev".into(), json!(rev + 1));
    if status_type == "offline" {
        attributes.insert("signedOutAt".into(), json!(now));
    }
}

/// The PUT body is undocumented (L). With [`SandboxOptions::work_session_put`] the sandbox
/// takes the bridge's guess (`{status: <routing status id>}`) or refuses it with a 400, as a
/// Kustomer that expects another body would; a signed-out session is read-only.
async fn put_work_session(
    State(sandbox): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let update = match parse_body(&sandbox, &body) {
        Ok(u) => u,
        Err(r) => return r,
    };
    if sandbox.options.work_session_put == WorkSessionPut::Refuse {
        return error(
            &sandbox,
            StatusCode::BAD_REQUEST,
            "\"status\" is not allowed",
        );
    }
    let Some(status_id) = update
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return error(&sandbox, StatusCode::BAD_REQUEST, "status is required");
    };
    let (record, user) = {
        let mut world = sandbox.world();
        let Some(status_type) = world
            .find("routing-status", &status_id)
            .and_then(|s| s.text("statusType"))
            .map(str::to_owned)
        else {
            return error(&sandbox, StatusCode::BAD_REQUEST, "unknown status");
        };
        let now = world.timestamp();
        let Some(session) = world.find_mut("work_session", &id) else {
            return error(&sandbox, StatusCode::NOT_FOUND, "work session not found");
        };
        if !is_active(session) {
            return error(&sandbox, StatusCode::CONFLICT, "work session has ended");
        }
        // As Kustomer's documented update bodies: a `rev` that is not the current one is a
        // stale update (409).
        if let Some(rev) = update.get("rev").and_then(Value::as_u64)
            && session.attributes.get("rev").and_then(Value::as_u64) != Some(rev)
        {
            return error(&sandbox, StatusCode::CONFLICT, "stale rev");
        }
        move_work_session(session, &status_id, &status_type, &now);
        let updated = session.clone();
        let user = updated
            .related("user")
            .and_then(|u| world.find("user", u))
            .cloned();
        (updated, user)
    };
    if let Some(user) = user {
        webhooks::notify(&sandbox, "kustomer.user.update", &user, None);
    }
    document(StatusCode::OK, &record)
}

async fn create_webhook(State(sandbox): State<Shared>, body: Bytes) -> Response {
    let mut attributes = match parse_body(&sandbox, &body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if attributes.get("url").and_then(Value::as_str).is_none()
        || attributes.get("events").and_then(Value::as_array).is_none()
    {
        return error(
            &sandbox,
            StatusCode::BAD_REQUEST,
            "url and events are required",
        );
    }
    let mut world = sandbox.world();
    if world.webhooks.len() >= 5 {
        return error(
            &sandbox,
            StatusCode::BAD_REQUEST,
            "at most 5 outbound webhooks per org",
        );
    }
    attributes.insert(
        "token".into(),
        json!(hex::encode(sha2::Sha256::digest(world.new_id().as_bytes()))),
    );
    attributes.insert("enabled".into(), json!(true));
    let record = insert(&mut world, "outbound-webhook", attributes);
    document(StatusCode::CREATED, &record)
}

async fn list_webhooks(State(sandbox): State<Shared>) -> Response {
    let world = sandbox.world();
    let items: Vec<Value> = world.webhooks.iter().map(Record::to_json).collect();
    axum::Json(json!({"data": items})).into_response()
}

/// Everything, for people looking at the demo (tests use [`Sandbox`]'s methods).
async fn state_dump(State(sandbox): State<Shared>, _headers: HeaderMap) -> Response {
    let world = sandbox.world();
    let all = |records: &Vec<Record>| records.iter().map(Record::to_json).collect::<Vec<_>>();
    axum::Json(json!({
        "customers": all(&world.customers),
        "conversations": all(&world.conversations),
        "messages": all(&world.messages),
        "notes": all(&world.notes),
        "attachments": all(&world.attachments),
        "metadata": world.metadata,
        "requests": world.requests.len(),
    }))
    .into_response()
}

pub(super) fn seeded_map(value: Value) -> Map<String, Value> {
    as_map(value)
}
