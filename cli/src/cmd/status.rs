//! `coderipple status`: queue and DLQ depth, deliveries by status, or one delivery.

use std::path::Path;
use std::process::ExitCode;

use coderipple_core::queue::Queue;
use coderipple_core::store::Store;
use serde_json::json;

use crate::local::Local;

pub async fn run(
    data_dir: &Path,
    as_json: bool,
    delivery: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let local = Local::open(data_dir, false)?;
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
                println!("detail:   {}", serde_json::to_string_pretty(detail)?);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (queue, dlq, counts) = tokio::try_join!(
        local.queue.stats(),
        local.dlq.stats(),
        local.store.delivery_counts()
    )?;
    let count = |k: &str| counts.get(k).copied().unwrap_or(0);
    if as_json {
        let report = json!({
            "queue": {"name": local.queue.name(), "visible": queue.visible, "in_flight": queue.in_flight},
            "dlq": {"name": local.dlq.name(), "depth": dlq.visible + dlq.in_flight},
            "deliveries": counts,
        });
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
    }
    Ok(ExitCode::SUCCESS)
}
