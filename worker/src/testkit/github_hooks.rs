//! The stand-in's webhook deliveries: what GitHub says it delivered from the App's hook and
//! from repository hooks (newest first, cursor-paginated with a `Link` header), and the
//! redeliveries asked for.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::github_routes::{guard, ok};
use super::github_standin::{GitHubState, error, lock};
use super::openapi_example::{answer, answer_item};

type S = State<Arc<GitHubState>>;

/// One delivery attempt GitHub made.
#[derive(Debug, Clone)]
pub struct HookDelivery {
    /// The attempt's id.
    pub id: u64,
    /// The delivery's GUID (`X-GitHub-Delivery`), shared by its redeliveries.
    pub guid: String,
    /// When it was made.
    pub delivered_at: chrono::DateTime<chrono::Utc>,
    /// The answer's status (0: no answer).
    pub status_code: u16,
    /// The event.
    pub event: String,
}

/// Deliveries per hook (`app`, or `owner/repo:ID`), newest last, and redeliveries asked for.
#[derive(Debug, Default)]
pub struct Hooks {
    deliveries: HashMap<String, Vec<HookDelivery>>,
    redelivered: HashMap<String, Vec<u64>>,
    next_id: u64,
}

impl GitHubState {
    /// GitHub delivered `guid` from `hook` (`app` or `owner/repo:ID`) `minutes_ago`, and got
    /// `status_code` back (0: no answer, a timeout).
    pub fn add_hook_delivery(&self, hook: &str, guid: &str, status_code: u16, minutes_ago: i64) {
        let mut hooks = lock(&self.hooks);
        hooks.next_id += 1;
        let id = 1000 + hooks.next_id;
        let list = hooks.deliveries.entry(hook.to_owned()).or_default();
        list.push(HookDelivery {
            id,
            guid: guid.to_owned(),
            delivered_at: chrono::Utc::now() - chrono::Duration::minutes(minutes_ago),
            status_code,
            event: "push".into(),
        });
        list.sort_by_key(|d| d.delivered_at);
    }

    /// The attempt ids whose redelivery was asked for on `hook`.
    pub fn redeliveries(&self, hook: &str) -> Vec<u64> {
        lock(&self.hooks)
            .redelivered
            .get(hook)
            .cloned()
            .unwrap_or_default()
    }

    /// The GUID of attempt `id` on `hook`.
    pub fn guid_of(&self, hook: &str, id: u64) -> Option<String> {
        lock(&self.hooks)
            .deliveries
            .get(hook)?
            .iter()
            .find(|d| d.id == id)
            .map(|d| d.guid.clone())
    }
}

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
