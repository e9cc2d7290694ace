//! One change set (a coalesced run of one repository's events): idempotency records, the
//! orchestrator's plan, the agents, repo state by compare-and-set, the docs write, and the
//! processing summary. Order of effects: write-once docs (history moved out of state), state,
//! the other docs, then "completed"; a crash between any two is repaired by the redelivery,
//! because agents skip what state already holds and docs are rendered from state.

use coderipple_core::envelope::Envelope;
use coderipple_core::store::BeginOutcome;
use serde_json::{Value, json};

use crate::agents::ChangeSet;
use crate::{WorkerContext, WorkerError};

/// Processes `envelopes` (one repository, queue order) as one change set.
/// On error every lease taken here is given back; the caller decides retry or DLQ.
#[tracing::instrument(skip_all, fields(repo = %repo, delivery = %delivery_ids(envelopes)))]
pub async fn process_change_set(
    ctx: &WorkerContext,
    repo: &str,
    envelopes: &[Envelope],
    lease: std::time::Duration,
) -> Result<Value, WorkerError> {
    let ttl = ctx.settings.dedup_ttl;
    // Two copies of one delivery in a unit (a double replay) are the same work; taking the
    // second's lease would collide with the first's.
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<&Envelope> = envelopes
        .iter()
        .filter(|env| seen.insert(env.delivery.as_str()))
        .collect();
    let ids: Vec<String> = unique.iter().map(|e| e.delivery.clone()).collect();
    let outcomes = ctx
        .store
        .begin_processing_many(&ids, repo, lease, ttl)
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
        release(ctx, &fresh).await;
        return Err(err);
    }
    if fresh.is_empty() {
        return Ok(json!({"skipped_completed": already_completed}));
    }
    match apply(ctx, repo, &fresh).await {
        Ok(mut summary) => {
            summary["skipped_completed"] = json!(already_completed);
            let ids: Vec<String> = fresh.iter().map(|e| e.delivery.clone()).collect();
            if let Err(e) = ctx.store.complete_processing(&ids, &summary).await {
                // Applied but not recorded: the retry finds the work in state and skips it.
                release(ctx, &fresh).await;
                return Err(e.into());
            }
            tracing::info!(applied = ids.len(), "change set applied");
            Ok(summary)
        }
        Err(e) => {
            release(ctx, &fresh).await;
            Err(e)
        }
    }
}

async fn apply(ctx: &WorkerContext, repo: &str, fresh: &[Envelope]) -> Result<Value, WorkerError> {
    let change = ChangeSet {
        repo: repo.to_owned(),
        events: fresh.to_vec(),
    };
    let pack = &ctx.agents.pack;
    let mut plan = ctx.agents.orchestrator.plan(&change, pack)?;
    let content = match &ctx.content {
        Some(c) if !plan.runs.is_empty() => {
            let stats = crate::content::enrich(&*c.source, &c.cache, pack, repo, &mut plan).await?;
            json!({"analysed": stats.analysed, "cached": stats.cached, "missing": stats.missing})
        }
        _ => Value::Null,
    };
    let current = ctx.store.repo_state(repo).await?;
    let first = current.is_none();
    let (version, mut state) = match current {
        Some(s) => (Some(s.version), s.state),
        None => (None, json!({})),
    };
    let slots = state
        .as_object_mut()
        .ok_or_else(|| WorkerError::invalid(format!("state of {repo} is not an object")))?;
    let applied = ctx.agents.apply(&plan, slots)?;
    // Docs are rendered from state alone, so only agents whose state changed need it; a
    // redelivery (something already applied) re-renders every agent planned, in case the
    // first attempt stored state and died before its docs were written. A repository's
    // first change renders every agent, so each doc exists from the start.
    let mut files = ctx.agents.render(repo, slots, |agent| {
        first || applied.changed(agent) || (applied.redelivered() && plan.runs_agent(agent))
    })?;
    let write_once = applied.write_once;
    if !plan.runs.is_empty() {
        // Write-once files first: the new state no longer holds what they hold. If the
        // state write then loses, the retry computes the very same files again.
        if !write_once.is_empty() {
            ctx.sink.write(repo, &write_once).await?;
        }
        ctx.store.put_repo_state(repo, version, &state).await?;
        ctx.sink.write(repo, &files).await?;
        files.extend(write_once);
    }
    let runs: Vec<Value> = plan
        .runs
        .iter()
        .zip(&applied.runs)
        .map(|(planned, (agent, done, again))| {
            json!({"agent": agent, "reason": planned.reason, "applied": done, "already_applied": again})
        })
        .collect();
    let findings: Vec<String> = applied
        .findings
        .iter()
        .take(20)
        .map(|f| f.what.describe())
        .collect();
    Ok(json!({
        "repo": repo,
        "coalesced": fresh.len(),
        "commits": plan.commits().count(),
        "classification": plan.classification(),
        "agents": runs,
        "findings": findings,
        "notes": plan.notes,
        "content": content,
        "pack": pack.version(),
        "docs": files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
        "applied_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }))
}

fn delivery_ids(envelopes: &[Envelope]) -> String {
    envelopes
        .iter()
        .map(|e| e.delivery.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

async fn release(ctx: &WorkerContext, taken: &[Envelope]) {
    for env in taken {
        if let Err(e) = ctx.store.release_processing(&env.delivery).await {
            tracing::warn!(delivery = %env.delivery, error = %e, "lease not released; it will expire");
        }
    }
}
