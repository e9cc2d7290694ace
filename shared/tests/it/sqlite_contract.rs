//! The backend contract suite against the embedded SQLite backend.

use std::sync::Arc;

use coderipple_core::contract::{QueueFixture, StoreFixture};
use coderipple_core::queue::QueueSettings;
use coderipple_core::queue::sqlite::SqliteQueue;
use coderipple_core::sqlite::{Durability, SqliteDb};
use coderipple_core::store::sqlite::SqliteStore;

fn db() -> (SqliteDb, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = SqliteDb::open(dir.path().join("coderipple.db"), Durability::Normal).expect("db");
    (db, dir)
}

async fn queue(settings: QueueSettings) -> QueueFixture {
    let (db, dir) = db();
    let queue = SqliteQueue::new(db, "events", Some("events-dlq"), settings);
    let dlq = queue.dead_letter_queue().expect("dlq");
    QueueFixture {
        queue: Arc::new(queue),
        dlq: Arc::new(dlq),
        gaps: Default::default(),
        keep: Box::new(dir),
    }
}

async fn store() -> StoreFixture {
    let (db, dir) = db();
    StoreFixture {
        store: Arc::new(SqliteStore::new(db)),
        keep: Box::new(dir),
    }
}

coderipple_core::queue_contract_tests!(queue);
coderipple_core::store_contract_tests!(store);
