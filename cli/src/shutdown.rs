//! SIGINT / SIGTERM → a cancellation token, and the background tasks a command waits for
//! when it stops.

use std::future::Future;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A token cancelled at the first SIGINT or SIGTERM. A second signal exits at once (status
/// 130): nothing is acknowledged before it is stored, so cutting work short loses nothing
/// that was acknowledged.
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let fire = token.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        let mut next = async || {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        };
        next().await;
        tracing::info!("shutting down: finishing in-flight work (a second signal exits now)");
        fire.cancel();
        next().await;
        tracing::warn!("second signal: exiting now");
        std::process::exit(130);
    });
    token
}

/// Background tasks of a command (workers, and any periodic task), each stopped by the
/// command's cancellation token and waited for when the command stops.
#[derive(Debug, Default)]
pub struct Tasks(Vec<(String, JoinHandle<()>)>);

impl Tasks {
    /// Spawns `task`, named for the logs.
    pub fn spawn(
        &mut self,
        name: impl Into<String>,
        task: impl Future<Output = ()> + Send + 'static,
    ) {
        self.0.push((name.into(), tokio::spawn(task)));
    }

    /// Waits for every task until `deadline`; the ones still running then are abandoned (the
    /// process is about to exit: work a worker did not finish is handed out again after the
    /// visibility timeout). Returns how many were abandoned.
    pub async fn join_until(self, deadline: Instant) -> usize {
        let mut abandoned = 0;
        for (name, mut task) in self.0 {
            match tokio::time::timeout_at(deadline, &mut task).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(task = %name, error = %e, "task failed"),
                Err(_) => {
                    tracing::warn!(task = %name, "still running at the end of the shutdown grace period; abandoned");
                    task.abort();
                    abandoned += 1;
                }
            }
        }
        abandoned
    }
}
