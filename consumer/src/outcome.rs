//! What becomes of one received message ([`Outcome`]), and the two steps every path shares:
//! naming a message's delivery and dead-lettering it with a reason (the record marked failed).

use std::time::Duration;

use coderipple_core::queue::{DeadLetterReason, ReceivedMessage};
use serde_json::json;

use coderipple_core::WorkerError;

use crate::context::Consumer;

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied (or found already applied): delete it.
    Done,
    /// Failed transiently: leave it for another attempt (a Lambda `batchItemFailure`).
    Retry(Retry),
    /// Moved to the DLQ by the consumer with its reason (already off the queue).
    DeadLettered(String),
    /// Not started because of shutdown: make it visible again now.
    Released,
}

/// Why a message goes back to the queue, and how soon it should be tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    /// What failed.
    pub reason: String,
    /// When to try again.
    pub after: Duration,
    /// Whether retrying in place may help (a transient failure, not a lease held elsewhere).
    pub hold: bool,
}

impl Retry {
    pub(crate) fn from_error(ctx: &Consumer, err: &WorkerError) -> Self {
        let after = match err {
            // Waiting for the other worker's lease to end costs one receive, not several.
            WorkerError::Leased { until_ms, .. } => {
                let left = until_ms
                    .saturating_sub(coderipple_core::time::now_ms())
                    .max(0);
                Duration::from_millis(left.unsigned_abs()) + Duration::from_millis(100)
            }
            _ => ctx.settings.retry_delay,
        };
        Self {
            reason: err.to_string(),
            after,
            hold: matches!(err, WorkerError::Transient(_)),
        }
    }
}

/// The delivery id of a message ([`coderipple_core::queue::delivery_of`]).
pub(crate) fn delivery_of(m: &ReceivedMessage) -> String {
    coderipple_core::queue::delivery_of(&m.body, &m.dedup_id)
}

/// Moves `m` to the DLQ with `class` and `reason` and marks its delivery failed.
pub(crate) async fn dead_letter_with(
    ctx: &Consumer,
    m: &ReceivedMessage,
    delivery: Option<&str>,
    class: &str,
    reason: String,
) -> Outcome {
    let delivery = delivery.map_or_else(|| delivery_of(m), str::to_owned);
    tracing::error!(%delivery, class, %reason, "sending to the DLQ");
    let dl = DeadLetterReason {
        reason: reason.clone(),
        error_class: class.to_owned(),
    };
    match ctx.queue.dead_letter(m, &dl).await {
        Ok(()) => {
            let record = json!({"reason": reason, "error_class": class});
            if let Err(e) = ctx.store.fail_processing(&delivery, &record).await {
                tracing::warn!(error = %e, "dead-lettered, but the delivery record was not marked failed");
            }
            Outcome::DeadLettered(reason)
        }
        Err(e) => {
            tracing::error!(error = %e, "could not dead-letter; the message will be retried");
            Outcome::Retry(Retry {
                reason: format!("dead-letter failed: {e}"),
                after: ctx.settings.retry_delay,
                hold: true,
            })
        }
    }
}
