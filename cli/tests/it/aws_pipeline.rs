//! End to end on moto: the ingest router (as the ingest Lambda serves it) → SQS FIFO →
//! a local event source mapping that builds the `SqsEvent`, calls the Lambda worker handler
//! and deletes or keeps messages from `batchItemFailures` as Lambda does → docs in S3,
//! records in DynamoDB, poison in the DLQ with its reason; and docs published from there as a
//! standing pull request (`github_pr`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::Request;
use coderipple_consumer::event_source::{EventSourceMapping, Round};
use coderipple_consumer::handle_sqs_event;
use coderipple_core::config::Settings;
use coderipple_core::contract::aws::{AwsBackends, fresh_backends};
use coderipple_core::metrics::{Capture, Metrics};
use coderipple_core::queue::{OutgoingMessage, Queue};
use coderipple_core::signature::{Secrets, sign};
use coderipple_core::store::{DeliveryStatus, Store};
use coderipple_ingest::{IngestState, router};
use coderipple_testkit::{GitHubStandIn, Prism, app_client, app_key};
use coderipple_worker::WorkerContext;
use coderipple_worker::publish::{DocStrategy, PublishConfig};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common;

const SECRET: &str = "aws-e2e-secret";

fn settings() -> Settings {
    Settings {
        // Small, so that one big push is claim-checked to S3.
        max_message_bytes: 4 * 1024,
        visibility_timeout: Duration::from_secs(2),
        retry_delay: Duration::from_millis(200),
        ..Settings::default()
    }
}

fn sha(seed: u64, n: u64) -> String {
    format!("{seed:08x}{n:032x}")
}

fn push(repo: &str, commit: &str, files: usize) -> String {
    let modified: Vec<String> = (0..files).map(|i| format!("src/module_{i}.rs")).collect();
    json!({
        "ref": "refs/heads/main", "before": "0".repeat(40), "after": commit,
        "repository": {"full_name": repo, "html_url": format!("https://github.com/{repo}"), "default_branch": "main"},
        "commits": [{"id": commit, "message": format!("feat: change {commit}"), "author": {"name": "E2E"}, "modified": modified}],
    })
    .to_string()
}

fn release(repo: &str) -> String {
    json!({
        "action": "published",
        "repository": {"full_name": repo, "html_url": format!("https://github.com/{repo}"), "default_branch": "main"},
        "release": {"tag_name": "v1.0.0", "name": "v1.0.0", "body": "First release",
                    "html_url": format!("https://github.com/{repo}/releases/tag/v1.0.0"),
                    "prerelease": false, "published_at": "2026-12-01T10:00:00Z"},
    })
    .to_string()
}

struct Pipeline {
    aws: AwsBackends,
    ingest: Arc<IngestState>,
    worker: Arc<WorkerContext>,
    metrics: Capture,
}

async fn pipeline() -> Pipeline {
    let settings = settings();
    let aws = fresh_backends(&settings).await;
    let metrics = Capture::default();
    Pipeline {
        ingest: common::aws::ingest_state(&aws, Secrets::new(SECRET, None).unwrap(), &settings),
        worker: Arc::new(common::aws::worker_context(
            &aws,
            &settings,
            Metrics::to_writer(metrics.clone()),
        )),
        aws,
        metrics,
    }
}

async fn post(p: &Pipeline, delivery: &str, body: &str) -> (u16, Value) {
    post_event(p, delivery, "push", body).await
}

async fn post_event(p: &Pipeline, delivery: &str, event: &str, body: &str) -> (u16, Value) {
    let req = Request::post("/")
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header(
            "x-hub-signature-256",
            sign(SECRET.as_bytes(), body.as_bytes()),
        )
        .body(Body::from(body.to_owned()))
        .unwrap();
    let resp = router(p.ingest.clone()).oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn esm(p: &Pipeline) -> EventSourceMapping {
    EventSourceMapping::new(
        p.aws.queue.clone(),
        p.aws.queue.arn().await.unwrap(),
        Duration::from_secs(2),
    )
}

async fn invoke_once(p: &Pipeline, mapping: &EventSourceMapping) -> Round {
    let consumer = p.worker.consumer();
    mapping
        .poll_once(|event| {
            let deadline = SystemTime::now() + Duration::from_secs(30);
            handle_sqs_event(&consumer, event, Some(deadline))
        })
        .await
        .unwrap()
}

/// Runs the mapping until the queue is empty (bounded).
async fn drain(p: &Pipeline, mapping: &EventSourceMapping) {
    for _ in 0..60 {
        let round = invoke_once(p, mapping).await;
        let stats = p.aws.queue.stats().await.unwrap();
        if round.received == 0 && stats.visible + stats.in_flight == 0 && !mapping.has_parked() {
            return;
        }
        if round.received == 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    panic!("queue not drained: {:?}", p.aws.queue.stats().await);
}

async fn s3_text(p: &Pipeline, key: &str) -> Option<String> {
    let out = p
        .aws
        .clients
        .s3
        .get_object()
        .bucket(&p.aws.resources.bucket)
        .key(key)
        .send()
        .await
        .ok()?;
    let bytes = out.body.collect().await.ok()?.into_bytes();
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_flow_through_sqs_and_the_lambda_worker_into_s3_and_dynamodb() {
    let p = pipeline().await;
    let mut deliveries = Vec::new();
    for n in 0..3 {
        let d = format!("a-{n}-{}", uuid::Uuid::new_v4());
        let (status, body) = post(&p, &d, &push("o/a", &sha(1, n), 2)).await;
        assert_eq!(status, 202, "{body}");
        deliveries.push(d);
    }
    // One push big enough to be claim-checked to S3.
    let big = format!("b-{}", uuid::Uuid::new_v4());
    assert_eq!(post(&p, &big, &push("o/b", &sha(2, 0), 200)).await.0, 202);
    deliveries.push(big);
    // GitHub's redelivery of the first: a duplicate, not a second message.
    let (status, body) = post(&p, &deliveries[0], &push("o/a", &sha(1, 0), 2)).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("duplicate")));
    // A poison message of repo o/c (unreadable envelope), and a good one behind it.
    p.aws
        .queue
        .send_batch(&[OutgoingMessage::new("o/c", "poison-1", "{not json")])
        .await
        .unwrap();
    let after_poison = format!("c-{}", uuid::Uuid::new_v4());
    assert_eq!(
        post(&p, &after_poison, &push("o/c", &sha(3, 0), 1)).await.0,
        202
    );
    deliveries.push(after_poison);

    let mapping = esm(&p).await;
    drain(&p, &mapping).await;

    for d in &deliveries {
        let record = p.aws.store.delivery(d).await.unwrap().expect("record");
        assert_eq!(record.status, DeliveryStatus::Completed, "{d}");
    }
    let changelog = s3_text(&p, "docs/o/a/decisions/changelog.md")
        .await
        .expect("changelog in S3");
    let positions: Vec<usize> = (0..3)
        .map(|n| changelog.find(&sha(1, n)[..7]).expect("entry per commit"))
        .collect();
    assert_eq!(positions.len(), 3);
    assert!(
        s3_text(&p, "docs/o/b/decisions/changelog.md")
            .await
            .is_some_and(|t| t.contains(&sha(2, 0)[..7])),
        "the claim-checked push was applied"
    );
    assert!(
        s3_text(&p, "docs/o/c/decisions/changelog.md")
            .await
            .is_some_and(|t| t.contains(&sha(3, 0)[..7])),
        "the poison message did not block its repository"
    );
    let dead = p.aws.dlq.peek(10).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].group_id, "o/c");
    assert_eq!(dead[0].dedup_id, "poison-1");
    assert_eq!(
        dead[0].attributes.get("error_class").map(String::as_str),
        Some("corrupt")
    );
    assert!(dead[0].attributes.contains_key("reason"));
    let processed: f64 = p
        .metrics
        .records()
        .iter()
        .filter_map(|r| r["MessagesProcessed"].as_f64())
        .sum();
    assert_eq!(processed, 5.0, "each good message counted once");
}

/// a1's lease is held elsewhere: a1 and a2 behind it fail, b1 of another repository does not.
///
/// a2 is a release, so that each event of `o/a` is a unit of its own and a1's lease is refused
/// by a single conditional update. With two pushes the unit's leases are taken in one
/// `TransactWriteItems`, and moto rolls a cancelled transaction back by restoring a copy of the
/// whole table taken before it: b1's lease, taken at the same moment by the other group, was
/// undone with it, and b1 failed too (real DynamoDB cancels only the transaction's own items).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_fails_the_rest_of_its_group_only() {
    let p = pipeline().await;
    let a1 = format!("a1-{}", uuid::Uuid::new_v4());
    let a2 = format!("a2-{}", uuid::Uuid::new_v4());
    let b1 = format!("b1-{}", uuid::Uuid::new_v4());
    assert_eq!(post(&p, &a1, &push("o/a", &sha(9, 0), 1)).await.0, 202);
    assert_eq!(post_event(&p, &a2, "release", &release("o/a")).await.0, 202);
    assert_eq!(post(&p, &b1, &push("o/b", &sha(9, 0), 1)).await.0, 202);
    // Another worker holds a1's processing lease: a1 must wait, and a2 behind it.
    p.aws
        .store
        .begin_processing(
            &a1,
            "o/a",
            "another-worker",
            Duration::from_secs(3),
            Duration::from_secs(3600),
        )
        .await
        .unwrap();
    let mapping = esm(&p).await;
    let mut response = None;
    let round = mapping
        .poll_once(|event| async {
            let r = handle_sqs_event(&p.worker.consumer(), event, None).await;
            response = Some(r.clone());
            r
        })
        .await
        .unwrap();
    let b1_record = p.aws.store.delivery(&b1).await.unwrap();
    assert_eq!(
        round,
        Round {
            received: 3,
            deleted: 1,
            failed: 2
        },
        "b1's record: {b1_record:?}"
    );
    assert_eq!(response.unwrap().batch_item_failures.len(), 2);
    assert_eq!(b1_record.unwrap().status, DeliveryStatus::Completed);
    // Once the lease ends, the mapping's next rounds apply a1 then a2, in order.
    tokio::time::sleep(Duration::from_secs(3)).await;
    drain(&p, &mapping).await;
    let r1 = p.aws.store.delivery(&a1).await.unwrap().unwrap();
    let r2 = p.aws.store.delivery(&a2).await.unwrap().unwrap();
    assert_eq!(
        (r1.status, r2.status),
        (DeliveryStatus::Completed, DeliveryStatus::Completed)
    );
    // a1 was applied before the release a2: its commit is under v1.0.0, not "Unreleased".
    let changelog = s3_text(&p, "docs/o/a/decisions/changelog.md")
        .await
        .expect("changelog in S3");
    let cut = changelog.find("## [v1.0.0]").expect("the release cut");
    assert!(
        changelog.find(&sha(9, 0)).is_some_and(|at| at > cut),
        "{changelog}"
    );
    assert!(!changelog.contains("Unreleased"), "{changelog}");
    let state = p.aws.store.repo_state("o/a").await.unwrap().unwrap();
    let shas = coderipple_engine::applied_commits(&state.state).unwrap();
    assert_eq!(shas, vec![sha(9, 0)]);
}

/// The Lambda worker with `github_pr`: a webhook of a GitHub App installation goes through
/// ingest, SQS and the event source mapping; the worker publishes the docs it stored in S3 as
/// a standing pull request (GitHub's API a stand-in behind Prism's validating proxy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_worker_opens_the_docs_pull_request_from_what_it_stored() {
    let repo = format!(
        "lambda-{}/gearbox",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = app_key(keys.path());
    let standin = GitHubStandIn::start(5150, &public).await;
    standin
        .state
        .seed_repo(&repo, "main", &[("README.md", "# Gearbox\n")]);
    standin.state.install(&repo, 515);
    let prism = Prism::start(&standin.url);
    let api = Arc::new(app_client(&prism.url, 5150, &key));
    let mut p = pipeline().await;
    let config = PublishConfig {
        strategy: DocStrategy::GitHubPr,
        retry_delay: Duration::from_millis(20),
        ..PublishConfig::default()
    };
    Arc::get_mut(&mut p.worker).unwrap().publishing = config.publishing(Some(&api)).unwrap();

    let mut body: Value = serde_json::from_str(&push(&repo, &sha(9, 1), 1)).unwrap();
    body["installation"] = json!({"id": 515});
    let delivery = format!("gh-{}", uuid::Uuid::new_v4());
    assert_eq!(post(&p, &delivery, &body.to_string()).await.0, 202);
    let mapping = esm(&p).await;
    drain(&p, &mapping).await;

    let record = p.aws.store.delivery(&delivery).await.unwrap().unwrap();
    assert_eq!(record.status, DeliveryStatus::Completed);
    let summary = record.detail.expect("a processing summary");
    assert_eq!(summary["publish"]["status"], "published", "{summary}");
    let stored = s3_text(&p, &format!("docs/{repo}/decisions/changelog.md"))
        .await
        .expect("the changelog in S3");
    let on_branch = standin.state.files_on(&repo, "coderipple/docs");
    assert_eq!(
        on_branch.get("docs/coderipple/decisions/changelog.md"),
        Some(&stored),
        "the pull request carries what the worker stored"
    );
    let pulls = standin.state.pulls(&repo);
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].state, "open");
    // The webhook named the installation: no lookup.
    assert_eq!(
        standin
            .state
            .count(&format!("GET /repos/{repo}/installation")),
        0
    );
}
