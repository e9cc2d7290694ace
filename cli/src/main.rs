//! # coderipple
//!
//! The command line. Thin on purpose: parse arguments, set up logging, build the backend
//! once, call the libraries.
//!
//! - `args`: every command and flag (each flag also reads a `CODERIPPLE_*` variable).
//! - `backend`: the backend a command runs on (embedded, or AWS), opened once.
//! - `background`: the long-running process (pollers, sweeper, republisher, gap wakes,
//!   recovery), spawned by one function that `up` and `worker` both call.
//! - `lambda`: the Lambda entry (`coderipple lambda`, or the binary named `bootstrap`).
//! - `cloudwatch`: recent metrics for `status --backend aws`.
//! - `advise`: Lambda sizing and cost from measurements (`coderipple advise`).
//! - `console/`: the operator console's pages (`/ui`), served by `up` and `console`.
//! - `dlq_ops`: DLQ replay and purge, shared by `dlq` and the console.
//! - `cmd/`: one file per command: `up`, `worker`, `init`, `send`, `status`, `dlq`.

mod advise;
mod args;
mod backend;
mod background;
mod cloudwatch;
mod cmd;
mod console;
mod dlq_ops;
mod lambda;
mod logging;
mod samples;
mod secret;
mod shutdown;
mod sweeper;

use clap::Parser;

/// jemalloc instead of glibc's malloc: glibc keeps an arena per thread that touched the heap
/// (tokio's workers, the blocking pool, SQLite's threads) and a burst left much of the
/// worker's resident memory in them (BENCHMARKS.md, "Load tester": 66 → 54 MiB peak).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    // Lambda runs `/opt/bootstrap` with no arguments: that name means `coderipple lambda`.
    let as_bootstrap = std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n == "bootstrap")
        })
        .unwrap_or(false);
    let cli = if as_bootstrap {
        args::Cli::parse_from(["coderipple", "--log-format", "json", "lambda"])
    } else {
        args::Cli::parse()
    };
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
