//! The embedded backend in a data dir: `coderipple.db` (queue, DLQ and store), `payloads/`
//! (claim-checked envelopes), `docs/` (the docs sink) and `webhook-secret`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use coderipple_core::blob::DirBlobStore;
use coderipple_core::config::Settings;
use coderipple_core::local::LocalParts;
use coderipple_core::queue::sqlite::SqliteQueue;
use coderipple_core::sqlite::{Durability, SqliteDb};
use coderipple_core::store::sqlite::SqliteStore;

/// Every part of the embedded backend, opened once.
#[derive(Debug)]
pub struct Local {
    pub dir: PathBuf,
    pub db: SqliteDb,
    pub queue: SqliteQueue,
    pub dlq: SqliteQueue,
    pub store: SqliteStore,
    pub settings: Settings,
}

impl Local {
    /// Opens the data dir; with `create`, makes it when missing.
    pub fn open(dir: &Path, create: bool) -> anyhow::Result<Self> {
        let settings = Settings::from_env()?;
        let db_path = LocalParts::db_path(dir);
        if !create && !db_path.exists() {
            bail!(
                "no CodeRipple data in {} (--data-dir / CODERIPPLE_DATA_DIR); run `coderipple up` first",
                dir.display()
            );
        }
        coderipple_core::local::create_private_dir(dir)?;
        let parts = LocalParts::open(dir, durability()?, settings.queue())
            .with_context(|| format!("cannot open {}", db_path.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            db: parts.db,
            queue: parts.queue,
            dlq: parts.dlq,
            store: parts.store,
            settings,
        })
    }

    /// Claim-check storage.
    pub fn blobs(&self) -> DirBlobStore {
        DirBlobStore::new(self.dir.join("payloads"))
    }

    /// Where docs are written.
    pub fn docs_dir(&self) -> PathBuf {
        self.dir.join("docs")
    }
}

fn durability() -> anyhow::Result<Durability> {
    match std::env::var("CODERIPPLE_SQLITE_SYNC").as_deref() {
        Err(_) | Ok("full") => Ok(Durability::Full),
        Ok("normal") => Ok(Durability::Normal),
        Ok(other) => bail!("CODERIPPLE_SQLITE_SYNC must be `full` or `normal`, got {other:?}"),
    }
}
