//! The rig the sync worker's end-to-end tests share: both sandboxes, the worker's API on a
//! store, and ways to deliver a played session as the intake stores it.

#![allow(dead_code)] // each test binary uses its own part of it

use bridge_shared::UnixMillis;
use bridge_shared::events::{SessionKind, SessionRef, SessionTrigger, TriggerSource};
use bridge_shared::kustomer::requests::ConversationPatch;
use bridge_shared::store::{EmbeddedStore, StateStore};
use bridge_sync::{SyncApi, handle};
use bridge_tests::ccai_sandbox::{CcaiSandboxOptions, Played};
use bridge_tests::kustomer_sandbox::SandboxOptions;
use bridge_tests::kustomer_sandbox::state::Record;
use bridge_tests::platforms::SandboxedPlatforms;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Rig {
    pub platforms: SandboxedPlatforms,
    pub api: SyncApi,
    pub sequence: AtomicU64,
}

pub async fn rig_on(store: Arc<dyn StateStore>) -> Rig {
    rig_with(store, CcaiSandboxOptions::default()).await
}

pub async fn rig_with(store: Arc<dyn StateStore>, options: CcaiSandboxOptions) -> Rig {
    rig_both(store, options, SandboxOptions::default()).await
}

/// With both sandboxes' switches set.
pub async fn rig_both(
    store: Arc<dyn StateStore>,
    options: CcaiSandboxOptions,
    kustomer: SandboxOptions,
) -> Rig {
    let platforms = SandboxedPlatforms::start_both(options, kustomer)
        .await
        .unwrap();
    let api = SyncApi {
        storage: Some(platforms.storage.clone()),
        status: platforms.status_service(store.clone()),
        store,
        ccai: platforms.ccai_client.clone(),
        kustomer: platforms.kustomer_client.clone(),
        caller_country: Default::default(),
        exported: Default::default(),
        failures: Default::default(),
        file_work: None,
    };
    Rig {
        platforms,
        api,
        sequence: AtomicU64::new(1),
    }
}

pub async fn rig() -> Rig {
    rig_on(Arc::new(EmbeddedStore::new())).await
}

impl Rig {
    /// The rig's worker with clients that only read, as `BRIDGE_MODE=shadow` builds them.
    pub fn shadow_api(&self) -> SyncApi {
        use bridge_shared::status::sync::{DEFAULT_LEASE, StatusService};
        let ccai =
            Arc::new(bridge_tests::ccai_support::client(&self.platforms.ccai).reading_only());
        let kustomer = Arc::new(
            bridge_tests::kustomer_support::client(&self.platforms.kustomer).reading_only(),
        );
        SyncApi {
            storage: Some(self.platforms.storage.clone()),
            status: StatusService::new(
                self.api.store.clone(),
                ccai.clone(),
                kustomer.clone(),
                DEFAULT_LEASE,
            ),
            store: self.api.store.clone(),
            ccai,
            kustomer,
            caller_country: Default::default(),
            exported: Default::default(),
            failures: Default::default(),
            file_work: None,
        }
    }

    pub fn agent(&self, name: &str) -> (u64, String) {
        let email = format!("{}@example.com", bridge_tests::unique(name));
        let id = self.platforms.add_agent(&email, name, "Available");
        let user = self
            .platforms
            .kustomer
            .inspect(|w| w.find_by("user", "email", &email).map(|u| u.id.clone()))
            .unwrap();
        (id, user)
    }

    /// Delivers the played events, as the intake stored them, in one stream batch each.
    pub async fn deliver(&self, played: &Played) {
        let bodies: Vec<Value> = played.events.iter().map(|e| e.body.clone()).collect();
        self.deliver_bodies(&bodies).await;
    }

    /// Delivers the played events again and again, as Lambda retries a batch whose records
    /// failed, until none fails (at most `passes` times); answers how many passes failed.
    pub async fn deliver_until_done(&self, played: &Played, passes: usize) -> usize {
        let bodies: Vec<Value> = played.events.iter().map(|e| e.body.clone()).collect();
        for failed in 0..passes {
            if self.try_deliver_bodies(&bodies).await == 0 {
                return failed;
            }
        }
        panic!("still failing after {passes} passes");
    }

    /// One stream batch of these stored events; answers how many records failed.
    pub async fn try_deliver_bodies(&self, bodies: &[Value]) -> usize {
        let now = UnixMillis::now();
        let items: Vec<_> = bodies
            .iter()
            .map(|b| {
                let trigger = bridge_shared::ese::parse_event(b).unwrap().trigger();
                bridge_intake::inbox_item(&trigger, now).unwrap()
            })
            .collect();
        let first = self
            .sequence
            .fetch_add(items.len() as u64, Ordering::SeqCst);
        let batch = bridge_tests::stream_support::inserts(&items, first);
        let response = handle(&self.api, batch, now).await.unwrap();
        response.batch_item_failures.len()
    }

    /// Delivers one poller trigger for the session ("it may have changed", no ESE item).
    pub async fn deliver_poll(&self, played: &Played) {
        let kind = if played.kind == "call" {
            SessionKind::Call
        } else {
            SessionKind::Chat
        };
        let trigger = SessionTrigger {
            id: bridge_tests::unique("poll"),
            hint: format!("{}.ended", played.kind),
            occurred_at: chrono::Utc::now(),
            session: SessionRef {
                kind,
                id: played.session_id,
            },
            source: TriggerSource::Poller,
            item: None,
            object: None,
        };
        self.deliver_triggers_to(&self.api, &[trigger]).await;
    }

    /// One stream batch of these triggers, as the intake or the scheduled run stores them, to
    /// `api` (this rig's worker, or one built otherwise); no record may fail.
    pub async fn deliver_triggers_to(&self, api: &SyncApi, triggers: &[SessionTrigger]) {
        let now = UnixMillis::now();
        let items: Vec<_> = triggers
            .iter()
            .map(|t| bridge_intake::inbox_item(t, now).unwrap())
            .collect();
        let first = self
            .sequence
            .fetch_add(items.len() as u64, Ordering::SeqCst);
        let batch = bridge_tests::stream_support::inserts(&items, first);
        let response = handle(api, batch, now).await.unwrap();
        assert!(response.batch_item_failures.is_empty(), "failed records");
    }

    pub async fn deliver_bodies(&self, bodies: &[Value]) {
        let failed = self.try_deliver_bodies(bodies).await;
        assert_eq!(failed, 0, "failed records");
    }

    /// What `GET /admin/sessions/call/{id}` shows for the played call (finding 13).
    pub async fn report(&self, played: &Played) -> Value {
        let session = SessionRef {
            kind: SessionKind::Call,
            id: played.session_id,
        };
        bridge_shared::conversation::report::session_report(
            self.api.store.as_ref(),
            &session,
            UnixMillis::now(),
        )
        .await
        .unwrap()
        .expect("the bridge knows the session")
    }

    pub fn conversations(&self) -> Vec<Record> {
        self.platforms.kustomer.inspect(|w| w.conversations.clone())
    }

    pub fn conversation_of(&self, played: &Played) -> Record {
        let external = format!("ccai-{}-{}", played.kind, played.session_id);
        self.platforms
            .kustomer
            .inspect(|w| w.find_by("conversation", "externalId", &external).cloned())
            .unwrap_or_else(|| panic!("no conversation {external}"))
    }

    pub fn customers_with_phone(&self, phone: &str) -> Vec<Record> {
        self.platforms.kustomer.inspect(|w| {
            w.customers
                .iter()
                .filter(|c| {
                    c.attributes
                        .get("phones")
                        .is_some_and(|p| p.to_string().contains(phone))
                })
                .cloned()
                .collect()
        })
    }

    /// The caller's-number notes (R-D-2) of a conversation.
    pub fn phone_notes_on(&self, conversation: &str) -> Vec<Record> {
        self.notes_on(conversation)
            .into_iter()
            .filter(|n| {
                n.text("body")
                    .is_some_and(|b| b.starts_with("Caller's phone number"))
            })
            .collect()
    }

    pub fn notes_on(&self, conversation: &str) -> Vec<Record> {
        self.platforms.kustomer.inspect(|w| {
            w.notes
                .iter()
                .filter(|n| n.related("conversation") == Some(conversation))
                .cloned()
                .collect()
        })
    }

    pub fn messages_on(&self, conversation: &str) -> Vec<Record> {
        self.platforms.kustomer.inspect(|w| {
            w.messages
                .iter()
                .filter(|m| m.related("conversation") == Some(conversation))
                .cloned()
                .collect()
        })
    }

    pub fn writes(&self) -> usize {
        ["POST", "PATCH", "PUT"]
            .iter()
            .map(|m| self.platforms.kustomer.requests_to(m, "/v1/"))
            .sum()
    }

    /// An agent closes the conversation in Kustomer.
    pub async fn close(&self, conversation: &str) {
        self.platforms
            .kustomer_client
            .patch_conversation(
                conversation,
                &ConversationPatch {
                    status: Some("done".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
}
