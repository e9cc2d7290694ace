//! The DLQ operations that `coderipple dlq` and the console share: which dead letters a
//! selection matches, and replay and purge of them through the [`Queue`] trait only
//! (receive → send → delete), so that they behave the same on every backend.
//!
//! Messages that do not match are held in flight for the pass and released at its end;
//! because a FIFO group with a held message yields nothing more, a delivery selection
//! reaches only messages within the first batch of their group. What matched and was not
//! reached is counted in `left`, never silently left.
//!
//! A replay that lifts a park (its selection names the parked repository, or its head)
//! replays every dead letter of that repository, however many: a FIFO peek shows only the
//! first batch of a group, so the history is taken from the DLQ itself, until none is left.
//! The park stands while the copies are sent (they carry its token and pass it; events that
//! arrive meanwhile are dead-lettered behind it and sent after the history) and is lifted only
//! once the last one was sent and the park is still the one the replay started from. A
//! replay cut short leaves the park.

use std::time::Duration;

use coderipple_core::config::Settings;
use coderipple_core::envelope::Envelope;
use coderipple_core::queue::{
    MAX_BATCH, OutgoingMessage, PeekedMessage, Queue, ReceivedMessage, delivery_of,
    message_group_id, replay_dedup_id,
};
use coderipple_core::store::{LIFTS_PARK_ATTR, ParkedRepo, Store};
use serde::Serialize;

use crate::backend::Backend;

/// How long messages stay held while a replay or purge pass runs.
const HOLD: Duration = Duration::from_secs(120);
/// Peek everything (the DLQ is for operators; it is not expected to be huge).
pub const ALL: usize = 1_000_000;
/// Passes over the DLQ a replay makes at most before it gives up lifting a park (each pass
/// goes on until the DLQ yields nothing more; another is needed only for messages that were
/// in flight elsewhere, or dead-lettered behind the park during the pass).
const PASSES: usize = 5;

/// Which dead letters an operation acts on: every set condition must hold; an empty
/// `deliveries` means any delivery.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only messages of this repository (`owner/name`).
    pub repo: Option<String>,
    /// Only these delivery ids.
    pub deliveries: Vec<String>,
    /// And every dead letter of these repositories (the parks a replay lifts), whatever
    /// the conditions above say.
    pub whole_repos: Vec<String>,
}

/// Whether `group` (as a queue stores it) is repository `repo`'s.
fn group_is(group: &str, repo: &str) -> bool {
    repo == group || message_group_id(repo) == group
}

impl Selection {
    /// Whether nothing narrows the selection (the whole DLQ).
    pub fn is_everything(&self) -> bool {
        self.repo.is_none() && self.deliveries.is_empty()
    }

    /// Whether every dead letter of `repo` is selected.
    pub fn covers_repo(&self, repo: &str) -> bool {
        self.whole_repos.iter().any(|r| r == repo)
            || (self.deliveries.is_empty() && self.repo.as_deref().is_none_or(|r| r == repo))
    }

    /// Whether the message of `group`, `body` and `dedup` id is selected.
    pub fn matches(&self, group: &str, body: &str, dedup: &str) -> bool {
        if self.whole_repos.iter().any(|r| group_is(group, r)) {
            return true;
        }
        // Groups of names too long for SQS are derived ids (`message_group_id`).
        self.repo.as_deref().is_none_or(|r| group_is(group, r))
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
    /// What it replays: the selection asked for, widened to every dead letter of each
    /// repository whose park it lifts.
    pub selection: Selection,
    /// The messages it would replay, as far as a peek shows them (on SQS, a FIFO group's
    /// first batch only; the replay itself takes every one from the DLQ).
    pub matching: Vec<PeekedMessage>,
    /// The parks it would lift: the repository, or the head, is selected.
    pub heads: Vec<ParkedRepo>,
    /// Messages too old to replay without `force` (see [`too_old`]).
    pub stale: Vec<TooOld>,
}

/// The dry run of a replay of `sel`.
pub async fn plan_replay(backend: &Backend, sel: &Selection) -> anyhow::Result<ReplayPlan> {
    let asked = matching(backend.dlq.as_ref(), sel).await?;
    let heads: Vec<ParkedRepo> = backend
        .store
        .parked_repos()
        .await?
        .into_iter()
        .filter(|p| sel.covers_repo(&p.repo) || heads_among_one(p, &asked))
        .collect();
    let mut selection = sel.clone();
    for p in &heads {
        if !selection.whole_repos.contains(&p.repo) {
            selection.whole_repos.push(p.repo.clone());
        }
    }
    let matching = matching(backend.dlq.as_ref(), &selection).await?;
    let stale = too_old(&backend.settings, &matching);
    Ok(ReplayPlan {
        selection,
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
    /// Parks a replay meant to lift and left, with why.
    pub kept: Vec<(ParkedRepo, String)>,
    /// Matching messages still in the DLQ (behind others of their group, or in flight).
    pub left: usize,
}

/// Replays what `plan` selects to the queue, keeping each group's order, and then lifts the
/// parks of `plan` whose repository has nothing left in the DLQ (see the module docs);
/// `progress` gets the count of each step.
pub async fn replay(
    backend: &Backend,
    plan: &ReplayPlan,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<Done> {
    let dlq = backend.dlq.as_ref();
    let sel = &plan.selection;
    let mut sent = std::collections::HashSet::new();
    let mut moved = 0;
    for _ in 0..PASSES {
        moved += transfer(
            dlq,
            Some((backend.queue.as_ref(), &plan.heads)),
            sel,
            &mut sent,
            progress,
        )
        .await?;
        if unsent(dlq, sel, &sent).await?.is_empty() {
            break;
        }
    }
    let mut lifted = Vec::new();
    let mut kept = Vec::new();
    for p in &plan.heads {
        match lift(backend.store.as_ref(), dlq, p, &sent).await? {
            None => lifted.push(p.clone()),
            Some(why) => kept.push((p.clone(), why)),
        }
    }
    Ok(Done {
        moved,
        lifted,
        kept,
        left: unsent(dlq, sel, &sent).await?.len(),
    })
}

/// The dead letters `sel` matches that this replay has not sent yet (a copy that comes back,
/// failing again, is not sent twice by one replay).
async fn unsent(
    dlq: &dyn Queue,
    sel: &Selection,
    sent: &std::collections::HashSet<String>,
) -> anyhow::Result<Vec<PeekedMessage>> {
    Ok(matching(dlq, sel)
        .await?
        .into_iter()
        .filter(|m| !sent.contains(&delivery_of(&m.body, &m.dedup_id)))
        .collect())
}

/// The DLQ's messages in flight, asked a few times a second apart while there are any (the
/// pass's own held messages were just released, and SQS counts are approximate).
async fn settled_in_flight(dlq: &dyn Queue) -> anyhow::Result<u64> {
    let mut n = dlq.stats().await?.in_flight;
    for _ in 0..3 {
        if n == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        n = dlq.stats().await?.in_flight;
    }
    Ok(n)
}

/// Lifts `park` if its whole history was sent and it is still the park the replay started
/// from; `Some(why)` when it stays. Messages dead-lettered behind it while it was being lifted
/// park the repository again behind the first of them.
async fn lift(
    store: &dyn Store,
    dlq: &dyn Queue,
    park: &ParkedRepo,
    sent: &std::collections::HashSet<String>,
) -> anyhow::Result<Option<String>> {
    let only = Selection {
        repo: Some(park.repo.clone()),
        ..Selection::default()
    };
    let left = unsent(dlq, &only, sent).await?.len();
    if left > 0 {
        return Ok(Some(format!(
            "{left} of its dead letter(s) are still in the DLQ (in flight, or behind \
             others of their group); run the replay again"
        )));
    }
    // On SQS a peek does not see messages someone else holds: any in flight may be this
    // repository's history.
    let in_flight = settled_in_flight(dlq).await?;
    if in_flight > 0 {
        return Ok(Some(format!(
            "{in_flight} dead letter(s) are in flight (received elsewhere) and may be its \
             history; run the replay again once they are back"
        )));
    }
    match store.parked_repo(&park.repo).await? {
        Some(now) if now == *park => {}
        Some(now) => {
            return Ok(Some(format!(
                "parked again behind {} while replaying: {}",
                now.head, now.reason
            )));
        }
        None => return Ok(None),
    }
    store.unpark_repo(&park.repo).await?;
    let behind = unsent(dlq, &only, sent).await?;
    let Some(first) = behind.first() else {
        return Ok(None);
    };
    let again = ParkedRepo {
        repo: park.repo.clone(),
        head: delivery_of(&first.body, &first.dedup_id),
        reason: format!(
            "dead-lettered behind the park of {} while it was lifted; replay the repository",
            park.head
        ),
        since_ms: coderipple_core::time::now_ms(),
    };
    store.park_repo(&again).await?;
    Ok(Some(format!(
        "{} message(s) were dead-lettered behind it as it was lifted: parked again behind {}",
        behind.len(),
        again.head
    )))
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
        let mut seen = std::collections::HashSet::new();
        transfer(backend.dlq.as_ref(), None, sel, &mut seen, progress).await?
    };
    let heads = heads_among(backend.store.as_ref(), &matched).await?;
    for p in &heads {
        backend.store.unpark_repo(&p.repo).await?;
    }
    Ok(Done {
        moved,
        lifted: heads,
        kept: Vec::new(),
        left: matching(backend.dlq.as_ref(), sel).await?.len(),
    })
}

/// Moves (to the queue of `target`) or deletes (no target) every message `sel` matches that
/// is not in `done` (the deliveries already moved, which it extends), keeping the order of
/// each group; returns how many. A copy of a repository whose park is among `target`'s
/// carries the park's token, which lets it through the park.
async fn transfer(
    dlq: &dyn Queue,
    target: Option<(&dyn Queue, &[ParkedRepo])>,
    sel: &Selection,
    done: &mut std::collections::HashSet<String>,
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
            let (take, keep): (Vec<ReceivedMessage>, Vec<ReceivedMessage>) =
                batch.into_iter().partition(|m| {
                    sel.matches(&m.group_id, &m.body, &m.dedup_id)
                        && !done.contains(&delivery_of(&m.body, &m.dedup_id))
                });
            held.extend(keep.into_iter().map(|m| m.receipt));
            if take.is_empty() {
                continue;
            }
            let receipts: Vec<String> = take.iter().map(|m| m.receipt.clone()).collect();
            if let Some((queue, parks)) = target {
                let out: Vec<OutgoingMessage> =
                    take.iter().map(|m| replay_message(m, parks)).collect();
                if let Err(e) = queue.send_batch(&out).await {
                    // Not moved: released with the rest, not left invisible for the hold.
                    held.extend(receipts);
                    return Err(e.into());
                }
            }
            dlq.delete_batch(&receipts).await?;
            done.extend(take.iter().map(|m| delivery_of(&m.body, &m.dedup_id)));
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
fn replay_message(m: &ReceivedMessage, lifting: &[ParkedRepo]) -> OutgoingMessage {
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
    if let Some(park) = lifting.iter().find(|p| group_is(&m.group_id, &p.repo)) {
        out.attributes
            .insert(LIFTS_PARK_ATTR.into(), park.lift_token());
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
        .filter(|p| heads_among_one(p, messages))
        .collect())
}

/// Whether the head of `park` is among `messages`.
fn heads_among_one(park: &ParkedRepo, messages: &[PeekedMessage]) -> bool {
    messages.iter().any(|m| {
        group_is(&m.group_id, &park.repo) && delivery_of(&m.body, &m.dedup_id) == park.head
    })
}
