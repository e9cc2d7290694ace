//! The `github_pr` strategy: one standing pull request from the docs branch (default
//! `coderipple/docs`) to the default branch.
//!
//! Each publish, from GitHub's state as it is now:
//! 1. The docs tree is compared with the docs branch's head (or, without a branch, with the
//!    default branch): nothing differs → nothing is written.
//! 2. While **every commit on the branch is ours** (each commit ahead of the default branch
//!    has our committer address), the branch is rebuilt as one commit on top of the default
//!    branch's current head and moved there (forced: only our own commits are replaced).
//! 3. Once anyone else has pushed to the branch, it is never forced again: our commit goes
//!    on top of its head, as a fast-forward, and the pull request's body says so.
//! 4. The open pull request's title and body are updated (the body lists what changed since
//!    it opened: pushes, releases, the agents and their reasons); without an open one (the
//!    last was merged or closed, or none yet), a new one is opened.
//! 5. When others' commits have made the open pull request unmergeable (GitHub says
//!    `mergeable: false`), a fresh branch `<branch>-<base sha>` starts from the default branch
//!    with a new pull request, and both say why (the new one's body, a comment on the old).
//!
//! Race: GitHub's REST refs API has no compare-and-swap. The branch is read once more right
//! before a forced move (and the move skipped if it changed), so only a push landing between
//! that read and the move — one request — could still be replaced.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::config::PublishConfig;
use super::direct_commits::{ROUNDS, identity, start_point};
use super::git_data::{GitData, Head, ref_path};
use super::message::summary_line;
use super::pr_body::{LINE_CHARS, Target, body};
use super::{Published, Publisher};
use coderipple_core::WorkerError;
use coderipple_engine::DocFile;
use coderipple_engine::text::clip_plain as clip;
use coderipple_github::{GitHubApi, Method};

/// Publishes through a standing pull request.
#[derive(Debug, Clone)]
pub struct GitHubPullRequest {
    api: Arc<GitHubApi>,
    config: PublishConfig,
}

impl GitHubPullRequest {
    /// A publisher for `config` through `api`.
    pub fn new(api: Arc<GitHubApi>, config: PublishConfig) -> Self {
        Self { api, config }
    }

    fn branch(&self) -> &str {
        self.config.docs_branch()
    }

    /// The docs branch, or a fresh one made after a conflict (`<branch>-<7 hex>`).
    fn is_docs_branch(&self, name: &str) -> bool {
        name == self.branch()
            || name
                .strip_prefix(self.branch())
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|sha| sha.len() == 7 && sha.bytes().all(|b| b.is_ascii_hexdigit()))
    }
}

/// The open pull request of the docs branch.
struct Pull {
    number: u64,
    body: String,
    branch: String,
}

#[async_trait]
impl Publisher for GitHubPullRequest {
    fn strategy(&self) -> &'static str {
        "github_pr"
    }

    fn shows_prose(&self) -> bool {
        true
    }

    fn target(&self, repo: &str) -> Option<String> {
        Some(format!(
            "github.com/{repo} (pull request from {})",
            self.branch()
        ))
    }

    fn note_installation(&self, repo: &str, installation: u64) {
        self.api.note_installation(repo, installation);
    }

    async fn publish(
        &self,
        repo: &str,
        files: &[DocFile],
        message: &str,
        prose: Option<&str>,
    ) -> Result<Published, WorkerError> {
        let git = GitData {
            api: &self.api,
            repo,
        };
        let identity = identity(&self.api, &self.config, repo).await?;
        let default = git.default_branch().await?;
        let dir = &self.config.path;
        for _ in 0..ROUNDS {
            let base = start_point(&git, &default).await?;
            let open = self.open_pull(&git, &default).await?;
            let mut name = open
                .as_ref()
                .map_or_else(|| self.branch().to_owned(), |p| p.branch.clone());
            let mut branch = git.head(&name).await?;
            let mut ours = self
                .only_ours(&git, &base, branch.as_ref(), &identity.1)
                .await?;
            let mut superseded = None;
            if !ours
                && let Some(pull) = &open
                && self.conflicted(&git, pull.number).await?
            {
                // Others' commits conflict with the default branch: start a fresh branch
                // (named after the base, so a retry finds the one it made).
                name = format!("{}-{}", self.branch(), &base.sha[..7.min(base.sha.len())]);
                branch = git.head(&name).await?;
                ours = self
                    .only_ours(&git, &base, branch.as_ref(), &identity.1)
                    .await?;
                superseded = Some(pull.number);
            }
            let compared_to = branch.as_ref().unwrap_or(&base);
            let existing = git.existing(&compared_to.tree, dir).await?;
            let target = Target {
                branch: &name,
                default: &default,
                ours,
                prose,
            };
            if GitData::changed(files, &existing).is_empty() {
                // The branch holds these docs. If no pull request shows them (a publish that
                // stopped between moving the branch and opening it), open one now.
                let shown = open.as_ref().is_some_and(|p| p.branch == name);
                if branch.is_some() && superseded.is_none() && !shown {
                    let on_base = git.existing(&base.tree, dir).await?;
                    if !GitData::changed(files, &on_base).is_empty() {
                        self.update_pull(&git, &target, None, message).await?;
                    }
                }
                return Ok(Published::Unchanged);
            }
            // Rebuild on the default branch, or (someone else pushed) add on top.
            let parent = if ours { &base } else { compared_to };
            let existing = if ours && branch.is_some() {
                git.existing(&base.tree, dir).await?
            } else {
                existing
            };
            if GitData::changed(files, &existing).is_empty() {
                // The default branch already holds these docs (the last PR was merged).
                return Ok(Published::Unchanged);
            }
            let commit = git
                .commit(parent, dir, files, &existing, message, &identity)
                .await?;
            let read = branch.as_ref().map(|h| h.sha.as_str());
            let moved = git.set_branch(&name, &commit, read, ours).await?;
            if moved.is_err() {
                tracing::info!(branch = %name, "the docs branch moved; again");
                continue;
            }
            match superseded {
                Some(old) => self.supersede(&git, &target, old, message).await?,
                None => self.update_pull(&git, &target, open, message).await?,
            }
            return Ok(Published::Committed { commit });
        }
        Err(WorkerError::transient(format!(
            "the docs branch of {repo} kept moving during {ROUNDS} updates"
        )))
    }
}

impl GitHubPullRequest {
    /// Whether every commit of `head` that the default branch (`base`) lacks was committed
    /// by `email` (us).
    async fn only_ours(
        &self,
        git: &GitData<'_>,
        base: &Head,
        head: Option<&Head>,
        email: &str,
    ) -> Result<bool, WorkerError> {
        let Some(head) = head else {
            return Ok(true);
        };
        if base.sha == head.sha {
            return Ok(true);
        }
        let path = format!("/repos/{}/compare/{}...{}", git.repo, base.sha, head.sha);
        // No common history (GitHub answers 404): certainly not only ours.
        let Some(cmp) = git.api.get(git.repo, &path).await? else {
            return Ok(false);
        };
        let commits = cmp["commits"].as_array().cloned().unwrap_or_default();
        let ahead = cmp["ahead_by"].as_u64().unwrap_or(u64::MAX);
        // A comparison lists at most 250 commits: more than that cannot all be checked.
        Ok(ahead as usize == commits.len()
            && commits.iter().all(|c| {
                c["commit"]["committer"]["email"]
                    .as_str()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
            }))
    }

    /// Whether GitHub says pull request `number` cannot be merged (`mergeable: false`; not
    /// yet computed counts as mergeable).
    async fn conflicted(&self, git: &GitData<'_>, number: u64) -> Result<bool, WorkerError> {
        let pull = git
            .must_get(&format!("/repos/{}/pulls/{number}", git.repo))
            .await?;
        Ok(pull["mergeable"] == false)
    }

    /// Updates `open`'s title and body, or opens a pull request for the target branch.
    async fn update_pull(
        &self,
        git: &GitData<'_>,
        target: &Target<'_>,
        open: Option<Pull>,
        message: &str,
    ) -> Result<(), WorkerError> {
        let repo = git.repo;
        let title = message.lines().next().unwrap_or("docs(coderipple): update");
        let line = clip(&summary_line(message), LINE_CHARS);
        match open.filter(|p| p.branch == target.branch) {
            Some(pull) => {
                let body = body(&pull.body, &line, target, None);
                let path = format!("/repos/{repo}/pulls/{}", pull.number);
                git.api
                    .send(
                        repo,
                        Method::PATCH,
                        &path,
                        Some(&json!({"title": title, "body": body})),
                    )
                    .await?
                    .map_err(|r| r.into_error(repo))?;
                tracing::info!(pull = pull.number, "docs pull request updated");
            }
            None => {
                self.open_new(git, target, title, &body("", &line, target, None))
                    .await?;
            }
        }
        Ok(())
    }

    /// Opens a pull request for `target` continuing `old`, which conflicts with the default
    /// branch after others' commits, and says why in both.
    async fn supersede(
        &self,
        git: &GitData<'_>,
        target: &Target<'_>,
        old: u64,
        message: &str,
    ) -> Result<(), WorkerError> {
        let title = message.lines().next().unwrap_or("docs(coderipple): update");
        let line = clip(&summary_line(message), LINE_CHARS);
        let why = format!(
            "This pull request continues #{old}, which has conflicts with `{}` after commits \
             by others on its branch; CodeRipple never force-pushes over other people's work, \
             so it started afresh from `{}`.",
            target.default, target.default
        );
        let new = self
            .open_new(git, target, title, &body("", &line, target, Some(&why)))
            .await?;
        let comment = format!(
            "CodeRipple cannot update this pull request: it has conflicts with `{}` after \
             commits by others on its branch, and CodeRipple never force-pushes over them. The \
             docs continue in #{new} (branch `{}`); close this one when you are done with it.",
            target.default, target.branch
        );
        git.must_post(
            &format!("/repos/{}/issues/{old}/comments", git.repo),
            &json!({"body": comment}),
        )
        .await?;
        tracing::info!(old, new, "docs pull request superseded (conflicts)");
        Ok(())
    }

    /// Opens a pull request from `target`'s branch; its number.
    async fn open_new(
        &self,
        git: &GitData<'_>,
        target: &Target<'_>,
        title: &str,
        body: &str,
    ) -> Result<u64, WorkerError> {
        let path = format!("/repos/{}/pulls", git.repo);
        let request = json!({"title": title, "head": target.branch, "base": target.default,
                             "body": body, "maintainer_can_modify": true});
        let created = match git
            .api
            .send(git.repo, Method::POST, &path, Some(&request))
            .await?
        {
            Ok(created) => created,
            // "A pull request already exists": an earlier try of this very call went
            // through before its answer was lost. Use that one.
            Err(r) if r.status.as_u16() == 422 => {
                let found = self.open_pull(git, target.default).await?;
                match found.filter(|p| p.branch == target.branch) {
                    Some(p) => return Ok(p.number),
                    None => return Err(r.into_error(git.repo)),
                }
            }
            Err(r) => return Err(r.into_error(git.repo)),
        };
        let number = created["number"].as_u64().unwrap_or_default();
        tracing::info!(pull = number, "docs pull request opened");
        Ok(number)
    }

    /// The newest open pull request into `default` from the docs branch or a fresh branch
    /// made after a conflict (`<branch>-<sha>`). The branches are listed by name
    /// (`GET …/git/matching-refs/heads/<branch>-`) and each one's open pull request is asked
    /// for by its head (`GET …/pulls?head=<owner>:<branch>`), so it is found however many
    /// other pull requests are open.
    async fn open_pull(
        &self,
        git: &GitData<'_>,
        default: &str,
    ) -> Result<Option<Pull>, WorkerError> {
        let mut branches = vec![self.branch().to_owned()];
        let fresh = format!("{}-", self.branch());
        let path = format!("/repos/{}/git/matching-refs/{}", git.repo, ref_path(&fresh));
        let listed = git.api.get(git.repo, &path).await?.unwrap_or_default();
        branches.extend(
            listed
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["ref"].as_str()?.strip_prefix("refs/heads/"))
                .filter(|name| *name != self.branch() && self.is_docs_branch(name))
                .map(str::to_owned),
        );
        let owner = git.repo.split('/').next().unwrap_or_default();
        let mut newest: Option<Pull> = None;
        for branch in &branches {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("head", &format!("{owner}:{branch}"))
                .append_pair("base", default)
                .append_pair("state", "open")
                .append_pair("per_page", "100")
                .finish();
            let list = git
                .must_get(&format!("/repos/{}/pulls?{query}", git.repo))
                .await?;
            let ours = list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p: &Value| {
                    // Ours: from this repository (never a fork's), from exactly this branch.
                    let here = p["head"]["repo"]["full_name"].as_str() == Some(git.repo);
                    (here && p["head"]["ref"].as_str() == Some(branch.as_str())).then(|| Pull {
                        number: p["number"].as_u64().unwrap_or_default(),
                        body: p["body"].as_str().unwrap_or_default().to_owned(),
                        branch: branch.clone(),
                    })
                });
            for pull in ours {
                if newest.as_ref().is_none_or(|n| pull.number > n.number) {
                    newest = Some(pull);
                }
            }
        }
        Ok(newest)
    }
}
