//! The backend a command runs on, opened once: the embedded default (SQLite in a data dir)
//! or AWS (SQS FIFO + DynamoDB + S3, from the standard `AWS_*` variables and the
//! `CODERIPPLE_QUEUE_*`, `CODERIPPLE_TABLE`, `CODERIPPLE_BUCKET` names).

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use coderipple_core::aws::parts::AwsParts;
use coderipple_core::aws::{AwsClients, SdkRetries};
use coderipple_core::blob::BlobStore;
use coderipple_core::cache::Cache;
use coderipple_core::config::Settings;
use coderipple_core::intake::{ClaimThenSend, Intake, SqliteIntake};
use coderipple_core::metrics::Metrics;
use coderipple_core::queue::Queue;
use coderipple_core::signature::Secrets;
use coderipple_core::store::Store;
use coderipple_ingest::IngestState;
use coderipple_worker::agents::AgentSet;
use coderipple_worker::content::git::GitCheckouts;
use coderipple_worker::sink::{DirSink, DocsSink, S3Sink};
use coderipple_worker::{ContentAccess, WorkerContext};

use crate::args::BackendKind;
use crate::local::Local;

/// The key prefix of docs in the bucket (AWS mode).
pub const DOCS_PREFIX: &str = "docs/";

/// How long analyses of file contents stay in the store cache (they are keyed by blob sha
/// and pack version, so they never go stale; the TTL only bounds the store).
const CONTENT_CACHE_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Every part a command may need.
#[derive(Debug)]
pub struct Backend {
    /// Which backend this is.
    pub kind: BackendKind,
    pub queue: Arc<dyn Queue>,
    pub dlq: Arc<dyn Queue>,
    pub store: Arc<dyn Store>,
    pub intake: Arc<dyn Intake>,
    pub blobs: Arc<dyn BlobStore>,
    pub sink: Arc<dyn DocsSink>,
    pub settings: Settings,
    /// Where docs go, for people (`./.coderipple/docs`, `s3://bucket/docs/`).
    pub docs_location: String,
    /// The AWS clients (AWS mode), for what else a command needs.
    pub aws: Option<AwsClients>,
    /// The embedded backend's database and claim-check dir (what its sweeper cleans).
    pub embedded: Option<Embedded>,
}

/// The embedded backend's own parts.
#[derive(Debug, Clone)]
pub struct Embedded {
    pub db: coderipple_core::sqlite::SqliteDb,
    pub payloads: std::path::PathBuf,
}

impl Backend {
    /// Opens `kind`; the embedded backend lives in `data_dir` (made when `create`).
    pub async fn open(kind: BackendKind, data_dir: &Path, create: bool) -> anyhow::Result<Self> {
        match kind {
            BackendKind::Sqlite => Ok(Self::local(Local::open(data_dir, create)?)),
            BackendKind::Aws => Self::aws(AwsClients::from_env(SdkRetries::Standard).await).await,
        }
    }

    fn local(local: Local) -> Self {
        Self {
            kind: BackendKind::Sqlite,
            queue: Arc::new(local.queue.clone()),
            dlq: Arc::new(local.dlq.clone()),
            store: Arc::new(local.store.clone()),
            intake: Arc::new(SqliteIntake::new(local.queue.clone())),
            blobs: Arc::new(local.blobs()),
            sink: Arc::new(DirSink::new(local.docs_dir())),
            docs_location: local.docs_dir().display().to_string(),
            embedded: Some(Embedded {
                db: local.db.clone(),
                payloads: local.dir.join("payloads"),
            }),
            settings: local.settings,
            aws: None,
        }
    }

    /// The AWS backend over `clients` (queue URLs resolved once, here).
    pub async fn aws(clients: AwsClients) -> anyhow::Result<Self> {
        let settings = Settings::from_env()?;
        let parts = AwsParts::from_env(&clients).await?;
        let queue: Arc<dyn Queue> = parts.queue;
        let dlq: Arc<dyn Queue> = parts.dlq;
        let store: Arc<dyn Store> = parts.store;
        let names = parts.names;
        Ok(Self {
            kind: BackendKind::Aws,
            intake: Arc::new(ClaimThenSend {
                store: store.clone(),
                queue: queue.clone(),
            }),
            queue,
            dlq,
            store,
            blobs: parts.blobs,
            sink: Arc::new(S3Sink::new(clients.s3.clone(), &names.bucket, DOCS_PREFIX)),
            docs_location: format!("s3://{}/{DOCS_PREFIX}", names.bucket),
            settings,
            aws: Some(clients),
            embedded: None,
        })
    }

    /// A worker context over this backend: the agent pack named by `CODERIPPLE_AGENT_PACK`
    /// (or the built-in one), and the checkouts of `repo_roots` as content source.
    pub fn worker_context(
        &self,
        metrics: Metrics,
        repo_roots: &[String],
    ) -> anyhow::Result<WorkerContext> {
        let agents = AgentSet::from_env()?;
        tracing::info!(
            pack = agents.pack.version(),
            source = agents.pack.source(),
            "agent pack"
        );
        let checkouts = GitCheckouts::parse(repo_roots)?;
        let content = (!checkouts.is_empty()).then(|| ContentAccess {
            source: Arc::new(checkouts),
            cache: Arc::new(Cache::new(
                self.store.clone(),
                NonZeroUsize::new(1024).expect("non-zero"),
                CONTENT_CACHE_TTL,
            )),
        });
        Ok(WorkerContext {
            queue: self.queue.clone(),
            store: self.store.clone(),
            blobs: self.blobs.clone(),
            sink: self.sink.clone(),
            agents,
            settings: self.settings.clone(),
            metrics,
            content,
        })
    }

    /// The ingest router's state over this backend.
    pub fn ingest_state(&self, secrets: Secrets, metrics: Metrics) -> IngestState {
        IngestState {
            secrets,
            intake: self.intake.clone(),
            queue: self.queue.clone(),
            store: self.store.clone(),
            blobs: self.blobs.clone(),
            settings: self.settings.clone(),
            backend: self.kind.name().into(),
            metrics,
        }
    }
}
