//! Schema of the embedded database, versioned with `PRAGMA user_version`.

use rusqlite::Connection;

use crate::error::{Error, Result};

const VERSION: i64 = 8;

const V1: &str = r#"
CREATE TABLE IF NOT EXISTS queue_messages (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    queue          TEXT    NOT NULL,
    group_id       TEXT    NOT NULL,
    dedup_id       TEXT    NOT NULL,
    body           TEXT    NOT NULL,
    attributes     TEXT    NOT NULL DEFAULT '{}',
    sent_at        INTEGER NOT NULL,
    visible_at     INTEGER NOT NULL,
    receive_count  INTEGER NOT NULL DEFAULT 0,
    receipt        TEXT
);
CREATE INDEX IF NOT EXISTS queue_messages_order ON queue_messages(queue, visible_at, seq);
CREATE INDEX IF NOT EXISTS queue_messages_group ON queue_messages(queue, group_id, visible_at);
CREATE TABLE IF NOT EXISTS queue_dedup (
    queue      TEXT    NOT NULL,
    dedup_id   TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS deliveries (
    id          TEXT PRIMARY KEY,
    repo        TEXT,
    event       TEXT,
    status      TEXT    NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0,
    detail      TEXT,
    updated_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS repo_state (
    repo       TEXT PRIMARY KEY,
    version    INTEGER NOT NULL,
    state      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS cache (
    key        TEXT PRIMARY KEY,
    value      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// v2: receive walks a group's messages in `seq` order; an index led by `visible_at` made
/// SQLite sort the whole backlog on every receive.
const V2: &str = r#"
DROP INDEX IF EXISTS queue_messages_order;
CREATE INDEX IF NOT EXISTS queue_messages_seq ON queue_messages(queue, seq);
"#;

/// v3: no index on delivery status; it cost an index write on every claim and status
/// change, for a count that only `coderipple status` asks for.
const V3: &str = "DROP INDEX IF EXISTS deliveries_status;";

/// v4: processing leases name their owner (a token per attempt) and count attempts;
/// repositories parked behind a dead-lettered head.
const V4: &str = r#"
ALTER TABLE deliveries ADD COLUMN owner TEXT;
ALTER TABLE deliveries ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS parked_repos (
    repo      TEXT PRIMARY KEY,
    head      TEXT    NOT NULL,
    reason    TEXT    NOT NULL,
    since     INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// v5: repositories whose docs wait to be published to their git repository.
const V5: &str = r#"
CREATE TABLE IF NOT EXISTS publish_pending (
    repo      TEXT PRIMARY KEY,
    reason    TEXT    NOT NULL,
    since     INTEGER NOT NULL,
    attempts  INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// v6: repositories whose events wait for their history, and when the wait ends.
const V6: &str = r#"
CREATE TABLE IF NOT EXISTS history_gaps (
    repo      TEXT PRIMARY KEY,
    due       INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// v7: a receive walks groups, not the backlog: each group's messages in `seq` order.
const V7: &str = r#"
CREATE INDEX IF NOT EXISTS queue_messages_group_seq ON queue_messages(queue, group_id, seq);
"#;

/// v8: a pending publish remembers the state version of the docs it failed with, so that
/// only a publish of those docs or newer ones clears it.
const V8: &str = r#"
ALTER TABLE publish_pending ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
"#;

/// Brings the database to the current schema version.
pub(super) fn migrate(conn: &Connection) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > VERSION {
        return Err(Error::Config(format!(
            "database schema version {current} is newer than this build ({VERSION}); upgrade coderipple"
        )));
    }
    if current < 1 {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {V1} PRAGMA user_version = 1; COMMIT;"
        ))?;
    }
    if current < 2 {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {V2} PRAGMA user_version = 2; COMMIT;"
        ))?;
    }
    if current < 3 {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {V3} PRAGMA user_version = 3; COMMIT;"
        ))?;
    }
    if current < 4 {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {V4} PRAGMA user_version = 4; COMMIT;"
        ))?;
    }
    if current < 5 {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {V5} PRAGMA user_version = 5; COMMIT;"
        ))?;
    }
    if current < 6 {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {V6} PRAGMA user_version = 6; COMMIT;"
        ))?;
    }
    if current < 7 {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {V7} PRAGMA user_version = 7; COMMIT;"
        ))?;
    }
    if current < 8 {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {V8} PRAGMA user_version = 8; COMMIT;"
        ))?;
    }
    Ok(())
}
