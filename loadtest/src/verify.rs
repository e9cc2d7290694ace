//! After the send phase: wait until every acknowledged delivery reached its end (applied or
//! dead-lettered), then check the outcome against what was sent.
//!
//! - each acknowledged push's commits are in the repository's applied history exactly once
//!   (as `coderipple status --json --repo` publishes it: [`AppliedReader`]), and its record
//!   is `completed`; each repository's commits were applied in history order (the pushes'
//!   `before` → `after` chain, which `--out-of-order` sends shuffled);
//! - every copy of a redelivered push was answered as a duplicate;
//! - the DLQ holds exactly this run's poison events, each with a reason;
//! - refused requests (oversize, bad signature) left no record;
//! - end-to-end latency (acknowledged → applied) per event.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use coderipple_core::queue::Queue;
use coderipple_core::store::{DeliveryRecord, DeliveryStatus, Store};
use futures::StreamExt;
use serde::Serialize;

use crate::applied::AppliedReader;
use crate::runner::{SendPhase, Sent};
use crate::traffic::{Kind, Request};

/// A count, with the first few examples (delivery ids or repositories).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Finding {
    /// How many.
    pub count: usize,
    /// The first 20.
    pub examples: Vec<String>,
}

impl Finding {
    fn add(&mut self, what: impl Into<String>) {
        self.count += 1;
        if self.examples.len() < 20 {
            self.examples.push(what.into());
        }
    }
}

/// The verification's result.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verification {
    /// Every acknowledged delivery reached its end before the drain timeout.
    pub drained: bool,
    /// From the last answer to the end of the drain.
    pub drain_ms: f64,
    /// Deliveries ingest acknowledged (queued, or duplicate after a lost answer).
    pub acknowledged: usize,
    /// Pushes applied exactly once, in order.
    pub verified: usize,
    /// Acknowledged pushes whose commits are missing: lost.
    pub lost: Finding,
    /// Pushes whose commits appear more than once.
    pub applied_twice: Finding,
    /// Repositories whose commits were applied out of history order.
    pub order_violations: Finding,
    /// Acknowledged deliveries whose record is not `completed`/`failed` as expected.
    pub not_completed: Finding,
    /// Requests never acknowledged after every re-send.
    pub never_acknowledged: Finding,
    /// Copies of redelivered pushes sent.
    pub redeliveries: usize,
    /// Of those, answered as duplicates.
    pub duplicates_answered: usize,
    /// Copies answered otherwise.
    pub redeliveries_not_duplicate: Finding,
    /// Poison events acknowledged.
    pub poison_expected: usize,
    /// This run's messages found in the DLQ.
    pub dlq_found: usize,
    /// Poison events not in the DLQ.
    pub dlq_missing: Finding,
    /// Other messages of this run in the DLQ.
    pub dlq_unexpected: Finding,
    /// DLQ messages of this run without a reason.
    pub dlq_without_reason: Finding,
    /// Oversize and badly signed requests refused with the right status and no record.
    pub refused_as_expected: usize,
    /// Refusals with the wrong status, or that left a record.
    pub refused_wrongly: Finding,
    /// Octokit samples queued and completed.
    pub samples_completed: usize,
    /// End-to-end latency per applied event: (answered after ms, e2e µs).
    #[serde(skip)]
    pub e2e: Vec<(f64, u64)>,
}

impl Verification {
    /// Whether the outcome is right: everything acknowledged, nothing lost, nothing twice,
    /// order kept, the DLQ exactly the poison, every refusal right.
    pub fn passed(&self, max_lost: usize) -> bool {
        self.drained
            && self.lost.count <= max_lost
            && self.applied_twice.count == 0
            && self.order_violations.count == 0
            && self.not_completed.count == 0
            && self.never_acknowledged.count == 0
            && self.redeliveries_not_duplicate.count == 0
            && self.dlq_missing.count == 0
            && self.dlq_unexpected.count == 0
            && self.dlq_without_reason.count == 0
            && self.refused_wrongly.count == 0
    }
}

/// What the verification reads.
#[derive(Debug, Clone)]
pub struct Backends {
    /// Delivery records and repo state.
    pub store: Arc<dyn Store>,
    /// The dead-letter queue.
    pub dlq: Arc<dyn Queue>,
    /// Each repository's applied commits.
    pub applied: AppliedReader,
}

fn must_reach_end(traffic: &[Request], s: &Sent) -> bool {
    s.acknowledged()
        && matches!(
            traffic[s.index].kind,
            Kind::Normal | Kind::Poison | Kind::Sample
        )
}

/// Waits until every acknowledged delivery is completed or failed (or `timeout` passes),
/// reporting progress through `on_progress(done, total)`.
pub async fn drain(
    backends: &Backends,
    traffic: &[Request],
    phase: &SendPhase,
    timeout: Duration,
    on_progress: impl Fn(u64, u64),
) -> (bool, Duration, HashMap<String, DeliveryRecord>) {
    let start = Instant::now();
    let mut pending: Vec<String> = phase
        .sent
        .iter()
        .filter(|s| must_reach_end(traffic, s))
        .map(|s| s.delivery.clone())
        .collect();
    let total = pending.len() as u64;
    let mut records = HashMap::new();
    loop {
        let looked: Vec<(String, Option<DeliveryRecord>)> =
            futures::stream::iter(pending.drain(..))
                .map(|id| {
                    let store = backends.store.clone();
                    async move {
                        let record = store.delivery(&id).await.ok().flatten();
                        (id, record)
                    }
                })
                .buffer_unordered(16)
                .collect()
                .await;
        for (id, record) in looked {
            match record {
                Some(r)
                    if matches!(r.status, DeliveryStatus::Completed | DeliveryStatus::Failed) =>
                {
                    records.insert(id, r);
                }
                _ => pending.push(id),
            }
        }
        on_progress(total - pending.len() as u64, total);
        if pending.is_empty() {
            return (true, start.elapsed(), records);
        }
        if start.elapsed() > timeout {
            return (false, start.elapsed(), records);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks the outcome (after [`drain`] and the late redeliveries).
pub async fn verify(
    backends: &Backends,
    traffic: &[Request],
    phase: &SendPhase,
    records: &HashMap<String, DeliveryRecord>,
    run_prefix: &str,
) -> anyhow::Result<Verification> {
    let mut v = Verification::default();
    let mut lanes: BTreeMap<&str, Vec<&Sent>> = BTreeMap::new();
    for s in &phase.sent {
        let request = &traffic[s.index];
        let ended = records.get(&s.delivery);
        if s.acknowledged() {
            v.acknowledged += 1;
        }
        match request.kind {
            Kind::Normal | Kind::Poison | Kind::Sample if !s.acknowledged() => {
                let ok_sample = request.kind == Kind::Sample && (200..300).contains(&s.status);
                if !ok_sample {
                    v.never_acknowledged
                        .add(format!("{} ({} {})", s.delivery, s.status, s.what));
                }
            }
            Kind::Normal => {
                lanes.entry(request.repo.as_str()).or_default().push(s);
                if ended.map(|r| r.status) != Some(DeliveryStatus::Completed) {
                    v.not_completed.add(&s.delivery);
                }
            }
            Kind::Poison => {
                v.poison_expected += 1;
                if ended.map(|r| r.status) != Some(DeliveryStatus::Failed) {
                    v.not_completed
                        .add(format!("{} (poison, not failed)", s.delivery));
                }
            }
            Kind::Sample => match ended.map(|r| r.status) {
                Some(DeliveryStatus::Completed) => v.samples_completed += 1,
                _ => v
                    .not_completed
                    .add(format!("{} (sample {})", s.delivery, request.event)),
            },
            Kind::Oversize | Kind::BadSignature => {
                // An oversize body may also be cut off mid-upload (no answer): ingest
                // refused it from its Content-Length before reading it.
                let refused = match request.kind {
                    Kind::Oversize => s.status == 413 || s.status == 0,
                    _ => s.status == 401,
                };
                let stored = backends.store.delivery(&s.delivery).await?.is_some();
                if refused && !stored {
                    v.refused_as_expected += 1;
                } else {
                    v.refused_wrongly
                        .add(format!("{} ({}, stored: {stored})", s.delivery, s.status));
                }
            }
        }
        if request.redeliveries > 0 && s.acknowledged() {
            for copy in s.copies.iter().chain(&s.late) {
                v.redeliveries += 1;
                if copy.status == 200 && copy.what == "duplicate" {
                    v.duplicates_answered += 1;
                } else {
                    v.redeliveries_not_duplicate
                        .add(format!("{} ({} {})", s.delivery, copy.status, copy.what));
                }
            }
        }
        if let Some(r) = ended.filter(|r| r.status == DeliveryStatus::Completed) {
            let e2e_ms = (r.updated_at_ms - s.answered_at_ms).max(0) as u64;
            v.e2e.push((s.answered_after_ms, e2e_ms * 1000));
        }
    }
    let repos: Vec<&str> = lanes.keys().copied().collect();
    let applied = backends.applied.read(&repos).await?;
    for (repo, sent) in lanes {
        let commits = applied.get(repo).map(Vec::as_slice).unwrap_or_default();
        check_repo(traffic, repo, commits, &sent, &mut v);
    }
    check_dlq(backends, traffic, phase, run_prefix, &mut v).await?;
    Ok(v)
}

fn check_repo(
    traffic: &[Request],
    repo: &str,
    applied: &[String],
    sent: &[&Sent],
    v: &mut Verification,
) {
    let mut times: HashMap<&str, usize> = HashMap::new();
    for c in applied {
        *times.entry(c.as_str()).or_default() += 1;
    }
    let mut expected_order = Vec::new();
    // History order, not send order (they differ with --out-of-order).
    let mut sent: Vec<&Sent> = sent.to_vec();
    sent.sort_by_key(|s| traffic[s.index].history);
    for s in sent {
        let commits = &traffic[s.index].commits;
        let counts: Vec<usize> = commits
            .iter()
            .map(|c| times.get(c.as_str()).copied().unwrap_or(0))
            .collect();
        if counts.contains(&0) {
            v.lost.add(&s.delivery);
        } else if counts.iter().any(|&n| n > 1) {
            v.applied_twice.add(&s.delivery);
        } else {
            v.verified += 1;
        }
        expected_order.extend(
            commits
                .iter()
                .filter(|c| times.contains_key(c.as_str()))
                .map(String::as_str),
        );
    }
    let ours: HashSet<&str> = expected_order.iter().copied().collect();
    let mut seen = HashSet::new();
    let applied_order: Vec<&str> = applied
        .iter()
        .map(String::as_str)
        .filter(|c| ours.contains(c) && seen.insert(*c))
        .collect();
    if applied_order != expected_order {
        v.order_violations.add(repo);
    }
}

async fn check_dlq(
    backends: &Backends,
    traffic: &[Request],
    phase: &SendPhase,
    run_prefix: &str,
    v: &mut Verification,
) -> anyhow::Result<()> {
    let dead = backends.dlq.peek(100_000).await?;
    let poison: HashSet<&str> = phase
        .sent
        .iter()
        .filter(|s| traffic[s.index].kind == Kind::Poison && s.acknowledged())
        .map(|s| s.delivery.as_str())
        .collect();
    let mut found = HashSet::new();
    for m in dead.iter().filter(|m| m.dedup_id.starts_with(run_prefix)) {
        v.dlq_found += 1;
        let delivery = coderipple_core::queue::delivery_of(&m.body, &m.dedup_id);
        let delivery = delivery.as_str();
        if !poison.contains(delivery) {
            v.dlq_unexpected.add(delivery);
        }
        if m.attributes
            .get("reason")
            .is_none_or(|r| r.trim().is_empty())
        {
            v.dlq_without_reason.add(delivery);
        }
        found.insert(delivery.to_owned());
    }
    for p in poison {
        if !found.contains(p) {
            v.dlq_missing.add(p);
        }
    }
    Ok(())
}
