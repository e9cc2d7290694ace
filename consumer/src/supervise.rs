//! Supervision of the long-running pollers (`coderipple up` / `worker`): a poller that panics
//! is logged at error level with its panic message and started again after a short backoff,
//! never silently gone. The backoff grows while a poller keeps panicking and starts over once
//! a run outlasts [`RESTART_MAX_DELAY`].
//!
//! What the panicked poller held is not lost: its messages stay in flight until their
//! visibility timeout ends (the poller's heartbeat stops with it), then come back, counted
//! as a receive, so a message that panics every time ends in the DLQ after
//! `CODERIPPLE_MAX_RECEIVES`.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio_util::sync::CancellationToken;

use crate::context::Consumer;
use crate::poller;

/// The first restart's delay.
pub const RESTART_MIN_DELAY: Duration = Duration::from_millis(200);
/// The longest delay between restarts.
pub const RESTART_MAX_DELAY: Duration = Duration::from_secs(10);

/// Poller `worker_id` ([`poller::run`]) under [`supervise`], until `cancel` fires.
pub async fn poller(ctx: Arc<Consumer>, cancel: CancellationToken, worker_id: usize) {
    let stop = cancel.clone();
    supervise(&format!("worker {worker_id}"), stop, move || {
        poller::run(ctx.clone(), cancel.clone(), worker_id)
    })
    .await;
}

/// Runs the task `start` makes until it returns or `cancel` fires. A panic is logged at
/// error level with its message, and after a backoff the task is started again. Returns how
/// many times it was restarted.
pub async fn supervise<F, Fut>(name: &str, cancel: CancellationToken, mut start: F) -> u32
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let backoff = || {
        ExponentialBuilder::default()
            .with_min_delay(RESTART_MIN_DELAY)
            .with_max_delay(RESTART_MAX_DELAY)
            .without_max_times()
            .build()
    };
    let mut delays = backoff();
    let mut restarts = 0;
    loop {
        let started = Instant::now();
        let error = match tokio::spawn(start()).await {
            Ok(()) => return restarts,
            Err(e) if e.is_panic() => e.into_panic(),
            Err(e) => {
                // Cancelled from outside: the runtime is shutting down.
                tracing::warn!(task = name, error = %e, "task cancelled; not restarted");
                return restarts;
            }
        };
        if started.elapsed() > RESTART_MAX_DELAY {
            delays = backoff();
        }
        let delay = delays.next().unwrap_or(RESTART_MAX_DELAY);
        tracing::error!(
            task = name,
            panic = %panic_message(error.as_ref()),
            restarts,
            retry_in_ms = delay.as_millis() as u64,
            "task panicked; restarting it"
        );
        tokio::select! {
            () = cancel.cancelled() => return restarts,
            () = tokio::time::sleep(delay) => {}
        }
        restarts += 1;
    }
}

/// The message a panic was raised with (`panic!("…")` carries a `&str` or a `String`).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_owned())
}
