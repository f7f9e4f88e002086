//! Kustomer conversations for CCAI sessions: the placement rules (R-T, R-U), pure.

pub mod rules;

pub use rules::{Channel, CurrentConversation, Origin, Placement, SessionFacts, place_session};
