//! # coderipple-ingest
//!
//! The webhook HTTP router, one for the local server (`POST /webhook`) and the Lambda
//! Function URL (`POST /`). It verifies the raw body before parsing anything, claims the
//! delivery id, stores the normalized envelope on the queue and only then answers 202.
//!
//! - [`router`] / [`IngestState`]: what the binaries build once and serve.
//! - `handler`: the webhook flow, row by row of the status table in
//!   `docs/http-contract.md`.
//! - `state`: [`IngestState`], built once from a `Backend`.
//! - `error`: [`IngestError`], which maps every failure to its status (4xx with a short
//!   reason, 5xx logged and opaque, 503 with `Retry-After`).
//! - `health`: `GET /health`.
//! - [`serve`]: the local HTTP server around the router, with its timeouts, limits and
//!   bounded shutdown (the Lambda Function URL does not use it).

mod error;
mod handler;
mod health;
pub mod serve;
mod state;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use error::IngestError;
pub use handler::WebhookResponse;
pub use serve::{Stopped, serve};
pub use state::IngestState;

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
