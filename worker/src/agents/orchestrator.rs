//! The Orchestrator: classifies each commit (Conventional Commits via `git-conventional`,
//! message heuristics otherwise), decides which agents run and records why.

use coderipple_core::envelope::{Change, Commit, PushChange};
use serde::{Deserialize, Serialize};

use super::ChangeSet;
use crate::WorkerError;

/// A commit with its classification, ready for the agents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassifiedCommit {
    /// Full sha.
    pub sha: String,
    /// Conventional type (`feat`, `fix`, …) or a heuristic one; `other` when unknown.
    #[serde(rename = "type")]
    pub kind: String,
    /// Conventional scope.
    #[serde(default)]
    pub scope: Option<String>,
    /// Breaking change (`!` or a `BREAKING CHANGE` footer).
    #[serde(default)]
    pub breaking: bool,
    /// The subject line without the type prefix.
    pub summary: String,
    /// Whether the message follows Conventional Commits.
    #[serde(default)]
    pub conventional: bool,
    /// Author name.
    #[serde(default)]
    pub author: String,
    /// Commit timestamp.
    #[serde(default)]
    pub timestamp: String,
    /// Link to the commit.
    pub url: String,
    /// The delivery that brought it.
    pub delivery: String,
}

/// An agent the plan runs, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedRun {
    /// Agent name.
    pub agent: &'static str,
    /// Why it runs.
    pub reason: String,
}

/// The orchestrator's decision for one change set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Commits to analyse, oldest first.
    pub commits: Vec<ClassifiedCommit>,
    /// Agents to run.
    pub runs: Vec<PlannedRun>,
    /// Events recorded but not analysed, with the reason.
    pub notes: Vec<String>,
}

/// Classifies and plans. Stateless.
#[derive(Debug, Clone, Copy, Default)]
pub struct Orchestrator;

impl Orchestrator {
    /// Plans the agents for a change set; a commit that violates an invariant (no valid
    /// sha) makes the whole set permanently invalid.
    pub fn plan(&self, change: &ChangeSet) -> Result<Plan, WorkerError> {
        let mut plan = Plan::default();
        for env in &change.events {
            match &env.change {
                Some(Change::Push(push)) => match analysable(push) {
                    Ok(()) => {
                        for c in &push.commits {
                            plan.commits
                                .push(classify(&change.repo, push, c, &env.delivery)?);
                        }
                    }
                    Err(why) => plan.notes.push(format!("{}: {why}", env.delivery)),
                },
                Some(Change::PullRequest(pr)) => plan.notes.push(format!(
                    "{}: merged pull request #{} recorded",
                    env.delivery, pr.number
                )),
                Some(Change::Release(r)) => plan
                    .notes
                    .push(format!("{}: release {} recorded", env.delivery, r.tag)),
                Some(Change::Tag(t)) => plan
                    .notes
                    .push(format!("{}: tag {} recorded", env.delivery, t.tag)),
                None => {
                    return Err(WorkerError::invalid(format!(
                        "{}: change was not resolved",
                        env.delivery
                    )));
                }
            }
        }
        if !plan.commits.is_empty() {
            plan.runs.push(PlannedRun {
                agent: "historian",
                reason: format!(
                    "{} commit(s) to record in the changelog",
                    plan.commits.len()
                ),
            });
        }
        Ok(plan)
    }
}

fn analysable(push: &PushChange) -> Result<(), String> {
    if push.deleted {
        return Err(format!(
            "deletion of {} recorded, not analysed",
            push.git_ref
        ));
    }
    if let Some(tag) = push.tag() {
        return Err(format!("tag push {tag} recorded, not analysed"));
    }
    let Some(branch) = push.branch() else {
        return Err(format!("push to {} recorded, not analysed", push.git_ref));
    };
    if push
        .default_branch
        .as_deref()
        .is_some_and(|default| default != branch)
    {
        return Err(format!(
            "push to non-default branch {branch} recorded, not analysed"
        ));
    }
    if push.commits.is_empty() {
        return Err("push without commits".into());
    }
    Ok(())
}

fn classify(
    repo: &str,
    push: &PushChange,
    commit: &Commit,
    delivery: &str,
) -> Result<ClassifiedCommit, WorkerError> {
    let sha = commit.id.as_str();
    if !(7..=64).contains(&sha.len()) || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(WorkerError::invalid(format!(
            "commit id {:?} is not a hex sha",
            sha.chars().take(80).collect::<String>()
        )));
    }
    let base = if push.repo_url.is_empty() {
        format!("https://github.com/{repo}")
    } else {
        push.repo_url.trim_end_matches('/').to_owned()
    };
    let (kind, scope, breaking, summary, conventional) =
        match git_conventional::Commit::parse(commit.message.trim()) {
            Ok(c) => (
                c.type_().as_str().to_ascii_lowercase(),
                c.scope().map(|s| s.as_str().to_owned()),
                c.breaking(),
                c.description().to_owned(),
                true,
            ),
            Err(_) => {
                let subject = commit
                    .message
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                (
                    heuristic_kind(&subject).to_owned(),
                    None,
                    false,
                    subject,
                    false,
                )
            }
        };
    Ok(ClassifiedCommit {
        sha: sha.to_ascii_lowercase(),
        kind,
        scope,
        breaking,
        summary,
        conventional,
        author: commit.author.clone(),
        timestamp: commit.timestamp.clone(),
        url: format!("{base}/commit/{sha}"),
        delivery: delivery.to_owned(),
    })
}

/// A type for free-form messages, from their first word.
fn heuristic_kind(subject: &str) -> &'static str {
    let first = subject
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match first.as_str() {
        "fix" | "fixes" | "fixed" | "bugfix" | "hotfix" => "fix",
        "add" | "adds" | "added" | "implement" | "implements" | "introduce" | "support" => "feat",
        "doc" | "docs" | "document" | "documentation" => "docs",
        "refactor" | "refactors" | "restructure" | "simplify" => "refactor",
        "revert" | "reverts" => "revert",
        "test" | "tests" => "test",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(msg: &str) -> ClassifiedCommit {
        let push = PushChange {
            git_ref: "refs/heads/main".into(),
            before: String::new(),
            after: String::new(),
            default_branch: Some("main".into()),
            repo_url: "https://github.com/o/r".into(),
            created: false,
            deleted: false,
            forced: false,
            commits: vec![],
        };
        let c = Commit {
            id: "0123456789abcdef0123456789abcdef01234567".into(),
            message: msg.into(),
            author: "A".into(),
            timestamp: String::new(),
            added: vec![],
            modified: vec![],
            removed: vec![],
        };
        classify("o/r", &push, &c, "d").unwrap()
    }

    #[test]
    fn conventional_commits_are_parsed() {
        let c = commit("feat(api)!: drop v1 endpoints");
        assert_eq!(
            (
                c.kind.as_str(),
                c.scope.as_deref(),
                c.breaking,
                c.summary.as_str()
            ),
            ("feat", Some("api"), true, "drop v1 endpoints")
        );
        let footer = commit("fix: handle nulls\n\nBREAKING CHANGE: nulls now error");
        assert!(footer.breaking && footer.conventional);
        assert!(
            commit("feat: x")
                .url
                .ends_with("/commit/0123456789abcdef0123456789abcdef01234567")
        );
    }

    #[test]
    fn free_form_messages_fall_back_to_heuristics() {
        let c = commit("Fix crash on empty input\n\nmore text");
        assert_eq!((c.kind.as_str(), c.conventional), ("fix", false));
        assert_eq!(c.summary, "Fix crash on empty input");
        assert_eq!(commit("Add dark mode").kind, "feat");
        assert_eq!(commit("Bump things").kind, "other");
    }
}
