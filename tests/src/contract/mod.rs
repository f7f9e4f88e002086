//! Contract suites: one set of cases per port, run against every adapter of that port.
//!
//! Each suite is a macro that expands to one `#[tokio::test]` per case, given an async
//! expression that builds a fresh adapter; the cases are plain async functions here.

pub mod blob_store;
pub mod state_store;
