//! Bootstrap: complete initial docs for a repository that joins mid-life.
//!
//! Reads a checkout's first-parent history (`git log`, oldest first, each commit's paths
//! against its first parent) and its tags, turns them into the same envelopes ingest would
//! have queued (pushes of at most [`CHUNK`] commits, cut at each tagged commit, then the tag),
//! ends with a snapshot of the current tree, and runs them through the normal processing
//! path: idempotency records, the agents, repo state and the docs sink. Delivery ids are
//! derived from commit shas, so running it twice changes nothing.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use coderipple_core::envelope::{
    Change, Commit, ENVELOPE_VERSION, Envelope, PushChange, SnapshotChange, TagChange,
};

use crate::content::git::{HISTORY_GIT_TIMEOUT, git_ok};
use coderipple_core::WorkerError;

use crate::context::WorkerContext;

/// Most commits per synthesized push.
pub const CHUNK: usize = 50;
const LEASE: Duration = Duration::from_secs(300);

/// What a bootstrap did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootstrapReport {
    /// Commits read.
    pub commits: usize,
    /// Tags placed in the history.
    pub tags: usize,
    /// Envelopes processed (pushes, tags, the snapshot).
    pub events: usize,
    /// Paths in the current tree.
    pub paths: usize,
    /// What publishing the docs did (none with the `store` strategy).
    pub publish: Option<coderipple_core::store::PublishOutcome>,
}

/// Reads the history of `root` as envelopes for `repo` (`repo_url`: links in the docs).
pub async fn history(
    root: &Path,
    repo: &str,
    repo_url: &str,
) -> Result<Vec<Envelope>, WorkerError> {
    let head = git_ok(root, &["rev-parse", "HEAD"])
        .await?
        .trim()
        .to_owned();
    let branch = git_ok(root, &["rev-parse", "--abbrev-ref", "HEAD"])
        .await?
        .trim()
        .to_owned();
    let commits =
        coderipple_core::git_history::first_parent_commits(root, HISTORY_GIT_TIMEOUT).await?;
    let tags = tags_by_commit(root).await?;
    let branch = if branch == "HEAD" {
        "main".to_owned()
    } else {
        branch
    };
    let mut events = Vec::new();
    let mut chunk: Vec<Commit> = Vec::new();
    let push = |chunk: &mut Vec<Commit>, events: &mut Vec<Envelope>| {
        let Some(last) = chunk.last() else { return };
        let received_at = time_of(&last.timestamp);
        events.push(envelope(
            format!("bootstrap-{}", last.id),
            "push",
            repo,
            received_at,
            Change::Push(PushChange {
                head_timestamp: None,
                head_commit: None,
                git_ref: format!("refs/heads/{branch}"),
                before: String::new(),
                after: last.id.clone(),
                default_branch: Some(branch.clone()),
                repo_url: repo_url.to_owned(),
                created: false,
                deleted: false,
                forced: false,
                commits: std::mem::take(chunk),
            }),
        ));
    };
    for commit in commits {
        let sha = commit.id.clone();
        chunk.push(commit);
        let tagged = tags.get(&sha);
        if chunk.len() == CHUNK || tagged.is_some() {
            push(&mut chunk, &mut events);
        }
        for (tag, date) in tagged.into_iter().flatten() {
            events.push(envelope(
                format!("bootstrap-tag-{sha}-{tag}"),
                "create",
                repo,
                time_of(date),
                Change::Tag(TagChange {
                    tag: tag.clone(),
                    repo_url: repo_url.to_owned(),
                    date: Some(date.clone()),
                }),
            ));
        }
    }
    push(&mut chunk, &mut events);
    let tree = git_ok(
        root,
        &[
            "-c",
            "core.quotepath=off",
            "ls-tree",
            "-r",
            "--name-only",
            "HEAD",
        ],
    )
    .await?;
    events.push(envelope(
        format!("bootstrap-snapshot-{head}"),
        "snapshot",
        repo,
        events
            .last()
            .map_or_else(Utc::now, |e: &Envelope| e.received_at),
        Change::Snapshot(SnapshotChange {
            commit: head,
            repo_url: repo_url.to_owned(),
            paths: tree.lines().map(str::to_owned).collect(),
        }),
    ));
    Ok(events)
}

/// Runs the history of `root` through the processing path of `ctx`.
pub async fn run(
    ctx: &WorkerContext,
    root: &Path,
    repo: &str,
    repo_url: &str,
    mut progress: impl FnMut(usize, usize),
) -> Result<BootstrapReport, WorkerError> {
    let events = history(root, repo, repo_url).await?;
    let mut report = BootstrapReport {
        events: events.len(),
        ..BootstrapReport::default()
    };
    for (i, env) in events.iter().enumerate() {
        match &env.change {
            Some(Change::Push(p)) => report.commits += p.commits.len(),
            Some(Change::Tag(_)) => report.tags += 1,
            Some(Change::Snapshot(s)) => report.paths = s.paths.len(),
            _ => {}
        }
        super::apply::process(ctx, repo, std::slice::from_ref(env), LEASE, false).await?;
        progress(i + 1, events.len());
    }
    // One commit for the whole history.
    let message = crate::publish::message_for(&format!(
        "import the history ({} commits, {} tags)",
        report.commits, report.tags
    ));
    report.publish = super::publish_step::publish_repo(ctx, repo, &message).await;
    Ok(report)
}

fn envelope(
    delivery: String,
    event: &str,
    repo: &str,
    received_at: DateTime<Utc>,
    change: Change,
) -> Envelope {
    Envelope {
        v: ENVELOPE_VERSION,
        delivery,
        event: event.into(),
        repo: repo.into(),
        received_at,
        change: Some(change),
        change_ref: None,
        installation: None,
    }
}

fn time_of(iso: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(iso)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| DateTime::<Utc>::UNIX_EPOCH)
}

async fn tags_by_commit(
    root: &Path,
) -> Result<HashMap<String, Vec<(String, String)>>, WorkerError> {
    let refs = git_ok(
        root,
        &[
            "for-each-ref",
            "--sort=creatordate",
            "--format=%(refname:short)%1f%(objectname)%1f%(*objectname)%1f%(creatordate:iso-strict)",
            "refs/tags",
        ],
    )
    .await?;
    let mut tags: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for line in refs.lines() {
        let parts: Vec<&str> = line.split('\x1f').collect();
        if let [name, object, peeled, date] = parts.as_slice() {
            let commit = if peeled.is_empty() { object } else { peeled };
            tags.entry((*commit).to_owned())
                .or_default()
                .push(((*name).to_owned(), (*date).to_owned()));
        }
    }
    Ok(tags)
}
