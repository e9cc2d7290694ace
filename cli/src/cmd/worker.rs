//! `coderipple worker`: workers only, against an existing data dir.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use coderipple_worker::poller;

use crate::local::Local;
use crate::shutdown;

pub async fn run(data_dir: &Path, workers: u16) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        workers > 0,
        "--workers must be at least 1 for `coderipple worker`"
    );
    let local = Local::open(data_dir, false)?;
    let cancel = shutdown::on_signal();
    let ctx = Arc::new(local.worker_context());
    println!("CodeRipple workers: {workers} on {}", data_dir.display());
    let pool: Vec<_> = (0..usize::from(workers))
        .map(|i| tokio::spawn(poller::run(ctx.clone(), cancel.clone(), i)))
        .collect();
    for worker in pool {
        let _ = worker.await;
    }
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}
