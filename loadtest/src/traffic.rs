//! What the tester sends: signed webhook requests with real payload shapes, and the faults
//! mixed in on purpose. Every request knows what it should lead to (the commits to apply,
//! or the refusal to expect), which is what [`crate::verify`] checks afterwards.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use coderipple_core::envelope::Commit;
use serde_json::{Value, json};

/// What a request is, and so what the pipeline must do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A push to apply: its commits must be applied once, in order.
    Normal,
    /// Accepted by ingest, refused by the worker: must end in the DLQ with a reason.
    Poison,
    /// Over ingest's body limit: must be answered 413 and leave nothing stored.
    Oversize,
    /// Signed with the wrong secret: must be answered 401 and leave nothing stored.
    BadSignature,
    /// A real payload of the octokit examples: must be answered 2xx; what is queued must
    /// be completed.
    Sample,
}

/// One webhook delivery to send.
#[derive(Debug, Clone)]
pub struct Request {
    /// Position in the traffic (the global send order).
    pub index: usize,
    /// `X-GitHub-Delivery`.
    pub delivery: String,
    /// `X-GitHub-Event`.
    pub event: String,
    /// The repository (the lane that keeps its order).
    pub repo: String,
    /// The JSON body.
    pub body: Arc<[u8]>,
    /// Commit ids that must be applied, in order (`Normal` pushes).
    pub commits: Vec<String>,
    /// What it is.
    pub kind: Kind,
    /// Extra copies under the same delivery id: all but the last right after the first is
    /// acknowledged (a storm), the last one after the drain (late).
    pub redeliveries: u32,
    /// Never sent: recorded as a delivery GitHub failed, for recovery to bring back
    /// (`--drop`, see [`crate::github_log`]).
    pub dropped: bool,
    /// Its place in its repository's history (`Normal` pushes; see [`crate::reorder`]): the
    /// order its commits must be applied in, whatever the order it is sent in.
    pub history: usize,
}

/// The synthesized traffic's shape.
#[derive(Debug, Clone)]
pub struct Synth {
    /// Repositories the events are spread over (round robin).
    pub repos: usize,
    /// Push events.
    pub events: usize,
    /// Commits per push.
    pub commits: usize,
    /// Files per commit.
    pub files: usize,
}

/// Faults mixed into the traffic, spread evenly over it.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Poison events.
    pub poison: usize,
    /// Requests over the body limit.
    pub oversize: usize,
    /// The body limit ingest enforces (`CODERIPPLE_MAX_BODY_BYTES`).
    pub body_limit: usize,
    /// Badly signed requests.
    pub bad_signature: usize,
    /// Every n-th push is redelivered (0: none).
    pub redeliver_every: usize,
    /// Extra copies of each redelivered push.
    pub redeliveries: u32,
    /// Pushes never sent (GitHub's delivery failed and is not retried).
    pub drop: usize,
}

/// The id of the tester's commit `i` of push `seed` (40 hex digits, like a sha).
pub fn commit_id(seed: u64, i: usize) -> String {
    format!("{seed:020x}{i:020x}")
}

/// A GitHub-shaped push payload for `repo` with `commits` commits of `files` paths each;
/// `seed` makes the commit ids unique and deterministic ([`commit_id`]).
pub fn push_payload(repo: &str, seed: u64, commits: usize, files: usize) -> Value {
    let commit = |i: usize| {
        let id = commit_id(seed, i);
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
    push_with(repo, (0..commits).map(commit).collect())
}

/// A push payload carrying `commits` (GitHub's commit objects).
fn push_with(repo: &str, commits: Vec<Value>) -> Value {
    let head = commits
        .last()
        .and_then(|c| c["id"].as_str())
        .unwrap_or("0000000000000000000000000000000000000000")
        .to_owned();
    let (owner, name) = repo.split_once('/').unwrap_or((repo, repo));
    json!({
        "ref": "refs/heads/main",
        "before": "0000000000000000000000000000000000000000",
        "after": head,
        "created": false, "deleted": false, "forced": false,
        "compare": format!("https://github.com/{repo}/compare/{}", &head[..12.min(head.len())]),
        "repository": {
            "id": 1296269, "full_name": repo, "name": name,
            "html_url": format!("https://github.com/{repo}"), "default_branch": "main",
            "private": false, "owner": {"login": owner},
        },
        "pusher": {"name": "loadtester", "email": "load@example.com"},
        "sender": {"login": "loadtester", "id": 1},
        "commits": commits,
    })
}

/// The commits of a push that must show up as applied: all but merge commits, which the
/// docs never list (the documented rule, [`coderipple_core::envelope::is_merge_message`]).
fn ids_of(payload: &Value) -> Vec<String> {
    use coderipple_core::envelope::is_merge_message;
    payload["commits"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| !is_merge_message(c["message"].as_str().unwrap_or("")))
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect()
}

fn bytes(v: &Value) -> Arc<[u8]> {
    Arc::from(serde_json::to_vec(v).expect("a JSON value serializes"))
}

/// Push `i` of run `tag`, to be applied.
fn push_request(tag: u32, i: usize, repo: String, payload: &Value) -> Request {
    Request {
        index: i,
        delivery: format!("lt-{tag:08x}-{i:07}"),
        event: "push".into(),
        commits: ids_of(payload),
        body: bytes(payload),
        repo,
        kind: Kind::Normal,
        redeliveries: 0,
        dropped: false,
        history: i,
    }
}

/// Synthesized pushes: event `i` goes to repository `i mod R` of the run's own owner
/// (`load-<tag>`), so runs never share a repository.
pub fn synthesize(tag: u32, shape: &Synth) -> Vec<Request> {
    let repos = shape.repos.max(1);
    (0..shape.events)
        .map(|i| {
            let repo = format!("load-{tag:08x}/repo-{:03}", i % repos);
            let seed = (u64::from(tag) << 32) | i as u64;
            let payload = push_payload(&repo, seed, shape.commits.max(1), shape.files);
            push_request(tag, i, repo, &payload)
        })
        .collect()
}

/// How long reading a `--from-git` history may take.
const GIT_LOG_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// A real repository's first-parent history as its push events, oldest first, `per_push`
/// commits each, for `repo`.
pub async fn from_git(
    root: &Path,
    repo: &str,
    per_push: usize,
    tag: u32,
) -> anyhow::Result<Vec<Request>> {
    coderipple_core::webhook::validate_repo(repo).context("--repo-name")?;
    let commits = coderipple_core::git_history::first_parent_commits(root, GIT_LOG_TIMEOUT)
        .await
        .with_context(|| format!("--from-git {}: cannot read its history", root.display()))?;
    anyhow::ensure!(
        !commits.is_empty(),
        "--from-git {}: no commits",
        root.display()
    );
    Ok(commits
        .chunks(per_push.max(1))
        .enumerate()
        .map(|(i, chunk)| {
            let payload = push_with(repo, chunk.iter().map(|c| commit_json(repo, c)).collect());
            push_request(tag, i, repo.to_owned(), &payload)
        })
        .collect())
}

fn commit_json(repo: &str, c: &Commit) -> Value {
    json!({
        "id": c.id, "message": c.message, "timestamp": c.timestamp,
        "url": format!("https://github.com/{repo}/commit/{}", c.id),
        "author": {"name": c.author, "email": "author@example.com"},
        "added": c.added, "modified": c.modified, "removed": c.removed,
    })
}

/// Every example payload of `@octokit/webhooks-examples` (`api.github.com/index.json`), in
/// the file's order, appended after `base` requests.
pub fn octokit_examples(index_json: &Path, tag: u32, base: usize) -> anyhow::Result<Vec<Request>> {
    let raw = std::fs::read(index_json)
        .with_context(|| format!("--octokit {}: cannot read", index_json.display()))?;
    let kinds: Vec<Value> = serde_json::from_slice(&raw)
        .with_context(|| format!("--octokit {}: not the examples index", index_json.display()))?;
    let mut out = Vec::new();
    for kind in &kinds {
        let event = kind["name"]
            .as_str()
            .context("an example kind without a name")?;
        for payload in kind["examples"].as_array().into_iter().flatten() {
            let n = base + out.len();
            let repo = payload["repository"]["full_name"]
                .as_str()
                .unwrap_or("(no repository)")
                .to_owned();
            out.push(Request {
                index: n,
                delivery: format!("lt-{tag:08x}-{n:07}"),
                event: event.to_owned(),
                repo,
                body: bytes(payload),
                commits: Vec::new(),
                kind: Kind::Sample,
                redeliveries: 0,
                dropped: false,
                history: n,
            });
        }
    }
    Ok(out)
}

/// Mixes `faults` into `traffic` (evenly spread, each in the lane of the push it follows)
/// and renumbers the result in send order.
pub fn inject(traffic: Vec<Request>, faults: &Faults, tag: u32) -> Vec<Request> {
    let pushes: Vec<usize> = (0..traffic.len())
        .filter(|&i| traffic[i].kind == Kind::Normal)
        .collect();
    let mut extra: Vec<Vec<Request>> = vec![Vec::new(); traffic.len()];
    let mut place = |count: usize, salt: usize, make: &dyn Fn(&Request, usize) -> Request| {
        for k in 0..count {
            if pushes.is_empty() {
                return;
            }
            let at = pushes[(k * pushes.len() / count + salt) % pushes.len()];
            let fault = make(&traffic[at], k);
            extra[at].push(fault);
        }
    };
    place(faults.poison, 1, &|after, k| {
        let mut payload = push_payload(&after.repo, u64::MAX - k as u64, 1, 1);
        payload["commits"][0]["id"] = json!("not-a-sha!");
        fault(after, tag, "poison", k, Kind::Poison, bytes(&payload))
    });
    let limit = faults.body_limit;
    place(faults.oversize, 2, &|after, k| {
        let mut payload = push_payload(&after.repo, u64::MAX - 1_000 - k as u64, 1, 1);
        payload["padding"] = json!("x".repeat(limit + 1));
        fault(after, tag, "oversize", k, Kind::Oversize, bytes(&payload))
    });
    place(faults.bad_signature, 3, &|after, k| {
        let payload = push_payload(&after.repo, u64::MAX - 2_000 - k as u64, 1, 1);
        fault(after, tag, "badsig", k, Kind::BadSignature, bytes(&payload))
    });
    let dropped: std::collections::HashSet<usize> = (0..faults.drop.min(pushes.len()))
        .map(|k| pushes[(k * pushes.len() / faults.drop + pushes.len() / 3) % pushes.len()])
        .collect();
    let mut out = Vec::with_capacity(traffic.len());
    for (i, (mut request, after)) in traffic.into_iter().zip(extra).enumerate() {
        request.dropped = dropped.contains(&i);
        if faults.redeliver_every > 0
            && request.kind == Kind::Normal
            && i % faults.redeliver_every == faults.redeliver_every - 1
        {
            request.redeliveries = faults.redeliveries;
        }
        out.push(request);
        out.extend(after);
    }
    for (n, r) in out.iter_mut().enumerate() {
        r.index = n;
    }
    out
}

fn fault(after: &Request, tag: u32, what: &str, k: usize, kind: Kind, body: Arc<[u8]>) -> Request {
    Request {
        index: 0,
        delivery: format!("lt-{tag:08x}-{what}-{k:05}"),
        event: "push".into(),
        repo: after.repo.clone(),
        body,
        commits: Vec::new(),
        kind,
        redeliveries: 0,
        dropped: false,
        history: after.history,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coderipple_core::envelope::Change;
    use coderipple_core::webhook::{Parsed, parse};

    fn parsed_push(r: &Request) -> coderipple_core::envelope::PushChange {
        let Parsed::Event(env) = parse("push", &r.delivery, &r.body, chrono::Utc::now()).unwrap()
        else {
            panic!("not an event")
        };
        let Some(Change::Push(push)) = env.change else {
            panic!("not a push")
        };
        push
    }

    #[test]
    fn synthesized_pushes_parse_with_the_commits_they_promise() {
        let shape = Synth {
            repos: 3,
            events: 7,
            commits: 2,
            files: 4,
        };
        let traffic = synthesize(9, &shape);
        assert_eq!(traffic.len(), 7);
        let repos: std::collections::BTreeSet<_> = traffic.iter().map(|r| &r.repo).collect();
        assert_eq!(repos.len(), 3);
        for r in &traffic {
            let push = parsed_push(r);
            let ids: Vec<_> = push.commits.iter().map(|c| c.id.clone()).collect();
            assert_eq!(ids, r.commits);
            assert_eq!(
                push.commits[0].added.len() + push.commits[0].modified.len(),
                4
            );
        }
        let all: std::collections::HashSet<_> = traffic.iter().flat_map(|r| &r.commits).collect();
        assert_eq!(all.len(), 14, "commit ids are unique");
    }

    #[test]
    fn faults_are_spread_in_their_lanes_and_renumbered() {
        let shape = Synth {
            repos: 2,
            events: 10,
            commits: 1,
            files: 1,
        };
        let faults = Faults {
            poison: 2,
            oversize: 1,
            body_limit: 100,
            bad_signature: 1,
            redeliver_every: 5,
            redeliveries: 3,
            drop: 3,
        };
        let traffic = inject(synthesize(1, &shape), &faults, 1);
        assert_eq!(traffic.len(), 14);
        assert!(traffic.iter().enumerate().all(|(i, r)| r.index == i));
        let count = |k: Kind| traffic.iter().filter(|r| r.kind == k).count();
        assert_eq!(
            (
                count(Kind::Poison),
                count(Kind::Oversize),
                count(Kind::BadSignature)
            ),
            (2, 1, 1)
        );
        for (i, r) in traffic
            .iter()
            .enumerate()
            .filter(|(_, r)| r.kind != Kind::Normal)
        {
            let before = traffic[..i]
                .iter()
                .rev()
                .find(|p| p.kind == Kind::Normal)
                .unwrap();
            assert_eq!(
                r.repo, before.repo,
                "a fault rides in the lane of the push before it"
            );
        }
        assert!(
            traffic
                .iter()
                .find(|r| r.kind == Kind::Oversize)
                .unwrap()
                .body
                .len()
                > 100
        );
        let poison = traffic.iter().find(|r| r.kind == Kind::Poison).unwrap();
        assert!(
            parse("push", &poison.delivery, &poison.body, chrono::Utc::now()).is_ok(),
            "ingest accepts poison"
        );
        assert_eq!(traffic.iter().filter(|r| r.redeliveries == 3).count(), 2);
        let dropped: Vec<&Request> = traffic.iter().filter(|r| r.dropped).collect();
        assert_eq!(dropped.len(), 3, "three distinct pushes dropped");
        assert!(dropped.iter().all(|r| r.kind == Kind::Normal));
    }
}
