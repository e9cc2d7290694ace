//! The embedded backend's layout in a data dir: `coderipple.db` holds the events queue, its
//! dead-letter queue and the store; `payloads/` holds claim-checked envelopes; `docs/` is the
//! docs sink. [`crate::backend::Backend::open_local`] opens it.
//!
//! What this creates is private to its user: the data dir 0700, the database 0600 (SQLite
//! gives its `-wal` and `-shm` files the database's mode), claim-checked payloads 0600 in a
//! 0700 `payloads/` ([`crate::blob::write_private`]). An existing dir or database keeps the
//! mode it has.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The database file inside the data dir.
pub const DB_FILE: &str = "coderipple.db";
/// The events queue.
pub const QUEUE: &str = "events.fifo";
/// Its dead-letter queue.
pub const DLQ: &str = "events-dlq.fifo";

/// The database file of the data dir `dir`.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

/// Where claim-checked envelopes are kept.
pub fn payloads_dir(dir: &Path) -> PathBuf {
    dir.join("payloads")
}

/// Where docs are written.
pub fn docs_dir(dir: &Path) -> PathBuf {
    dir.join("docs")
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
pub(crate) fn create_private_file(path: &Path) -> Result<()> {
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
