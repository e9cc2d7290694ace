//! # coderipple
//!
//! The command line. Thin on purpose: parse arguments, set up logging, build the backend
//! once, call the libraries.
//!
//! - `args`: every command and flag (each flag also reads a `CODERIPPLE_*` variable).
//! - `local`: the embedded backend in a data dir (SQLite, payloads, docs, secret).
//! - `cmd/`: one file per command: `up`, `worker`, `send`, `status`, `dlq`.

mod args;
mod cmd;
mod local;
mod logging;
mod samples;
mod secret;
mod shutdown;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = args::Cli::parse();
    logging::init(cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cmd::run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
