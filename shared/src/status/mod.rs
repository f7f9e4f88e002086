//! Agent status inheritance (R-S): Kustomer status → CCAI agent status.
//!
//! - [`mapping`]: the admin's mapping and modes.
//! - [`rules`]: what a change does, as pure functions.
//! - [`sync`]: the status service: leases per agent tab, identity, the one conditional write
//!   on the hot path, the CCAI call.

pub mod mapping;
pub mod rules;
pub mod sync;

pub use mapping::{PriorityMode, StatusMapping};
pub use rules::{
    CcaiAgentView, Decision, Pending, PendingOutcome, decide, resolve_pending, reverse_change,
};
