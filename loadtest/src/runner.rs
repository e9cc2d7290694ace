//! Sends the traffic: one lane per repository (a repository's next request leaves when its
//! previous one was answered, so "send order" is well defined and checkable), lanes in
//! parallel, each request at its intended time (open model) or when a sender is free
//! (closed model). A 503 or a refused connection is re-sent with backoff, as a redelivery by
//! hand would be (GitHub itself does not retry); latency counts from the intended time,
//! through every re-send.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::schedule::Model;
use crate::target::{Answer, Target};
use crate::traffic::{Kind, Request};

/// How the traffic is sent.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Arrival model.
    pub model: Model,
    /// Attempts per copy before giving up (a request never acknowledged counts against
    /// the success rate).
    pub max_attempts: usize,
    /// Show a progress bar.
    pub progress: bool,
    /// Where dropped requests are recorded instead of sent (`--drop`).
    pub log: Option<Arc<crate::github_log::DeliveryLog>>,
}

/// [`Sent::what`] of a dropped request until recovery brought it back.
pub const DROPPED: &str = "dropped (GitHub does not re-send)";

/// What happened to one request.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    /// Index in the traffic.
    pub index: usize,
    /// Delivery id.
    pub delivery: String,
    /// Repository.
    pub repo: String,
    /// What it is.
    pub kind: Kind,
    /// Intended send time (ms after the start; open model).
    pub intended_ms: Option<f64>,
    /// When the final answer came (Unix ms).
    pub answered_at_ms: i64,
    /// When the final answer came (ms after the start).
    pub answered_after_ms: f64,
    /// From the intended time (open) or the first send (closed) to the final answer.
    pub latency_us: u64,
    /// Final answer.
    pub status: u16,
    /// Final answer's text.
    pub what: String,
    /// Copies sent, including re-sends.
    pub attempts: u32,
    /// Answers that asked for a re-send (503, no connection).
    pub unavailable: u32,
    /// Answers to the storm copies (same delivery id, right after the first).
    pub copies: Vec<Answer>,
    /// Answer to the late copy (after the drain).
    pub late: Option<Answer>,
}

impl Sent {
    /// What is known of a dropped request: GitHub's one attempt failed with `503`.
    fn dropped(request: &Request, start: Instant, started_at_ms: i64) -> Self {
        let after = start.elapsed();
        Self {
            index: request.index,
            delivery: request.delivery.clone(),
            repo: request.repo.clone(),
            kind: request.kind,
            intended_ms: None,
            answered_at_ms: started_at_ms + after.as_millis() as i64,
            answered_after_ms: after.as_secs_f64() * 1000.0,
            latency_us: 0,
            status: 503,
            what: DROPPED.into(),
            attempts: 1,
            unavailable: 1,
            copies: Vec::new(),
            late: None,
        }
    }

    /// Takes the answer of the redelivery recovery asked for.
    pub fn redelivered(&mut self, answer: Answer) {
        self.answered_at_ms = coderipple_core::time::now_ms();
        self.status = answer.status;
        self.what = answer.what;
        self.attempts += 1;
    }

    /// Whether ingest took responsibility for it: queued, or (after a re-send whose first
    /// answer was lost) known as a duplicate; either way durably stored.
    pub fn acknowledged(&self) -> bool {
        (self.status == 202 && self.what == "queued")
            || (self.status == 200 && self.what == "duplicate")
    }
}

/// The send phase's result.
#[derive(Debug)]
pub struct SendPhase {
    /// One per request, in traffic order.
    pub sent: Vec<Sent>,
    /// Start (Unix ms).
    pub started_at_ms: i64,
    /// From the start to the last answer.
    pub elapsed: Duration,
}

/// Sends `traffic` to `target`.
pub async fn run(target: &Target, traffic: &[Request], options: &RunOptions) -> SendPhase {
    let mut lanes: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for r in traffic {
        lanes.entry(r.repo.as_str()).or_default().push(r.index);
    }
    let bar = progress_bar(traffic.len() as u64, options.progress);
    let senders = match options.model {
        Model::Closed { concurrency } => concurrency.max(1),
        Model::Open(_) => Semaphore::MAX_PERMITS,
    };
    let permits = Arc::new(Semaphore::new(senders));
    let start = Instant::now();
    let started_at_ms = coderipple_core::time::now_ms();
    let traffic: Arc<[Request]> = Arc::from(traffic.to_vec());
    let n = traffic.len();
    let mut tasks = tokio::task::JoinSet::new();
    for (_, lane) in lanes {
        let (target, traffic, bar, permits) = (
            target.clone(),
            traffic.clone(),
            bar.clone(),
            permits.clone(),
        );
        let (model, attempts) = (options.model, options.max_attempts);
        let log = options.log.clone();
        tasks.spawn(async move {
            let mut out = Vec::with_capacity(lane.len());
            for i in lane {
                let request = &traffic[i];
                let intended = model.offset(i, n);
                if let Some(at) = intended {
                    tokio::time::sleep_until((start + at).into()).await;
                }
                if let (true, Some(log)) = (request.dropped, &log) {
                    log.drop_delivery(request);
                    out.push(Sent::dropped(request, start, started_at_ms));
                    bar.inc(1);
                    continue;
                }
                let _permit = permits.acquire().await.expect("never closed");
                let from = intended.map_or_else(Instant::now, |at| start + at);
                // Refusals are final: a redelivered 4xx is refused again, and an oversize body
                // is not re-sent when its upload is cut off.
                let tries = match request.kind {
                    Kind::Oversize | Kind::BadSignature => 1,
                    _ => attempts,
                };
                let first = send_until_answered(&target, request, tries).await;
                let answered = Instant::now();
                let answered_at_ms = coderipple_core::time::now_ms();
                // The storm: every extra copy at once, racing each other.
                let copies: Vec<Answer> = if first.answer.status == 202 && request.redeliveries > 1
                {
                    let sends = (1..request.redeliveries)
                        .map(|_| send_until_answered(&target, request, attempts));
                    futures::future::join_all(sends)
                        .await
                        .into_iter()
                        .map(|a| a.answer)
                        .collect()
                } else {
                    Vec::new()
                };
                out.push(Sent {
                    index: i,
                    delivery: request.delivery.clone(),
                    repo: request.repo.clone(),
                    kind: request.kind,
                    intended_ms: intended.map(|d| d.as_secs_f64() * 1000.0),
                    answered_at_ms,
                    answered_after_ms: (answered - start).as_secs_f64() * 1000.0,
                    latency_us: (answered - from).as_micros() as u64,
                    status: first.answer.status,
                    what: first.answer.what,
                    attempts: first.attempts,
                    unavailable: first.unavailable,
                    copies,
                    late: None,
                });
                bar.inc(1);
            }
            out
        });
    }
    let mut sent: Vec<Sent> = Vec::with_capacity(n);
    while let Some(lane) = tasks.join_next().await {
        sent.extend(lane.expect("a lane panicked"));
    }
    sent.sort_by_key(|s| s.index);
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    SendPhase {
        sent,
        started_at_ms,
        elapsed,
    }
}

/// Sends the late copy of every acknowledged request that has redeliveries (after the
/// drain: by then each must be answered as a duplicate).
pub async fn send_late(
    target: &Target,
    traffic: &[Request],
    phase: &mut SendPhase,
    attempts: usize,
) {
    for s in phase.sent.iter_mut() {
        let request = &traffic[s.index];
        if request.redeliveries > 0 && s.acknowledged() {
            s.late = Some(send_until_answered(target, request, attempts).await.answer);
        }
    }
}

struct Attempted {
    answer: Answer,
    attempts: u32,
    unavailable: u32,
}

async fn send_until_answered(target: &Target, request: &Request, attempts: usize) -> Attempted {
    let tries = AtomicU32::new(0);
    let unavailable = AtomicU32::new(0);
    let once = || async {
        tries.fetch_add(1, Ordering::Relaxed);
        let answer = target.send(request).await;
        if answer.wants_resend() {
            unavailable.fetch_add(1, Ordering::Relaxed);
            Err(answer)
        } else {
            Ok(answer)
        }
    };
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(1))
        .with_max_times(attempts.saturating_sub(1))
        .with_jitter();
    let answer = match once.retry(backoff).await {
        Ok(answer) | Err(answer) => answer,
    };
    Attempted {
        answer,
        attempts: tries.into_inner(),
        unavailable: unavailable.into_inner(),
    }
}

fn progress_bar(len: u64, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} sending {pos}/{len} [{bar:30}] {per_sec} eta {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar
}
