//! Content sources: file contents at a commit, to enrich the analysis beyond webhook data.
//!
//! None by default (agents work from the webhook alone); a local checkout per repository
//! ([`git::GitCheckouts`], `--repo-root owner/repo=PATH`) read through `git` at the event's
//! commit. What is read (README, manifests) is reduced to small [`FileFacts`](coderipple_engine::facts::FileFacts), cached in the
//! Store cache under the blob sha and the pack version, so a file is analysed once whatever
//! the number of commits, workers or replays that see it.

pub mod git;
pub mod github;

use std::collections::BTreeMap;

use async_trait::async_trait;
use coderipple_core::cache::Cache;
use coderipple_core::store::ContentStats;

use coderipple_core::WorkerError;
use coderipple_engine::facts::{self, FileFacts};
use coderipple_engine::pack::AgentPack;
use coderipple_engine::plan::{Plan, PlanItem};

/// Largest file read (bytes); larger ones are skipped.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Most files read per change set.
pub const MAX_FILES: usize = 64;

/// Where file contents come from.
#[async_trait]
pub trait ContentSource: Send + Sync + std::fmt::Debug {
    /// Whether this source knows `repo`.
    fn covers(&self, repo: &str) -> bool;

    /// The GitHub App installation `repo`'s webhooks came from (sources that call GitHub
    /// authenticate as it).
    fn note_installation(&self, _repo: &str, _installation: u64) {}

    /// The blob id of `path` at `commit`; `None` when the path or the commit is unknown.
    async fn blob_id(
        &self,
        repo: &str,
        commit: &str,
        path: &str,
    ) -> Result<Option<String>, WorkerError>;

    /// The contents of a blob; `None` when the source lacks it or it is over
    /// [`MAX_FILE_BYTES`] (skipped, not read). An error means the source failed.
    async fn read_blob(&self, repo: &str, blob: &str) -> Result<Option<Vec<u8>>, WorkerError>;

    /// The sizes in bytes of the files among `paths` at `commit` (others are left out); a
    /// source that cannot tell gives none, and the languages are then counted by files.
    async fn sizes(
        &self,
        _repo: &str,
        _commit: &str,
        _paths: &[String],
    ) -> Result<BTreeMap<String, u64>, WorkerError> {
        Ok(BTreeMap::new())
    }
}

/// Most paths whose size is asked per change set (a tree snapshot can name many more; the
/// languages are then counted from those that have one).
pub const MAX_SIZED: usize = 20_000;

/// The paths the plan added or changed that are still there at its end, and that end: the
/// last commit or snapshot touching paths.
pub fn sized_paths(plan: &Plan) -> Option<(String, Vec<String>)> {
    let mut paths = std::collections::BTreeSet::new();
    let mut last = None;
    for item in &plan.items {
        match item {
            PlanItem::Commit(c) => {
                if c.paths.all().next().is_some() {
                    last = Some(c.sha.clone());
                }
                paths.extend(c.paths.added.iter().chain(&c.paths.modified).cloned());
                for p in &c.paths.removed {
                    paths.remove(p);
                }
            }
            PlanItem::Snapshot(s) => {
                paths.clear();
                paths.extend(s.paths.iter().cloned());
                last = Some(s.sha.clone());
            }
            _ => {}
        }
    }
    let last = last?;
    Some((last, paths.into_iter().take(MAX_SIZED).collect()))
}

/// The files of the plan worth reading (README, manifests), each at the last commit that
/// added or changed it; removed ones are dropped.
pub fn wanted(pack: &AgentPack, plan: &Plan) -> BTreeMap<String, String> {
    let mut want = BTreeMap::new();
    let interesting = |p: &str| facts::worth_reading(pack, p);
    for item in &plan.items {
        match item {
            PlanItem::Commit(c) => {
                for p in c.paths.added.iter().chain(&c.paths.modified) {
                    if interesting(p) {
                        want.insert(p.clone(), c.sha.clone());
                    }
                }
                for p in &c.paths.removed {
                    want.remove(p);
                }
            }
            PlanItem::Snapshot(s) => {
                want.clear();
                for p in s.paths.iter().filter(|p| interesting(p)) {
                    want.insert(p.clone(), s.sha.clone());
                }
            }
            _ => {}
        }
    }
    // Shallow paths first (the root README and manifests matter most).
    let mut list: Vec<(String, String)> = want.into_iter().collect();
    list.sort_by_key(|(p, _)| (p.matches('/').count(), p.clone()));
    list.truncate(MAX_FILES);
    list.into_iter().collect()
}

/// Reads and analyses the plan's README and manifests into `plan.contents`.
pub async fn enrich(
    source: &dyn ContentSource,
    cache: &Cache,
    pack: &AgentPack,
    repo: &str,
    plan: &mut Plan,
) -> Result<ContentStats, WorkerError> {
    let mut stats = ContentStats::default();
    if !source.covers(repo) {
        return Ok(stats);
    }
    if let Some((commit, paths)) = sized_paths(plan) {
        plan.sizes = source.sizes(repo, &commit, &paths).await?;
    }
    for (path, commit) in wanted(pack, plan) {
        let Some(blob) = source.blob_id(repo, &commit, &path).await? else {
            tracing::debug!(%path, %commit, "not in the checkout");
            stats.missing += 1;
            continue;
        };
        let key = format!(
            "facts:{}:{}:{blob}",
            pack.version(),
            facts::kind_key(pack, &path)
        );
        if let Some((value, _)) = cache.get(&key).await?
            && let Ok(f) = serde_json::from_value::<FileFacts>(value)
        {
            stats.cached += 1;
            plan.contents.insert(path, f);
            continue;
        }
        let bytes = match source.read_blob(repo, &blob).await? {
            Some(bytes) if bytes.len() <= MAX_FILE_BYTES => bytes,
            _ => {
                tracing::debug!(%path, %blob, "missing or over the size cap; skipped");
                stats.missing += 1;
                continue;
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        let Some(f) = facts::analyse(pack, &path, &text) else {
            continue;
        };
        let value = serde_json::to_value(&f)
            .map_err(|e| WorkerError::invalid(format!("facts of {path}: {e}")))?;
        cache.put(&key, value).await?;
        stats.analysed += 1;
        plan.contents.insert(path, f);
    }
    Ok(stats)
}
