//! The queue message body: a small, versioned, normalized form of a GitHub event.
//!
//! `{"v":1,"delivery":…,"event":"push","repo":"owner/name","received_at":…,"change":{…}}`.
//! When the serialized envelope would exceed the queue's limit, `change` is stored aside
//! (see [`crate::blob`]) and the envelope carries `change_ref` instead (claim-check).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The envelope format version this build writes and reads.
pub const ENVELOPE_VERSION: u32 = 1;

/// A normalized event, as it travels on the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Format version ([`ENVELOPE_VERSION`]).
    pub v: u32,
    /// GitHub's `X-GitHub-Delivery` id; the idempotency key everywhere.
    pub delivery: String,
    /// The GitHub event name (`push`, `pull_request`, `release`, `create`).
    pub event: String,
    /// `owner/name`; the FIFO group.
    pub repo: String,
    /// When ingest accepted the delivery.
    pub received_at: DateTime<Utc>,
    /// The change itself, unless it was stored aside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
    /// Where the change was stored when it was too large for a message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_ref: Option<String>,
    /// The GitHub App installation that delivered it (`installation.id`), when an App did:
    /// what the worker asks an installation token for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation: Option<u64>,
}

impl Envelope {
    /// Serializes the envelope as the queue message body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("envelope serializes")
    }

    /// Reads a queue message body; an unreadable or unknown-version body is permanent.
    pub fn from_json(body: &str) -> Result<Self> {
        let env: Envelope = serde_json::from_str(body)
            .map_err(|e| Error::Corrupt(format!("unreadable envelope: {e}")))?;
        if env.v != ENVELOPE_VERSION {
            return Err(Error::Corrupt(format!(
                "unsupported envelope version {} (this build reads {ENVELOPE_VERSION})",
                env.v
            )));
        }
        if env.change.is_none() && env.change_ref.is_none() {
            return Err(Error::Corrupt(
                "envelope has neither change nor change_ref".into(),
            ));
        }
        Ok(env)
    }
}

/// What happened, normalized per event kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A push to a branch or tag, or a branch deletion.
    Push(PushChange),
    /// A merged pull request.
    PullRequest(PullRequestChange),
    /// A published release.
    Release(ReleaseChange),
    /// A tag created (`create` with `ref_type=tag`).
    Tag(TagChange),
    /// The whole tree at one commit (made by `coderipple bootstrap`, never by ingest).
    Snapshot(SnapshotChange),
    /// A mark in a branch's history that CodeRipple itself records (never made by ingest):
    /// commits that were not received, or a force-push that rewrote the branch.
    History(HistoryChange),
    /// A nudge for a repository whose events wait for their history longer than the gap
    /// wait (queued by the gap sweep, never by ingest): nothing to apply by itself.
    Wake,
}

/// What a [`Change::History`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryNote {
    /// The commits after `from` up to `to` were never received.
    Gap,
    /// A force-push moved the branch from `from` to `to`.
    ForcePush,
}

/// A history mark of one branch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryChange {
    /// What happened.
    pub note: HistoryNote,
    /// The branch.
    pub branch: String,
    /// The last commit before the mark (empty: unknown).
    pub from: String,
    /// The first commit after it.
    pub to: String,
    /// The repository's web URL.
    #[serde(default)]
    pub repo_url: String,
}

/// A push. Only branch pushes with commits are analysed; tag pushes and deletions are recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushChange {
    /// The full ref, e.g. `refs/heads/main`.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// Commit before the push.
    pub before: String,
    /// Commit after the push.
    pub after: String,
    /// The repository's default branch, when GitHub sent it.
    #[serde(default)]
    pub default_branch: Option<String>,
    /// The repository's web URL (links in docs are made from it).
    pub repo_url: String,
    /// The ref was created by this push.
    #[serde(default)]
    pub created: bool,
    /// The ref was deleted by this push.
    #[serde(default)]
    pub deleted: bool,
    /// The push was forced.
    #[serde(default)]
    pub forced: bool,
    /// The pushed commits, oldest first.
    #[serde(default)]
    pub commits: Vec<Commit>,
    /// The time of the commit the ref now points at (GitHub's `head_commit.timestamp`):
    /// what dates a tag's push, whose `commits` is usually empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_timestamp: Option<String>,
    /// The commit the ref now points at (GitHub's `head_commit.id`). For an annotated tag's
    /// push `after` is the tag object, so this is what names the tagged commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_commit: Option<String>,
}

impl PushChange {
    /// The branch name for `refs/heads/…` refs.
    pub fn branch(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/heads/")
    }

    /// The tag name for `refs/tags/…` refs.
    pub fn tag(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/tags/")
    }

    /// The commit the ref points at after the push: GitHub's head commit, else `after`.
    pub fn head(&self) -> &str {
        self.head_commit.as_deref().unwrap_or(&self.after)
    }
}

/// One commit of a push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commit {
    /// The full commit sha.
    pub id: String,
    /// The full commit message.
    pub message: String,
    /// Author name.
    #[serde(default)]
    pub author: String,
    /// Commit timestamp as GitHub sent it (ISO 8601).
    #[serde(default)]
    pub timestamp: String,
    /// Paths added.
    #[serde(default)]
    pub added: Vec<String>,
    /// Paths modified.
    #[serde(default)]
    pub modified: Vec<String>,
    /// Paths removed.
    #[serde(default)]
    pub removed: Vec<String>,
}

impl Commit {
    /// Whether this is a merge commit, by its message (see [`is_merge_message`]).
    pub fn is_merge(&self) -> bool {
        is_merge_message(&self.message)
    }
}

/// Whether a commit message is a merge commit's (`Merge pull request #…`, `Merge branch …`,
/// `Merge remote-tracking branch …`, `Merge tag …`, `Merge commit …`): the documentation lists
/// no merge commits (what they bring is listed as its own commits), so a check from outside
/// expects none of them in the changelog.
pub fn is_merge_message(message: &str) -> bool {
    const MERGE_PREFIXES: &[&str] = &[
        "Merge pull request #",
        "Merge branch ",
        "Merge remote-tracking branch ",
        "Merge tag ",
        "Merge commit ",
    ];
    let subject = message.trim().lines().next().unwrap_or("").trim();
    MERGE_PREFIXES.iter().any(|p| subject.starts_with(p))
}

/// How every commit (and pull request) CodeRipple makes with the docs starts its subject.
pub const DOCS_COMMIT_PREFIX: &str = "docs(coderipple):";

/// Whether `message` is CodeRipple's own docs commit (or the title of its docs pull request,
/// which a squash merge makes the commit's subject): such a change is the docs themselves,
/// never analysed again — analysing it would change the docs, which would make another docs
/// commit, without end.
pub fn is_own_docs_message(message: &str) -> bool {
    let subject = message.trim().lines().next().unwrap_or("").trim();
    subject.starts_with(DOCS_COMMIT_PREFIX)
}

/// A merged pull request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullRequestChange {
    /// PR number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body (may be empty).
    #[serde(default)]
    pub body: String,
    /// Label names.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Branch merged into.
    #[serde(default)]
    pub base_ref: String,
    /// The merge commit, when GitHub reported it.
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    /// Web URL of the PR.
    #[serde(default)]
    pub url: String,
    /// When it was merged.
    #[serde(default)]
    pub merged_at: Option<String>,
}

/// A published release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseChange {
    /// The release's tag.
    pub tag: String,
    /// The release's name (may be empty).
    #[serde(default)]
    pub name: String,
    /// Release notes.
    #[serde(default)]
    pub body: String,
    /// Web URL of the release.
    #[serde(default)]
    pub url: String,
    /// Whether GitHub marks it a pre-release.
    #[serde(default)]
    pub prerelease: bool,
    /// A published pre-release was made a release (GitHub's `released` action with
    /// `prerelease` false): a tag folded as a pre-release is cut now.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub promoted: bool,
    /// When it was published.
    #[serde(default)]
    pub published_at: Option<String>,
    /// The commit the release's tag names, when GitHub sent a sha as its target (a branch
    /// name as target is not a commit and is not kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// A created tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagChange {
    /// The tag name.
    pub tag: String,
    /// The repository's web URL.
    #[serde(default)]
    pub repo_url: String,
    /// When the tag was made (RFC 3339), when known: GitHub's `create` does not say; a
    /// bootstrap from git does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

/// The whole tree of a repository at one commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotChange {
    /// The commit.
    pub commit: String,
    /// The repository's web URL.
    #[serde(default)]
    pub repo_url: String,
    /// Every path of the tree.
    pub paths: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Envelope {
        Envelope {
            v: 1,
            delivery: "d-1".into(),
            event: "create".into(),
            repo: "o/r".into(),
            received_at: Utc::now(),
            change: Some(Change::Tag(TagChange {
                tag: "v1".into(),
                repo_url: String::new(),
                date: None,
            })),
            change_ref: None,
            installation: None,
        }
    }

    #[test]
    fn round_trips_through_json() {
        let env = sample();
        assert_eq!(Envelope::from_json(&env.to_json()).unwrap(), env);
    }

    #[test]
    fn unknown_versions_and_garbage_are_corrupt_not_retryable() {
        let mut env = sample();
        env.v = 2;
        let err = Envelope::from_json(&env.to_json()).unwrap_err();
        assert!(matches!(err, Error::Corrupt(_)) && !err.is_retryable());
        assert!(matches!(Envelope::from_json("{"), Err(Error::Corrupt(_))));
        env.v = 1;
        env.change = None;
        assert!(matches!(
            Envelope::from_json(&env.to_json()),
            Err(Error::Corrupt(_))
        ));
    }
}
