//! A stand-in for the few GitHub REST endpoints CodeRipple calls, on loopback, meant to sit
//! behind [`super::Prism`] (which checks every request and answer against GitHub's OpenAPI
//! description). It checks what GitHub checks: App JWTs (RS256, signed by the App's key,
//! `iss` = the App id, at most ten minutes), installation tokens (issued, unexpired, for the
//! installation of the repository asked about), and answers in GitHub's shapes.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use chrono::Utc;
use serde_json::json;
use tokio_util::task::AbortOnDropHandle;

use crate::github_state::{GitHubState, error, git_blob_sha, lock};

/// A running stand-in; stopped when dropped.
#[derive(Debug)]
pub struct GitHubStandIn {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// What it knows and what it was asked.
    pub state: Arc<GitHubState>,
    _task: AbortOnDropHandle<()>,
}

/// A fresh 2048-bit RSA key in PKCS#1 PEM (as GitHub hands out App keys) written to
/// `dir/app.pem`, and its public key (PEM), made with `openssl`.
pub fn app_key(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let key = dir.join("app.pem");
    let made = std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&key)
        .arg("2048")
        .output()
        .expect("openssl runs");
    assert!(made.status.success(), "openssl genrsa");
    let public = std::process::Command::new("openssl")
        .args(["rsa", "-pubout", "-in"])
        .arg(&key)
        .output()
        .expect("openssl runs");
    assert!(public.status.success(), "openssl rsa -pubout");
    (key, String::from_utf8(public.stdout).expect("PEM is text"))
}

/// A GitHub client as App `app_id` with the key in `key_file`, talking to `api_url` (a
/// [`super::Prism`] in front of a stand-in), waiting at most 5 s for a rate limit.
pub fn app_client(
    api_url: &str,
    app_id: u64,
    key_file: &std::path::Path,
) -> coderipple_github::GitHubApi {
    coderipple_github::GitHubApi::new(&coderipple_github::GitHubConfig {
        api_url: api_url.to_owned(),
        credentials: coderipple_github::Credentials::App {
            app_id,
            key_pem: std::fs::read_to_string(key_file).expect("the App's key"),
        },
        max_wait: std::time::Duration::from_secs(5),
    })
    .expect("a GitHub client")
}

impl GitHubStandIn {
    /// Starts a stand-in for App `app_id` whose JWTs verify with `public_key_pem`.
    pub async fn start(app_id: u64, public_key_pem: &str) -> Self {
        let state = Arc::new(GitHubState {
            app_id,
            public_key: Mutex::new(Some(public_key_pem.to_owned())),
            token_ttl_secs: Mutex::new(3600),
            ..GitHubState::default()
        });
        let app = axum::Router::new()
            .route("/app/installations/{id}/access_tokens", post(access_token))
            .route("/repos/{owner}/{repo}/installation", get(installation))
            .route("/orgs/{org}/installation", get(org_installation))
            .route("/repos/{owner}/{repo}/contents/{*path}", get(contents))
            .route("/repos/{owner}/{repo}/git/blobs/{sha}", get(blob))
            .merge(crate::github_routes::routes())
            .merge(crate::github_hooks::routes())
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let task = AbortOnDropHandle::new(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
        Self {
            url,
            state,
            _task: task,
        }
    }
}

async fn access_token(
    State(s): State<Arc<GitHubState>>,
    Path(id): Path<u64>,
    headers: HeaderMap,
) -> Response {
    let line = format!("POST /app/installations/{id}/access_tokens");
    if !s.jwt_ok(&headers) {
        s.record(line, StatusCode::UNAUTHORIZED);
        return error(
            StatusCode::UNAUTHORIZED,
            "A JSON web token could not be decoded",
        );
    }
    if !lock(&s.installations).values().any(|i| *i == id) {
        s.record(line, StatusCode::NOT_FOUND);
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    let token = format!("ghs_{}", uuid::Uuid::new_v4().simple());
    let expires = Utc::now() + chrono::Duration::seconds(*lock(&s.token_ttl_secs));
    lock(&s.tokens).insert(token.clone(), (id, expires));
    s.record(line, StatusCode::CREATED);
    let body = json!({
        "token": token,
        "expires_at": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "permissions": {"contents": "write", "pull_requests": "write", "metadata": "read"},
        "repository_selection": "selected",
    });
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn installation(
    State(s): State<Arc<GitHubState>>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let full = format!("{owner}/{repo}");
    let line = format!("GET /repos/{full}/installation");
    installation_of(&s, &headers, &full, &owner, line)
}

async fn org_installation(
    State(s): State<Arc<GitHubState>>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Response {
    let line = format!("GET /orgs/{org}/installation");
    installation_of(&s, &headers, &org, &org, line)
}

/// The App's installation on `full` (a repository, or an organisation) owned by `owner`.
fn installation_of(
    s: &GitHubState,
    headers: &HeaderMap,
    full: &str,
    owner: &str,
    line: String,
) -> Response {
    if !s.jwt_ok(headers) {
        s.record(line, StatusCode::UNAUTHORIZED);
        return error(
            StatusCode::UNAUTHORIZED,
            "A JSON web token could not be decoded",
        );
    }
    let Some(id) = lock(&s.installations).get(full).copied() else {
        s.record(line, StatusCode::NOT_FOUND);
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    s.record(line, StatusCode::OK);
    let api = "https://api.github.com";
    let user = |login: &str| {
        json!({
            "login": login, "id": 1, "node_id": "MDQ6VXNlcjE=", "avatar_url": "https://avatars.example/u/1",
            "gravatar_id": "", "url": format!("{api}/users/{login}"), "html_url": format!("https://github.com/{login}"),
            "followers_url": format!("{api}/users/{login}/followers"),
            "following_url": format!("{api}/users/{login}/following{{/other_user}}"),
            "gists_url": format!("{api}/users/{login}/gists{{/gist_id}}"),
            "starred_url": format!("{api}/users/{login}/starred{{/owner}}{{/repo}}"),
            "subscriptions_url": format!("{api}/users/{login}/subscriptions"),
            "organizations_url": format!("{api}/users/{login}/orgs"),
            "repos_url": format!("{api}/users/{login}/repos"),
            "events_url": format!("{api}/users/{login}/events{{/privacy}}"),
            "received_events_url": format!("{api}/users/{login}/received_events"),
            "type": "Organization", "site_admin": false
        })
    };
    let body = json!({
        "id": id, "account": user(owner), "repository_selection": "selected",
        "access_tokens_url": format!("{api}/app/installations/{id}/access_tokens"),
        "repositories_url": format!("{api}/installation/repositories"),
        "html_url": format!("https://github.com/organizations/{owner}/settings/installations/{id}"),
        "app_id": s.app_id, "app_slug": "coderipple", "target_id": 1, "target_type": "Organization",
        "permissions": {"contents": "write", "pull_requests": "write", "metadata": "read"},
        "events": ["push", "pull_request", "release", "create"],
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
        "single_file_name": null, "suspended_by": null, "suspended_at": null
    });
    (StatusCode::OK, Json(body)).into_response()
}

async fn contents(
    State(s): State<Arc<GitHubState>>,
    Path((owner, repo, path)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let full = format!("{owner}/{repo}");
    let commit = query
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix("ref=").map(str::to_owned))
        .unwrap_or_default();
    let line = format!("GET /repos/{full}/contents/{path}");
    if !s.token_ok(&headers, &full) {
        s.record(line, StatusCode::UNAUTHORIZED);
        return error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    if s.rate_limited
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        s.record(line, StatusCode::TOO_MANY_REQUESTS);
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "You have exceeded a secondary rate limit",
        );
        r.headers_mut()
            .insert("retry-after", "1".parse().expect("a header"));
        return r;
    }
    let found = lock(&s.files)
        .get(&(full.clone(), commit.clone(), path.clone()))
        .cloned();
    let Some(bytes) = found else {
        s.record(line, StatusCode::NOT_FOUND);
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    s.record(line, StatusCode::OK);
    let sha = git_blob_sha(&bytes);
    let api = format!("https://api.github.com/repos/{full}");
    let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
    let mut body = json!({
        "type": "file", "encoding": "base64", "size": bytes.len(), "name": name, "path": path,
        "content": base64::engine::general_purpose::STANDARD.encode(&bytes),
        "sha": sha, "url": format!("{api}/contents/{path}?ref={commit}"),
        "git_url": format!("{api}/git/blobs/{sha}"),
        "html_url": format!("https://github.com/{full}/blob/{commit}/{path}"),
        "download_url": format!("https://raw.githubusercontent.com/{full}/{commit}/{path}"),
        "_links": {"git": format!("{api}/git/blobs/{sha}"), "self": format!("{api}/contents/{path}"),
                   "html": format!("https://github.com/{full}/blob/{commit}/{path}")}
    });
    if s.broken.load(Ordering::SeqCst) {
        let map = body.as_object_mut().expect("an object");
        map.remove("sha");
        map.remove("_links");
    }
    (StatusCode::OK, Json(body)).into_response()
}

async fn blob(
    State(s): State<Arc<GitHubState>>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let full = format!("{owner}/{repo}");
    let line = format!("GET /repos/{full}/git/blobs/{sha}");
    if !s.token_ok(&headers, &full) {
        s.record(line, StatusCode::UNAUTHORIZED);
        return error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    let found = lock(&s.files)
        .iter()
        .find(|((r, _, _), b)| *r == full && git_blob_sha(b) == sha)
        .map(|(_, b)| b.clone());
    let Some(bytes) = found else {
        s.record(line, StatusCode::NOT_FOUND);
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    s.record(line, StatusCode::OK);
    let body = json!({
        "sha": sha, "node_id": "B_kwDO", "size": bytes.len(), "encoding": "base64",
        "url": format!("https://api.github.com/repos/{full}/git/blobs/{sha}"),
        "content": base64::engine::general_purpose::STANDARD.encode(&bytes),
    });
    (StatusCode::OK, Json(body)).into_response()
}
