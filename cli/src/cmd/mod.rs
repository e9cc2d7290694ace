//! One module per command.

mod advise;
mod bootstrap;
mod console;
mod dlq;
mod init;
pub(crate) mod parked;
mod publish;
mod recover;
mod send;
mod status;
mod up;
mod worker;

use std::process::ExitCode;

use crate::args::Command;

pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Up {
            backend,
            listen,
            console_listen,
            data,
            workers,
        } => {
            up::run(
                backend.backend,
                listen,
                console_listen,
                &data.data_dir,
                workers.workers,
                &workers.repo_roots,
                &workers.docs.docs_remotes,
            )
            .await
        }
        Command::Worker {
            backend,
            data,
            workers,
        } => {
            worker::run(
                backend.backend,
                &data.data_dir,
                workers.workers,
                &workers.repo_roots,
                &workers.docs.docs_remotes,
            )
            .await
        }
        Command::Init { backend, data } => init::run(backend.backend, &data.data_dir).await,
        Command::Lambda => crate::lambda::run().await,
        Command::Advise(args) => advise::run(args).await,
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
            backend,
            data,
            json,
            delivery,
            repo,
        } => {
            status::run(
                backend.backend,
                &data.data_dir,
                json,
                delivery.as_deref(),
                &repo,
            )
            .await
        }
        Command::Bootstrap {
            backend,
            data,
            repo,
            repo_root,
            repo_url,
            docs,
        } => {
            bootstrap::run(
                backend.backend,
                &data.data_dir,
                &repo,
                &repo_root,
                repo_url.as_deref(),
                &docs.docs_remotes,
            )
            .await
        }
        Command::Publish {
            backend,
            data,
            docs,
            pending,
            repo,
        } => {
            publish::run(
                backend.backend,
                &data.data_dir,
                &docs.docs_remotes,
                pending,
                &repo,
            )
            .await
        }
        Command::Recover {
            backend,
            data,
            since,
            dry_run,
            json,
            hooks,
        } => {
            recover::run(
                backend.backend,
                &data.data_dir,
                since,
                dry_run,
                json,
                &hooks,
            )
            .await
        }
        Command::Dlq {
            backend,
            data,
            action,
        } => dlq::run(backend.backend, &data.data_dir, action).await,
        Command::Console {
            backend,
            listen,
            data,
        } => console::run(backend.backend, listen, &data.data_dir).await,
    }
}
