//! `coderipple recover [--since 72h] [--dry-run] [--json] [--hook owner/repo:ID]`: webhook
//! deliveries GitHub failed to deliver and the store never accepted, redelivered through
//! GitHub's API (see `coderipple_github::recover`); those ingest refused (a `4xx`) are listed
//! as not redeliverable with their status, those asked for before as such. Exit 1 when a hook
//! could not be read or a redelivery was refused.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use coderipple_core::metrics::Metrics;
use coderipple_github::recover::{RecoveryReport, RepoHook, recover};

use crate::args::BackendKind;
use crate::backend::Backend;

pub async fn run(
    kind: BackendKind,
    data_dir: &Path,
    since: Duration,
    dry_run: bool,
    json: bool,
    hooks: &[String],
) -> anyhow::Result<ExitCode> {
    let hooks: Vec<RepoHook> = hooks
        .iter()
        .filter(|h| !h.trim().is_empty())
        .map(|h| RepoHook::parse(h))
        .collect::<Result<_, _>>()?;
    let settings = crate::backend::WorkerSettings::load(&[], &[], None).await?;
    let api = settings.github_api.context(
        "recovery asks GitHub: set a GitHub App (CODERIPPLE_GITHUB_APP_ID + _KEY_FILE or \
         _KEY_PARAM) or CODERIPPLE_GITHUB_TOKEN with --hook",
    )?;
    if !api.is_app() && hooks.is_empty() {
        anyhow::bail!(
            "with a token there is no App hook to read: name the hooks (--hook owner/repo:ID or org:ID)"
        );
    }
    let backend = Backend::open(kind, data_dir, false).await?;
    let report = recover(
        &api,
        &*backend.store,
        &hooks,
        since,
        dry_run,
        &Metrics::from_env()?,
    )
    .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print(r: &RecoveryReport) {
    println!(
        "hooks {}: {} deliveries found, {} already had, {} delivered, {} missing, {} stuck, \
         {} not redeliverable, {} asked before",
        r.sources.join(", "),
        r.found,
        r.already_had,
        r.delivered,
        r.missing.len(),
        r.stuck.len(),
        r.not_redeliverable.len(),
        r.asked_before.len()
    );
    for (guid, status) in &r.not_redeliverable {
        println!("not redeliverable {guid}: status {status}");
    }
    for guid in &r.asked_before {
        println!("asked before {guid}");
    }
    if r.dry_run {
        let skipped = |guid: &String| {
            r.asked_before.contains(guid) || r.not_redeliverable.iter().any(|(g, _)| g == guid)
        };
        for guid in r.stuck.iter().chain(&r.missing).filter(|g| !skipped(g)) {
            println!("would redeliver {guid}");
        }
        return;
    }
    for guid in &r.redelivered {
        println!("redelivered {guid}");
    }
    for (guid, reason) in &r.failed {
        println!("failed {guid}: {reason}");
    }
}
