//! The publish step: after a change set, on `coderipple publish`, and on the republisher's
//! schedule, a repository's stored docs go out through its [`Publisher`](crate::publish::Publisher)
//! (fenced on the state version, see `fence`); a failure is recorded as a pending publish
//! with its reason and counted (`DocsPublishFailed`), never returned.

use std::sync::Arc;

use coderipple_core::envelope::Envelope;
use coderipple_core::metrics::MetricSet;
use coderipple_core::store::{AgentDecision, PublishOutcome, PublishStatus};
use tokio_util::sync::CancellationToken;

use super::fence;
use crate::context::WorkerContext;
use crate::publish::{Published, commit_message, message_for};

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

/// Publishes every pending repository again, every [`Publishing::republish_every`](crate::publish::Publishing::republish_every), until
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
