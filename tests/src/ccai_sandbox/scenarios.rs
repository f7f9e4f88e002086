//! The scenario driver: plays sessions on the sandbox (updating its state the way the platform
//! would) and pushes the matching External Session Events (ccai-api.md §1) to a configured URL
//! the way CCAI Platform does: HTTP Basic, `{count, events}` batches of one to five events,
//! each event a snapshot of the session's `item` growing stage by stage (Start, Routing,
//! Assigned, Active, End, Final), with switches for duplicates, reordering and drops — or no
//! events at all (a tenant without ESE, served by the poller).

use super::CcaiSandbox;
use super::state::CcaiWorld;
use bridge_shared::ese::parse_event;
use bridge_shared::events::SessionTrigger;
use bridge_shared::signature::basic_header;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// Where events go, with the Basic credentials the tenant admin entered in the portal.
#[derive(Clone)]
pub struct EventSink {
    pub url: String,
    pub user: String,
    pub password: String,
    http: reqwest::Client,
}

impl EventSink {
    pub fn new(url: &str, user: &str, password: &str) -> Self {
        Self {
            url: url.into(),
            user: user.into(),
            password: password.into(),
            http: bridge_shared::http::builder().build().unwrap(),
        }
    }

    /// Posts one batch; the HTTP status, or `None` when the request failed.
    pub async fn send(&self, events: &[Value]) -> Option<u16> {
        let body = json!({"count": events.len(), "events": events});
        let answer = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("authorization", basic_header(&self.user, &self.password))
            .body(body.to_string())
            .send()
            .await;
        answer.ok().map(|r| r.status().as_u16())
    }
}

/// How events are delivered.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// Every batch is sent twice.
    pub duplicate: bool,
    /// A session's events are sent last to first.
    pub reverse: bool,
    /// Events of these stages (`Start`, `Routing`, `Assigned`, `Active`, `End`, `Final`) are
    /// not sent (the poller has to find the change).
    pub drop_stages: Vec<String>,
    /// Most events in one POST (the platform batches; 1 to 5 here).
    pub batch_max: usize,
    /// The tenant has External Session Events off: nothing is sent at all.
    pub silent: bool,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            duplicate: false,
            reverse: false,
            drop_stages: Vec::new(),
            batch_max: 3,
            silent: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct SentEvent {
    pub id: String,
    /// The stage the event reports.
    pub stage: &'static str,
    /// The event as the platform sends it (`{event_id, timestamp, item}`).
    pub body: Value,
    /// The status of each POST that carried it (empty when dropped, two when duplicated).
    pub deliveries: Vec<Option<u16>>,
}

impl SentEvent {
    /// The inbox trigger the bridge makes of this event.
    pub fn trigger(&self) -> SessionTrigger {
        match parse_event(&self.body) {
            Ok(event) => event.trigger(),
            Err(err) => panic!("the driver made a malformed event: {err}"),
        }
    }
}

/// A played session: what happened and which events went out.
#[derive(Clone, Debug)]
pub struct Played {
    pub kind: &'static str,
    pub session_id: u64,
    pub events: Vec<SentEvent>,
}

impl Played {
    pub fn types(&self) -> Vec<&str> {
        self.events.iter().map(|e| e.stage).collect()
    }

    pub fn triggers(&self) -> Vec<SessionTrigger> {
        self.events.iter().map(SentEvent::trigger).collect()
    }
}

pub struct ScenarioDriver<'a> {
    sandbox: &'a CcaiSandbox,
    sink: Option<EventSink>,
    pub delivery: Delivery,
    /// Size of the recordings the calls leave.
    pub recording_size: u64,
    /// An answered call's agent stays in Wrap-up when the call ends: the Final event comes
    /// only from [`ScenarioDriver::submit_wrap_up`], as long after the End as the test says.
    pub hold_wrap_up: bool,
    /// Files due at a session's end land as it is delivered (true), or only at the caller's
    /// own [`CcaiSandbox::publish_due`] (a soak publishing once per wave of sessions).
    pub publish_files: bool,
}

/// A session's ESE `item`, growing as the session moves on; each stage is one event.
struct EseSession {
    item: Map<String, Value>,
    events: Vec<SentEvent>,
}

impl EseSession {
    fn new(kind: &str, id: u64, dn: &str) -> Self {
        let mut item = Map::new();
        item.insert(format!("{kind}_id"), json!(id));
        item.insert("state".into(), json!("connected"));
        item.insert(
            "participants".into(),
            json!([{"type": "external", "state": "connected", "dn": dn}]),
        );
        Self {
            item,
            events: Vec::new(),
        }
    }

    fn participants(&mut self) -> &mut Vec<Value> {
        match self.item.get_mut("participants") {
            Some(Value::Array(list)) => list,
            _ => unreachable!("participants are set at the start"),
        }
    }

    fn set(&mut self, field: &str, value: Value) {
        self.item.insert(field.into(), value);
    }

    /// Every agent participant in `from` moves to `to` (the latest only when `last_only`).
    fn agents_to(&mut self, to: &str, last_only: bool) {
        let agents: Vec<usize> = self
            .participants()
            .iter()
            .enumerate()
            .filter(|(_, p)| p["type"] == "agent" && p["state"] != "disconnected")
            .map(|(i, _)| i)
            .collect();
        let chosen: Vec<usize> = if last_only {
            agents.last().copied().into_iter().collect()
        } else {
            agents
        };
        for index in chosen {
            self.participants()[index]["state"] = json!(to);
        }
    }

    fn add_agent(&mut self, world: &CcaiWorld, agent_id: u64) {
        let agent = world.agent(agent_id);
        let participant = json!({"type": "agent", "state": "accepted", "id": agent_id,
            "name": agent.map(|a| a.first_name.clone()), "email": agent.map(|a| a.email.clone())});
        self.participants().push(participant);
    }

    fn end(&mut self, world: &mut CcaiWorld) {
        let now = world.now();
        self.set("state", json!("disconnected"));
        self.set("ends_at", json!(now));
        for participant in self.participants() {
            if participant["state"] != "disconnected" {
                participant["state"] = json!("disconnected");
            }
        }
    }

    /// One event carrying the item as it is now.
    fn emit(&mut self, world: &mut CcaiWorld, stage: &'static str) {
        let _ = world.now();
        let id = uuid::Uuid::new_v4().to_string();
        let body = json!({"event_id": id, "timestamp": world.last_ms(), "item": self.item.clone()});
        self.events.push(SentEvent {
            id,
            stage,
            body,
            deliveries: Vec::new(),
        });
    }

    /// Start, Routing: the customer is connected and queued.
    fn start_and_route(&mut self, world: &mut CcaiWorld, queue: &Value) {
        self.emit(world, "Start");
        self.set("queue_path_names", queue["name"].clone());
        self.set("queue_path_ids", json!(queue["id"].to_string()));
        self.set("initiator", json!("virtual_agent_15"));
        self.emit(world, "Routing");
    }

    /// Assigned, Active: an agent accepts, then media flows.
    fn answer(&mut self, world: &mut CcaiWorld, agent_id: u64) {
        self.add_agent(world, agent_id);
        self.emit(world, "Assigned");
        let now = world.now();
        self.set("connected_at", json!(now));
        self.agents_to("connected", true);
        self.emit(world, "Active");
    }

    /// End, Final: both sides disconnect, then the agent submits the wrap-up.
    fn finish(&mut self, world: &mut CcaiWorld, disposition: Option<(&str, &str)>) {
        self.end(world);
        self.emit(world, "End");
        if let Some((code, note)) = disposition {
            if let Some(last) = self
                .participants()
                .iter_mut()
                .rev()
                .find(|p| p["type"] == "agent")
            {
                last["state"] = json!("dispositionSubmitted");
            }
            let disposition = json!({"code": code, "custom_code_id": 12, "note": note});
            if let Some(id) = self
                .item
                .get("call_id")
                .or(self.item.get("chat_id"))
                .and_then(Value::as_u64)
            {
                world.dispositions.insert(id, disposition.clone());
            }
            self.set("dispositions", disposition);
            self.emit(world, "Final");
        }
    }
}

fn menu(world: &CcaiWorld, menu_type: &str) -> Value {
    world
        .menus
        .iter()
        .find(|m| m["menu_type"] == menu_type)
        .cloned()
        .unwrap_or(Value::Null)
}

impl<'a> ScenarioDriver<'a> {
    /// Events go to `sink` when given; without one the driver only changes state.
    pub fn new(sandbox: &'a CcaiSandbox, sink: Option<EventSink>) -> Self {
        Self {
            sandbox,
            sink,
            delivery: Delivery::default(),
            recording_size: 256 * 1024,
            hold_wrap_up: false,
            publish_files: true,
        }
    }

    async fn deliver(
        &self,
        kind: &'static str,
        session_id: u64,
        mut events: Vec<SentEvent>,
    ) -> Played {
        // Files due at the end land now (those with a delay, later).
        if self.publish_files
            && let Err(err) = self.sandbox.publish_due().await
        {
            panic!("the sandbox could not write its external-storage files: {err}");
        }
        let mut order: Vec<usize> = (0..events.len())
            .filter(|i| {
                !self
                    .delivery
                    .drop_stages
                    .iter()
                    .any(|s| s == events[*i].stage)
            })
            .collect();
        if self.delivery.reverse {
            order.reverse();
        }
        if let (Some(sink), false) = (&self.sink, self.delivery.silent) {
            for chunk in order.chunks(self.delivery.batch_max.clamp(1, 5)) {
                let twists = self.sandbox.options().shape_twists;
                let bodies: Vec<Value> = chunk
                    .iter()
                    .map(|i| {
                        let mut body = events[*i].body.clone();
                        twists.event(&mut body);
                        body
                    })
                    .collect();
                let copies = if self.delivery.duplicate { 2 } else { 1 };
                for _ in 0..copies {
                    let status = sink.send(&bodies).await;
                    for index in chunk {
                        events[*index].deliveries.push(status);
                    }
                }
            }
        }
        Played {
            kind,
            session_id,
            events,
        }
    }

    /// A new call in `selecting`, as the platform creates it.
    fn new_call(
        &self,
        world: &mut CcaiWorld,
        call_type: &str,
        menu_type: &str,
        phone: Option<&str>,
        identifier: &str,
    ) -> u64 {
        let phone_on_participant = self.sandbox.shared.options().phone_on_participant;
        let end_user = world.add_end_user(identifier, phone, None);
        let id = world.new_id();
        if let Some(phone) = phone {
            world.caller_numbers.insert(id, phone.to_owned());
        }
        let now = world.now();
        let participants = match phone {
            Some(phone) if phone_on_participant => {
                json!([{"type": "end_user", "phone_number": phone}])
            }
            _ => json!([]),
        };
        let selected = menu(world, menu_type);
        world.calls.push(json!({
            "id": id, "call_uuid": format!("uuid-{id}"), "call_type": call_type, "session_type_v2": call_type, "status": "selecting", "lang": "en",
            "created_at": now, "updated_at": now, "queued_at": null, "assigned_at": null, "connected_at": null, "ends_at": null,
            "queue_duration": null, "call_duration": null, "hold_duration": null, "rating": null, "has_feedback": false,
            "recording_url": null, "fail_reason": "nothing", "answer_type": null,
            "menu_path": {"name": selected["name"], "materialized_path": selected["name"]}, "selected_menu": selected,
            "agent_info": null, "end_user": {"id": end_user, "identifier": identifier, "out_contact_id": null},
            "transfers": [], "participants": participants, "out_ticket_id": null,
        }));
        id
    }

    fn assign(&self, world: &mut CcaiWorld, kind: &str, id: u64, agent_id: u64) {
        let info = world
            .agent(agent_id)
            .map(|a| a.info())
            .unwrap_or(Value::Null);
        let now = world.now();
        world.update_session(kind, id, |s| {
            s.insert(
                "status".into(),
                json!(if kind == "call" {
                    "connected"
                } else {
                    "assigned"
                }),
            );
            s.insert("queued_at".into(), json!(now));
            s.insert("assigned_at".into(), json!(now));
            s.insert("connected_at".into(), json!(now));
            s.insert("queue_duration".into(), json!(12));
            s.insert("wait_duration".into(), json!(12));
            s.insert("agent_info".into(), info);
        });
        world.move_agent(
            agent_id,
            if kind == "call" { "In-call" } else { "In-chat" },
            "platform",
        );
    }

    fn finish_call(&self, world: &mut CcaiWorld, id: u64, agent_id: Option<u64>, duration: u64) {
        let now = world.now();
        let recording =
            agent_id.map(|_| format!("{}/recordings/call-{id}.mp3", self.sandbox.base_url));
        if recording.is_some() {
            world.recordings.insert(id, self.recording_size);
        }
        world.update_session("call", id, |s| {
            s.insert("status".into(), json!("finished"));
            s.insert("ends_at".into(), json!(now));
            s.insert("call_duration".into(), json!(duration));
            s.insert("hold_duration".into(), json!(5));
            s.insert("recording_url".into(), json!(recording));
        });
        if let Some(agent) = agent_id {
            world.move_agent(agent, "Wrap-up", "platform");
            if !self.hold_wrap_up {
                world.finish_session_for(agent);
            }
        }
    }

    /// The held wrap-up of `played` (see [`ScenarioDriver::hold_wrap_up`]) ends `after` its
    /// call: the agent submits the disposition, CCAI moves them to their next status (else
    /// Available) and sends the Final event, which is delivered and answered.
    pub async fn submit_wrap_up(&self, played: &Played, agent_id: u64, after: Duration) -> Played {
        let last = played.events.last().map(|e| e.body["item"].clone());
        let event = self.sandbox.change(|world| {
            world.pass(after);
            world.finish_session_for(agent_id);
            let mut item = last.unwrap_or(Value::Null);
            if let Some(Value::Array(participants)) = item.get_mut("participants")
                && let Some(agent) = participants.iter_mut().rev().find(|p| p["type"] == "agent")
            {
                agent["state"] = json!("dispositionSubmitted");
            }
            let disposition =
                json!({"code": "Resolved", "custom_code_id": 12, "note": "Customer helped"});
            world
                .dispositions
                .insert(played.session_id, disposition.clone());
            item["dispositions"] = disposition;
            let _ = world.now();
            let id = uuid::Uuid::new_v4().to_string();
            SentEvent {
                body: json!({"event_id": id, "timestamp": world.last_ms(), "item": item}),
                id,
                stage: "Final",
                deliveries: Vec::new(),
            }
        });
        self.deliver(played.kind, played.session_id, vec![event])
            .await
    }

    /// The customer's `dn` for a session: the phone number, else `end_user_<id>`.
    fn dn(world: &CcaiWorld, kind: &str, id: u64, phone: Option<&str>) -> String {
        if let Some(phone) = phone {
            return phone.to_owned();
        }
        let session = if kind == "call" {
            world.call(id)
        } else {
            world.chat(id)
        };
        let end_user = session
            .map(|s| s["end_user"]["id"].clone())
            .unwrap_or(Value::Null);
        format!("end_user_{end_user}")
    }

    /// A call that is queued, answered by `agent_id`, and ends after `duration` seconds with
    /// a recording and a wrap-up.
    #[allow(clippy::too_many_arguments)] // a scenario's facts, named at each call site
    fn answered_call(
        &self,
        world: &mut CcaiWorld,
        call_type: &str,
        menu_type: &str,
        phone: Option<&str>,
        identifier: &str,
        agent_id: u64,
        duration: u64,
    ) -> (u64, Vec<SentEvent>) {
        let id = self.new_call(world, call_type, menu_type, phone, identifier);
        let mut ese = EseSession::new("call", id, &Self::dn(world, "call", id, phone));
        ese.start_and_route(world, &menu(world, menu_type));
        self.assign(world, "call", id, agent_id);
        ese.answer(world, agent_id);
        self.finish_call(world, id, Some(agent_id), duration);
        let disposition = (!self.hold_wrap_up).then_some(("Resolved", "Customer helped"));
        ese.finish(world, disposition);
        (id, ese.events)
    }

    /// An IVR call answered by an agent: every stage, a recording, a wrap-up.
    pub async fn ivr_call_answered(&self, agent_id: u64, phone: &str) -> Played {
        let (id, events) = self.sandbox.change(|world| {
            self.answered_call(
                world,
                "Voice Inbound (IVR)",
                "ivr_menu",
                Some(phone),
                &format!("phone-{phone}"),
                agent_id,
                125,
            )
        });
        self.deliver("call", id, events).await
    }

    /// A mobile-SDK call from an app user (identified, no phone number needed).
    pub async fn sdk_call(&self, agent_id: u64, identifier: &str) -> Played {
        let (id, events) = self.sandbox.change(|world| {
            self.answered_call(
                world,
                "Voice Inbound (Mobile)",
                "mobile_menu",
                None,
                identifier,
                agent_id,
                60,
            )
        });
        self.deliver("call", id, events).await
    }

    /// The caller hangs up before anyone answers.
    pub async fn abandoned_call(&self, phone: &str) -> Played {
        let (id, events) = self.sandbox.change(|world| {
            let id = self.new_call(
                world,
                "Voice Inbound (IVR)",
                "ivr_menu",
                Some(phone),
                &format!("phone-{phone}"),
            );
            let mut ese = EseSession::new("call", id, phone);
            ese.start_and_route(world, &menu(world, "ivr_menu"));
            let now = world.now();
            world.update_session("call", id, |s| {
                s.insert("status".into(), json!("failed"));
                s.insert("fail_reason".into(), json!("abandoned"));
                s.insert("queued_at".into(), json!(now));
                s.insert("ends_at".into(), json!(now));
                s.insert("queue_duration".into(), json!(40));
            });
            ese.finish(world, None);
            (id, ese.events)
        });
        self.deliver("call", id, events).await
    }

    /// A voicemail, then optionally an agent's handling of it (`read`, `called_back`,
    /// `closed`). The handling changes the call (its status and `updated_at`); whether the
    /// platform sends an ESE event for it is not documented, so none is sent: the poller finds
    /// it.
    pub async fn voicemail(&self, phone: &str, action: Option<&str>) -> Played {
        let (id, events) = self.sandbox.change(|world| {
            let id = self.new_call(
                world,
                "Voice Inbound (IVR)",
                "ivr_menu",
                Some(phone),
                &format!("phone-{phone}"),
            );
            let mut ese = EseSession::new("call", id, phone);
            ese.start_and_route(world, &menu(world, "ivr_menu"));
            world.recordings.insert(id, self.recording_size / 4);
            let url = format!("{}/recordings/call-{id}.mp3", self.sandbox.base_url);
            let now = world.now();
            world.update_session("call", id, |s| {
                s.insert("status".into(), json!("voicemail_received"));
                s.insert("voicemail_reason".into(), json!("no_agent_available"));
                s.insert("recording_url".into(), json!(url));
                s.insert("call_duration".into(), json!(30));
                s.insert("ends_at".into(), json!(now));
            });
            ese.finish(world, None);
            (id, ese.events)
        });
        let played = self.deliver("call", id, events).await;
        if let Some(action) = action {
            self.handle_voicemail(id, action);
        }
        played
    }

    /// An agent reads, calls back or closes a voicemail (the call's status changes).
    pub fn handle_voicemail(&self, call_id: u64, action: &str) {
        let status = match action {
            "read" => "voicemail_read",
            "called_back" => "voicemail_called_back",
            "closed" => "voicemail_closed",
            other => panic!("no voicemail action {other}"),
        };
        self.sandbox.change(|world| {
            world.update_session("call", call_id, |s| {
                s.insert("status".into(), json!(status));
            })
        });
    }

    /// Answered by one agent, transferred to another, ended.
    pub async fn transfer(&self, from_agent: u64, to_agent: u64, phone: &str) -> Played {
        let (id, events) = self.sandbox.change(|world| {
            let id = self.new_call(world, "Voice Inbound (IVR)", "ivr_menu", Some(phone), &format!("phone-{phone}"));
            let mut ese = EseSession::new("call", id, phone);
            ese.start_and_route(world, &menu(world, "ivr_menu"));
            self.assign(world, "call", id, from_agent);
            ese.answer(world, from_agent);
            let transfer_id = world.new_id();
            let now = world.now();
            let (from, to) = (world.agent(from_agent).map(|a| a.info()), world.agent(to_agent).map(|a| a.info()));
            world.update_session("call", id, |s| {
                s.insert(
                    "transfers".into(),
                    json!([{"id": transfer_id, "status": "connected", "from_agent": from, "to_agent": to, "to_menu": null, "created_at": now}]),
                );
                s.insert("agent_info".into(), to.clone().unwrap_or(Value::Null));
            });
            world.move_agent(from_agent, "Wrap-up", "platform");
            world.finish_session_for(from_agent);
            world.move_agent(to_agent, "In-call", "platform");
            // A transfer: the first agent leaves, a new agent participant reaches `accepted`.
            ese.agents_to("disconnected", true);
            ese.answer(world, to_agent);
            self.finish_call(world, id, Some(to_agent), 300);
            ese.finish(world, Some(("Transferred", "Billing question")));
            (id, ese.events)
        });
        self.deliver("call", id, events).await
    }

    /// An agent dials out (adapter or click-to-call); `callback` marks "hang up and call back"
    /// or the callback after a short call.
    pub async fn outbound_call(
        &self,
        agent_id: u64,
        phone: &str,
        callback: bool,
        previous_call_id: Option<u64>,
    ) -> Played {
        let link = self.sandbox.shared.options().callback_link;
        let (id, events) = self.sandbox.change(|world| {
            let id = self.new_call(
                world,
                "Voice Outbound (API)",
                "ivr_menu",
                Some(phone),
                &format!("phone-{phone}"),
            );
            // The callback names the call it returns, under the key the sandbox plays.
            if callback && let (Some(original), Some(key)) = (previous_call_id, link.key()) {
                world.update_session("call", id, |s| {
                    s.insert(key.into(), json!(original));
                });
            }
            let mut ese = EseSession::new("call", id, phone);
            ese.set("initiator", json!(format!("agent_{agent_id}")));
            self.assign(world, "call", id, agent_id);
            ese.answer(world, agent_id);
            self.finish_call(world, id, Some(agent_id), 90);
            ese.finish(world, Some(("Callback", "Called the customer back")));
            (id, ese.events)
        });
        self.deliver("call", id, events).await
    }

    /// A call shorter than 10 s, then the agent's callback (R-U-6).
    pub async fn short_call_and_callback(&self, agent_id: u64, phone: &str) -> (Played, Played) {
        let (id, events) = self.sandbox.change(|world| {
            self.answered_call(
                world,
                "Voice Inbound (IVR)",
                "ivr_menu",
                Some(phone),
                &format!("phone-{phone}"),
                agent_id,
                6,
            )
        });
        let short = self.deliver("call", id, events).await;
        let callback = self.outbound_call(agent_id, phone, true, Some(id)).await;
        (short, callback)
    }

    /// A web/SDK chat with the given lines (`end_user` or `agent`, text), then its end.
    pub async fn chat_with_transcript(
        &self,
        agent_id: u64,
        identifier: &str,
        lines: &[(&str, &str)],
    ) -> Played {
        let (id, events) = self.sandbox.change(|world| {
            let end_user = world.add_end_user(identifier, None, Some("Chat user"));
            let id = world.new_id();
            let now = world.now();
            let selected = menu(world, "web_menu");
            world.chats.push(json!({
                "id": id, "chat_type": "web", "session_type_v2": "Chat Inbound (Web)", "status": "queued", "lang": "en", "created_at": now, "updated_at": now,
                "assigned_at": null, "ends_at": null, "chat_duration": null, "wait_duration": null, "message_count": 0,
                "rating": null, "has_feedback": false, "transcript": false,
                "menu_path": {"name": selected["name"], "materialized_path": selected["name"]}, "selected_menu": selected,
                "agent_info": null, "end_user": {"id": end_user, "identifier": identifier, "out_contact_id": null},
                "transfers": [], "participants": [], "out_ticket_id": null,
            }));
            let mut ese = EseSession::new("chat", id, &format!("end_user_{end_user}"));
            ese.set("language", json!("en"));
            ese.set("session_type_v2", json!("Chat Inbound (Web)"));
            ese.start_and_route(world, &selected);
            self.assign(world, "chat", id, agent_id);
            ese.answer(world, agent_id);
            let agent_name = world.agent(agent_id).map(|a| a.first_name.clone()).unwrap_or_default();
            let mut messages = Vec::new();
            for (n, (from, text)) in lines.iter().enumerate() {
                let name = if *from == "agent" { agent_name.clone() } else { "Chat user".to_owned() };
                messages.push(json!({"id": n + 1, "from": {"type": from, "name": name}, "sent_at": world.now(), "type": "text", "content": text}));
            }
            let count = messages.len();
            let entries: Vec<Value> = messages
                .iter()
                .map(|m| {
                    let at = m["sent_at"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
                    json!({"timestamp": at.map(|t| t.timestamp()), "role": m["from"]["type"], "type": "text",
                           "body": {"type": "text", "content": m["content"]}, "user_data": {"name": m["from"]["name"]}})
                })
                .collect();
            let assigned_at = world.now();
            world.transcripts.insert(id, json!({"comm_type": "chat", "comm_id": id, "transcript_version": "1.0",
                "assigned_at": assigned_at, "timezone": "America/Los_Angeles", "entries": entries}));
            let end = world.now();
            world.update_session("chat", id, |s| {
                s.insert("status".into(), json!("finished"));
                s.insert("ends_at".into(), json!(end));
                s.insert("chat_duration".into(), json!(240));
                s.insert("wait_duration".into(), json!(8));
                s.insert("message_count".into(), json!(count));
                s.insert("transcript".into(), json!(true));
            });
            world.move_agent(agent_id, "Wrap-up", "platform");
            world.finish_session_for(agent_id);
            ese.finish(world, Some(("Resolved", "Order status given")));
            (id, ese.events)
        });
        self.deliver("chat", id, events).await
    }

    /// A SmartAction during the session, as the metadata file reports it: completed with a
    /// result (a photo received), or failed on the user's side with the error.
    pub fn smart_action(&self, session_id: u64, success: bool) {
        self.sandbox.change(|world| {
            let id = world.new_id();
            if success {
                // The photo the customer shared (a JPEG's first bytes, then filler).
                let kind = if world.call(session_id).is_some() { "call" } else { "chat" };
                let mut photo = vec![0xFF, 0xD8, 0xFF, 0xE0];
                photo.extend((0..20_000u32).map(|n| (n % 251) as u8));
                world
                    .media
                    .insert(format!("{kind}-{session_id}-photo-{id}.jpg"), photo);
            }
            let action = if success {
                json!({"id": id, "type": "photo", "status": "completed", "result": "Photo received"})
            } else {
                json!({"id": id, "type": "verification", "status": "failed",
                       "error": "Fingerprint access is not enabled on this device"})
            };
            world.smart_actions.entry(session_id).or_default().push(action);
        });
    }

    /// The SDK's custom data for a session (`{key: {value, type, label}}`, ccai-api.md §4),
    /// shown on the session object, in its metadata file, or both
    /// ([`super::CustomDataIn`]).
    pub fn sdk_custom_data(&self, kind: &'static str, session_id: u64, data: Value) {
        let place = self.sandbox.shared.options().custom_data_in;
        self.sandbox.change(|world| {
            if place != super::CustomDataIn::MetadataFile {
                world.update_session(kind, session_id, |s| {
                    s.insert("custom_data".into(), data.clone());
                });
            }
            if place != super::CustomDataIn::Session {
                world.custom_data.insert(session_id, data.clone());
            }
        });
    }

    /// The e-mail an In-Web end user gave (`end_user.email` on the session object and so in
    /// its metadata file; not a documented field, L).
    pub fn inweb_email(&self, kind: &'static str, session_id: u64, email: &str) {
        self.sandbox.change(|world| {
            world.update_session(kind, session_id, |s| {
                if let Some(Value::Object(user)) = s.get_mut("end_user") {
                    user.insert("email".into(), json!(email));
                }
            });
        });
    }

    /// The end user rates the session after it ended: the Manager API object gets `rating`
    /// (text on calls, a number on chats: both occur) and `has_feedback`. The platform sends no
    /// ESE event after Final, so the poller (or the metadata file) brings it.
    pub fn csat(&self, kind: &'static str, session_id: u64, rating: u8, comment: Option<&str>) {
        self.sandbox.change(|world| {
            if let Some(comment) = comment {
                world.csat_comments.insert(session_id, comment.to_owned());
            }
            world.update_session(kind, session_id, |s| {
                s.insert(
                    "rating".into(),
                    if kind == "call" {
                        json!(rating.to_string())
                    } else {
                        json!(rating)
                    },
                );
                s.insert("has_feedback".into(), json!(comment.is_some()));
            });
        });
    }
}
