//! `coderipple init`: creates the backend's resources, idempotently. Embedded: the data dir
//! and its database. AWS (development; production stacks come from `infra/`): the FIFO DLQ,
//! the FIFO events queue redriving to it, the table with TTL, the bucket.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use coderipple_core::aws::provision::{self, ResourceNames};
use coderipple_core::aws::{AwsClients, AwsNames, QueueRef, SdkRetries};
use coderipple_core::config::Settings;

use crate::args::BackendKind;
use crate::backend::Backend;

pub async fn run(kind: BackendKind, data_dir: &Path) -> anyhow::Result<ExitCode> {
    match kind {
        BackendKind::Sqlite => {
            Backend::open(kind, data_dir, true).await?;
            println!("embedded backend ready in {}", data_dir.display());
        }
        BackendKind::Aws => {
            let settings = Settings::from_env()?;
            let names = AwsNames::from_env()?;
            let (QueueRef::Name(queue), QueueRef::Name(dlq)) = (&names.queue, &names.dlq) else {
                bail!(
                    "init creates queues by name: unset CODERIPPLE_QUEUE_URL / CODERIPPLE_DLQ_URL and set CODERIPPLE_QUEUE_NAME / CODERIPPLE_DLQ_NAME"
                );
            };
            let clients = AwsClients::from_env(SdkRetries::Standard).await;
            let made = provision::provision(
                &clients,
                &ResourceNames {
                    queue: queue.clone(),
                    dlq: dlq.clone(),
                    table: names.table.clone(),
                    bucket: names.bucket.clone(),
                },
                &settings,
            )
            .await?;
            println!("queue:  {}", made.queue_url);
            println!("dlq:    {}", made.dlq_url);
            println!("table:  {}", made.table);
            println!("bucket: {}", made.bucket);
        }
    }
    Ok(ExitCode::SUCCESS)
}
