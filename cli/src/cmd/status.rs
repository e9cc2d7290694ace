//! `coderipple status`: queue and DLQ depth, deliveries by status, one delivery, or
//! repositories (`--repo`: state version, park, the commits applied, in order).

use std::path::Path;
use std::process::ExitCode;

use coderipple_core::store::{DeliveryQuery, DeliveryStatus, ProcessingSummary, WriterStats};
use serde_json::json;

use crate::args::BackendKind;
use crate::backend::Backend;

pub async fn run(
    kind: BackendKind,
    data_dir: &Path,
    as_json: bool,
    delivery: Option<&str>,
    repos: &[String],
) -> anyhow::Result<ExitCode> {
    for repo in repos {
        coderipple_core::webhook::validate_repo(repo)
            .map_err(|e| anyhow::anyhow!("--repo {repo:?}: {e}"))?;
    }
    let local = Backend::open(kind, data_dir, false).await?;
    if !repos.is_empty() {
        return print_repos(&local, repos, as_json).await;
    }
    if let Some(id) = delivery {
        let Some(record) = local.store.delivery(id).await? else {
            eprintln!("no record of delivery {id}");
            return Ok(ExitCode::FAILURE);
        };
        if as_json {
            println!("{}", serde_json::to_string_pretty(&record)?);
        } else {
            println!("delivery {}: {}", record.id, record.status.as_str());
            if let Some(repo) = &record.repo {
                println!("repo:     {repo}");
            }
            if let Some(detail) = &record.detail {
                print_decisions(detail);
                println!("detail:   {}", serde_json::to_string_pretty(detail)?);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (queue, dlq, counts, parks, unpublished) = tokio::try_join!(
        local.queue.stats(),
        local.dlq.stats(),
        local.store.delivery_counts(),
        local.store.parked_repos(),
        local.store.pending_publishes()
    )?;
    // The embedded backend's footprint (what the sweeper keeps in check).
    let data_bytes = matches!(local.kind, BackendKind::Sqlite).then(|| dir_size(data_dir));
    let count = |k: &str| counts.get(k).copied().unwrap_or(0);
    // The writer's line is a summary of summaries: without it, status still answers. Only on
    // the embedded backend: on DynamoDB the listing is a scan, and AWS has the writer's
    // metrics (below) instead.
    let writer = match &local.aws {
        Some(_) => None,
        None => writer_last_day(&local).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the writer's figures could not be read");
            None
        }),
    };
    let recent = match &local.aws {
        Some(aws) => Some(crate::cloudwatch::recent(&aws.clients).await),
        None => None,
    };
    if as_json {
        let mut report = json!({
            "backend": local.kind.name(),
            "queue": {"name": local.queue.name(), "visible": queue.visible, "in_flight": queue.in_flight},
            "dlq": {"name": local.dlq.name(), "depth": dlq.visible + dlq.in_flight},
            "deliveries": counts,
            "parked": parks,
            "pending_publishes": unpublished,
        });
        if let Some(bytes) = data_bytes {
            report["data_dir"] = json!({"path": data_dir.display().to_string(), "bytes": bytes});
        }
        if let Some(recent) = &recent {
            report["metrics_last_hour"] = recent.to_json();
        }
        if let Some((w, sets)) = &writer {
            report["writer_last_day"] = json!({
                "change_sets": sets, "model": w.model, "sections": w.sections,
                "cached": w.cached, "written": w.written, "deterministic": w.deterministic,
                "calls": w.calls, "hit_rate": w.hit_rate(),
                "tokens": w.input_tokens + w.output_tokens,
                "estimated_cost_usd": w.estimated_cost_usd,
            });
        }
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "queue {}: {} visible, {} in flight",
            local.queue.name(),
            queue.visible,
            queue.in_flight
        );
        println!(
            "dlq   {}: {} message(s)",
            local.dlq.name(),
            dlq.visible + dlq.in_flight
        );
        println!(
            "deliveries: {} completed, {} failed, {} ignored, {} queued, {} in progress",
            count("completed"),
            count("failed"),
            count("ignored"),
            count("queued") + count("received"),
            count("in_progress"),
        );
        if let Some(bytes) = data_bytes {
            println!(
                "data dir {}: {:.1} MiB",
                data_dir.display(),
                bytes as f64 / (1024.0 * 1024.0)
            );
        }
        if let Some((w, sets)) = &writer {
            print_writer(w, *sets);
        }
        crate::cmd::parked::print(&parks);
        for p in &unpublished {
            println!(
                "docs of {} not published ({} attempt(s)): {}; `coderipple publish {}` retries",
                p.repo, p.attempts, p.reason, p.repo
            );
        }
        if let Some(recent) = &recent {
            recent.print();
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Each repository's state version, park and applied commits (oldest first).
async fn print_repos(
    backend: &Backend,
    repos: &[String],
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let mut report = serde_json::Map::new();
    for repo in repos {
        let (state, parked, unpublished) = tokio::try_join!(
            backend.store.repo_state(repo),
            backend.store.parked_repo(repo),
            backend.store.publish_pending(repo)
        )?;
        let version = state.as_ref().map(|s| s.version);
        let applied = match &state {
            Some(s) => coderipple_engine::applied_commits(&s.state)?,
            None => Vec::new(),
        };
        if as_json {
            report.insert(
                repo.clone(),
                json!({"version": version, "parked": parked, "publish_pending": unpublished,
                       "applied_commits": applied}),
            );
            continue;
        }
        match version {
            None => println!("{repo}: no state yet"),
            Some(v) => println!(
                "{repo}: state version {v}, {} commit(s) applied{}",
                applied.len(),
                applied
                    .last()
                    .map(|c| format!(", the last {}", &c[..7.min(c.len())]))
                    .unwrap_or_default()
            ),
        }
        if let Some(p) = parked {
            println!("  parked behind {} ({})", p.head, p.reason);
        }
        if let Some(p) = unpublished {
            println!(
                "  docs not published ({} attempt(s)): {}",
                p.attempts, p.reason
            );
        }
    }
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"repos": report}))?
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Bytes of every file under `dir` (0 when unreadable).
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// The orchestrator's decisions of a processing summary, one line per agent (nothing for a
/// failure's detail, which is a reason, not a summary).
fn print_decisions(detail: &serde_json::Value) {
    let Ok(summary) = serde_json::from_value::<ProcessingSummary>(detail.clone()) else {
        return;
    };
    for run in &summary.agents {
        println!(
            "agent:    {} — {} (applied {}, already applied {})",
            run.agent, run.reason, run.applied, run.already_applied,
        );
    }
    for note in &summary.notes {
        println!("note:     {note}");
    }
    if let Some(w) = &summary.writer {
        println!(
            "writer:   {} — {} section(s): {} from the cache, {} written, {} deterministic; {} call(s), {} tokens{}",
            w.model,
            w.sections,
            w.cached,
            w.written,
            w.deterministic,
            w.calls,
            w.input_tokens + w.output_tokens,
            cost(w.estimated_cost_usd),
        );
        for note in &w.notes {
            println!("writer:   {note}");
        }
    }
}

fn cost(usd: Option<f64>) -> String {
    usd.map(|c| format!(", ~${c:.4}")).unwrap_or_default()
}

/// What the LLM writer did in the change sets completed over the last 24 hours (the newest
/// [`MAX_PAGE`](coderipple_core::store::MAX_PAGE) deliveries), and in how many change sets;
/// `None` when it did nothing.
async fn writer_last_day(backend: &Backend) -> anyhow::Result<Option<(WriterStats, usize)>> {
    let since = chrono::Utc::now().timestamp_millis() - 24 * 3600 * 1000;
    let records = backend
        .store
        .list_deliveries(&DeliveryQuery {
            status: Some(DeliveryStatus::Completed),
            since_ms: Some(since),
            limit: coderipple_core::store::MAX_PAGE,
            ..DeliveryQuery::default()
        })
        .await?;
    let mut total = WriterStats::default();
    let mut seen = std::collections::HashSet::new();
    for record in records {
        let Some(summary) = record
            .detail
            .and_then(|d| serde_json::from_value::<ProcessingSummary>(d).ok())
        else {
            continue;
        };
        // The deliveries of one change set share its summary: count it once.
        if let Some(w) = &summary.writer
            && seen.insert((summary.repo.clone(), summary.applied_at.clone()))
        {
            total.absorb(w);
        }
    }
    let sets = seen.len();
    Ok((sets > 0).then_some((total, sets)))
}

fn print_writer(w: &WriterStats, sets: usize) {
    let rate = w
        .hit_rate()
        .map(|r| format!("{:.0}% from the cache", r * 100.0))
        .unwrap_or_else(|| "none asked".into());
    println!(
        "writer {} (last 24 h, {sets} change set(s)): {} section(s), {rate}, {} written, {} left deterministic; {} tokens{}",
        w.model,
        w.sections,
        w.written,
        w.deterministic,
        w.input_tokens + w.output_tokens,
        cost(w.estimated_cost_usd),
    );
}
