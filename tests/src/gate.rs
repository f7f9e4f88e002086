//! A point where a sandbox holds requests until the test lets them go: races are tested with
//! forced interleavings (the request is known to be there, waiting), not with sleeps that
//! happen to line up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{Notify, watch};

pub struct Gate {
    open: watch::Sender<bool>,
    waiting: AtomicUsize,
    arrived: Notify,
}

impl Gate {
    /// A closed gate: requests that reach it wait.
    pub fn closed() -> Arc<Self> {
        Arc::new(Self {
            open: watch::Sender::new(false),
            waiting: AtomicUsize::new(0),
            arrived: Notify::new(),
        })
    }

    /// Called by the sandbox: returns at once when open, else when opened.
    pub async fn pass(&self) {
        let mut open = self.open.subscribe();
        if *open.borrow() {
            return;
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        self.arrived.notify_waiters();
        while !*open.borrow_and_update() {
            if open.changed().await.is_err() {
                return;
            }
        }
    }

    /// Waits until `count` requests have reached the gate (in all).
    pub async fn arrivals(&self, count: usize) {
        loop {
            let notified = self.arrived.notified();
            if self.waiting.load(Ordering::SeqCst) >= count {
                return;
            }
            if tokio::time::timeout(std::time::Duration::from_secs(10), notified)
                .await
                .is_err()
            {
                panic!("no request reached the gate within 10 s");
            }
        }
    }

    /// Lets every waiting request (and every later one) through.
    pub fn open(&self) {
        self.open.send_replace(true);
    }
}
