//! The kinds of document the platforms send or answer, and for each what the bridge's model
//! reads and what it expects to come (issue 28, R-F). For documents the bridge decodes into a
//! serde struct, what it reads is the struct's own field list, asked of serde (so it cannot
//! drift from the model); for those it reads key by key, the keys are listed here beside the
//! functions that read them.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocumentKind {
    /// `POST /webhooks/ccai`: `{count, events}`.
    EseBatch,
    EseEvent,
    EseItem,
    EseParticipant,
    CcaiCall,
    CcaiChat,
    CcaiAgent,
    CcaiUserStatus,
    MetadataFile,
    Transcript,
    PubSubEnvelope,
    KustomerCustomer,
    KustomerConversation,
    KustomerUser,
    KustomerWorkSession,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 15] = [
        DocumentKind::EseBatch,
        DocumentKind::EseEvent,
        DocumentKind::EseItem,
        DocumentKind::EseParticipant,
        DocumentKind::CcaiCall,
        DocumentKind::CcaiChat,
        DocumentKind::CcaiAgent,
        DocumentKind::CcaiUserStatus,
        DocumentKind::MetadataFile,
        DocumentKind::Transcript,
        DocumentKind::PubSubEnvelope,
        DocumentKind::KustomerCustomer,
        DocumentKind::KustomerConversation,
        DocumentKind::KustomerUser,
        DocumentKind::KustomerWorkSession,
    ];

    /// The kind's name in the table and on `GET /admin/shapes`.
    pub fn name(self) -> &'static str {
        match self {
            DocumentKind::EseBatch => "ese.batch",
            DocumentKind::EseEvent => "ese.event",
            DocumentKind::EseItem => "ese.item",
            DocumentKind::EseParticipant => "ese.participant",
            DocumentKind::CcaiCall => "ccai.call",
            DocumentKind::CcaiChat => "ccai.chat",
            DocumentKind::CcaiAgent => "ccai.agent",
            DocumentKind::CcaiUserStatus => "ccai.user_status",
            DocumentKind::MetadataFile => "storage.metadata_file",
            DocumentKind::Transcript => "storage.transcript",
            DocumentKind::PubSubEnvelope => "pubsub.envelope",
            DocumentKind::KustomerCustomer => "kustomer.customer",
            DocumentKind::KustomerConversation => "kustomer.conversation",
            DocumentKind::KustomerUser => "kustomer.user",
            DocumentKind::KustomerWorkSession => "kustomer.work_session",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Top-level keys recorded only with their type: they are documents of their own kind.
    pub fn own_kinds(self) -> &'static [&'static str] {
        match self {
            DocumentKind::EseBatch => &["events"],
            DocumentKind::EseEvent => &["item"],
            DocumentKind::EseItem => &["participants"],
            _ => &[],
        }
    }

    /// Free-form maps of the kind (a tenant's custom data): their keys are data, kept as `*`.
    pub fn opaque(self) -> &'static [&'static str] {
        match self {
            DocumentKind::CcaiCall | DocumentKind::CcaiChat => &["custom_data"],
            DocumentKind::MetadataFile => &["custom_data", "customData"],
            DocumentKind::KustomerCustomer | DocumentKind::KustomerConversation => {
                &["attributes.custom"]
            }
            _ => &[],
        }
    }

    pub fn walk(self) -> super::shape::Walk<'static> {
        super::shape::Walk {
            skip: self.own_kinds(),
            opaque: self.opaque(),
        }
    }

    /// The paths the bridge's model reads. A path covers everything under it (`custom_data`
    /// covers `custom_data.*`): nested keys of a part the model reads are not flagged.
    pub fn reads(self) -> Vec<String> {
        let listed: &[&str] = match self {
            DocumentKind::EseBatch => &["count", "events"],
            DocumentKind::EseEvent => &["event_id", "timestamp", "item"],
            // shared/src/ese/item.rs and ese/mod.rs read these, key by key.
            DocumentKind::EseItem => &[
                "call_id",
                "chat_id",
                "call_type",
                "session_type_v2",
                "state",
                "connected_at",
                "ends_at",
                "lang",
                "language",
                "queue_path_names",
                "initiator",
                "dispositions",
                "participants",
            ],
            DocumentKind::EseParticipant => &[
                "type", "state", "dn", "id", "agent_id", "user_id", "name", "email",
            ],
            // shared/src/storage/metadata.rs reads these, trying each spelling (L).
            DocumentKind::MetadataFile => &[
                "id",
                "call_id",
                "chat_id",
                "comm_id",
                "call_type",
                "chat_type",
                "session_type_v2",
                "email",
                "call_duration",
                "chat_duration",
                "queue_duration",
                "wait_duration",
                "hold_duration",
                "menu_path",
                "selected_menu",
                "custom_data",
                "customData",
                "participants",
                "agent_info",
                "end_user",
                "end_user_email",
                "csat",
                "feedback",
                "csat_comment",
                "feedback_comment",
                "comment",
                "rating",
                "smart_actions",
                "smartActions",
                "smart_action_results",
                "dispositions",
                "disposition",
            ],
            // shared/src/conversation/transcript_file.rs.
            DocumentKind::Transcript => &["entries", "timezone", "comm_id", "transcript_version"],
            // shared/src/storage/push.rs.
            DocumentKind::PubSubEnvelope => &[
                "message.attributes.bucketId",
                "message.attributes.objectId",
                "message.attributes.objectGeneration",
                "message.attributes.eventType",
            ],
            DocumentKind::CcaiCall => return fields::<crate::ccai::model::Call>(""),
            DocumentKind::CcaiChat => return fields::<crate::ccai::model::Chat>(""),
            DocumentKind::CcaiAgent => return fields::<crate::ccai::model::Agent>(""),
            DocumentKind::CcaiUserStatus => {
                return fields::<crate::ccai::model::UserStatus>("");
            }
            DocumentKind::KustomerCustomer => {
                return resource::<crate::kustomer::model::CustomerAttributes>();
            }
            DocumentKind::KustomerConversation => {
                return resource::<crate::kustomer::model::ConversationAttributes>();
            }
            DocumentKind::KustomerUser => {
                return resource::<crate::kustomer::model::UserAttributes>();
            }
            DocumentKind::KustomerWorkSession => {
                return resource::<crate::kustomer::model::WorkSessionAttributes>();
            }
        };
        listed.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The paths the bridge relies on finding in every document of the kind: one missing from
    /// some is flagged with how many.
    pub fn expects(self) -> &'static [&'static str] {
        match self {
            DocumentKind::EseBatch => &["events"],
            DocumentKind::EseEvent => &["event_id", "timestamp", "item"],
            DocumentKind::EseItem => &["state", "participants"],
            DocumentKind::EseParticipant => &["type"],
            DocumentKind::CcaiCall | DocumentKind::CcaiChat => &["id", "status", "updated_at"],
            DocumentKind::CcaiAgent => &["id", "email", "status"],
            DocumentKind::CcaiUserStatus => &["id", "name"],
            DocumentKind::MetadataFile => &[],
            DocumentKind::Transcript => &["entries"],
            DocumentKind::PubSubEnvelope => &[
                "message.attributes.bucketId",
                "message.attributes.objectId",
                "message.attributes.objectGeneration",
                "message.attributes.eventType",
            ],
            DocumentKind::KustomerCustomer
            | DocumentKind::KustomerConversation
            | DocumentKind::KustomerUser
            | DocumentKind::KustomerWorkSession => &["id", "attributes"],
        }
    }
}

/// A Kustomer JSON:API resource: `id`, `type`, the attributes' struct fields, `relationships`.
fn resource<'de, A: Deserialize<'de>>() -> Vec<String> {
    let mut reads = vec![
        "id".to_owned(),
        "type".to_owned(),
        "relationships".to_owned(),
    ];
    reads.extend(fields::<A>("attributes."));
    reads
}

/// The field names serde's derive gives `T` (its own names, after renames), each prefixed.
pub fn fields<'de, T: Deserialize<'de>>(prefix: &str) -> Vec<String> {
    let mut caught: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldCatcher(&mut caught));
    caught.iter().map(|f| format!("{prefix}{f}")).collect()
}

/// A deserializer that only learns which fields a struct asks for, then stops.
struct FieldCatcher<'a>(&'a mut &'static [&'static str]);

#[derive(Debug)]
struct Caught;

impl fmt::Display for Caught {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fields caught")
    }
}

impl std::error::Error for Caught {}

impl de::Error for Caught {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Caught
    }
}

impl<'de> Deserializer<'de> for FieldCatcher<'_> {
    type Error = Caught;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Caught> {
        Err(Caught)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Caught> {
        *self.0 = fields;
        Err(Caught)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_models_fields_are_asked_of_serde() {
        let call = DocumentKind::CcaiCall.reads();
        for field in ["id", "status", "updated_at", "custom_data", "participants"] {
            assert!(call.iter().any(|f| f == field), "{field} in {call:?}");
        }
        let customer = DocumentKind::KustomerCustomer.reads();
        assert!(
            customer.iter().any(|f| f == "attributes.phones"),
            "{customer:?}"
        );
        // A model whose fields serde would not tell (flatten, a hand-written Deserialize)
        // would read as nothing, and every key of its documents be flagged: each tells.
        for fields in [
            fields::<crate::ccai::model::Call>(""),
            fields::<crate::ccai::model::Chat>(""),
            fields::<crate::ccai::model::Agent>(""),
            fields::<crate::ccai::model::UserStatus>(""),
            fields::<crate::kustomer::model::CustomerAttributes>(""),
            fields::<crate::kustomer::model::ConversationAttributes>(""),
            fields::<crate::kustomer::model::UserAttributes>(""),
            fields::<crate::kustomer::model::WorkSessionAttributes>(""),
        ] {
            assert!(!fields.is_empty());
        }
        for kind in DocumentKind::ALL {
            assert!(!kind.reads().is_empty(), "{}", kind.name());
            assert_eq!(DocumentKind::from_name(kind.name()), Some(kind));
        }
    }
}
