//! Builders for the agents' unit tests: envelopes in, a plan out, agents applied in order.

use chrono::{TimeZone, Utc};
use coderipple_core::envelope::{
    Change, Commit, Envelope, PullRequestChange, PushChange, ReleaseChange, TagChange,
};
use serde_json::Value;

use super::{AgentSet, ChangeSet, Plan};
use crate::sink::DocFile;

pub fn sha(n: u32) -> String {
    format!("{n:040x}")
}

/// A commit `n` with `message`, adding, modifying and removing the given paths.
pub fn commit(
    n: u32,
    message: &str,
    added: &[&str],
    modified: &[&str],
    removed: &[&str],
) -> Commit {
    let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    Commit {
        id: sha(n),
        message: message.into(),
        author: "Mona".into(),
        timestamp: format!("2026-01-{:02}T10:00:00Z", 1 + n % 28),
        added: own(added),
        modified: own(modified),
        removed: own(removed),
    }
}

fn envelope(delivery: &str, event: &str, change: Change) -> Envelope {
    Envelope {
        v: 1,
        delivery: delivery.into(),
        event: event.into(),
        repo: "o/r".into(),
        received_at: Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap(),
        change: Some(change),
        change_ref: None,
    }
}

pub fn push_to(git_ref: &str, delivery: &str, commits: Vec<Commit>) -> Envelope {
    envelope(
        delivery,
        "push",
        Change::Push(PushChange {
            git_ref: git_ref.into(),
            before: sha(0),
            after: commits.last().map(|c| c.id.clone()).unwrap_or_default(),
            default_branch: Some("main".into()),
            repo_url: "https://github.com/o/r".into(),
            created: false,
            deleted: false,
            forced: false,
            commits,
        }),
    )
}

pub fn push(delivery: &str, commits: Vec<Commit>) -> Envelope {
    push_to("refs/heads/main", delivery, commits)
}

pub fn release(delivery: &str, tag: &str, body: &str) -> Envelope {
    envelope(
        delivery,
        "release",
        Change::Release(ReleaseChange {
            tag: tag.into(),
            name: format!("Release {tag}"),
            body: body.into(),
            url: format!("https://github.com/o/r/releases/tag/{tag}"),
            prerelease: false,
            published_at: Some("2026-01-20T00:00:00Z".into()),
        }),
    )
}

pub fn tag(delivery: &str, tag: &str) -> Envelope {
    envelope(
        delivery,
        "create",
        Change::Tag(TagChange {
            tag: tag.into(),
            repo_url: "https://github.com/o/r".into(),
        }),
    )
}

pub fn pull_request(delivery: &str, number: u64, labels: &[&str], body: &str) -> Envelope {
    envelope(
        delivery,
        "pull_request",
        Change::PullRequest(PullRequestChange {
            number,
            title: format!("PR {number}"),
            body: body.into(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            base_ref: "main".into(),
            merge_commit_sha: None,
            url: format!("https://github.com/o/r/pull/{number}"),
            merged_at: Some("2026-01-15T00:00:00Z".into()),
        }),
    )
}

pub fn plan(set: &AgentSet, events: Vec<Envelope>) -> Plan {
    set.orchestrator
        .plan(
            &ChangeSet {
                repo: "o/r".into(),
                events,
            },
            &set.pack,
        )
        .unwrap()
}

/// Applies the planned agents to `state` as `process` does; returns their write-once files.
pub fn apply_all(set: &AgentSet, plan: &Plan, state: &mut Value) -> Vec<DocFile> {
    set.apply(plan, state.as_object_mut().unwrap())
        .unwrap()
        .write_once
}

pub fn render(set: &AgentSet, state: &Value, path: &str) -> String {
    let empty = serde_json::Map::new();
    set.render("o/r", state.as_object().unwrap_or(&empty), |_| true)
        .unwrap()
        .into_iter()
        .find(|doc| doc.path == path)
        .unwrap_or_else(|| panic!("no doc {path}"))
        .contents
}

/// Plans and applies `events` on `state`; returns the doc at `path`.
pub fn run(set: &AgentSet, state: &mut Value, events: Vec<Envelope>, path: &str) -> String {
    let p = plan(set, events);
    apply_all(set, &p, state);
    render(set, state, path)
}
