//! One test per row of the ingest status table (`docs/http-contract.md`), against
//! the real router over real SQLite queue and store in a temp dir.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use axum::response::Response;
use coderipple_core::blob::DirBlobStore;
use coderipple_core::config::Settings;
use coderipple_core::envelope::Envelope;
use coderipple_core::intake::ClaimThenSend;
use coderipple_core::queue::sqlite::SqliteQueue;
use coderipple_core::queue::{Queue, QueueSettings};
use coderipple_core::signature::{Secrets, sign};
use coderipple_core::sqlite::{Durability, SqliteDb};
use coderipple_core::store::sqlite::SqliteStore;
use coderipple_core::store::{DeliveryStatus, Store};
use coderipple_ingest::{IngestState, router};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const SECRET: &str = "test-secret";

struct Harness {
    state: Arc<IngestState>,
    queue_db: SqliteDb,
    store_db: SqliteDb,
    dir: tempfile::TempDir,
}

fn harness_with(settings: Settings) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let queue_db = SqliteDb::open(dir.path().join("queue.db"), Durability::Normal).unwrap();
    let store_db = SqliteDb::open(dir.path().join("store.db"), Durability::Normal).unwrap();
    let state = state_over(&queue_db, &store_db, &dir, settings);
    Harness {
        state,
        queue_db,
        store_db,
        dir,
    }
}

fn harness() -> Harness {
    harness_with(Settings::default())
}

fn state_over(
    queue_db: &SqliteDb,
    store_db: &SqliteDb,
    dir: &tempfile::TempDir,
    settings: Settings,
) -> Arc<IngestState> {
    // Queue and store in separate databases: the intake is the generic claim-then-send,
    // so either can fail on its own.
    let queue: Arc<dyn Queue> = Arc::new(SqliteQueue::new(
        queue_db.clone(),
        "events",
        Some("events-dlq"),
        QueueSettings::default(),
    ));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::new(store_db.clone()));
    Arc::new(IngestState {
        secrets: Secrets::new(SECRET, Some("old-secret")).unwrap(),
        intake: Arc::new(ClaimThenSend {
            store: store.clone(),
            queue: queue.clone(),
        }),
        queue,
        store,
        blobs: Arc::new(DirBlobStore::new(dir.path().join("payloads"))),
        settings,
        backend: "sqlite".into(),
        metrics: coderipple_core::metrics::Metrics::off(),
    })
}

fn push_payload(repo: &str) -> Value {
    json!({
        "ref": "refs/heads/main", "before": "0".repeat(40), "after": "a".repeat(40),
        "repository": {"full_name": repo, "html_url": format!("https://github.com/{repo}")},
        "commits": [{"id": "a".repeat(40), "message": "feat: add a thing",
                     "author": {"name": "Mona"}, "added": ["src/thing.rs"]}]
    })
}

fn signed(event: &str, delivery: &str, body: &[u8], secret: &str) -> Request<Body> {
    Request::post("/webhook")
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", sign(secret.as_bytes(), body))
        .body(Body::from(body.to_vec()))
        .unwrap()
}

async fn call(state: &Arc<IngestState>, req: Request<Body>) -> (StatusCode, Value, Response<()>) {
    let resp = router(state.clone()).oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (parts.status, json, Response::from_parts(parts, ()))
}

async fn queued(state: &IngestState) -> Vec<coderipple_core::queue::PeekedMessage> {
    state.queue.peek(100).await.unwrap()
}

async fn wait_for_status(store: &dyn Store, id: &str, want: DeliveryStatus) {
    for _ in 0..100 {
        if store.delivery(id).await.unwrap().map(|r| r.status) == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("delivery {id} never reached {want:?}");
}

#[tokio::test]
async fn accepted_push_is_queued_under_its_repo_and_delivery() {
    let h = harness();
    let body = push_payload("octo/hello").to_string();
    let (status, json, _) = call(&h.state, signed("push", "d-1", body.as_bytes(), SECRET)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(json, json!({"delivery": "d-1", "status": "queued"}));
    let msgs = queued(&h.state).await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].group_id, "octo/hello");
    assert_eq!(msgs[0].dedup_id, "d-1");
    let env = Envelope::from_json(&msgs[0].body).unwrap();
    assert_eq!(
        (env.event.as_str(), env.repo.as_str()),
        ("push", "octo/hello")
    );
    let claim = h.state.store.delivery("d-1").await.unwrap().unwrap();
    assert_eq!(
        claim.status,
        DeliveryStatus::Received,
        "claimed before the 202"
    );
}

#[tokio::test]
async fn redelivery_of_a_queued_delivery_is_a_duplicate() {
    let h = harness();
    let body = push_payload("octo/hello").to_string();
    call(&h.state, signed("push", "d-1", body.as_bytes(), SECRET)).await;
    let (status, json, _) = call(&h.state, signed("push", "d-1", body.as_bytes(), SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json, json!({"delivery": "d-1", "status": "duplicate"}));
    assert_eq!(queued(&h.state).await.len(), 1, "nothing queued twice");
}

#[tokio::test]
async fn ping_is_answered_and_not_queued() {
    let h = harness();
    let body = json!({"zen": "Keep it logically awesome.", "hook_id": 1}).to_string();
    let (status, json, _) = call(&h.state, signed("ping", "p-1", body.as_bytes(), SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json, json!({"status": "pong"}));
    assert!(queued(&h.state).await.is_empty());
}

#[tokio::test]
async fn unprocessed_events_are_ignored_with_a_reason() {
    let h = harness();
    let body = json!({"action": "created", "repository": {"full_name": "octo/hello"}}).to_string();
    let (status, json, _) = call(&h.state, signed("star", "s-1", body.as_bytes(), SECRET)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(json["status"], "ignored");
    assert!(json["reason"].as_str().unwrap().contains("star"));
    assert!(queued(&h.state).await.is_empty());
    wait_for_status(h.state.store.as_ref(), "s-1", DeliveryStatus::Ignored).await;
}

#[tokio::test]
async fn an_ignored_delivery_is_recorded_before_the_answer() {
    // The Lambda path serves this same router, and Lambda freezes the process once the
    // response is out: the record must exist when the handler returns, not "soon after".
    // The store's writer is kept busy for a moment, so a record written after the answer
    // would not be there yet.
    let h = harness();
    let (started, busy_now) = tokio::sync::oneshot::channel();
    let db = h.store_db.clone();
    let busy = tokio::spawn(async move {
        db.write(move |_| {
            let _ = started.send(());
            std::thread::sleep(Duration::from_millis(300));
            Ok::<_, coderipple_core::Error>(())
        })
        .await
    });
    busy_now.await.unwrap();
    let body = json!({"action": "created", "repository": {"full_name": "octo/hello"}}).to_string();
    let (status, json, _) = call(&h.state, signed("star", "i-1", body.as_bytes(), SECRET)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(json["status"], "ignored");
    let record = h.state.store.delivery("i-1").await.unwrap();
    assert_eq!(
        record.map(|r| r.status),
        Some(DeliveryStatus::Ignored),
        "recorded before the answer"
    );
    busy.await.unwrap().unwrap();
}

#[tokio::test]
async fn missing_wrong_or_unknown_signatures_are_401_without_detail() {
    let h = harness();
    let body = push_payload("octo/hello").to_string();
    let mut unsigned = signed("push", "d-1", body.as_bytes(), SECRET);
    unsigned.headers_mut().remove("x-hub-signature-256");
    let mut tampered = signed("push", "d-2", body.as_bytes(), SECRET);
    *tampered.body_mut() = Body::from(format!("{body} "));
    let unknown = signed("push", "d-3", body.as_bytes(), "someone-else");
    for req in [unsigned, tampered, unknown] {
        let (status, json, _) = call(&h.state, req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let text = json.to_string();
        assert!(
            !text.contains(SECRET) && !text.contains("old-secret"),
            "{text}"
        );
    }
    assert!(queued(&h.state).await.is_empty());
}

#[tokio::test]
async fn previous_secret_is_accepted_during_rotation() {
    let h = harness();
    let body = push_payload("octo/hello").to_string();
    let (status, _, _) = call(
        &h.state,
        signed("push", "r-1", body.as_bytes(), "old-secret"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn missing_headers_and_bad_bodies_are_400() {
    let h = harness();
    let body = push_payload("octo/hello").to_string();
    let mut no_event = signed("push", "d-1", body.as_bytes(), SECRET);
    no_event.headers_mut().remove("x-github-event");
    let mut no_delivery = signed("push", "d-2", body.as_bytes(), SECRET);
    no_delivery.headers_mut().remove("x-github-delivery");
    let bad_json = signed("push", "d-3", b"{not json", SECRET);
    let form_body = b"other=1";
    let mut bad_form = signed("push", "d-4", form_body, SECRET);
    bad_form.headers_mut().insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    let bad_id = signed("push", "../../etc", body.as_bytes(), SECRET);
    for (name, req) in [
        ("no event", no_event),
        ("no delivery", no_delivery),
        ("bad json", bad_json),
        ("bad form", bad_form),
        ("bad delivery id", bad_id),
    ] {
        let (status, json, _) = call(&h.state, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
        assert!(
            json["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{name}"
        );
    }
    assert!(queued(&h.state).await.is_empty());
}

#[tokio::test]
async fn delivery_ids_a_blob_store_would_refuse_are_400_and_nothing_is_kept() {
    // The claim-check keys a body by its delivery id; a hidden name (`.x`, `..`) is not a
    // key it takes. Small or claim-checked, such a delivery is refused at once.
    let h = harness_with(Settings {
        max_message_bytes: 1024,
        ..Settings::default()
    });
    let mut big = push_payload("octo/big");
    big["commits"][0]["added"] = json!((0..200).map(|i| format!("f{i}.rs")).collect::<Vec<_>>());
    let small = push_payload("octo/small").to_string();
    let big = big.to_string();
    for (id, body) in [(".hidden", &small), ("..", &small), (".big", &big)] {
        let (status, json, _) = call(&h.state, signed("push", id, body.as_bytes(), SECRET)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{id}: {json}");
        let reason = json["error"].as_str().unwrap_or_default();
        assert!(reason.contains("X-GitHub-Delivery"), "{id}: {reason}");
        assert!(h.state.store.delivery(id).await.unwrap().is_none(), "{id}");
    }
    assert!(queued(&h.state).await.is_empty());
    assert!(
        !h.dir.path().join("payloads").exists()
            || std::fs::read_dir(h.dir.path().join("payloads"))
                .unwrap()
                .next()
                .is_none(),
        "no claim-checked body"
    );
}

#[tokio::test]
async fn form_encoded_bodies_are_verified_raw_and_accepted() {
    let h = harness();
    let payload = push_payload("octo/form").to_string();
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload)
        .finish();
    let mut req = signed("push", "f-1", form.as_bytes(), SECRET);
    req.headers_mut().insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    let (status, json, _) = call(&h.state, req).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(queued(&h.state).await[0].group_id, "octo/form");
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_declared_or_streamed() {
    let h = harness_with(Settings {
        max_body_bytes: 1024,
        ..Settings::default()
    });
    let big = vec![b' '; 4096];
    let (status, _, _) = call(&h.state, signed("push", "big-1", &big, SECRET)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // No Content-Length: the limit must hold while streaming.
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        (0..8).map(|_| Ok(Bytes::from(vec![b' '; 512]))).collect();
    let mut streamed = signed("push", "big-2", b"", SECRET);
    *streamed.body_mut() = Body::from_stream(futures::stream::iter(chunks));
    let (status, _, _) = call(&h.state, streamed).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(queued(&h.state).await.is_empty());
}

#[tokio::test]
async fn unsupported_content_types_are_415() {
    let h = harness();
    let body = push_payload("octo/hello").to_string();
    let mut req = signed("push", "c-1", body.as_bytes(), SECRET);
    req.headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    let (status, _, _) = call(&h.state, req).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn queue_down_is_503_and_the_redelivery_still_reaches_the_queue() {
    let h = harness();
    let body = push_payload("octo/hello").to_string();
    h.queue_db.close();
    let (status, json, resp) = call(&h.state, signed("push", "q-1", body.as_bytes(), SECRET)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().contains_key("retry-after"));
    assert!(
        !json.to_string().contains("sqlite"),
        "5xx bodies stay opaque"
    );
    // The queue comes back; the delivery is redelivered (by hand or through the API: GitHub
    // does not retry on its own) with the same id. The claim exists, but its send
    // never happened: the redelivery must put it on the queue, not drop it as a duplicate.
    let queue_db = SqliteDb::open(h.queue_db.path(), Durability::Normal).unwrap();
    let state = state_over(&queue_db, &h.store_db, &h.dir, Settings::default());
    assert!(queued(&state).await.is_empty());
    let (status, json, _) = call(&state, signed("push", "q-1", body.as_bytes(), SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["status"], "duplicate");
    assert_eq!(
        queued(&state).await.len(),
        1,
        "the redelivery is on the queue"
    );
    let (_, json, _) = call(&state, signed("push", "q-1", body.as_bytes(), SECRET)).await;
    assert_eq!(json["status"], "duplicate");
    assert_eq!(queued(&state).await.len(), 1, "and only once");
}

#[tokio::test]
async fn store_down_is_503_and_nothing_is_queued() {
    let h = harness();
    let body = push_payload("octo/hello").to_string();
    h.store_db.close();
    let (status, _, resp) = call(&h.state, signed("push", "s-1", body.as_bytes(), SECRET)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().contains_key("retry-after"));
    assert!(queued(&h.state).await.is_empty());
}

#[tokio::test]
async fn health_reports_version_backend_and_checks() {
    let h = harness();
    let req = Request::get("/health").body(Body::empty()).unwrap();
    let (status, json, _) = call(&h.state, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["backend"], "sqlite");
    assert_eq!(json["checks"]["queue"], "ok");
    assert!(json["version"].is_string());
    h.store_db.close();
    let req = Request::get("/health").body(Body::empty()).unwrap();
    let (status, json, _) = call(&h.state, req).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json["checks"]["store"], "unavailable");
}

#[tokio::test]
async fn large_envelopes_are_claim_checked() {
    let h = harness_with(Settings {
        max_message_bytes: 1024,
        ..Settings::default()
    });
    let mut payload = push_payload("octo/big");
    payload["commits"][0]["added"] = json!(
        (0..200)
            .map(|i| format!("src/file_{i}.rs"))
            .collect::<Vec<_>>()
    );
    let body = payload.to_string();
    let (status, _, _) = call(&h.state, signed("push", "cc-1", body.as_bytes(), SECRET)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let msgs = queued(&h.state).await;
    let env = Envelope::from_json(&msgs[0].body).unwrap();
    assert!(env.change.is_none());
    let reference = env.change_ref.expect("change_ref");
    let stored = h.state.blobs.get(&reference).await.unwrap();
    let change: Value = serde_json::from_slice(&stored).unwrap();
    assert_eq!(change["commits"][0]["added"].as_array().unwrap().len(), 200);
    assert!(msgs[0].body.len() < 1024);
}
