//! The embedded backend's layout in a data dir: `coderipple.db` holds the events queue, its
//! dead-letter queue and the store; `payloads/` holds claim-checked envelopes; `docs/` is the
//! docs sink. Every process that opens a data dir (the CLI, the load tester) opens it here.

use std::path::{Path, PathBuf};

use crate::queue::QueueSettings;
use crate::queue::sqlite::SqliteQueue;
use crate::sqlite::{Durability, SqliteDb};
use crate::store::sqlite::SqliteStore;
use crate::{Error, Result};

/// The database file inside the data dir.
pub const DB_FILE: &str = "coderipple.db";
/// The events queue.
pub const QUEUE: &str = "events.fifo";
/// Its dead-letter queue.
pub const DLQ: &str = "events-dlq.fifo";

/// The queues and the store of one data dir, over one database.
#[derive(Debug, Clone)]
pub struct LocalParts {
    /// The data dir.
    pub dir: PathBuf,
    /// The shared database.
    pub db: SqliteDb,
    /// The events queue.
    pub queue: SqliteQueue,
    /// Its dead-letter queue.
    pub dlq: SqliteQueue,
    /// Claims, records, repo state, cache.
    pub store: SqliteStore,
}

impl LocalParts {
    /// Opens the database of `dir` (which must exist).
    pub fn open(dir: &Path, durability: Durability, settings: QueueSettings) -> Result<Self> {
        let db = SqliteDb::open(dir.join(DB_FILE), durability)?;
        let queue = SqliteQueue::new(db.clone(), QUEUE, Some(DLQ), settings);
        let dlq = queue
            .dead_letter_queue()
            .ok_or_else(|| Error::Config("the events queue has no DLQ".into()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            store: SqliteStore::new(db.clone()),
            db,
            queue,
            dlq,
        })
    }

    /// The database file.
    pub fn db_path(dir: &Path) -> PathBuf {
        dir.join(DB_FILE)
    }

    /// Claim-check storage.
    pub fn payloads_dir(&self) -> PathBuf {
        self.dir.join("payloads")
    }

    /// Where docs are written.
    pub fn docs_dir(&self) -> PathBuf {
        self.dir.join("docs")
    }
}
