//! The embedded backend's sweeper: deletes what has expired, so a long-running data dir does
//! not grow without bound. SQLite never deletes by itself (DynamoDB's TTL and S3's lifecycle
//! rules do this on AWS).
//!
//! Swept: delivery records and cache entries past their expiry, queue dedup ids past their
//! window, and claim-check files that no message on the queue or the DLQ refers to any more
//! (older than [`BLOB_GRACE`], so a body written just before its message is never taken).
//! Work is done in chunks of at most `chunk` rows, each its own short write, so the single
//! writer is never held for long and ingest keeps its latency while a sweep runs.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, SystemTime};

use rusqlite::params;

use super::SqliteDb;
use crate::error::Result;
use crate::time::now_ms;

/// A claim-check file younger than this is never swept (ingest writes the body before the
/// message that refers to it).
pub const BLOB_GRACE: Duration = Duration::from_secs(3600);

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Expired delivery records.
    pub deliveries: u64,
    /// Expired cache entries.
    pub cache: u64,
    /// Expired queue dedup ids.
    pub dedup: u64,
    /// Claim-check files no message refers to.
    pub blobs: u64,
}

/// Sweeps `db` and the claim-check files in `payloads`, `chunk` rows per write.
pub async fn sweep(db: &SqliteDb, payloads: &Path, chunk: usize) -> Result<Swept> {
    let chunk = chunk.max(1);
    let mut swept = Swept {
        deliveries: delete_chunked(
            db,
            "DELETE FROM deliveries WHERE id IN
             (SELECT id FROM deliveries WHERE expires_at <= ?1 LIMIT ?2)",
            chunk,
        )
        .await?,
        cache: delete_chunked(
            db,
            "DELETE FROM cache WHERE key IN
             (SELECT key FROM cache WHERE expires_at <= ?1 LIMIT ?2)",
            chunk,
        )
        .await?,
        dedup: delete_chunked(
            db,
            "DELETE FROM queue_dedup WHERE (queue, dedup_id) IN
             (SELECT queue, dedup_id FROM queue_dedup WHERE expires_at <= ?1 LIMIT ?2)",
            chunk,
        )
        .await?,
        blobs: 0,
    };
    swept.blobs = sweep_blobs(db, payloads).await?;
    Ok(swept)
}

async fn delete_chunked(db: &SqliteDb, sql: &'static str, chunk: usize) -> Result<u64> {
    let mut total = 0u64;
    loop {
        let limit = i64::try_from(chunk).unwrap_or(i64::MAX);
        let n = db
            .write(move |conn| {
                Ok(conn
                    .prepare_cached(sql)?
                    .execute(params![now_ms(), limit])?)
            })
            .await?;
        total += n as u64;
        if n < chunk {
            return Ok(total);
        }
        // Let waiting writers in between chunks.
        tokio::task::yield_now().await;
    }
}

/// Removes claim-check files that no queued or dead-lettered message refers to.
async fn sweep_blobs(db: &SqliteDb, payloads: &Path) -> Result<u64> {
    let Ok(entries) = std::fs::read_dir(payloads) else {
        return Ok(0);
    };
    let now = SystemTime::now();
    let candidates: Vec<(String, std::path::PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > BLOB_GRACE)
        })
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    if candidates.is_empty() {
        return Ok(0);
    }
    let referenced: HashSet<String> = db
        .read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT body FROM queue_messages WHERE body LIKE '%\"change_ref\"%'",
            )?;
            let bodies = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut names = HashSet::new();
            for body in bodies {
                let body = body?;
                if let Ok(value) = serde_json::from_str::<serde_json::Value>(&body)
                    && let Some(name) = value["change_ref"]
                        .as_str()
                        .and_then(|r| r.strip_prefix("file:"))
                {
                    names.insert(name.to_owned());
                }
            }
            Ok(names)
        })
        .await?;
    let mut removed = 0;
    for (name, path) in candidates {
        if !referenced.contains(&name) && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::Durability;

    #[tokio::test]
    async fn sweeps_only_what_expired_in_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(dir.path().join("db.sqlite"), Durability::Normal).unwrap();
        let now = now_ms();
        db.write(move |c| {
            for i in 0..25 {
                let expires = if i < 20 { now - 1 } else { now + 60_000 };
                c.execute(
                    "INSERT INTO deliveries (id, status, updated_at, expires_at) VALUES (?1, 'completed', ?2, ?3)",
                    params![format!("d{i}"), now, expires],
                )?;
                c.execute(
                    "INSERT INTO cache (key, value, expires_at) VALUES (?1, '{}', ?2)",
                    params![format!("k{i}"), expires],
                )?;
                c.execute(
                    "INSERT INTO queue_dedup (queue, dedup_id, expires_at) VALUES ('events', ?1, ?2)",
                    params![format!("q{i}"), expires],
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
        let payloads = dir.path().join("payloads");
        std::fs::create_dir_all(&payloads).unwrap();
        let old = SystemTime::now() - BLOB_GRACE - Duration::from_secs(60);
        for name in ["orphan.json", "queued.json", "fresh.json"] {
            std::fs::write(payloads.join(name), "{}").unwrap();
        }
        for name in ["orphan.json", "queued.json"] {
            std::fs::File::options()
                .write(true)
                .open(payloads.join(name))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        let body = r#"{"v":1,"delivery":"queued","change_ref":"file:queued.json"}"#;
        db.write(move |c| {
            c.execute(
                "INSERT INTO queue_messages (queue, group_id, dedup_id, body, sent_at, visible_at)
                 VALUES ('events-dlq', 'o/r', 'queued', ?1, 0, 0)",
                [body],
            )?;
            Ok(())
        })
        .await
        .unwrap();

        let swept = sweep(&db, &payloads, 7).await.unwrap();
        assert_eq!(
            swept,
            Swept {
                deliveries: 20,
                cache: 20,
                dedup: 20,
                blobs: 1
            }
        );
        let left: i64 = db
            .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM deliveries", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(left, 5, "live records stay");
        assert!(!payloads.join("orphan.json").exists());
        assert!(
            payloads.join("queued.json").exists(),
            "a DLQ message still needs it"
        );
        assert!(
            payloads.join("fresh.json").exists(),
            "inside the grace period"
        );
        assert_eq!(sweep(&db, &payloads, 7).await.unwrap(), Swept::default());
    }
}
