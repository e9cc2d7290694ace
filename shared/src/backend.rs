//! An opened backend: the events queue, its DLQ, the store, ingest's intake step and the
//! claim-check storage of one deployment, opened in this one place. Every process (the CLI,
//! the Lambda functions, the load tester, the tests) opens the embedded backend with
//! [`Backend::open_local`] and the AWS one with [`Backend::open_aws`], so the parts always fit
//! together the same way: on SQLite one database holds queue, DLQ and store (and the intake
//! claims and sends in one transaction); on AWS the intake claims in DynamoDB, then sends.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use crate::aws::dynamo::DynamoStore;
use crate::aws::s3::S3BlobStore;
use crate::aws::sqs::SqsQueue;
use crate::aws::{AwsClients, AwsNames};
use crate::blob::{BlobStore, DirBlobStore};
use crate::config::Settings;
use crate::data_dir;
use crate::error::{Error, Result};
use crate::intake::{ClaimThenSend, Intake, SqliteIntake};
use crate::queue::Queue;
use crate::queue::sqlite::SqliteQueue;
use crate::sqlite::SqliteDb;
use crate::store::Store;
use crate::store::sqlite::SqliteStore;

/// Which backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum BackendKind {
    /// The embedded default: SQLite, payloads and docs in the data dir.
    Sqlite,
    /// SQS FIFO + DynamoDB + S3 (standard AWS_* variables; CODERIPPLE_QUEUE_*, _TABLE, _BUCKET).
    Aws,
}

impl BackendKind {
    /// The name `/health` and `status` show (and `CODERIPPLE_BACKEND` takes).
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Sqlite => "sqlite",
            BackendKind::Aws => "aws",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sqlite" => Ok(BackendKind::Sqlite),
            "aws" => Ok(BackendKind::Aws),
            other => Err(Error::Config(format!(
                "backend must be `sqlite` or `aws`, got {other:?}"
            ))),
        }
    }
}

/// The embedded backend's own parts (what its sweeper cleans).
#[derive(Debug, Clone)]
pub struct Embedded {
    /// The data dir.
    pub dir: PathBuf,
    /// The database holding queue, DLQ and store.
    pub db: SqliteDb,
}

impl Embedded {
    /// Claim-checked envelopes.
    pub fn payloads_dir(&self) -> PathBuf {
        data_dir::payloads_dir(&self.dir)
    }

    /// Where docs are written.
    pub fn docs_dir(&self) -> PathBuf {
        data_dir::docs_dir(&self.dir)
    }
}

/// The AWS backend's own parts.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The SDK clients it was opened with.
    pub clients: AwsClients,
    /// The queue, table and bucket names.
    pub names: AwsNames,
}

/// Every part of one backend, opened once.
#[derive(Debug, Clone)]
pub struct Backend {
    /// Which backend this is.
    pub kind: BackendKind,
    /// The events queue (dead-letters to `dlq`).
    pub queue: Arc<dyn Queue>,
    /// The dead-letter queue.
    pub dlq: Arc<dyn Queue>,
    /// Claims, records, repository state, cache.
    pub store: Arc<dyn Store>,
    /// Ingest's durable step: claim the delivery id, then enqueue.
    pub intake: Arc<dyn Intake>,
    /// Claim-checked envelopes.
    pub blobs: Arc<dyn BlobStore>,
    /// The settings it was opened with.
    pub settings: Settings,
    /// The embedded backend's parts (SQLite only).
    pub embedded: Option<Embedded>,
    /// The deployment (AWS only).
    pub aws: Option<Deployment>,
}

impl Backend {
    /// The embedded backend in `dir` (`coderipple.db`, `payloads/`, `docs/`), with the
    /// durability `settings.sqlite_sync` names. With `create` the dir and database are made
    /// (private) when missing; without, a dir holding no database is refused.
    pub fn open_local(dir: &Path, settings: &Settings, create: bool) -> Result<Self> {
        let path = data_dir::db_path(dir);
        if !create && !path.exists() {
            return Err(Error::Config(format!(
                "no CodeRipple data in {}; run `coderipple up` there first",
                dir.display()
            )));
        }
        data_dir::create_private_dir(dir)?;
        data_dir::create_private_file(&path)?;
        let db = SqliteDb::open(path, settings.sqlite_sync)?;
        let queue = SqliteQueue::new(
            db.clone(),
            data_dir::QUEUE,
            Some(data_dir::DLQ),
            settings.queue(),
        );
        let dlq = queue
            .dead_letter_queue()
            .ok_or_else(|| Error::Config("the events queue has no DLQ".into()))?;
        Ok(Self {
            kind: BackendKind::Sqlite,
            queue: Arc::new(queue.clone()),
            dlq: Arc::new(dlq),
            store: Arc::new(SqliteStore::new(db.clone())),
            intake: Arc::new(SqliteIntake::new(queue)),
            blobs: Arc::new(DirBlobStore::new(data_dir::payloads_dir(dir))),
            settings: settings.clone(),
            embedded: Some(Embedded {
                dir: dir.to_path_buf(),
                db,
            }),
            aws: None,
        })
    }

    /// The AWS backend `names` names, over `clients` (queue URLs resolved once, here).
    pub async fn open_aws(
        clients: &AwsClients,
        names: AwsNames,
        settings: &Settings,
    ) -> Result<Self> {
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
        let queue: Arc<dyn Queue> = Arc::new(queue);
        let store: Arc<dyn Store> =
            Arc::new(DynamoStore::new(clients.dynamodb.clone(), &names.table));
        Ok(Self {
            kind: BackendKind::Aws,
            intake: Arc::new(ClaimThenSend::new(store.clone(), queue.clone())),
            queue,
            dlq: Arc::new(dlq),
            store,
            blobs: Arc::new(S3BlobStore::new(clients.s3.clone(), &names.bucket)),
            settings: settings.clone(),
            embedded: None,
            aws: Some(Deployment {
                clients: clients.clone(),
                names,
            }),
        })
    }

    /// The AWS backend the environment names (`CODERIPPLE_QUEUE_*`, `CODERIPPLE_DLQ_*`,
    /// `CODERIPPLE_TABLE`, `CODERIPPLE_BUCKET`).
    pub async fn open_aws_from_env(clients: &AwsClients, settings: &Settings) -> Result<Self> {
        Self::open_aws(clients, AwsNames::from_env()?, settings).await
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::queue::OutgoingMessage;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn a_new_data_dir_and_its_database_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let backend = Backend::open_local(&dir, &Settings::default(), true).unwrap();
        backend
            .queue
            .send_batch(&[OutgoingMessage::new("o/r", "d-1", "{}")])
            .await
            .unwrap();
        assert_eq!(mode(&dir), 0o700);
        for name in [data_dir::DB_FILE, "coderipple.db-wal", "coderipple.db-shm"] {
            let file = dir.join(name);
            if name == data_dir::DB_FILE || file.exists() {
                assert_eq!(mode(&file), 0o600, "{name}");
            }
        }
    }

    #[test]
    fn a_dir_without_data_is_refused_unless_created_and_nothing_is_made() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nothing-here");
        let err = Backend::open_local(&dir, &Settings::default(), false).unwrap_err();
        assert!(err.to_string().contains("no CodeRipple data in"), "{err}");
        assert!(!dir.exists(), "refusing must not create the dir");
    }

    #[test]
    fn backend_kinds_parse_their_names() {
        for kind in [BackendKind::Sqlite, BackendKind::Aws] {
            assert_eq!(kind.name().parse::<BackendKind>().unwrap(), kind);
        }
        let err = "postgres".parse::<BackendKind>().unwrap_err();
        assert!(err.to_string().contains("`sqlite` or `aws`"), "{err}");
    }
}
