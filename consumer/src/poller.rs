//! The long-running worker loop: receive a batch, handle it, settle every message (delete,
//! retry later, or release), until cancelled. On cancellation the batch in hand is finished
//! (units not yet started are released at once) and the loop ends.

use std::sync::Arc;
use std::time::Duration;

use coderipple_core::queue::Queue;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use crate::batch::{BatchReport, Outcome, handle_batch};
use crate::context::Consumer;

/// How long one receive waits for messages before the loop checks for shutdown.
const RECEIVE_WAIT: Duration = Duration::from_millis(500);

/// Runs one poller until `cancel` fires.
#[tracing::instrument(skip_all, fields(worker = worker_id))]
pub async fn run(ctx: Arc<Consumer>, cancel: CancellationToken, worker_id: usize) {
    tracing::debug!("poller started");
    let visibility = ctx.settings.visibility_timeout;
    // The embedded queue hands whole runs of a repository's backlog (up to 100 messages),
    // which the batch coalesces into one change set; SQS gives at most 10.
    let max = ctx.queue.receive_limit();
    while !cancel.is_cancelled() {
        let batch = match ctx.queue.receive(max, visibility, RECEIVE_WAIT).await {
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
        // Stopped on a panic too: the batch then comes back after its visibility timeout.
        let heartbeat =
            AbortOnDropHandle::new(keep_invisible(ctx.queue.clone(), receipts, visibility));
        let report = handle_batch(&ctx, batch, &cancel).await;
        drop(heartbeat);
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

/// How much longer than its retry delay a failed message is held invisible, so that it is
/// released by [`settle`]'s own task (in order) rather than by its timeout.
const HOLD_MARGIN: Duration = Duration::from_secs(30);

/// Deletes what is done, delays what must be retried, releases what was not started.
///
/// Messages to retry are not left to reappear when a visibility timeout of `delay` ends: they
/// are held invisible a margin longer, and a task makes them visible again after `delay`, in
/// queue order. Real SQS would keep a group's order either way; moto hands out the messages of
/// a group that become visible together out of order, and even to two workers at once (the
/// load tester's AWS outage scenario showed it: later pushes applied before earlier ones).
/// The local event source mapping ([`crate::event_source`]) does the same for the same reason.
pub async fn settle(ctx: &Consumer, report: &BatchReport) {
    let done: Vec<String> = report
        .matching(|o| matches!(o, Outcome::Done))
        .into_iter()
        .map(|m| m.receipt.clone())
        .collect();
    for chunk in done.chunks(ctx.queue.receive_limit()) {
        if let Err(e) = ctx.queue.delete_batch(chunk).await {
            tracing::warn!(error = %e, "delete failed; the messages will come back and be skipped");
        }
    }
    let mut held: Vec<(String, Duration)> = Vec::new();
    for (m, outcome) in &report.outcomes {
        let (receipt, delay) = match outcome {
            Outcome::Retry(retry) if !retry.after.is_zero() => {
                held.push((m.receipt.clone(), retry.after));
                (&m.receipt, retry.after + HOLD_MARGIN)
            }
            Outcome::Retry(_) | Outcome::Released => (&m.receipt, Duration::ZERO),
            Outcome::Done | Outcome::DeadLettered(_) => continue,
        };
        if let Err(e) = ctx.queue.change_visibility(receipt, delay).await {
            tracing::warn!(error = %e, "visibility not changed; the timeout will release it");
        }
    }
    if held.is_empty() {
        return;
    }
    let queue = ctx.queue.clone();
    tokio::spawn(async move {
        let wait = held.iter().map(|(_, d)| *d).max().unwrap_or_default();
        tokio::time::sleep(wait).await;
        for (receipt, _) in held {
            release_held(queue.as_ref(), &receipt).await;
        }
    });
}

/// Makes a held message visible now, retrying while the queue is unreachable (the failure
/// that made it retry may be an outage that is not over), within the hold margin; a receipt
/// no longer in flight needs nothing.
async fn release_held(queue: &dyn Queue, receipt: &str) {
    use backon::{ExponentialBuilder, Retryable};
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(2))
        .with_total_delay(Some(HOLD_MARGIN / 2))
        .without_max_times();
    let released = (|| queue.change_visibility(receipt, Duration::ZERO))
        .retry(backoff)
        .when(|e| e.is_retryable())
        .await;
    if let Err(e) = released {
        tracing::debug!(error = %e, "held message not released; its timeout will");
    }
}
