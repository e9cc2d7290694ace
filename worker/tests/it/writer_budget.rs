//! The writer's budget and failures, against a model server on loopback that answers what
//! the test tells it (an HTTP error, a refusal with its usage, prose, or nothing in time) and
//! keeps every request: each call is charged to the repository's and the all-repositories'
//! day counts — its reported tokens, or its estimate when it reported none — a prompt that
//! failed is not asked again within `retry_after`, and the all-repositories cap stops calls
//! for every repository.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use coderipple_core::envelope::Envelope;
use coderipple_core::store::WriterStats;
use coderipple_testkit::{LocalWorker, history};
use coderipple_worker::apply_change_set;
use coderipple_worker::llm::{OpenAiModel, WriterLimits};
use serde_json::{Value, json};

const REPO: &str = "acme/gearbox";
const OTHER: &str = "acme/clutch";
const LEASE: Duration = Duration::from_secs(60);

/// What the server answers every request with.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// `400` (the prompt is too long, say): about this prompt, so no pause.
    BadRequest,
    /// A refusal, reporting the tokens it used.
    Refusal { input: u64, output: u64 },
    /// Prose, reporting `input` prompt tokens and 20 answer tokens.
    Prose { input: u64 },
    /// Nothing, for a minute.
    Silence,
}

struct Server {
    answer: Mutex<Answer>,
    bodies: Mutex<Vec<Value>>,
}

/// A model server on loopback; its base URL up to `/v1`.
async fn serve(answer: Answer) -> (Arc<Server>, String) {
    let server = Arc::new(Server {
        answer: Mutex::new(answer),
        bodies: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(complete))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (server, url)
}

async fn complete(State(s): State<Arc<Server>>, Json(body): Json<Value>) -> Response {
    s.bodies.lock().unwrap().push(body);
    let answer = *s.answer.lock().unwrap();
    match answer {
        Answer::BadRequest => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"message": "maximum context length exceeded"}})),
        )
            .into_response(),
        Answer::Refusal { input, output } => Json(json!({
            "choices": [{"message": {"role": "assistant", "content": null, "refusal": "No."},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": input, "completion_tokens": output}
        }))
        .into_response(),
        Answer::Prose { input } => Json(json!({
            "choices": [{"message": {"role": "assistant", "content": "The gears turn."},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": input, "completion_tokens": 20}
        }))
        .into_response(),
        Answer::Silence => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

impl Server {
    fn requests(&self) -> usize {
        self.bodies.lock().unwrap().len()
    }

    /// The documented estimate of each request: a token per four bytes of its two messages,
    /// and the longest answer it asked for.
    fn estimates(&self) -> Vec<u64> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .map(|b| {
                let chars: usize = b["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["content"].as_str().unwrap().len())
                    .sum();
                chars as u64 / 4 + b["max_tokens"].as_u64().unwrap()
            })
            .collect()
    }
}

fn limits() -> WriterLimits {
    WriterLimits {
        max_calls: 50,
        ..WriterLimits::default()
    }
}

fn worker(url: &str, limits: WriterLimits) -> LocalWorker {
    let model = OpenAiModel::new(url, "stand-in", None, limits.timeout).unwrap();
    LocalWorker::new().writer(Arc::new(model), limits)
}

async fn apply(worker: &LocalWorker, repo: &str, envs: &[Envelope]) -> WriterStats {
    let mut total = WriterStats::default();
    for env in envs {
        let summary = apply_change_set(&worker.ctx, repo, std::slice::from_ref(env), LEASE)
            .await
            .unwrap();
        if let Some(w) = summary.writer {
            total.absorb(&w);
        }
    }
    total
}

/// Today's count of `counter` (`writer-tokens#<repo>` or `writer-tokens-all`).
async fn spent(worker: &LocalWorker, counter: &str) -> u64 {
    let day = chrono::Utc::now().format("%Y-%m-%d");
    worker
        .ctx
        .store
        .counter_add(&format!("{counter}#{day}"), 0, Duration::from_secs(3600))
        .await
        .unwrap()
}

/// The history of [`OTHER`], under delivery ids of its own.
fn other(envs: Vec<Envelope>) -> Vec<Envelope> {
    envs.into_iter()
        .map(|mut e| {
            e.delivery = format!("clutch-{}", e.delivery);
            e
        })
        .collect()
}

fn replayed(env: &Envelope, n: usize) -> Envelope {
    let mut env = env.clone();
    env.delivery = format!("replay-{n}-{}", env.delivery);
    env
}

#[tokio::test]
async fn failed_calls_are_charged_and_not_asked_again_within_the_window() {
    let (server, url) = serve(Answer::BadRequest).await;
    let worker = worker(&url, limits());
    let push = history::push(REPO, 1);
    let stats = apply(&worker, REPO, std::slice::from_ref(&push)).await;
    let asked = server.requests();
    assert!(asked >= 2, "{stats:?}");
    assert_eq!((stats.calls, stats.written), (asked, 0), "{stats:?}");
    // No usage reported: each call is charged its estimate, to both counts.
    let charged: u64 = server.estimates().iter().sum();
    assert_eq!(
        spent(&worker, &format!("writer-tokens#{REPO}")).await,
        charged
    );
    assert_eq!(spent(&worker, "writer-tokens-all").await, charged);

    // The same change again: every doc rendered again, no failed prompt asked again.
    let again = apply(&worker, REPO, &[replayed(&push, 1)]).await;
    assert_eq!(server.requests(), asked, "{again:?}");
    assert_eq!(again.calls, 0, "{again:?}");
    assert!(
        again
            .notes
            .iter()
            .any(|n| n.contains("CODERIPPLE_WRITER_RETRY_AFTER_SECS")),
        "{again:?}"
    );

    // A refusal is charged the tokens it reported.
    *server.answer.lock().unwrap() = Answer::Refusal {
        input: 300,
        output: 5,
    };
    let other = apply(&worker, OTHER, &other(vec![history::push(OTHER, 1)])).await;
    let refused = server.requests() - asked;
    assert!(refused >= 1 && other.calls == refused, "{other:?}");
    assert_eq!(other.input_tokens, 300 * refused as u64);
    assert_eq!(
        spent(&worker, &format!("writer-tokens#{OTHER}")).await,
        305 * refused as u64
    );
    assert_eq!(
        spent(&worker, "writer-tokens-all").await,
        charged + 305 * refused as u64
    );
}

#[tokio::test]
async fn without_a_retry_window_the_next_change_set_asks_again() {
    let (server, url) = serve(Answer::BadRequest).await;
    let worker = worker(
        &url,
        WriterLimits {
            retry_after: Duration::ZERO,
            ..limits()
        },
    );
    let push = history::push(REPO, 1);
    apply(&worker, REPO, std::slice::from_ref(&push)).await;
    let asked = server.requests();
    assert!(asked >= 1);
    apply(&worker, REPO, &[replayed(&push, 1)]).await;
    assert_eq!(server.requests(), 2 * asked);
}

#[tokio::test]
async fn a_call_that_times_out_is_charged_its_estimate() {
    let (server, url) = serve(Answer::Silence).await;
    let worker = worker(
        &url,
        WriterLimits {
            timeout: Duration::from_secs(1),
            ..limits()
        },
    );
    let stats = apply(&worker, REPO, &[history::push(REPO, 1)]).await;
    // One call, then the writer pauses.
    assert_eq!((server.requests(), stats.calls), (1, 1), "{stats:?}");
    assert_eq!(
        spent(&worker, &format!("writer-tokens#{REPO}")).await,
        server.estimates()[0]
    );
}

#[tokio::test]
async fn the_cap_of_all_repositories_stops_calls_for_every_repository() {
    let (server, url) = serve(Answer::Prose { input: 2_400 }).await;
    // One call per change set, 2,420 tokens each; 5,000 a day for all: two calls.
    let worker = worker(
        &url,
        WriterLimits {
            max_calls: 1,
            daily_tokens: 1_000_000,
            daily_tokens_total: 5_000,
            ..limits()
        },
    );
    let gearbox = history::in_order(REPO);
    let first = apply(&worker, REPO, &gearbox[..1]).await;
    assert_eq!((first.calls, first.written), (1, 1), "{first:?}");
    let clutch = apply(&worker, OTHER, &other(history::in_order(OTHER))[..1]).await;
    assert_eq!(clutch.calls, 1, "{clutch:?}");
    assert!(
        server.estimates()[1] <= 5_000 - 2_420,
        "the second call fits the cap by its estimate"
    );
    let later = apply(&worker, REPO, &gearbox[1..3]).await;
    assert_eq!(later.calls, 0, "{later:?}");
    assert_eq!(server.requests(), 2);
    assert!(
        later
            .notes
            .iter()
            .any(|n| n.contains("CODERIPPLE_WRITER_DAILY_TOKENS_TOTAL")),
        "{later:?}"
    );
    assert_eq!(
        spent(&worker, &format!("writer-tokens#{REPO}")).await,
        2_420
    );
    assert_eq!(
        spent(&worker, &format!("writer-tokens#{OTHER}")).await,
        2_420
    );
    assert_eq!(spent(&worker, "writer-tokens-all").await, 4_840);
}
