//! The embedded backend's layout in a data dir: `coderipple.db` holds the events queue, its
//! dead-letter queue and the store; `payloads/` holds claim-checked envelopes; `docs/` is the
//! docs sink. Every process that opens a data dir (the CLI, the load tester) opens it here.
//!
//! What this creates is private to its user: the data dir 0700, the database 0600 (SQLite
//! gives its `-wal` and `-shm` files the database's mode), claim-checked payloads 0600 in a
//! 0700 `payloads/` ([`crate::blob::write_private`]). An existing dir or database keeps the
//! mode it has.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
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
    /// Opens the database of `dir` (made, private, when missing).
    pub fn open(dir: &Path, durability: Durability, settings: QueueSettings) -> Result<Self> {
        create_private_dir(dir)?;
        let path = dir.join(DB_FILE);
        create_private_file(&path)?;
        let db = SqliteDb::open(path, durability)?;
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

/// Creates `dir` (and missing parents) with mode 0700; an existing one is left as it is.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::Config(format!("cannot create data dir {}: {e}", dir.display())))
}

/// Creates an empty `path` with mode 0600 unless it exists (SQLite then opens it as a new,
/// empty database, with the same mode for its `-wal` and `-shm`).
fn create_private_file(path: &Path) -> Result<()> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::Unavailable(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::queue::OutgoingMessage;
    use crate::queue::Queue;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn a_new_data_dir_and_its_database_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let parts = LocalParts::open(&dir, Durability::Normal, QueueSettings::default()).unwrap();
        parts
            .queue
            .send_batch(&[OutgoingMessage::new("o/r", "d-1", "{}")])
            .await
            .unwrap();
        assert_eq!(mode(&dir), 0o700);
        for name in [DB_FILE, "coderipple.db-wal", "coderipple.db-shm"] {
            let file = dir.join(name);
            if name == DB_FILE || file.exists() {
                assert_eq!(mode(&file), 0o600, "{name}");
            }
        }
    }
}
