//! The plan of one change set: its items (classified commits, releases and tags, merged
//! pull requests, tree snapshots), the agents to run and why, notes, and file facts. Plain
//! data, built by the Orchestrator ([`crate::agents::Orchestrator`]) from a [`ChangeSet`],
//! read by the agents; it depends on no agent.

use coderipple_core::envelope::Envelope;
use coderipple_core::store::CommitClass;
use serde::Serialize;

use std::collections::BTreeSet;

use crate::facts::FileFacts;
use crate::pack::Rules;

/// `YYYY-MM-DD` of an ISO 8601 timestamp, in UTC.
pub fn date_of(timestamp: &str) -> Option<String> {
    // A timestamp with an offset is read in UTC, as release tools date releases (a commit
    // made late in the evening east of Greenwich is still the day before in UTC).
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(timestamp.trim()) {
        return Some(t.with_timezone(&chrono::Utc).format("%Y-%m-%d").to_string());
    }
    let d = timestamp.get(..10)?;
    (d.as_bytes()[4] == b'-' && d.as_bytes()[7] == b'-').then(|| d.to_owned())
}

/// The events of one repository handled together, oldest first (changes resolved).
#[derive(Debug, Clone)]
pub struct ChangeSet {
    /// `owner/name`.
    pub repo: String,
    /// The envelopes, in queue order.
    pub events: Vec<Envelope>,
}

/// Paths a commit touched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PathChanges {
    /// Added paths.
    pub added: Vec<String>,
    /// Modified paths.
    pub modified: Vec<String>,
    /// Removed paths.
    pub removed: Vec<String>,
}

impl PathChanges {
    /// Every path, added, modified then removed.
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.added.iter().chain(&self.modified).chain(&self.removed)
    }
}

/// A commit with its classification, ready for the agents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassifiedCommit {
    /// Full sha (lower case).
    pub sha: String,
    /// Conventional type (`feat`, `fix`, …), a heuristic one, `merge`, or `other`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Conventional scope.
    pub scope: Option<String>,
    /// Breaking change (`!`, a `BREAKING CHANGE` footer, or a breaking phrase).
    pub breaking: bool,
    /// What breaks, when the message says (the footer's text).
    pub breaking_note: Option<String>,
    /// The subject marks the break itself (`feat!:`), as against a footer or a phrase.
    pub bang: bool,
    /// The subject line without the type prefix.
    pub summary: String,
    /// The message body (after the subject), trimmed.
    pub body: String,
    /// Whether the message follows Conventional Commits.
    pub conventional: bool,
    /// The message states a decision (a phrase of the pack's `signals.decision`).
    pub decision: bool,
    /// Path categories touched (pack rules), sorted.
    pub categories: Vec<String>,
    /// Author name.
    pub author: String,
    /// Commit timestamp (ISO 8601 as GitHub sent it).
    pub timestamp: String,
    /// Link to the commit.
    pub url: String,
    /// The delivery that brought it.
    pub delivery: String,
    /// Paths touched.
    pub paths: PathChanges,
}

/// The kind of a merge commit ([`coderipple_core::envelope::is_merge_message`]).
pub const MERGE_KIND: &str = "merge";

impl ClassifiedCommit {
    /// Whether this is a merge commit: never listed in the docs (what it brought is).
    pub fn is_merge(&self) -> bool {
        self.kind == MERGE_KIND
    }

    /// The first seven characters of the sha.
    pub fn short(&self) -> &str {
        &self.sha[..7.min(self.sha.len())]
    }

    /// `YYYY-MM-DD` of the timestamp, when there is one.
    pub fn date(&self) -> Option<String> {
        date_of(&self.timestamp)
    }

    /// Whether it touches a path of `category`.
    pub fn touches(&self, category: &str) -> bool {
        self.categories.iter().any(|c| c == category)
    }
}

/// A release or a tag: the point where the changelog is cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseMark {
    /// The tag.
    pub tag: String,
    /// The release's name (empty for a bare tag).
    pub name: String,
    /// Release or tag page.
    pub url: String,
    /// `YYYY-MM-DD`, when known.
    pub date: Option<String>,
    /// Release notes.
    pub notes: String,
    /// A GitHub release (not only a tag).
    pub is_release: bool,
    /// Whether it cuts a release, folds into the next one, or is left out (the pack's
    /// `[releases]` rules).
    pub role: crate::pack::TagRole,
    /// A pre-release promoted to a release (GitHub's `released`): a tag folded only as a
    /// pre-release is cut by it.
    pub promoted: bool,
}

/// A merged pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergedPr {
    /// Number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Web URL.
    pub url: String,
    /// A breaking label, or `BREAKING CHANGE` in the body.
    pub breaking: bool,
    /// The body states a decision.
    pub decision: bool,
    /// `YYYY-MM-DD` of the merge.
    pub date: Option<String>,
    /// The commit the merge made (a squash merge's single commit), when GitHub reported it.
    pub merge_commit: Option<String>,
    /// The body's `BEGIN_COMMIT_OVERRIDE` block: the entries that replace that commit's.
    pub commit_override: Option<Vec<String>>,
}

/// The repository tree at one commit (bootstrap): the inventory is reset to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TreeSnapshot {
    /// The commit.
    pub sha: String,
    /// Link to it.
    pub url: String,
    /// Every path of the tree.
    pub paths: Vec<String>,
}

/// A mark in the branch's history that CodeRipple records: commits never received, or a
/// force-push. The Historian lists it in the changelog where it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryMark {
    /// Identity: the commit after the mark and the kind (`<sha>~gap`, `<sha>~force-push`).
    pub key: String,
    /// The changelog line.
    pub summary: String,
    /// Where to see it (a comparison, or the commit).
    pub url: String,
}

/// One step of a plan, in event order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "item", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // commits are by far the most common item
pub enum PlanItem {
    /// A commit on the default branch.
    Commit(ClassifiedCommit),
    /// A release or tag.
    Release(ReleaseMark),
    /// A merged pull request.
    PullRequest(MergedPr),
    /// A tree snapshot.
    Snapshot(TreeSnapshot),
    /// A gap or a force-push in the branch's history.
    History(HistoryMark),
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// What happened, oldest first.
    pub items: Vec<PlanItem>,
    /// Agents to run, in order.
    pub runs: Vec<PlannedRun>,
    /// Events recorded but not analysed, with the reason.
    pub notes: Vec<String>,
    /// File contents read through the content source (path → facts), when there is one.
    pub contents: std::collections::BTreeMap<String, FileFacts>,
    /// Sizes in bytes of the files the plan added or changed, as of its last commit, when
    /// the content source knows them (the languages are counted by bytes, as GitHub does).
    pub sizes: std::collections::BTreeMap<String, u64>,
}

impl Plan {
    /// The commits, oldest first.
    pub fn commits(&self) -> impl Iterator<Item = &ClassifiedCommit> {
        self.items.iter().filter_map(|i| match i {
            PlanItem::Commit(c) => Some(c),
            _ => None,
        })
    }

    /// Whether `agent` is planned.
    pub fn runs_agent(&self, agent: &str) -> bool {
        self.runs.iter().any(|r| r.agent == agent)
    }

    /// One line per commit for the processing summary.
    pub fn classification(&self) -> Vec<CommitClass> {
        self.commits()
            .map(|c| CommitClass {
                commit: c.short().to_owned(),
                kind: c.kind.clone(),
                breaking: c.breaking,
                conventional: c.conventional,
                decision: c.decision,
                categories: c.categories.clone(),
            })
            .collect()
    }
}

impl Plan {
    /// The releases and tags, oldest first.
    pub fn releases(&self) -> impl Iterator<Item = &ReleaseMark> {
        self.items.iter().filter_map(|i| match i {
            PlanItem::Release(r) => Some(r),
            _ => None,
        })
    }

    /// The merged pull requests, oldest first.
    pub fn pull_requests(&self) -> impl Iterator<Item = &MergedPr> {
        self.items.iter().filter_map(|i| match i {
            PlanItem::PullRequest(p) => Some(p),
            _ => None,
        })
    }

    /// The history marks, oldest first.
    pub fn history_marks(&self) -> impl Iterator<Item = &HistoryMark> {
        self.items.iter().filter_map(|i| match i {
            PlanItem::History(h) => Some(h),
            _ => None,
        })
    }

    /// The tree snapshot, if the change set has one.
    pub fn snapshot(&self) -> Option<&TreeSnapshot> {
        self.items.iter().find_map(|i| match i {
            PlanItem::Snapshot(s) => Some(s),
            _ => None,
        })
    }

    /// Breaking changes: commits and merged pull requests marked breaking.
    pub fn breaking_count(&self) -> usize {
        self.commits().filter(|c| c.breaking).count()
            + self.pull_requests().filter(|p| p.breaking).count()
    }

    /// The tools and manifests (the pack's names) the commits touched.
    pub fn tools<'r>(&self, rules: &'r Rules) -> BTreeSet<&'r str> {
        self.commits()
            .flat_map(|c| c.paths.all())
            .filter_map(|p| rules.tool_of(p))
            .map(|t| t.name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::date_of;

    #[test]
    fn dates_are_utc_days() {
        // 01:37 at +03:00 is the day before in UTC; git-cliff and GitHub date it so.
        assert_eq!(
            date_of("2026-08-05T01:37:26+03:00").as_deref(),
            Some("2026-08-04")
        );
        assert_eq!(
            date_of("2026-08-05T22:00:00-05:00").as_deref(),
            Some("2026-08-06")
        );
        assert_eq!(
            date_of("2026-08-05T10:00:00Z").as_deref(),
            Some("2026-08-05")
        );
        assert_eq!(date_of("2026-08-05").as_deref(), Some("2026-08-05"));
        assert_eq!(date_of("yesterday"), None);
    }
}
