//! One change set (a coalesced run of one repository's events): idempotency records, the
//! orchestrator's plan, the agents, repo state by compare-and-set, the docs write, and the
//! processing summary. Order of effects: write-once docs (history moved out of state), state,
//! the other docs, then "completed"; a crash between any two is repaired by the redelivery,
//! because agents skip what state already holds and docs are rendered from state.
//!
//! Fencing: every attempt takes its leases under an owner token of its own and renews them
//! while it works (every half lease); completing and releasing are conditional on that token,
//! so a worker whose lease ran out can never complete or release another worker's attempt.
//! Docs are never replaced by older ones: after writing docs rendered from state version V,
//! the state's version is read again, and if a newer state was stored meanwhile (another
//! worker's change set), every agent's docs are rendered from that newest state and written
//! again, until the version read after a write is the one the docs were rendered from.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use coderipple_consumer::{ApplyChangeSet, DEADLINE_MARGIN};
use coderipple_core::envelope::Envelope;
use coderipple_core::store::{AgentDecision, BeginOutcome, ProcessingSummary, Store};
use serde_json::json;
use tokio_util::task::AbortOnDropHandle;

use coderipple_core::WorkerError;
use coderipple_engine::DocFile;
use coderipple_engine::agents::ChangeSet;
use coderipple_engine::chain::ChainState;
use coderipple_engine::doc_hashes::DocHashes;
use coderipple_engine::grounding::Inventory;

use crate::context::WorkerContext;

/// Times the docs are rendered again from a newer state before the attempt gives up (and is
/// retried): each round means another worker stored a newer state during the previous write.
const FENCE_ROUNDS: usize = 4;

/// Processes `envelopes` (one repository, queue order) as one change set.
/// On error every lease taken here is given back; the caller decides retry or DLQ.
/// Its docs are then published (see the pipeline's `publish_step`).
pub async fn apply_change_set(
    ctx: &WorkerContext,
    repo: &str,
    envelopes: &[Envelope],
    lease: std::time::Duration,
) -> Result<ProcessingSummary, WorkerError> {
    process(ctx, repo, envelopes, lease, true).await
}

/// [`apply_change_set`], publishing the docs only when `publish` (a bootstrap publishes
/// once, at the end).
#[tracing::instrument(skip_all, fields(repo = %repo, delivery = %delivery_ids(envelopes)))]
pub(crate) async fn process(
    ctx: &WorkerContext,
    repo: &str,
    envelopes: &[Envelope],
    lease: std::time::Duration,
    publish: bool,
) -> Result<ProcessingSummary, WorkerError> {
    let ttl = ctx.settings.dedup_ttl;
    // Two copies of one delivery in a unit (a double replay) are the same work; taking the
    // second's lease would collide with the first's.
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<&Envelope> = envelopes
        .iter()
        .filter(|env| seen.insert(env.delivery.as_str()))
        .collect();
    let ids: Vec<String> = unique.iter().map(|e| e.delivery.clone()).collect();
    let owner = uuid::Uuid::new_v4().simple().to_string();
    let outcomes = ctx
        .store
        .begin_processing_many(&ids, repo, &owner, lease, ttl)
        .await?;
    let mut fresh = Vec::with_capacity(unique.len());
    let mut already_completed = Vec::new();
    let mut leased: Option<WorkerError> = None;
    for (env, outcome) in unique.into_iter().zip(outcomes) {
        match outcome {
            BeginOutcome::Started => fresh.push(env.clone()),
            BeginOutcome::AlreadyCompleted => {
                tracing::info!(delivery = %env.delivery, "already completed; skipped");
                already_completed.push(env.delivery.clone());
            }
            BeginOutcome::LeasedElsewhere { until_ms } => {
                leased.get_or_insert(WorkerError::Leased {
                    delivery: env.delivery.clone(),
                    until_ms,
                });
            }
        }
    }
    if let Some(err) = leased {
        release(ctx, &fresh, &owner).await;
        return Err(err);
    }
    if fresh.is_empty() {
        return Ok(ProcessingSummary {
            repo: repo.to_owned(),
            skipped_completed: already_completed,
            ..ProcessingSummary::default()
        });
    }
    let ids: Vec<String> = fresh.iter().map(|e| e.delivery.clone()).collect();
    let keeper = keep_leases(ctx.store.clone(), ids.clone(), owner.clone(), lease);
    let mut applied = apply(ctx, repo, &fresh).await;
    if let Ok(summary) = &mut applied
        && publish
    {
        // After state and the store's docs, before "completed" (and still under the leases):
        // a crash in between publishes again on the redelivery, which finds the same tree.
        summary.publish =
            super::publish_step::after_change_set(ctx, repo, &fresh, &summary.agents).await;
    }
    drop(keeper);
    match applied {
        Ok(mut summary) => {
            summary.skipped_completed = already_completed;
            let record = serde_json::to_value(&summary)
                .map_err(|e| WorkerError::invalid(format!("processing summary: {e}")))?;
            if let Err(e) = ctx.store.complete_processing(&ids, &owner, &record).await {
                // Applied but not recorded: the retry finds the work in state and skips it.
                release(ctx, &fresh, &owner).await;
                return Err(e.into());
            }
            tracing::info!(applied = ids.len(), "change set applied");
            Ok(summary)
        }
        Err(e) => {
            release(ctx, &fresh, &owner).await;
            Err(e)
        }
    }
}

/// Renews an attempt's leases every half lease while it works; stops when dropped.
fn keep_leases(
    store: Arc<dyn Store>,
    ids: Vec<String>,
    owner: String,
    lease: Duration,
) -> AbortOnDropHandle<()> {
    AbortOnDropHandle::new(tokio::spawn(async move {
        let every = (lease / 2).max(Duration::from_millis(50));
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = store.renew_processing(&ids, &owner, lease).await {
                tracing::warn!(error = %e, "processing lease not renewed; another worker may take it over");
            }
        }
    }))
}

async fn apply(
    ctx: &WorkerContext,
    repo: &str,
    fresh: &[Envelope],
) -> Result<ProcessingSummary, WorkerError> {
    let current = ctx.store.repo_state(repo).await?;
    let (version, mut state) = match current {
        Some(s) => (Some(s.version), s.state),
        None => (None, json!({})),
    };
    let slots = state
        .as_object_mut()
        .ok_or_else(|| WorkerError::invalid(format!("state of {repo} is not an object")))?;
    // History order first: what applies now, in the branch's order; the rest waits.
    let mut chain = ChainState::take(slots)?;
    let mut hashes = DocHashes::take(slots)?;
    // No agent has a part yet (the state may hold only waiting pushes).
    let first = slots.is_empty();
    let chain_before = chain.clone();
    let remembered: HashSet<String> = coderipple_engine::applied_in(slots)?.into_iter().collect();
    let resolved = super::gap::resolve(ctx, repo, &mut chain, fresh.to_vec(), &remembered).await?;
    let change = ChangeSet {
        repo: repo.to_owned(),
        events: resolved.ordered.apply,
    };
    let pack = &ctx.agents.pack;
    let mut plan = ctx.agents.plan(&change)?;
    plan.notes.extend(resolved.notes);
    let content = match &ctx.content {
        Some(c) if !plan.runs.is_empty() => {
            if let Some(id) = fresh.iter().rev().find_map(|e| e.installation) {
                c.source.note_installation(repo, id);
            }
            Some(crate::content::enrich(&*c.source, &c.cache, pack, repo, &mut plan).await?)
        }
        _ => None,
    };
    let mut applied = ctx.agents.apply(&plan, slots)?;
    let chain_changed = chain != chain_before;
    let due = chain.due_ms(ctx.settings.gap_wait);
    // Cleared when the last waiting event went, or when a wake finds nothing waiting (a
    // marker left by a change set whose state write lost: it would wake the repository for
    // ever).
    let woken = fresh
        .iter()
        .any(|e| matches!(e.change, Some(coderipple_core::envelope::Change::Wake)));
    let gap_closed = due.is_none() && (woken || !chain_before.waiting.is_empty());
    if let Some(due) = due
        && chain_before.due_ms(ctx.settings.gap_wait) != Some(due)
    {
        // Before the state: a crash in between only makes an extra wake.
        ctx.store.mark_history_gap(repo, due).await?;
    }
    chain.put(slots)?;
    let mut files = Vec::new();
    let mut write_once = std::mem::take(&mut applied.write_once);
    let mut writer = None;
    if !plan.runs.is_empty() {
        // Docs are rendered from state alone, so only agents whose state changed need it; a
        // redelivery (something already applied) re-renders every agent planned, in case the
        // first attempt stored state and died before its docs were written. A repository's
        // first change renders every agent, so each doc exists from the start.
        files = ctx.agents.render(repo, slots, |agent| {
            first || applied.changed(agent) || (applied.redelivered() && plan.runs_agent(agent))
        })?;
        // What the prose may name: the repository as the new state knows it.
        let inventory = ctx
            .writer
            .as_ref()
            .map(|_| Inventory::of_state(slots, pack));
        let inventory = inventory.as_ref();
        crate::llm::finish(
            ctx.writer.as_deref(),
            pack,
            repo,
            &mut files,
            &mut writer,
            inventory,
        )
        .await;
        // Hashes are true only if the change set that stored them finished (its docs were
        // written before its completion); otherwise every doc rendered is written.
        let trusted = !first && !applied.redelivered() && hashes_confirmed(ctx, &hashes).await?;
        let by = fresh.first().map_or("", |e| e.delivery.as_str());
        hashes.keep_changed(&mut files, !trusted, by);
        hashes.put(slots)?;
        // Write-once files first: the new state no longer holds what they hold. If the
        // state write then loses, the retry computes the very same files again.
        if !write_once.is_empty() {
            let w = ctx.writer.as_deref();
            crate::llm::finish(w, pack, repo, &mut write_once, &mut writer, inventory).await;
            ctx.sink.write(repo, &write_once).await?;
        }
        let stored = ctx.store.put_repo_state(repo, version, &state).await?;
        files = write_docs_fenced(ctx, repo, stored, files, &mut writer).await?;
        files.extend(write_once);
    } else if chain_changed {
        // Only waiting changed: stored with the state, acknowledged, nothing to render.
        hashes.put(slots)?;
        ctx.store.put_repo_state(repo, version, &state).await?;
    }
    if gap_closed {
        ctx.store.clear_history_gap(repo).await?;
    }
    let agents = plan
        .runs
        .iter()
        .zip(&applied.runs)
        .map(|(planned, run)| AgentDecision {
            agent: run.agent.to_owned(),
            reason: planned.reason.clone(),
            applied: run.applied,
            already_applied: run.already_applied,
        })
        .collect();
    Ok(ProcessingSummary {
        repo: repo.to_owned(),
        coalesced: fresh.len(),
        commits: plan.commits().count(),
        classification: plan.classification(),
        agents,
        findings: applied
            .findings
            .iter()
            .take(20)
            .map(|f| f.what.describe())
            .collect(),
        compacted: applied.compacted.iter().map(|a| (*a).to_owned()).collect(),
        notes: plan.notes.clone(),
        content,
        pack: pack.version().to_owned(),
        docs: files.iter().map(|f| f.path.clone()).collect(),
        applied_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        received_at: fresh
            .iter()
            .map(|e| e.received_at)
            .min()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        skipped_completed: Vec::new(),
        publish: None,
        waiting: resolved.ordered.waiting,
        released: resolved.ordered.released,
        writer,
    })
}

/// Whether the change set that stored `hashes` completed, so that its docs were written.
async fn hashes_confirmed(ctx: &WorkerContext, hashes: &DocHashes) -> Result<bool, WorkerError> {
    let Some(by) = hashes.stored_by() else {
        return Ok(false);
    };
    let record = ctx.store.delivery(by).await?;
    Ok(record.is_some_and(|r| r.status == coderipple_core::store::DeliveryStatus::Completed))
}

fn delivery_ids(envelopes: &[Envelope]) -> String {
    envelopes
        .iter()
        .map(|e| e.delivery.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Writes `files`, rendered from state `version`, and makes sure no newer docs were replaced
/// (see the module docs). Returns the files last written.
async fn write_docs_fenced(
    ctx: &WorkerContext,
    repo: &str,
    mut version: u64,
    mut files: Vec<DocFile>,
    writer: &mut Option<coderipple_core::store::WriterStats>,
) -> Result<Vec<DocFile>, WorkerError> {
    if files.is_empty() {
        // Nothing written: no older docs can replace newer ones.
        return Ok(files);
    }
    for _ in 0..FENCE_ROUNDS {
        ctx.sink.write(repo, &files).await?;
        match ctx.store.repo_version(repo).await? {
            Some(current) if current > version => {}
            _ => return Ok(files),
        }
        let Some(current) = ctx.store.repo_state(repo).await? else {
            return Ok(files);
        };
        tracing::info!(
            rendered = version,
            current = current.version,
            "a newer state was stored meanwhile; writing its docs"
        );
        let slots = current
            .state
            .as_object()
            .ok_or_else(|| WorkerError::invalid(format!("state of {repo} is not an object")))?;
        files = ctx.agents.render(repo, slots, |_| true)?;
        let (w, pack) = (ctx.writer.as_deref(), &ctx.agents.pack);
        let inventory = w.map(|_| Inventory::of_state(slots, pack));
        crate::llm::finish(w, pack, repo, &mut files, writer, inventory.as_ref()).await;
        version = current.version;
    }
    Err(WorkerError::transient(format!(
        "docs of {repo}: the state kept changing during {FENCE_ROUNDS} writes"
    )))
}

async fn release(ctx: &WorkerContext, taken: &[Envelope], owner: &str) {
    for env in taken {
        if let Err(e) = ctx.store.release_processing(&env.delivery, owner).await {
            tracing::warn!(delivery = %env.delivery, error = %e, "lease not released; it will expire");
        }
    }
}

/// The port the consumer calls. Inside Lambda (`deadline` set) the LLM writer may wait for
/// a model during the first half of the time left only, and GitHub calls stop twice
/// [`DEADLINE_MARGIN`] before the end, so what they cannot do is recorded, not cut off.
#[async_trait]
impl ApplyChangeSet for WorkerContext {
    async fn apply_change_set(
        &self,
        repo: &str,
        envelopes: &[Envelope],
        lease: Duration,
        deadline: Option<Instant>,
    ) -> Result<(), WorkerError> {
        let work = apply_change_set(self, repo, envelopes, lease);
        let Some(end) = deadline else {
            return work.await.map(drop);
        };
        let now = Instant::now();
        let left = end.saturating_duration_since(now);
        // Half of the time GitHub calls may take: the writer never outlasts publishing's turn.
        let writer_until = now + left.saturating_sub(DEADLINE_MARGIN * 2) / 2;
        let github_until = now + left.saturating_sub(DEADLINE_MARGIN * 2);
        let work = coderipple_github::deadline::within(github_until, work);
        crate::llm::with_deadline(writer_until, work)
            .await
            .map(drop)
    }
}
