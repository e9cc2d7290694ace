//! The [`Store`] trait: delivery dedup claims, idempotency records, repository state with a
//! version check, and a TTL cache; and its backends.
//!
//! Logical layout (one DynamoDB table on AWS): `DELIVERY#<id>` (claim and processing status,
//! TTL ≥ 7 days), `REPO#<owner/repo>` (agent state with `version`), `CACHE#<key>`.
//! Expired items are invisible to reads even where the backend deletes them late.

mod listing;
pub mod sqlite;
mod summary;

pub use listing::{DeliveryQuery, MAX_PAGE, RepoSummary};

pub use summary::{
    AgentDecision, CommitClass, ContentStats, ProcessingSummary, PublishOutcome, PublishStatus,
    WriterStats,
};

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// The most a repository's agent state may take, serialized as JSON (bytes). DynamoDB refuses
/// items over 400 KB; the rest of the item (keys, version, timestamps) and a margin fit in the
/// difference. The worker enforces it after every change set, so no history can outgrow it.
pub const STATE_BUDGET_BYTES: usize = 300 * 1024;

/// Where a delivery is in its life. Its stored name ([`DeliveryStatus::as_str`]) is written
/// once, and is what serde, SQLite and DynamoDB all use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(into = "&'static str", try_from = "String")]
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

    /// Every status, in life order.
    pub const ALL: [Self; 6] = [
        Self::Received,
        Self::Queued,
        Self::Ignored,
        Self::InProgress,
        Self::Completed,
        Self::Failed,
    ];

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the queue is known to hold (or have held) the delivery. `Received` is not:
    /// a worker has not seen it yet, and its enqueue may not have happened, so ingest sends
    /// a redelivery of it again (idempotently) before calling it a duplicate.
    pub fn confirms_enqueue(self) -> bool {
        !matches!(self, Self::Received)
    }
}

impl From<DeliveryStatus> for &'static str {
    fn from(status: DeliveryStatus) -> Self {
        status.as_str()
    }
}

impl TryFrom<String> for DeliveryStatus {
    type Error = String;

    fn try_from(name: String) -> std::result::Result<Self, String> {
        Self::parse(&name).ok_or_else(|| format!("unknown delivery status {name:?}"))
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
    /// Processing attempts begun (leases taken), whatever the queue's receive count says.
    #[serde(default)]
    pub attempts: u32,
}

/// [`Store::begin_processing`] of each id in turn; on an error, the leases this call took are
/// given back before the error is returned. The one implementation of "begin several".
pub async fn begin_each<S: Store + ?Sized>(
    store: &S,
    ids: &[String],
    repo: &str,
    owner: &str,
    lease: Duration,
    ttl: Duration,
) -> Result<Vec<BeginOutcome>> {
    let mut outcomes = Vec::with_capacity(ids.len());
    for id in ids {
        match store.begin_processing(id, repo, owner, lease, ttl).await {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => {
                for (started, outcome) in ids.iter().zip(&outcomes) {
                    if *outcome == BeginOutcome::Started
                        && let Err(release) = store.release_processing(started, owner).await
                    {
                        // An unreleased lease only delays a retry until it ends.
                        tracing::warn!(delivery = %started, error = %release, "lease not released");
                    }
                }
                return Err(e);
            }
        }
    }
    Ok(outcomes)
}

/// A repository whose events wait behind a head that was dead-lettered for a transient
/// reason: the rest of its group is dead-lettered as `parked` (in order, nothing applied) until
/// an operator replays or purges it, so its history is never applied out of order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedRepo {
    /// `owner/repo`.
    pub repo: String,
    /// The dead-lettered delivery the repository waits behind.
    pub head: String,
    /// Why the head was dead-lettered.
    pub reason: String,
    /// When it was parked (Unix ms).
    pub since_ms: i64,
}

/// The message attribute of a replayed copy that may pass its repository's park: the
/// [`ParkedRepo::lift_token`] of the park the replay is lifting. A replay keeps the park while
/// it sends the parked history back, and lifts it only after the last message was sent, so
/// events that arrive meanwhile are dead-lettered behind it (and replayed after) instead of
/// overtaking that history; the copies themselves go through.
pub const LIFTS_PARK_ATTR: &str = "lifts_park";

impl ParkedRepo {
    /// Names this park and no later one of the repository: `since_ms:head`.
    pub fn lift_token(&self) -> String {
        format!("{}:{}", self.since_ms, self.head)
    }
}

/// A repository whose docs are not yet in its git repository: the last publish failed (the
/// remote refused, was unreachable, or the credentials do not reach it). Its events still
/// count as applied; the next change set of the repository, the worker's sweep or
/// `coderipple publish` publishes again, from the stored docs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPublish {
    /// `owner/repo`.
    pub repo: String,
    /// Why the last attempt failed.
    pub reason: String,
    /// When the first failed attempt was (Unix ms).
    pub since_ms: i64,
    /// Failed attempts since the last successful publish.
    pub attempts: u32,
    /// The newest repository state version whose docs a failed attempt held (read before its
    /// docs): only a publish of this version or a later one clears the record.
    #[serde(default)]
    pub version: u64,
}

/// A repository whose events wait for the pushes before them (see the worker's history
/// order): when its wait ends, the gap sweep wakes it even if no other event comes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryGap {
    /// `owner/repo`.
    pub repo: String,
    /// When the oldest waiting event's wait ends (Unix ms).
    pub due_ms: i64,
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

    /// Takes the processing lease of a delivery for `owner` (a token made for one attempt),
    /// unless it completed or is leased elsewhere; counts the attempt. Creates the record when
    /// there is none (e.g. messages replayed after its TTL).
    async fn begin_processing(
        &self,
        id: &str,
        repo: &str,
        owner: &str,
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
        owner: &str,
        lease: Duration,
        ttl: Duration,
    ) -> Result<Vec<BeginOutcome>> {
        begin_each(self, ids, repo, owner, lease, ttl).await
    }

    /// Extends `owner`'s leases of `ids` to `lease` from now. [`crate::error::Error::Conflict`] when
    /// one is no longer `owner`'s (it expired and another worker took it, or it ended).
    async fn renew_processing(&self, ids: &[String], owner: &str, lease: Duration) -> Result<()>;

    /// Marks deliveries completed with a summary, if `owner` still holds their leases. Final.
    /// [`crate::error::Error::Conflict`] (nothing changed) when one is no longer `owner`'s.
    async fn complete_processing(
        &self,
        ids: &[String],
        owner: &str,
        summary: &serde_json::Value,
    ) -> Result<()>;

    /// Marks a delivery failed (dead-lettered) with a reason. A replay may start it again.
    async fn fail_processing(&self, id: &str, reason: &serde_json::Value) -> Result<()>;

    /// Gives up `owner`'s lease without completing (the message goes back to the queue); a
    /// lease that is not `owner`'s any more is left alone.
    async fn release_processing(&self, id: &str, owner: &str) -> Result<()>;

    /// One delivery's record.
    async fn delivery(&self, id: &str) -> Result<Option<DeliveryRecord>>;

    /// Number of live delivery records by status.
    async fn delivery_counts(&self) -> Result<BTreeMap<String, u64>>;

    /// Deliveries matching `query`, newest first (for operators; a scan on DynamoDB).
    async fn list_deliveries(&self, query: &DeliveryQuery) -> Result<Vec<DeliveryRecord>>;

    /// Every repository that has state, by name (for operators; a scan on DynamoDB).
    async fn list_repos(&self) -> Result<Vec<RepoSummary>>;

    /// A repository's state.
    async fn repo_state(&self, repo: &str) -> Result<Option<RepoState>>;

    /// The version of a repository's state, without the state (the docs' fence check).
    async fn repo_version(&self, repo: &str) -> Result<Option<u64>> {
        Ok(self.repo_state(repo).await?.map(|s| s.version))
    }

    /// Writes a repository's state if its version is still `expected` (`None`: must not
    /// exist). Returns the new version; [`crate::error::Error::Conflict`] when someone else wrote.
    async fn put_repo_state(
        &self,
        repo: &str,
        expected: Option<u64>,
        state: &serde_json::Value,
    ) -> Result<u64>;

    /// Parks a repository (see [`ParkedRepo`]); an existing park keeps its head and reason.
    async fn park_repo(&self, parked: &ParkedRepo) -> Result<()>;

    /// The park of a repository, if any.
    async fn parked_repo(&self, repo: &str) -> Result<Option<ParkedRepo>>;

    /// Every parked repository (for operators; a scan on DynamoDB).
    async fn parked_repos(&self) -> Result<Vec<ParkedRepo>>;

    /// Lifts a repository's park (once its dead letters were sent back, or its head purged).
    async fn unpark_repo(&self, repo: &str) -> Result<()>;

    /// Records a failed publish of `repo`'s docs, which held the docs of state `version`: a
    /// new record, or one more attempt (with this reason) on the existing one, which keeps its
    /// `since_ms` and the greater of the two versions.
    async fn mark_publish_pending(&self, repo: &str, reason: &str, version: u64) -> Result<()>;

    /// The pending publish of a repository, if any.
    async fn publish_pending(&self, repo: &str) -> Result<Option<PendingPublish>>;

    /// Every repository with a pending publish (a scan on DynamoDB).
    async fn pending_publishes(&self) -> Result<Vec<PendingPublish>>;

    /// Clears a repository's pending publish, if its version is at most `version` (the docs of
    /// that state version were published); whether nothing is pending now. A record of a newer
    /// version stays: a publish of older docs never clears it.
    async fn clear_publish_pending(&self, repo: &str, version: u64) -> Result<bool>;

    /// Records that `repo` has events waiting for their history until `due_ms`.
    async fn mark_history_gap(&self, repo: &str, due_ms: i64) -> Result<()>;

    /// Every repository with waiting events, by repository.
    async fn history_gaps(&self) -> Result<Vec<HistoryGap>>;

    /// `repo` has no events waiting any more.
    async fn clear_history_gap(&self, repo: &str) -> Result<()>;

    /// A cached value, unless expired.
    async fn cache_get(&self, key: &str) -> Result<Option<serde_json::Value>>;

    /// Caches a value for `ttl`.
    async fn cache_put(&self, key: &str, value: &serde_json::Value, ttl: Duration) -> Result<()>;

    /// Adds `delta` to the counter `key` and returns its new total. Atomic: adds made at the
    /// same time are all counted. A counter starts at 0 and lives `ttl` from its first add;
    /// after that the next add starts it again from 0 (name a counter by its period, such as
    /// a day, rather than relying on this). `delta` 0 reads it.
    async fn counter_add(&self, key: &str, delta: u64, ttl: Duration) -> Result<u64>;

    /// Whether the store can take a write right now (for `/health`).
    async fn health(&self) -> Result<()>;
}
