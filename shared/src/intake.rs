//! [`Intake`]: ingest's one durable step: claim the delivery id, and put the envelope on the
//! queue unless an earlier copy is known to be there.
//!
//! [`ClaimThenSend`] does it with any store and queue (one conditional write, one send; on
//! AWS, DynamoDB and SQS). [`SqliteIntake`] does both in one transaction of the embedded
//! database: one round trip to the writer, and no claim can exist without its message.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::Result;
use crate::queue::sqlite::SqliteQueue;
use crate::queue::{OutgoingMessage, Queue};
use crate::store::sqlite::claim_tx;
use crate::store::{ClaimOutcome, DeliveryClaim, Store};
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
