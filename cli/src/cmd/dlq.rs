//! `coderipple dlq list|show|replay|purge`: printing and confirming around the operations in
//! [`crate::dlq_ops`], which the console shares.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use coderipple_core::queue::{Queue, delivery_of};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::args::{BackendKind, DlqAction, DlqFilter};
use crate::backend::Backend;
use crate::cmd::parked;
use crate::dlq_ops::{self, ALL, Done, Selection};

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
            let sel = selection(&filter);
            let plan = dlq_ops::plan_replay(&local, &sel).await?;
            if !plan.stale.is_empty() && !force {
                parked::refuse(&local.settings, &plan.stale);
                return Ok(ExitCode::FAILURE);
            }
            if dry_run {
                for p in &plan.heads {
                    println!(
                        "would lift the park of {} (head {}) after replaying every dead \
                         letter of it",
                        p.repo, p.head
                    );
                }
                for m in &plan.matching {
                    println!(
                        "would replay {} ({}, delivery {})",
                        m.message_id,
                        m.group_id,
                        delivery_of(&m.body, &m.dedup_id)
                    );
                }
                println!(
                    "dry run: {} message(s) would be replayed to {}",
                    plan.matching.len(),
                    local.queue.name()
                );
                return Ok(ExitCode::SUCCESS);
            }
            let bar = progress(plan.matching.len() as u64, "replaying");
            let done = dlq_ops::replay(&local, &plan, &|n| bar.inc(n)).await?;
            bar.finish_and_clear();
            parked::print_lifted(&done.lifted);
            parked::print_kept(&done.kept);
            println!(
                "replayed {} message(s) to {}",
                done.moved,
                local.queue.name()
            );
            Ok(report_left(&done))
        }
        DlqAction::Purge { filter, yes } => {
            let sel = selection(&filter);
            let total = dlq_ops::matching(local.dlq.as_ref(), &sel).await?.len();
            if total == 0 {
                println!("nothing to purge");
                return Ok(ExitCode::SUCCESS);
            }
            if !yes && !confirm(total)? {
                println!("purge cancelled");
                return Ok(ExitCode::FAILURE);
            }
            let bar = progress(total as u64, "purging");
            let done = dlq_ops::purge(&local, &sel, &|n| bar.inc(n)).await?;
            bar.finish_and_clear();
            println!("purged {} message(s) from {}", done.moved, local.dlq.name());
            parked::print_lifted(&done.lifted);
            Ok(report_left(&done))
        }
    }
}

fn selection(filter: &DlqFilter) -> Selection {
    Selection {
        repo: filter.repo.clone(),
        deliveries: filter.delivery.iter().cloned().collect(),
        whole_repos: Vec::new(),
    }
}

async fn list(
    dlq: &dyn Queue,
    filter: &DlqFilter,
    as_json: bool,
    limit: usize,
) -> anyhow::Result<ExitCode> {
    let mut msgs = dlq_ops::matching(dlq, &selection(filter)).await?;
    msgs.truncate(limit);
    let rows: Vec<dlq_ops::DlqRow> = msgs.iter().map(dlq_ops::row).collect();
    if as_json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
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
    for r in &rows {
        let reason: String = r.reason.chars().take(80).collect();
        println!(
            "{:<8} {:<28} {:<38} {:<13} {:<12} {:>3}  {reason}",
            r.message_id, r.repo, r.delivery, r.event, r.error_class, r.attempts
        );
    }
    Ok(ExitCode::SUCCESS)
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

fn report_left(done: &Done) -> ExitCode {
    if done.left == 0 {
        return if done.kept.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    eprintln!(
        "warning: {} matching message(s) are still in the DLQ (behind other messages of their group, or in flight); run again or widen the filter to the repo",
        done.left
    );
    ExitCode::FAILURE
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
