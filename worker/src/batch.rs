//! FIFO-aware handling of one received batch.
//!
//! Messages are grouped by FIFO group (repository). Groups run concurrently; inside a group
//! messages are handled strictly in order. Consecutive pushes are coalesced into one change
//! set. The first transient failure in a group sends that message and every later one of
//! the group back (`Retry`); other groups are unaffected. A permanent failure is sent to the
//! DLQ by the worker itself, with its reason, and the group goes on.

use coderipple_core::envelope::{Change, Envelope};
use coderipple_core::queue::{DeadLetterReason, ReceivedMessage};
use futures::future::join_all;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::process::process_change_set;
use crate::{WorkerContext, WorkerError};

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied (or found already applied): delete it.
    Done,
    /// Failed transiently: leave it for another attempt (a Lambda `batchItemFailure`).
    Retry(String),
    /// Moved to the DLQ by the worker with its reason (already off the queue).
    DeadLettered(String),
    /// Not started because of shutdown: make it visible again now.
    Released,
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

/// Handles a batch; never fails as a whole.
pub async fn handle_batch(
    ctx: &WorkerContext,
    messages: Vec<ReceivedMessage>,
    cancel: &CancellationToken,
) -> BatchReport {
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
            .map(|(group, msgs)| handle_group(ctx, group, msgs, cancel)),
    )
    .await;
    BatchReport {
        outcomes: handled.into_iter().flatten().collect(),
    }
}

#[tracing::instrument(skip_all, fields(repo = %group, messages = msgs.len()))]
async fn handle_group(
    ctx: &WorkerContext,
    group: String,
    msgs: Vec<ReceivedMessage>,
    cancel: &CancellationToken,
) -> Vec<(ReceivedMessage, Outcome)> {
    let mut out = Vec::with_capacity(msgs.len());
    let mut ready: Vec<(ReceivedMessage, Envelope)> = Vec::new();
    let mut blocked: Option<String> = None;
    for m in msgs {
        if let Some(why) = &blocked {
            out.push((m, Outcome::Retry(why.clone())));
            continue;
        }
        match decode(ctx, &m, &group).await {
            Ok(env) => ready.push((m, env)),
            Err(WorkerError::Transient(why)) => {
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
    let mut stop: Option<String> = None;
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
        let outcomes = run_unit(ctx, &group, unit).await;
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

/// Runs one coalesced unit; a permanent failure of a multi-event unit is retried event by
/// event so that only the poison one is dead-lettered.
async fn run_unit(
    ctx: &WorkerContext,
    group: &str,
    unit: Vec<(ReceivedMessage, Envelope)>,
) -> Vec<(ReceivedMessage, Outcome)> {
    let envelopes: Vec<Envelope> = unit.iter().map(|(_, e)| e.clone()).collect();
    match process_change_set(ctx, group, &envelopes).await {
        Ok(_) => unit.into_iter().map(|(m, _)| (m, Outcome::Done)).collect(),
        Err(WorkerError::Transient(why)) => {
            tracing::warn!(%why, "transient failure; this group's remaining messages retry");
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
            let mut stop: Option<String> = None;
            for single in unit {
                if let Some(why) = &stop {
                    out.push((single.0, Outcome::Retry(why.clone())));
                    continue;
                }
                let outcomes = Box::pin(run_unit(ctx, group, vec![single])).await;
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
    ctx: &WorkerContext,
    m: &ReceivedMessage,
    group: &str,
) -> Result<Envelope, WorkerError> {
    let mut env = Envelope::from_json(&m.body)?;
    if env.repo != group {
        return Err(WorkerError::invalid(format!(
            "envelope repo {} differs from its message group {group}",
            env.repo
        )));
    }
    if let Some(reference) = env.change_ref.take() {
        let bytes = ctx.blobs.get(&reference).await?;
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
    ctx: &WorkerContext,
    m: &ReceivedMessage,
    delivery: Option<&str>,
    err: &WorkerError,
) -> Outcome {
    let (class, reason) = match err {
        WorkerError::Permanent { class, reason } => (*class, reason.clone()),
        WorkerError::Transient(r) => ("transient", r.clone()),
    };
    let delivery = delivery.unwrap_or(&m.dedup_id);
    tracing::error!(delivery, class, %reason, "poison message; sending to the DLQ");
    let dl = DeadLetterReason {
        reason: reason.clone(),
        error_class: class.to_owned(),
    };
    match ctx.queue.dead_letter(m, &dl).await {
        Ok(()) => {
            let record = json!({"reason": reason, "error_class": class});
            if let Err(e) = ctx.store.fail_processing(delivery, &record).await {
                tracing::warn!(error = %e, "dead-lettered, but the delivery record was not marked failed");
            }
            Outcome::DeadLettered(reason)
        }
        Err(e) => {
            tracing::error!(error = %e, "could not dead-letter; the message will be retried");
            Outcome::Retry(format!("dead-letter failed: {e}"))
        }
    }
}
