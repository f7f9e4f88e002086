//! The admin function's HTTP surface (events.md §4): bearer `ADMIN_TOKEN`, or the sign-in
//! session of a Kustomer user on `ADMIN_EMAILS` ([`access`]); 401 without either, 403 for a
//! signed-in user who is not an admin.
//!
//! | route | answer |
//! |---|---|
//! | `GET /admin/`, `/admin/console.js`, `/admin/console.css` | the console (R-ADM-1, [`console`]): no token needed, it holds no data |
//! | `GET /admin/whoami` | 200 `{actor, kind: token \| kustomer, session?}`: who the bearer is (R-ADM-3, [`access`]) |
//! | `GET /admin/status-mapping` | 200 `{mapping, kustomer_statuses, ccai_statuses, experimental}` (the dropdowns; CCAI statuses by signed id, with `name_shared` and `can_be_target`; `experimental.two_way` says why two-way sync is experimental) |
//! | `PUT /admin/status-mapping` `{to_ccai: {kustomer_status_id: ccai_status_id}, to_kustomer?: {ccai_status_id: kustomer_status_id}, priority?, two_way?, apply_at_login?}` | 200 the saved mapping with its resolved `ccai_names` · 400 `{error, entry}` naming the bad entry (unknown id, a system status, a name two CCAI statuses share) |
//! | `GET /admin/agents` | 200 `[{email, sync, sessions}]`: each agent's sync state (last applied, pending, `last_error`, `two_way_error` when Kustomer refused a two-way update) and live sign-in sessions (`{id, created_at, expires_at}`, R-SEC-1) |
//! | `DELETE /admin/agents/{email}/sessions` | 200 `{ended}`: every sign-in session of the agent ended (a lost laptop, a leaver) |
//! | `GET /admin/health` | 200/503 `{status, checks, work, changes}`: each dependency checked; `work` — each poll cursor (`polls.calls`, `polls.chats`: `{reached, since_last_change_s, caught_up}` — the last session change it reached, how long ago, and whether its list was read to the end), each shared pacing schedule's lag (`pacing.ccai`, `pacing.kustomer`: `{booked_ahead_ms}`, how long a request asking now waits for its turn; `"per process (SHARED_PACING off)"` when each process paces itself), the triggers waiting for a scheduled retry, the dead letters and the five latest errors; `changes` — the 20 latest changes made through the admin API, newest first, `{at, by, method, route, status}` |
//! | `GET /admin/dead-letters` | 200 `[{id, step, trigger, attempts, first_error, last_error, first_at, last_at, permanent}]`, newest first: work given up (R-E-7) |
//! | `POST /admin/dead-letters/replay` `{ids?: ["<step>#<trigger id>"], all?: true}` | 200 `{replayed, triggers, missing}`: each letter put back into the inbox once · 400 without `ids` or `all` |
//! | `GET /admin/custom-fields` | 200 `{fields: [{id, group, attribute, display_name, type, resources, created: {created_at, created_by} \| null}]}`: the twelve fields (R-CF-1) |
//! | `POST /admin/custom-fields` `{field, created_by?}` (`created_by` from a script; a signed-in admin is recorded as themselves) | 201 the field, its Kustomer attribute provisioned (R-CF-2) · 200 when it was created before (the first creation stands) · 400 naming the valid ids · 409 in shadow mode · 502 when Kustomer refused |
//! | `DELETE /admin/custom-fields/{field}` | 200 `{field, was_created, note}`: no longer filled; Kustomer keeps the attribute (`note` says so) |
//! | `GET /admin/sdk-keys` | 200 `{keys: {sdk key: attribute}, mapped: {sdk key: {attribute, field?, mapped_at_ms}}}` (R-CF-5) |
//! | `PUT /admin/sdk-keys` `{keys: {sdk key: field id or message attribute}}` | 200 as GET, the mapping replaced · 400 naming the key whose target is neither one of the twelve nor an attribute of the message metadata |
//! | `GET /admin/shapes` | 200 `{kinds: [{kind, documents, first_seen, last_seen, paths: {path: {types, count}}, unread, missing: {path: documents lacking it}, cut}]}`: what the platforms sent, keys and types only (issue 28, R-F) |
//! | `GET /admin/shadow?from=&to=&limit=` (RFC 3339, the last 24 h by default, at most 31 days; `limit` 1–200 sessions, 50 by default) | 200 `{mode, from, to, compared, with_differences, differences: {field: count}, cut, next_from, sessions: [{kind, id, plan, files, kustomer, differences: [{field, bridge, kustomer}]}]}`: shadow mode's plans beside what Kustomer shows, the earliest first (R-F-2; `cut` when sessions were left out — over the limit or the invocation's time — and `next_from` where the next report starts) · 400 naming a bad `from`, `to` or `limit` · 502 when Kustomer failed |
//! | `GET /admin/rejected` | 200 `[{received_at, index, field, error, event}]`, newest first: malformed External Session Events (events.md §1), kept 14 days |
//! | `GET /admin/sessions?phone=` or `?customer=` | 200 `{customer, customers, sessions: [{kind, id, at, customer}]}`, the latest first (`at`: when the session started; a session listed before 2026-12-07 holds when it was placed): the sessions placed for a Kustomer customer, by its id or a number in international form — for a number, the customer the bridge found or made for it and the one Kustomer finds by it now (a click-to-call or SDK session's customer holds the number in its profile), one Kustomer read (`customer`: the first, null when none; 502 when Kustomer cannot be asked and the bridge knows none). A session placed before these lists existed is listed by its next pass, or a resync · 400 naming `phone` or `customer` |
//! | `GET /admin/sessions/{call\|chat}/{id}` | 200 `{session, state, problems, awaiting, ese, link, records, timeline, preview}`: what the bridge knows and did for one session, and why it waits; `timeline`: every trigger a worker handled, oldest first — `{at, worker, trigger, source, hint, outcome, decisions, writes: [{platform, operation, method, path, status, id, url?}]}` (the audit, kept `AUDIT_DAYS`; `url` and `link.customer_url`/`conversation_url`: pages of Kustomer's web app, with `KUSTOMER_ORG` set) · 404 when it knows nothing · 400 naming a bad kind or id |
//! | `POST /admin/sessions/{call\|chat}/{id}/resync` | 202 `{trigger}`: the session reconciled again by every worker (idempotent: nothing done is done twice); with `?dry_run=true`, nothing is written: the inbox worker keeps every step a resync would take as the report's `preview` `{at, trigger, steps}` — with a step due to a customer or conversation Kustomer no longer has, that record named first and the placement listed again; in shadow mode one step saying a resync only plans; a session that ended in shadow mode, first, that only a resync writes it · 400 as above, or naming `dry_run` |

pub mod access;
pub mod changes;
pub mod console;
pub mod run;
use access::{AdminEmails, Caller};
use bridge_shared::UnixMillis;
use bridge_shared::ccai::CcaiClient;
use bridge_shared::ccai::model::UserStatus;
use bridge_shared::custom_fields::FieldId;
use bridge_shared::custom_fields::admin::{DELETE_NOTE, FieldAdmin, FieldAdminError};
use bridge_shared::custom_fields::settings::SdkKeyTarget;
use bridge_shared::kustomer::KustomerClient;
use bridge_shared::lambda::{body_bytes, json_answer, json_error};
use bridge_shared::sign_in::AgentSessions;
use bridge_shared::status::StatusMapping;
use bridge_shared::status::rules::is_system_status;
use bridge_shared::status::sync::StatusService;
use bridge_shared::store::{ItemKey, StateStore};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Why two-way sync (R-S-7) is marked experimental wherever it can be turned on.
pub const TWO_WAY_EXPERIMENTAL: &str = "Kustomer does not document the body of PUT /v1/routing/work-sessions/{id}; the bridge sends {\"status\": <routing status id>}. If Kustomer refuses it, the agent list shows two_way_error and Kustomer keeps the agent's status.";

pub struct AdminApi {
    pub status: StatusService,
    pub store: Arc<dyn StateStore>,
    pub ccai: Arc<CcaiClient>,
    pub kustomer: Arc<KustomerClient>,
    /// `ADMIN_TOKEN`: the current and the next token (review S11), read again from SSM.
    pub admin_tokens: bridge_shared::bearer::RotatingTokens,
    /// `ADMIN_EMAILS`: the Kustomer users let into the console (R-ADM-3).
    pub admins: AdminEmails,
    /// `BRIDGE_PUBLIC_URL`, when set: where browsers reach the bridge (else API Gateway's
    /// domain and stage).
    pub public_url: Option<String>,
    /// `AUDIT_DAYS`: how long the record of each admin change is kept (`changes`).
    pub changes_kept: std::time::Duration,
    /// The shared pacing schedules by platform (`SHARED_PACING` on; empty: each process paces
    /// itself): the health page's pacing lag.
    pub pacing_schedules: Vec<(&'static str, String)>,
    /// `KUSTOMER_ORG`, when set: the org's web app, for the session report's links into
    /// Kustomer.
    pub kustomer_ui: Option<bridge_shared::kustomer::KustomerUi>,
}

impl AdminApi {
    /// Both status lists: Kustomer's routing statuses and CCAI's user statuses (by id; names
    /// repeat, and a name two statuses share cannot be a target, so the page says so).
    async fn statuses(&self) -> Result<(Vec<Value>, Vec<UserStatus>), String> {
        let kustomer = self
            .kustomer
            .routing_statuses()
            .await
            .map_err(|e| e.to_string())?;
        let ccai = self.ccai.user_statuses().await.map_err(|e| e.to_string())?;
        Ok((
            kustomer
                .iter()
                .map(|s| json!({"id": s.id, "name": s.attributes.name, "status_type": s.attributes.status_type, "system": s.attributes.system}))
                .collect(),
            ccai,
        ))
    }

    fn ccai_statuses_json(ccai: &[UserStatus]) -> Vec<Value> {
        ccai.iter()
            .map(|s| {
                let shared = ccai
                    .iter()
                    .any(|o| o.id != s.id && o.name.eq_ignore_ascii_case(&s.name));
                json!({"id": s.id, "name": s.name, "system": is_system_status(&s.name),
                       "name_shared": shared, "can_be_target": !shared && !is_system_status(&s.name)})
            })
            .collect()
    }

    async fn get_mapping(&self, now: UnixMillis) -> Response<Body> {
        let mapping = match self.status.mapping(now).await {
            Ok(m) => m,
            Err(err) => return json_error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
        };
        match self.statuses().await {
            Ok((kustomer, ccai)) => json_answer(
                StatusCode::OK,
                json!({"mapping": *mapping, "kustomer_statuses": kustomer, "ccai_statuses": Self::ccai_statuses_json(&ccai),
                       "experimental": {"two_way": TWO_WAY_EXPERIMENTAL}}),
            ),
            Err(err) => json_error(StatusCode::BAD_GATEWAY, err),
        }
    }

    async fn put_mapping(&self, request: &Request) -> Response<Body> {
        let mapping: StatusMapping = match serde_json::from_slice(body_bytes(request)) {
            Ok(m) => m,
            Err(err) => return json_error(StatusCode::BAD_REQUEST, format!("invalid body: {err}")),
        };
        let (kustomer, ccai) = match self.statuses().await {
            Ok(lists) => lists,
            Err(err) => return json_error(StatusCode::BAD_GATEWAY, err),
        };
        let ids: Vec<String> = kustomer
            .iter()
            .filter_map(|s| s["id"].as_str().map(str::to_owned))
            .collect();
        let mapping = match mapping.resolve(&ids, &ccai) {
            Ok(mapping) => mapping,
            // `entry`: the refused entry (`to_ccai.<id>`), so the console shows the reason
            // beside it.
            Err(why) => {
                let entry = why.split_once(':').map(|(entry, _)| entry.to_owned());
                return json_answer(
                    StatusCode::BAD_REQUEST,
                    json!({"error": why, "entry": entry}),
                );
            }
        };
        match self.status.save_mapping(&mapping).await {
            Ok(()) if mapping.two_way => json_answer(
                StatusCode::OK,
                json!({"mapping": mapping, "experimental": {"two_way": TWO_WAY_EXPERIMENTAL}}),
            ),
            Ok(()) => json_answer(StatusCode::OK, json!({"mapping": mapping})),
            Err(err) => json_error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
        }
    }

    async fn agents(&self, now: UnixMillis) -> Response<Body> {
        let mut emails = match self.status.agent_emails(now).await {
            Ok(e) => e,
            Err(err) => return json_error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
        };
        let sessions = match AgentSessions::new(self.store.as_ref()).list(now).await {
            Ok(sessions) => sessions,
            Err(err) => return json_error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
        };
        // A signed-in agent whose status was never synced is listed too.
        for session in &sessions {
            if !emails.contains(&session.email) {
                emails.push(session.email.clone());
            }
        }
        let mut agents = Vec::new();
        for email in emails {
            let signed_in: Vec<Value> = sessions
                .iter()
                .filter(|s| s.email == email)
                .map(|s| json!({"id": s.id, "scope": s.scope, "created_at": s.created_at.to_iso(), "expires_at": s.expires_at.to_iso()}))
                .collect();
            match self.status.agent_state(&email).await {
                Ok(state) => {
                    agents.push(json!({"email": email, "sync": state, "sessions": signed_in}))
                }
                Err(err) => return json_error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
            }
        }
        json_answer(StatusCode::OK, json!(agents))
    }

    /// Ends every sign-in session of the agent (R-SEC-1).
    async fn revoke_sessions(&self, email: &str, now: UnixMillis) -> Response<Body> {
        if !email.contains('@') {
            return json_error(
                StatusCode::BAD_REQUEST,
                "email: the agent's e-mail address is required",
            );
        }
        match AgentSessions::new(self.store.as_ref())
            .revoke(email, now)
            .await
        {
            Ok(ended) => {
                tracing::info!(ended, "agent sessions revoked by the admin");
                json_answer(StatusCode::OK, json!({ "ended": ended }))
            }
            Err(err) => json_error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
        }
    }

    /// Work given up (R-E-7), newest first.
    async fn dead_letters(&self, now: UnixMillis) -> Response<Body> {
        match bridge_shared::stream::failures::dead_letters(self.store.as_ref(), now).await {
            Ok(letters) => json_answer(StatusCode::OK, json!(letters)),
            Err(err) => json_error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
        }
    }

    /// Puts dead letters back into the inbox, once each, after their cause was fixed.
    async fn replay(&self, request: &Request, now: UnixMillis) -> Response<Body> {
        #[derive(serde::Deserialize)]
        struct Replay {
            ids: Option<Vec<String>>,
            #[serde(default)]
            all: bool,
        }
        let body: Replay = match serde_json::from_slice(body_bytes(request)) {
            Ok(b) => b,
            Err(err) => return json_error(StatusCode::BAD_REQUEST, format!("invalid body: {err}")),
        };
        let ids = match (&body.ids, body.all) {
            (Some(ids), false) if !ids.is_empty() => Some(ids.as_slice()),
            (None, true) => None,
            _ => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "give ids (a non-empty list of \"<step>#<trigger id>\") or all: true",
                );
            }
        };
        match bridge_shared::stream::failures::replay(self.store.as_ref(), ids, now).await {
            Ok(replayed) => json_answer(StatusCode::OK, json!(replayed)),
            Err(err) => json_error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
        }
    }

    /// `GET /admin/sessions?phone=` or `?customer=`: the sessions the bridge placed for a
    /// Kustomer customer, found by the customer's id or a number of theirs (R-ADM-2).
    async fn search_sessions(&self, request: &Request, now: UnixMillis) -> Response<Body> {
        use bridge_shared::phone::{CallerNumber, normalise};
        use bridge_shared::store::keys::CUSTOMER_SESSION_PREFIX;
        use lambda_http::RequestExt;
        let query = request.query_string_parameters();
        let customers = match (query.first("phone"), query.first("customer")) {
            (Some(phone), None) => {
                // In international form: the admin has no country to read a national one in.
                let e164 = match normalise(phone, &Default::default()) {
                    CallerNumber::E164(e164) if phone.trim_start().starts_with('+') => e164,
                    _ => {
                        return json_error(
                            StatusCode::BAD_REQUEST,
                            "phone: a number in international form, e.g. +15550104477",
                        );
                    }
                };
                // The customer the bridge made or found for the number, and the one Kustomer
                // finds by it now (a customer a click-to-call or an SDK session was placed
                // under holds the number in its profile, not in the bridge's cache).
                let cached = match self
                    .store
                    .get(&ItemKey::customer_by_phone(&e164), now)
                    .await
                {
                    Ok(link) => {
                        link.and_then(|l| l.body["customer_id"].as_str().map(str::to_owned))
                    }
                    Err(err) => {
                        return json_error(StatusCode::SERVICE_UNAVAILABLE, err.to_string());
                    }
                };
                let found = match self.kustomer.customer_by_phone(&e164).await {
                    Ok(found) => found.map(|c| c.id),
                    // What the bridge knows is still an answer.
                    Err(err) if cached.is_some() => {
                        tracing::warn!(error = %err, "customer search by number: Kustomer not asked");
                        None
                    }
                    Err(err) => return json_error(StatusCode::BAD_GATEWAY, err.to_string()),
                };
                let mut customers: Vec<String> = cached.into_iter().collect();
                customers.extend(found.filter(|id| !customers.contains(id)));
                customers
            }
            (None, Some(customer))
                if !customer.is_empty()
                    && customer.len() <= 64
                    && customer.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                vec![customer.to_owned()]
            }
            (None, Some(_)) => {
                return json_error(StatusCode::BAD_REQUEST, "customer: a Kustomer customer id");
            }
            _ => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "give phone (a number in international form) or customer (a Kustomer customer id)",
                );
            }
        };
        let mut sessions: Vec<Value> = Vec::new();
        for customer in &customers {
            let items = match self
                .store
                .list_partition(&format!("CUSTOMER#{customer}"), now)
                .await
            {
                Ok(items) => items,
                Err(err) => return json_error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
            };
            sessions.extend(items.iter().filter_map(|item| {
                let (kind, id) = item
                    .key
                    .sk
                    .strip_prefix(CUSTOMER_SESSION_PREFIX)?
                    .split_once('#')?;
                Some(json!({"kind": kind, "id": id, "at": item.body["at"], "customer": customer}))
            }));
        }
        // The latest first.
        sessions.sort_by(|a, b| b["at"].as_str().cmp(&a["at"].as_str()));
        json_answer(
            StatusCode::OK,
            json!({"customer": customers.first(), "customers": customers, "sessions": sessions}),
        )
    }

    /// `GET /admin/sessions/{kind}/{id}` and `POST /admin/sessions/{kind}/{id}/resync`
    /// (`?dry_run=true`: what a resync would change, kept in the session's report as
    /// `preview`).
    async fn session(
        &self,
        method: Method,
        route: &str,
        dry_run: Option<&str>,
        now: UnixMillis,
    ) -> Response<Body> {
        use bridge_shared::conversation::report::{
            preview_trigger, resync_trigger, session_report, with_kustomer_links,
        };
        let dry_run = match dry_run {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return json_error(StatusCode::BAD_REQUEST, "dry_run: expected true or false");
            }
        };
        let mut parts = route.split('/');
        let (kind, id, action) = (parts.next(), parts.next(), parts.next());
        let kind = match kind {
            Some("call") => bridge_shared::events::SessionKind::Call,
            Some("chat") => bridge_shared::events::SessionKind::Chat,
            _ => return json_error(StatusCode::BAD_REQUEST, "kind: expected call or chat"),
        };
        let Some(id) = id
            .and_then(|id| id.parse::<u64>().ok())
            .filter(|id| *id > 0)
        else {
            return json_error(StatusCode::BAD_REQUEST, "id: expected the session's number");
        };
        let session = bridge_shared::events::SessionRef { kind, id };
        match (method, action, parts.next()) {
            (Method::GET, None, None) => {
                match session_report(self.store.as_ref(), &session, now).await {
                    Ok(Some(mut report)) => {
                        if let Some(ui) = &self.kustomer_ui {
                            with_kustomer_links(&mut report, ui);
                        }
                        json_answer(StatusCode::OK, report)
                    }
                    Ok(None) => json_error(
                        StatusCode::NOT_FOUND,
                        format!("the bridge knows nothing of {} {id}", kind.as_str()),
                    ),
                    Err(err) => json_error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
                }
            }
            (Method::POST, Some("resync"), None) => {
                let trigger = if dry_run {
                    preview_trigger(&session, now)
                } else {
                    resync_trigger(&session, now)
                };
                let stored = match bridge_shared::events::inbox_item(&trigger, now) {
                    Ok(item) => self.store.put_if_absent(&item, now).await.map(|_| ()),
                    Err(err) => {
                        return json_error(StatusCode::INTERNAL_SERVER_ERROR, err.to_string());
                    }
                };
                match stored {
                    Ok(()) => {
                        tracing::info!(
                            kind = kind.as_str(),
                            id,
                            dry_run,
                            "session resync requested"
                        );
                        json_answer(StatusCode::ACCEPTED, json!({"trigger": trigger.id}))
                    }
                    Err(err) => json_error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
                }
            }
            (_, None | Some("resync"), None) => json_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this route",
            ),
            _ => json_error(
                StatusCode::NOT_FOUND,
                format!("no route /admin/sessions/{route}"),
            ),
        }
    }

    fn field_admin(&self) -> FieldAdmin<'_> {
        FieldAdmin {
            store: self.store.as_ref(),
            kustomer: &self.kustomer,
        }
    }

    async fn custom_fields(&self, now: UnixMillis) -> Response<Body> {
        match self.field_admin().list(now).await {
            Ok(fields) => json_answer(StatusCode::OK, json!({"fields": fields})),
            Err(err) => field_error(err),
        }
    }

    async fn create_custom_field(
        &self,
        request: &Request,
        caller: &Caller,
        now: UnixMillis,
    ) -> Response<Body> {
        #[derive(serde::Deserialize)]
        struct Create {
            field: String,
            created_by: Option<String>,
        }
        let body: Create = match serde_json::from_slice(body_bytes(request)) {
            Ok(b) => b,
            Err(err) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "invalid body: {err}; expected {{\"field\": one of {}}}",
                        FieldId::valid_ids()
                    ),
                );
            }
        };
        // A signed-in admin is who they signed in as; the admin token is shared, so a script's
        // "by whom" is what it says, else the token itself.
        let by = match caller {
            Caller::Admin { email, .. } => email.clone(),
            Caller::Token => body
                .created_by
                .filter(|b| !b.trim().is_empty())
                .unwrap_or_else(|| "admin token".into()),
        };
        match self.field_admin().create(&body.field, &by, now).await {
            Ok((field, true)) => json_answer(StatusCode::CREATED, json!(field)),
            Ok((field, false)) => json_answer(StatusCode::OK, json!(field)),
            Err(err) => field_error(err),
        }
    }

    async fn delete_custom_field(&self, id: &str, now: UnixMillis) -> Response<Body> {
        match self.field_admin().delete(id, now).await {
            Ok(was_created) => json_answer(
                StatusCode::OK,
                json!({"field": id, "was_created": was_created, "note": DELETE_NOTE}),
            ),
            Err(err) => field_error(err),
        }
    }

    async fn sdk_keys(&self, now: UnixMillis) -> Response<Body> {
        match self.field_admin().sdk_keys(now).await {
            Ok(mapped) => json_answer(StatusCode::OK, sdk_keys_json(&mapped)),
            Err(err) => field_error(err),
        }
    }

    async fn put_sdk_keys(&self, request: &Request, now: UnixMillis) -> Response<Body> {
        #[derive(serde::Deserialize)]
        struct Put {
            keys: BTreeMap<String, String>,
        }
        let body: Put = match serde_json::from_slice(body_bytes(request)) {
            Ok(b) => b,
            Err(err) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "invalid body: {err}; expected {{\"keys\": {{sdk key: field or attribute}}}}"
                    ),
                );
            }
        };
        match self.field_admin().put_sdk_keys(&body.keys, now).await {
            Ok(mapped) => json_answer(StatusCode::OK, sdk_keys_json(&mapped)),
            Err(err) => field_error(err),
        }
    }

    /// Malformed session events the intake kept, newest first (at most 100).
    async fn rejected(&self, now: UnixMillis) -> Response<Body> {
        match self.store.list_partition("REJECTED", now).await {
            Ok(items) => json_answer(
                StatusCode::OK,
                json!(
                    items
                        .into_iter()
                        .rev()
                        .take(100)
                        .map(|item| item.body)
                        .collect::<Vec<_>>()
                ),
            ),
            Err(err) => json_error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
        }
    }

    /// What the platforms sent, by document kind (issue 28, R-F): the keys and types seen,
    /// what the model does not read, what it expected and did not get. This process's own
    /// record is written first, so a local host shows what it has just seen.
    async fn shapes(&self, now: UnixMillis) -> Response<Body> {
        if let Err(err) = bridge_shared::shapes::book()
            .flush_now(self.store.as_ref(), now)
            .await
        {
            tracing::warn!(error = %err, "could not write this process's record of shapes");
        }
        match bridge_shared::shapes::read_reports(self.store.as_ref(), now).await {
            Ok(kinds) => json_answer(StatusCode::OK, json!({ "kinds": kinds })),
            Err(err) => json_error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
        }
    }

    /// The shadow run beside what Kustomer shows (R-F-2): each session planned from `from` to
    /// `to` (RFC 3339; the last 24 hours by default), with every difference.
    async fn shadow(&self, request: &Request, now: UnixMillis) -> Response<Body> {
        use lambda_http::RequestExt;
        let query = request.query_string_parameters();
        let instant = |name: &str, default: i64| {
            match query.first(name) {
            None => Ok(default),
            Some(text) => chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.timestamp_millis())
                .map_err(|_| format!("{name}: expected an RFC 3339 time such as 2026-12-07T09:00:00Z, got {text:?}")),
        }
        };
        let period =
            instant("to", now.0).and_then(|to| Ok((instant("from", to - 24 * 3600 * 1000)?, to)));
        use bridge_shared::shadow::compare::{DEFAULT_SESSIONS, MAX_DAYS, MAX_SESSIONS};
        let (from, to) = match period {
            Ok((from, to)) if from > to => {
                return json_error(StatusCode::BAD_REQUEST, "from: must not be after to");
            }
            Ok((from, to)) if to - from > MAX_DAYS * 24 * 3600 * 1000 => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    format!("from: at most {MAX_DAYS} days before to"),
                );
            }
            Ok(period) => period,
            Err(why) => return json_error(StatusCode::BAD_REQUEST, why),
        };
        let limit = match query.first("limit").map(str::parse::<usize>) {
            None => DEFAULT_SESSIONS,
            Some(Ok(n)) if (1..=MAX_SESSIONS).contains(&n) => n,
            Some(_) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    format!("limit: a number of sessions from 1 to {MAX_SESSIONS}"),
                );
            }
        };
        let iso = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        match bridge_shared::shadow::compare::report(
            self.store.as_ref(),
            &self.kustomer,
            (from, to),
            limit,
            now,
        )
        .await
        {
            Ok((sessions, next_from)) => {
                let mut by_field: BTreeMap<&str, usize> = BTreeMap::new();
                for difference in sessions.iter().flat_map(|s| &s.differences) {
                    *by_field.entry(difference.field).or_default() += 1;
                }
                json_answer(
                    StatusCode::OK,
                    json!({
                        "mode": if self.kustomer.writes() { "live" } else { "shadow" },
                        "from": iso(from),
                        "to": iso(to),
                        "compared": sessions.len(),
                        "with_differences": sessions.iter().filter(|s| !s.differences.is_empty()).count(),
                        "differences": by_field,
                        "cut": next_from.is_some(),
                        "next_from": next_from.map(iso),
                        "sessions": sessions,
                    }),
                )
            }
            Err(err @ bridge_shared::shadow::compare::CompareError::Kustomer(_)) => {
                json_error(StatusCode::BAD_GATEWAY, err.to_string())
            }
            Err(err) => json_error(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
        }
    }

    async fn health(&self, now: UnixMillis) -> Response<Body> {
        let store = self
            .store
            .get(&ItemKey::config("STATUS_MAP"), now)
            .await
            .map(drop)
            .map_err(|e| e.to_string());
        let ccai = self
            .ccai
            .check_credentials()
            .await
            .map_err(|e| e.to_string());
        let kustomer = self
            .kustomer
            .routing_statuses()
            .await
            .map(drop)
            .map_err(|e| e.to_string());
        let check = |r: &Result<(), String>| match r {
            Ok(()) => json!("ok"),
            Err(e) => json!(e),
        };
        let healthy = store.is_ok() && ccai.is_ok() && kustomer.is_ok();
        json_answer(
            if healthy {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            },
            json!({"status": if healthy { "ok" } else { "degraded" },
            "checks": {"state_store": check(&store), "ccai": check(&ccai), "kustomer": check(&kustomer)},
            "work": self.work(now).await,
            "changes": match changes::latest(self.store.as_ref(), now).await {
                Ok(latest) => json!(latest),
                Err(err) => json!({"error": err.to_string()}),
            }}),
        )
    }

    /// How far behind the bridge runs (R-ADM-1's health page): each poll cursor's lag behind
    /// now, the work waiting for a scheduled retry, the dead letters and the latest errors. What
    /// the store cannot say is said as such; it never fails the health answer.
    async fn work(&self, now: UnixMillis) -> Value {
        use bridge_shared::stream::failures::{RETRY_PARTITION, dead_letters};
        let mut polls = serde_json::Map::new();
        for (kind, name) in [("calls", "CURSOR#calls"), ("chats", "CURSOR#chats")] {
            let cursor = match self.store.get(&ItemKey::config(name), now).await {
                // The cursor's version is the `updated_at` (ms) it reached.
                // How long ago the last change the poll reached happened: on a quiet tenant it
                // grows with nothing wrong, so `caught_up` says whether a list is still unread.
                Ok(Some(item)) => json!({
                    "reached": item.body["updated_at"],
                    "since_last_change_s": (now.0 - item.version as i64).max(0) / 1000,
                    "caught_up": item.body["caught_up"],
                }),
                Ok(None) => json!("never run"),
                Err(err) => json!(format!("unknown: {err}")),
            };
            polls.insert(kind.into(), cursor);
        }
        let retrying = match self.store.list_partition(RETRY_PARTITION, now).await {
            Ok(items) => json!(items.len()),
            Err(err) => json!(format!("unknown: {err}")),
        };
        let (dead, recent) = match dead_letters(self.store.as_ref(), now).await {
            Ok(letters) => (
                json!(letters.len()),
                letters
                    .iter()
                    .take(5)
                    .map(|l| json!({"at": l.last_at.to_iso(), "step": l.step, "error": l.last_error}))
                    .collect(),
            ),
            Err(err) => (json!(format!("unknown: {err}")), Vec::new()),
        };
        json!({"polls": polls, "pacing": self.pacing_lag(now).await, "retrying": retrying,
               "dead_letters": dead, "recent_errors": recent})
    }

    /// Each shared pacing schedule's lag: how long a request asking now would wait for its
    /// turn (`booked_ahead_ms`); a lag that stays high means the org's or tenant's budget is
    /// too small for the work.
    async fn pacing_lag(&self, now: UnixMillis) -> Value {
        if self.pacing_schedules.is_empty() {
            return json!("per process (SHARED_PACING off)");
        }
        let mut lag = serde_json::Map::new();
        for (platform, name) in &self.pacing_schedules {
            let value =
                match bridge_shared::pacing::booked_ahead(self.store.as_ref(), name, now).await {
                    Ok(ahead) => json!({"booked_ahead_ms": ahead.as_millis() as u64}),
                    Err(err) => json!(format!("unknown: {err}")),
                };
            lag.insert((*platform).to_owned(), value);
        }
        Value::Object(lag)
    }
}

/// `KUSTOMER_ORG` (optional, the agents' sign-in setting): the org's web app for the session
/// report's links; a value that is no org name is refused by name.
pub fn kustomer_ui(
    org: Option<&str>,
) -> Result<Option<bridge_shared::kustomer::KustomerUi>, String> {
    org.map(str::trim)
        .filter(|org| !org.is_empty())
        .map(|org| {
            bridge_shared::kustomer::KustomerUi::of_org(org)
                .map_err(|err| format!("KUSTOMER_ORG: {err}"))
        })
        .transpose()
}

/// `GET /admin/whoami`: who the console is signed in as.
fn whoami(caller: &Caller) -> Response<Body> {
    match caller {
        Caller::Token => json_answer(
            StatusCode::OK,
            json!({"actor": caller.name(), "kind": "token"}),
        ),
        Caller::Admin { email, session } => json_answer(
            StatusCode::OK,
            json!({"actor": email, "kind": "kustomer", "session": session}),
        ),
    }
}

fn sdk_keys_json(mapped: &BTreeMap<String, SdkKeyTarget>) -> Value {
    let keys: BTreeMap<&str, &str> = mapped
        .iter()
        .map(|(k, t)| (k.as_str(), t.attribute.as_str()))
        .collect();
    json!({"keys": keys, "mapped": mapped})
}

fn field_error(err: FieldAdminError) -> Response<Body> {
    let status = match &err {
        FieldAdminError::UnknownField { .. } | FieldAdminError::BadSdkKey { .. } => {
            StatusCode::BAD_REQUEST
        }
        // Shadow mode writes nothing to Kustomer (R-F-2): the request conflicts with the mode.
        FieldAdminError::Kustomer(bridge_shared::kustomer::KustomerError::Shadow { .. }) => {
            StatusCode::CONFLICT
        }
        FieldAdminError::Kustomer(_) => StatusCode::BAD_GATEWAY,
        FieldAdminError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    json_error(status, err.to_string())
}

/// Handles one request. Never fails: every error is an HTTP answer.
pub async fn handle(api: &AdminApi, request: Request, now: UnixMillis) -> Response<Body> {
    let path = bridge_shared::lambda::route_path(&request)
        .trim_end_matches('/')
        .to_owned();
    if request.method() == Method::GET {
        let base = api
            .public_url
            .clone()
            .or_else(|| bridge_shared::lambda::gateway_base_url(&request));
        if let Some(page) = console::asset(&path, &console::prefix_of(base.as_deref())) {
            return page;
        }
    }
    let caller = match access::caller(
        &api.admin_tokens,
        &api.admins,
        api.store.as_ref(),
        &api.kustomer,
        &request,
        now,
    )
    .await
    {
        Ok(caller) => caller,
        Err(answer) => return *answer,
    };
    // Every change is recorded with who made it (R-ADM-3). The log names the session's public
    // name, never the e-mail (no e-mails in logs; `GET /admin/agents` ties it to its user); the
    // table's record (`changes`) names the admin, so who made it outlives the session.
    let change = (request.method() != Method::GET).then(|| {
        // The route as the template names it: an agent's e-mail in the path is not kept.
        // A dry run is no resync: kept as what it was.
        let dry_run = {
            use lambda_http::RequestExt;
            request.query_string_parameters().first("dry_run") == Some("true")
        };
        let route = if path.starts_with("/admin/agents/") {
            "/admin/agents/{email}/sessions".to_owned()
        } else if dry_run && path.ends_with("/resync") {
            format!("{path}?dry_run=true")
        } else {
            path.clone()
        };
        (request.method().to_string(), route)
    });
    if let Some((method, route)) = &change {
        let actor = match &caller {
            Caller::Token => "ADMIN_TOKEN",
            Caller::Admin { session, .. } => session.as_str(),
        };
        tracing::info!(actor, method = %method, route = %route, "admin change");
    }
    let answer = route(api, &request, &path, &caller, now).await;
    if let Some((method, route)) = &change
        && let Err(err) = changes::keep(
            api.store.as_ref(),
            caller.name(),
            (method, route, answer.status().as_u16()),
            now,
            api.changes_kept,
        )
        .await
    {
        tracing::warn!(error = %err, "the admin change was not kept in the table (it is logged)");
    }
    answer
}

/// The admin API's routes (events.md §4), for a caller already let in.
async fn route(
    api: &AdminApi,
    request: &Request,
    path: &str,
    caller: &Caller,
    now: UnixMillis,
) -> Response<Body> {
    match (request.method().clone(), path) {
        (Method::GET, "/admin/whoami") => whoami(caller),
        (Method::GET, "/admin/status-mapping") => api.get_mapping(now).await,
        (Method::PUT, "/admin/status-mapping") => api.put_mapping(request).await,
        (Method::GET, "/admin/agents") => api.agents(now).await,
        (Method::GET, "/admin/health") => api.health(now).await,
        (Method::GET, "/admin/rejected") => api.rejected(now).await,
        (Method::GET, "/admin/shapes") => api.shapes(now).await,
        (Method::GET, "/admin/shadow") => api.shadow(request, now).await,
        (Method::GET, "/admin/dead-letters") => api.dead_letters(now).await,
        (Method::POST, "/admin/dead-letters/replay") => api.replay(request, now).await,
        (Method::GET, "/admin/custom-fields") => api.custom_fields(now).await,
        (Method::POST, "/admin/custom-fields") => {
            api.create_custom_field(request, caller, now).await
        }
        (Method::DELETE, field) if field.starts_with("/admin/custom-fields/") => {
            let id = field.trim_start_matches("/admin/custom-fields/");
            let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy();
            api.delete_custom_field(&id, now).await
        }
        (Method::GET, "/admin/sdk-keys") => api.sdk_keys(now).await,
        (Method::DELETE, route)
            if route.starts_with("/admin/agents/") && route.ends_with("/sessions") =>
        {
            let email = route
                .trim_start_matches("/admin/agents/")
                .trim_end_matches("/sessions");
            let email = percent_encoding::percent_decode_str(email).decode_utf8_lossy();
            api.revoke_sessions(&email, now).await
        }
        (Method::GET, "/admin/sessions") => api.search_sessions(request, now).await,
        (method, route) if route.starts_with("/admin/sessions/") => {
            let dry_run = {
                use lambda_http::RequestExt;
                request
                    .query_string_parameters()
                    .first("dry_run")
                    .map(str::to_owned)
            };
            api.session(
                method,
                route.trim_start_matches("/admin/sessions/"),
                dry_run.as_deref(),
                now,
            )
            .await
        }
        (Method::PUT, "/admin/sdk-keys") => api.put_sdk_keys(request, now).await,
        (
            _,
            "/admin/status-mapping"
            | "/admin/whoami"
            | "/admin/agents"
            | "/admin/health"
            | "/admin/rejected"
            | "/admin/shapes"
            | "/admin/shadow"
            | "/admin/dead-letters"
            | "/admin/dead-letters/replay"
            | "/admin/custom-fields"
            | "/admin/sdk-keys"
            | "/admin/sessions",
        ) => json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed on this route",
        ),
        _ => json_error(StatusCode::NOT_FOUND, format!("no route {path}")),
    }
}
