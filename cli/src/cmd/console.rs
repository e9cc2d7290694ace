//! `coderipple console`: the operator console alone, for any backend (e.g. from a laptop
//! against the AWS stack, with the variables `status` uses).

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use coderipple_ingest::serve;

use crate::args::BackendKind;
use crate::backend::Backend;
use crate::console::{self, Console, ConsoleConfig};
use crate::shutdown;

pub async fn run(
    kind: BackendKind,
    listen: SocketAddr,
    data_dir: &Path,
) -> anyhow::Result<ExitCode> {
    let config = ConsoleConfig::from_env()?;
    if !config.may_listen_on(&listen) {
        anyhow::bail!(
            "refusing to serve the console on {listen} without a token: set {} (16+ characters), \
             or listen on 127.0.0.1",
            console::TOKEN_VAR
        );
    }
    let backend = Arc::new(Backend::open(kind, data_dir, false).await?);
    let settings = backend.settings.clone();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| {
            format!("cannot listen on {listen} (--listen / CODERIPPLE_CONSOLE_LISTEN)")
        })?;
    let addr = listener.local_addr()?;
    println!(
        "console on http://{addr}/ui ({}{})",
        if config.token.is_some() {
            "token required"
        } else {
            "loopback only, no token"
        },
        if config.readonly { ", read-only" } else { "" }
    );
    let app = console::router(Console::new(backend, config)?);
    let cancel = shutdown::on_signal();
    serve(listener, app, &settings, cancel.cancelled()).await;
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}
