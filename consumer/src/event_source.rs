//! A local stand-in for Lambda's SQS event source mapping, for tests and for exercising a
//! deployed stack's queue without Lambda (moto cannot run functions).
//!
//! One [`EventSourceMapping::poll_once`] does what the mapping does for one batch: receive up
//! to `batch_size` messages, build the `SqsEvent` JSON the way Lambda does, hand it to the
//! handler (as JSON, so the event's shape is exercised), and delete every message that the
//! `SqsBatchResponse` does not list in `batchItemFailures`. Failed messages are left alone
//! and come back when their visibility timeout ends, as with Lambda.
//!
//! One emulator workaround: after a visibility timeout, moto redelivers the messages of a
//! group that were in flight together out of order (the last first). So the mapping does
//! not let failed messages time out: it holds them invisible a while longer and, once their
//! visibility timeout is over, makes them visible again itself, in queue order
//! (`ChangeMessageVisibility` 0), which moto and SQS both honour in order.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use coderipple_core::queue::{Queue, ReceivedMessage};
use coderipple_core::{Error, Result};
use serde_json::{Value, json};

/// How much longer than the visibility timeout failed messages are held before release.
const HOLD_MARGIN: Duration = Duration::from_secs(60);

/// The mapping: which queue, how big a batch, how long received messages stay invisible.
#[derive(Debug)]
pub struct EventSourceMapping {
    /// The queue polled.
    pub queue: Arc<dyn Queue>,
    /// Its ARN, as records carry it.
    pub queue_arn: String,
    /// Messages per event (Lambda: up to 10 for FIFO).
    pub batch_size: usize,
    /// The queue's visibility timeout for received messages.
    pub visibility: Duration,
    /// How long one receive waits for messages.
    pub wait: Duration,
    /// Failed messages (receipts in queue order) and when they become visible again.
    parked: Mutex<Vec<(Instant, Vec<String>)>>,
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// Messages handed to the handler.
    pub received: usize,
    /// Messages deleted (successes).
    pub deleted: usize,
    /// Messages reported in `batchItemFailures` (left on the queue).
    pub failed: usize,
}

impl EventSourceMapping {
    /// A mapping of `queue` (batches of 10, no long poll).
    pub fn new(queue: Arc<dyn Queue>, queue_arn: impl Into<String>, visibility: Duration) -> Self {
        Self {
            queue,
            queue_arn: queue_arn.into(),
            batch_size: 10,
            visibility,
            wait: Duration::ZERO,
            parked: Mutex::new(Vec::new()),
        }
    }

    /// Makes failed messages whose visibility timeout is over visible again, in order.
    async fn release_due(&self) -> Result<()> {
        let due: Vec<String> = {
            let mut parked = self.parked.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let (due, later): (Vec<_>, Vec<_>) = parked.drain(..).partition(|(at, _)| *at <= now);
            *parked = later;
            due.into_iter().flat_map(|(_, r)| r).collect()
        };
        for receipt in due {
            match self.queue.change_visibility(&receipt, Duration::ZERO).await {
                Ok(()) | Err(Error::InvalidReceipt(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Whether failed messages are waiting for their visibility timeout.
    pub fn has_parked(&self) -> bool {
        !self
            .parked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// Polls once and invokes `handler` if anything arrived.
    pub async fn poll_once<F, Fut>(&self, handler: F) -> Result<Round>
    where
        F: FnOnce(SqsEvent) -> Fut,
        Fut: Future<Output = SqsBatchResponse>,
    {
        self.release_due().await?;
        let batch = self
            .queue
            .receive(self.batch_size, self.visibility, self.wait)
            .await?;
        if batch.is_empty() {
            return Ok(Round::default());
        }
        let event: SqsEvent = serde_json::from_value(sqs_event_json(&batch, &self.queue_arn))
            .map_err(|e| Error::Corrupt(format!("SqsEvent shape: {e}")))?;
        let response = handler(event).await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        let succeeded: Vec<String> = batch
            .iter()
            .filter(|m| !failed.contains(&m.message_id.as_str()))
            .map(|m| m.receipt.clone())
            .collect();
        self.queue.delete_batch(&succeeded).await?;
        let failed_receipts: Vec<String> = batch
            .iter()
            .filter(|m| failed.contains(&m.message_id.as_str()))
            .map(|m| m.receipt.clone())
            .collect();
        for receipt in &failed_receipts {
            self.queue
                .change_visibility(receipt, self.visibility + HOLD_MARGIN)
                .await?;
        }
        if !failed_receipts.is_empty() {
            self.parked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((Instant::now() + self.visibility, failed_receipts));
        }
        Ok(Round {
            received: batch.len(),
            deleted: succeeded.len(),
            failed: batch.len() - succeeded.len(),
        })
    }
}

/// The event JSON Lambda builds for `messages` of the queue `arn`.
pub fn sqs_event_json(messages: &[ReceivedMessage], arn: &str) -> Value {
    let region = arn.split(':').nth(3).unwrap_or("us-east-1");
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, Value> = m
                .attributes
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        json!({"stringValue": v, "stringListValues": [], "binaryListValues": [], "dataType": "String"}),
                    )
                })
                .collect();
            json!({
                "messageId": m.message_id,
                "receiptHandle": m.receipt,
                "body": m.body,
                "attributes": {
                    "ApproximateReceiveCount": m.receive_count.to_string(),
                    "SentTimestamp": m.sent_at_ms.to_string(),
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": m.sent_at_ms.to_string(),
                    "MessageGroupId": m.group_id,
                    "MessageDeduplicationId": m.dedup_id,
                },
                "messageAttributes": attributes,
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": region,
            })
        })
        .collect();
    json!({ "Records": records })
}
