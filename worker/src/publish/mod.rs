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
//! Older docs never win over newer ones: one publish per repository at a time in a process
//! (a lock per repository), and across processes a fence on the repository's state version
//! (the `fence` module): every try reads the state version and then the docs afresh, a publish
//! that finds newer docs stored after it publishes those too, and a pending record is cleared
//! only by a publish of its version or a newer one.

mod config;
mod credentials;
mod factory;
mod fence;
mod git;
mod git_data;
mod github;
mod message;
mod pr_body;
mod pull_request;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use coderipple_core::envelope::Envelope;
use coderipple_core::metrics::MetricSet;
use coderipple_core::store::{AgentDecision, PublishOutcome, PublishStatus};
use tokio_util::sync::CancellationToken;

pub use config::{DocStrategy, Identity, PublishConfig};
pub use github::GitHubDirect;
pub use message::{commit_message, message_for};
pub use pull_request::GitHubPullRequest;

use crate::sink::DocFile;
use crate::{WorkerContext, WorkerError};

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
    /// How often [`republish_pending`] runs (zero: never).
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
    async fn turn(&self, repo: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            // Locks nobody holds or waits for are dropped, so the map stays small.
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            locks.entry(repo.to_owned()).or_default().clone()
        };
        lock.lock_owned().await
    }
}

/// Publishes `repo`'s stored docs after a change set of `envelopes`; `None` when nothing is
/// published (the `store` strategy, or no target for this repository).
pub async fn after_change_set(
    ctx: &WorkerContext,
    repo: &str,
    envelopes: &[Envelope],
    agents: &[AgentDecision],
) -> Option<PublishOutcome> {
    let publisher = &ctx.publishing.as_ref()?.publisher;
    publisher.target(repo)?;
    if let Some(id) = envelopes.iter().rev().find_map(|e| e.installation) {
        publisher.note_installation(repo, id);
    }
    publish_repo(ctx, repo, &commit_message(envelopes, agents)).await
}

/// Publishes `repo`'s whole stored docs tree with `message` (retrying transient failures),
/// then clears or records its pending publish; `None` with the `store` strategy. Never
/// fails: a failure is the outcome. Waits while another publish of `repo` runs here.
#[tracing::instrument(skip_all, fields(repo = %repo))]
pub async fn publish_repo(
    ctx: &WorkerContext,
    repo: &str,
    message: &str,
) -> Option<PublishOutcome> {
    let publishing = ctx.publishing.as_ref()?;
    let _turn = publishing.turn(repo).await;
    let publisher = &publishing.publisher;
    let target = publisher.target(repo).unwrap_or_default();
    let result = fence::publish(ctx, publishing, repo, message).await;
    let mut out = PublishOutcome {
        strategy: publisher.strategy().into(),
        target,
        status: PublishStatus::Unchanged,
        commit: None,
        reason: None,
    };
    match result {
        Ok(published) => {
            if let Published::Committed { commit } = published {
                tracing::info!(%commit, target = %out.target, "docs published");
                out.status = PublishStatus::Published;
                out.commit = Some(commit);
            }
        }
        Err(failed) => {
            let reason = failed.error.to_string();
            tracing::warn!(%reason, target = %out.target, "docs not published; pending");
            if let Err(e) = ctx
                .store
                .mark_publish_pending(repo, &reason, failed.version)
                .await
            {
                tracing::error!(error = %e, "the pending publish could not be recorded");
            }
            let mut m =
                MetricSet::for_function("worker").with_dimension("Strategy", publisher.strategy());
            m.count("DocsPublishFailed", 1);
            ctx.metrics.emit(&m);
            out.status = PublishStatus::Pending;
            out.reason = Some(reason);
        }
    }
    Some(out)
}

/// Publishes every pending repository again, every [`Publishing::republish_every`], until
/// `cancel` (run by long-running workers; a Lambda worker relies on the next change set and
/// `coderipple publish --pending`).
pub async fn republish_pending(ctx: Arc<WorkerContext>, cancel: CancellationToken) {
    let Some(every) = ctx.publishing.as_ref().map(|p| p.republish_every) else {
        return;
    };
    if every.is_zero() {
        return;
    }
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let pending = match ctx.store.pending_publishes().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "pending publishes not listed; trying again next time");
                continue;
            }
        };
        for p in pending {
            if cancel.is_cancelled() {
                return;
            }
            let message = message_for("publish the docs a failed publish left out");
            publish_repo(&ctx, &p.repo, &message).await;
        }
    }
}
