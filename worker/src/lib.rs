//! # coderipple-worker
//!
//! Turns queued envelopes into documentation, FIFO-aware (the README's *Operations* section).
//! The public surface is the few types and functions re-exported here (the worker context,
//! the batch handler and its report, the agent set, the docs sinks, the Lambda handler) and
//! the `bootstrap`, `esm`, `poller` and `supervise` modules; everything else is internal.
//!
//!
//! - `batch`: one received batch → per-message outcomes. Groups (repositories) run in
//!   parallel, in order within a group; consecutive pushes of a repo are coalesced into one
//!   change set; a transient failure fails the rest of *that group only*; a poison message is
//!   dead-lettered with its reason so its group moves on.
//! - `process`: one change set: idempotency records, repo state (compare-and-set), the
//!   orchestrator's plan, the agents, the docs write, the processing summary.
//! - `chain` and `gap`: history order: pushes applied by their `before`/`after` chain,
//!   whatever their arrival order; gaps wait, then are filled from GitHub or recorded.
//! - `plan`: the plan of a change set (plain data, no agent); `classify`: changes become
//!   plan items (Conventional Commits, the pack's heuristics, path categories, clipping).
//! - `agents`: the agent interface, the Orchestrator (asks each agent whether it runs), the
//!   Building Inspector, the Tourist Guide and the Historian. Adding an agent is one file and
//!   one line in [`AgentSet::with_pack`].
//! - `facts`: what is kept of a file's contents (README, manifests).
//! - `pack`: the agent pack (TOML rules, minijinja templates), built in or from a directory.
//! - `markdown`: escaping text from payloads for the docs (the templates' `md_*` filters).
//! - `content`: optional file contents (a local git checkout), analysed and cached.
//! - [`github`]: GitHub's REST API (App or token auth, rate limits) and the content source
//!   over it.
//! - [`bootstrap`]: initial docs for a repository joining mid-life, from a checkout's history.
//! - `sink`: where docs are written (a directory locally, S3 on AWS).
//! - [`publish`]: docs into the repository after each change set (`CODERIPPLE_DOC_STRATEGY`).
//! - [`recover`]: missed webhook deliveries found through GitHub's API and redelivered.
//! - `sqs_event`: the Lambda worker handler: `SqsEvent` in, `SqsBatchResponse` out, with
//!   FIFO-aware `batchItemFailures`.
//! - [`esm`]: a local stand-in for Lambda's SQS event source mapping (tests, `infra/`).
//! - `parking`: repositories parked behind a head dead-lettered for a transient reason.
//! - [`poller`]: the long-running loop (`coderipple up` / `worker`) with graceful shutdown.
//! - [`supervise`]: a poller that panics is logged and restarted after a short backoff.
//! - `error`: [`WorkerError`], transient (retry) or permanent (DLQ).
//! - `testkit` (feature `test-kit`): an embedded worker in a temp dir, for tests.
//! - [`writer`]: the optional LLM writer: prose in the docs' marked sections (Bedrock or an
//!   OpenAI-compatible server), cached, budgeted, never in the way.

mod agents;
mod batch;
pub mod bootstrap;
mod chain;
mod classify;
mod content;
pub mod deadline;
mod doc_hashes;
mod env;
mod error;
pub mod esm;
mod facts;
mod gap;
pub mod github;
mod markdown;
mod outcome;
mod pack;
mod parking;
mod plan;
pub mod poller;
mod process;
pub mod publish;
pub mod recover;
mod sink;
mod sqs_event;
pub mod supervise;
#[cfg(feature = "test-kit")]
pub mod testkit;
pub mod writer;

use std::sync::Arc;

use coderipple_core::Backend;
use coderipple_core::blob::BlobStore;
use coderipple_core::config::Settings;
use coderipple_core::metrics::Metrics;
use coderipple_core::queue::Queue;
use coderipple_core::store::Store;

pub use agents::historian::applied_commits;
pub use agents::{AgentSet, ChangeSet, Plan};
pub use batch::{
    BatchOptions, BatchReport, Outcome, Retry, handle_batch, handle_batch_with,
    handle_batch_with_lease,
};
pub use content::ContentSource;
pub use content::git::GitCheckouts;
pub use error::WorkerError;
pub use gap::{wake_due, wake_envelope, wake_every, wake_interval};
pub use pack::AgentPack;
pub use parking::{EXHAUSTED_CLASS, PARKED_CLASS};
pub use process::process_change_set;
pub use sink::{DirSink, DocFile, DocsSink, S3Sink};
pub use sqs_event::{DEADLINE_MARGIN, handle_sqs_event};

/// What a worker needs, built once and shared by its tasks.
#[derive(Debug)]
pub struct WorkerContext {
    /// The events queue (its DLQ is reached through [`Queue::dead_letter`]).
    pub queue: Arc<dyn Queue>,
    /// Idempotency records and repo state.
    pub store: Arc<dyn Store>,
    /// Claim-checked envelope bodies.
    pub blobs: Arc<dyn BlobStore>,
    /// Where docs go.
    pub sink: Arc<dyn DocsSink>,
    /// The agents.
    pub agents: AgentSet,
    /// Timeouts and limits.
    pub settings: Settings,
    /// Where one metrics record per batch goes.
    pub metrics: Metrics,
    /// File contents for the agents, when a content source is configured.
    pub content: Option<ContentAccess>,
    /// Where docs are published after each change set (`None`: they stay in the store).
    pub publishing: Option<publish::Publishing>,
    /// GitHub's API, when credentials are configured: history gaps are filled through it.
    pub github: Option<Arc<github::GitHubApi>>,
    /// The LLM writer, when `CODERIPPLE_WRITER` names a model.
    pub writer: Option<Arc<writer::ProseWriter>>,
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
}

/// A content source and the cache its analyses go through.
#[derive(Debug, Clone)]
pub struct ContentAccess {
    /// Where file contents come from.
    pub source: Arc<dyn ContentSource>,
    /// Analyses by blob sha and pack version.
    pub cache: Arc<coderipple_core::cache::Cache>,
}
