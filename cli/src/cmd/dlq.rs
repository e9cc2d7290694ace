//! `coderipple dlq list|show|replay|purge`.
//!
//! Replay and filtered purge work through the [`Queue`] trait only (receive → send →
//! delete), so they behave the same on every backend. Messages that do not match the
//! filter are held in flight for the pass and released at its end; because a FIFO group
//! with a held message yields nothing more, a `--delivery` filter reaches only messages
//! within the first batch of their group; anything matching that was not reached is
//! reported, never silently left.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use coderipple_core::envelope::Envelope;
use coderipple_core::queue::{
    MAX_BATCH, OutgoingMessage, PeekedMessage, Queue, ReceivedMessage, delivery_of,
    message_group_id, replay_dedup_id,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::args::{BackendKind, DlqAction, DlqFilter};
use crate::backend::Backend;
use crate::cmd::parked;

/// How long messages stay held while a replay or purge pass runs.
const HOLD: Duration = Duration::from_secs(120);
const ALL: usize = 1_000_000;

pub async fn run(
    kind: BackendKind,
    data_dir: &Path,
    action: DlqAction,
) -> anyhow::Result<ExitCode> {
    let local = Backend::open(kind, data_dir, false).await?;
    match action {
        DlqAction::List {
            filter,
            json,
            limit,
        } => {
            let code = list(local.dlq.as_ref(), &filter, json, limit).await?;
            if !json {
                parked::print(&local.store.parked_repos().await?);
            }
            Ok(code)
        }
        DlqAction::Show { id } => show(local.dlq.as_ref(), &id).await,
        DlqAction::Replay {
            filter,
            dry_run,
            force,
        } => {
            let matching = matching_peeked(local.dlq.as_ref(), &filter).await?;
            let stale = parked::too_old(&local.settings, &matching);
            if !stale.is_empty() && !force {
                parked::refuse(&local.settings, &stale);
                return Ok(ExitCode::FAILURE);
            }
            let heads = parked::heads_among(local.store.as_ref(), &matching).await?;
            if dry_run {
                for p in &heads {
                    println!("would lift the park of {} (head {})", p.repo, p.head);
                }
                for m in &matching {
                    println!(
                        "would replay {} ({}, delivery {})",
                        m.message_id,
                        m.group_id,
                        delivery_of(&m.body, &m.dedup_id)
                    );
                }
                println!(
                    "dry run: {} message(s) would be replayed to {}",
                    matching.len(),
                    local.queue.name()
                );
                return Ok(ExitCode::SUCCESS);
            }
            // Before the copies are sent: a worker must not park them again.
            parked::lift(local.store.as_ref(), &heads).await?;
            let bar = progress(matching.len() as u64, "replaying");
            let replayed = transfer(
                local.dlq.as_ref(),
                Some(local.queue.as_ref()),
                &filter,
                &bar,
            )
            .await?;
            bar.finish_and_clear();
            println!("replayed {replayed} message(s) to {}", local.queue.name());
            report_unreached(local.dlq.as_ref(), &filter).await
        }
        DlqAction::Purge { filter, yes } => {
            let matching = matching_peeked(local.dlq.as_ref(), &filter).await?;
            let total = matching.len();
            if total == 0 {
                println!("nothing to purge");
                return Ok(ExitCode::SUCCESS);
            }
            if !yes && !confirm(total)? {
                println!("purge cancelled");
                return Ok(ExitCode::FAILURE);
            }
            let purged = if filter.repo.is_none() && filter.delivery.is_none() {
                local.dlq.purge().await?
            } else {
                let bar = progress(total as u64, "purging");
                let n = transfer(local.dlq.as_ref(), None, &filter, &bar).await?;
                bar.finish_and_clear();
                n
            };
            println!("purged {purged} message(s) from {}", local.dlq.name());
            let heads = parked::heads_among(local.store.as_ref(), &matching).await?;
            parked::lift(local.store.as_ref(), &heads).await?;
            report_unreached(local.dlq.as_ref(), &filter).await
        }
    }
}

fn matches(filter: &DlqFilter, group: &str, body: &str, dedup: &str) -> bool {
    // Groups of names too long for SQS are derived ids (`message_group_id`).
    filter
        .repo
        .as_deref()
        .is_none_or(|r| r == group || message_group_id(r) == group)
        && filter
            .delivery
            .as_deref()
            .is_none_or(|d| d == delivery_of(body, dedup))
}

async fn matching_peeked(
    dlq: &dyn Queue,
    filter: &DlqFilter,
) -> anyhow::Result<Vec<PeekedMessage>> {
    Ok(dlq
        .peek(ALL)
        .await?
        .into_iter()
        .filter(|m| matches(filter, &m.group_id, &m.body, &m.dedup_id))
        .collect())
}

async fn list(
    dlq: &dyn Queue,
    filter: &DlqFilter,
    as_json: bool,
    limit: usize,
) -> anyhow::Result<ExitCode> {
    let mut msgs = matching_peeked(dlq, filter).await?;
    msgs.truncate(limit);
    if as_json {
        let rows: Vec<_> = msgs.iter().map(row_json).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if msgs.is_empty() {
        println!(
            "the dead-letter queue {} is empty{}",
            dlq.name(),
            if filter.repo.is_some() || filter.delivery.is_some() {
                " for this filter"
            } else {
                ""
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<8} {:<28} {:<38} {:<13} {:<12} {:>3}  REASON",
        "ID", "REPO", "DELIVERY", "EVENT", "CLASS", "TRY"
    );
    for m in &msgs {
        let r = row_json(m);
        let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
        let reason: String = s("reason").chars().take(80).collect();
        println!(
            "{:<8} {:<28} {:<38} {:<13} {:<12} {:>3}  {reason}",
            s("message_id"),
            s("repo"),
            s("delivery"),
            s("event"),
            s("error_class"),
            s("attempts")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn row_json(m: &PeekedMessage) -> serde_json::Value {
    let env = Envelope::from_json(&m.body).ok();
    let attr = |k: &str| m.attributes.get(k).cloned().unwrap_or_default();
    json!({
        "message_id": m.message_id,
        "repo": m.group_id,
        "delivery": env.as_ref().map_or(m.dedup_id.clone(), |e| e.delivery.clone()),
        "event": env.as_ref().map_or("?".to_owned(), |e| e.event.clone()),
        "error_class": attr("error_class"),
        "reason": attr("reason"),
        "attempts": attr("attempts"),
        "dead_lettered_at": attr("dead_lettered_at"),
    })
}

async fn show(dlq: &dyn Queue, id: &str) -> anyhow::Result<ExitCode> {
    let found = dlq
        .peek(ALL)
        .await?
        .into_iter()
        .find(|m| m.message_id == id || delivery_of(&m.body, &m.dedup_id) == id);
    let Some(m) = found else {
        eprintln!("no dead-lettered message with delivery or message id {id}");
        return Ok(ExitCode::FAILURE);
    };
    let body: serde_json::Value =
        serde_json::from_str(&m.body).unwrap_or(serde_json::Value::String(m.body.clone()));
    let out = json!({
        "message_id": m.message_id, "group": m.group_id, "dedup_id": m.dedup_id,
        "attributes": m.attributes, "body": body,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

/// Moves (to `target`) or deletes (no target) every message matching `filter`, keeping the
/// order of each group; returns how many.
async fn transfer(
    dlq: &dyn Queue,
    target: Option<&dyn Queue>,
    filter: &DlqFilter,
    bar: &ProgressBar,
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
                .partition(|m| matches(filter, &m.group_id, &m.body, &m.dedup_id));
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
            bar.inc(take.len() as u64);
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

async fn report_unreached(dlq: &dyn Queue, filter: &DlqFilter) -> anyhow::Result<ExitCode> {
    let left = matching_peeked(dlq, filter).await?;
    if left.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "warning: {} matching message(s) are still in the DLQ (behind other messages of their group, or in flight); run again or widen the filter to the repo",
        left.len()
    );
    Ok(ExitCode::FAILURE)
}

fn progress(total: u64, what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what);
    bar
}

fn confirm(total: usize) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("refusing to purge {total} message(s) without --yes (no terminal to ask)");
    }
    print!("Delete {total} message(s) from the dead-letter queue? This cannot be undone. [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
