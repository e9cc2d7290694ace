//! FIFO-aware handling of one received batch.
//!
//! Messages are grouped by FIFO group (repository). Groups run concurrently; inside a group
//! messages are handled strictly in order. Consecutive pushes are coalesced into one change
//! set. The first transient failure in a group sends that message and every later one of
//! the group back (`Retry`); other groups are unaffected. A permanent failure is sent to the
//! DLQ by the consumer itself, with its reason, and the group goes on.
//!
//! Transient trouble does not spend the queue's redrive budget where it can be avoided: a
//! long-running worker first *holds* the failing unit and retries it in place, with backoff,
//! for up to [`BatchOptions::hold`] (its messages stay invisible; attempts are counted in the
//! delivery records). Only then does the message go back to the queue, spending a receive.
//! On its last receive (`max_receives`) a message still failing transiently is dead-lettered
//! by the consumer, and its repository is *parked* behind it: every later message of that
//! repository is dead-lettered as `parked`, in order, applying nothing, until an operator
//! replays (or purges) the head, so a repository's history is never applied out of order
//! (a replay's own copies go through: see `parking`).

use std::time::Duration;

use coderipple_core::envelope::{Change, Envelope};
use coderipple_core::metrics::MetricSet;
use coderipple_core::queue::{ReceivedMessage, message_group_id};
use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use crate::outcome::dead_letter_with;
pub use crate::outcome::{Outcome, Retry};
use coderipple_core::WorkerError;

use crate::context::Consumer;

/// How a batch is handled.
#[derive(Debug, Clone, Copy)]
pub struct BatchOptions {
    /// How long processing leases last (in Lambda: the invocation's remaining time).
    pub lease: Duration,
    /// How long a transiently failing unit is retried in place before its messages go back
    /// to the queue ([`Duration::ZERO`]: not at all, e.g. in Lambda, whose event source
    /// mapping retries).
    pub hold: Duration,
    /// Inside Lambda: when the invocation ends (given to the port with each change set).
    pub deadline: Option<std::time::Instant>,
}

/// Outcomes for every message of a batch.
#[derive(Debug, Default)]
pub struct BatchReport {
    /// Each message with what became of it.
    pub outcomes: Vec<(ReceivedMessage, Outcome)>,
}

impl BatchReport {
    /// Messages with outcomes matching `pred`.
    pub fn matching(&self, pred: impl Fn(&Outcome) -> bool) -> Vec<&ReceivedMessage> {
        self.outcomes
            .iter()
            .filter(|(_, o)| pred(o))
            .map(|(m, _)| m)
            .collect()
    }
}

/// Handles a batch the way a long-running worker does; never fails as a whole. Processing
/// leases last the visibility timeout; transient failures are held for
/// `CODERIPPLE_RETRY_HOLD_SECS`.
pub async fn handle_batch(
    ctx: &Consumer,
    messages: Vec<ReceivedMessage>,
    cancel: &CancellationToken,
) -> BatchReport {
    let options = BatchOptions {
        lease: ctx.settings.visibility_timeout,
        hold: ctx.settings.retry_hold,
        deadline: None,
    };
    handle_batch_with(ctx, messages, cancel, options).await
}

/// Handles a batch with `options`. Emits one metrics record.
pub async fn handle_batch_with(
    ctx: &Consumer,
    messages: Vec<ReceivedMessage>,
    cancel: &CancellationToken,
    options: BatchOptions,
) -> BatchReport {
    let started = std::time::Instant::now();
    let size = messages.len();
    let mut groups: Vec<(String, Vec<ReceivedMessage>)> = Vec::new();
    for m in messages {
        match groups.iter_mut().find(|(g, _)| *g == m.group_id) {
            Some((_, list)) => list.push(m),
            None => groups.push((m.group_id.clone(), vec![m])),
        }
    }
    let handled = join_all(
        groups
            .into_iter()
            .map(|(group, msgs)| handle_group(ctx, group, msgs, cancel, options)),
    )
    .await;
    let groups = handled.len();
    let report = BatchReport {
        outcomes: handled.into_iter().flatten().collect(),
    };
    ctx.metrics
        .emit(&batch_metrics(&report, size, groups, started.elapsed()));
    report
}

fn batch_metrics(report: &BatchReport, size: usize, groups: usize, took: Duration) -> MetricSet {
    let mut m = MetricSet::for_function("worker");
    m.count("BatchSize", size as u64);
    m.count("GroupsPerBatch", groups as u64);
    m.millis("BatchLatency", took.as_secs_f64() * 1000.0);
    let now = coderipple_core::time::now_ms();
    let (mut done, mut retried, mut dead, mut released) = (0, 0, 0, 0);
    for (msg, outcome) in &report.outcomes {
        match outcome {
            Outcome::Done => {
                done += 1;
                if msg.sent_at_ms > 0 {
                    m.millis("EndToEndLatency", (now - msg.sent_at_ms).max(0) as f64);
                }
            }
            Outcome::Retry(_) => retried += 1,
            Outcome::DeadLettered(_) => dead += 1,
            Outcome::Released => released += 1,
        }
    }
    m.count("MessagesProcessed", done);
    m.count("MessagesFailed", retried);
    m.count("MessagesDeadLettered", dead);
    m.count("MessagesReleased", released);
    m
}

/// The repository a received group belongs to: the `repo` of the first message whose
/// envelope names a repository with that group id (a name SQS cannot take as a group id
/// reaches us as a derived one, see [`message_group_id`]); the group id itself otherwise
/// (its messages are then dead-lettered as unreadable by [`decode`]).
fn repo_of_group(group: &str, msgs: &[ReceivedMessage]) -> String {
    msgs.iter()
        .filter_map(|m| Envelope::from_json(&m.body).ok())
        .find(|env| message_group_id(&env.repo) == group)
        .map_or_else(|| group.to_owned(), |env| env.repo)
}

async fn handle_group(
    ctx: &Consumer,
    group: String,
    msgs: Vec<ReceivedMessage>,
    cancel: &CancellationToken,
    options: BatchOptions,
) -> Vec<(ReceivedMessage, Outcome)> {
    let repo = repo_of_group(&group, &msgs);
    let span = tracing::info_span!("group", repo = %repo, messages = msgs.len());
    tracing::Instrument::instrument(handle_repo(ctx, &group, repo, msgs, cancel, options), span)
        .await
}

/// Everything is keyed by the repository (state, parks, leases); `group` is only the id the
/// queue gave its messages.
async fn handle_repo(
    ctx: &Consumer,
    group: &str,
    repo: String,
    msgs: Vec<ReceivedMessage>,
    cancel: &CancellationToken,
    options: BatchOptions,
) -> Vec<(ReceivedMessage, Outcome)> {
    match crate::parking::parked(ctx, &repo).await {
        Ok(Some(parked)) => {
            let (lifting, behind) = crate::parking::split_lifting(&parked, msgs);
            let mut out = crate::parking::dead_letter_behind(ctx, &parked, behind).await;
            if !lifting.is_empty() {
                let handled = handle_unparked(ctx, group, &repo, lifting, cancel, options).await;
                let handled =
                    crate::parking::park_on_last_receive(ctx, &repo, handled, Some(&parked)).await;
                out.extend(handled);
            }
            return out;
        }
        Ok(None) => {}
        Err(e) => {
            let why = Retry::from_error(ctx, &e);
            return msgs
                .into_iter()
                .map(|m| (m, Outcome::Retry(why.clone())))
                .collect();
        }
    }
    let out = handle_unparked(ctx, group, &repo, msgs, cancel, options).await;
    crate::parking::park_on_last_receive(ctx, &repo, out, None).await
}

async fn handle_unparked(
    ctx: &Consumer,
    group: &str,
    repo: &str,
    msgs: Vec<ReceivedMessage>,
    cancel: &CancellationToken,
    options: BatchOptions,
) -> Vec<(ReceivedMessage, Outcome)> {
    let mut out = Vec::with_capacity(msgs.len());
    let mut ready: Vec<(ReceivedMessage, Envelope)> = Vec::new();
    let mut blocked: Option<Retry> = None;
    for m in msgs {
        if let Some(why) = &blocked {
            out.push((m, Outcome::Retry(why.clone())));
            continue;
        }
        match decode(ctx, &m, group, repo).await {
            Ok(env) => ready.push((m, env)),
            Err(e) if e.is_retryable() => {
                let why = Retry::from_error(ctx, &e);
                blocked = Some(why.clone());
                out.push((m, Outcome::Retry(why)));
            }
            Err(permanent) => {
                let outcome = dead_letter(ctx, &m, None, &permanent).await;
                if let Outcome::Retry(why) = &outcome {
                    blocked = Some(why.clone());
                }
                out.push((m, outcome));
            }
        }
    }
    let mut stop: Option<Retry> = None;
    for unit in coalesce(ready) {
        if let Some(why) = &stop {
            out.extend(
                unit.into_iter()
                    .map(|(m, _)| (m, Outcome::Retry(why.clone()))),
            );
            continue;
        }
        if cancel.is_cancelled() {
            out.extend(unit.into_iter().map(|(m, _)| (m, Outcome::Released)));
            continue;
        }
        let outcomes = run_unit_holding(ctx, repo, unit, cancel, options).await;
        if let Some((_, Outcome::Retry(why))) = outcomes
            .iter()
            .find(|(_, o)| matches!(o, Outcome::Retry(_)))
        {
            stop = Some(why.clone());
        }
        out.extend(outcomes);
    }
    out
}

/// Runs one unit; while the messages it leaves to retry failed transiently and the hold
/// allows, waits (backing off) and runs those again in place.
async fn run_unit_holding(
    ctx: &Consumer,
    repo: &str,
    unit: Vec<(ReceivedMessage, Envelope)>,
    cancel: &CancellationToken,
    options: BatchOptions,
) -> Vec<(ReceivedMessage, Outcome)> {
    use backon::BackoffBuilder;
    let mut delays = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(10))
        .with_total_delay(Some(options.hold))
        .without_max_times()
        .build();
    let mut settled: Vec<(ReceivedMessage, Outcome)> = Vec::new();
    let mut pending = unit;
    loop {
        let envelopes: Vec<Envelope> = pending.iter().map(|(_, e)| e.clone()).collect();
        let outcomes = run_unit(ctx, repo, pending, &options).await;
        let first_retry = outcomes
            .iter()
            .position(|(_, o)| matches!(o, Outcome::Retry(_)));
        let Some(at) = first_retry else {
            settled.extend(outcomes);
            return settled;
        };
        let holdable = matches!(&outcomes[at].1, Outcome::Retry(r) if r.hold);
        let delay = if holdable && !options.hold.is_zero() && !cancel.is_cancelled() {
            delays.next()
        } else {
            None
        };
        let Some(delay) = delay else {
            settled.extend(outcomes);
            return settled;
        };
        if let Outcome::Retry(why) = &outcomes[at].1 {
            tracing::warn!(reason = %why.reason, ?delay, "transient failure; holding the unit and retrying in place");
        }
        let mut outcomes = outcomes.into_iter();
        settled.extend(outcomes.by_ref().take(at));
        pending = outcomes
            .map(|(m, _)| m)
            .zip(envelopes.into_iter().skip(at))
            .collect();
        tokio::select! {
            () = cancel.cancelled() => {}
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// Runs one coalesced unit; a permanent failure of a multi-event unit is retried event by
/// event so that only the poison one is dead-lettered.
async fn run_unit(
    ctx: &Consumer,
    repo: &str,
    unit: Vec<(ReceivedMessage, Envelope)>,
    options: &BatchOptions,
) -> Vec<(ReceivedMessage, Outcome)> {
    let envelopes: Vec<Envelope> = unit.iter().map(|(_, e)| e.clone()).collect();
    let applied = ctx
        .changes
        .apply_change_set(repo, &envelopes, options.lease, options.deadline)
        .await;
    match applied {
        Ok(_) => unit.into_iter().map(|(m, _)| (m, Outcome::Done)).collect(),
        Err(e) if e.is_retryable() => {
            let why = Retry::from_error(ctx, &e);
            tracing::warn!(reason = %why.reason, "transient failure; this group's remaining messages retry");
            unit.into_iter()
                .map(|(m, _)| (m, Outcome::Retry(why.clone())))
                .collect()
        }
        Err(permanent) if unit.len() == 1 => {
            let (m, env) = unit.into_iter().next().expect("one element");
            let outcome = dead_letter(ctx, &m, Some(&env.delivery), &permanent).await;
            vec![(m, outcome)]
        }
        Err(_) => {
            let mut out = Vec::with_capacity(unit.len());
            let mut stop: Option<Retry> = None;
            for single in unit {
                if let Some(why) = &stop {
                    out.push((single.0, Outcome::Retry(why.clone())));
                    continue;
                }
                let outcomes = Box::pin(run_unit(ctx, repo, vec![single], options)).await;
                if let Some((_, Outcome::Retry(why))) = outcomes.first() {
                    stop = Some(why.clone());
                }
                out.extend(outcomes);
            }
            out
        }
    }
}

/// Consecutive pushes form one unit; any other event is a unit of its own.
fn coalesce(ready: Vec<(ReceivedMessage, Envelope)>) -> Vec<Vec<(ReceivedMessage, Envelope)>> {
    let mut units: Vec<Vec<(ReceivedMessage, Envelope)>> = Vec::new();
    for item in ready {
        let is_push = matches!(item.1.change, Some(Change::Push(_)));
        match units.last_mut() {
            Some(last) if is_push && matches!(last[0].1.change, Some(Change::Push(_))) => {
                last.push(item);
            }
            _ => units.push(vec![item]),
        }
    }
    units
}

async fn decode(
    ctx: &Consumer,
    m: &ReceivedMessage,
    group: &str,
    repo: &str,
) -> Result<Envelope, WorkerError> {
    let mut env = Envelope::from_json(&m.body)?;
    if env.repo != repo || message_group_id(&env.repo) != group {
        return Err(WorkerError::invalid(format!(
            "envelope repo {} differs from its message group {group}",
            env.repo
        )));
    }
    if let Some(reference) = env.change_ref.take() {
        // A missing or unreadable claim-check cannot come back by retrying (bodies outlive
        // their messages; one that is gone expired or was never written): invalid.
        let bytes = ctx.blobs.get(&reference).await.map_err(|e| match e {
            coderipple_core::Error::Corrupt(reason) => WorkerError::invalid(reason),
            other => other.into(),
        })?;
        let change: Change =
            serde_json::from_slice(&bytes).map_err(|e| WorkerError::Permanent {
                class: "corrupt",
                reason: format!("claim-check {reference} unreadable: {e}"),
            })?;
        env.change = Some(change);
    }
    Ok(env)
}

async fn dead_letter(
    ctx: &Consumer,
    m: &ReceivedMessage,
    delivery: Option<&str>,
    err: &WorkerError,
) -> Outcome {
    let (class, reason) = match err {
        WorkerError::Permanent { class, reason } => (*class, reason.clone()),
        other => ("transient", other.to_string()),
    };
    dead_letter_with(ctx, m, delivery, class, reason).await
}
