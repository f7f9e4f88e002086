//! Test support for ccai-kustomer-bridge: the contract suites every adapter of a port must pass,
//! and connections to the local stand-ins started by `infra/local/with-services`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod bytes_source;
pub mod ccai_sandbox;
pub mod ccai_support;
pub mod contract;
pub mod counting_store;
pub mod gate;
pub mod intercepted_store;
pub mod kustomer_sandbox;
pub mod kustomer_support;
pub mod local;
pub mod platforms;
pub mod policy_store;
pub mod pubsub;
pub mod sign_in_support;
pub mod storage_support;
pub mod stream_support;

/// A name no other test run uses, so tests can share one table and one bucket.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
