//! The DLQ operations that `coderipple dlq` and the console share: which dead letters a
//! selection matches, and replay and purge of them through the [`Queue`] trait only
//! (receive → send → delete), so that they behave the same on every backend.
//!
//! Messages that do not match are held in flight for the pass and released at its end;
//! because a FIFO group with a held message yields nothing more, a delivery selection
//! reaches only messages within the first batch of their group. What matched and was not
//! reached is counted in `left`, never silently left.

use std::time::Duration;

use coderipple_core::config::Settings;
use coderipple_core::envelope::Envelope;
use coderipple_core::queue::{
    MAX_BATCH, OutgoingMessage, PeekedMessage, Queue, ReceivedMessage, delivery_of,
    message_group_id, replay_dedup_id,
};
use coderipple_core::store::{ParkedRepo, Store};
use serde::Serialize;

use crate::backend::Backend;

/// How long messages stay held while a replay or purge pass runs.
const HOLD: Duration = Duration::from_secs(120);
/// Peek everything (the DLQ is for operators; it is not expected to be huge).
pub const ALL: usize = 1_000_000;

/// Which dead letters an operation acts on: every set condition must hold; an empty
/// `deliveries` means any delivery.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only messages of this repository (`owner/name`).
    pub repo: Option<String>,
    /// Only these delivery ids.
    pub deliveries: Vec<String>,
}

impl Selection {
    /// Whether nothing narrows the selection (the whole DLQ).
    pub fn is_everything(&self) -> bool {
        self.repo.is_none() && self.deliveries.is_empty()
    }

    /// Whether the message of `group`, `body` and `dedup` id is selected.
    pub fn matches(&self, group: &str, body: &str, dedup: &str) -> bool {
        // Groups of names too long for SQS are derived ids (`message_group_id`).
        self.repo
            .as_deref()
            .is_none_or(|r| r == group || message_group_id(r) == group)
            && (self.deliveries.is_empty()
                || self
                    .deliveries
                    .iter()
                    .any(|d| *d == delivery_of(body, dedup)))
    }
}

/// One dead letter as operators see it.
#[derive(Debug, Clone, Serialize)]
pub struct DlqRow {
    pub message_id: String,
    pub repo: String,
    pub delivery: String,
    pub event: String,
    pub error_class: String,
    pub reason: String,
    pub attempts: String,
    pub dead_lettered_at: String,
}

/// The row of `m`.
pub fn row(m: &PeekedMessage) -> DlqRow {
    let env = Envelope::from_json(&m.body).ok();
    let attr = |k: &str| m.attributes.get(k).cloned().unwrap_or_default();
    DlqRow {
        message_id: m.message_id.clone(),
        repo: m.group_id.clone(),
        delivery: env
            .as_ref()
            .map_or(m.dedup_id.clone(), |e| e.delivery.clone()),
        event: env.as_ref().map_or("?".to_owned(), |e| e.event.clone()),
        error_class: attr("error_class"),
        reason: attr("reason"),
        attempts: attr("attempts"),
        dead_lettered_at: attr("dead_lettered_at"),
    }
}

/// The dead letters `sel` matches, in queue order.
pub async fn matching(dlq: &dyn Queue, sel: &Selection) -> anyhow::Result<Vec<PeekedMessage>> {
    Ok(dlq
        .peek(ALL)
        .await?
        .into_iter()
        .filter(|m| sel.matches(&m.group_id, &m.body, &m.dedup_id))
        .collect())
}

/// What a replay would do (its dry run).
#[derive(Debug)]
pub struct ReplayPlan {
    /// The messages it would replay.
    pub matching: Vec<PeekedMessage>,
    /// The parks it would lift (their head is among `matching`).
    pub heads: Vec<ParkedRepo>,
    /// Messages too old to replay without `force` (see [`too_old`]).
    pub stale: Vec<TooOld>,
}

/// The dry run of a replay of `sel`.
pub async fn plan_replay(backend: &Backend, sel: &Selection) -> anyhow::Result<ReplayPlan> {
    let matching = matching(backend.dlq.as_ref(), sel).await?;
    let stale = too_old(&backend.settings, &matching);
    let heads = heads_among(backend.store.as_ref(), &matching).await?;
    Ok(ReplayPlan {
        matching,
        heads,
        stale,
    })
}

/// What a replay or purge did.
#[derive(Debug, Default)]
pub struct Done {
    /// Messages replayed or purged.
    pub moved: u64,
    /// Parks lifted.
    pub lifted: Vec<ParkedRepo>,
    /// Matching messages still in the DLQ (behind others of their group, or in flight).
    pub left: usize,
}

/// Lifts the parks of `plan` (before the copies are sent: a worker must not park them again)
/// and replays what `sel` matches to the queue, keeping each group's order; `progress` gets
/// the count of each step.
pub async fn replay(
    backend: &Backend,
    sel: &Selection,
    plan: &ReplayPlan,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<Done> {
    for p in &plan.heads {
        backend.store.unpark_repo(&p.repo).await?;
    }
    let moved = transfer(
        backend.dlq.as_ref(),
        Some(backend.queue.as_ref()),
        sel,
        progress,
    )
    .await?;
    Ok(Done {
        moved,
        lifted: plan.heads.clone(),
        left: matching(backend.dlq.as_ref(), sel).await?.len(),
    })
}

/// Deletes what `sel` matches (the whole DLQ at once when it selects everything), then lifts
/// the parks whose head was among them.
pub async fn purge(
    backend: &Backend,
    sel: &Selection,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<Done> {
    let matched = matching(backend.dlq.as_ref(), sel).await?;
    let moved = if sel.is_everything() {
        backend.dlq.purge().await?
    } else {
        transfer(backend.dlq.as_ref(), None, sel, progress).await?
    };
    let heads = heads_among(backend.store.as_ref(), &matched).await?;
    for p in &heads {
        backend.store.unpark_repo(&p.repo).await?;
    }
    Ok(Done {
        moved,
        lifted: heads,
        left: matching(backend.dlq.as_ref(), sel).await?.len(),
    })
}

/// Moves (to `target`) or deletes (no target) every message `sel` matches, keeping the order
/// of each group; returns how many.
async fn transfer(
    dlq: &dyn Queue,
    target: Option<&dyn Queue>,
    sel: &Selection,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<u64> {
    let mut held: Vec<String> = Vec::new();
    let mut moved = 0u64;
    let result = async {
        loop {
            let batch = dlq.receive(MAX_BATCH, HOLD, Duration::ZERO).await?;
            if batch.is_empty() {
                break;
            }
            let (take, keep): (Vec<ReceivedMessage>, Vec<ReceivedMessage>) = batch
                .into_iter()
                .partition(|m| sel.matches(&m.group_id, &m.body, &m.dedup_id));
            held.extend(keep.into_iter().map(|m| m.receipt));
            if take.is_empty() {
                continue;
            }
            if let Some(target) = target {
                let out: Vec<OutgoingMessage> = take.iter().map(replay_message).collect();
                target.send_batch(&out).await?;
            }
            let receipts: Vec<String> = take.iter().map(|m| m.receipt.clone()).collect();
            dlq.delete_batch(&receipts).await?;
            moved += take.len() as u64;
            progress(take.len() as u64);
        }
        anyhow::Ok(())
    }
    .await;
    for receipt in held {
        if let Err(e) = dlq.change_visibility(&receipt, Duration::ZERO).await {
            tracing::warn!(error = %e, "held message not released; it reappears after the hold");
        }
    }
    result.map(|()| moved)
}

/// The replayed copy: same group and body, a fresh dedup id (the original's is still inside
/// the queue's dedup window or would be dropped), the delivery id unchanged in the body so
/// the worker's idempotency still applies.
fn replay_message(m: &ReceivedMessage) -> OutgoingMessage {
    let mut out = OutgoingMessage::new(
        m.group_id.clone(),
        replay_dedup_id(&m.dedup_id),
        m.body.clone(),
    );
    out.attributes
        .insert("replay_of".into(), m.message_id.clone());
    if let Some(reason) = m.attributes.get("reason") {
        out.attributes
            .insert("previous_reason".into(), reason.clone());
    }
    out
}

/// A dead letter whose delivery record may expire before a replay of it is processed.
#[derive(Debug)]
pub struct TooOld {
    pub message_id: String,
    pub delivery: String,
    pub age_days: f64,
}

/// The messages of `matching` received so long ago that their delivery record (kept for
/// `CODERIPPLE_DEDUP_TTL_SECS`) could expire while a replay waits on the queue: a replay of
/// those could apply twice what was applied before. Refused unless `--force`.
pub fn too_old(settings: &Settings, matching: &[PeekedMessage]) -> Vec<TooOld> {
    let now = chrono::Utc::now();
    let limit = settings.dedup_ttl.saturating_sub(settings.queue_retention);
    matching
        .iter()
        .filter_map(|m| {
            let env = Envelope::from_json(&m.body).ok()?;
            let age = (now - env.received_at).to_std().ok()?;
            (age > limit).then(|| TooOld {
                message_id: m.message_id.clone(),
                delivery: env.delivery,
                age_days: age.as_secs_f64() / 86_400.0,
            })
        })
        .collect()
}

/// The parks whose head is among `messages` (the messages being replayed or purged).
pub async fn heads_among(
    store: &dyn Store,
    messages: &[PeekedMessage],
) -> anyhow::Result<Vec<ParkedRepo>> {
    let parks = store.parked_repos().await?;
    Ok(parks
        .into_iter()
        .filter(|p| {
            messages.iter().any(|m| {
                (m.group_id == p.repo || m.group_id == message_group_id(&p.repo))
                    && delivery_of(&m.body, &m.dedup_id) == p.head
            })
        })
        .collect())
}
