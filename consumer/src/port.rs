//! [`ApplyChangeSet`]: the one thing the consumer calls, and the only way it reaches the
//! worker. Its answer alone decides what happens to the messages.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use coderipple_core::WorkerError;
use coderipple_core::envelope::Envelope;

/// The port: applies one repository's consecutive events as one change set. The consumer
/// decides what happens to the messages from the answer alone: `Ok` deletes them; a
/// retryable error sends them (and every later message of the repository) back; a
/// permanent one dead-letters them with its class and reason, one event at a time so that
/// only the poison one goes.
#[async_trait]
pub trait ApplyChangeSet: Send + Sync + std::fmt::Debug {
    /// Applies `envelopes` (of `repo`, in queue order, claim-checks already resolved).
    /// `lease` is how long the deliveries' processing leases must last; `deadline`, inside
    /// Lambda, is when the invocation ends (work that cannot finish by then should be left
    /// for later, not cut off).
    async fn apply_change_set(
        &self,
        repo: &str,
        envelopes: &[Envelope],
        lease: Duration,
        deadline: Option<Instant>,
    ) -> Result<(), WorkerError>;
}
