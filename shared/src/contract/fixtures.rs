//! Envelope builders for tests: one push, one release, one commit, the way webhooks carry
//! them. Each test adjusts what it checks with struct update syntax
//! (`Commit { timestamp: …, ..fixtures::commit(1, "feat: x") }`).

use chrono::{DateTime, TimeZone, Utc};

use crate::envelope::{Change, Commit, Envelope, PushChange, ReleaseChange};

/// The receive time every built envelope carries (fixed, so outputs are reproducible).
pub fn received_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
}

/// Commit sha number `n` (40 hex digits).
pub fn sha(n: u64) -> String {
    format!("{n:040x}")
}

/// Commit `sha(n)` by Mona adding `src/lib.rs`, without a timestamp.
pub fn commit(n: u64, message: &str) -> Commit {
    Commit {
        id: sha(n),
        message: message.into(),
        author: "Mona".into(),
        timestamp: String::new(),
        added: vec!["src/lib.rs".into()],
        modified: vec![],
        removed: vec![],
    }
}

/// An envelope of `event` for `repo` carrying `change`.
pub fn envelope(repo: &str, delivery: &str, event: &str, change: Change) -> Envelope {
    Envelope {
        v: 1,
        delivery: delivery.into(),
        event: event.into(),
        repo: repo.into(),
        received_at: received_at(),
        change: Some(change),
        change_ref: None,
        installation: None,
    }
}

/// A push of `commits` to `main` of `repo` (its `after` is the last commit).
pub fn push(repo: &str, delivery: &str, commits: Vec<Commit>) -> Envelope {
    envelope(
        repo,
        delivery,
        "push",
        Change::Push(PushChange {
            head_timestamp: None,
            head_commit: None,
            git_ref: "refs/heads/main".into(),
            before: String::new(),
            after: commits.last().map(|c| c.id.clone()).unwrap_or_default(),
            default_branch: Some("main".into()),
            repo_url: format!("https://github.com/{repo}"),
            created: false,
            deleted: false,
            forced: false,
            commits,
        }),
    )
}

/// A published release `tag` of `repo`.
pub fn release(repo: &str, delivery: &str, tag: &str, name: &str) -> Envelope {
    envelope(
        repo,
        delivery,
        "release",
        Change::Release(ReleaseChange {
            tag: tag.into(),
            name: name.into(),
            body: String::new(),
            url: String::new(),
            prerelease: false,
            promoted: false,
            published_at: None,
            target: None,
        }),
    )
}
