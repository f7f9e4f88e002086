//! The CCAI Platform client (ccai-api.md): Manager API reads and Apps API actions, all under
//! one per-tenant rate limiter (10 requests/s). Files (recordings, transcripts, metadata) are
//! not the platform's to serve: they come from the tenant's external storage (`crate::storage`).

mod api;
mod client;
mod error;
pub mod lenient;
pub mod limiter;
pub mod model;

pub use api::{OUTBOUND_API_CALL, OutboundCallOutcome, OutboundCallRequest, TAIL_PAGE, message_of};
pub use client::CcaiClient;
pub use error::CcaiError;
