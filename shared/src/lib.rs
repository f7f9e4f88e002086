//! The common crate of ccai-kustomer-bridge: typed configuration, telemetry, and the ports and
//! adapters every function stands on.
//!
//! - [`config`]: configuration read once at cold start ([`config::BridgeConfig`]).
//! - [`telemetry`] and [`redact`]: JSON logs with a correlation id; nothing personal or secret
//!   reaches a log line.
//! - [`store`]: the state-store port ([`store::StateStore`]) with its DynamoDB and embedded
//!   adapters; the single-table key schema is documented in [`store::keys`].
//! - [`blob`]: the blob-store port ([`blob::BlobStore`]) with its S3 and filesystem adapters.
//! - [`stream`]: DynamoDB stream batches with per-record failures (the workers' input).
//! - [`retry`]: how every error says whether a retry can help.

pub mod audit;
pub mod aws;
pub mod bearer;
pub mod blob;
pub mod ccai;
pub mod click_to_call;
pub mod clock;
pub mod coldstart;
pub mod config;
pub mod conversation;
pub mod custom_fields;
pub mod deadline;
pub mod ese;
pub mod events;
pub mod http;
pub mod kustomer;
pub mod lambda;
pub mod metrics;
pub mod pacing;
pub mod phone;
pub mod queue;
pub mod redact;
pub mod retry;
pub mod shadow;
pub mod shapes;
pub mod sign_in;
pub mod signature;
pub mod status;
pub mod storage;
pub mod store;
pub mod stream;
pub mod telemetry;

pub use clock::UnixMillis;
pub use retry::Retryable;
