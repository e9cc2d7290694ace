//! The pipeline end to end against a deployed stack's own resources (its outputs, passed as
//! `CODERIPPLE_QUEUE_URL`, `CODERIPPLE_DLQ_URL`, `CODERIPPLE_TABLE`, `CODERIPPLE_BUCKET` and
//! its `CODERIPPLE_WEBHOOK_SECRET_PARAM`): the ingest router with the secret from the stack's
//! SSM parameter → the stack's queue → the local event source mapping → the Lambda worker
//! handler → docs in the stack's bucket, records in its table, poison in its DLQ.
//!
//! Ignored in the plain test run: `scripts/test-infra` deploys `infra/template.yaml` into moto
//! and runs it with `--run-ignored only`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::Request;
use coderipple_consumer::event_source::EventSourceMapping;
use coderipple_consumer::handle_sqs_event;
use coderipple_core::aws::dynamo::DynamoStore;
use coderipple_core::aws::provision::Provisioned;
use coderipple_core::aws::s3::S3BlobStore;
use coderipple_core::aws::sqs::SqsQueue;
use coderipple_core::aws::{AwsNames, QueueRef};
use coderipple_core::config::Settings;
use coderipple_core::contract::aws::{AwsBackends, clients};
use coderipple_core::metrics::Metrics;
use coderipple_core::queue::{OutgoingMessage, Queue};
use coderipple_core::signature::sign;
use coderipple_core::store::{DeliveryStatus, Store};
use coderipple_ingest::router;
use serde_json::json;
use tower::ServiceExt;

use crate::common;

fn url(queue: &QueueRef) -> String {
    match queue {
        QueueRef::Url(u) => u.clone(),
        QueueRef::Name(n) => panic!("set the stack's queue URL, not a name ({n})"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a deployed stack: scripts/test-infra"]
async fn the_pipeline_runs_on_the_stacks_queue_table_and_bucket() {
    let names = AwsNames::from_env().expect("stack outputs in CODERIPPLE_* variables");
    let param =
        std::env::var("CODERIPPLE_WEBHOOK_SECRET_PARAM").expect("the stack's secret parameter");
    let secret = std::env::var("STACK_TEST_SECRET").expect("the secret stored in that parameter");
    let c = clients().await;
    let dlq = SqsQueue::new(c.sqs.clone(), url(&names.dlq), None);
    let queue = SqsQueue::new(c.sqs.clone(), url(&names.queue), Some(dlq));
    let settings = Settings::default();
    let aws = AwsBackends {
        dlq: Arc::new(queue.dead_letter_queue().unwrap()),
        queue: Arc::new(queue),
        store: Arc::new(DynamoStore::new(c.dynamodb.clone(), &names.table)),
        blobs: Arc::new(S3BlobStore::new(c.s3.clone(), &names.bucket)),
        resources: Provisioned {
            queue_url: url(&names.queue),
            dlq_url: url(&names.dlq),
            table: names.table.clone(),
            bucket: names.bucket.clone(),
        },
        clients: c.clone(),
    };
    let stack_secret = coderipple_core::aws::secrets::load(&c, &param)
        .await
        .unwrap();
    let ingest = common::aws::ingest_state(&aws, stack_secret, &settings);
    let (queue, dlq, store) = (aws.queue.clone(), aws.dlq.clone(), aws.store.clone());
    let run = uuid::Uuid::new_v4().simple().to_string();
    let repo = format!("stack/demo-{}", &run[..8]);
    let commit = format!("{:0>40}", &run[..12]);
    let body = json!({
        "ref": "refs/heads/main", "before": "0".repeat(40), "after": commit,
        "repository": {"full_name": repo, "html_url": format!("https://github.com/{repo}"), "default_branch": "main"},
        "commits": [{"id": commit, "message": "feat: deployed stack", "author": {"name": "Infra"}, "modified": ["README.md"]}],
    })
    .to_string();
    let delivery = format!("stack-{run}");
    let req = Request::post("/")
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-github-delivery", &delivery)
        .header(
            "x-hub-signature-256",
            sign(secret.as_bytes(), body.as_bytes()),
        )
        .body(Body::from(body))
        .unwrap();
    let resp = router(ingest.clone()).oneshot(req).await.unwrap();
    assert_eq!(
        resp.status().as_u16(),
        202,
        "signed with the stack's secret"
    );
    let poison_group = format!("stack/poison-{}", &run[..8]);
    queue
        .send_batch(&[OutgoingMessage::new(
            &poison_group,
            format!("poison-{run}"),
            "{oops",
        )])
        .await
        .unwrap();

    let worker = Arc::new(common::aws::worker_context(&aws, &settings, Metrics::off())).consumer();
    let mapping = EventSourceMapping::new(
        queue.clone(),
        queue.arn().await.unwrap(),
        Duration::from_secs(30),
    );
    for _ in 0..20 {
        let round = mapping
            .poll_once(|event| {
                handle_sqs_event(
                    &worker,
                    event,
                    Some(SystemTime::now() + Duration::from_secs(60)),
                )
            })
            .await
            .unwrap();
        if round.received == 0 {
            break;
        }
    }
    let record = store
        .delivery(&delivery)
        .await
        .unwrap()
        .expect("record in the stack's table");
    assert_eq!(record.status, DeliveryStatus::Completed);
    let doc =
        c.s3.get_object()
            .bucket(&names.bucket)
            .key(format!("docs/{repo}/decisions/changelog.md"))
            .send()
            .await
            .expect("docs in the stack's bucket");
    let text = doc.body.collect().await.unwrap().into_bytes();
    assert!(String::from_utf8_lossy(&text).contains(&commit[..7]));
    let dead = dlq.peek(100).await.unwrap();
    assert!(
        dead.iter().any(|m| m.group_id == poison_group
            && m.attributes.get("error_class").map(String::as_str) == Some("corrupt")),
        "poison in the stack's DLQ: {dead:?}"
    );
}
