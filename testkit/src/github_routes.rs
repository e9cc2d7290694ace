//! The stand-in's endpoints for publishing: the App and its bot user, a repository's default
//! branch, the Git Data API (refs, commits, trees), comparisons and pull requests. Every
//! answer starts from the smallest value GitHub's description allows
//! ([`crate::openapi_example::answer`]) with what the stand-in knows filled in.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::github_git_routes as git;
use crate::github_git::StoredPull;
use crate::github_state::{GitHubState, api, error, guard, lock, ok};
use crate::openapi_example::{answer, answer_item};

type S = State<Arc<GitHubState>>;

/// The routes, for the stand-in's router.
pub(super) fn routes() -> Router<Arc<GitHubState>> {
    Router::new()
        .route("/app", get(app))
        .route("/users/{username}", get(user))
        .route("/repos/{owner}/{repo}", get(repository))
        .route("/repos/{owner}/{repo}/git/ref/{*name}", get(git::get_ref))
        .route(
            "/repos/{owner}/{repo}/git/matching-refs/{*name}",
            get(git::matching_refs),
        )
        .route(
            "/repos/{owner}/{repo}/git/refs",
            axum::routing::post(git::create_ref),
        )
        .route(
            "/repos/{owner}/{repo}/git/refs/{*name}",
            axum::routing::patch(git::update_ref),
        )
        .route(
            "/repos/{owner}/{repo}/git/commits",
            axum::routing::post(git::create_commit),
        )
        .route(
            "/repos/{owner}/{repo}/git/commits/{sha}",
            get(git::get_commit),
        )
        .route(
            "/repos/{owner}/{repo}/git/trees",
            axum::routing::post(git::create_tree),
        )
        .route("/repos/{owner}/{repo}/git/trees/{sha}", get(git::get_tree))
        .route(
            "/repos/{owner}/{repo}/compare/{basehead}",
            get(git::compare),
        )
        .route(
            "/repos/{owner}/{repo}/commits/{reference}",
            get(crate::github_commits::get_commit_with_files),
        )
        .route(
            "/repos/{owner}/{repo}/pulls",
            get(list_pulls).post(create_pull),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}",
            get(get_pull).patch(update_pull),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            axum::routing::post(comment),
        )
}

async fn app(State(s): S, headers: HeaderMap) -> Response {
    let line = "GET /app".to_owned();
    if !s.jwt_ok(&headers) {
        s.record(line, StatusCode::UNAUTHORIZED);
        return error(
            StatusCode::UNAUTHORIZED,
            "A JSON web token could not be decoded",
        );
    }
    s.record(line, StatusCode::OK);
    ok(
        200,
        answer(
            "get",
            "/app",
            200,
            json!({"id": s.app_id(), "slug": "coderipple", "name": "CodeRipple"}),
        ),
    )
}

async fn user(State(s): S, Path(username): Path<String>, headers: HeaderMap) -> Response {
    let line = format!("GET /users/{username}");
    if !s.any_token_ok(&headers) {
        s.record(line, StatusCode::UNAUTHORIZED);
        return error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    if username != "coderipple[bot]" {
        s.record(line, StatusCode::NOT_FOUND);
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    s.record(line, StatusCode::OK);
    ok(
        200,
        answer(
            "get",
            "/users/{username}",
            200,
            json!({"login": username, "id": BOT_USER_ID, "type": "Bot"}),
        ),
    )
}

/// The user id of the App's bot account.
pub const BOT_USER_ID: u64 = 4242;

async fn repository(
    State(s): S,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let repo = format!("{owner}/{name}");
    let line = format!("GET /repos/{repo}");
    if let Some(r) = guard(&s, &headers, &line, &repo) {
        return r;
    }
    let Some(default) = lock(&s.git).defaults.get(&repo).cloned() else {
        s.record(line, StatusCode::NOT_FOUND);
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    s.record(line, StatusCode::OK);
    let mut body = answer(
        "get",
        "/repos/{owner}/{repo}",
        200,
        json!({"name": name, "full_name": repo, "default_branch": default}),
    );
    if s.is_broken() {
        body.as_object_mut().expect("an object").remove("node_id");
    }
    ok(200, body)
}

fn pull_json(repo: &str, p: &StoredPull) -> Value {
    let side = |branch: &str, of: &str| json!({"ref": branch, "label": format!("{}:{branch}", of.split('/').next().unwrap_or_default()), "sha": "0000000000000000000000000000000000000000", "repo": {"full_name": of}});
    json!({"number": p.number, "state": p.state, "title": p.title, "body": p.body, "merged": p.merged,
           "url": format!("{}/pulls/{}", api(repo), p.number),
           "html_url": format!("https://github.com/{repo}/pull/{}", p.number),
           "head": side(&p.head, &p.head_repo), "base": side(&p.base, repo)})
}

async fn list_pulls(
    State(s): S,
    Path((owner, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let repo = format!("{owner}/{name}");
    let line = format!("GET /repos/{repo}/pulls");
    if let Some(resp) = guard(&s, &headers, &line, &repo) {
        return resp;
    }
    let q = q.unwrap_or_default();
    let params: BTreeMap<String, String> =
        form_urlencoded::parse(q.as_bytes()).into_owned().collect();
    let mut pulls = lock(&s.git).pulls.get(&repo).cloned().unwrap_or_default();
    // Newest first unless asked otherwise (`sort=created`, GitHub's default), one page of
    // `per_page` (30 by default, at most 100) at a time.
    pulls.sort_by_key(|p| p.number);
    if params.get("direction").is_none_or(|d| d != "asc") {
        pulls.reverse();
    }
    let number = |name: &str, default: usize| {
        params
            .get(name)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(default)
    };
    let per_page = number("per_page", 30).clamp(1, 100);
    let page = number("page", 1).max(1);
    let list: Vec<Value> = pulls
        .iter()
        .filter(|p| {
            params
                .get("state")
                .is_none_or(|st| st == "all" || *st == p.state)
        })
        .filter(|p| {
            // `head=user:ref-name`: the head branch's owner, and the branch.
            let owner_of_head = p.head_repo.split('/').next().unwrap_or_default();
            params
                .get("head")
                .is_none_or(|h| *h == format!("{owner_of_head}:{}", p.head))
        })
        .filter(|p| params.get("base").is_none_or(|b| *b == p.base))
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|p| {
            let mut fill = pull_json(&repo, p);
            if let Some(m) = fill.as_object_mut() {
                m.remove("merged");
            }
            answer_item("get", "/repos/{owner}/{repo}/pulls", 200, fill)
        })
        .collect();
    s.record(line, StatusCode::OK);
    ok(200, Value::Array(list))
}

async fn create_pull(
    State(s): S,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let repo = format!("{owner}/{name}");
    let line = format!("POST /repos/{repo}/pulls");
    if let Some(resp) = guard(&s, &headers, &line, &repo) {
        return resp;
    }
    let mut git = lock(&s.git);
    let (head, base) = (
        body["head"].as_str().unwrap_or_default(),
        body["base"].as_str().unwrap_or_default(),
    );
    let exists = |b: &str| git.refs.contains_key(&(repo.clone(), b.to_owned()));
    let open_already = git
        .pulls
        .get(&repo)
        .into_iter()
        .flatten()
        .any(|p| p.state == "open" && p.head == head);
    if !exists(head) || !exists(base) || open_already {
        s.record(line, StatusCode::UNPROCESSABLE_ENTITY);
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
    }
    let pulls = git.pulls.entry(repo.clone()).or_default();
    let p = StoredPull {
        number: pulls.len() as u64 + 1,
        head: head.to_owned(),
        head_repo: repo.clone(),
        base: base.to_owned(),
        state: "open".into(),
        merged: false,
        title: body["title"].as_str().unwrap_or_default().to_owned(),
        body: body["body"].as_str().unwrap_or_default().to_owned(),
        mergeable: None,
        comments: Vec::new(),
    };
    pulls.push(p.clone());
    drop(git);
    if let Some(lost) = s.answer_lost(&line) {
        return lost;
    }
    s.record(line, StatusCode::CREATED);
    ok(
        201,
        answer(
            "post",
            "/repos/{owner}/{repo}/pulls",
            201,
            pull_json(&repo, &p),
        ),
    )
}

async fn update_pull(
    State(s): S,
    Path((owner, name, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let repo = format!("{owner}/{name}");
    let line = format!("PATCH /repos/{repo}/pulls/{number}");
    if let Some(resp) = guard(&s, &headers, &line, &repo) {
        return resp;
    }
    let mut git = lock(&s.git);
    let Some(p) = git
        .pulls
        .get_mut(&repo)
        .and_then(|ps| ps.iter_mut().find(|p| p.number == number))
    else {
        s.record(line, StatusCode::NOT_FOUND);
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    if let Some(t) = body["title"].as_str() {
        p.title = t.to_owned();
    }
    if let Some(b) = body["body"].as_str() {
        p.body = b.to_owned();
    }
    let p = p.clone();
    s.record(line, StatusCode::OK);
    ok(
        200,
        answer(
            "patch",
            "/repos/{owner}/{repo}/pulls/{pull_number}",
            200,
            pull_json(&repo, &p),
        ),
    )
}

async fn get_pull(
    State(s): S,
    Path((owner, name, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    let repo = format!("{owner}/{name}");
    let line = format!("GET /repos/{repo}/pulls/{number}");
    if let Some(resp) = guard(&s, &headers, &line, &repo) {
        return resp;
    }
    let found = lock(&s.git)
        .pulls
        .get(&repo)
        .and_then(|ps| ps.iter().find(|p| p.number == number))
        .cloned();
    let Some(p) = found else {
        s.record(line, StatusCode::NOT_FOUND);
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    s.record(line, StatusCode::OK);
    let mut fill = pull_json(&repo, &p);
    fill["mergeable"] = json!(p.mergeable);
    ok(
        200,
        answer(
            "get",
            "/repos/{owner}/{repo}/pulls/{pull_number}",
            200,
            fill,
        ),
    )
}

async fn comment(
    State(s): S,
    Path((owner, name, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let repo = format!("{owner}/{name}");
    let line = format!("POST /repos/{repo}/issues/{number}/comments");
    if let Some(resp) = guard(&s, &headers, &line, &repo) {
        return resp;
    }
    let text = body["body"].as_str().unwrap_or_default().to_owned();
    let mut git = lock(&s.git);
    let Some(p) = git
        .pulls
        .get_mut(&repo)
        .and_then(|ps| ps.iter_mut().find(|p| p.number == number))
    else {
        s.record(line, StatusCode::NOT_FOUND);
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    p.comments.push(text.clone());
    s.record(line, StatusCode::CREATED);
    let fill = json!({"body": text,
        "url": format!("{}/issues/comments/1", api(&repo)),
        "html_url": format!("https://github.com/{repo}/pull/{number}#issuecomment-1"),
        "issue_url": format!("{}/issues/{number}", api(&repo))});
    ok(
        201,
        answer(
            "post",
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            201,
            fill,
        ),
    )
}
