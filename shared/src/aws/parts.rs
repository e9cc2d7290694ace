//! The AWS backend's parts as the environment names them: the events queue and its DLQ
//! (queue URLs resolved once, here), the table and the claim-check bucket. Every process that
//! opens the AWS backend (the CLI, the Lambda functions, the load tester) opens it here.

use std::sync::Arc;

use super::dynamo::DynamoStore;
use super::s3::S3BlobStore;
use super::sqs::SqsQueue;
use super::{AwsClients, AwsNames};
use crate::{Error, Result};

/// The queues, the store and the blob storage of one deployment.
#[derive(Debug, Clone)]
pub struct AwsParts {
    /// The events queue (dead-letters to `dlq`).
    pub queue: Arc<SqsQueue>,
    /// The DLQ.
    pub dlq: Arc<SqsQueue>,
    /// The table.
    pub store: Arc<DynamoStore>,
    /// Claim-checked envelopes.
    pub blobs: Arc<S3BlobStore>,
    /// What the environment named.
    pub names: AwsNames,
}

impl AwsParts {
    /// Opens what `CODERIPPLE_QUEUE_*`, `CODERIPPLE_DLQ_*`, `CODERIPPLE_TABLE` and
    /// `CODERIPPLE_BUCKET` name, over `clients`.
    pub async fn from_env(clients: &AwsClients) -> Result<Self> {
        let names = AwsNames::from_env()?;
        let context = |what: &str, e: Error| match e {
            Error::Unavailable(m) => Error::Unavailable(format!("{what}: {m}")),
            other => other,
        };
        let queue_url = SqsQueue::resolve(&clients.sqs, &names.queue)
            .await
            .map_err(|e| {
                context(
                    "events queue (CODERIPPLE_QUEUE_URL / CODERIPPLE_QUEUE_NAME)",
                    e,
                )
            })?;
        let dlq_url = SqsQueue::resolve(&clients.sqs, &names.dlq)
            .await
            .map_err(|e| {
                context(
                    "dead-letter queue (CODERIPPLE_DLQ_URL / CODERIPPLE_DLQ_NAME)",
                    e,
                )
            })?;
        let dlq = SqsQueue::new(clients.sqs.clone(), dlq_url, None);
        let queue = SqsQueue::new(clients.sqs.clone(), queue_url, Some(dlq));
        let dlq = queue
            .dead_letter_queue()
            .ok_or_else(|| Error::Config("the events queue has no DLQ".into()))?;
        Ok(Self {
            queue: Arc::new(queue),
            dlq: Arc::new(dlq),
            store: Arc::new(DynamoStore::new(clients.dynamodb.clone(), &names.table)),
            blobs: Arc::new(S3BlobStore::new(clients.s3.clone(), &names.bucket)),
            names,
        })
    }
}
