//! The long-running process, assembled in one place: `up` and `worker` both read
//! [`Background`] before they open anything and then call [`spawn_background`], so the
//! pollers and every periodic task run the same way in either.
//!
//! What runs, each stopped by the command's cancellation token:
//! - `workers` supervised pollers (a poller that panics is logged and restarted), all
//!   handing change sets to one worker through one consumer;
//! - the sweeper (embedded backend only: expired records, old payloads);
//! - the republisher (docs whose publishing failed are published again);
//! - the gap wakes (repositories waiting on a history gap get a wake when it is due);
//! - the recovery schedule (only with GitHub credentials: missed deliveries redelivered).

use std::sync::Arc;
use std::time::Duration;

use coderipple_consumer::supervise;
use coderipple_core::metrics::Metrics;
use coderipple_github::GitHubApi;
use coderipple_github::recover::RepoHook;
use coderipple_worker::WorkerContext;
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, WorkerSettings};
use crate::shutdown::Tasks;

/// The periodic tasks' settings, read before anything is opened or spawned, so a bad one
/// fails the command at start with nothing running.
#[derive(Debug)]
pub struct Background {
    /// The sweeper's period (used on the embedded backend only).
    sweep_every: Duration,
    /// The recovery schedule, with GitHub credentials only: the client, the period, the
    /// repository hooks to read.
    recovery: Option<(Arc<GitHubApi>, Duration, Vec<RepoHook>)>,
}

impl Background {
    /// From the environment and the worker's settings (GitHub credentials or not).
    pub fn from_env(settings: &WorkerSettings) -> anyhow::Result<Self> {
        let sweep_every = crate::sweeper::every_from_env()?;
        let recovery = match &settings.github_api {
            Some(api) => {
                let (every, hooks) =
                    coderipple_github::recover::schedule_from_env(|k| std::env::var(k).ok())?;
                Some((api.clone(), every, hooks))
            }
            None => None,
        };
        Ok(Self {
            sweep_every,
            recovery,
        })
    }
}

/// Spawns the pollers and the periodic tasks into `tasks`.
pub fn spawn_background(
    background: Background,
    backend: &Backend,
    ctx: &Arc<WorkerContext>,
    workers: u16,
    metrics: &Metrics,
    cancel: &CancellationToken,
    tasks: &mut Tasks,
) {
    let consumer = Arc::new(ctx.consumer());
    for i in 0..usize::from(workers) {
        tasks.spawn(
            format!("worker {i}"),
            supervise::poller(consumer.clone(), cancel.clone(), i),
        );
    }
    if let Some(parts) = backend.embedded.clone() {
        tasks.spawn(
            "sweeper",
            crate::sweeper::run(parts, background.sweep_every, cancel.clone()),
        );
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
    if let Some((api, every, hooks)) = background.recovery {
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
}
