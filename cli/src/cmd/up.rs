//! `coderipple up`: ingest on an HTTP port and a pool of workers (embedded backend by
//! default; `--backend aws` serves the same router in front of SQS + DynamoDB).
//!
//! The HTTP server is [`coderipple_ingest::serve`] (timeouts, connection and body limits,
//! bounded shutdown). The operator console never shares the webhook's listener without a
//! token (that listener is the one put behind a proxy or on the internet): it gets a listener
//! of its own on loopback ([`ConsoleListen`]); with a token it is also served at `/ui` on the
//! webhook's. The pollers and periodic tasks are spawned by
//! [`spawn_background`](crate::background::spawn_background) into `tasks`: every task is
//! stopped by `cancel` and waited for at shutdown within the same grace period as the HTTP requests.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use coderipple_core::metrics::Metrics;
use coderipple_ingest::{router, serve};

use crate::args::{BackendKind, ConsoleListen};
use crate::backend::Backend;
use crate::console::{self, Console, ConsoleConfig};
use crate::{secret, shutdown};

/// The console's own address when `--console-listen` is not given and there is no token.
const CONSOLE_DEFAULT: &str = "127.0.0.1:8081";

/// Where the console goes: its own address (if any), and whether it is also at `/ui` on the
/// webhook's listener (only with a token). Refuses an address beyond loopback without one.
fn console_places(
    config: &ConsoleConfig,
    asked: Option<ConsoleListen>,
) -> anyhow::Result<(Option<SocketAddr>, bool)> {
    let with_token = config.token.is_some();
    let own = match asked {
        Some(ConsoleListen::Off) => None,
        Some(ConsoleListen::At(addr)) => Some(addr),
        None if with_token => None,
        None => Some(CONSOLE_DEFAULT.parse()?),
    };
    if let Some(addr) = own.filter(|a| !config.may_listen_on(a)) {
        anyhow::bail!(
            "refusing to serve the console on {addr} without a token: set {} (16+ \
             characters), or set CODERIPPLE_CONSOLE_LISTEN (--console-listen) to a loopback \
             address or off",
            console::TOKEN_VAR
        );
    }
    Ok((own, with_token))
}

pub async fn run(
    kind: BackendKind,
    listen: SocketAddr,
    console_listen: Option<ConsoleListen>,
    data_dir: &Path,
    workers: u16,
    repo_roots: &[String],
    docs_remotes: &[String],
) -> anyhow::Result<ExitCode> {
    let console_config = ConsoleConfig::from_env()?;
    let (console_own, console_on_webhook) = console_places(&console_config, console_listen)?;
    let settings = crate::backend::WorkerSettings::load(repo_roots, docs_remotes, None).await?;
    let background = crate::background::Background::from_env(&settings)?;
    let backend = Backend::open(kind, data_dir, true).await?;
    let (secrets, source) = secret::for_backend(&backend, data_dir).await?;
    let metrics = Metrics::from_env()?;
    let ctx = Arc::new(backend.worker_context(metrics.clone(), &settings)?);
    let state = Arc::new(backend.ingest_state(secrets, metrics.clone()));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (--listen / CODERIPPLE_LISTEN)"))?;
    let addr = listener.local_addr()?;
    let console_listener = match console_own {
        Some(at) => Some(tokio::net::TcpListener::bind(at).await.with_context(|| {
            format!(
                "cannot listen on {at} for the console (--console-listen / \
                 CODERIPPLE_CONSOLE_LISTEN; off turns it off)"
            )
        })?),
        None => None,
    };
    let cancel = shutdown::on_signal();
    let mut tasks = shutdown::Tasks::default();
    crate::background::spawn_background(
        background, &backend, &ctx, workers, &metrics, &cancel, &mut tasks,
    );

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
    let readonly = if console_config.readonly {
        ", read-only"
    } else {
        ""
    };
    let ui = (console_listener.is_some() || console_on_webhook)
        .then(|| Console::new(Arc::new(backend), console_config).map(console::router))
        .transpose()?;
    let own = match (console_listener, &ui) {
        (Some(l), Some(ui)) => {
            let at = l.local_addr()?;
            let guard = if console_on_webhook {
                "token required"
            } else {
                "loopback only, no token"
            };
            println!("console: http://{at}/ui ({guard}{readonly})");
            Some((l, ui.clone()))
        }
        _ => None,
    };
    let app = match &ui {
        Some(ui) if console_on_webhook => {
            println!("console: http://{addr}/ui (token required{readonly})");
            router(state).merge(ui.clone())
        }
        _ => router(state),
    };
    if ui.is_none() {
        println!(
            "console: off (CODERIPPLE_CONSOLE_LISTEN=off and no {})",
            console::TOKEN_VAR
        );
    }
    let webhook = serve(listener, app, &settings, cancel.cancelled());
    let stopped = match own {
        Some((l, ui)) => {
            let (a, b) = tokio::join!(webhook, serve(l, ui, &settings, cancel.cancelled()));
            if a.since <= b.since { a } else { b }
        }
        None => webhook.await,
    };
    tasks
        .join_until(stopped.since + settings.server.shutdown_grace)
        .await;
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}
