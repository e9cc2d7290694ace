//! Parked repositories: when a repository's head message is dead-lettered for a transient
//! reason (its retries ran out), the rest of its group must not be applied before it, or a
//! replay would later append old events after newer ones.
//!
//! Order of effects: the park record is stored first, then the head is dead-lettered, then
//! every later message of the group (in this batch, and in any later batch while the park
//! lasts) is dead-lettered as `parked` with the head's id in its reason. Nothing of the
//! repository is applied meanwhile; `coderipple dlq replay` lifts the park before it sends the
//! dead letters back in group order, `coderipple dlq purge` lifts it when the head is purged.
//! If the park cannot be stored (the store is what is failing), the head is not dead-lettered
//! by the worker: it goes back to the queue like any retry.

use coderipple_core::queue::ReceivedMessage;
use coderipple_core::store::ParkedRepo;

use crate::outcome::{Outcome, dead_letter_with, delivery_of};
use crate::{WorkerContext, WorkerError};

/// The error class of messages dead-lettered behind a parked head.
pub const PARKED_CLASS: &str = "parked";
/// The error class of a head whose transient failures outlasted its receives.
pub const EXHAUSTED_CLASS: &str = "transient";

/// The park of `repo`, if any.
pub(crate) async fn parked(
    ctx: &WorkerContext,
    repo: &str,
) -> Result<Option<ParkedRepo>, WorkerError> {
    Ok(ctx.store.parked_repo(repo).await?)
}

/// Dead-letters every message of `msgs` behind `parked`, in order.
pub(crate) async fn dead_letter_behind(
    ctx: &WorkerContext,
    parked: &ParkedRepo,
    msgs: Vec<ReceivedMessage>,
) -> Vec<(ReceivedMessage, Outcome)> {
    let mut out = Vec::with_capacity(msgs.len());
    for m in msgs {
        let outcome = dead_letter_with(ctx, &m, None, PARKED_CLASS, behind(parked)).await;
        out.push((m, outcome));
    }
    out
}

fn behind(parked: &ParkedRepo) -> String {
    format!(
        "parked behind dead-lettered delivery {} ({}); replay or purge it first",
        parked.head, parked.reason
    )
}

/// A message to retry on its last receive (the queue would dead-letter it silently on the
/// next) parks its repository and is dead-lettered with its reason; every later message of
/// the group that was to be retried is dead-lettered behind it. Other outcomes pass through.
pub(crate) async fn park_on_last_receive(
    ctx: &WorkerContext,
    repo: &str,
    out: Vec<(ReceivedMessage, Outcome)>,
) -> Vec<(ReceivedMessage, Outcome)> {
    let last = ctx.settings.max_receives;
    let mut parked: Option<ParkedRepo> = None;
    let mut result = Vec::with_capacity(out.len());
    for (m, outcome) in out {
        let Outcome::Retry(why) = &outcome else {
            result.push((m, outcome));
            continue;
        };
        if let Some(head) = &parked {
            let outcome = dead_letter_with(ctx, &m, None, PARKED_CLASS, behind(head)).await;
            result.push((m, outcome));
            continue;
        }
        if m.receive_count < last {
            result.push((m, outcome));
            continue;
        }
        let head = ParkedRepo {
            repo: repo.to_owned(),
            head: delivery_of(&m),
            reason: format!(
                "still failing after {} receives: {}",
                m.receive_count, why.reason
            ),
            since_ms: coderipple_core::time::now_ms(),
        };
        if let Err(e) = ctx.store.park_repo(&head).await {
            tracing::error!(error = %e, delivery = %head.head, "could not park the repository; the message goes back to the queue");
            result.push((m, outcome));
            continue;
        }
        tracing::error!(delivery = %head.head, reason = %head.reason, "repository parked behind its dead-lettered head");
        let outcome = dead_letter_with(ctx, &m, None, EXHAUSTED_CLASS, head.reason.clone()).await;
        parked = Some(head);
        result.push((m, outcome));
    }
    result
}
