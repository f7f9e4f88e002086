//! SDK clients built on their first request, not at cold start.
//!
//! Building a client builds its endpoint resolver, which parses the SDK's partition table and
//! compiles its patterns: about 430 000 instructions per client under callgrind, most of a
//! function's init when it built S3, SQS and SSM clients up front (issue 27; bench/RESULTS.md).
//! A function that answers without one (a 401, a batch with no file work, secrets given as
//! values rather than SSM parameters) never pays for it.

use std::fmt;
use std::sync::{Arc, OnceLock};

/// A client of type `C`, built by its builder on the first [`LazyClient::get`]; clones share it.
pub struct LazyClient<C> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    build: Box<dyn Fn() -> C + Send + Sync>,
    built: OnceLock<C>,
}

impl<C> LazyClient<C> {
    pub fn new(build: impl Fn() -> C + Send + Sync + 'static) -> Self {
        Self {
            inner: Arc::new(Inner {
                build: Box::new(build),
                built: OnceLock::new(),
            }),
        }
    }

    pub fn get(&self) -> &C {
        self.inner.built.get_or_init(|| (self.inner.build)())
    }

    /// Whether the client has been built (tests).
    pub fn is_built(&self) -> bool {
        self.inner.built.get().is_some()
    }
}

/// A client already built (tests, tools) is used as it is.
impl<C: Send + Sync + 'static> From<C> for LazyClient<C> {
    fn from(client: C) -> Self {
        let built = OnceLock::new();
        let _ = built.set(client);
        Self {
            inner: Arc::new(Inner {
                build: Box::new(|| unreachable!("a given client is never rebuilt")),
                built,
            }),
        }
    }
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<C> fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyClient")
            .field("built", &self.is_built())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn built_once_on_first_use_and_shared_by_clones() {
        let builds = Arc::new(AtomicUsize::new(0));
        let counted = builds.clone();
        let lazy = LazyClient::new(move || counted.fetch_add(1, Ordering::SeqCst) + 100);
        let clone = lazy.clone();
        assert!(!lazy.is_built());
        assert_eq!(builds.load(Ordering::SeqCst), 0);
        assert_eq!(*clone.get(), 100);
        assert_eq!(*lazy.get(), 100);
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        assert!(LazyClient::from(7_u8).is_built());
    }
}
