//! # coderipple-testkit
//!
//! The test kit (`publish = false`; only tests depend on it):
//!
//! - [`LocalWorker`]: an embedded worker in a temp dir (the SQLite backend `coderipple up`
//!   opens, a directory sink, the built-in agents) and helpers to feed it and read what it
//!   wrote ([`files_under`]);
//! - a real git server on loopback ([`GitServer`]; over HTTP behind a password,
//!   [`GitHttpServer`]);
//! - a stand-in for GitHub's API ([`GitHubStandIn`]) behind Prism's validating proxy
//!   ([`Prism`]), with answers taken from GitHub's OpenAPI description ([`answer`]);
//! - a real small model on loopback for the LLM writer ([`LlmServer`]);
//! - [`history`]: a small repository history as GitHub sends it.
//!
//! The worker's and the CLI's tests build their workers here.

mod git_http;
mod git_server;
mod github_commits;
mod github_git;
mod github_git_routes;
mod github_hooks;
mod github_people;
mod github_routes;
mod github_standin;
mod github_state;
pub mod history;
mod llm_server;
mod logged_child;
pub mod mermaid;
mod openapi_example;
mod prism;

pub use git_http::GitHttpServer;
pub use git_server::{GitServer, free_port, git};
pub use github_commits::COMMIT_DATE;
pub use github_git::{HookDelivery, StoredCommit, StoredPull};
pub use github_routes::BOT_USER_ID;
pub use github_standin::{GitHubStandIn, app_client, app_key};
pub use github_state::GitHubState;
pub use llm_server::{LLM_MODEL, LlmServer};
pub use openapi_example::{answer, example};
pub use prism::Prism;

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use coderipple_core::Backend;
use coderipple_core::cache::Cache;
use coderipple_core::config::Settings;
use coderipple_core::data_dir;
use coderipple_core::envelope::Envelope;
use coderipple_core::metrics::Metrics;
use coderipple_core::queue::{OutgoingMessage, Queue};
use coderipple_core::sqlite::Durability;

use coderipple_consumer::Consumer;
use coderipple_engine::AgentSet;
use coderipple_worker::{ContentAccess, DirSink, DocsSink, GitCheckouts, WorkerContext};

/// An embedded worker over a fresh temp dir (removed when dropped).
#[derive(Debug)]
pub struct LocalWorker {
    /// The worker context (queue, store, blobs, sink, built-in agents, no content source);
    /// configured by the builder methods below, before [`LocalWorker::consumer`] shares it.
    pub ctx: Arc<WorkerContext>,
    /// The events queue's DLQ.
    pub dlq: Arc<dyn Queue>,
    /// The backend the context is over.
    pub backend: Backend,
    /// The data dir: `coderipple.db`, `payloads/`, `docs/`.
    pub dir: tempfile::TempDir,
}

/// [`Settings::default`] with SQLite's `normal` durability (tests need no fsync per commit).
pub fn settings() -> Settings {
    Settings {
        sqlite_sync: Durability::Normal,
        ..Settings::default()
    }
}

impl LocalWorker {
    /// A worker with the test [`settings`].
    pub fn new() -> Self {
        Self::with_settings(settings())
    }

    /// A worker with `settings`.
    pub fn with_settings(settings: Settings) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let backend =
            Backend::open_local(dir.path(), &settings, true).expect("the embedded backend");
        let sink = Arc::new(DirSink::new(data_dir::docs_dir(dir.path())));
        let ctx = WorkerContext::new(&backend, sink, AgentSet::builtin(), Metrics::off());
        Self {
            ctx: Arc::new(ctx),
            dlq: backend.dlq.clone(),
            backend,
            dir,
        }
    }

    /// Docs go to `sink` instead (`sink(docs_dir)` may wrap a [`DirSink`] there).
    pub fn sink(mut self, sink: impl FnOnce(PathBuf) -> Arc<dyn DocsSink>) -> Self {
        self.ctx_mut().sink = sink(self.docs_dir());
        self
    }

    /// File contents of `repo` come from the git checkout at `root`.
    pub fn checkout(self, repo: &str, root: &Path) -> Self {
        let source =
            GitCheckouts::parse(&[format!("{repo}={}", root.display())]).expect("a checkout spec");
        self.content(Arc::new(source))
    }

    /// File contents come from `source`, analyses cached in the store as `up` does.
    pub fn content(mut self, source: Arc<dyn coderipple_worker::ContentSource>) -> Self {
        self.ctx_mut().content = Some(ContentAccess {
            source,
            cache: Arc::new(Cache::new(
                self.ctx.store.clone(),
                NonZeroUsize::new(64).expect("non-zero"),
                Duration::from_secs(3600),
            )),
        });
        self
    }

    /// Docs are published as `config` says (e.g. to a [`GitServer`]).
    pub fn publish(mut self, config: &coderipple_worker::publish::PublishConfig) -> Self {
        self.ctx_mut().publishing = config.publishing(None).expect("a publisher without GitHub");
        self
    }

    /// Docs are published as `config` says, through GitHub's API as `api`.
    pub fn publish_github(
        mut self,
        config: &coderipple_worker::publish::PublishConfig,
        api: Arc<coderipple_github::GitHubApi>,
    ) -> Self {
        self.ctx_mut().publishing = config.publishing(Some(&api)).expect("a GitHub publisher");
        self.ctx_mut().github = Some(api);
        self
    }

    /// History gaps are filled through GitHub's API as `api`.
    pub fn github(mut self, api: Arc<coderipple_github::GitHubApi>) -> Self {
        self.ctx_mut().github = Some(api);
        self
    }

    /// Docs get prose from `model`, within `limits`, as `up` does with `CODERIPPLE_WRITER`.
    pub fn writer(
        mut self,
        model: Arc<dyn coderipple_worker::llm::LanguageModel>,
        limits: coderipple_worker::llm::WriterLimits,
    ) -> Self {
        self.ctx_mut().writer = Some(Arc::new(coderipple_worker::llm::ProseWriter::new(
            model,
            self.ctx.store.clone(),
            limits,
            self.ctx.metrics.clone(),
        )));
        self
    }

    /// The consumer that hands this worker its change sets (as `up` builds it).
    pub fn consumer(&self) -> Consumer {
        WorkerContext::consumer(&self.ctx)
    }

    /// The context, to change before the worker is shared (panics after [`LocalWorker::consumer`]
    /// handed it out).
    pub fn ctx_mut(&mut self) -> &mut WorkerContext {
        Arc::get_mut(&mut self.ctx).expect("the worker is configured before it is shared")
    }

    /// Where the directory sink writes (`<dir>/docs`).
    pub fn docs_dir(&self) -> PathBuf {
        data_dir::docs_dir(self.dir.path())
    }

    /// `repo`'s doc at `rel` (e.g. `decisions/changelog.md`), empty when not written.
    pub fn doc(&self, repo: &str, rel: &str) -> String {
        std::fs::read_to_string(self.docs_dir().join(repo).join(rel)).unwrap_or_default()
    }

    /// Every doc of `repo`, relative path → contents.
    pub fn docs(&self, repo: &str) -> BTreeMap<String, String> {
        files_under(&self.docs_dir().join(repo))
    }

    /// Sends each envelope as its own message, in order (group = repo, dedup = delivery).
    pub async fn send(&self, envelopes: &[Envelope]) {
        for env in envelopes {
            self.ctx
                .queue
                .send_batch(&[OutgoingMessage::new(
                    &env.repo,
                    &env.delivery,
                    env.to_json(),
                )])
                .await
                .expect("send to the embedded queue");
        }
    }
}

impl Default for LocalWorker {
    fn default() -> Self {
        Self::new()
    }
}

/// Every file under `root` (none when it does not exist), relative path → contents.
pub fn files_under(root: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).expect("a readable docs dir") {
            let path = entry.expect("a dir entry").path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path
                    .strip_prefix(base)
                    .expect("under the root")
                    .to_string_lossy()
                    .replace('\\', "/");
                let text = std::fs::read_to_string(&path).expect("a UTF-8 doc");
                out.insert(rel, text);
            }
        }
    }
    let mut out = BTreeMap::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out
}
