//! The state-store contract against the embedded (in-process) adapter.

use bridge_shared::store::EmbeddedStore;

bridge_tests::state_store_contract!(async { EmbeddedStore::new() });
