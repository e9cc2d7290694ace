//! The stand-in's Git Data API: refs (read, create, move — a fast-forward unless forced),
//! commits and trees (with their modes: files, symlinks, folders), over
//! [`crate::github_git::GitModel`]. A tree that would put an entry under a file or symlink is
//! refused, as GitHub refuses it (`422`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::github_git::{Leaves, StoredCommit, kind_of};
use crate::github_state::{GitHubState, api, error, git_blob_sha, guard, lock, ok};
use crate::openapi_example::answer;

type S = State<Arc<GitHubState>>;

fn ref_json(repo: &str, branch: &str, sha: &str) -> Value {
    json!({"ref": format!("refs/heads/{branch}"), "node_id": "REF_stand-in",
           "url": format!("{}/git/refs/heads/{branch}", api(repo)),
           "object": {"type": "commit", "sha": sha, "url": format!("{}/git/commits/{sha}", api(repo))}})
}

pub(super) async fn get_ref(
    State(s): S,
    Path((owner, name, r)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let repo = format!("{owner}/{name}");
    let line = format!("GET /repos/{repo}/git/ref/{r}");
    if let Some(resp) = guard(&s, &headers, &line, &repo) {
        return resp;
    }
    let branch = r.strip_prefix("heads/").unwrap_or(&r).to_owned();
    let head = lock(&s.git)
        .refs
        .get(&(repo.clone(), branch.clone()))
        .cloned();
    let Some(sha) = head else {
        s.record(line, StatusCode::NOT_FOUND);
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    s.record(line, StatusCode::OK);
    ok(
        200,
        answer(
            "get",
            "/repos/{owner}/{repo}/git/ref/{ref}",
            200,
            ref_json(&repo, &branch, &sha),
        ),
    )
}

pub(super) async fn matching_refs(
    State(s): S,
    Path((owner, name, r)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let repo = format!("{owner}/{name}");
    let line = format!("GET /repos/{repo}/git/matching-refs/{r}");
    if let Some(resp) = guard(&s, &headers, &line, &repo) {
        return resp;
    }
    let prefix = r.strip_prefix("heads/").unwrap_or(&r).to_owned();
    let mut found: Vec<(String, String)> = lock(&s.git)
        .refs
        .iter()
        .filter(|((of, branch), _)| *of == repo && branch.starts_with(&prefix))
        .map(|((_, branch), sha)| (branch.clone(), sha.clone()))
        .collect();
    found.sort();
    s.record(line, StatusCode::OK);
    let list = found
        .iter()
        .map(|(branch, sha)| {
            crate::openapi_example::answer_item(
                "get",
                "/repos/{owner}/{repo}/git/matching-refs/{ref}",
                200,
                ref_json(&repo, branch, sha),
            )
        })
        .collect();
    ok(200, Value::Array(list))
}

pub(super) async fn create_ref(
    State(s): S,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let repo = format!("{owner}/{name}");
    let line = format!("POST /repos/{repo}/git/refs");
    if let Some(resp) = guard(&s, &headers, &line, &repo) {
        return resp;
    }
    let (Some(full), Some(sha)) = (body["ref"].as_str(), body["sha"].as_str()) else {
        s.record(line, StatusCode::UNPROCESSABLE_ENTITY);
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request");
    };
    let branch = full.strip_prefix("refs/heads/").unwrap_or(full).to_owned();
    let mut git = lock(&s.git);
    let key = (repo.clone(), branch.clone());
    if git.refs.contains_key(&key) || !git.commits.contains_key(sha) {
        s.record(line, StatusCode::UNPROCESSABLE_ENTITY);
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Reference already exists");
    }
    git.refs.insert(key, sha.to_owned());
    s.record(line, StatusCode::CREATED);
    ok(
        201,
        answer(
            "post",
            "/repos/{owner}/{repo}/git/refs",
            201,
            ref_json(&repo, &branch, sha),
        ),
    )
}

pub(super) async fn update_ref(
    State(s): S,
    Path((owner, name, r)): Path<(String, String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let repo = format!("{owner}/{name}");
    let force = body["force"] == true;
    let line = format!(
        "PATCH /repos/{repo}/git/refs/{r}{}",
        if force { " (force)" } else { "" }
    );
    if let Some(resp) = guard(&s, &headers, &line, &repo) {
        return resp;
    }
    let branch = r.strip_prefix("heads/").unwrap_or(&r).to_owned();
    let sha = body["sha"].as_str().unwrap_or_default().to_owned();
    let mut git = lock(&s.git);
    let key = (repo.clone(), branch.clone());
    let Some(old) = git.refs.get(&key).cloned() else {
        s.record(line, StatusCode::UNPROCESSABLE_ENTITY);
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Reference does not exist");
    };
    if git.protected.contains(&key) {
        s.record(line, StatusCode::UNPROCESSABLE_ENTITY);
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Protected branch update failed: required status checks are expected",
        );
    }
    if !git.commits.contains_key(&sha) || (!force && !git.history(&sha).contains(&old)) {
        s.record(line, StatusCode::UNPROCESSABLE_ENTITY);
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Update is not a fast forward",
        );
    }
    git.refs.insert(key, sha.clone());
    s.record(line, StatusCode::OK);
    ok(
        200,
        answer(
            "patch",
            "/repos/{owner}/{repo}/git/refs/{ref}",
            200,
            ref_json(&repo, &branch, &sha),
        ),
    )
}

pub(super) fn commit_json(repo: &str, sha: &str, c: &StoredCommit) -> Value {
    let person =
        |p: &(String, String)| json!({"name": p.0, "email": p.1, "date": "2026-01-01T00:00:00Z"});
    json!({"sha": sha, "node_id": "C_stand-in", "url": format!("{}/git/commits/{sha}", api(repo)),
           "html_url": format!("https://github.com/{repo}/commit/{sha}"),
           "author": person(&c.author), "committer": person(&c.committer), "message": c.message,
           "tree": {"sha": c.tree, "url": format!("{}/git/trees/{}", api(repo), c.tree)},
           "parents": c.parents.iter().map(|p| json!({"sha": p, "url": format!("{}/git/commits/{p}", api(repo)),
                                                      "html_url": format!("https://github.com/{repo}/commit/{p}")})).collect::<Vec<_>>(),
           "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null}})
}

pub(super) async fn get_commit(
    State(s): S,
    Path((owner, name, sha)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let repo = format!("{owner}/{name}");
    let line = format!("GET /repos/{repo}/git/commits/{sha}");
    if let Some(resp) = guard(&s, &headers, &line, &repo) {
        return resp;
    }
    let found = lock(&s.git).commits.get(&sha).cloned();
    let Some(c) = found else {
        s.record(line, StatusCode::NOT_FOUND);
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    s.record(line, StatusCode::OK);
    ok(
        200,
        answer(
            "get",
            "/repos/{owner}/{repo}/git/commits/{commit_sha}",
            200,
            commit_json(&repo, &sha, &c),
        ),
    )
}

pub(super) async fn create_commit(
    State(s): S,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let repo = format!("{owner}/{name}");
    let line = format!("POST /repos/{repo}/git/commits");
    if let Some(resp) = guard(&s, &headers, &line, &repo) {
        return resp;
    }
    let person = |v: &Value| {
        (
            v["name"].as_str().unwrap_or_default().to_owned(),
            v["email"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let c = StoredCommit {
        tree: body["tree"].as_str().unwrap_or_default().to_owned(),
        parents: body["parents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect(),
        message: body["message"].as_str().unwrap_or_default().to_owned(),
        author: person(&body["author"]),
        committer: person(&body["committer"]),
    };
    let mut git = lock(&s.git);
    if git.tree_entries(&c.tree, false).is_none()
        || c.parents.iter().any(|p| !git.commits.contains_key(p))
    {
        s.record(line, StatusCode::UNPROCESSABLE_ENTITY);
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Tree or parent not found");
    }
    let sha = git.put_commit(c.clone());
    s.record(line, StatusCode::CREATED);
    ok(
        201,
        answer(
            "post",
            "/repos/{owner}/{repo}/git/commits",
            201,
            commit_json(&repo, &sha, &c),
        ),
    )
}

fn tree_json(repo: &str, sha: &str, entries: Vec<(String, String, String)>) -> Value {
    let items: Vec<Value> = entries
        .into_iter()
        .map(|(path, mode, id)| {
            let kind = kind_of(&mode);
            json!({"path": path, "mode": mode, "type": kind, "sha": id,
                   "url": format!("{}/git/{kind}s/{id}", api(repo))})
        })
        .collect();
    json!({"sha": sha, "url": format!("{}/git/trees/{sha}", api(repo)), "truncated": false, "tree": items})
}

/// The files `add_file` put at `commit`, as a recursive tree with sizes.
fn commit_files(s: &GitHubState, repo: &str, commit: &str) -> Option<Value> {
    let files = lock(&s.files);
    let items: Vec<Value> = files
        .iter()
        .filter(|((r, c, _), _)| r == repo && c == commit)
        .map(|((_, _, path), bytes)| {
            let id = git_blob_sha(bytes);
            json!({"path": path, "mode": "100644", "type": "blob", "sha": id,
                   "size": bytes.len(), "url": format!("{}/git/blobs/{id}", api(repo))})
        })
        .collect();
    (!items.is_empty()).then(|| {
        json!({"sha": commit, "url": format!("{}/git/trees/{commit}", api(repo)),
               "truncated": false, "tree": items})
    })
}

pub(super) async fn get_tree(
    State(s): S,
    Path((owner, name, sha)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let repo = format!("{owner}/{name}");
    let recursive = q.unwrap_or_default().contains("recursive=");
    let line = format!("GET /repos/{repo}/git/trees/{sha}");
    if let Some(resp) = guard(&s, &headers, &line, &repo) {
        return resp;
    }
    let entries = lock(&s.git).tree_entries(&sha, recursive);
    // A commit's files put with `add_file` answer as that commit's tree (GitHub takes a
    // commit's sha for its tree's), each blob with its size.
    let body = match entries {
        Some(entries) => tree_json(&repo, &sha, entries),
        None => match commit_files(&s, &repo, &sha) {
            Some(body) => body,
            None => {
                s.record(line, StatusCode::NOT_FOUND);
                return error(StatusCode::NOT_FOUND, "Not Found");
            }
        },
    };
    s.record(line, StatusCode::OK);
    ok(
        200,
        answer(
            "get",
            "/repos/{owner}/{repo}/git/trees/{tree_sha}",
            200,
            body,
        ),
    )
}

pub(super) async fn create_tree(
    State(s): S,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let repo = format!("{owner}/{name}");
    let line = format!("POST /repos/{repo}/git/trees");
    if let Some(resp) = guard(&s, &headers, &line, &repo) {
        return resp;
    }
    let mut git = lock(&s.git);
    let built = build_tree(&mut git, &body);
    let sha = match built {
        Ok(leaves) => git.put_leaves(&leaves),
        Err(message) => {
            s.record(line, StatusCode::UNPROCESSABLE_ENTITY);
            return error(StatusCode::UNPROCESSABLE_ENTITY, message);
        }
    };
    let entries = git.tree_entries(&sha, false).unwrap_or_default();
    s.record(line, StatusCode::CREATED);
    ok(
        201,
        answer(
            "post",
            "/repos/{owner}/{repo}/git/trees",
            201,
            tree_json(&repo, &sha, entries),
        ),
    )
}

/// The leaves of the tree a `POST …/git/trees` asks for, or GitHub's refusal.
fn build_tree(git: &mut crate::github_git::GitModel, body: &Value) -> Result<Leaves, &'static str> {
    let mut leaves: Leaves = match body["base_tree"].as_str() {
        Some(base) if git.tree_entries(base, false).is_some() => git.leaves(base),
        Some(_) => return Err("base_tree is not a valid tree oid"),
        None => BTreeMap::new(),
    };
    for entry in body["tree"].as_array().into_iter().flatten() {
        let (Some(path), Some(mode)) = (entry["path"].as_str(), entry["mode"].as_str()) else {
            return Err("Invalid tree entry");
        };
        // Nothing goes under a file or a symlink.
        let mut folder = String::new();
        for segment in path.split('/').take(path.split('/').count() - 1) {
            folder.push_str(segment);
            if leaves.contains_key(&folder) {
                return Err("GitRPC::BadObjectState");
            }
            folder.push('/');
        }
        // What was inside the path (a folder it replaces) goes.
        let inside = format!("{path}/");
        leaves.retain(|p, _| !p.starts_with(&inside));
        match (entry["content"].as_str(), entry.get("sha")) {
            (Some(contents), _) => {
                let blob = git.put_blob(contents.as_bytes());
                leaves.insert(path.to_owned(), (mode.to_owned(), blob));
            }
            (None, Some(Value::Null)) => {
                leaves.remove(path);
            }
            (None, Some(Value::String(sha))) if kind_of(mode) == "tree" => {
                if git.tree_entries(sha, false).is_none() {
                    return Err("Must supply a valid tree.sha");
                }
                leaves.remove(path);
                for (p, leaf) in git.leaves(sha) {
                    leaves.insert(format!("{path}/{p}"), leaf);
                }
            }
            (None, Some(Value::String(sha))) => {
                if kind_of(mode) == "blob" && git.blob(sha).is_none() {
                    return Err("Must supply a valid tree.sha");
                }
                leaves.insert(path.to_owned(), (mode.to_owned(), sha.clone()));
            }
            _ => return Err("Invalid tree entry"),
        }
    }
    Ok(leaves)
}

pub(super) async fn compare(
    State(s): S,
    Path((owner, name, basehead)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let repo = format!("{owner}/{name}");
    let line = format!("GET /repos/{repo}/compare/{basehead}");
    if let Some(resp) = guard(&s, &headers, &line, &repo) {
        return resp;
    }
    let git = lock(&s.git);
    let Some((base, head)) = basehead.split_once("...") else {
        s.record(line, StatusCode::NOT_FOUND);
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let in_base = git.history(base);
    let in_head = git.history(head);
    let behind_by = in_base.iter().filter(|c| !in_head.contains(c)).count();
    // Oldest first, as GitHub lists them.
    let ahead: Vec<Value> = in_head
        .clone()
        .into_iter()
        .rev()
        .filter(|c| !in_base.contains(c))
        .filter_map(|id| {
            let c = git.commits.get(&id)?;
            Some(json!({"sha": id, "node_id": "C_stand-in", "url": format!("{}/commits/{id}", api(&repo)),
                        "html_url": format!("https://github.com/{repo}/commit/{id}"),
                        "comments_url": format!("{}/commits/{id}/comments", api(&repo)),
                        "author": null, "committer": null, "parents": [],
                        "commit": commit_json(&repo, &id, c)}))
        })
        .collect();
    s.record(line, StatusCode::OK);
    let status = match (ahead.is_empty(), behind_by == 0) {
        (true, true) => "identical",
        (true, false) => "behind",
        (false, true) => "ahead",
        (false, false) => "diverged",
    };
    let body = json!({"url": format!("{}/compare/{basehead}", api(&repo)), "status": status,
                      "ahead_by": ahead.len(), "behind_by": behind_by, "total_commits": ahead.len(), "commits": ahead});
    ok(
        200,
        answer("get", "/repos/{owner}/{repo}/compare/{basehead}", 200, body),
    )
}
