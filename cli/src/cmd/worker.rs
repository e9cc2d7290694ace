//! `coderipple worker`: long-running pollers only, against an existing data dir or, with
//! `--backend aws`, against SQS + DynamoDB (fleets on ECS/EC2).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use coderipple_core::metrics::Metrics;
use coderipple_worker::supervise;

use crate::args::BackendKind;
use crate::backend::Backend;
use crate::shutdown;

pub async fn run(
    kind: BackendKind,
    data_dir: &Path,
    workers: u16,
    repo_roots: &[String],
    docs_remotes: &[String],
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        workers > 0,
        "--workers must be at least 1 for `coderipple worker`"
    );
    let settings = crate::backend::WorkerSettings::load(repo_roots, docs_remotes, None).await?;
    let backend = Backend::open(kind, data_dir, false).await?;
    let cancel = shutdown::on_signal();
    let ctx = Arc::new(backend.worker_context(Metrics::from_env()?, &settings)?);
    let on = match backend.kind {
        BackendKind::Aws => backend.queue.name().to_owned(),
        BackendKind::Sqlite => data_dir.display().to_string(),
    };
    println!("CodeRipple workers: {workers} on {on}");
    let mut pool: Vec<_> = (0..usize::from(workers))
        .map(|i| tokio::spawn(supervise::poller(ctx.clone(), cancel.clone(), i)))
        .collect();
    if let Some(parts) = backend.embedded.clone() {
        let every = crate::sweeper::every_from_env()?;
        pool.push(tokio::spawn(crate::sweeper::run(
            parts,
            every,
            cancel.clone(),
        )));
    }
    pool.push(tokio::spawn(coderipple_worker::publish::republish_pending(
        ctx.clone(),
        cancel.clone(),
    )));
    pool.push(tokio::spawn(coderipple_worker::wake_every(
        backend.store.clone(),
        backend.queue.clone(),
        coderipple_worker::wake_interval(ctx.settings.gap_wait),
        cancel.clone(),
    )));
    if let Some(api) = &settings.github_api {
        let (every, hooks) =
            coderipple_worker::recover::schedule_from_env(|k| std::env::var(k).ok())?;
        pool.push(tokio::spawn(coderipple_worker::recover::run_every(
            api.clone(),
            backend.store.clone(),
            hooks,
            every,
            Metrics::from_env()?,
            cancel.clone(),
        )));
    }
    for worker in pool {
        let _ = worker.await;
    }
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}
