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

mod config;
mod factory;
mod git;
mod git_data;
mod github;
mod message;
mod pr_body;
mod pull_request;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
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

/// Attempts per publish (the first and its retries) before it is left pending.
const ATTEMPTS: usize = 3;

/// A publisher and how long its first retry waits (doubling after).
#[derive(Debug, Clone)]
pub struct Publishing {
    /// Where the docs go.
    pub publisher: Arc<dyn Publisher>,
    /// The first retry's delay.
    pub retry_delay: Duration,
    /// How often [`republish_pending`] runs (zero: never).
    pub republish_every: Duration,
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
/// fails: a failure is the outcome.
#[tracing::instrument(skip_all, fields(repo = %repo))]
pub async fn publish_repo(
    ctx: &WorkerContext,
    repo: &str,
    message: &str,
) -> Option<PublishOutcome> {
    let publishing = ctx.publishing.as_ref()?;
    let publisher = &publishing.publisher;
    let target = publisher.target(repo).unwrap_or_default();
    let result = attempt(ctx, publishing, repo, message).await;
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
            if let Err(e) = clear_pending(ctx, repo).await {
                tracing::warn!(error = %e, "published, but the pending record was not cleared");
            }
        }
        Err(e) => {
            let reason = e.to_string();
            tracing::warn!(%reason, target = %out.target, "docs not published; pending");
            if let Err(e) = ctx.store.mark_publish_pending(repo, &reason).await {
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

async fn attempt(
    ctx: &WorkerContext,
    publishing: &Publishing,
    repo: &str,
    message: &str,
) -> Result<Published, WorkerError> {
    let publisher = &publishing.publisher;
    if publisher.target(repo).is_none() {
        return Err(WorkerError::Permanent {
            class: "config",
            reason: format!("no docs remote is configured for {repo}"),
        });
    }
    let files = ctx.sink.read_all(repo).await?;
    let backoff = ExponentialBuilder::default()
        .with_min_delay(publishing.retry_delay)
        .with_max_delay(publishing.retry_delay * 8)
        .with_max_times(ATTEMPTS - 1)
        .with_jitter();
    let prose = match &ctx.writer {
        Some(writer) if publisher.shows_prose() => {
            let mut stats = coderipple_core::store::WriterStats::default();
            let pack = &ctx.agents.pack;
            let prose = writer
                .write(pack, repo, "pr_body", message, &mut stats)
                .await;
            for note in &stats.notes {
                tracing::info!(%note, "writer: the pull request's body keeps its deterministic text");
            }
            prose
        }
        _ => None,
    };
    (|| publisher.publish(repo, &files, message, prose.as_deref()))
        .retry(backoff)
        .when(WorkerError::is_retryable)
        .notify(|e, after: Duration| {
            tracing::info!(error = %e, retry_in_ms = after.as_millis() as u64, "publish failed; retrying");
        })
        .await
}

async fn clear_pending(ctx: &WorkerContext, repo: &str) -> coderipple_core::Result<()> {
    if ctx.store.publish_pending(repo).await?.is_some() {
        ctx.store.clear_publish_pending(repo).await?;
    }
    Ok(())
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
