//! The long-running worker loop: receive a batch, handle it, settle every message (delete,
//! retry later, or release), until cancelled. On cancellation the batch in hand is finished
//! (units not yet started are released at once) and the loop ends.

use std::sync::Arc;
use std::time::Duration;

use coderipple_core::queue::{MAX_BATCH, Queue};
use tokio_util::sync::CancellationToken;

use crate::WorkerContext;
use crate::batch::{BatchReport, Outcome, handle_batch};

/// How long one receive waits for messages before the loop checks for shutdown.
const RECEIVE_WAIT: Duration = Duration::from_millis(500);

/// Runs one poller until `cancel` fires.
#[tracing::instrument(skip_all, fields(worker = worker_id))]
pub async fn run(ctx: Arc<WorkerContext>, cancel: CancellationToken, worker_id: usize) {
    tracing::debug!("poller started");
    let visibility = ctx.settings.visibility_timeout;
    while !cancel.is_cancelled() {
        let batch = match ctx.queue.receive(MAX_BATCH, visibility, RECEIVE_WAIT).await {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(error = %e, "receive failed; backing off");
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        if batch.is_empty() {
            continue;
        }
        let receipts: Vec<String> = batch.iter().map(|m| m.receipt.clone()).collect();
        let heartbeat = keep_invisible(ctx.queue.clone(), receipts, visibility);
        let report = handle_batch(&ctx, batch, &cancel).await;
        heartbeat.abort();
        settle(&ctx, &report).await;
    }
    tracing::debug!("poller stopped");
}

/// Keeps received messages invisible while their batch is being handled: every half
/// visibility timeout their timeout is renewed, so a slow batch is never handed to a second
/// worker. Abort the returned task when the batch is done.
pub fn keep_invisible(
    queue: Arc<dyn Queue>,
    receipts: Vec<String>,
    visibility: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(visibility / 2).await;
            for receipt in &receipts {
                // A message already deleted or dead-lettered has no receipt any more: fine.
                if let Err(e) = queue.change_visibility(receipt, visibility).await {
                    tracing::debug!(error = %e, "visibility not renewed");
                }
            }
        }
    })
}

/// Deletes what is done, delays what must be retried, releases what was not started.
pub async fn settle(ctx: &WorkerContext, report: &BatchReport) {
    let done: Vec<String> = report
        .matching(|o| matches!(o, Outcome::Done))
        .into_iter()
        .map(|m| m.receipt.clone())
        .collect();
    for chunk in done.chunks(MAX_BATCH) {
        if let Err(e) = ctx.queue.delete_batch(chunk).await {
            tracing::warn!(error = %e, "delete failed; the messages will come back and be skipped");
        }
    }
    for (m, outcome) in &report.outcomes {
        let delay = match outcome {
            Outcome::Retry(retry) => retry.after,
            Outcome::Released => Duration::ZERO,
            Outcome::Done | Outcome::DeadLettered(_) => continue,
        };
        if let Err(e) = ctx.queue.change_visibility(&m.receipt, delay).await {
            tracing::warn!(error = %e, "visibility not changed; the timeout will release it");
        }
    }
}
