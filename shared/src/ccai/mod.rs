//! The CCAI Platform client (ccai-api.md): Manager API reads, Apps API actions, recording
//! downloads as streams, all under one per-tenant rate limiter (10 requests/s).

mod api;
mod client;
mod error;
pub mod lenient;
pub mod limiter;
pub mod model;
mod recording;

pub use api::{OUTBOUND_API_CALL, OutboundCallOutcome, OutboundCallRequest, TAIL_PAGE, message_of};
pub use client::CcaiClient;
pub use error::CcaiError;
pub use recording::Recording;
