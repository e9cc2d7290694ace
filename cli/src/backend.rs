//! The backend a command runs on, opened once: the embedded default (SQLite in a data dir)
//! or AWS (SQS FIFO + DynamoDB + S3, from the standard `AWS_*` variables and the
//! `CODERIPPLE_QUEUE_*`, `CODERIPPLE_TABLE`, `CODERIPPLE_BUCKET` names).

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use coderipple_core::BackendKind;
use coderipple_core::aws::{AwsClients, SdkRetries};
use coderipple_core::cache::Cache;
use coderipple_core::config::Settings;
use coderipple_core::metrics::Metrics;
use coderipple_core::signature::Secrets;
use coderipple_github::{GitHubApi, GitHubConfig};
use coderipple_ingest::IngestState;
use coderipple_worker::GitCheckouts;
use coderipple_worker::GitHubContent;
use coderipple_worker::llm::{LanguageModel, ProseWriter, WriterConfig, bedrock_config};
use coderipple_worker::publish::PublishConfig;
use coderipple_worker::{ContentAccess, ContentSource, WorkerContext};
use coderipple_worker::{DirSink, DocsSink, S3Sink};

/// What a worker is configured with besides its backend: checkouts, publishing, GitHub.
/// Parsed before any backend is opened, so a bad setting is refused before anything is
/// created.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// `--repo-root owner/repo=PATH`: local checkouts as content source.
    pub repo_roots: Vec<String>,
    /// Where docs are published.
    pub publish: PublishConfig,
    /// GitHub's API (when credentials are set): the content source when no checkout is
    /// given, publishing, recovery — one client, so they share its token cache and the
    /// installations webhooks named.
    pub github_api: Option<Arc<GitHubApi>>,
    /// The LLM writer's settings and model (`CODERIPPLE_WRITER`; none by default).
    pub writer: WriterConfig,
    /// The model `writer` names.
    pub writer_model: Option<Arc<dyn LanguageModel>>,
}

/// Variables that name a parameter (SSM or Secrets Manager) holding another variable's value,
/// read once at start: the GitHub App's private key and a GitHub token.
const PARAMS: [(&str, &str); 3] = [
    (
        "CODERIPPLE_GITHUB_APP_KEY_PARAM",
        "CODERIPPLE_GITHUB_APP_KEY",
    ),
    ("CODERIPPLE_GITHUB_TOKEN_PARAM", "CODERIPPLE_GITHUB_TOKEN"),
    ("CODERIPPLE_WRITER_KEY_PARAM", "CODERIPPLE_WRITER_KEY"),
];

impl WorkerSettings {
    /// From the environment and the flags; values named by parameter
    /// (`CODERIPPLE_GITHUB_APP_KEY_PARAM`, `CODERIPPLE_GITHUB_TOKEN_PARAM`) are read with
    /// `clients` (or clients from the environment) before anything else is checked.
    pub async fn load(
        repo_roots: &[String],
        docs_remotes: &[String],
        clients: Option<&AwsClients>,
    ) -> anyhow::Result<Self> {
        let mut vars: std::collections::HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("CODERIPPLE_"))
            .collect();
        for (param_var, var) in PARAMS {
            let Some(param) = vars.get(param_var).cloned() else {
                continue;
            };
            let clients = match clients {
                Some(c) => c.clone(),
                None => AwsClients::from_env(SdkRetries::Standard).await,
            };
            let value = coderipple_core::aws::secrets::read(&clients, param_var, &param).await?;
            vars.insert(var.to_owned(), value);
        }
        let lookup = |k: &str| vars.get(k).cloned();
        let github_api = match GitHubConfig::from_env(lookup)? {
            Some(config) => Some(Arc::new(GitHubApi::new(&config)?)),
            None => None,
        };
        let writer = WriterConfig::from_env(lookup)?;
        let bedrock = if writer.needs_aws() {
            let clients = match clients {
                Some(c) => c.clone(),
                None => AwsClients::from_env(SdkRetries::Standard).await,
            };
            Some(bedrock_config(&clients.config))
        } else {
            None
        };
        let writer_model = writer.model(bedrock)?;
        Ok(Self {
            repo_roots: repo_roots.to_vec(),
            publish: PublishConfig::from_env(lookup, docs_remotes)?,
            github_api,
            writer,
            writer_model,
        })
    }
}

/// The key prefix of docs in the bucket (AWS mode).
pub const DOCS_PREFIX: &str = "docs/";

/// How long analyses of file contents stay in the store cache (they are keyed by blob sha
/// and pack version, so they never go stale; the TTL only bounds the store).
const CONTENT_CACHE_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Every part a command may need: the core's [`Backend`](coderipple_core::Backend) (queues,
/// store, intake, blobs) and the docs sink the worker writes to.
#[derive(Debug)]
pub struct Backend {
    /// The queues, store, intake and blobs.
    pub parts: coderipple_core::Backend,
    /// Where docs are written.
    pub sink: Arc<dyn DocsSink>,
    /// Where docs go, for people (`./.coderipple/docs`, `s3://bucket/docs/`).
    pub docs_location: String,
}

impl std::ops::Deref for Backend {
    type Target = coderipple_core::Backend;

    fn deref(&self) -> &Self::Target {
        &self.parts
    }
}

impl Backend {
    /// Opens `kind` with the settings of the environment; the embedded backend lives in
    /// `data_dir` (made when `create`).
    pub async fn open(kind: BackendKind, data_dir: &Path, create: bool) -> anyhow::Result<Self> {
        match kind {
            BackendKind::Sqlite => {
                let parts =
                    coderipple_core::Backend::open_local(data_dir, &Settings::from_env()?, create)
                        .map_err(|e| anyhow::anyhow!("{e} (--data-dir / CODERIPPLE_DATA_DIR)"))?;
                let docs = parts.embedded.as_ref().expect("embedded").docs_dir();
                Ok(Self {
                    sink: Arc::new(DirSink::new(docs.clone())),
                    docs_location: docs.display().to_string(),
                    parts,
                })
            }
            BackendKind::Aws => Self::aws(AwsClients::from_env(SdkRetries::Standard).await).await,
        }
    }

    /// The AWS backend over `clients`, as the environment names it.
    pub async fn aws(clients: AwsClients) -> anyhow::Result<Self> {
        let parts =
            coderipple_core::Backend::open_aws_from_env(&clients, &Settings::from_env()?).await?;
        let bucket = &parts.aws.as_ref().expect("aws").names.bucket;
        Ok(Self {
            sink: Arc::new(S3Sink::new(clients.s3.clone(), bucket, DOCS_PREFIX)),
            docs_location: format!("s3://{bucket}/{DOCS_PREFIX}"),
            parts,
        })
    }

    /// A worker context over this backend: the agent pack named by `CODERIPPLE_AGENT_PACK`
    /// (or the built-in one), the checkouts of `repo_roots` as content source (or, without
    /// any, GitHub's API when credentials are set), and docs published as `publish` says.
    pub fn worker_context(
        &self,
        metrics: Metrics,
        settings: &WorkerSettings,
    ) -> anyhow::Result<WorkerContext> {
        let publish = &settings.publish;
        let agents = coderipple_worker::agents_from_env(|k| std::env::var(k).ok())?;
        tracing::info!(
            pack = agents.pack.version(),
            source = agents.pack.source(),
            "agent pack"
        );
        let checkouts = GitCheckouts::parse(&settings.repo_roots)?;
        let github = settings.github_api.clone();
        let source: Option<Arc<dyn ContentSource>> = match &github {
            _ if !checkouts.is_empty() => Some(Arc::new(checkouts)),
            Some(api) => {
                tracing::info!(api = %api.base_url(), "file contents from GitHub's API");
                Some(Arc::new(GitHubContent::new(api.clone())))
            }
            None => None,
        };
        let content = source.map(|source| ContentAccess {
            source,
            cache: Arc::new(Cache::new(
                self.store.clone(),
                NonZeroUsize::new(1024).expect("non-zero"),
                CONTENT_CACHE_TTL,
            )),
        });
        let mut ctx = WorkerContext::new(&self.parts, self.sink.clone(), agents, metrics);
        ctx.content = content;
        ctx.publishing = publish.publishing(github.as_ref())?;
        ctx.github = github;
        if let Some(model) = &settings.writer_model {
            tracing::info!(model = model.name(), limits = ?settings.writer.limits, "LLM writer on");
            ctx.writer = Some(Arc::new(ProseWriter::new(
                model.clone(),
                self.store.clone(),
                settings.writer.limits,
                ctx.metrics.clone(),
            )));
        }
        if ctx.publishing.is_some() {
            tracing::info!(
                strategy = publish.strategy.name(),
                repos = publish.remotes.len(),
                branch = publish.branch.as_deref().unwrap_or("(default)"),
                path = %publish.path,
                "docs are published to the repositories"
            );
        }
        Ok(ctx)
    }

    /// The ingest router's state over this backend.
    pub fn ingest_state(&self, secrets: Secrets, metrics: Metrics) -> IngestState {
        IngestState::new(&self.parts, secrets, metrics)
    }
}
