//! The [`Store`] trait: delivery dedup claims, idempotency records, repository state with a
//! version check, and a TTL cache; and its backends.
//!
//! Logical layout (one DynamoDB table on AWS): `DELIVERY#<id>` (claim and processing status,
//! TTL ≥ 7 days), `REPO#<owner/repo>` (agent state with `version`), `CACHE#<key>`.
//! Expired items are invisible to reads even where the backend deletes them late.

pub mod sqlite;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;

/// Where a delivery is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Claimed by ingest; not yet confirmed on the queue.
    Received,
    /// On the queue.
    Queued,
    /// Not an event CodeRipple processes.
    Ignored,
    /// A worker holds a lease on it.
    InProgress,
    /// Applied; never run again.
    Completed,
    /// Sent to the dead-letter queue.
    Failed,
}

impl DeliveryStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Queued => "queued",
            Self::Ignored => "ignored",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "received" => Self::Received,
            "queued" => Self::Queued,
            "ignored" => Self::Ignored,
            "in_progress" => Self::InProgress,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            _ => return None,
        })
    }

    /// Whether the queue is known to hold (or have held) the delivery. `Received` is not:
    /// a worker has not seen it yet, and its enqueue may not have happened, so ingest sends
    /// a redelivery of it again (idempotently) before calling it a duplicate.
    pub fn confirms_enqueue(self) -> bool {
        !matches!(self, Self::Received)
    }
}

/// A new delivery as ingest claims it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryClaim {
    /// `X-GitHub-Delivery`.
    pub id: String,
    /// `owner/repo`, when known.
    pub repo: Option<String>,
    /// GitHub event name.
    pub event: String,
    /// `Received` for events to queue, `Ignored` for the rest.
    pub status: DeliveryStatus,
}

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// First time this id is seen (or its previous record expired).
    Claimed,
    /// Seen before, with this status.
    Existing(DeliveryStatus),
}

/// What starting to process a delivery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeginOutcome {
    /// The caller now holds the lease.
    Started,
    /// Already applied: skip it.
    AlreadyCompleted,
    /// Another worker holds a live lease until this time (Unix ms).
    LeasedElsewhere {
        /// Lease end.
        until_ms: i64,
    },
}

/// A delivery record as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// Delivery id.
    pub id: String,
    /// Repository, when known.
    pub repo: Option<String>,
    /// GitHub event name, when known.
    pub event: Option<String>,
    /// Status.
    pub status: DeliveryStatus,
    /// Processing summary (completed) or failure reason (failed).
    pub detail: Option<serde_json::Value>,
    /// Last change (Unix ms).
    pub updated_at_ms: i64,
}

/// A repository's agent state and its version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepoState {
    /// Incremented by every successful write.
    pub version: u64,
    /// The agents' state.
    pub state: serde_json::Value,
}

/// The store every backend implements.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Claims a delivery id for `ttl`, unless a live record exists.
    async fn claim_delivery(&self, claim: &DeliveryClaim, ttl: Duration) -> Result<ClaimOutcome>;

    /// Takes the processing lease of a delivery, unless it completed or is leased elsewhere.
    /// Creates the record when there is none (e.g. messages replayed after its TTL).
    async fn begin_processing(
        &self,
        id: &str,
        repo: &str,
        lease: Duration,
        ttl: Duration,
    ) -> Result<BeginOutcome>;

    /// [`Store::begin_processing`] for several deliveries of one repository (a coalesced
    /// change set), one outcome per id in order. Backends may do it in one request; if it
    /// fails, no lease taken by this call is kept.
    async fn begin_processing_many(
        &self,
        ids: &[String],
        repo: &str,
        lease: Duration,
        ttl: Duration,
    ) -> Result<Vec<BeginOutcome>> {
        let mut outcomes = Vec::with_capacity(ids.len());
        for id in ids {
            match self.begin_processing(id, repo, lease, ttl).await {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => {
                    for (started, outcome) in ids.iter().zip(&outcomes) {
                        if *outcome == BeginOutcome::Started {
                            // Best effort: an unreleased lease only delays a retry until it ends.
                            let _ = self.release_processing(started).await;
                        }
                    }
                    return Err(e);
                }
            }
        }
        Ok(outcomes)
    }

    /// Marks deliveries completed with a summary. Final.
    async fn complete_processing(&self, ids: &[String], summary: &serde_json::Value) -> Result<()>;

    /// Marks a delivery failed (dead-lettered) with a reason. A replay may start it again.
    async fn fail_processing(&self, id: &str, reason: &serde_json::Value) -> Result<()>;

    /// Gives up a lease without completing (the message goes back to the queue).
    async fn release_processing(&self, id: &str) -> Result<()>;

    /// One delivery's record.
    async fn delivery(&self, id: &str) -> Result<Option<DeliveryRecord>>;

    /// Number of live delivery records by status.
    async fn delivery_counts(&self) -> Result<BTreeMap<String, u64>>;

    /// A repository's state.
    async fn repo_state(&self, repo: &str) -> Result<Option<RepoState>>;

    /// Writes a repository's state if its version is still `expected` (`None`: must not
    /// exist). Returns the new version; [`crate::Error::Conflict`] when someone else wrote.
    async fn put_repo_state(
        &self,
        repo: &str,
        expected: Option<u64>,
        state: &serde_json::Value,
    ) -> Result<u64>;

    /// A cached value, unless expired.
    async fn cache_get(&self, key: &str) -> Result<Option<serde_json::Value>>;

    /// Caches a value for `ttl`.
    async fn cache_put(&self, key: &str, value: &serde_json::Value, ttl: Duration) -> Result<()>;

    /// Whether the store can take a write right now (for `/health`).
    async fn health(&self) -> Result<()>;
}
