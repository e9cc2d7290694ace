//! [`IngestError`]: every way a webhook request can fail, mapped to its HTTP status.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coderipple_core::Error;
use serde_json::json;

/// Seconds a client is asked to wait after a 503.
pub const RETRY_AFTER_SECS: u32 = 5;

/// A failed webhook request.
#[derive(Debug)]
pub struct IngestError(pub Error);

impl From<Error> for IngestError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl IngestError {
    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self.0, "webhook not accepted");
            let mut resp = (
                status,
                Json(json!({"error": "temporarily unavailable, retry later"})),
            )
                .into_response();
            if status == StatusCode::SERVICE_UNAVAILABLE {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            }
            resp
        } else {
            tracing::info!(status = status.as_u16(), reason = %self.0, "webhook rejected");
            (status, Json(json!({"error": self.0.to_string()}))).into_response()
        }
    }
}
