//! [`IngestState`]: everything the webhook router needs, built once per process (or Lambda
//! container) from one [`Backend`].

use std::sync::Arc;

use coderipple_core::Backend;
use coderipple_core::blob::BlobStore;
use coderipple_core::config::Settings;
use coderipple_core::intake::Intake;
use coderipple_core::metrics::Metrics;
use coderipple_core::queue::Queue;
use coderipple_core::signature::Secrets;
use coderipple_core::store::Store;

/// Everything the router needs, built once per process (or Lambda container).
#[derive(Debug)]
pub struct IngestState {
    /// Accepted webhook secrets.
    pub secrets: Secrets,
    /// Claims deliveries and enqueues envelopes (the durable step before any 202).
    pub intake: Arc<dyn Intake>,
    /// The queue (health checks).
    pub queue: Arc<dyn Queue>,
    /// The store (ignored deliveries, health checks).
    pub store: Arc<dyn Store>,
    /// Claim-check storage for large envelopes.
    pub blobs: Arc<dyn BlobStore>,
    /// Limits and TTLs.
    pub settings: Settings,
    /// Backend name shown by `/health` (`sqlite`, `aws`).
    pub backend: String,
    /// Where one metrics record per request goes (EMF on stdout in Lambda).
    pub metrics: Metrics,
}

impl IngestState {
    /// The router's state over `backend`: its intake, queue, store, blobs and settings.
    pub fn new(backend: &Backend, secrets: Secrets, metrics: Metrics) -> Self {
        Self {
            secrets,
            intake: backend.intake.clone(),
            queue: backend.queue.clone(),
            store: backend.store.clone(),
            blobs: backend.blobs.clone(),
            settings: backend.settings.clone(),
            backend: backend.kind.name().into(),
            metrics,
        }
    }
}
