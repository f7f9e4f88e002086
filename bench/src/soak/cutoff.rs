//! Invocations cut off mid-way: what a Lambda timeout or a frozen sandbox does to a function.
//! The function's future is polled a random number of times and then dropped where it stands
//! (at one of its await points): nothing after that point runs, no destructor-free cleanup,
//! no answer. The caller sees a function error (a stream batch: retried by the event source
//! mapping, with bisection and its retry limit) or, for an HTTP function, API Gateway's 504.

use bridge_local::host::Handler;
use bridge_local::stream::StreamHandler;
use futures::future::BoxFuture;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// Decides which invocations are cut off, and after how many polls.
pub struct Cutter {
    rate: f64,
    on: AtomicBool,
    rng: Mutex<StdRng>,
    /// Invocations cut off so far, and those chosen to be (a short one may end first).
    pub cut: AtomicU64,
    pub chosen: AtomicU64,
    pub invocations: AtomicU64,
}

impl Cutter {
    pub fn new(rate: f64, seed: u64) -> Arc<Self> {
        Arc::new(Self {
            rate,
            on: AtomicBool::new(rate > 0.0),
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x5eed_c0ff)),
            cut: AtomicU64::new(0),
            chosen: AtomicU64::new(0),
            invocations: AtomicU64::new(0),
        })
    }

    /// No more cut-offs (the soak's faults stop).
    pub fn stop(&self) {
        self.on.store(false, Ordering::SeqCst);
    }

    /// After how many pending polls this invocation is dropped, if it is.
    fn decide(&self) -> Option<u32> {
        self.invocations.fetch_add(1, Ordering::Relaxed);
        if !self.on.load(Ordering::SeqCst) {
            return None;
        }
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        if !rng.random_bool(self.rate) {
            return None;
        }
        self.chosen.fetch_add(1, Ordering::Relaxed);
        // Log-uniform over 1–2000 suspensions: the first awaits as often as the late ones of
        // a long batch (after a Kustomer write, before its record), whatever its length.
        let polls = (rng.random_range(0.0..(2000.0_f64).ln())).exp();
        Some(polls as u32 + 1)
    }

    fn counted(&self) {
        self.cut.fetch_add(1, Ordering::Relaxed);
    }

    /// One run of `work` that may be cut off (the scheduled function's invocation): `None`
    /// when it was (the next schedule runs it again).
    pub async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        work: BoxFuture<'static, T>,
    ) -> Option<T> {
        let polls = self.decide();
        let cutter = self.clone();
        CutOff {
            work: Some(Box::pin(async move { Some(work.await) })),
            polls_left: polls,
            on_cut: Box::new(move || {
                cutter.counted();
                None
            }),
        }
        .await
    }

    /// A stream-triggered function whose invocations may be cut off (a function error).
    pub fn stream(self: &Arc<Self>, inner: StreamHandler) -> StreamHandler {
        let cutter = self.clone();
        Arc::new(move |event| {
            let polls = cutter.decide();
            let cutter = cutter.clone();
            let work = inner(event);
            Box::pin(CutOff {
                work: Some(work),
                polls_left: polls,
                on_cut: Box::new(move || {
                    cutter.counted();
                    Err("Task timed out (cut off by the soak)".to_owned())
                }),
            })
        })
    }

    /// An HTTP function whose invocations may be cut off (API Gateway answers 504).
    pub fn http(self: &Arc<Self>, inner: Handler) -> Handler {
        let cutter = self.clone();
        Arc::new(move |request| {
            let polls = cutter.decide();
            let cutter = cutter.clone();
            let work = inner(request);
            Box::pin(CutOff {
                work: Some(work),
                polls_left: polls,
                on_cut: Box::new(move || {
                    cutter.counted();
                    let mut answer = lambda_http::Response::new(lambda_http::Body::Text(
                        r#"{"message":"Service Unavailable"}"#.into(),
                    ));
                    *answer.status_mut() = http::StatusCode::GATEWAY_TIMEOUT;
                    answer
                }),
            })
        })
    }
}

/// A future dropped after `polls_left` pending polls.
struct CutOff<T> {
    work: Option<BoxFuture<'static, T>>,
    polls_left: Option<u32>,
    on_cut: Box<dyn Fn() -> T + Send>,
}

impl<T> Future for CutOff<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let Some(work) = self.work.as_mut() else {
            return Poll::Ready((self.on_cut)());
        };
        match work.as_mut().poll(cx) {
            Poll::Ready(answer) => Poll::Ready(answer),
            Poll::Pending => match self.polls_left {
                Some(0) | Some(1) => {
                    // Dropped at the await point it is suspended on.
                    self.work = None;
                    Poll::Ready((self.on_cut)())
                }
                Some(left) => {
                    self.polls_left = Some(left - 1);
                    Poll::Pending
                }
                None => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[tokio::test]
    async fn r_p_1_a_cut_off_invocation_runs_nothing_after_its_await_point() {
        let reached = Arc::new(AtomicU64::new(0));
        let seen = reached.clone();
        let inner: StreamHandler = Arc::new(move |_| {
            let seen = seen.clone();
            Box::pin(async move {
                seen.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                tokio::task::yield_now().await;
                seen.fetch_add(10, Ordering::SeqCst);
                Ok(Value::Null)
            })
        });
        let always = Cutter::new(1.0, 1);
        // Forced: cut after the first pending poll.
        let handler = always.stream(inner.clone());
        let mut cut = 0;
        for _ in 0..200 {
            if handler(json!({})).await.is_err() {
                cut += 1;
            }
        }
        assert!(cut > 0, "some invocations are cut");
        assert_eq!(always.cut.load(Ordering::SeqCst), cut);
        // Each cut invocation began (+1) and never reached its end (+10).
        let total = reached.load(Ordering::SeqCst);
        assert_eq!(total, 200 + 10 * (200 - cut), "{total}");
        always.stop();
        assert!(handler(json!({})).await.is_ok(), "stopped: nothing is cut");
    }
}
