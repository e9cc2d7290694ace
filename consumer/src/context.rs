//! [`Consumer`]: what taking envelopes off a queue needs, built once per process and shared
//! by its pollers (or by each Lambda invocation).

use std::sync::Arc;

use coderipple_core::blob::BlobStore;
use coderipple_core::config::Settings;
use coderipple_core::metrics::Metrics;
use coderipple_core::queue::Queue;
use coderipple_core::store::Store;

use crate::port::ApplyChangeSet;

/// What a consumer needs, built once and shared by its tasks.
#[derive(Debug, Clone)]
pub struct Consumer {
    /// The events queue (its DLQ is reached through [`Queue::dead_letter`]).
    pub queue: Arc<dyn Queue>,
    /// Delivery records, parked repositories.
    pub store: Arc<dyn Store>,
    /// Claim-checked envelope bodies.
    pub blobs: Arc<dyn BlobStore>,
    /// Timeouts, holds, receive limits.
    pub settings: Settings,
    /// Where one metrics record per batch goes.
    pub metrics: Metrics,
    /// What applies a repository's change set.
    pub changes: Arc<dyn ApplyChangeSet>,
}
