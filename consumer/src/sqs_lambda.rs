//! The Lambda worker handler: an `SqsEvent` from the SQS event source mapping in, an
//! `SqsBatchResponse` out. A plain function over a [`Consumer`], so it is tested
//! without a runtime; `coderipple lambda` (the `bootstrap`) wires it to `lambda_runtime`.
//!
//! `batchItemFailures` are FIFO-aware: a message that must be retried is reported together
//! with every later message of its group (the batch handler already fails them), so the
//! event source mapping never deletes a message whose predecessor is still pending. Messages
//! applied or dead-lettered by the consumer are successes. Processing leases last until the
//! invocation's deadline, and units not started a safety margin before the deadline are
//! handed back (reported as failures) instead of being cut off by the timeout.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use coderipple_core::queue::ReceivedMessage;
use tokio_util::sync::CancellationToken;

use crate::batch::{BatchOptions, Outcome, handle_batch_with};
use crate::context::Consumer;

/// Time kept back before the deadline to report what was not started.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

/// Handles one SQS event; `deadline` is the invocation's (none outside Lambda).
pub async fn handle_sqs_event(
    ctx: &Consumer,
    event: SqsEvent,
    deadline: Option<SystemTime>,
) -> SqsBatchResponse {
    let messages: Vec<ReceivedMessage> = event.records.into_iter().map(received).collect();
    let remaining = deadline.map(|d| {
        d.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    });
    let cancel = CancellationToken::new();
    // Inside Lambda: stop starting units a margin before the deadline. Outside: no deadline.
    if remaining.is_some_and(|left| left <= DEADLINE_MARGIN) {
        cancel.cancel();
    }
    let stop_early = remaining.map(|left| {
        let cancel = cancel.clone();
        let wait = left.saturating_sub(DEADLINE_MARGIN);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            cancel.cancel();
        })
    });
    let lease = remaining
        .unwrap_or(ctx.settings.visibility_timeout)
        .max(Duration::from_secs(1));
    // The port gets the invocation's end with each change set: the worker keeps its LLM
    // writer to the first half of what is left and stops GitHub calls a margin before it,
    // so what they could not do is recorded instead of cut off.
    let options = BatchOptions {
        lease,
        hold: Duration::ZERO,
        deadline: remaining.map(|left| std::time::Instant::now() + left),
    };
    let report = handle_batch_with(ctx, messages, &cancel, options).await;
    if let Some(task) = stop_early {
        task.abort();
    }
    let mut response = SqsBatchResponse::default();
    for (message, outcome) in &report.outcomes {
        if matches!(outcome, Outcome::Retry(_) | Outcome::Released) {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.clone();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// An event record in the queue trait's terms.
pub fn received(m: SqsMessage) -> ReceivedMessage {
    let attr = |k: &str| m.attributes.get(k).cloned();
    let attributes: BTreeMap<String, String> = m
        .message_attributes
        .iter()
        .filter_map(|(k, v)| v.string_value.clone().map(|s| (k.clone(), s)))
        .collect();
    let dedup_id = attributes
        .get(coderipple_core::aws::sqs::ORIGINAL_DEDUP)
        .cloned()
        .or_else(|| attr("MessageDeduplicationId"))
        .unwrap_or_default();
    ReceivedMessage {
        message_id: m.message_id.clone().unwrap_or_default(),
        receipt: m.receipt_handle.clone().unwrap_or_default(),
        // A record without a group cannot come from a FIFO queue; the batch handler
        // dead-letters it as invalid (its envelope's repo will not match).
        group_id: attr("MessageGroupId").unwrap_or_default(),
        dedup_id,
        body: m.body.clone().unwrap_or_default(),
        attributes,
        receive_count: attr("ApproximateReceiveCount")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
        sent_at_ms: attr("SentTimestamp")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    }
}
