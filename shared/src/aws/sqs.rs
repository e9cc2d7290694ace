//! [`SqsQueue`]: the [`Queue`] trait on an SQS FIFO queue.
//!
//! `MessageGroupId` = repository ([`message_group_id`]: a derived id for names over 128
//! characters), `MessageDeduplicationId` = delivery id. The queue's redrive
//! policy moves a message to the DLQ after `maxReceiveCount` receives (SQS does that itself;
//! the copy carries no reason, so reads from the DLQ add `error_class = max_receives`). The worker
//! dead-letters poison messages itself ([`Queue::dead_letter`]): a send to the DLQ with the
//! reason as message attributes, then a delete. That DLQ copy is deduplicated by the source
//! message id, so a retried dead-letter after a failed delete never makes two copies; the
//! original dedup id travels as the `original_dedup_id` attribute.
//!
//! SQS has no peek: [`SqsQueue::peek`] receives with a short hold and releases what it saw,
//! which counts as a receive. It is meant for the DLQ (no redrive policy there), and like any
//! FIFO receive it sees at most the first batch of each group.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};

use super::QueueRef;
use super::error::{code, sdk_error};
use crate::error::{Error, Result};
use crate::queue::{
    DeadLetterReason, MAX_BATCH, OutgoingMessage, PeekedMessage, Queue, QueueStats,
    ReceivedMessage, message_group_id,
};

/// Bytes of bodies and attributes in one `SendMessageBatch` call (SQS's historical limit,
/// kept so the same code works on every region and emulator).
const MAX_BATCH_BYTES: usize = 256 * 1024;
/// The attribute that keeps a dead-lettered message's own dedup id.
pub const ORIGINAL_DEDUP: &str = "original_dedup_id";
/// How long [`SqsQueue::peek`] holds what it has seen before releasing it.
const PEEK_HOLD: Duration = Duration::from_secs(30);
/// SQS's longest long-poll wait.
const MAX_WAIT_SECS: i32 = 20;
/// SQS's longest visibility timeout (12 hours).
const MAX_VISIBILITY_SECS: i32 = 43_200;

/// Receipt handles that no longer name an in-flight message.
const STALE_RECEIPT: [&str; 3] = [
    "ReceiptHandleIsInvalid",
    "AWS.SimpleQueueService.MessageNotInflight",
    "MessageNotInflight",
];

/// An SQS FIFO queue (and, for the events queue, its DLQ).
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    name: String,
    url: String,
    dlq: Option<Arc<SqsQueue>>,
    /// Whether this is a dead-letter queue (its messages without a reason were redriven).
    is_dlq: bool,
}

impl SqsQueue {
    /// The queue at `url`, dead-lettering to `dlq`.
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>, dlq: Option<SqsQueue>) -> Self {
        let url = url.into();
        let name = url.rsplit('/').next().unwrap_or(&url).to_owned();
        Self {
            client,
            name,
            url,
            dlq: dlq.map(|mut d| {
                d.is_dlq = true;
                Arc::new(d)
            }),
            is_dlq: false,
        }
    }

    /// Resolves a queue reference to its URL (`GetQueueUrl` for a name).
    pub async fn resolve(client: &aws_sdk_sqs::Client, queue: &QueueRef) -> Result<String> {
        match queue {
            QueueRef::Url(url) => Ok(url.clone()),
            QueueRef::Name(name) => client
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| sdk_error(&format!("queue {name}"), e))?
                .queue_url
                .ok_or_else(|| Error::Unavailable(format!("queue {name}: no URL returned"))),
        }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its dead-letter queue, if configured.
    pub fn dead_letter_queue(&self) -> Option<SqsQueue> {
        self.dlq.as_deref().cloned()
    }

    /// The queue's ARN (for events built the way Lambda builds them).
    pub async fn arn(&self) -> Result<String> {
        let attrs = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| sdk_error("get queue attributes", e))?;
        attrs
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| Error::Unavailable(format!("queue {}: no ARN", self.name)))
    }

    async fn send_chunk(&self, chunk: &[&OutgoingMessage]) -> Result<()> {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, m)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(&m.body)
                    .message_group_id(message_group_id(&m.group_id))
                    .message_deduplication_id(&m.dedup_id)
                    .set_message_attributes(Some(string_attributes(&m.attributes)?))
                    .build()
                    .map_err(|e| Error::BadRequest(format!("send entry: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| sdk_error("send message batch", e))?;
        if let Some(first) = out.failed.first() {
            // The caller resends the whole batch; dedup ids absorb what did get stored.
            return Err(Error::Unavailable(format!(
                "send message batch: {} of {} failed ({}: {})",
                out.failed.len(),
                chunk.len(),
                first.code,
                first.message.as_deref().unwrap_or("no message")
            )));
        }
        Ok(())
    }
}

/// Whole seconds, rounded up, capped at `max`.
fn secs(d: Duration, max: i32) -> i32 {
    let whole = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(whole).unwrap_or(max).min(max)
}

fn string_attributes(
    attrs: &BTreeMap<String, String>,
) -> Result<std::collections::HashMap<String, MessageAttributeValue>> {
    attrs
        .iter()
        .map(|(k, v)| {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| Error::BadRequest(format!("message attribute {k}: {e}")))?;
            Ok((k.clone(), value))
        })
        .collect()
}

fn message_bytes(m: &OutgoingMessage) -> usize {
    m.body.len()
        + m.attributes
            .iter()
            .map(|(k, v)| k.len() + v.len() + "String".len())
            .sum::<usize>()
}

/// A received SQS message in the trait's terms.
fn received(m: Message, from_dlq: bool) -> Result<ReceivedMessage> {
    let system = m.attributes.unwrap_or_default();
    let sys = |name: MessageSystemAttributeName| system.get(&name).cloned();
    let mut attributes: BTreeMap<String, String> = m
        .message_attributes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| v.string_value.map(|s| (k, s)))
        .collect();
    let group_id = sys(MessageSystemAttributeName::MessageGroupId)
        .ok_or_else(|| Error::Corrupt("SQS message without MessageGroupId (not FIFO?)".into()))?;
    let receive_count: u32 = sys(MessageSystemAttributeName::ApproximateReceiveCount)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let dedup_id = attributes
        .get(ORIGINAL_DEDUP)
        .cloned()
        .or_else(|| sys(MessageSystemAttributeName::MessageDeduplicationId))
        .unwrap_or_default();
    if from_dlq && !attributes.contains_key("reason") {
        // Moved by the redrive policy: SQS records where from, not why.
        let why = DeadLetterReason {
            reason: "received too many times without success (redrive maxReceiveCount)".into(),
            error_class: "max_receives".into(),
        };
        attributes = why.attributes_over(attributes, receive_count, &group_id);
    }
    Ok(ReceivedMessage {
        message_id: m.message_id.unwrap_or_default(),
        receipt: m
            .receipt_handle
            .ok_or_else(|| Error::Corrupt("SQS message without receipt handle".into()))?,
        group_id,
        dedup_id,
        body: m.body.unwrap_or_default(),
        attributes,
        receive_count,
        sent_at_ms: sys(MessageSystemAttributeName::SentTimestamp)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    })
}

#[async_trait]
impl Queue for SqsQueue {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send_batch(&self, messages: &[OutgoingMessage]) -> Result<()> {
        let mut chunk: Vec<&OutgoingMessage> = Vec::with_capacity(MAX_BATCH);
        let mut bytes = 0;
        for m in messages {
            let size = message_bytes(m);
            if !chunk.is_empty() && (chunk.len() == MAX_BATCH || bytes + size > MAX_BATCH_BYTES) {
                self.send_chunk(&chunk).await?;
                chunk.clear();
                bytes = 0;
            }
            chunk.push(m);
            bytes += size;
        }
        if !chunk.is_empty() {
            self.send_chunk(&chunk).await?;
        }
        Ok(())
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(i32::try_from(max.clamp(1, MAX_BATCH)).unwrap_or(10))
            .visibility_timeout(secs(visibility, MAX_VISIBILITY_SECS))
            .wait_time_seconds(secs(wait, MAX_WAIT_SECS))
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| sdk_error("receive message", e))?;
        out.messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| received(m, self.is_dlq))
            .collect()
    }

    async fn delete_batch(&self, receipts: &[String]) -> Result<()> {
        for chunk in receipts.chunks(MAX_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(r)
                        .build()
                        .map_err(|e| Error::BadRequest(format!("delete entry: {e}")))
                })
                .collect::<Result<Vec<_>>>()?;
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sdk_error("delete message batch", e))?;
            if let Some(bad) = out
                .failed
                .iter()
                .find(|f| !STALE_RECEIPT.contains(&f.code.as_str()))
            {
                return Err(Error::Unavailable(format!(
                    "delete message batch: {}: {}",
                    bad.code,
                    bad.message.as_deref().unwrap_or("no message")
                )));
            }
        }
        Ok(())
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<()> {
        let result = self
            .client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(secs(timeout, MAX_VISIBILITY_SECS))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if code(&e).is_some_and(|c| STALE_RECEIPT.contains(&c)) => {
                Err(Error::InvalidReceipt(receipt.chars().take(16).collect()))
            }
            Err(e) => Err(sdk_error("change message visibility", e)),
        }
    }

    async fn dead_letter(
        &self,
        message: &ReceivedMessage,
        reason: &DeadLetterReason,
    ) -> Result<()> {
        let dlq = self
            .dlq
            .as_ref()
            .ok_or_else(|| Error::Config(format!("queue {} has no DLQ configured", self.name)))?;
        let mut attrs = reason.attributes(message);
        attrs.insert(ORIGINAL_DEDUP.into(), message.dedup_id.clone());
        let copy = OutgoingMessage {
            group_id: message.group_id.clone(),
            // One DLQ copy per source message, however often this is retried.
            dedup_id: message.message_id.clone(),
            body: message.body.clone(),
            attributes: attrs,
        };
        dlq.send_batch(std::slice::from_ref(&copy)).await?;
        self.delete_batch(std::slice::from_ref(&message.receipt))
            .await
    }

    async fn stats(&self) -> Result<QueueStats> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| sdk_error("get queue attributes", e))?;
        let attrs = out.attributes.unwrap_or_default();
        let count = |name: QueueAttributeName| -> u64 {
            attrs.get(&name).and_then(|v| v.parse().ok()).unwrap_or(0)
        };
        Ok(QueueStats {
            visible: count(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        })
    }

    async fn peek(&self, limit: usize) -> Result<Vec<PeekedMessage>> {
        let mut seen: Vec<ReceivedMessage> = Vec::new();
        let result = async {
            while seen.len() < limit {
                let batch = self
                    .receive(
                        (limit - seen.len()).min(MAX_BATCH),
                        PEEK_HOLD,
                        Duration::ZERO,
                    )
                    .await?;
                if batch.is_empty() {
                    break;
                }
                seen.extend(batch);
            }
            Ok::<_, Error>(())
        }
        .await;
        for chunk in seen.chunks(MAX_BATCH) {
            let entries: Vec<_> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(&m.receipt)
                        .visibility_timeout(0)
                        .build()
                        .ok()
                })
                .collect();
            if let Err(e) = self
                .client
                .change_message_visibility_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                tracing::warn!(error = %sdk_error("release peeked", e), "peeked messages stay held until their hold ends");
            }
        }
        result?;
        Ok(seen
            .into_iter()
            .map(|m| PeekedMessage {
                message_id: m.message_id,
                group_id: m.group_id,
                dedup_id: m.dedup_id,
                body: m.body,
                attributes: m.attributes,
                receive_count: m.receive_count,
                sent_at_ms: m.sent_at_ms,
                in_flight: false,
            })
            .collect())
    }

    async fn purge(&self) -> Result<u64> {
        let before = self.stats().await?;
        self.client
            .purge_queue()
            .queue_url(&self.url)
            .send()
            .await
            .map_err(|e| sdk_error("purge queue", e))?;
        Ok(before.visible + before.in_flight)
    }

    async fn health(&self) -> Result<()> {
        self.stats().await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_up_and_cap() {
        assert_eq!(secs(Duration::ZERO, 20), 0);
        assert_eq!(secs(Duration::from_millis(500), 20), 1);
        assert_eq!(secs(Duration::from_secs(2), 20), 2);
        assert_eq!(secs(Duration::from_secs(90), 20), 20);
    }
}
