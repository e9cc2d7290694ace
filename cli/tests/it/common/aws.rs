//! The AWS pipeline's parts over a set of backends (moto resources or a deployed stack's):
//! the ingest router's state and the Lambda worker's context, as the functions build them.

use std::sync::Arc;

use coderipple_core::config::Settings;
use coderipple_core::contract::aws::AwsBackends;
use coderipple_core::metrics::Metrics;
use coderipple_core::signature::Secrets;
use coderipple_engine::AgentSet;
use coderipple_ingest::IngestState;
use coderipple_worker::S3Sink;
use coderipple_worker::WorkerContext;

/// The ingest state over `aws`: claim in DynamoDB, then send to SQS.
pub fn ingest_state(aws: &AwsBackends, secrets: Secrets, settings: &Settings) -> Arc<IngestState> {
    Arc::new(IngestState::new(
        &aws.backend(settings),
        secrets,
        Metrics::off(),
    ))
}

/// The worker context over `aws`, docs to `docs/` in its bucket.
pub fn worker_context(aws: &AwsBackends, settings: &Settings, metrics: Metrics) -> WorkerContext {
    let sink = Arc::new(S3Sink::new(
        aws.clients.s3.clone(),
        &aws.resources.bucket,
        "docs/",
    ));
    WorkerContext::new(&aws.backend(settings), sink, AgentSet::builtin(), metrics)
}
