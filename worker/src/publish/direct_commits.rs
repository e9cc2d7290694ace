//! The `github_direct` strategy: one commit per change set through GitHub's Git Data API
//! onto the docs branch (by default the repository's default branch), as the App's
//! installation (or the token). Only files that differ are in the commit; an unchanged tree
//! makes no write at all. The branch only ever moves forward (never forced): a branch that
//! moved between our read and our update is read again and the commit rebuilt on its new
//! head.
//!
//! Also the commit identity both GitHub strategies use.

use std::sync::Arc;

use async_trait::async_trait;

use super::config::PublishConfig;
use super::git_data::{GitData, Head};
use super::{Published, Publisher};
use coderipple_core::WorkerError;
use coderipple_engine::DocFile;
use coderipple_github::GitHubApi;

/// Rounds of "read the branch, commit, move it" when the branch keeps moving under us.
pub(super) const ROUNDS: usize = 3;

/// Publishes by direct commits onto a branch.
#[derive(Debug, Clone)]
pub struct GitHubDirect {
    api: Arc<GitHubApi>,
    config: PublishConfig,
}

impl GitHubDirect {
    /// A publisher for `config` through `api`.
    pub fn new(api: Arc<GitHubApi>, config: PublishConfig) -> Self {
        Self { api, config }
    }
}

#[async_trait]
impl Publisher for GitHubDirect {
    fn strategy(&self) -> &'static str {
        "github_direct"
    }

    fn target(&self, repo: &str) -> Option<String> {
        let branch = self
            .config
            .branch
            .as_deref()
            .unwrap_or("the default branch");
        Some(format!("github.com/{repo} ({branch})"))
    }

    fn note_installation(&self, repo: &str, installation: u64) {
        self.api.note_installation(repo, installation);
    }

    async fn publish(
        &self,
        repo: &str,
        files: &[DocFile],
        message: &str,
        _prose: Option<&str>,
    ) -> Result<Published, WorkerError> {
        let git = GitData {
            api: &self.api,
            repo,
        };
        let identity = identity(&self.api, &self.config, repo).await?;
        let default = git.default_branch().await?;
        let branch = self.config.branch.clone().unwrap_or(default.clone());
        let dir = &self.config.path;
        for _ in 0..ROUNDS {
            let (head, existed) = match git.head(&branch).await? {
                Some(head) => {
                    let read = head.sha.clone();
                    (head, Some(read))
                }
                // A configured branch that does not exist yet starts at the default branch.
                None => (start_point(&git, &default).await?, None),
            };
            let existing = git.existing(&head.tree, dir).await?;
            if GitData::changed(files, &existing).is_empty() {
                return Ok(Published::Unchanged);
            }
            let commit = git
                .commit(&head, dir, files, &existing, message, &identity)
                .await?;
            match git
                .set_branch(&branch, &commit, existed.as_deref(), false)
                .await?
            {
                Ok(()) => return Ok(Published::Committed { commit }),
                Err(_moved) => {
                    tracing::info!(%branch, "the docs branch moved; again from its new head");
                }
            }
        }
        Err(WorkerError::transient(format!(
            "the docs branch of {repo} kept moving during {ROUNDS} updates"
        )))
    }
}

/// The head of the default branch (a repository with no commit cannot take docs yet).
pub(super) async fn start_point(git: &GitData<'_>, default: &str) -> Result<Head, WorkerError> {
    git.head(default)
        .await?
        .ok_or_else(|| WorkerError::Permanent {
            class: "publish",
            reason: format!(
                "GitHub, {}: the default branch {default:?} has no commit to start the docs from",
                git.repo
            ),
        })
}

/// Who the commits are by: `CODERIPPLE_DOCS_AUTHOR` when set; else the App's bot account;
/// else (a token) the default identity.
pub(super) async fn identity(
    api: &GitHubApi,
    config: &PublishConfig,
    repo: &str,
) -> Result<(String, String), WorkerError> {
    if let Some(who) = &config.author {
        return Ok((who.name.clone(), who.email.clone()));
    }
    Ok(match api.bot_identity(repo).await? {
        Some(bot) => bot,
        None => {
            let d = super::Identity::default();
            (d.name, d.email)
        }
    })
}
