//! The scenario driver: plays sessions on the sandbox (updating its state the way the platform
//! would) and sends the matching signed session events (events.md §1) to a configured URL,
//! with switches for duplicate delivery, reordering and dropped events.

use super::CcaiSandbox;
use super::state::CcaiWorld;
use bridge_shared::signature::session_signature_header;
use serde_json::{Map, Value, json};

/// Where events go and how they are signed.
#[derive(Clone)]
pub struct EventSink {
    pub url: String,
    pub primary: String,
    pub secondary: Option<String>,
    http: reqwest::Client,
}

impl EventSink {
    pub fn new(url: &str, primary: &str, secondary: Option<&str>) -> Self {
        Self {
            url: url.into(),
            primary: primary.into(),
            secondary: secondary.map(str::to_owned),
            http: reqwest::Client::new(),
        }
    }

    /// Signs and posts one body; the HTTP status, or `None` when the request failed.
    pub async fn send(&self, body: &str) -> Option<u16> {
        let timestamp = chrono::Utc::now().timestamp();
        let signature = session_signature_header(
            timestamp,
            body.as_bytes(),
            &self.primary,
            self.secondary.as_deref(),
        );
        let answer = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-signature", signature)
            .header("x-signature-timestamp", timestamp.to_string())
            .body(body.to_owned())
            .send()
            .await;
        answer.ok().map(|r| r.status().as_u16())
    }
}

/// How events are delivered.
#[derive(Clone, Debug, Default)]
pub struct Delivery {
    /// Every event is sent twice.
    pub duplicate: bool,
    /// A session's events are sent last to first.
    pub reverse: bool,
    /// Events of these types are not sent at all (the poller has to find the change).
    pub drop_types: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct SentEvent {
    pub id: String,
    pub event_type: String,
    pub body: Value,
    /// The status of each send (empty when dropped, two entries when duplicated).
    pub deliveries: Vec<Option<u16>>,
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
        self.events.iter().map(|e| e.event_type.as_str()).collect()
    }
}

pub struct ScenarioDriver<'a> {
    sandbox: &'a CcaiSandbox,
    sink: Option<EventSink>,
    pub delivery: Delivery,
    /// Size of the recordings the calls leave.
    pub recording_size: u64,
}

fn event(
    world: &mut CcaiWorld,
    event_type: &str,
    kind: &str,
    id: u64,
    data: Option<Value>,
) -> SentEvent {
    let mut body = json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "type": event_type,
        "occurred_at": world.now(),
        "session": {"kind": kind, "id": id},
    });
    if let Some(data) = data {
        body["data"] = data;
    }
    SentEvent {
        id: body["id"].as_str().unwrap_or_default().to_owned(),
        event_type: event_type.into(),
        body,
        deliveries: Vec::new(),
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
        }
    }

    async fn deliver(
        &self,
        kind: &'static str,
        session_id: u64,
        mut events: Vec<SentEvent>,
    ) -> Played {
        let mut order: Vec<usize> = (0..events.len()).collect();
        if self.delivery.reverse {
            order.reverse();
        }
        if let Some(sink) = &self.sink {
            for index in order {
                let event = &mut events[index];
                if self.delivery.drop_types.contains(&event.event_type) {
                    continue;
                }
                let body = event.body.to_string();
                let copies = if self.delivery.duplicate { 2 } else { 1 };
                for _ in 0..copies {
                    event.deliveries.push(sink.send(&body).await);
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
        let now = world.now();
        let participants = match phone {
            Some(phone) if phone_on_participant => {
                json!([{"type": "end_user", "phone_number": phone}])
            }
            _ => json!([]),
        };
        let selected = menu(world, menu_type);
        world.calls.push(json!({
            "id": id, "call_uuid": format!("uuid-{id}"), "call_type": call_type, "status": "selecting", "lang": "en",
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
            world.finish_session_for(agent);
        }
    }

    /// An IVR call answered by an agent: created, assigned, ended with a recording.
    pub async fn ivr_call_answered(&self, agent_id: u64, phone: &str) -> Played {
        let (id, events) = self.sandbox.change(|world| {
            let id = self.new_call(
                world,
                "Voice Inbound (IVR)",
                "ivr_menu",
                Some(phone),
                &format!("phone-{phone}"),
            );
            let mut events = vec![event(world, "call.created", "call", id, None)];
            self.assign(world, "call", id, agent_id);
            events.push(event(world, "call.assigned", "call", id, None));
            self.finish_call(world, id, Some(agent_id), 125);
            events.push(event(world, "call.ended", "call", id, None));
            (id, events)
        });
        self.deliver("call", id, events).await
    }

    /// A mobile-SDK call from an app user (identified, no phone number needed).
    pub async fn sdk_call(&self, agent_id: u64, identifier: &str) -> Played {
        let (id, events) = self.sandbox.change(|world| {
            let id = self.new_call(
                world,
                "Voice Inbound (App)",
                "mobile_menu",
                None,
                identifier,
            );
            let mut events = vec![event(world, "call.created", "call", id, None)];
            self.assign(world, "call", id, agent_id);
            events.push(event(world, "call.assigned", "call", id, None));
            self.finish_call(world, id, Some(agent_id), 60);
            events.push(event(world, "call.ended", "call", id, None));
            (id, events)
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
            let mut events = vec![event(world, "call.created", "call", id, None)];
            let now = world.now();
            world.update_session("call", id, |s| {
                s.insert("status".into(), json!("failed"));
                s.insert("fail_reason".into(), json!("abandoned"));
                s.insert("queued_at".into(), json!(now));
                s.insert("ends_at".into(), json!(now));
                s.insert("queue_duration".into(), json!(40));
            });
            events.push(event(world, "call.ended", "call", id, None));
            (id, events)
        });
        self.deliver("call", id, events).await
    }

    /// A voicemail, then optionally an agent's action on it (`read`, `closed`, `called_back`).
    pub async fn voicemail(&self, phone: &str, action: Option<&str>) -> Played {
        let (id, events) = self.sandbox.change(|world| {
            let id = self.new_call(
                world,
                "Voice Inbound (IVR)",
                "ivr_menu",
                Some(phone),
                &format!("phone-{phone}"),
            );
            let mut events = vec![event(world, "call.created", "call", id, None)];
            world.recordings.insert(id, self.recording_size / 4);
            let url = format!("{}/recordings/call-{id}.mp3", self.sandbox.base_url);
            world.update_session("call", id, |s| {
                s.insert("status".into(), json!("voicemail_received"));
                s.insert("recording_url".into(), json!(url));
                s.insert("call_duration".into(), json!(30));
            });
            events.push(event(world, "call.voicemail", "call", id, None));
            if let Some(action) = action {
                world.update_session("call", id, |s| {
                    s.insert("status".into(), json!("voicemail_read"));
                });
                events.push(event(
                    world,
                    "voicemail.updated",
                    "call",
                    id,
                    Some(json!({"action": action})),
                ));
            }
            (id, events)
        });
        self.deliver("call", id, events).await
    }

    /// Answered by one agent, transferred to another, ended.
    pub async fn transfer(&self, from_agent: u64, to_agent: u64, phone: &str) -> Played {
        let (id, events) = self.sandbox.change(|world| {
            let id = self.new_call(world, "Voice Inbound (IVR)", "ivr_menu", Some(phone), &format!("phone-{phone}"));
            let mut events = vec![event(world, "call.created", "call", id, None)];
            self.assign(world, "call", id, from_agent);
            events.push(event(world, "call.assigned", "call", id, None));
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
            events.push(event(world, "call.transferred", "call", id, Some(json!({"transfer_id": transfer_id}))));
            self.finish_call(world, id, Some(to_agent), 300);
            events.push(event(world, "call.ended", "call", id, None));
            (id, events)
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
        let (id, events) = self.sandbox.change(|world| {
            let id = self.new_call(
                world,
                "Voice Outbound (API)",
                "ivr_menu",
                Some(phone),
                &format!("phone-{phone}"),
            );
            let mut data = Map::new();
            data.insert("callback".into(), json!(callback));
            if let Some(previous) = previous_call_id {
                data.insert("previous_call_id".into(), json!(previous));
            }
            self.assign(world, "call", id, agent_id);
            let mut events = vec![event(
                world,
                "call.outbound",
                "call",
                id,
                Some(Value::Object(data)),
            )];
            self.finish_call(world, id, Some(agent_id), 90);
            events.push(event(world, "call.ended", "call", id, None));
            (id, events)
        });
        self.deliver("call", id, events).await
    }

    /// A call shorter than 10 s, then the agent's callback (R-U-6).
    pub async fn short_call_and_callback(&self, agent_id: u64, phone: &str) -> (Played, Played) {
        let (id, events) = self.sandbox.change(|world| {
            let id = self.new_call(
                world,
                "Voice Inbound (IVR)",
                "ivr_menu",
                Some(phone),
                &format!("phone-{phone}"),
            );
            let mut events = vec![event(world, "call.created", "call", id, None)];
            self.assign(world, "call", id, agent_id);
            events.push(event(world, "call.assigned", "call", id, None));
            self.finish_call(world, id, Some(agent_id), 6);
            events.push(event(world, "call.ended", "call", id, None));
            (id, events)
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
                "id": id, "chat_type": "web", "status": "queued", "lang": "en", "created_at": now, "updated_at": now,
                "assigned_at": null, "ends_at": null, "chat_duration": null, "wait_duration": null, "message_count": 0,
                "rating": null, "has_feedback": false, "transcript": false,
                "menu_path": {"name": selected["name"], "materialized_path": selected["name"]}, "selected_menu": selected,
                "agent_info": null, "end_user": {"id": end_user, "identifier": identifier, "out_contact_id": null},
                "transfers": [], "participants": [], "out_ticket_id": null,
            }));
            let mut events = vec![event(world, "chat.created", "chat", id, None)];
            self.assign(world, "chat", id, agent_id);
            events.push(event(world, "chat.assigned", "chat", id, None));
            let agent_name = world.agent(agent_id).map(|a| a.first_name.clone()).unwrap_or_default();
            let mut messages = Vec::new();
            for (n, (from, text)) in lines.iter().enumerate() {
                let name = if *from == "agent" { agent_name.clone() } else { "Chat user".to_owned() };
                messages.push(json!({"id": n + 1, "from": {"type": from, "name": name}, "sent_at": world.now(), "type": "text", "content": text}));
            }
            let count = messages.len();
            world.chat_messages.insert(id, messages);
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
            events.push(event(world, "chat.ended", "chat", id, None));
            (id, events)
        });
        self.deliver("chat", id, events).await
    }

    /// A SmartAction on a session: completed with a result and a shared file, or failed on the
    /// user's side with an error message.
    pub async fn smart_action(&self, kind: &'static str, session_id: u64, success: bool) -> Played {
        let base = self.sandbox.base_url.clone();
        let events = self.sandbox.change(|world| {
            let data = if success {
                json!({"action_type": "photo", "result": "Photo received", "files": [{"name": "receipt.jpg", "url": format!("{base}/files/receipt.jpg"), "content_type": "image/jpeg"}]})
            } else {
                json!({"action_type": "verification", "error": "Fingerprint access is not enabled on this device"})
            };
            let event_type = if success { "smart_action.completed" } else { "smart_action.failed" };
            vec![event(world, event_type, kind, session_id, Some(data))]
        });
        self.deliver(kind, session_id, events).await
    }

    /// The end user rates the session. The platform sends `rating` as text on calls (it is
    /// documented as number or string).
    pub async fn csat(
        &self,
        kind: &'static str,
        session_id: u64,
        rating: u8,
        comment: Option<&str>,
    ) -> Played {
        let events = self.sandbox.change(|world| {
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
            vec![event(
                world,
                "csat.submitted",
                kind,
                session_id,
                Some(json!({"rating": rating, "comment": comment})),
            )]
        });
        self.deliver(kind, session_id, events).await
    }

    /// SDK custom data for a session (`{key: {value, type, label}}`).
    pub async fn custom_data(&self, kind: &'static str, session_id: u64, custom: Value) -> Played {
        let events = self.sandbox.change(|world| {
            vec![event(
                world,
                "custom_data.received",
                kind,
                session_id,
                Some(json!({"custom_data": custom})),
            )]
        });
        self.deliver(kind, session_id, events).await
    }
}
