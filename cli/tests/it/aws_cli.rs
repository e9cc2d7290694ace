//! AWS mode of the real binary against moto: `init --backend aws` (idempotent), `up --backend
//! aws` (the same router and pollers in front of SQS + DynamoDB + S3), `status --backend aws`
//! (queue attributes, deliveries, recent CloudWatch metrics) and `dlq list|replay --backend
//! aws` (receive → send → delete, since moto has no `StartMessageMoveTask`).

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{SECRET, bin, push_body, sha, spawn_up};
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use coderipple_core::aws::AwsClients;
use coderipple_core::aws::sqs::SqsQueue;
use coderipple_core::contract::aws::{child_env, clients, unique};
use coderipple_core::contract::fixtures;
use coderipple_core::envelope::{Commit, Envelope};
use coderipple_core::queue::{DeadLetterReason, OutgoingMessage, Queue};
use serde_json::Value;

pub(crate) struct Names {
    pub queue: String,
    pub dlq: String,
    pub table: String,
    pub bucket: String,
}

pub(crate) fn names() -> Names {
    let base = unique("cli");
    Names {
        queue: format!("{base}.fifo"),
        dlq: format!("{base}-dlq.fifo"),
        table: base.clone(),
        bucket: base,
    }
}

fn env(n: &Names) -> Vec<(&'static str, String)> {
    let mut vars = child_env();
    vars.extend([
        ("CODERIPPLE_QUEUE_NAME", n.queue.clone()),
        ("CODERIPPLE_DLQ_NAME", n.dlq.clone()),
        ("CODERIPPLE_TABLE", n.table.clone()),
        ("CODERIPPLE_BUCKET", n.bucket.clone()),
        ("CODERIPPLE_WEBHOOK_SECRET", SECRET.into()),
        ("RUST_LOG", "warn".into()),
    ]);
    vars
}

pub(crate) fn command(n: &Names, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .arg("--data-dir")
        .arg(dir)
        .stdin(Stdio::null());
    for (k, v) in env(n) {
        cmd.env(k, v);
    }
    cmd
}

pub(crate) fn run(n: &Names, dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = command(n, dir, args).output().expect("run coderipple");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) fn status(n: &Names, dir: &Path) -> Value {
    let (ok, out, err) = run(n, dir, &["status", "--backend", "aws", "--json"]);
    assert!(ok, "status failed: {err}");
    serde_json::from_str(&out).expect("status json")
}

fn wait_completed(n: &Names, dir: &Path, completed: u64) -> Value {
    let start = Instant::now();
    loop {
        let s = status(n, dir);
        let empty = s["queue"]["visible"] == 0 && s["queue"]["in_flight"] == 0;
        if empty && s["deliveries"]["completed"].as_u64().unwrap_or(0) >= completed {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not drained: {s}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

pub(crate) async fn queue_urls(clients: &AwsClients, n: &Names) -> (SqsQueue, SqsQueue) {
    let url = |name: &str| {
        let sqs = clients.sqs.clone();
        let name = name.to_owned();
        async move {
            sqs.get_queue_url()
                .queue_name(name)
                .send()
                .await
                .unwrap()
                .queue_url
                .unwrap()
        }
    };
    let dlq = SqsQueue::new(clients.sqs.clone(), url(&n.dlq).await, None);
    let queue = SqsQueue::new(clients.sqs.clone(), url(&n.queue).await, Some(dlq));
    let dlq = queue.dead_letter_queue().unwrap();
    (queue, dlq)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_is_idempotent_and_creates_queue_dlq_table_and_bucket() {
    let n = names();
    let dir = tempfile::tempdir().unwrap();
    let (ok1, first, err) = run(&n, dir.path(), &["init", "--backend", "aws"]);
    assert!(ok1, "{err}");
    let (ok2, second, err) = run(&n, dir.path(), &["init", "--backend", "aws"]);
    assert!(ok2, "{err}");
    assert_eq!(first, second, "a second init finds the same resources");

    let c = clients().await;
    let (queue, _) = queue_urls(&c, &n).await;
    let attrs = c
        .sqs
        .get_queue_attributes()
        .queue_url(queue.url())
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let attr = |k: &str| {
        attrs
            .get(&aws_sdk_sqs::types::QueueAttributeName::from(k))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(attr("FifoQueue"), "true");
    let redrive: Value = serde_json::from_str(&attr("RedrivePolicy")).unwrap();
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "5"
    );
    assert!(
        redrive["deadLetterTargetArn"]
            .as_str()
            .unwrap()
            .ends_with(&n.dlq)
    );
    let ttl = c
        .dynamodb
        .describe_time_to_live()
        .table_name(&n.table)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(ttl.attribute_name.as_deref(), Some("expires_at"));
    c.s3.head_bucket()
        .bucket(&n.bucket)
        .send()
        .await
        .expect("bucket exists");

    let mut by_url = command(&n, dir.path(), &["init", "--backend", "aws"]);
    by_url.env("CODERIPPLE_QUEUE_URL", queue.url());
    let out = by_url.output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CODERIPPLE_QUEUE_NAME"));
}

pub(crate) fn envelope(repo: &str, delivery: &str, commit: &str) -> Envelope {
    let commit = Commit {
        id: commit.into(),
        author: "Ops".into(),
        added: vec![],
        modified: vec!["src/lib.rs".into()],
        ..fixtures::commit(0, "fix: replayed from the DLQ")
    };
    Envelope {
        received_at: chrono::Utc::now(),
        ..fixtures::push(repo, delivery, vec![commit])
    }
}

async fn s3_text(c: &AwsClients, bucket: &str, key: &str) -> String {
    let out =
        c.s3.get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap();
    String::from_utf8_lossy(&out.body.collect().await.unwrap().into_bytes()).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_on_aws_applies_webhooks_and_dlq_replay_brings_failed_ones_back() {
    let n = names();
    let dir = tempfile::tempdir().unwrap();
    assert!(run(&n, dir.path(), &["init", "--backend", "aws"]).0);
    let mut up = command(
        &n,
        dir.path(),
        &[
            "up",
            "--backend",
            "aws",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "1",
        ],
    );
    up.stderr(Stdio::inherit());
    let (child, url) = spawn_up(up);
    let _server = common::Server {
        child,
        url: url.clone(),
        console: None,
        data_dir: dir.path().to_path_buf(),
    };
    let http = reqwest::Client::new();
    for i in 0..2 {
        let body = push_body("o/a", &sha(40, i), "feat: through SQS");
        let (code, _) = common::post(
            &http,
            &url,
            "push",
            &format!("aws-up-{i}-{}", unique("d")),
            &body,
        )
        .await
        .unwrap();
        assert_eq!(code, 202);
    }
    wait_completed(&n, dir.path(), 2);
    let c = clients().await;
    let changelog = s3_text(&c, &n.bucket, "docs/o/a/decisions/changelog.md").await;
    assert!(changelog.contains(&sha(40, 0)[..7]) && changelog.contains(&sha(40, 1)[..7]));

    // A message that failed earlier sits in the DLQ with its reason; a poison one joins it.
    let (queue, dlq) = queue_urls(&c, &n).await;
    let failed = envelope("o/b", "dlq-replay-1", &sha(41, 0));
    let mut held = OutgoingMessage::new("o/b", "dlq-replay-1", failed.to_json());
    held.attributes = DeadLetterReason {
        reason: "docs bucket was unavailable".into(),
        error_class: "transient".into(),
    }
    .attributes_over(BTreeMap::new(), 5, "o/b");
    dlq.send_batch(&[held]).await.unwrap();
    queue
        .send_batch(&[OutgoingMessage::new(
            "o/c",
            "poison-cli",
            "{not an envelope",
        )])
        .await
        .unwrap();
    let start = Instant::now();
    let listed = loop {
        let (ok, out, err) = run(
            &n,
            dir.path(),
            &["dlq", "list", "--backend", "aws", "--json"],
        );
        assert!(ok, "{err}");
        let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
        if rows.len() == 2 || start.elapsed() > Duration::from_secs(30) {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(listed.len(), 2, "{listed:?}");
    let class_of = |repo: &str| {
        listed
            .iter()
            .find(|r| r["repo"] == repo)
            .map(|r| r["error_class"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(class_of("o/b").as_deref(), Some("transient"));
    assert_eq!(class_of("o/c").as_deref(), Some("corrupt"));

    let (ok, out, err) = run(
        &n,
        dir.path(),
        &["dlq", "replay", "--backend", "aws", "--repo", "o/b"],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("replayed 1 message"), "{out}");
    wait_completed(&n, dir.path(), 3);
    let changelog = s3_text(&c, &n.bucket, "docs/o/b/decisions/changelog.md").await;
    assert!(changelog.contains(&sha(41, 0)[..7]));
    let s = status(&n, dir.path());
    assert_eq!(s["dlq"]["depth"], 1, "only the poison message is left: {s}");
    assert_eq!(s["backend"], "aws");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_on_aws_shows_recent_cloudwatch_metrics() {
    let n = names();
    let dir = tempfile::tempdir().unwrap();
    assert!(run(&n, dir.path(), &["init", "--backend", "aws"]).0);
    let c = clients().await;
    let cw = aws_sdk_cloudwatch::Client::new(&c.config);
    let namespace = "CodeRipple";
    cw.put_metric_data()
        .namespace(namespace)
        .metric_data(
            MetricDatum::builder()
                .metric_name("WebhooksReceived")
                .dimensions(
                    Dimension::builder()
                        .name("Function")
                        .value("ingest")
                        .build(),
                )
                .unit(StandardUnit::Count)
                .value(7.0)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let s = status(&n, dir.path());
    let received = s["metrics_last_hour"]["WebhooksReceived"].as_f64();
    assert!(received.is_some_and(|v| v >= 7.0), "{s}");
    assert_eq!(s["queue"]["visible"], 0);
    let (ok, text, err) = run(&n, dir.path(), &["status", "--backend", "aws"]);
    assert!(ok, "{err}");
    assert!(text.contains("metrics (last hour)"), "{text}");
}
