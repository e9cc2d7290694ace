//! The real binary, run as `bootstrap`, under a minimal Lambda Runtime API on loopback
//! (the endpoints `lambda_runtime` uses: `invocation/next`, `…/response`, `…/error`,
//! `init/error`), against moto: one Function URL event and one SQS event from fixture
//! files, responses checked; an unknown `_HANDLER` fails the init with a clear message.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use coderipple_core::config::Settings;
use coderipple_core::contract::aws::{AwsBackends, child_env, fresh_backends, unique};
use coderipple_core::store::{DeliveryStatus, Store};
use serde_json::Value;
use tokio::sync::{Mutex, mpsc};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lambda");
/// The secret the Function URL fixtures are signed with.
const FIXTURE_SECRET: &str = "fixture-secret";

/// What the function posted back.
#[derive(Debug)]
enum Posted {
    Response(String, Value),
    Error(String, Value),
    InitError(Value),
}

struct RuntimeApi {
    events: Mutex<mpsc::Receiver<(String, Value)>>,
    posted: mpsc::Sender<Posted>,
}

async fn next(State(api): State<Arc<RuntimeApi>>) -> impl IntoResponse {
    let Some((id, event)) = api.events.lock().await.recv().await else {
        // No more events: hold the call, as Lambda does between invocations.
        std::future::pending::<()>().await;
        unreachable!();
    };
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 30_000;
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
    headers.insert(
        "lambda-runtime-deadline-ms",
        deadline.to_string().parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:coderipple"
            .parse()
            .unwrap(),
    );
    headers.insert("lambda-runtime-trace-id", "Root=1-fixture".parse().unwrap());
    (headers, event.to_string())
}

async fn response(
    State(api): State<Arc<RuntimeApi>>,
    UrlPath(id): UrlPath<String>,
    body: String,
) -> &'static str {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    api.posted.send(Posted::Response(id, value)).await.ok();
    "{\"status\":\"OK\"}"
}

async fn error(
    State(api): State<Arc<RuntimeApi>>,
    UrlPath(id): UrlPath<String>,
    body: String,
) -> &'static str {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    api.posted.send(Posted::Error(id, value)).await.ok();
    "{\"status\":\"OK\"}"
}

async fn init_error(State(api): State<Arc<RuntimeApi>>, body: String) -> &'static str {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    api.posted.send(Posted::InitError(value)).await.ok();
    "{\"status\":\"OK\"}"
}

/// Serves the Runtime API; returns its address, the event sender and what comes back.
async fn runtime_api() -> (
    String,
    mpsc::Sender<(String, Value)>,
    mpsc::Receiver<Posted>,
) {
    let (event_tx, event_rx) = mpsc::channel(8);
    let (posted_tx, posted_rx) = mpsc::channel(8);
    let api = Arc::new(RuntimeApi {
        events: Mutex::new(event_rx),
        posted: posted_tx,
    });
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (addr, event_tx, posted_rx)
}

/// The binary copied to `<dir>/bootstrap`, the name Lambda runs.
fn bootstrap(dir: &Path) -> PathBuf {
    let path = dir.join("bootstrap");
    std::fs::copy(env!("CARGO_BIN_EXE_coderipple"), &path).unwrap();
    path
}

struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(
    bootstrap: &Path,
    api: &str,
    handler: &str,
    aws: &AwsBackends,
    extra: &[(&str, String)],
) -> Function {
    let mut cmd = Command::new(bootstrap);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env("_HANDLER", handler)
        .env("AWS_LAMBDA_FUNCTION_NAME", format!("coderipple-{handler}"))
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/coderipple")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "fixture")
        .env("CODERIPPLE_QUEUE_URL", &aws.resources.queue_url)
        .env("CODERIPPLE_DLQ_URL", &aws.resources.dlq_url)
        .env("CODERIPPLE_TABLE", &aws.resources.table)
        .env("CODERIPPLE_BUCKET", &aws.resources.bucket)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in child_env() {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    Function(cmd.spawn().expect("bootstrap starts"))
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

async fn invoke(
    events: &mpsc::Sender<(String, Value)>,
    posted: &mut mpsc::Receiver<Posted>,
    id: &str,
    event: Value,
) -> Value {
    events.send((id.to_owned(), event)).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(60), posted.recv()).await {
        Ok(Some(Posted::Response(got, value))) => {
            assert_eq!(got, id);
            value
        }
        Ok(Some(Posted::Error(got, value))) => panic!("invocation {got} failed: {value}"),
        other => panic!("expected a response to {id}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_ingest_answers_function_url_events_with_the_secret_from_ssm() {
    let aws = fresh_backends(&Settings::default()).await;
    let param = format!("/coderipple/test/{}", unique("secret"));
    aws.clients
        .ssm
        .put_parameter()
        .name(&param)
        .value(FIXTURE_SECRET)
        .r#type(aws_sdk_ssm_type())
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (api, events, mut posted) = runtime_api().await;
    let _function = start(
        &bootstrap(dir.path()),
        &api,
        "ingest",
        &aws,
        &[("CODERIPPLE_WEBHOOK_SECRET_PARAM", param)],
    );
    let pong = invoke(
        &events,
        &mut posted,
        "req-ping",
        fixture("function-url-ping.json"),
    )
    .await;
    assert_eq!(pong["statusCode"], 200, "{pong}");
    assert!(pong["body"].as_str().unwrap().contains("pong"), "{pong}");
    let queued = invoke(
        &events,
        &mut posted,
        "req-push",
        fixture("function-url-push.json"),
    )
    .await;
    assert_eq!(queued["statusCode"], 202, "{queued}");
    let record = aws.store.delivery("fixture-push-1").await.unwrap().unwrap();
    assert_eq!(record.status, DeliveryStatus::Received);
    use coderipple_core::queue::Queue;
    let stats = aws.queue.stats().await.unwrap();
    assert_eq!(stats.visible, 1, "the push is on the queue");
    // A tampered body is refused: the secret came from SSM and is enforced.
    let mut tampered = fixture("function-url-push.json");
    tampered["body"] = Value::String(
        tampered["body"]
            .as_str()
            .unwrap()
            .replace("fixture push", "evil push"),
    );
    let refused = invoke(&events, &mut posted, "req-bad", tampered).await;
    assert_eq!(refused["statusCode"], 401, "{refused}");
}

fn aws_sdk_ssm_type() -> aws_sdk_ssm::types::ParameterType {
    aws_sdk_ssm::types::ParameterType::SecureString
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_worker_applies_an_sqs_event_and_reports_no_failures() {
    let aws = fresh_backends(&Settings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (api, events, mut posted) = runtime_api().await;
    let _function = start(&bootstrap(dir.path()), &api, "worker", &aws, &[]);
    let response = invoke(&events, &mut posted, "req-sqs", fixture("sqs-event.json")).await;
    assert_eq!(
        response["batchItemFailures"],
        serde_json::json!([]),
        "{response}"
    );
    let record = aws.store.delivery("fixture-sqs-1").await.unwrap().unwrap();
    assert_eq!(record.status, DeliveryStatus::Completed);
    let doc = aws
        .clients
        .s3
        .get_object()
        .bucket(&aws.resources.bucket)
        .key("docs/fixture/worker/decisions/changelog.md")
        .send()
        .await
        .expect("changelog written to S3");
    let text = doc.body.collect().await.unwrap().into_bytes();
    assert!(String::from_utf8_lossy(&text).contains(&"e2".repeat(20)[..7]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_handler_fails_the_init_with_a_clear_message() {
    let aws = fresh_backends(&Settings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (api, _events, mut posted) = runtime_api().await;
    let mut function = start(&bootstrap(dir.path()), &api, "ingset", &aws, &[]);
    let got = tokio::time::timeout(Duration::from_secs(30), posted.recv())
        .await
        .expect("init error posted");
    let Some(Posted::InitError(body)) = got else {
        panic!("expected an init error, got {got:?}");
    };
    let message = body["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("unknown _HANDLER \"ingset\""), "{message}");
    assert!(message.contains("`ingest` or `worker`"), "{message}");
    let status = function.0.wait().unwrap();
    assert!(!status.success());
}
