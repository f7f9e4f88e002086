//! Agent status inheritance (R-S): Kustomer status → CCAI agent status.
//!
//! - [`mapping`]: the admin's mapping and modes.
//! - [`report_gate`]: at most one work-session read per agent per interval that reports cause.
//! - [`rules`]: what a change does, as pure functions.
//! - [`agent_state`]: one agent's sync state: the desired choice, the effect in flight, the
//!   outcome.
//! - [`sync`]: the status service: leases per agent tab, identity, and converging CCAI (and
//!   in two-way mode Kustomer) to the agent's latest choice.

pub mod agent_state;
pub mod mapping;
pub mod report_gate;
pub mod rules;
pub mod sync;

pub use mapping::{PriorityMode, StatusMapping};
pub use rules::{CcaiAgentView, Decision, PendingOutcome, decide, resolve_pending, reverse_change};
