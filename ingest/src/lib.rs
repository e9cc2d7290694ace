//! # coderipple-ingest
//!
//! The webhook HTTP router, one for the local server (`POST /webhook`) and the Lambda
//! Function URL (`POST /`). It verifies the raw body before parsing anything, claims the
//! delivery id, stores the normalized envelope on the queue and only then answers 202.
//!
//! - [`router`] / [`IngestState`]: what the binaries build once and serve.
//! - `handler`: the webhook flow, row by row of the status table in the README's *Ingest
//!   HTTP contract*.
//! - `error`: [`IngestError`], which maps every failure to its status (4xx with a short
//!   reason, 5xx logged and opaque, 503 with `Retry-After`).
//! - `health`: `GET /health`.
//! - [`serve`]: the local HTTP server around the router, with its timeouts, limits and
//!   bounded shutdown (the Lambda Function URL does not use it).

mod error;
mod handler;
mod health;
pub mod serve;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use coderipple_core::Backend;
use coderipple_core::blob::BlobStore;
use coderipple_core::config::Settings;
use coderipple_core::intake::Intake;
use coderipple_core::metrics::Metrics;
use coderipple_core::queue::Queue;
use coderipple_core::signature::Secrets;
use coderipple_core::store::Store;

pub use error::IngestError;
pub use handler::WebhookResponse;
pub use serve::{Stopped, serve};

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

/// The ingest router: `POST /webhook`, `POST /` and `GET /health`.
pub fn router(state: Arc<IngestState>) -> Router {
    Router::new()
        .route("/webhook", post(handler::webhook))
        .route("/", post(handler::webhook))
        .route("/health", get(health::health))
        // The handler enforces the configured limit itself, while reading.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}
