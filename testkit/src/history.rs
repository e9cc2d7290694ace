//! A small repository history as GitHub sends it (five pushes of one commit each on `main`,
//! a tag pushed at the second commit, a release of the third), for tests of history order.

use coderipple_core::contract::fixtures;
use coderipple_core::envelope::{Change, Commit, Envelope, ReleaseChange};

/// The commit messages, oldest first.
pub const MESSAGES: [&str; 5] = [
    "feat(core): add the gear train",
    "fix(core): mesh the second gear",
    "feat(api)!: rename the crank",
    "perf: fewer teeth",
    "docs: explain the gearbox",
];

/// Push `n` (1-based) of a linear history: one commit on top of push `n - 1`'s; push 1
/// creates `main`.
pub fn push(repo: &str, n: u64) -> Envelope {
    let commit = Commit {
        timestamp: format!("2026-03-0{n}T10:00:00Z"),
        added: vec![format!("src/gear{n}.rs")],
        ..fixtures::commit(n, MESSAGES[n as usize - 1])
    };
    let mut env = fixtures::push(repo, &format!("push-{n}"), vec![commit]);
    if let Some(Change::Push(p)) = &mut env.change {
        p.before = if n == 1 {
            "0".repeat(40)
        } else {
            fixtures::sha(n - 1)
        };
        p.created = n == 1;
    }
    env
}

/// A tag pushed at commit `n`.
pub fn tag_at(repo: &str, tag: &str, n: u64) -> Envelope {
    let mut env = fixtures::push(repo, &format!("tag-{tag}"), vec![]);
    if let Some(Change::Push(p)) = &mut env.change {
        p.git_ref = format!("refs/tags/{tag}");
        p.before = "0".repeat(40);
        p.after = fixtures::sha(n);
        p.created = true;
    }
    env
}

/// A release of a tag made at commit `n`.
pub fn release_at(repo: &str, tag: &str, n: u64) -> Envelope {
    let mut env = fixtures::release(repo, &format!("release-{tag}"), tag, "Gearbox");
    if let Some(Change::Release(ReleaseChange {
        target,
        published_at,
        ..
    })) = &mut env.change
    {
        *target = Some(fixtures::sha(n));
        *published_at = Some(format!("2026-03-0{n}T12:00:00Z"));
    }
    env
}

/// The history as GitHub sends it when nothing goes wrong.
pub fn in_order(repo: &str) -> Vec<Envelope> {
    vec![
        push(repo, 1),
        push(repo, 2),
        tag_at(repo, "v0.1.0", 2),
        push(repo, 3),
        release_at(repo, "v0.2.0", 3),
        push(repo, 4),
        push(repo, 5),
    ]
}
