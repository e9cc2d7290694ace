//! A backend outage on purpose, for the embedded backend: the SQLite file is held under an
//! exclusive write lock for a while. Ingest's writes wait out their busy timeout and fail,
//! so it must answer 503 (and acknowledge nothing it did not store); workers' writes fail
//! and are retried. When the lock is let go, everything must catch up with nothing lost.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

/// What the outage did.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct OutageReport {
    /// When it began (ms after the run's start).
    pub began_after_ms: f64,
    /// How long the lock was held.
    pub held_ms: f64,
}

/// Locks `db` after `after` for `hold`, on a thread of its own (rusqlite is blocking).
pub fn lock_sqlite(
    db: &Path,
    after: Duration,
    hold: Duration,
) -> tokio::task::JoinHandle<anyhow::Result<OutageReport>> {
    let db: PathBuf = db.to_path_buf();
    let start = Instant::now();
    tokio::task::spawn_blocking(move || {
        std::thread::sleep(after);
        let conn = rusqlite::Connection::open(&db)
            .with_context(|| format!("outage: cannot open {}", db.display()))?;
        conn.busy_timeout(Duration::from_secs(30))?;
        let began = Instant::now();
        conn.execute_batch("BEGIN EXCLUSIVE")
            .context("outage: cannot take the write lock")?;
        std::thread::sleep(hold);
        conn.execute_batch("ROLLBACK")?;
        Ok(OutageReport {
            began_after_ms: (began - start).as_secs_f64() * 1000.0,
            held_ms: began.elapsed().as_secs_f64() * 1000.0,
        })
    })
}
