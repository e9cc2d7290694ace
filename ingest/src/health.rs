//! `GET /health`: version, backend and a live check of queue and store.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::IngestState;

pub(crate) async fn health(State(state): State<Arc<IngestState>>) -> (StatusCode, Json<Value>) {
    let (queue, store) = tokio::join!(state.queue.health(), state.store.health());
    let check = |r: &coderipple_core::Result<()>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            "unavailable".to_string()
        }
    };
    let healthy = queue.is_ok() && store.is_ok();
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if healthy { "ok" } else { "degraded" },
            "version": env!("CARGO_PKG_VERSION"),
            "backend": state.backend,
            "checks": {"queue": check(&queue), "store": check(&store)},
        })),
    )
}
