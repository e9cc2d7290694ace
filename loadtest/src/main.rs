//! `coderipple-loadtest`: a thin binary over the `coderipple_loadtest` library.
//!
//! - `run`: traffic through the pipeline, verification, reports, thresholds (exit 1 when a
//!   threshold or a check fails, 2 when the run could not be set up).
//! - `lambda`: the `bootstrap` binary under a loopback Lambda Runtime API, and the cost model.

mod cmd;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = cmd::Cli::parse();
    match cmd::dispatch(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("coderipple-loadtest: {e:#}");
            ExitCode::from(2)
        }
    }
}
