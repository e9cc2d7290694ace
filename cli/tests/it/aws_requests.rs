//! What a webhook costs in AWS requests, counted by an SDK interceptor on every client, on
//! moto. Ingest is held to its budget (one conditional write and one send per new webhook,
//! one conditional write per duplicate); the worker's requests, amortized over a batch, are
//! printed for `BENCHMARKS.md` (`scripts/bench-aws-requests`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::Request;
use coderipple_consumer::event_source::EventSourceMapping;
use coderipple_consumer::handle_sqs_event;
use coderipple_core::aws::counter::RequestCounter;
use coderipple_core::config::Settings;
use coderipple_core::contract::aws::{AwsBackends, backends_with, counted_clients};
use coderipple_core::metrics::Metrics;
use coderipple_core::queue::Queue;
use coderipple_core::signature::{Secrets, sign};
use coderipple_core::store::{DeliveryStatus, Store};
use coderipple_ingest::{IngestState, router};
use serde_json::json;
use tower::ServiceExt;

use crate::common;

const SECRET: &str = "count-secret";

struct Counted {
    aws: AwsBackends,
    counter: RequestCounter,
    ingest: Arc<IngestState>,
    worker: coderipple_consumer::Consumer,
}

async fn counted() -> Counted {
    let counter = RequestCounter::default();
    let settings = Settings::default();
    let aws = backends_with(counted_clients(&counter).await, &settings).await;
    let ingest = common::aws::ingest_state(&aws, Secrets::new(SECRET, None).unwrap(), &settings);
    let worker = Arc::new(common::aws::worker_context(&aws, &settings, Metrics::off())).consumer();
    counter.take();
    Counted {
        aws,
        counter,
        ingest,
        worker,
    }
}

async fn post(c: &Counted, delivery: &str, repo: &str, n: u64) -> u16 {
    let commit = format!("{n:040x}");
    let body = json!({
        "ref": "refs/heads/main", "before": "0".repeat(40), "after": commit,
        "repository": {"full_name": repo, "html_url": format!("https://github.com/{repo}"), "default_branch": "main"},
        "commits": [{"id": commit, "message": "feat: counted", "author": {"name": "C"}, "modified": ["src/lib.rs"]}],
    })
    .to_string();
    let req = Request::post("/")
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-github-delivery", delivery)
        .header(
            "x-hub-signature-256",
            sign(SECRET.as_bytes(), body.as_bytes()),
        )
        .body(Body::from(body))
        .unwrap();
    router(c.ingest.clone())
        .oneshot(req)
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn ops(counts: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    counts
        .iter()
        .map(|(k, v)| (k.rsplit('.').next().unwrap_or(k).to_owned(), *v))
        .collect()
}

/// Posts `webhooks` pushes spread over `repos`, then drains them through the Lambda worker
/// and the event source mapping; returns (ingest requests, worker requests). With `warm`,
/// each repository first gets one push of its own, drained and not counted, so the counted
/// ones find docs already written (the steady state) rather than writing every doc.
async fn scenario(
    webhooks: u64,
    repos: u64,
    warm: bool,
) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let c = counted().await;
    let mapping = EventSourceMapping::new(
        c.aws.queue.clone(),
        c.aws.queue.arn().await.unwrap(),
        Duration::from_secs(30),
    );
    if warm {
        for r in 0..repos {
            let id = format!("warm-{r}-{}", uuid::Uuid::new_v4());
            assert_eq!(post(&c, &id, &format!("o/r{r}"), 1000 + r).await, 202);
        }
        drain(&c, &mapping).await;
    }
    c.counter.take(); // the ARN lookup and the warm-up are set-up, not per-webhook work
    let mut ids = Vec::new();
    for n in 0..webhooks {
        let id = format!("count-{n}-{}", uuid::Uuid::new_v4());
        assert_eq!(post(&c, &id, &format!("o/r{}", n % repos), n).await, 202);
        ids.push(id);
    }
    let ingest = c.counter.take();
    let worker = drain(&c, &mapping).await;
    for id in &ids {
        let record = c.aws.store.delivery(id).await.unwrap().unwrap();
        assert_eq!(record.status, DeliveryStatus::Completed, "{id}");
    }
    assert_eq!(c.aws.queue.stats().await.unwrap().visible, 0);
    (ingest, worker)
}

/// Runs the mapping until the queue is empty; the requests it made, by operation.
async fn drain(c: &Counted, mapping: &EventSourceMapping) -> BTreeMap<String, u64> {
    let mut worker: BTreeMap<String, u64> = BTreeMap::new();
    for _ in 0..50 {
        let round = mapping
            .poll_once(|event| {
                handle_sqs_event(
                    &c.worker,
                    event,
                    Some(SystemTime::now() + Duration::from_secs(60)),
                )
            })
            .await
            .unwrap();
        // The final empty poll is the mapping idling, not work for these webhooks.
        let requests = c.counter.take();
        if round.received == 0 {
            break;
        }
        for (k, v) in requests {
            *worker.entry(k).or_insert(0) += v;
        }
    }
    worker
}

fn report(
    name: &str,
    webhooks: u64,
    ingest: &BTreeMap<String, u64>,
    worker: &BTreeMap<String, u64>,
) {
    let total = |m: &BTreeMap<String, u64>| m.values().sum::<u64>() as f64 / webhooks as f64;
    println!(
        "| {name} | {:.2} | {:.2} | {:.2} | {} |",
        total(ingest),
        total(worker),
        total(ingest) + total(worker),
        worker
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_costs_one_conditional_write_and_one_send_per_webhook() {
    let c = counted().await;
    assert_eq!(post(&c, "budget-1", "o/a", 1).await, 202);
    let new = ops(&c.counter.take());
    assert_eq!(
        new,
        BTreeMap::from([
            ("PutItem".to_owned(), 1),
            ("SendMessageBatch".to_owned(), 1)
        ]),
        "a new webhook"
    );
    // A redelivery before any worker saw the first copy is sent again (its first send may
    // not have happened); the queue's dedup id absorbs it.
    assert_eq!(post(&c, "budget-1", "o/a", 1).await, 200);
    assert_eq!(
        ops(&c.counter.take()),
        BTreeMap::from([
            ("PutItem".to_owned(), 1),
            ("SendMessageBatch".to_owned(), 1)
        ]),
        "a redelivery of a delivery still `received`"
    );
    let lease = Duration::from_secs(60);
    c.aws
        .store
        .begin_processing("budget-1", "o/a", "another-worker", lease, lease)
        .await
        .unwrap();
    c.counter.take();
    assert_eq!(post(&c, "budget-1", "o/a", 1).await, 200);
    assert_eq!(
        ops(&c.counter.take()),
        BTreeMap::from([("PutItem".to_owned(), 1)]),
        "a redelivery of a delivery a worker has: the failed condition returns the old record"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_per_webhook_end_to_end() {
    println!(
        "| scenario | ingest / webhook | worker / webhook | total / webhook | worker requests |"
    );
    println!("|---|---|---|---|---|");
    for (name, webhooks, repos, warm) in [
        ("10 pushes, 1 repo (one batch, coalesced)", 10, 1, false),
        ("10 pushes, 10 repos (one batch, 10 groups)", 10, 10, false),
        ("1 push (a new repository: every doc written)", 1, 1, false),
        ("1 push to a repository with docs", 1, 1, true),
        (
            "10 pushes, 1 repo with docs (one batch, coalesced)",
            10,
            1,
            true,
        ),
    ] {
        let (ingest, worker) = scenario(webhooks, repos, warm).await;
        report(name, webhooks, &ingest, &worker);
        assert_eq!(
            ops(&ingest).get("SendMessageBatch"),
            Some(&webhooks),
            "one send per webhook"
        );
    }
}
