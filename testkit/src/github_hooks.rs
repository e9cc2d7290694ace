//! The stand-in's webhook deliveries: what GitHub says it delivered from the App's hook and
//! from repository and organisation hooks (newest first, cursor-paginated with a `Link` header), and the
//! redeliveries asked for.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::github_git::HookDelivery;
use crate::github_state::{GitHubState, error, guard, lock, ok};
use crate::openapi_example::{answer, answer_item};

type S = State<Arc<GitHubState>>;

/// The routes, for the stand-in's router.
pub(super) fn routes() -> Router<Arc<GitHubState>> {
    Router::new()
        .route("/app/hook/deliveries", get(app_list))
        .route("/app/hook/deliveries/{id}/attempts", post(app_redeliver))
        .route(
            "/repos/{owner}/{repo}/hooks/{hook}/deliveries",
            get(repo_list),
        )
        .route(
            "/repos/{owner}/{repo}/hooks/{hook}/deliveries/{id}/attempts",
            post(repo_redeliver),
        )
        .route("/orgs/{org}/hooks/{hook}/deliveries", get(org_list))
        .route(
            "/orgs/{org}/hooks/{hook}/deliveries/{id}/attempts",
            post(org_redeliver),
        )
}

const PAGE: usize = 2;

/// One page of `hook`'s deliveries, newest first, after `cursor`.
fn page(
    s: &GitHubState,
    hook: &str,
    spec_path: &str,
    url: &str,
    query: Option<String>,
) -> Response {
    let query = query.unwrap_or_default();
    let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let per_page = params
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30usize)
        .min(PAGE);
    let start: usize = params
        .get("cursor")
        .and_then(|c| c.strip_prefix("v1_")?.parse().ok())
        .unwrap_or(0);
    let all: Vec<HookDelivery> = lock(&s.hooks)
        .deliveries
        .get(hook)
        .map(|l| l.iter().rev().cloned().collect())
        .unwrap_or_default();
    let items: Vec<Value> = all
        .iter()
        .skip(start)
        .take(per_page)
        .map(|d| {
            let status = if d.status_code == 0 {
                "timed out".to_owned()
            } else {
                format!("HTTP {}", d.status_code)
            };
            answer_item(
                "get",
                spec_path,
                200,
                json!({
                "id": d.id, "guid": d.guid, "status_code": d.status_code, "status": status,
                "delivered_at": d.delivered_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "redelivery": false, "duration": 0.1, "event": d.event, "action": null,
                "installation_id": null, "repository_id": null}),
            )
        })
        .collect();
    let mut r = ok(200, Value::Array(items));
    if start + per_page < all.len() {
        let link = format!(
            "<{url}?per_page={per_page}&cursor=v1_{}>; rel=\"next\"",
            start + per_page
        );
        r.headers_mut()
            .insert("link", link.parse().expect("a header"));
    }
    r
}

async fn app_list(State(s): S, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    let line = "GET /app/hook/deliveries".to_owned();
    if !s.jwt_ok(&headers) {
        s.record(line, StatusCode::UNAUTHORIZED);
        return error(
            StatusCode::UNAUTHORIZED,
            "A JSON web token could not be decoded",
        );
    }
    if let Some(r) = s.fault(&line) {
        return r;
    }
    s.record(line, StatusCode::OK);
    page(
        &s,
        "app",
        "/app/hook/deliveries",
        "https://api.github.com/app/hook/deliveries",
        q,
    )
}

async fn app_redeliver(State(s): S, Path(id): Path<u64>, headers: HeaderMap) -> Response {
    let line = format!("POST /app/hook/deliveries/{id}/attempts");
    if !s.jwt_ok(&headers) {
        s.record(line, StatusCode::UNAUTHORIZED);
        return error(
            StatusCode::UNAUTHORIZED,
            "A JSON web token could not be decoded",
        );
    }
    if let Some(r) = s.fault(&line) {
        return r;
    }
    redeliver(
        &s,
        "app",
        id,
        line,
        "/app/hook/deliveries/{delivery_id}/attempts",
    )
}

async fn repo_list(
    State(s): S,
    Path((owner, name, hook)): Path<(String, String, u64)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let repo = format!("{owner}/{name}");
    let line = format!("GET /repos/{repo}/hooks/{hook}/deliveries");
    if let Some(r) = guard(&s, &headers, &line, &repo) {
        return r;
    }
    s.record(line, StatusCode::OK);
    let url = format!("https://api.github.com/repos/{repo}/hooks/{hook}/deliveries");
    page(
        &s,
        &format!("{repo}:{hook}"),
        "/repos/{owner}/{repo}/hooks/{hook_id}/deliveries",
        &url,
        q,
    )
}

async fn repo_redeliver(
    State(s): S,
    Path((owner, name, hook, id)): Path<(String, String, u64, u64)>,
    headers: HeaderMap,
) -> Response {
    let repo = format!("{owner}/{name}");
    let line = format!("POST /repos/{repo}/hooks/{hook}/deliveries/{id}/attempts");
    if let Some(r) = guard(&s, &headers, &line, &repo) {
        return r;
    }
    redeliver(
        &s,
        &format!("{repo}:{hook}"),
        id,
        line,
        "/repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts",
    )
}

async fn org_list(
    State(s): S,
    Path((org, hook)): Path<(String, u64)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let line = format!("GET /orgs/{org}/hooks/{hook}/deliveries");
    if let Some(r) = guard(&s, &headers, &line, &org) {
        return r;
    }
    s.record(line, StatusCode::OK);
    let url = format!("https://api.github.com/orgs/{org}/hooks/{hook}/deliveries");
    page(
        &s,
        &format!("{org}:{hook}"),
        "/orgs/{org}/hooks/{hook_id}/deliveries",
        &url,
        q,
    )
}

async fn org_redeliver(
    State(s): S,
    Path((org, hook, id)): Path<(String, u64, u64)>,
    headers: HeaderMap,
) -> Response {
    let line = format!("POST /orgs/{org}/hooks/{hook}/deliveries/{id}/attempts");
    if let Some(r) = guard(&s, &headers, &line, &org) {
        return r;
    }
    redeliver(
        &s,
        &format!("{org}:{hook}"),
        id,
        line,
        "/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts",
    )
}

fn redeliver(s: &GitHubState, hook: &str, id: u64, line: String, spec_path: &str) -> Response {
    let mut hooks = lock(&s.hooks);
    let known = hooks
        .deliveries
        .get(hook)
        .is_some_and(|l| l.iter().any(|d| d.id == id));
    if !known {
        drop(hooks);
        s.record(line, StatusCode::NOT_FOUND);
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    hooks
        .redelivered
        .entry(hook.to_owned())
        .or_default()
        .push(id);
    drop(hooks);
    s.record(line, StatusCode::ACCEPTED);
    ok(202, answer("post", spec_path, 202, json!({})))
}
