//! Lambda-shaped measurements without Lambda: the real `bootstrap` binary under a loopback
//! Lambda Runtime API (the endpoints `lambda_runtime` calls: `invocation/next`,
//! `…/{id}/response`, `…/{id}/error`, `init/error`). Measured per cold start: init (exec →
//! first `GET /next`), the first invocation and the warm ones (event handed out → response
//! posted), and the process's peak RSS. The backend it talks to is whatever the inherited
//! environment names (moto on loopback in tests and benchmarks).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use coderipple_core::signature::sign;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::traffic::push_payload;

/// What the function posted back.
#[derive(Debug, Clone, PartialEq)]
pub enum Posted {
    /// `POST …/{id}/response` with its body.
    Response(String, Value),
    /// `POST …/{id}/error` with its body.
    Error(String, Value),
    /// `POST /runtime/init/error` with its body.
    InitError(Value),
}

#[derive(Debug)]
struct Api {
    events: tokio::sync::Mutex<mpsc::Receiver<(String, Value)>>,
    posted: mpsc::Sender<(Posted, Instant)>,
    first_next: Mutex<Option<Instant>>,
    handed_out: Mutex<HashMap<String, Instant>>,
}

fn json_of(body: String) -> Value {
    serde_json::from_str(&body).unwrap_or(Value::String(body))
}

async fn next(State(api): State<Arc<Api>>) -> impl IntoResponse {
    api.first_next
        .lock()
        .expect("lock")
        .get_or_insert_with(Instant::now);
    let Some((id, event)) = api.events.lock().await.recv().await else {
        // No more events: hold the call, as Lambda does between invocations.
        std::future::pending::<()>().await;
        unreachable!("pending never returns");
    };
    let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
    let mut headers = HeaderMap::new();
    let mut put = |k: &'static str, v: String| {
        if let Ok(v) = v.parse() {
            headers.insert(k, v);
        }
    };
    put("lambda-runtime-aws-request-id", id.clone());
    put("lambda-runtime-deadline-ms", deadline.to_string());
    put(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:coderipple".into(),
    );
    put("lambda-runtime-trace-id", "Root=1-loadtest".into());
    api.handed_out
        .lock()
        .expect("lock")
        .insert(id, Instant::now());
    (headers, event.to_string())
}

async fn post_back(api: &Api, posted: Posted) -> &'static str {
    api.posted.send((posted, Instant::now())).await.ok();
    "{\"status\":\"OK\"}"
}

async fn response(
    State(api): State<Arc<Api>>,
    UrlPath(id): UrlPath<String>,
    body: String,
) -> &'static str {
    post_back(&api, Posted::Response(id, json_of(body))).await
}

async fn error(
    State(api): State<Arc<Api>>,
    UrlPath(id): UrlPath<String>,
    body: String,
) -> &'static str {
    post_back(&api, Posted::Error(id, json_of(body))).await
}

async fn init_error(State(api): State<Arc<Api>>, body: String) -> &'static str {
    post_back(&api, Posted::InitError(json_of(body))).await
}

/// A Lambda Runtime API on loopback: hands events out one at a time on `GET /next` (holding
/// the call when there is none, as Lambda does) and collects what the function posts back.
#[derive(Debug)]
pub struct RuntimeApi {
    addr: String,
    events: mpsc::Sender<(String, Value)>,
    posted: mpsc::Receiver<(Posted, Instant)>,
    api: Arc<Api>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Serves on a free 127.0.0.1 port.
    pub async fn serve() -> anyhow::Result<Self> {
        let (event_tx, event_rx) = mpsc::channel(4);
        let (posted_tx, posted_rx) = mpsc::channel(4);
        let api = Arc::new(Api {
            events: tokio::sync::Mutex::new(event_rx),
            posted: posted_tx,
            first_next: Mutex::new(None),
            handed_out: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(api.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Ok(Self {
            addr,
            events: event_tx,
            posted: posted_rx,
            api,
            server,
        })
    }

    /// `AWS_LAMBDA_RUNTIME_API` for the function.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// When the function first asked for an event.
    pub fn first_next(&self) -> Option<Instant> {
        *self.api.first_next.lock().expect("lock")
    }

    /// Hands `event` out under `id` and waits up to `timeout` for what comes back; with the
    /// time from handing it out to the answer (none for an init error).
    pub async fn invoke(
        &mut self,
        id: &str,
        event: Value,
        timeout: Duration,
    ) -> anyhow::Result<(Posted, Option<Duration>)> {
        self.queue_event(id, event).await?;
        let (posted, at) = self.next_posted(timeout).await?;
        Ok((posted, self.since_handed_out(id, at)))
    }

    /// Queues `event` under `id` for the function's next `GET /next`.
    pub async fn queue_event(&self, id: &str, event: Value) -> anyhow::Result<()> {
        Ok(self.events.send((id.to_owned(), event)).await?)
    }

    /// How long before `at` the event `id` was handed out (none if it never was).
    pub fn since_handed_out(&self, id: &str, at: Instant) -> Option<Duration> {
        let out = self.api.handed_out.lock().expect("lock").remove(id);
        out.map(|out| at - out)
    }

    /// Waits up to `timeout` for the next thing the function posts (an init error comes
    /// without any event).
    pub async fn next_posted(&mut self, timeout: Duration) -> anyhow::Result<(Posted, Instant)> {
        match tokio::time::timeout(timeout, self.posted.recv()).await {
            Ok(Some(p)) => Ok(p),
            Ok(None) => bail!("the runtime API stopped"),
            Err(_) => bail!("nothing posted back within {} s", timeout.as_secs()),
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The environment Lambda gives a function (besides the function's own configuration).
pub fn lambda_env(role: &str, memory_mb: u32, api: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", api.to_owned()),
        ("_HANDLER", role.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", format!("coderipple-{role}")),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/coderipple".to_owned(),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "loadtest".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The function to measure.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// The `bootstrap` binary (copied to a temporary `bootstrap` file, the name Lambda runs).
    pub bootstrap: PathBuf,
    /// `_HANDLER`: `ingest` or `worker`.
    pub role: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_mb: u32,
    /// Extra environment (the rest is inherited: AWS endpoint, names, credentials).
    pub env: Vec<(String, String)>,
}

/// One cold start and the invocations after it.
#[derive(Debug, Clone, Serialize)]
pub struct ColdStart {
    /// exec → first `GET /next` (ms).
    pub init_ms: f64,
    /// The first invocation (ms).
    pub first_ms: f64,
    /// The warm invocations (ms).
    pub warm_ms: Vec<f64>,
    /// Peak RSS of the process (MiB).
    pub peak_rss_mib: f64,
    /// Invocations answered with a failure inside (ingest not 202, worker batch items
    /// failed): measured all the same, and reported, because they took another path.
    pub failed: Vec<String>,
}

/// Starts the function once, feeds it `events` one at a time, measures.
pub async fn cold_start(spec: &FunctionSpec, events: Vec<Value>) -> anyhow::Result<ColdStart> {
    let mut api = RuntimeApi::serve().await?;
    let scratch = tempfile::Builder::new()
        .prefix("coderipple-lambda-")
        .tempdir()
        .context("cannot create the function's directory")?;
    let bootstrap = scratch.path().join("bootstrap");
    std::fs::copy(&spec.bootstrap, &bootstrap)
        .with_context(|| format!("cannot copy {}", spec.bootstrap.display()))?;
    let started = Instant::now();
    let child = function_command(spec, &bootstrap, api.addr())
        .spawn()
        .with_context(|| format!("cannot start {}", spec.bootstrap.display()))?;
    let mut function = Function {
        child,
        _scratch: scratch,
    };

    let mut durations = Vec::with_capacity(events.len());
    let mut failures = Vec::new();
    for (n, event) in events.into_iter().enumerate() {
        let id = format!("loadtest-{n}");
        api.queue_event(&id, event).await?;
        let deadline = Instant::now() + Duration::from_secs(120);
        let (posted, at) = loop {
            if let Ok(p) = api.next_posted(Duration::from_millis(250)).await {
                break p;
            }
            if let Some(status) = function.child.try_wait()? {
                // What it posted just before exiting (an init error) comes first.
                if let Ok(p) = api.next_posted(Duration::from_millis(500)).await {
                    break p;
                }
                bail!("the function exited ({status}) without answering invocation {n}");
            }
            if Instant::now() > deadline {
                bail!("no answer to invocation {n} within 120 s");
            }
        };
        let took = api.since_handed_out(&id, at);
        match (posted, took) {
            (Posted::InitError(body), _) => bail!("init failed: {body}"),
            (Posted::Error(_, body), _) => bail!("invocation {n} failed: {body}"),
            (Posted::Response(got, _), _) if got != id => {
                bail!("response for {got}, expected {id}")
            }
            (Posted::Response(_, body), Some(took)) => {
                if let Some(why) = failed(&spec.role, &body) {
                    failures.push(format!("invocation {n}: {why}: {body}"));
                }
                durations.push(took.as_secs_f64() * 1000.0);
            }
            (Posted::Response(..), None) => bail!("a response to an event never handed out"),
        }
    }
    let first = api
        .first_next()
        .context("no GET /next before the answers")?;
    let status = std::fs::read_to_string(format!("/proc/{}/status", function.child.id()))
        .unwrap_or_default();
    let peak_rss_mib = crate::pipeline::vm_hwm_kib(&status).unwrap_or(0) as f64 / 1024.0;
    drop(function);
    let (first_ms, warm_ms) = match durations.split_first() {
        Some((first, rest)) => (*first, rest.to_vec()),
        None => (0.0, Vec::new()),
    };
    Ok(ColdStart {
        init_ms: (first - started).as_secs_f64() * 1000.0,
        first_ms,
        warm_ms,
        peak_rss_mib,
        failed: failures,
    })
}

/// Why an answer is a failure (a measurement of failing invocations means nothing): ingest
/// must answer 202, the worker must report no failed batch item.
fn failed(role: &str, v: &Value) -> Option<String> {
    match role {
        "ingest" if v["statusCode"] != 202 => Some(format!("ingest answered {}", v["statusCode"])),
        "worker"
            if v["batchItemFailures"]
                .as_array()
                .is_none_or(|f| !f.is_empty()) =>
        {
            Some("the worker reported failed items".into())
        }
        _ => None,
    }
}

fn function_command(spec: &FunctionSpec, bootstrap: &Path, api: &str) -> Command {
    let mut cmd = Command::new(bootstrap);
    cmd.envs(lambda_env(&spec.role, spec.memory_mb, api))
        .envs(spec.env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    cmd
}

/// The function's process, killed when dropped, then its directory removed.
struct Function {
    child: Child,
    _scratch: tempfile::TempDir,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Function URL events (payload format 2.0) carrying signed pushes, `tag` making each
/// delivery new.
pub fn ingest_events(secret: &str, count: usize, tag: u32) -> Vec<Value> {
    (0..count)
        .map(|i| {
            let repo = format!("lambda-{tag:08x}/repo-{}", i % 4);
            let body = push_payload(&repo, (u64::from(tag) << 32) | i as u64, 1, 4).to_string();
            json!({
                "version": "2.0", "routeKey": "$default", "rawPath": "/webhook", "rawQueryString": "",
                "headers": {
                    "content-type": "application/json",
                    "x-github-event": "push",
                    "x-github-delivery": format!("lambda-{tag:08x}-{i}"),
                    "x-hub-signature-256": sign(secret.as_bytes(), body.as_bytes()),
                    "content-length": body.len().to_string(),
                },
                "requestContext": {
                    "accountId": "anonymous", "apiId": "loadtest", "domainName": "loadtest.lambda-url.us-east-1.on.aws",
                    "domainPrefix": "loadtest",
                    "http": {"method": "POST", "path": "/webhook", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "GitHub-Hookshot/loadtest"},
                    "requestId": format!("req-{i}"), "routeKey": "$default", "stage": "$default",
                    "time": "26/Nov/2026:00:00:00 +0000", "timeEpoch": chrono::Utc::now().timestamp_millis(),
                },
                "body": body, "isBase64Encoded": false,
            })
        })
        .collect()
}

/// SQS events of `batch` push envelopes each (as the event source mapping delivers them),
/// spread over 4 repositories, `tag` making each delivery new.
pub fn worker_events(count: usize, batch: usize, tag: u32) -> Vec<Value> {
    (0..count)
        .map(|n| {
            let records: Vec<Value> = (0..batch.max(1))
                .map(|k| {
                    let i = n * batch + k;
                    let repo = format!("lambda-{tag:08x}/repo-{}", i % 4);
                    let delivery = format!("lambda-{tag:08x}-w{i}");
                    let body = push_payload(&repo, (u64::from(tag) << 32) | i as u64, 1, 4).to_string();
                    let parsed = coderipple_core::webhook::parse("push", &delivery, body.as_bytes(), chrono::Utc::now());
                    let envelope = match parsed {
                        Ok(coderipple_core::webhook::Parsed::Event(env)) => env.to_json(),
                        _ => unreachable!("the generator makes valid pushes"),
                    };
                    json!({
                        "messageId": format!("m-{i}"), "receiptHandle": format!("r-{i}"), "body": envelope,
                        "attributes": {
                            "ApproximateReceiveCount": "1", "SentTimestamp": chrono::Utc::now().timestamp_millis().to_string(),
                            "SenderId": "LOADTEST", "ApproximateFirstReceiveTimestamp": chrono::Utc::now().timestamp_millis().to_string(),
                            "MessageGroupId": repo, "MessageDeduplicationId": delivery, "SequenceNumber": (1_000_000 + i).to_string(),
                        },
                        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:coderipple-events.fifo", "awsRegion": "us-east-1",
                    })
                })
                .collect();
            json!({"Records": records})
        })
        .collect()
}
