//! A project's rules compiled once (regexes built), answering the changelog's questions in
//! the order the module's documentation gives: release.yml's exclusions, then git-cliff's
//! parsers, then release-please's sections.

use super::cliff::CompiledCliff;
use super::github_release::GithubReleaseRules;
use super::release_please::ReleasePleaseRules;
use super::{CommitDecision, CommitInput, ProjectRules, PullRequestDecision};
use crate::pack::TagRole;

/// [`ProjectRules`], compiled.
#[derive(Debug, Clone, Default)]
pub struct CompiledRules {
    cliff: Option<CompiledCliff>,
    release_please: Option<ReleasePleaseRules>,
    github: Option<GithubReleaseRules>,
}

impl CompiledRules {
    /// Compiles `rules`; `Err` names the file and the setting of a regex that does not
    /// compile within the bounds.
    pub fn new(rules: &ProjectRules) -> Result<Self, String> {
        Ok(Self {
            cliff: rules.cliff.as_ref().map(CompiledCliff::new).transpose()?,
            release_please: rules.release_please.clone(),
            github: rules.github.clone(),
        })
    }

    /// What `tag` is to the project's changelog, with git-cliff's meaning of its settings:
    /// outside `tag_pattern`, or not matching `count_tags`, or matching `ignore_tags`, it
    /// cuts nothing and its changes go into the next release ([`TagRole::Folded`]); matching
    /// `skip_tags` its release is left out with its changes ([`TagRole::Skipped`]; this wins
    /// over the others but `tag_pattern`). `None` when the project sets none of them.
    pub fn role(&self, tag: &str) -> Option<TagRole> {
        self.cliff.as_ref().and_then(|c| c.role(tag))
    }

    /// Whether the project lists the commit, and under which heading; `None` when no file
    /// says anything about commits.
    pub fn commit(&self, commit: &CommitInput<'_>) -> Option<CommitDecision> {
        let mut spoken = false;
        if let Some(g) = &self.github {
            if let Some(rule) = g.commit_excluded(commit) {
                return Some(CommitDecision::Skip { rule });
            }
            spoken |= g.about_commits();
        }
        if let Some(c) = &self.cliff {
            if let Some(decision) = c.commit(commit) {
                return Some(decision);
            }
            spoken |= c.about_commits();
        }
        if let Some(r) = &self.release_please {
            return Some(r.commit(commit));
        }
        spoken.then_some(CommitDecision::Keep {
            group: None,
            scope: None,
        })
    }

    /// Whether the project lists a pull request with `labels` by `author` (a login), and in
    /// which category; `None` without release.yml.
    pub fn pull_request(&self, labels: &[String], author: &str) -> Option<PullRequestDecision> {
        self.github.as_ref().map(|g| g.pull_request(labels, author))
    }
}
