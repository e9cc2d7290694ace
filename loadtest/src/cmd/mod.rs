//! Commands and flags.

pub mod lambda;
pub mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Load tests for CodeRipple: signed webhook traffic through the real pipeline, with proof
/// that nothing was lost.
#[derive(Debug, Parser)]
#[command(name = "coderipple-loadtest", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send traffic, wait for the drain, verify the outcome, report.
    Run(Box<run::RunArgs>),
    /// Measure the Lambda `bootstrap` under a loopback Runtime API: init, first and warm
    /// invocations, peak RSS; then the cost per million webhooks.
    Lambda(lambda::LambdaArgs),
}

/// Runs the command.
pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(*args).await,
        Command::Lambda(args) => lambda::run(args).await,
    }
}
