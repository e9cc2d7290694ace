//! Publishing docs into the repository (`CODERIPPLE_DOC_STRATEGY`).
//!
//! State and the store's docs are applied first; publishing then commits the repository's
//! whole stored docs tree, so it is idempotent (the same tree → no commit) and catches up on
//! whatever an earlier failed publish missed. It never blocks the queue: a transient failure
//! is retried here a few times with backoff, and whatever still fails leaves the events
//! applied and the repository's publish *pending* with its reason (the store's
//! [`PendingPublish`](coderipple_core::store::PendingPublish), `status`, the
//! `DocsPublishFailed` metric), published again by its next change set, the worker's sweep
//! or `coderipple publish`.
//!
//! This module holds the publishers and their settings; the publish *step* (after a change
//! set, `coderipple publish`, the republisher) is the pipeline's (`publish_step`).
//!
//! Older docs never win over newer ones: one publish per repository at a time in a process
//! (a lock per repository), and across processes a fence on the repository's state version
//! (the pipeline's `fence` module): every try reads the state version and then the docs afresh, a publish
//! that finds newer docs stored after it publishes those too, and a pending record is cleared
//! only by a publish of its version or a newer one.

mod config;
mod credentials;
mod direct_commits;
mod factory;
mod git;
mod git_data;
mod message;
mod pr_body;
mod pull_request;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

pub use config::{DocStrategy, Identity, PublishConfig};
pub use direct_commits::GitHubDirect;
pub use message::{commit_message, message_for};
pub use pull_request::GitHubPullRequest;

use coderipple_core::WorkerError;
use coderipple_engine::DocFile;

/// What a successful publish did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// A commit holding the changed files was pushed.
    Committed {
        /// Its sha.
        commit: String,
    },
    /// The repository already held this tree.
    Unchanged,
}

/// Delivers a repository's docs tree somewhere users read it.
#[async_trait]
pub trait Publisher: Send + Sync + std::fmt::Debug {
    /// The strategy's name (`git`, `github_direct`, `github_pr`).
    fn strategy(&self) -> &'static str;

    /// Where `repo`'s docs go (shown to operators; never holds credentials), or `None` when
    /// this publisher has nowhere to put them.
    fn target(&self, repo: &str) -> Option<String>;

    /// Remembers which GitHub App installation `repo` belongs to (from its webhooks), so
    /// publishing needs no lookup. Only the GitHub strategies care.
    fn note_installation(&self, _repo: &str, _installation: u64) {}

    /// Whether a model-written summary of an update would be shown (a pull request's body):
    /// only then is the LLM writer asked for one.
    fn shows_prose(&self) -> bool {
        false
    }

    /// Commits `files` (the repository's whole docs tree) with `message`; `prose` is the
    /// LLM writer's summary of the update, when [`Publisher::shows_prose`] and it wrote one.
    /// Transient errors may pass on a retry; permanent ones need an operator.
    async fn publish(
        &self,
        repo: &str,
        files: &[DocFile],
        message: &str,
        prose: Option<&str>,
    ) -> Result<Published, WorkerError>;
}

/// A publisher and how long its first retry waits (doubling after).
#[derive(Debug, Clone)]
pub struct Publishing {
    /// Where the docs go.
    pub publisher: Arc<dyn Publisher>,
    /// The first retry's delay.
    pub retry_delay: Duration,
    /// How often `republish_pending` runs (zero: never).
    pub republish_every: Duration,
    /// One lock per repository: one publish of a repository at a time in this process.
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl Publishing {
    /// Publishing through `publisher`.
    pub fn new(
        publisher: Arc<dyn Publisher>,
        retry_delay: Duration,
        republish_every: Duration,
    ) -> Self {
        Self {
            publisher,
            retry_delay,
            republish_every,
            locks: Arc::default(),
        }
    }

    /// Waits for `repo`'s turn: held until the returned guard is dropped.
    pub(crate) async fn turn(&self, repo: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            // Locks nobody holds or waits for are dropped, so the map stays small.
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            locks.entry(repo.to_owned()).or_default().clone()
        };
        lock.lock_owned().await
    }
}
