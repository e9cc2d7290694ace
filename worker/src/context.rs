//! [`WorkerContext`]: what applying change sets needs, built once per process, and the
//! [`Consumer`] that hands it change sets through the port (implemented by the pipeline's
//! `apply`).

use std::sync::Arc;

use coderipple_consumer::Consumer;
use coderipple_core::Backend;
use coderipple_core::blob::BlobStore;
use coderipple_core::config::Settings;
use coderipple_core::metrics::Metrics;
use coderipple_core::queue::Queue;
use coderipple_core::store::Store;
use coderipple_engine::AgentSet;

use crate::content::ContentSource;
use crate::sink::DocsSink;
use crate::{llm, publish};

/// What a worker needs, built once and shared by its tasks.
#[derive(Debug)]
pub struct WorkerContext {
    /// The events queue (the [`Consumer`] takes messages off it).
    pub queue: Arc<dyn Queue>,
    /// Idempotency records and repo state.
    pub store: Arc<dyn Store>,
    /// Claim-checked envelope bodies (the [`Consumer`] reads them).
    pub blobs: Arc<dyn BlobStore>,
    /// Where docs go.
    pub sink: Arc<dyn DocsSink>,
    /// The agents.
    pub agents: AgentSet,
    /// Timeouts and limits.
    pub settings: Settings,
    /// Where metrics go (the consumer's per batch, the publish step's, the writer's).
    pub metrics: Metrics,
    /// File contents for the agents, when a content source is configured.
    pub content: Option<ContentAccess>,
    /// Where docs are published after each change set (`None`: they stay in the store).
    pub publishing: Option<publish::Publishing>,
    /// GitHub's API, when credentials are configured: history gaps are filled through it.
    pub github: Option<Arc<coderipple_github::GitHubApi>>,
    /// The LLM writer, when `CODERIPPLE_WRITER` names a model.
    pub writer: Option<Arc<llm::ProseWriter>>,
}

impl WorkerContext {
    /// A worker over `backend`'s queue, store, blobs and settings, writing docs to `sink`,
    /// without a content source (set [`WorkerContext::content`] to add one).
    pub fn new(
        backend: &Backend,
        sink: Arc<dyn DocsSink>,
        agents: AgentSet,
        metrics: Metrics,
    ) -> Self {
        Self {
            queue: backend.queue.clone(),
            store: backend.store.clone(),
            blobs: backend.blobs.clone(),
            sink,
            agents,
            settings: backend.settings.clone(),
            metrics,
            content: None,
            publishing: None,
            github: None,
            writer: None,
        }
    }

    /// The consumer that hands this worker its change sets, over the same queue, store,
    /// blobs, settings and metrics.
    pub fn consumer(self: &Arc<Self>) -> Consumer {
        Consumer {
            queue: self.queue.clone(),
            store: self.store.clone(),
            blobs: self.blobs.clone(),
            settings: self.settings.clone(),
            metrics: self.metrics.clone(),
            changes: self.clone(),
        }
    }
}

/// A content source and the cache its analyses go through.
#[derive(Debug, Clone)]
pub struct ContentAccess {
    /// Where file contents come from.
    pub source: Arc<dyn ContentSource>,
    /// Analyses by blob sha and pack version.
    pub cache: Arc<coderipple_core::cache::Cache>,
}
