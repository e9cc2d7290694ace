//! The Historian's part of the repository state: the changelog, the decision records and
//! the refactoring history (each a [`Journal`]), releases seen, and the repository's own
//! changelog rules and changelog file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::super::ReleaseInfo;
use super::super::journal::{Journal, Keyed};
use crate::facts::{OverridesFacts, RulesFacts};
use crate::overrides::Override;

/// A changelog line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Commit.
    pub sha: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Scope.
    #[serde(default)]
    pub scope: Option<String>,
    /// Breaking.
    #[serde(default)]
    pub breaking: bool,
    /// Summary.
    pub summary: String,
    /// Author.
    #[serde(default)]
    pub author: String,
    /// Link.
    pub url: String,
    /// The release it shipped in (none: unreleased).
    #[serde(default)]
    pub release: Option<String>,
    /// The heading the project's own rules put it under (none: the pack's, by type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// An architecture decision record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adr {
    /// Commit sha or `pr-N`.
    pub key: String,
    /// Sequence number.
    pub number: u32,
    /// Title.
    pub title: String,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub date: Option<String>,
    /// Short id shown.
    pub short: String,
    /// Link.
    pub url: String,
    /// Author.
    #[serde(default)]
    pub author: String,
    /// Why it is significant.
    pub reasons: Vec<String>,
    /// The decision, as the author wrote it.
    pub decision: String,
    /// What follows from it.
    #[serde(default)]
    pub consequences: Vec<String>,
}

/// A refactoring-history entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refactoring {
    /// Commit.
    pub sha: String,
    /// Summary.
    pub summary: String,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub date: Option<String>,
    /// Link.
    pub url: String,
    /// Author.
    #[serde(default)]
    pub author: String,
    /// Moves, removals.
    #[serde(default)]
    pub details: Vec<String>,
}

impl Keyed for LogEntry {
    fn key(&self) -> &str {
        &self.sha
    }
}
impl Keyed for Adr {
    fn key(&self) -> &str {
        &self.key
    }
}
impl Keyed for Refactoring {
    fn key(&self) -> &str {
        &self.sha
    }
}

/// The Historian's part of the repository state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistorianState {
    /// The changelog.
    #[serde(default)]
    pub changelog: Journal<LogEntry>,
    /// Releases and tags seen, oldest first.
    #[serde(default)]
    pub releases: Vec<ReleaseInfo>,
    /// Architecture decisions.
    #[serde(default)]
    pub adrs: Journal<Adr>,
    /// ADRs numbered so far.
    #[serde(default)]
    pub adr_count: u32,
    /// Refactoring history.
    #[serde(default)]
    pub refactorings: Journal<Refactoring>,
    /// Pre-releases seen since the last cut, oldest first: the next cut lists them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folded: Vec<String>,
    /// Changelog pages holding unreleased changes (archived under the state's budget): the
    /// next cut links them from its section.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreleased_pages: Vec<u32>,
    /// The repository's own changelog rules, by file (read at the change's commit).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub project_rules: BTreeMap<String, RulesFacts>,
    /// The project's own changelog at the root, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_changelog: Option<String>,
    /// Maintainers' overrides from merged pull requests' bodies, by the merge commit.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pr_overrides: BTreeMap<String, Override>,
    /// The repository's overrides file, as last read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_overrides: Option<OverridesFacts>,
    /// The commits the project's rules left out most recently (a redelivery of one is
    /// already applied).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// Commits the project's rules left out of the changelog.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped_by_rules: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
