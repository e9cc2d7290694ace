//! The publisher a [`PublishConfig`] names: the one place that knows every strategy.

use std::sync::Arc;

use super::config::{DocStrategy, PublishConfig, config};
use super::direct_commits::GitHubDirect;
use super::git::GitRemotes;
use super::pull_request::GitHubPullRequest;
use super::{Publisher, Publishing};
use coderipple_core::WorkerError;
use coderipple_github::GitHubApi;

impl PublishConfig {
    /// The publisher these settings name (`None` for the `store` strategy); the GitHub
    /// strategies publish through `github`, and are refused without it.
    pub fn publishing(
        &self,
        github: Option<&Arc<GitHubApi>>,
    ) -> Result<Option<Publishing>, WorkerError> {
        let api = || {
            github.cloned().ok_or_else(|| {
                config(format!(
                    "CODERIPPLE_DOC_STRATEGY={} needs GitHub credentials: a GitHub App \
                     (CODERIPPLE_GITHUB_APP_ID + CODERIPPLE_GITHUB_APP_KEY_FILE or _KEY_PARAM) \
                     or CODERIPPLE_GITHUB_TOKEN",
                    self.strategy.name()
                ))
            })
        };
        let publisher: Arc<dyn Publisher> = match self.strategy {
            DocStrategy::Store => return Ok(None),
            DocStrategy::Git => Arc::new(GitRemotes::new(self.clone())),
            DocStrategy::GitHubDirect => Arc::new(GitHubDirect::new(api()?, self.clone())),
            DocStrategy::GitHubPr => Arc::new(GitHubPullRequest::new(api()?, self.clone())),
        };
        Ok(Some(Publishing::new(
            publisher,
            self.retry_delay,
            self.republish_every,
        )))
    }
}
