//! `coderipple up`: ingest on an HTTP port and a pool of workers, on the embedded backend.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use coderipple_core::intake::SqliteIntake;
use coderipple_ingest::{IngestState, router};
use coderipple_worker::poller;

use crate::local::Local;
use crate::{secret, shutdown};

pub async fn run(listen: SocketAddr, data_dir: &Path, workers: u16) -> anyhow::Result<ExitCode> {
    let local = Local::open(data_dir, true)?;
    let (secrets, source) = secret::for_server(data_dir)?;
    let state = Arc::new(IngestState {
        secrets,
        intake: Arc::new(SqliteIntake::new(local.queue.clone())),
        queue: Arc::new(local.queue.clone()),
        store: Arc::new(local.store.clone()),
        blobs: Arc::new(local.blobs()),
        settings: local.settings.clone(),
        backend: "sqlite".into(),
    });
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (--listen / CODERIPPLE_LISTEN)"))?;
    let addr = listener.local_addr()?;
    let cancel = shutdown::on_signal();
    let ctx = Arc::new(local.worker_context());
    let pool: Vec<_> = (0..usize::from(workers))
        .map(|i| tokio::spawn(poller::run(ctx.clone(), cancel.clone(), i)))
        .collect();

    let dir = data_dir.display();
    println!("CodeRipple is up (embedded backend, {workers} worker(s))");
    println!("listening on http://{addr}");
    println!("webhook URL: http://{addr}/webhook");
    match source {
        secret::Source::Env => println!("webhook secret: from CODERIPPLE_WEBHOOK_SECRET"),
        secret::Source::File(p) => println!("webhook secret: {}", p.display()),
        secret::Source::Generated(p) => {
            let value = std::fs::read_to_string(&p).unwrap_or_default();
            println!(
                "webhook secret (generated, kept in {}): {value}",
                p.display()
            );
        }
    }
    println!("docs: {}", local.docs_dir().display());
    println!("send a test event: coderipple send --url http://{addr}/webhook --data-dir {dir}");

    let stop = cancel.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
        .context("HTTP server failed")?;
    for worker in pool {
        let _ = worker.await;
    }
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}
