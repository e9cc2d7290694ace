//! One publish of a repository, fenced on its state version so that older docs never win.
//!
//! Each try reads the repository's state version, then its stored docs (never files read by
//! an earlier try), and hands them to the publisher. After a publish went through:
//!
//! 1. the pending record is cleared **only if its version is at most the one read** (a store
//!    condition): a publish of older docs never clears the record a newer, failed publish
//!    left;
//! 2. the version and the docs are read again: when a newer state (or its docs) was stored
//!    meanwhile — another process published it, or is about to, or failed to — this publish
//!    goes again with the newer docs, so the last publish to finish always holds the newest.
//!
//! Transient failures are retried with backoff; whatever still fails is returned with the
//! version read, which the pending record keeps.

use backon::{BackoffBuilder, ExponentialBuilder};

use coderipple_core::WorkerError;
use coderipple_engine::DocFile;

use crate::context::WorkerContext;
use crate::publish::{Published, Publishing};

/// Attempts per publish (the first and its retries) before it is left pending.
const ATTEMPTS: usize = 3;
/// Publishes of newer docs, stored while one ran, before the publish is left pending.
const FENCE_ROUNDS: usize = 3;

/// A publish that failed, and the state version of the docs it tried.
#[derive(Debug)]
pub(super) struct Failed {
    pub error: WorkerError,
    pub version: u64,
}

/// What one try read: the state version, then the docs.
struct Snapshot {
    version: u64,
    files: Vec<DocFile>,
}

async fn snapshot(ctx: &WorkerContext, repo: &str) -> Result<Snapshot, WorkerError> {
    let version = ctx.store.repo_version(repo).await?.unwrap_or(0);
    let files = ctx.sink.read_all(repo).await?;
    Ok(Snapshot { version, files })
}

/// Publishes `repo`'s stored docs, fenced (see the module docs).
pub(super) async fn publish(
    ctx: &WorkerContext,
    publishing: &Publishing,
    repo: &str,
    message: &str,
) -> Result<Published, Failed> {
    let publisher = &publishing.publisher;
    let failed = |error, version| Failed { error, version };
    if publisher.target(repo).is_none() {
        let reason = format!("no docs remote is configured for {repo}");
        let error = WorkerError::Permanent {
            class: "config",
            reason,
        };
        return Err(failed(error, 0));
    }
    let prose = prose(ctx, publishing, repo, message).await;
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(publishing.retry_delay)
        .with_max_delay(publishing.retry_delay * 8)
        .with_max_times(ATTEMPTS - 1)
        .with_jitter()
        .build();
    let mut read = snapshot(ctx, repo).await.map_err(|e| failed(e, 0))?;
    let mut done: Option<Published> = None;
    let mut rounds = 0;
    loop {
        let published = publisher
            .publish(repo, &read.files, message, prose.as_deref())
            .await;
        match published {
            Ok(published) => {
                // A round that changed nothing does not hide an earlier round's commit.
                if done.is_none() || matches!(published, Published::Committed { .. }) {
                    done = Some(published);
                }
                clear_pending(ctx, repo, read.version).await;
                let now = snapshot(ctx, repo)
                    .await
                    .map_err(|e| failed(e, read.version))?;
                if now.version == read.version && now.files == read.files {
                    return Ok(done.unwrap_or(Published::Unchanged));
                }
                rounds += 1;
                if rounds >= FENCE_ROUNDS {
                    let error = WorkerError::transient(format!(
                        "the docs of {repo} kept changing during {FENCE_ROUNDS} publishes"
                    ));
                    return Err(failed(error, now.version));
                }
                tracing::info!(
                    published = read.version,
                    stored = now.version,
                    "newer docs were stored during the publish; publishing them"
                );
                read = now;
            }
            Err(e) if e.is_retryable() => match delays.next() {
                Some(after) => {
                    tracing::info!(error = %e, retry_in_ms = after.as_millis() as u64, "publish failed; retrying");
                    tokio::time::sleep(after).await;
                    // A retry publishes what is stored now, never files read before.
                    read = snapshot(ctx, repo)
                        .await
                        .map_err(|e| failed(e, read.version))?;
                }
                None => return Err(failed(e, read.version)),
            },
            Err(e) => return Err(failed(e, read.version)),
        }
    }
}

/// The LLM writer's summary of the update, when the publisher shows one.
async fn prose(
    ctx: &WorkerContext,
    publishing: &Publishing,
    repo: &str,
    message: &str,
) -> Option<String> {
    let writer = ctx.writer.as_ref()?;
    if !publishing.publisher.shows_prose() {
        return None;
    }
    let mut stats = coderipple_core::store::WriterStats::default();
    let prose = writer
        .write(&ctx.agents.pack, repo, "pr_body", message, &mut stats)
        .await;
    for note in &stats.notes {
        tracing::info!(%note, "writer: the pull request's body keeps its deterministic text");
    }
    prose
}

/// Clears `repo`'s pending record if it is of `version` or older (a store condition).
async fn clear_pending(ctx: &WorkerContext, repo: &str, version: u64) {
    let cleared = match ctx.store.publish_pending(repo).await {
        Ok(None) => return,
        Ok(Some(_)) => ctx.store.clear_publish_pending(repo, version).await,
        Err(e) => Err(e),
    };
    match cleared {
        Ok(true) => {}
        Ok(false) => tracing::info!(
            published = version,
            "a newer publish is pending; its record stays"
        ),
        Err(e) => tracing::warn!(error = %e, "published, but the pending record was not cleared"),
    }
}
