//! Test access to the moto server that `scripts/test` starts: SDK clients pointed at it
//! (static credentials, `us-east-1`, SDK retries off so that gaps fail fast) and fresh,
//! uniquely named resources per test.

use std::sync::Arc;

use crate::aws::counter::RequestCounter;
use crate::aws::dynamo::DynamoStore;
use crate::aws::provision::{self, Provisioned, ResourceNames};
use crate::aws::s3::S3BlobStore;
use crate::aws::sqs::SqsQueue;
use crate::aws::{AwsClients, AwsNames, QueueRef};
use crate::backend::{Backend, BackendKind, Deployment};
use crate::config::Settings;
use crate::intake::ClaimThenSend;

/// The variable naming the moto endpoint (`http://127.0.0.1:PORT`).
pub const ENDPOINT_VAR: &str = "CODERIPPLE_MOTO_ENDPOINT";

/// The moto endpoint; panics with what to do when it is not set.
pub fn endpoint() -> String {
    std::env::var(ENDPOINT_VAR).unwrap_or_else(|_| {
        panic!(
            "{ENDPOINT_VAR} is not set: the AWS tests run against the moto server that \
             scripts/test installs and starts (run scripts/test, or start `moto_server` and \
             export {ENDPOINT_VAR}=http://127.0.0.1:PORT)"
        )
    })
}

/// The environment a child process needs to reach moto (`AWS_*` variables).
pub fn child_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_MAX_ATTEMPTS", "1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

/// Clients for moto.
pub async fn clients() -> AwsClients {
    AwsClients::from_config(moto_config().await)
}

/// Clients for moto whose every request is counted.
pub async fn counted_clients(counter: &RequestCounter) -> AwsClients {
    AwsClients::counted(moto_config().await, counter)
}

async fn moto_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await
}

/// A name no other test uses (`prefix-<12 hex>`).
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..12])
}

/// Fresh queue, DLQ, table and bucket.
pub async fn fresh_resources(clients: &AwsClients, settings: &Settings) -> Provisioned {
    let base = unique("cr");
    let names = ResourceNames {
        queue: format!("{base}-events.fifo"),
        dlq: format!("{base}-dlq.fifo"),
        table: base.clone(),
        bucket: base,
    };
    provision::provision(clients, &names, settings)
        .await
        .expect("provision on moto")
}

/// Backends over fresh resources.
#[derive(Debug, Clone)]
pub struct AwsBackends {
    /// The events queue (dead-letters to `dlq`).
    pub queue: Arc<SqsQueue>,
    /// The DLQ.
    pub dlq: Arc<SqsQueue>,
    /// The store.
    pub store: Arc<DynamoStore>,
    /// Claim-check storage.
    pub blobs: Arc<S3BlobStore>,
    /// What was created.
    pub resources: Provisioned,
    /// The clients.
    pub clients: AwsClients,
}

/// Fresh resources and the backends over them.
pub async fn fresh_backends(settings: &Settings) -> AwsBackends {
    backends_with(clients().await, settings).await
}

/// Fresh resources and backends over `clients` (e.g. counted ones).
pub async fn backends_with(clients: AwsClients, settings: &Settings) -> AwsBackends {
    let resources = fresh_resources(&clients, settings).await;
    let dlq = SqsQueue::new(clients.sqs.clone(), &resources.dlq_url, None);
    let queue = SqsQueue::new(clients.sqs.clone(), &resources.queue_url, Some(dlq));
    AwsBackends {
        dlq: Arc::new(queue.dead_letter_queue().expect("dlq")),
        queue: Arc::new(queue),
        store: Arc::new(DynamoStore::new(clients.dynamodb.clone(), &resources.table)),
        blobs: Arc::new(S3BlobStore::new(clients.s3.clone(), &resources.bucket)),
        resources,
        clients,
    }
}

impl AwsBackends {
    /// The opened [`Backend`] over these resources, as the functions assemble it.
    pub fn backend(&self, settings: &Settings) -> Backend {
        Backend {
            kind: BackendKind::Aws,
            queue: self.queue.clone(),
            dlq: self.dlq.clone(),
            store: self.store.clone(),
            intake: Arc::new(ClaimThenSend::new(self.store.clone(), self.queue.clone())),
            blobs: self.blobs.clone(),
            settings: settings.clone(),
            embedded: None,
            aws: Some(Deployment {
                clients: self.clients.clone(),
                names: AwsNames {
                    queue: QueueRef::Url(self.resources.queue_url.clone()),
                    dlq: QueueRef::Url(self.resources.dlq_url.clone()),
                    table: self.resources.table.clone(),
                    bucket: self.resources.bucket.clone(),
                },
            }),
        }
    }
}
