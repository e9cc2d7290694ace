//! # coderipple-loadtest
//!
//! Synthesized, signed webhook traffic for load tests and benchmarks. This first part holds
//! the payload generator shared by the benchmarks; scenarios, verification and reports come
//! with the load-tester issue.

use serde_json::{Value, json};

/// A GitHub-shaped push payload for `repo` with `commits` commits of `files` paths each;
/// `seed` makes the commit ids unique and deterministic.
pub fn push_payload(repo: &str, seed: u64, commits: usize, files: usize) -> Value {
    let commit = |i: usize| {
        let id = format!("{:020x}{:020x}", seed, i);
        json!({
            "id": id,
            "message": format!("feat(core): change number {i} of push {seed}\n\nA longer body explains why."),
            "timestamp": "2026-11-23T12:00:00Z",
            "url": format!("https://github.com/{repo}/commit/{id}"),
            "author": {"name": "Load Tester", "email": "load@example.com", "username": "loadtester"},
            "committer": {"name": "Load Tester", "email": "load@example.com"},
            "added": (0..files / 2).map(|f| format!("src/module_{i}/file_{f}.rs")).collect::<Vec<_>>(),
            "modified": (files / 2..files).map(|f| format!("src/module_{i}/file_{f}.rs")).collect::<Vec<_>>(),
            "removed": Vec::<String>::new(),
        })
    };
    let head = format!("{:020x}{:020x}", seed, commits.saturating_sub(1));
    json!({
        "ref": "refs/heads/main",
        "before": "0000000000000000000000000000000000000000",
        "after": head,
        "created": false, "deleted": false, "forced": false,
        "compare": format!("https://github.com/{repo}/compare/000000000000...{}", &head[..12]),
        "repository": {
            "id": 1296269, "full_name": repo, "name": repo.split('/').nth(1).unwrap_or(repo),
            "html_url": format!("https://github.com/{repo}"), "default_branch": "main",
            "private": false, "owner": {"login": repo.split('/').next().unwrap_or(repo)},
        },
        "pusher": {"name": "loadtester", "email": "load@example.com"},
        "sender": {"login": "loadtester", "id": 1},
        "commits": (0..commits).map(commit).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse_as_push_events_with_unique_commits() {
        let body = push_payload("o/r", 7, 3, 4).to_string();
        let parsed =
            coderipple_core::webhook::parse("push", "d", body.as_bytes(), chrono::Utc::now())
                .unwrap();
        let coderipple_core::webhook::Parsed::Event(env) = parsed else {
            panic!("not an event")
        };
        let Some(coderipple_core::envelope::Change::Push(push)) = env.change else {
            panic!("not a push")
        };
        assert_eq!(push.commits.len(), 3);
        assert_ne!(push.commits[0].id, push.commits[1].id);
        assert_eq!(
            push.commits[0].added.len() + push.commits[0].modified.len(),
            4
        );
    }
}
