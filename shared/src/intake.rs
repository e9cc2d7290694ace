//! [`Intake`]: ingest's one durable step: claim the delivery id, and put the envelope on the
//! queue unless an earlier copy is known to be there.
//!
//! [`ClaimThenSend`] does it with any store and queue (one conditional write, one send; on
//! AWS, DynamoDB and SQS). [`SqliteIntake`] does both in one transaction of the embedded
//! database: one round trip to the writer, and no claim can exist without its message.
//!
//! [`accept`] is the whole step for one envelope (claim-check when too large, then claim and
//! send), as ingest runs it before answering and the load tester's queue target runs it
//! without HTTP.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::blob::BlobStore;
use crate::config::Settings;
use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::queue::sqlite::SqliteQueue;
use crate::queue::{OutgoingMessage, Queue};
use crate::store::sqlite::claim_tx;
use crate::store::{ClaimOutcome, DeliveryClaim, DeliveryStatus, Store};
use crate::time::ms;

/// Claims a delivery and enqueues its message.
#[async_trait]
pub trait Intake: Send + Sync + std::fmt::Debug {
    /// Claims `claim` for `ttl`. When it is new, or seen before but not known to be on the
    /// queue (`Received`), `message` is sent (a resend is absorbed by the dedup id).
    /// Returns what the claim found; `Ok` means the message is durably on the queue.
    async fn claim_and_send(
        &self,
        claim: &DeliveryClaim,
        ttl: Duration,
        message: OutgoingMessage,
    ) -> Result<ClaimOutcome>;
}

/// What [`accept`] did with an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Claimed now and durably on the queue (ingest answers 202).
    Queued,
    /// Claimed before (ingest answers 200); sent again if no worker had seen it yet.
    Duplicate,
}

/// Claims the envelope's delivery and puts it on the queue through `intake` (committed
/// before the caller answers). An envelope over `settings.max_message_bytes` is
/// claim-checked first: its change is stored in `blobs` under the delivery id (a repeat
/// overwrites it with the same bytes) and the message carries the reference. A delivery
/// seen before is a duplicate; if no worker has seen it yet (its earlier attempt may have
/// failed between claim and send), it is sent again, and the queue's dedup id and the
/// worker's idempotency absorb any overlap, so a redelivery is never dropped.
pub async fn accept(
    intake: &dyn Intake,
    blobs: &dyn BlobStore,
    settings: &Settings,
    mut envelope: Envelope,
) -> Result<Accepted> {
    let delivery = envelope.delivery.clone();
    let claim = DeliveryClaim {
        id: delivery.clone(),
        repo: Some(envelope.repo.clone()),
        event: envelope.event.clone(),
        status: DeliveryStatus::Received,
    };
    let mut body = envelope.to_json();
    if body.len() > settings.max_message_bytes {
        let change = serde_json::to_vec(&envelope.change)
            .map_err(|e| Error::Corrupt(format!("envelope: {e}")))?;
        envelope.change_ref = Some(blobs.put(&delivery, change).await?);
        envelope.change = None;
        body = envelope.to_json();
    }
    let message = OutgoingMessage::new(envelope.repo.clone(), delivery, body);
    Ok(
        match intake
            .claim_and_send(&claim, settings.dedup_ttl, message)
            .await?
        {
            ClaimOutcome::Claimed => Accepted::Queued,
            ClaimOutcome::Existing(_) => Accepted::Duplicate,
        },
    )
}

fn needs_send(outcome: ClaimOutcome) -> bool {
    match outcome {
        ClaimOutcome::Claimed => true,
        ClaimOutcome::Existing(status) => !status.confirms_enqueue(),
    }
}

/// [`Intake`] over a separate store and queue: claim, then send.
#[derive(Debug, Clone)]
pub struct ClaimThenSend {
    /// Where claims go.
    pub store: Arc<dyn Store>,
    /// Where messages go.
    pub queue: Arc<dyn Queue>,
}

impl ClaimThenSend {
    /// Claims in `store`, then sends to `queue`.
    pub fn new(store: Arc<dyn Store>, queue: Arc<dyn Queue>) -> Self {
        Self { store, queue }
    }
}

#[async_trait]
impl Intake for ClaimThenSend {
    async fn claim_and_send(
        &self,
        claim: &DeliveryClaim,
        ttl: Duration,
        message: OutgoingMessage,
    ) -> Result<ClaimOutcome> {
        let outcome = self.store.claim_delivery(claim, ttl).await?;
        if needs_send(outcome) {
            self.queue.send_batch(&[message]).await?;
        }
        Ok(outcome)
    }
}

/// [`Intake`] in one transaction of the embedded database (queue and store must share it).
#[derive(Debug, Clone)]
pub struct SqliteIntake {
    queue: SqliteQueue,
}

impl SqliteIntake {
    /// Claims go to the store tables of `queue`'s database.
    pub fn new(queue: SqliteQueue) -> Self {
        Self { queue }
    }
}

#[async_trait]
impl Intake for SqliteIntake {
    async fn claim_and_send(
        &self,
        claim: &DeliveryClaim,
        ttl: Duration,
        message: OutgoingMessage,
    ) -> Result<ClaimOutcome> {
        let claim = claim.clone();
        let ttl = ms(ttl);
        let queue = self.queue.clone();
        let outcome = self
            .queue
            .db()
            .write(move |conn| {
                let outcome = claim_tx(conn, &claim, ttl)?;
                if needs_send(outcome) {
                    queue.send_tx(conn, &message)?;
                }
                Ok(outcome)
            })
            .await?;
        if needs_send(outcome) {
            self.queue.announce();
        }
        Ok(outcome)
    }
}
