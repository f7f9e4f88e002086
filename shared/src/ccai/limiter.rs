//! The platform allows 10 requests per second per tenant. Every client of one tenant in this
//! process shares one limiter, so no second ever carries more than 10 requests, whichever
//! function or task sends them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// A sliding-window limiter: at most `max` sends in any `window`.
pub struct RequestLimiter {
    max: usize,
    window: Duration,
    sent: tokio::sync::Mutex<VecDeque<Instant>>,
}

impl RequestLimiter {
    pub fn new(max: usize, window: Duration) -> Self {
        Self {
            max: max.max(1),
            window,
            sent: tokio::sync::Mutex::new(VecDeque::new()),
        }
    }

    /// Waits until one more request fits in the window, then counts it. Waiters are served in
    /// arrival order (the async mutex is fair).
    pub async fn acquire(&self) {
        let mut sent = self.sent.lock().await;
        loop {
            let now = Instant::now();
            while sent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= self.window)
            {
                sent.pop_front();
            }
            if sent.len() < self.max {
                sent.push_back(now);
                return;
            }
            if let Some(oldest) = sent.front() {
                tokio::time::sleep_until(*oldest + self.window).await;
            }
        }
    }
}

/// Requests per second the platform allows per tenant.
pub const TENANT_REQUESTS_PER_SECOND: usize = 10;

/// How much the time between a request leaving and reaching the platform may vary (a late
/// departure after its slot, TLS, the network): the margin every schedule keeps (R-E-8). An
/// independent run saw 11 requests arrive within one second under a 1.1 s window (issue 24).
pub const ARRIVAL_JITTER: Duration = Duration::from_millis(250);

/// The window the client counts in: a second plus [`ARRIVAL_JITTER`], because the platform
/// counts arrivals — ten requests spaced over it arrive more than a second apart however
/// their transit varies within the jitter (`bench/run pacing` measures it).
pub const TENANT_WINDOW: Duration = Duration::from_millis(1000 + ARRIVAL_JITTER.as_millis() as u64);

static TENANTS: LazyLock<Mutex<HashMap<String, Arc<RequestLimiter>>>> =
    LazyLock::new(Mutex::default);

/// The process-wide limiter of the tenant at `base_url`.
pub fn for_tenant(base_url: &str) -> Arc<RequestLimiter> {
    let mut tenants = TENANTS.lock().unwrap_or_else(|p| p.into_inner());
    tenants
        .entry(base_url.to_owned())
        .or_insert_with(|| {
            Arc::new(RequestLimiter::new(
                TENANT_REQUESTS_PER_SECOND,
                TENANT_WINDOW,
            ))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn no_window_ever_holds_more_than_the_limit() {
        let limiter = Arc::new(RequestLimiter::new(10, Duration::from_secs(1)));
        let start = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..35 {
            let limiter = limiter.clone();
            handles.push(tokio::spawn(async move {
                limiter.acquire().await;
                Instant::now().duration_since(start)
            }));
        }
        let mut times = Vec::new();
        for handle in handles {
            times.push(handle.await.unwrap());
        }
        times.sort();
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|u| **u - *t < Duration::from_secs(1))
                .count();
            assert!(
                in_window <= 10,
                "{in_window} sends within a second starting at {t:?}"
            );
        }
        // 35 sends need at least three full windows after the first.
        assert!(*times.last().unwrap() >= Duration::from_secs(3));
    }

    #[test]
    fn one_tenant_shares_one_limiter() {
        let a = for_tenant("https://acme.example");
        let b = for_tenant("https://acme.example");
        let c = for_tenant("https://other.example");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
