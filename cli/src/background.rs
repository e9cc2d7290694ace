//! The long-running process, assembled in one place: `up` and `worker` both call
//! [`spawn_background`], so the pollers and every periodic task run the same way in either.
//!
//! What runs, each stopped by the command's cancellation token:
//! - `workers` supervised pollers (a poller that panics is logged and restarted), all
//!   handing change sets to one worker through one consumer;
//! - the sweeper (embedded backend only: expired records, old payloads);
//! - the republisher (docs whose publishing failed are published again);
//! - the gap wakes (repositories waiting on a history gap get a wake when it is due);
//! - the recovery schedule (only with GitHub credentials: missed deliveries redelivered).

use std::sync::Arc;

use coderipple_consumer::supervise;
use coderipple_core::metrics::Metrics;
use coderipple_worker::WorkerContext;
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, WorkerSettings};
use crate::shutdown::Tasks;

/// Spawns the pollers and the periodic tasks into `tasks`. Settings are all read before
/// anything is spawned, so a bad one fails the command at start with nothing running.
pub fn spawn_background(
    backend: &Backend,
    ctx: &Arc<WorkerContext>,
    settings: &WorkerSettings,
    workers: u16,
    metrics: &Metrics,
    cancel: &CancellationToken,
    tasks: &mut Tasks,
) -> anyhow::Result<()> {
    let sweep_every = match backend.embedded {
        Some(_) => Some(crate::sweeper::every_from_env()?),
        None => None,
    };
    let recovery = match &settings.github_api {
        Some(api) => {
            let (every, hooks) =
                coderipple_github::recover::schedule_from_env(|k| std::env::var(k).ok())?;
            Some((api.clone(), every, hooks))
        }
        None => None,
    };
    let consumer = Arc::new(ctx.consumer());
    for i in 0..usize::from(workers) {
        tasks.spawn(
            format!("worker {i}"),
            supervise::poller(consumer.clone(), cancel.clone(), i),
        );
    }
    if let (Some(parts), Some(every)) = (backend.embedded.clone(), sweep_every) {
        tasks.spawn("sweeper", crate::sweeper::run(parts, every, cancel.clone()));
    }
    tasks.spawn(
        "republisher",
        coderipple_worker::republish_pending(ctx.clone(), cancel.clone()),
    );
    tasks.spawn(
        "history gaps",
        coderipple_worker::wake_every(
            backend.store.clone(),
            backend.queue.clone(),
            coderipple_worker::wake_interval(ctx.settings.gap_wait),
            cancel.clone(),
        ),
    );
    if let Some((api, every, hooks)) = recovery {
        tasks.spawn(
            "recovery",
            coderipple_github::recover::run_every(
                api,
                backend.store.clone(),
                hooks,
                every,
                metrics.clone(),
                cancel.clone(),
            ),
        );
    }
    Ok(())
}
