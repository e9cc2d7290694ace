//! Waking repositories whose history gap is due: a wake's delivery id fits SQS's 128
//! characters whatever the repository's name, and one refused send does not keep the other
//! repositories asleep.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use coderipple_core::queue::{
    DeadLetterReason, OutgoingMessage, PeekedMessage, Queue, QueueStats, ReceivedMessage,
};
use coderipple_testkit::LocalWorker;
use coderipple_worker::{wake_due, wake_envelope};

/// SQS's longest `MessageDeduplicationId`.
const SQS_DEDUP_ID_MAX: usize = 128;

#[test]
fn a_wakes_delivery_id_fits_sqs_for_the_longest_repository_name() {
    let longest = format!("{}/{}", "o".repeat(39), "r".repeat(100));
    let id = wake_envelope(&longest, i64::MAX).delivery;
    assert!(
        id.len() <= SQS_DEDUP_ID_MAX,
        "{} characters: {id}",
        id.len()
    );
    let other = format!("{}/{}", "o".repeat(39), "s".repeat(100));
    assert_ne!(
        id,
        wake_envelope(&other, i64::MAX).delivery,
        "one per repository"
    );
    assert_ne!(
        wake_envelope("o/r", 1).delivery,
        wake_envelope("o/r", 2).delivery,
        "one per wake"
    );
}

/// The worker's queue, whose first send is refused (as SQS refuses a bad batch).
#[derive(Debug)]
struct FirstSendRefused {
    inner: Arc<dyn Queue>,
    sends: AtomicUsize,
}

#[async_trait]
impl Queue for FirstSendRefused {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn send_batch(&self, messages: &[OutgoingMessage]) -> coderipple_core::Result<()> {
        if self.sends.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(coderipple_core::Error::BadRequest(
                "refused for the test".into(),
            ));
        }
        self.inner.send_batch(messages).await
    }
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> coderipple_core::Result<Vec<ReceivedMessage>> {
        self.inner.receive(max, visibility, wait).await
    }
    async fn delete_batch(&self, receipts: &[String]) -> coderipple_core::Result<()> {
        self.inner.delete_batch(receipts).await
    }
    async fn change_visibility(
        &self,
        receipt: &str,
        timeout: Duration,
    ) -> coderipple_core::Result<()> {
        self.inner.change_visibility(receipt, timeout).await
    }
    async fn dead_letter(
        &self,
        message: &ReceivedMessage,
        reason: &DeadLetterReason,
    ) -> coderipple_core::Result<()> {
        self.inner.dead_letter(message, reason).await
    }
    async fn stats(&self) -> coderipple_core::Result<QueueStats> {
        self.inner.stats().await
    }
    async fn peek(&self, limit: usize) -> coderipple_core::Result<Vec<PeekedMessage>> {
        self.inner.peek(limit).await
    }
    async fn purge(&self) -> coderipple_core::Result<u64> {
        self.inner.purge().await
    }
    async fn health(&self) -> coderipple_core::Result<()> {
        self.inner.health().await
    }
}

#[tokio::test]
async fn a_refused_chunk_does_not_keep_the_other_repositories_asleep() {
    let worker = LocalWorker::new();
    let store = &worker.ctx.store;
    // 12 repositories due: two sends of at most 10; the first is refused.
    let repos: Vec<String> = (0..12).map(|i| format!("o/r{i:02}")).collect();
    for repo in &repos {
        store.mark_history_gap(repo, 1).await.unwrap();
    }
    let queue = FirstSendRefused {
        inner: worker.ctx.queue.clone(),
        sends: AtomicUsize::new(0),
    };
    let woken = wake_due(&**store, &queue, 10).await.expect("partly woken");
    assert_eq!(woken.len(), 2, "{woken:?}");
    let queued = worker
        .ctx
        .queue
        .receive(10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(queued.len(), 2);
    // The refused ones keep their marks: the next round wakes them.
    assert_eq!(store.history_gaps().await.unwrap().len(), 12);
    let again = wake_due(&**store, &*worker.ctx.queue, 10).await.unwrap();
    assert_eq!(again.len(), 12);
}
