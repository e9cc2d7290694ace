//! The webhook flow. Order matters: limits and content type from headers, the body read
//! under the limit, the signature over the raw bytes, then parsing, the dedup claim, the
//! enqueue, and only then the 202.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use coderipple_core::envelope::Envelope;
use coderipple_core::intake::{self, Accepted};
use coderipple_core::metrics::{MetricSet, Unit};
use coderipple_core::signature::SIGNATURE_HEADER;
use coderipple_core::store::{DeliveryClaim, DeliveryStatus};
use coderipple_core::webhook::{self, Parsed};
use coderipple_core::{Error, Result};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::json;

use crate::error::IngestError;
use crate::state::IngestState;

/// A successful answer to GitHub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookResponse {
    /// 202: stored on the queue.
    Queued(String),
    /// 200: this delivery id was queued before.
    Duplicate(String),
    /// 200: answer to `ping`.
    Pong,
    /// 202: valid but not processed.
    Ignored(String),
}

impl IntoResponse for WebhookResponse {
    fn into_response(self) -> Response {
        match self {
            Self::Queued(d) => (
                StatusCode::ACCEPTED,
                Json(json!({"delivery": d, "status": "queued"})),
            ),
            Self::Duplicate(d) => (
                StatusCode::OK,
                Json(json!({"delivery": d, "status": "duplicate"})),
            ),
            Self::Pong => (StatusCode::OK, Json(json!({"status": "pong"}))),
            Self::Ignored(reason) => (
                StatusCode::ACCEPTED,
                Json(json!({"status": "ignored", "reason": reason})),
            ),
        }
        .into_response()
    }
}

/// The route: the webhook flow, then one metrics record for the request.
pub(crate) async fn webhook(
    State(state): State<Arc<IngestState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<WebhookResponse, IngestError> {
    let started = Instant::now();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let result = handle(&state, &headers, declared, body).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut m = MetricSet::for_function("ingest");
    m.count("WebhooksReceived", 1);
    m.millis("IngestLatency", elapsed_ms);
    if let Some(bytes) = declared {
        m.add("PayloadBytes", Unit::Bytes, bytes as f64);
    }
    let outcome = match &result {
        Ok(WebhookResponse::Queued(_)) => {
            m.millis("EnqueueLatency", elapsed_ms);
            "WebhooksQueued"
        }
        Ok(WebhookResponse::Duplicate(_)) => "WebhooksDuplicate",
        Ok(WebhookResponse::Pong) => "Pings",
        Ok(WebhookResponse::Ignored(_)) => "WebhooksIgnored",
        Err(e) if e.status().is_client_error() => "WebhooksRejected",
        Err(_) => "WebhooksUnavailable",
    };
    m.count(outcome, 1);
    state.metrics.emit(&m);
    result
}

#[tracing::instrument(skip_all, fields(delivery, event, repo))]
async fn handle(
    state: &Arc<IngestState>,
    headers: &HeaderMap,
    declared: Option<u64>,
    body: Body,
) -> Result<WebhookResponse, IngestError> {
    let limit = state.settings.max_body_bytes;
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Error::PayloadTooLarge { limit }.into());
    }
    let kind = webhook::content_kind(text(headers, header::CONTENT_TYPE.as_str()))?;
    let raw = read_limited(body, limit).await?;
    state
        .secrets
        .verify(text(headers, SIGNATURE_HEADER), &raw)?;
    let event = text(headers, "x-github-event")
        .ok_or_else(|| Error::BadRequest("missing X-GitHub-Event header".into()))?;
    let delivery = text(headers, "x-github-delivery")
        .ok_or_else(|| Error::BadRequest("missing X-GitHub-Delivery header".into()))?;
    // The delivery id keys the claim, the queue's dedup id and a claim-checked body: refused
    // now, with a reason, if any of them would refuse it later.
    webhook::validate_delivery_id(delivery)?;
    let span = tracing::Span::current();
    span.record("delivery", delivery);
    span.record("event", event);
    let payload = webhook::decode_body(kind, &raw)?;
    match webhook::parse(event, delivery, &payload, Utc::now())? {
        Parsed::Ping => Ok(WebhookResponse::Pong),
        Parsed::Ignored { reason, repo } => {
            record_ignored(state, delivery, event, repo).await;
            tracing::debug!(%reason, "event ignored");
            Ok(WebhookResponse::Ignored(reason))
        }
        Parsed::Event(envelope) => {
            span.record("repo", envelope.repo.as_str());
            Ok(accept_envelope(state, *envelope).await?)
        }
    }
}

/// The intake step for one envelope ([`coderipple_core::intake::accept`]) over `state`.
async fn accept_envelope(state: &IngestState, envelope: Envelope) -> Result<WebhookResponse> {
    let delivery = envelope.delivery.clone();
    Ok(
        match intake::accept(&*state.intake, &*state.blobs, &state.settings, envelope).await? {
            Accepted::Queued => WebhookResponse::Queued(delivery),
            Accepted::Duplicate => WebhookResponse::Duplicate(delivery),
        },
    )
}

/// Records an ignored delivery before the answer. Awaited, never spawned: in Lambda the
/// process is frozen once the response is out, so a task left running would not finish (or
/// would finish in a later invocation). A failure is logged; the answer is still 202 ignored.
async fn record_ignored(state: &IngestState, delivery: &str, event: &str, repo: Option<String>) {
    let claim = DeliveryClaim {
        id: delivery.to_owned(),
        repo,
        event: event.to_owned(),
        status: DeliveryStatus::Ignored,
    };
    if let Err(e) = state
        .store
        .claim_delivery(&claim, state.settings.dedup_ttl)
        .await
    {
        tracing::warn!(error = %e, "could not record ignored delivery");
    }
}

async fn read_limited(body: Body, limit: usize) -> Result<Bytes> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(Error::PayloadTooLarge { limit })
        }
        Err(e) => Err(Error::BadRequest(format!("could not read body: {e}"))),
    }
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}
