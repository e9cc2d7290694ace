//! GitHub's side of `--drop`: a delivery log on loopback, shaped like GitHub's hook
//! deliveries API, for the pipeline's recovery to read.
//!
//! A dropped request is never sent to ingest; the log records it as a failed attempt (a
//! `503`, as when our side was down), and nobody re-sends it — GitHub would not. The spawned
//! `coderipple up` is pointed at this log (`CODERIPPLE_GITHUB_API_URL`, a token, and one
//! repository hook per repository in `CODERIPPLE_RECOVER_HOOKS`); its recovery lists
//! `GET /repos/{owner}/{repo}/hooks/{id}/deliveries` and asks
//! `POST …/deliveries/{delivery_id}/attempts` for what it never stored. The log then sends the
//! request to ingest, as GitHub's redelivery does, and records the answer. Only the dropped
//! deliveries are listed: every other one reached ingest, which the verification checks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::target::{Answer, Target};
use crate::traffic::Request;

/// The hook id every repository's deliveries are listed under.
pub const HOOK_ID: u64 = 1;

#[derive(Debug)]
struct Attempt {
    id: u64,
    guid: String,
    repo: String,
    status: u16,
    at: chrono::DateTime<chrono::Utc>,
    redelivery: bool,
}

#[derive(Debug, Default)]
struct Log {
    attempts: Vec<Attempt>,
    requests: HashMap<String, Request>,
    /// Redelivered GUID → ingest's answer.
    answered: HashMap<String, Answer>,
}

#[derive(Debug, Clone)]
struct Shared {
    log: Arc<Mutex<Log>>,
    /// Where redeliveries go (set once the pipeline listens).
    target: Arc<std::sync::OnceLock<Target>>,
}

/// The delivery log and its server (stopped when dropped).
#[derive(Debug)]
pub struct DeliveryLog {
    shared: Shared,
    /// `http://127.0.0.1:PORT`, GitHub's API root for the pipeline.
    pub url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for DeliveryLog {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl DeliveryLog {
    /// Serves the log on a free loopback port (redeliveries wait for [`Self::deliver_to`]).
    pub async fn start() -> anyhow::Result<Self> {
        let shared = Shared {
            log: Arc::default(),
            target: Arc::default(),
        };
        let app = Router::new()
            .route("/repos/{owner}/{repo}/hooks/{hook}/deliveries", get(list))
            .route(
                "/repos/{owner}/{repo}/hooks/{hook}/deliveries/{id}/attempts",
                post(redeliver),
            )
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            shared,
            url,
            server,
        })
    }

    /// Where redeliveries are sent from now on (the first call wins).
    pub fn deliver_to(&self, target: Target) {
        let _ = self.shared.target.set(target);
    }

    /// Records `request` as a delivery GitHub failed (answered `503`) and will not re-send.
    pub fn drop_delivery(&self, request: &Request) {
        let mut log = self.shared.log.lock().expect("log lock");
        let id = log.attempts.len() as u64 + 1;
        log.attempts.push(Attempt {
            id,
            guid: request.delivery.clone(),
            repo: request.repo.clone(),
            status: 503,
            at: chrono::Utc::now(),
            redelivery: false,
        });
        log.requests
            .insert(request.delivery.clone(), request.clone());
    }

    /// Ingest's answer to the redelivery of `guid`, once there was one.
    pub fn redelivered(&self, guid: &str) -> Option<Answer> {
        self.shared
            .log
            .lock()
            .expect("log lock")
            .answered
            .get(guid)
            .cloned()
    }
}

async fn list(
    State(s): State<Shared>,
    Path((owner, repo, _hook)): Path<(String, String, u64)>,
) -> Response {
    let repo = format!("{owner}/{repo}");
    let log = s.log.lock().expect("log lock");
    let items: Vec<_> = log
        .attempts
        .iter()
        .rev()
        .filter(|a| a.repo == repo)
        .map(|a| {
            json!({"id": a.id, "guid": a.guid, "delivered_at": a.at.to_rfc3339(),
                   "redelivery": a.redelivery, "duration": 0.01,
                   "status": if a.status < 300 { "OK" } else { "Service Unavailable" },
                   "status_code": a.status, "event": "push", "action": null,
                   "installation_id": null, "repository_id": 1})
        })
        .collect();
    Json(items).into_response()
}

async fn redeliver(
    State(s): State<Shared>,
    Path((_owner, _repo, _hook, id)): Path<(String, String, u64, u64)>,
) -> Response {
    let request = {
        let log = s.log.lock().expect("log lock");
        let Some(attempt) = log.attempts.iter().find(|a| a.id == id) else {
            return (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response();
        };
        log.requests.get(&attempt.guid).cloned()
    };
    let Some(request) = request else {
        return (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response();
    };
    let Some(target) = s.target.get().cloned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"message": "not ready"})),
        )
            .into_response();
    };
    // GitHub answers at once and delivers in the background.
    tokio::spawn(async move {
        let answer = target.send(&request).await;
        let mut log = s.log.lock().expect("log lock");
        let id = log.attempts.len() as u64 + 1;
        log.attempts.push(Attempt {
            id,
            guid: request.delivery.clone(),
            repo: request.repo.clone(),
            status: answer.status,
            at: chrono::Utc::now(),
            redelivery: true,
        });
        if answer.status < 300 {
            log.answered.insert(request.delivery.clone(), answer);
        }
    });
    (StatusCode::ACCEPTED, Json(json!({}))).into_response()
}
