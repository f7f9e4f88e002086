//! The state-store contract against the embedded (in-process) adapter.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use bridge_shared::store::EmbeddedStore;

bridge_tests::state_store_contract!(async { EmbeddedStore::new() });
