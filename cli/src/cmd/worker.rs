//! `coderipple worker`: long-running pollers only, against an existing data dir or, with
//! `--backend aws`, against SQS + DynamoDB (fleets on ECS/EC2).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use coderipple_core::metrics::Metrics;

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
    let background = crate::background::Background::from_env(&settings)?;
    let backend = Backend::open(kind, data_dir, false).await?;
    let cancel = shutdown::on_signal();
    let metrics = Metrics::from_env()?;
    let ctx = Arc::new(backend.worker_context(metrics.clone(), &settings)?);
    let on = match backend.kind {
        BackendKind::Aws => backend.queue.name().to_owned(),
        BackendKind::Sqlite => data_dir.display().to_string(),
    };
    println!("CodeRipple workers: {workers} on {on}");
    let mut tasks = shutdown::Tasks::default();
    crate::background::spawn_background(
        background, &backend, &ctx, workers, &metrics, &cancel, &mut tasks,
    );
    cancel.cancelled().await;
    tasks
        .join_until(tokio::time::Instant::now() + backend.settings.server.shutdown_grace)
        .await;
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}
