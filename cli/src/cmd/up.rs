//! `coderipple up`: ingest on an HTTP port and a pool of workers (embedded backend by
//! default; `--backend aws` serves the same router in front of SQS + DynamoDB).
//!
//! The HTTP server is [`coderipple_ingest::serve`] (timeouts, connection and body limits,
//! bounded shutdown). Background work goes into `tasks`: every task is stopped by `cancel`
//! and waited for at shutdown within the same grace period as the HTTP requests.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use coderipple_core::metrics::Metrics;
use coderipple_ingest::{router, serve};
use coderipple_worker::supervise;

use crate::args::BackendKind;
use crate::backend::Backend;
use crate::{secret, shutdown};

pub async fn run(
    kind: BackendKind,
    listen: SocketAddr,
    data_dir: &Path,
    workers: u16,
    repo_roots: &[String],
    docs_remotes: &[String],
) -> anyhow::Result<ExitCode> {
    let settings = crate::backend::WorkerSettings::load(repo_roots, docs_remotes, None).await?;
    let (recover_every, hooks) =
        coderipple_worker::recover::schedule_from_env(|k| std::env::var(k).ok())?;
    let backend = Backend::open(kind, data_dir, true).await?;
    let (secrets, source) = secret::for_backend(&backend, data_dir).await?;
    let metrics = Metrics::from_env()?;
    let ctx = Arc::new(backend.worker_context(metrics.clone(), &settings)?);
    let state = Arc::new(backend.ingest_state(secrets, metrics.clone()));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (--listen / CODERIPPLE_LISTEN)"))?;
    let addr = listener.local_addr()?;
    let cancel = shutdown::on_signal();
    let mut tasks = shutdown::Tasks::default();
    for i in 0..usize::from(workers) {
        tasks.spawn(
            format!("worker {i}"),
            supervise::poller(ctx.clone(), cancel.clone(), i),
        );
    }
    if let Some(parts) = backend.embedded.clone() {
        let every = crate::sweeper::every_from_env()?;
        tasks.spawn("sweeper", crate::sweeper::run(parts, every, cancel.clone()));
    }
    tasks.spawn(
        "republisher",
        coderipple_worker::publish::republish_pending(ctx.clone(), cancel.clone()),
    );
    tasks.spawn(
        "history gaps",
        coderipple_worker::wake_every(
            backend.store.clone(),
            backend.queue.clone(),
            coderipple_worker::wake_interval(ctx.settings.gap_wait),
            cancel.clone(),
        ),
    );
    if let Some(api) = &settings.github_api {
        tasks.spawn(
            "recovery",
            coderipple_worker::recover::run_every(
                api.clone(),
                backend.store.clone(),
                hooks,
                recover_every,
                metrics.clone(),
                cancel.clone(),
            ),
        );
    }

    let dir = data_dir.display();
    let which = match backend.kind {
        BackendKind::Aws => "AWS backend",
        BackendKind::Sqlite => "embedded backend",
    };
    println!("CodeRipple is up ({which}, {workers} worker(s))");
    println!("listening on http://{addr}");
    println!("webhook URL: http://{addr}/webhook");
    match source {
        secret::Source::Env => println!("webhook secret: from CODERIPPLE_WEBHOOK_SECRET"),
        secret::Source::Param(p) => println!("webhook secret: from {p}"),
        secret::Source::File(p) => println!("webhook secret: {}", p.display()),
        // The path, never the secret: stdout ends up in logs and scrollback.
        secret::Source::Generated(p) => println!(
            "webhook secret: generated into {} (mode 0600; give its contents to GitHub)",
            p.display()
        ),
    }
    println!("docs: {}", backend.docs_location);
    if let Some(p) = &ctx.publishing {
        println!(
            "docs published with the {} strategy",
            p.publisher.strategy()
        );
    }
    println!("send a test event: coderipple send --url http://{addr}/webhook --data-dir {dir}");

    let settings = backend.settings.clone();
    let console = crate::console::ConsoleConfig::from_env()?;
    let app = if console.may_listen_on(&addr) {
        println!("console: http://{addr}/ui");
        let backend = Arc::new(backend);
        router(state).merge(crate::console::router(crate::console::Console::new(
            backend, console,
        )?))
    } else {
        println!(
            "console: off (listening beyond loopback; set {} to serve it at /ui)",
            crate::console::TOKEN_VAR
        );
        router(state)
    };
    let stopped = serve(listener, app, &settings, cancel.cancelled()).await;
    tasks
        .join_until(stopped.since + settings.server.shutdown_grace)
        .await;
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}
