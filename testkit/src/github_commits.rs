//! The stand-in's `GET /repos/{owner}/{repo}/commits/{ref}` (one commit with the files it
//! changed against its first parent), and the push webhook GitHub would send for a range of
//! a branch's history, built from the same model, so a test can deliver some pushes and let
//! the worker read the rest through the API.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use coderipple_core::envelope::{Change, Commit, ENVELOPE_VERSION, Envelope, PushChange};
use serde_json::{Value, json};

use crate::github_git::GitModel;
use crate::github_git_routes::commit_json;
use crate::github_state::{GitHubState, api, error, guard, lock, ok};
use crate::openapi_example::answer;

/// The date the stand-in gives every commit's author and committer.
pub const COMMIT_DATE: &str = "2026-01-01T00:00:00Z";

/// Paths `commit` added, modified and removed against its first parent.
fn changes(git: &GitModel, id: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let Some(c) = git.commits.get(id) else {
        return Default::default();
    };
    let now = git.files(&c.tree);
    let before: BTreeMap<String, String> = c
        .parents
        .first()
        .and_then(|p| git.commits.get(p))
        .map(|p| git.files(&p.tree))
        .unwrap_or_default();
    let added = now
        .keys()
        .filter(|p| !before.contains_key(*p))
        .cloned()
        .collect();
    let modified = now
        .iter()
        .filter(|(p, blob)| before.get(*p).is_some_and(|b| b != *blob))
        .map(|(p, _)| p.clone())
        .collect();
    let removed = before
        .keys()
        .filter(|p| !now.contains_key(*p))
        .cloned()
        .collect();
    (added, modified, removed)
}

pub(super) async fn get_commit_with_files(
    State(s): State<Arc<GitHubState>>,
    Path((owner, name, reference)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let repo = format!("{owner}/{name}");
    let line = format!("GET /repos/{repo}/commits/{reference}");
    if let Some(resp) = guard(&s, &headers, &line, &repo) {
        return resp;
    }
    let git = lock(&s.git);
    let Some(c) = git.commits.get(&reference) else {
        s.record(line, StatusCode::NOT_FOUND);
        return error(StatusCode::NOT_FOUND, "No commit found for SHA");
    };
    let (added, modified, removed) = changes(&git, &reference);
    let file = |path: &String, status: &str| {
        json!({"sha": null, "filename": path, "status": status, "additions": 1, "deletions": 0, "changes": 1,
               "blob_url": format!("https://github.com/{repo}/blob/{reference}/{path}"),
               "raw_url": format!("https://github.com/{repo}/raw/{reference}/{path}"),
               "contents_url": format!("{}/contents/{path}?ref={reference}", api(&repo))})
    };
    let files: Vec<Value> = added
        .iter()
        .map(|p| file(p, "added"))
        .chain(modified.iter().map(|p| file(p, "modified")))
        .chain(removed.iter().map(|p| file(p, "removed")))
        .collect();
    let body = json!({"sha": reference, "node_id": "C_stand-in",
        "url": format!("{}/commits/{reference}", api(&repo)),
        "html_url": format!("https://github.com/{repo}/commit/{reference}"),
        "comments_url": format!("{}/commits/{reference}/comments", api(&repo)),
        "author": null, "committer": null,
        "parents": c.parents.iter().map(|p| json!({"sha": p, "url": format!("{}/commits/{p}", api(&repo))})).collect::<Vec<_>>(),
        "commit": commit_json(&repo, &reference, c),
        "stats": {"total": files.len(), "additions": files.len(), "deletions": 0},
        "files": files});
    s.record(line, StatusCode::OK);
    ok(
        200,
        answer("get", "/repos/{owner}/{repo}/commits/{ref}", 200, body),
    )
}

impl GitHubState {
    /// The push webhook of `branch` moving from `before` (empty: the branch's creation) to
    /// `after`, its commits oldest first with their files, as ingest would queue it.
    pub fn push_event(
        &self,
        repo: &str,
        branch: &str,
        before: &str,
        after: &str,
        delivery: &str,
    ) -> Envelope {
        let git = lock(&self.git);
        let known: Vec<String> = if before.is_empty() {
            Vec::new()
        } else {
            git.history(before)
        };
        let commits = git
            .history(after)
            .into_iter()
            .rev()
            .filter(|id| !known.contains(id))
            .filter_map(|id| {
                let c = git.commits.get(&id)?;
                let (added, modified, removed) = changes(&git, &id);
                Some(Commit {
                    message: c.message.clone(),
                    author: c.author.0.clone(),
                    timestamp: COMMIT_DATE.into(),
                    added,
                    modified,
                    removed,
                    id,
                })
            })
            .collect();
        Envelope {
            v: ENVELOPE_VERSION,
            delivery: delivery.to_owned(),
            event: "push".into(),
            repo: repo.to_owned(),
            received_at: chrono::DateTime::parse_from_rfc3339(COMMIT_DATE)
                .expect("a valid date")
                .to_utc(),
            change: Some(Change::Push(PushChange {
                head_timestamp: None,
                head_commit: None,
                git_ref: format!("refs/heads/{branch}"),
                before: if before.is_empty() {
                    "0".repeat(40)
                } else {
                    before.to_owned()
                },
                after: after.to_owned(),
                default_branch: Some(branch.to_owned()),
                repo_url: format!("https://github.com/{repo}"),
                created: before.is_empty(),
                deleted: false,
                forced: false,
                commits,
            })),
            change_ref: None,
            installation: None,
        }
    }
}
