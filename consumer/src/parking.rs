//! Parked repositories: when a repository's head message is dead-lettered for a transient
//! reason (its retries ran out), the rest of its group must not be applied before it, or a
//! replay would later append old events after newer ones.
//!
//! Order of effects: the park record is stored first, then the head is dead-lettered, then
//! every later message of the group (in this batch, and in any later batch while the park
//! lasts) is dead-lettered as `parked` with the head's id in its reason. Nothing of the
//! repository is applied meanwhile, with one exception: a replay's copies that carry the
//! park's [`LIFTS_PARK_ATTR`] token. `coderipple dlq replay` sends the parked history back
//! with that token while the park stands, and lifts it only after the last message was sent,
//! so an event that arrives meanwhile is dead-lettered behind the park (and replayed after
//! the history) rather than applied before it. A copy that runs out of receives parks the
//! repository again under a new park (a new token), so the copies behind it wait again.
//! A worker that dead-lettered messages behind a park that was lifted meanwhile parks the
//! repository again behind the first of them, so they are not left behind newer events.
//! `coderipple dlq purge` lifts the park when the head is purged. If the park cannot be
//! stored (the store is what is failing), the head is not dead-lettered by the consumer: it
//! goes back to the queue like any retry.

use coderipple_core::queue::ReceivedMessage;
use coderipple_core::store::{LIFTS_PARK_ATTR, ParkedRepo};

use crate::outcome::{Outcome, dead_letter_with, delivery_of};
use coderipple_core::WorkerError;

use crate::context::Consumer;

/// The error class of messages dead-lettered behind a parked head.
pub const PARKED_CLASS: &str = "parked";
/// The error class of a head whose transient failures outlasted its receives.
pub const EXHAUSTED_CLASS: &str = "transient";

/// The park of `repo`, if any.
pub(crate) async fn parked(ctx: &Consumer, repo: &str) -> Result<Option<ParkedRepo>, WorkerError> {
    Ok(ctx.store.parked_repo(repo).await?)
}

/// Splits a parked repository's messages into the replayed copies that lift `parked` (they
/// go through) and the rest (dead-lettered behind it), each in order.
pub(crate) fn split_lifting(
    parked: &ParkedRepo,
    msgs: Vec<ReceivedMessage>,
) -> (Vec<ReceivedMessage>, Vec<ReceivedMessage>) {
    let token = parked.lift_token();
    msgs.into_iter()
        .partition(|m| m.attributes.get(LIFTS_PARK_ATTR) == Some(&token))
}

/// Dead-letters every message of `msgs` behind `parked`, in order. If the park was lifted
/// meanwhile (a replay finished between our look and our dead-lettering), parks the
/// repository again behind the first of them: they must not stay behind newer events.
pub(crate) async fn dead_letter_behind(
    ctx: &Consumer,
    parked: &ParkedRepo,
    msgs: Vec<ReceivedMessage>,
) -> Vec<(ReceivedMessage, Outcome)> {
    let mut out = Vec::with_capacity(msgs.len());
    for m in msgs {
        let outcome = dead_letter_with(ctx, &m, None, PARKED_CLASS, behind(parked)).await;
        out.push((m, outcome));
    }
    let first = out
        .iter()
        .find(|(_, o)| matches!(o, Outcome::DeadLettered(_)))
        .map(|(m, _)| delivery_of(m));
    if let Some(first) = first
        && let Ok(None) = ctx.store.parked_repo(&parked.repo).await
    {
        let again = ParkedRepo {
            repo: parked.repo.clone(),
            head: first,
            reason: format!(
                "dead-lettered behind the park of {} while it was lifted; replay the repository",
                parked.head
            ),
            since_ms: coderipple_core::time::now_ms(),
        };
        tracing::error!(delivery = %again.head, "park lifted while messages were dead-lettered behind it; parked again");
        if let Err(e) = ctx.store.park_repo(&again).await {
            tracing::error!(error = %e, "could not park the repository again");
        }
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
///
/// `lifting` is the park that replayed copies passed: a copy that runs out of receives
/// replaces it (a new token), so the copies behind it are held back again.
pub(crate) async fn park_on_last_receive(
    ctx: &Consumer,
    repo: &str,
    out: Vec<(ReceivedMessage, Outcome)>,
    lifting: Option<&ParkedRepo>,
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
        if lifting.is_some()
            && let Err(e) = ctx.store.unpark_repo(repo).await
        {
            tracing::error!(error = %e, delivery = %head.head, "could not replace the park; the message goes back to the queue");
            result.push((m, outcome));
            continue;
        }
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
