//! Every real payload of `@octokit/webhooks-examples` (installed by `scripts/test` into the
//! ignored `.test-fixtures/`), signed and posted through the router: none is refused, and
//! exactly the processed ones are queued.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use coderipple_core::Backend;
use coderipple_core::config::Settings;
use coderipple_core::signature::{Secrets, sign};
use coderipple_core::sqlite::Durability;
use coderipple_ingest::{IngestState, router};
use serde_json::Value;
use tower::ServiceExt;

fn examples_path() -> Option<PathBuf> {
    let path = std::env::var_os("CODERIPPLE_WEBHOOK_EXAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../.test-fixtures/node_modules/@octokit/webhooks-examples/api.github.com/index.json")
        });
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CODERIPPLE_REQUIRE_FIXTURES").is_none(),
        "{} is missing; scripts/test installs it",
        path.display()
    );
    eprintln!("SKIPPED: octokit examples not installed; run scripts/test to install them");
    None
}

/// Whether CodeRipple processes this example, decided from the payload itself.
fn processed(event: &str, p: &Value) -> bool {
    match event {
        "push" => true,
        "pull_request" => p["action"] == "closed" && p["pull_request"]["merged"] == true,
        "release" => p["action"] == "published" || p["action"] == "released",
        "create" => p["ref_type"] == "tag",
        _ => false,
    }
}

#[tokio::test]
async fn every_real_payload_is_accepted_and_exactly_the_processed_ones_are_queued() {
    let Some(path) = examples_path() else { return };
    let index: Vec<Value> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        sqlite_sync: Durability::Normal,
        ..Settings::default()
    };
    let backend = Backend::open_local(dir.path(), &settings, true).unwrap();
    let state = Arc::new(IngestState::new(
        &backend,
        Secrets::new("s", None).unwrap(),
        coderipple_core::metrics::Metrics::off(),
    ));
    let (mut total, mut expected_queued, mut queued) = (0, 0, 0);
    for kind in &index {
        let event = kind["name"].as_str().unwrap();
        for (i, payload) in kind["examples"].as_array().unwrap().iter().enumerate() {
            total += 1;
            let body = payload.to_string();
            let req = Request::post("/webhook")
                .header("content-type", "application/json")
                .header("x-github-event", event)
                .header("x-github-delivery", format!("{event}-{i}"))
                .header("x-hub-signature-256", sign(b"s", body.as_bytes()))
                .body(Body::from(body))
                .unwrap();
            let resp = router(state.clone()).oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            assert!(
                status == 200 || status == 202,
                "{event} example {i} answered {status}"
            );
            if processed(event, payload) {
                expected_queued += 1;
            }
            if status == 202 {
                let bytes = http_body_util::BodyExt::collect(resp.into_body())
                    .await
                    .unwrap()
                    .to_bytes();
                let json: Value = serde_json::from_slice(&bytes).unwrap();
                if json["status"] == "queued" {
                    queued += 1;
                }
            }
        }
    }
    assert!(total > 300, "only {total} examples");
    assert_eq!(queued, expected_queued);
    assert!(queued > 10);
}
