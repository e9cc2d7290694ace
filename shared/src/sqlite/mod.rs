//! The embedded backend's database: one SQLite file in WAL mode shared by the queue and the
//! store.
//!
//! All writes go through one writer thread. It takes every write that is waiting, runs each
//! in its own savepoint inside one transaction and commits once, so concurrent requests share
//! one fsync (group commit). A write's caller is answered only after the commit, so a returned
//! write survives `kill -9`. Reads use a separate connection (WAL readers never block the
//! writer).

mod schema;
pub mod sweep;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// At most this many writes share one transaction.
const MAX_GROUP: usize = 512;
/// How often the WAL is checkpointed.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// How SQLite syncs commits to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: a commit survives power loss (default).
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives a process crash (`kill -9`), not power loss.
    Normal,
}

/// A handle to the shared database; cheap to clone.
#[derive(Clone)]
pub struct SqliteDb {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Option<mpsc::Sender<Box<dyn WriteJob>>>>,
    reader: Mutex<Connection>,
    /// Dropped with the last handle, which ends the checkpoint thread.
    _checkpointer: mpsc::Sender<()>,
}

impl std::fmt::Debug for SqliteDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDb")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl SqliteDb {
    /// Opens (creating if needed) the database at `path` and starts its writer thread.
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        }
        let writer_conn = connect(&path, durability, WRITER_CACHE_KIB)?;
        schema::migrate(&writer_conn)?;
        // Checkpoints run on their own thread, so the writer never stalls copying the WAL
        // back into the database.
        writer_conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpoint_conn = connect(&path, durability, CHECKPOINT_CACHE_KIB)?;
        let reader = connect(&path, durability, READER_CACHE_KIB)?;
        let (tx, rx) = mpsc::channel::<Box<dyn WriteJob>>();
        let spawn_err = |e| Error::Unavailable(format!("cannot start a database thread: {e}"));
        thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(writer_conn, rx))
            .map_err(spawn_err)?;
        let (stop, stopped) = mpsc::channel::<()>();
        thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpoint_conn, stopped))
            .map_err(spawn_err)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                writer: Mutex::new(Some(tx)),
                reader: Mutex::new(reader),
                _checkpointer: stop,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in the next group transaction; resolves after that transaction committed.
    /// If `f` fails, only its own changes are rolled back.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Box<dyn WriteJob> = Box::new(Job { f, tx });
        let sender = self
            .inner
            .writer
            .lock()
            .map_err(|_| Error::Unavailable("writer lock poisoned".into()))?
            .clone()
            .ok_or_else(|| Error::Unavailable("database is closed".into()))?;
        sender
            .send(job)
            .map_err(|_| Error::Unavailable("database writer has stopped".into()))?;
        rx.await
            .map_err(|_| Error::Unavailable("database writer dropped the write".into()))?
    }

    /// Runs a read on the reader connection, off the async threads.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = inner
                .reader
                .lock()
                .map_err(|_| Error::Unavailable("reader lock poisoned".into()))?;
            f(&conn)
        })
        .await
        .map_err(|e| Error::Unavailable(format!("read task failed: {e}")))?
    }

    /// Stops accepting writes; the writer thread ends once pending writes are done.
    pub fn close(&self) {
        if let Ok(mut w) = self.inner.writer.lock() {
            w.take();
        }
    }
}

/// Page cache per connection (KiB). Small on purpose: in WAL mode a connection's whole cache
/// is discarded whenever another connection (another process: ingest, a worker) committed
/// since its last transaction, and discarding walks every cached page; the OS page cache
/// holds the file anyway. 64 MiB caches made that walk the worker's largest CPU cost and
/// most of its resident memory.
const WRITER_CACHE_KIB: i64 = 8 * 1024;
const READER_CACHE_KIB: i64 = 4 * 1024;
const CHECKPOINT_CACHE_KIB: i64 = 1024;

fn connect(path: &Path, durability: Durability, cache_kib: i64) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| Error::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // Queue, store and transaction statements together exceed the default 16.
    conn.set_prepared_statement_cache_capacity(128);
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(conn)
}

/// Called with the outcome of the commit, after it.
type Completion = Box<dyn FnOnce(Result<()>) + Send>;

trait WriteJob: Send {
    fn run(self: Box<Self>, conn: &Connection) -> Completion;
    fn fail(self: Box<Self>, err: Error);
}

struct Job<F, T> {
    f: F,
    tx: oneshot::Sender<Result<T>>,
}

impl<F, T> WriteJob for Job<F, T>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> Completion {
        let Job { f, tx } = *self;
        let outcome = in_savepoint(conn, f);
        Box::new(move |commit: Result<()>| {
            let _ = tx.send(commit.and(outcome));
        })
    }

    fn fail(self: Box<Self>, err: Error) {
        let _ = self.tx.send(Err(err));
    }
}

fn in_savepoint<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    run_cached(conn, "SAVEPOINT job")?;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
        .unwrap_or_else(|_| Err(Error::Corrupt("a database write panicked".into())));
    match outcome.and_then(|v| run_cached(conn, "RELEASE job").map(|()| v)) {
        Ok(v) => Ok(v),
        Err(e) => {
            run_cached(conn, "ROLLBACK TO job")?;
            run_cached(conn, "RELEASE job")?;
            Err(e)
        }
    }
}

/// Runs a parameterless statement through the statement cache (no re-parsing per write).
fn run_cached(conn: &Connection, sql: &str) -> Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Copies the WAL back into the database every so often (PASSIVE: never blocks the
/// writer or readers), until the database handle is dropped.
fn checkpoint_loop(conn: Connection, stopped: mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
        }
    }
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<Box<dyn WriteJob>>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = run_cached(&conn, "BEGIN IMMEDIATE") {
            let err = Error::Unavailable(format!("sqlite: cannot begin: {e}"));
            for job in jobs {
                job.fail(err.clone());
            }
            continue;
        }
        let mut completions: Vec<Completion> = Vec::with_capacity(jobs.len());
        let mut pending = jobs.into_iter();
        let mut aborted = false;
        for job in pending.by_ref() {
            completions.push(job.run(&conn));
            // Some errors (I/O, disk full) make SQLite roll back the whole transaction;
            // nothing of this group may then be reported as stored.
            if conn.is_autocommit() {
                aborted = true;
                break;
            }
        }
        let commit = if aborted {
            let err = Error::Unavailable("sqlite: transaction rolled back by an error".into());
            for job in pending {
                job.fail(err.clone());
            }
            Err(err)
        } else {
            run_cached(&conn, "COMMIT").map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                Error::Unavailable(format!("sqlite: commit failed: {e}"))
            })
        };
        for done in completions {
            done(commit.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_write_rolls_back_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(dir.path().join("t.db"), Durability::Normal).unwrap();
        db.write(|c| {
            c.execute_batch("CREATE TABLE t(x INTEGER PRIMARY KEY)")?;
            Ok(())
        })
        .await
        .unwrap();
        let ok = db.write(|c| Ok(c.execute("INSERT INTO t VALUES (1)", [])?));
        let bad = db.write(|c| {
            c.execute("INSERT INTO t VALUES (2)", [])?;
            Err::<(), _>(Error::BadRequest("no".into()))
        });
        let (ok, bad) = tokio::join!(ok, bad);
        assert_eq!(ok.unwrap(), 1);
        assert!(bad.is_err());
        let rows: Vec<i64> = db
            .read(|c| {
                let mut s = c.prepare("SELECT x FROM t ORDER BY x")?;
                let v = s
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(v)
            })
            .await
            .unwrap();
        assert_eq!(rows, vec![1]);
    }

    #[tokio::test]
    async fn a_panicking_write_fails_alone_and_the_writer_lives_on() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(dir.path().join("t.db"), Durability::Normal).unwrap();
        let boom = db
            .write(|_| -> Result<()> { panic!("bug in a write") })
            .await;
        assert!(matches!(boom, Err(Error::Corrupt(_))));
        let n = db.write(|c| Ok(c.query_row("SELECT 41 + 1", [], |r| r.get::<_, i64>(0))?));
        assert_eq!(n.await.unwrap(), 42);
    }
}
