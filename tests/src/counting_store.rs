//! A state store that counts the reads and writes passing through it to another store: how
//! tests hold a hot path to its budget of store calls.

use crate::intercepted_store::{Intercepted, StoreCall, StoreHook};
use bridge_shared::store::{StateStore, StoreError};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Default)]
pub struct Counter {
    reads: AtomicUsize,
    writes: AtomicUsize,
}

impl StoreHook for Counter {
    fn before(&self, call: StoreCall) -> Result<(), StoreError> {
        let counter = if call.writes {
            &self.writes
        } else {
            &self.reads
        };
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

pub type CountingStore = Intercepted<Counter>;

impl Intercepted<Counter> {
    pub fn new(inner: Arc<dyn StateStore>) -> Self {
        Self::with_hook(inner, Counter::default())
    }

    /// (reads, writes) so far.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.hook.reads.load(Ordering::SeqCst),
            self.hook.writes.load(Ordering::SeqCst),
        )
    }
}
