//! Kustomer's answers, parsed leniently: JSON:API documents whose unknown keys are ignored and
//! whose missing optional fields are `None` or empty. Requests are plain JSON (see
//! [`super::requests`]).

use serde::Deserialize;
use serde_json::{Map, Value};

/// `{"data": …, "meta": …, "links": …}`.
#[derive(Clone, Debug, Deserialize)]
pub struct Document<T> {
    pub data: T,
    #[serde(default)]
    pub meta: Value,
    #[serde(default)]
    pub links: Links,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Links {
    #[serde(default)]
    pub next: Option<String>,
}

/// One JSON:API resource.
#[derive(Clone, Debug, Deserialize)]
pub struct Resource<A> {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    pub attributes: A,
    #[serde(default)]
    pub relationships: Value,
}

impl<A> Resource<A> {
    /// The id of a to-one relationship (`relationships.<name>.data.id`).
    pub fn related_id(&self, name: &str) -> Option<&str> {
        self.relationships
            .get(name)?
            .get("data")?
            .get("id")?
            .as_str()
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct EmailEntry {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    pub email: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct PhoneEntry {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    pub phone: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CustomerAttributes {
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    pub emails: Vec<EmailEntry>,
    pub phones: Vec<PhoneEntry>,
    pub custom: Map<String, Value>,
    pub locale: Option<String>,
    pub created_at: Option<String>,
}

pub type Customer = Resource<CustomerAttributes>;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConversationAttributes {
    pub name: Option<String>,
    pub status: Option<String>,
    pub external_id: Option<String>,
    pub assigned_users: Vec<String>,
    pub assigned_teams: Vec<String>,
    pub tags: Vec<String>,
    pub custom: Map<String, Value>,
    pub direction: Option<String>,
    pub channels: Vec<String>,
    pub priority: Option<i64>,
    pub rev: Option<i64>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

pub type Conversation = Resource<ConversationAttributes>;

impl Conversation {
    pub fn customer_id(&self) -> Option<&str> {
        self.related_id("customer")
    }

    pub fn is_open(&self) -> bool {
        self.attributes.status.as_deref() == Some("open")
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageAttributes {
    pub channel: Option<String>,
    pub app: Option<String>,
    pub direction: Option<String>,
    pub preview: Option<String>,
    pub meta: Map<String, Value>,
    pub external_id: Option<String>,
    pub created_at: Option<String>,
    pub attachments: Vec<Value>,
    pub custom: Map<String, Value>,
}

pub type Message = Resource<MessageAttributes>;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NoteAttributes {
    pub body: Option<String>,
    pub external_id: Option<String>,
    pub created_at: Option<String>,
    pub attachments: Vec<Value>,
}

pub type Note = Resource<NoteAttributes>;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AttachmentAttributes {
    pub name: Option<String>,
    pub content_type: Option<String>,
    pub content_length: Option<u64>,
    pub uploaded: Option<bool>,
}

pub type Attachment = Resource<AttachmentAttributes>;

/// `meta.upload` of a created attachment: an S3 presigned POST.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct UploadTarget {
    pub url: String,
    #[serde(default)]
    pub fields: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserAttributes {
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub user_type: Option<String>,
}

pub type User = Resource<UserAttributes>;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TeamAttributes {
    pub name: Option<String>,
    pub display_name: Option<String>,
}

pub type Team = Resource<TeamAttributes>;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RoutingStatusAttributes {
    pub name: Option<String>,
    /// `available`, `busy`, `unavailable` or `offline`; other values are kept as text.
    pub status_type: Option<String>,
    /// Kustomer's own built-in statuses.
    pub system: Option<bool>,
}

pub type RoutingStatus = Resource<RoutingStatusAttributes>;

/// One agent's routing shift (type `work_session`; kustomer-api.md, revised): records carry no
/// `active` attribute — a session is active while `signedOutAt` is absent — and the current
/// status is `relationships.status.data.id`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkSessionAttributes {
    pub routable: Option<bool>,
    pub signed_in_at: Option<String>,
    pub signed_out_at: Option<String>,
    pub status_type: Option<String>,
    pub updated_at: Option<String>,
    pub rev: Option<u64>,
}

pub type WorkSession = Resource<WorkSessionAttributes>;

impl WorkSession {
    pub fn is_active(&self) -> bool {
        self.attributes.signed_out_at.is_none()
    }

    /// The agent's current routing status id.
    pub fn status_id(&self) -> Option<&str> {
        self.related_id("status")
    }

    pub fn user_id(&self) -> Option<&str> {
        self.related_id("user")
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OutboundWebhookAttributes {
    pub name: Option<String>,
    pub url: Option<String>,
    pub events: Vec<String>,
    /// The signing token, given in the creation answer.
    pub token: Option<String>,
    pub enabled: Option<bool>,
}

pub type OutboundWebhook = Resource<OutboundWebhookAttributes>;

/// The custom attribute definitions of one resource type (`conversation`, `customer`,
/// `message`, `company`): property name → definition (`displayName`, …).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    pub properties: Map<String, Value>,
}

impl Metadata {
    /// Finds the properties wherever the answer keeps them: `data.attributes.properties`,
    /// `data.properties` or top-level `properties` (the shape is M/L in the spec).
    pub fn from_answer(answer: &Value) -> Option<Self> {
        let data = answer.get("data").unwrap_or(answer);
        let data = match data {
            Value::Array(items) => items.first()?,
            other => other,
        };
        let properties = data
            .get("attributes")
            .and_then(|a| a.get("properties"))
            .or_else(|| data.get("properties"))
            .or_else(|| answer.get("properties"))?;
        Some(Self {
            properties: properties.as_object()?.clone(),
        })
    }
}
