//! One module per command.

mod dlq;
mod send;
mod status;
mod up;
mod worker;

use std::process::ExitCode;

use crate::args::Command;

pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Up {
            listen,
            data,
            workers,
        } => up::run(listen, &data.data_dir, workers.workers).await,
        Command::Worker { data, workers } => worker::run(&data.data_dir, workers.workers).await,
        Command::Send {
            url,
            event,
            delivery,
            repo,
            form,
            data,
            file,
        } => {
            send::run(send::SendArgs {
                url,
                event,
                delivery,
                repo,
                form,
                data_dir: data.data_dir,
                file,
            })
            .await
        }
        Command::Status {
            data,
            json,
            delivery,
        } => status::run(&data.data_dir, json, delivery.as_deref()).await,
        Command::Dlq { data, action } => dlq::run(&data.data_dir, action).await,
    }
}
